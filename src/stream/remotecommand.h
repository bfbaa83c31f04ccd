/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Pure parts of the remotecommand protocol, for unit tests. */

/* stdin 0, stdout 1, stderr 2, error 3, resize 4; -1 for anything else (NULL included). */
int remotecommand_channel_from_name(const char *name);

/*
 * The v4 error-channel Status (a Kubernetes metav1.Status in JSON): Success; Failure with reason
 * NonZeroExitCode and an ExitCode cause; or, with `error`, Failure with reason InternalError. Caller frees.
 */
char *remotecommand_status_json(int exit_code, const char *error);
