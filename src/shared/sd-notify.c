/* SPDX-License-Identifier: Apache-2.0 */
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "macros.h"
#include "sd-notify.h"

int notify_service_manager(const char *state) {
        const char *path = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sa = {.sun_family = AF_UNIX};

        if (!path || !*path)
                return 0;
        size_t len = strlen(path);
        if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path))
                return -EINVAL;
        memcpy(sa.sun_path, path, len);
        /* A leading '@' names a socket in the abstract namespace. */
        if (sa.sun_path[0] == '@')
                sa.sun_path[0] = '\0';

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
        if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0)
                return -errno;
        return 1;
}
