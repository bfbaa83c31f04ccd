/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "flags.h"

/* Subcommands of `crio`. Each returns the process exit code: 0 ok, 1 failure, 2 usage error. */
int cmd_config(const CliOptions *o);
int cmd_status(const CliOptions *o);
int cmd_version(const CliOptions *o);
int cmd_wipe(const CliOptions *o);

/* Report a usage error the same way everywhere and return 2. */
int usage_error(const char *command, const char *message);
