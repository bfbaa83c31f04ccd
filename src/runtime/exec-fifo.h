/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "error.h"

/*
 * The start of a runc container, as `runc start` does it: `fifo` is the container's exec FIFO opened
 * O_RDONLY | O_NONBLOCK, `pidfd` its waiting init. The init writes one byte and closes the FIFO when it
 * execs the container's process; an init that exits first, closes it without writing, or takes longer
 * than `timeout_ms` fails the start. Blocks.
 */
int exec_fifo_read(int fifo, int pidfd, int timeout_ms, Error **reterr);
