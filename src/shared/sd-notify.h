/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Send a state string ("READY=1") to the service manager named by $NOTIFY_SOCKET, as sd_notify(3)
 * does. Returns 0 when NOTIFY_SOCKET is unset, 1 when sent, -errno on failure. Does not block.
 */
int notify_service_manager(const char *state);
