/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <sys/stat.h>

#include "fs-util.h"
#include "macros.h"

int mkdir_parents_and_self(const char *path, mode_t mode) {
        _cleanup_free_ char *p = xstrdup(path);
        size_t len = strlen(p);

        for (size_t i = 1; i <= len; i++) {
                if (p[i] != '/' && p[i] != '\0')
                        continue;
                char saved = p[i];
                p[i] = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                p[i] = saved;
        }
        struct stat st;
        if (stat(path, &st) < 0)
                return -errno;
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int mkdir_parents(const char *path, mode_t mode) {
        _cleanup_free_ char *p = xstrdup(path);
        char *slash = strrchr(p, '/');
        if (!slash || slash == p)
                return 0;
        *slash = '\0';
        return mkdir_parents_and_self(p, mode);
}
