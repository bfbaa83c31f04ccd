/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "fs-util.h"
#include "runtime-private.h"
#include "strv.h"

/* The kernel copies mount data into one page. */
#define OVERLAY_OPTIONS_MAX 4000

static int build_lowerdir(char *const *layer_dirs, const char *empty, char **ret) {
        size_t n = strv_length(layer_dirs);
        if (n == 0) {
                *ret = xstrdup(empty);
                return 0;
        }
        /* Overlay wants the top layer first; the store lists the bottom first. */
        char *s = xstrdup("");
        for (size_t i = n; i-- > 0;) {
                char *next = xasprintf("%s%s%s", s, *s ? ":" : "", layer_dirs[i]);
                free(s);
                s = next;
        }
        *ret = s;
        return 0;
}

int overlay_mount(Runtime *rt, Container *c, char *const *layer_dirs, Error **reterr) {
        _cleanup_free_ char *upper = xasprintf("%s/upper", c->layer);
        _cleanup_free_ char *work = xasprintf("%s/work", c->layer);
        _cleanup_free_ char *empty = xasprintf("%s/empty", c->layer);
        const char *dirs[] = {upper, work, empty, c->rootfs};
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                if (mkdir_parents_and_self(dirs[i], 0755) < 0)
                        return error_set(reterr, errno, "rootfs: cannot create %s: %m", dirs[i]);
        _cleanup_free_ char *lower = NULL;
        build_lowerdir(layer_dirs, empty, &lower);
        _cleanup_free_ char *opts = xasprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
        if (strlen(opts) > OVERLAY_OPTIONS_MAX)
                return error_set(reterr, E2BIG, "rootfs: image has too many layers for one overlay mount");
        if (mount("overlay", c->rootfs, "overlay", 0, opts) < 0)
                return error_set(reterr, errno, "rootfs: overlay mount on %s failed: %m", c->rootfs);
        return 0;
}

void overlay_unmount(Container *c) {
        if (c->rootfs && umount2(c->rootfs, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
                return;
}

void unpin_namespace(const char *path) {
        if (!path)
                return;
        umount2(path, MNT_DETACH);
        unlink(path);
}

static int open_in_root(int root_fd, const char *path) {
        struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                               .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
        return (int)syscall(SYS_openat2, root_fd, *path ? path : ".", &how, sizeof(how));
}

int mkdir_in_root(const char *rootfs, const char *path, Error **reterr) {
        _cleanup_close_ int root_fd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0)
                return error_set(reterr, errno, "cannot open %s: %m", rootfs);
        _cleanup_strv_free_ char **parts = strv_split(path, '/');
        _cleanup_free_ char *prefix = xstrdup("");
        STRV_FOREACH(part, parts) {
                if (!**part || strcmp(*part, ".") == 0)
                        continue;
                /* Each parent is resolved afresh under the root, so an image's symlinks stay inside it. */
                _cleanup_close_ int parent = open_in_root(root_fd, prefix);
                if (parent < 0)
                        return error_set(reterr, errno, "volume '%s': cannot open '%s' in the image: %m",
                                         path, prefix);
                if (mkdirat(parent, *part, 0755) < 0 && errno != EEXIST)
                        return error_set(reterr, errno, "volume '%s': cannot create it in the image: %m",
                                         path);
                char *next = xasprintf("%s%s%s", prefix, *prefix ? "/" : "", *part);
                free(prefix);
                prefix = next;
        }
        return 0;
}
