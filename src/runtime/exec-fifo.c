/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "exec-fifo.h"
#include "cancel.h"

int exec_fifo_read(int fifo, int pidfd, int timeout_ms, Error **reterr) {
        size_t got = 0;
        int64_t deadline = monotonic_ns() + (int64_t)timeout_ms * 1000000;
        for (;;) {
                struct pollfd p[2] = {{.fd = fifo, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
                int left = (int)((deadline - monotonic_ns()) / 1000000);
                int n = left > 0 ? poll(p, 2, left) : 0;
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return error_set(reterr, n < 0 ? errno : ETIMEDOUT,
                                         "start: the container's init did not take its start within %d ms",
                                         timeout_ms);
                /* The FIFO first: an init that wrote its byte and exec'd a process that ended at once
                 * started. */
                if (p[0].revents) {
                        char buf[16];
                        ssize_t len = read(fifo, buf, sizeof(buf));
                        if (len > 0)
                                got += (size_t)len;
                        else if (len == 0)
                                return got > 0 ? 0
                                               : error_set(
                                                         reterr, EIO,
                                                         "start: the container's init closed its exec FIFO "
                                                         "without starting");
                        else if (errno != EAGAIN && errno != EINTR)
                                return error_set(reterr, errno, "start: cannot read the exec FIFO: %m");
                } else if (p[1].revents) {
                        return error_set(reterr, ESRCH,
                                         "start: the container's init exited before it started");
                }
        }
}
