/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "fs-util.h"
#include "log.h"
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

/* The host ID that a container ID maps to, or -1 when the mappings leave it out. */
int64_t idmap_to_host(const IdMap *maps, size_t n, uint32_t id) {
        for (size_t i = 0; i < n; i++)
                if (id >= maps[i].container_id && id - maps[i].container_id < maps[i].length)
                        return (int64_t)maps[i].host_id + (id - maps[i].container_id);
        return -1;
}

/*
 * Attach an idmapped, read-only copy of the mount of `source` at `target`: files owned by host ID
 * N show as owned by whatever N maps to in the user namespace, so a layer unpacked with the image's
 * own IDs reads, through the pod's mappings, as the image meant it. Nothing on disk changes.
 */
static int idmapped_bind(const char *source, const char *target, int userns_fd, Error **reterr) {
        _cleanup_close_ int tree = (int)open_tree(AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0)
                return error_set(reterr, errno, "rootfs: cannot clone the mount of %s: %m", source);
        struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY,
                                  .userns_fd = (uint64_t)userns_fd};
        if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
                return error_set(reterr, errno, "rootfs: cannot idmap the layer %s: %m", source);
        if (mkdir(target, 0700) < 0 && errno != EEXIST)
                return error_set(reterr, errno, "rootfs: cannot create %s: %m", target);
        if (move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return error_set(reterr, errno, "rootfs: cannot attach the idmapped layer at %s: %m",
                                 target);
        return 0;
}

/* Detach the idmapped layers: the overlay holds its own private copies of them once mounted. */
static void idmapped_layers_remove(const char *dir, char **targets) {
        STRV_FOREACH(t, targets)
                if (umount2(*t, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
                        log_warn("rootfs: cannot detach %s: %m", *t);
        rm_rf(dir);
}

/* Idmapped copies of every layer under `dir`, in the order given; each target is added to *targets. */
static int idmapped_layers(const char *dir, char *const *layer_dirs, const char *userns, char ***targets,
                           Error **reterr) {
        _cleanup_close_ int userns_fd = open(userns, O_RDONLY | O_CLOEXEC);
        if (userns_fd < 0)
                return error_set(reterr, errno, "rootfs: cannot open the pod's user namespace %s: %m",
                                 userns);
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return error_set(reterr, errno, "rootfs: cannot create %s: %m", dir);
        for (size_t i = 0; layer_dirs && layer_dirs[i]; i++) {
                char *target = xasprintf("%s/%zu", dir, i);
                *targets = strv_push(*targets, target);
                int r = idmapped_bind(layer_dirs[i], target, userns_fd, reterr);
                if (r < 0)
                        return r;
        }
        return 0;
}

void pod_root_owner(const Pod *p, uid_t *uid, gid_t *gid) {
        const NamespaceConfig *ns = &p->config->ns;
        int64_t u = ns->userns ? idmap_to_host(ns->uids, ns->n_uids, 0) : -1;
        int64_t g = ns->userns ? idmap_to_host(ns->gids, ns->n_gids, 0) : -1;
        *uid = u < 0 ? (uid_t)-1 : (uid_t)u;
        *gid = g < 0 ? (gid_t)-1 : (gid_t)g;
}

/*
 * A pod's or a container's own directory under the run root holds a root filesystem (setuid programs,
 * device nodes of the image) and the pod's /dev/shm: no user of the node may enter it. Only root does,
 * and with a user namespace the pod's root too, which sets the container up from inside it.
 */
int make_pod_private_dir(const Pod *p, const char *dir, Error **reterr) {
        if (mkdir(dir, 0700) < 0)
                return error_set(reterr, errno, "cannot create %s: %m", dir);
        uid_t uid;
        gid_t gid;
        pod_root_owner(p, &uid, &gid);
        if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(dir, uid, gid) < 0)
                return error_set(reterr, errno, "cannot give %s to the pod's root: %m", dir);
        return 0;
}

int overlay_mount(Runtime *rt, Container *c, char *const *layer_dirs, const Pod *p, Error **reterr) {
        _cleanup_free_ char *upper = xasprintf("%s/upper", c->layer);
        _cleanup_free_ char *work = xasprintf("%s/work", c->layer);
        _cleanup_free_ char *empty = xasprintf("%s/empty", c->layer);
        _cleanup_free_ char *idmapped = xasprintf("%s/idmapped", c->layer);
        /* The writable layer keeps what the container makes, setuid programs too: root's alone. */
        if (mkdir(c->layer, 0700) < 0 && errno != EEXIST)
                return error_set(reterr, errno, "rootfs: cannot create %s: %m", c->layer);
        const char *dirs[] = {upper, work, empty, c->rootfs};
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                if (mkdir_parents_and_self(dirs[i], 0755) < 0)
                        return error_set(reterr, errno, "rootfs: cannot create %s: %m", dirs[i]);
        _cleanup_strv_free_ char **mapped = NULL;
        if (p->userns) {
                /* The root of the writable layer is the container's /: its root owns it. */
                uid_t uid;
                gid_t gid;
                pod_root_owner(p, &uid, &gid);
                if (chown(upper, uid, gid) < 0)
                        return error_set(reterr, errno, "rootfs: cannot chown %s: %m", upper);
                int r = idmapped_layers(idmapped, layer_dirs, p->userns, &mapped, reterr);
                if (r < 0) {
                        idmapped_layers_remove(idmapped, mapped);
                        return r;
                }
                layer_dirs = mapped;
        }
        _cleanup_free_ char *lower = NULL;
        build_lowerdir(layer_dirs, empty, &lower);
        _cleanup_free_ char *opts = xasprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
        int r = 0;
        if (strlen(opts) > OVERLAY_OPTIONS_MAX)
                r = error_set(reterr, E2BIG, "rootfs: image has too many layers for one overlay mount");
        else if (mount("overlay", c->rootfs, "overlay", 0, opts) < 0)
                r = error_set(reterr, errno, "rootfs: overlay mount on %s failed: %m", c->rootfs);
        if (p->userns)
                idmapped_layers_remove(idmapped, mapped);
        return r;
}

/*
 * Idmapped layers live only while the overlay is being mounted; a daemon killed in between leaves
 * them attached. They are read-only, so removing the container's directories cannot reach through
 * them into the shared layers, but they must not stay mounted.
 */
static void idmapped_leftovers_remove(const Container *c) {
        _cleanup_free_ char *dir = xasprintf("%s/idmapped", c->layer);
        DIR *d = opendir(dir);
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.') {
                        _cleanup_free_ char *path = xasprintf("%s/%s", dir, de->d_name);
                        umount2(path, MNT_DETACH);
                }
        closedir(d);
}

void overlay_unmount(Container *c) {
        if (c->rootfs && umount2(c->rootfs, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
                log_debug("rootfs %s: %m", c->rootfs);
        if (c->layer)
                idmapped_leftovers_remove(c);
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

int mkdir_in_root(const char *rootfs, const char *path, uid_t uid, gid_t gid, Error **reterr) {
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
                        return error_set(reterr, errno, "'%s': cannot open '%s' under %s: %m", path, prefix,
                                         rootfs);
                if (mkdirat(parent, *part, 0755) == 0) {
                        if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
                            fchownat(parent, *part, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                                return error_set(reterr, errno, "'%s': cannot chown it: %m", path);
                } else if (errno != EEXIST)
                        return error_set(reterr, errno, "'%s': cannot create it under %s: %m", path, rootfs);
                char *next = xasprintf("%s%s%s", prefix, *prefix ? "/" : "", *part);
                free(prefix);
                prefix = next;
        }
        return 0;
}
