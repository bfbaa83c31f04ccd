/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/openat2.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cdi.h"
#include "cgroup-path.h"
#include "fs-util.h"
#include "hooks.h"
#include "json-util.h"
#include "monitor-cgroup.h"
#include "log.h"
#include "oci-spec.h"
#include "pod-annotations.h"
#include "process.h"
#include "runtime-private.h"
#include "strv.h"
#include "user.h"

/* After SIGKILL, how long to wait for the monitor to report the exit before giving up on it. */
#define KILL_WAIT_MS 10000
#define KILL_POLL_MS 100
/* The exit code of a container whose start failed (containerd's; the reason says StartError). */
#define EXIT_START_ERROR 128

static int64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * File times come from the kernel's coarse clock, a few ms behind CLOCK_REALTIME: an exit file of a
 * short-lived container can look older than the start time taken just before `runtime start`.
 */
static void clamp_finished(Container *c) {
        if (c->finished_ns && c->finished_ns < c->started_ns)
                c->finished_ns = c->started_ns;
}

bool container_check_exit_locked(Runtime *rt, Container *c) {
        if (c->claim.creating || (c->state != CONTAINER_CREATED && c->state != CONTAINER_RUNNING))
                return false;
        _cleanup_free_ char *path = xasprintf("%s/%s", rt->paths.exits_dir, c->id);
        _cleanup_free_ char *text = NULL;
        struct stat st;
        if (stat(path, &st) < 0 || read_file(path, 64, &text, NULL) < 0 || !*text)
                return false;
        c->state = CONTAINER_EXITED;
        lists_changed_locked(rt);
        c->exit_code = (int32_t)strtol(text, NULL, 10);
        c->finished_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        clamp_finished(c);
        _cleanup_free_ char *oom = xasprintf("%s/oom", c->bundle);
        free(c->reason);
        bool oom_killed = access(oom, F_OK) == 0;
        c->reason = xstrdup(oom_killed ? "OOMKilled" : c->exit_code == 0 ? "Completed" : "Error");
        if (!c->infra)
                event_emit_locked(rt, c->id, c->pod_id, EVENT_STOPPED);
        else
                pod_infra_exited_locked(rt, c->pod_id);
        if (oom_killed) {
                metric_inc0(rt->oom_total);
                metric_inc1(rt->oom_count, c->config->name);
        }
        pthread_cond_broadcast(&rt->exited);
        return true;
}

/*
 * A half-made container's monitor may still be creating it (its runtime call hung, or the daemon
 * died mid-create): kill conmon's whole process group (the monitor is a session leader and its
 * runtime call runs in its group) so that nothing finishes the create behind our back. A conmon
 * that had not yet forked when the daemon died sees its start pipe close and goes on at once, so
 * by the time a restarted daemon looks, its pid file is there.
 */
static void kill_monitor(const Container *c) {
        int pid = container_monitor_pid(c);
        if (pid <= 1)
                return;
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
}

/*
 * Whether the OCI runtime may hold an instance of the container. Creation makes none (StartContainer
 * does, see instantiate), so a container that was never started has nothing to kill or delete. Without
 * a pid, what a start cut short may have left is looked for: a monitor of it alive, or the runtime's
 * state of it.
 */
static bool may_have_instance(const Container *c, const Handler *h) {
        if (c->pid > 0 || c->state == CONTAINER_RUNNING)
                return true;
        if (c->runtime_released)
                return false;
        _cleanup_free_ char *state = xasprintf("%s/%s", h->root, c->id);
        return container_monitor_pid(c) > 0 || access(state, F_OK) == 0;
}

/* Kill (when needed) and delete a container from its OCI runtime. */
static void teardown_runtime(Runtime *rt, Container *c, bool half_made) {
        container_drop_waiting_monitor(c);
        Handler h = {};
        _cleanup_error_ Error *err = NULL;
        bool instance = c->handler && runtime_handler_resolve(rt, c->handler, &h, &err) >= 0 &&
                        may_have_instance(c, &h);
        if (half_made)
                kill_monitor(c);
        if (instance) {
                /* An exited container has no process left to kill; a half-made one may. */
                if (half_made || c->state != CONTAINER_EXITED)
                        oci_kill(rt, c, &h, SIGKILL, true, NULL);
                if (!c->runtime_released && oci_delete(rt, c, &h, &err) < 0 && err &&
                    !strstr(err->message, "does not exist"))
                        log_warn("container %s: %s", c->id, err->message);
        }
        handler_done(&h);
        if (c->monitor_cgroup)
                monitor_cgroup_remove(c->monitor_cgroup);
}

/* Kill, delete, unmount and remove everything of a container. Safe on a half-made one. */
void container_teardown(Runtime *rt, Container *c, bool half_made) {
        teardown_runtime(rt, c, half_made);
        container_teardown_files(rt, c);
}

/*
 * conmon links <attach_dir>/<id> to the bundle, with the ID cut short when the attach socket's path
 * would not fit in a socket address (a long container_attach_socket_dir): the cut link is ours too.
 */
static void remove_cut_attach_links(Runtime *rt, const Container *c) {
        if (!c->bundle)
                return;
        for (size_t n = strlen(c->id) - 1; n > 0; n--) {
                _cleanup_free_ char *link = xasprintf("%s/%.*s", rt->paths.attach_dir, (int)n, c->id);
                char target[PATH_MAX];
                ssize_t len = readlink(link, target, sizeof(target) - 1);
                if (len < 0)
                        continue;
                target[len] = 0;
                if (strcmp(target, c->bundle) == 0)
                        unlink(link);
        }
}

/* The exit file and the attach dir (with conmon's links to it). */
static void remove_exit_and_attach(Runtime *rt, const Container *c) {
        _cleanup_free_ char *exit_file = xasprintf("%s/%s", rt->paths.exits_dir, c->id);
        _cleanup_free_ char *attach = xasprintf("%s/%s", rt->paths.attach_dir, c->id);
        unlink(exit_file);
        rm_rf(attach);
        remove_cut_attach_links(rt, c);
}

/* Unmount the rootfs, remove the bundle, the writable layer, the exit file and the attach dir. */
void container_teardown_files(Runtime *rt, Container *c) {
        overlay_unmount(c);
        if (c->bundle)
                rm_rf(c->bundle);
        if (c->layer)
                rm_rf(c->layer);
        remove_exit_and_attach(rt, c);
}

/* What a monitor leaves of a container besides the runtime's state: pid files, fifos, exit file. */
static void remove_monitor_files(Runtime *rt, const Container *c) {
        const char *names[] = {"pidfile", "conmon-pidfile", "ctl", "winsz", "oom"};
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ char *path = xasprintf("%s/%s", c->bundle, names[i]);
                unlink(path);
        }
        remove_exit_and_attach(rt, c);
}

bool container_undo_start(Runtime *rt, Container *c) {
        Handler h = {};
        bool found = c->bundle && runtime_handler_resolve(rt, c->handler, &h, NULL) >= 0 &&
                     may_have_instance(c, &h);
        handler_done(&h);
        if (!found)
                return false;
        teardown_runtime(rt, c, true);
        remove_monitor_files(rt, c);
        return true;
}

/* A log_path must name a file under the pod's log directory: relative, no "..", not a directory. */
static bool path_escapes(const char *p) {
        if (isempty(p) || p[0] == '/' || path_has_dotdot(p) || p[strlen(p) - 1] == '/')
                return true;
        const char *base = strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
        return strcmp(base, ".") == 0;
}

/* "/", "//", "/./." */
static bool names_root(const char *path) {
        _cleanup_strv_free_ char **parts = strv_split(path, '/');
        STRV_FOREACH(p, parts)
                if (**p && strcmp(*p, ".") != 0)
                        return false;
        return true;
}

static int validate_env_and_cwd(const ContainerConfig *c, Error **reterr) {
        if (!isempty(c->working_dir) && c->working_dir[0] != '/')
                return error_set(reterr, EINVAL, "working_dir: '%.256s' is not an absolute path",
                                 c->working_dir);
        for (size_t i = 0; c->env && c->env[i]; i++)
                if (c->env[i][0] == '=')
                        return error_set(reterr, EINVAL, "envs[%zu].key: is empty", i);
        return 0;
}

/* PID mode TARGET needs its target; a mode the CRI does not define is refused, not read as POD. */
static int validate_namespaces(const NamespaceConfig *ns, Error **reterr) {
        if ((unsigned)ns->pid > NS_TARGET || (unsigned)ns->network > NS_TARGET ||
            (unsigned)ns->ipc > NS_TARGET)
                return error_set(reterr, EINVAL, "linux.security_context.namespace_options: unknown mode");
        if (ns->pid == NS_TARGET && isempty(ns->target_id))
                return error_set(
                        reterr, EINVAL,
                        "linux.security_context.namespace_options.target_id: PID mode TARGET needs one");
        return 0;
}

static int validate_config(const ContainerConfig *c, Error **reterr) {
        if (isempty(c->name))
                return error_set(reterr, EINVAL, "metadata.name is required");
        if (strlen(c->name) > METADATA_MAX)
                return error_set(reterr, EINVAL, "metadata.name: longer than %d bytes", METADATA_MAX);
        if (isempty(c->image))
                return error_set(reterr, EINVAL, "image.image is required");
        if (!isempty(c->log_path) && path_escapes(c->log_path))
                return error_set(reterr, EINVAL,
                                 "log_path: '%s' must be relative to the pod's log directory", c->log_path);
        for (size_t i = 0; i < c->n_mounts; i++) {
                if (isempty(c->mounts[i].container_path) || c->mounts[i].container_path[0] != '/')
                        return error_set(reterr, EINVAL, "mounts[%zu].container_path: '%s' is not absolute",
                                         i, strempty(c->mounts[i].container_path));
                if (names_root(c->mounts[i].container_path) || path_has_dotdot(c->mounts[i].container_path))
                        return error_set(reterr, EINVAL,
                                         "mounts[%zu].container_path: a mount cannot replace the root or "
                                         "climb with '..'",
                                         i);
                if (isempty(c->mounts[i].host_path) || c->mounts[i].host_path[0] != '/')
                        return error_set(reterr, EINVAL, "mounts[%zu].host_path: '%s' is not absolute", i,
                                         strempty(c->mounts[i].host_path));
        }
        if (c->run_as_group >= 0 && c->run_as_user < 0 && isempty(c->run_as_username))
                return error_set(reterr, EINVAL,
                                 "run_as_group: a group is set without run_as_user or run_as_username");
        if (c->seccomp == SECCOMP_LOCALHOST && (isempty(c->seccomp_path) || c->seccomp_path[0] != '/'))
                return error_set(reterr, EINVAL, "seccomp.localhost_ref: '%s' is not an absolute path",
                                 strempty(c->seccomp_path));
        int r = validate_env_and_cwd(c, reterr);
        if (r >= 0)
                r = validate_namespaces(&c->ns, reterr);
        if (r >= 0)
                r = resources_validate(&c->resources, reterr);
        if (r < 0)
                return r;
        _cleanup_strv_free_ char **cdi = NULL;
        return cdi_requested(&c->annotations, c->cdi_devices, &cdi, reterr);
}

static char *container_full_name(const ContainerConfig *c, const PodConfig *p) {
        return xasprintf("k8s_%s_%s_%s_%s_%" PRIu32, c->name, p->name, p->namespace_, p->uid, c->attempt);
}

static Container *find_by_name_locked(Runtime *rt, const char *full_name) {
        for (size_t i = 0; i < rt->n_ctrs; i++)
                if (!rt->ctrs[i]->claim.failed && strcmp(rt->ctrs[i]->full_name, full_name) == 0)
                        return rt->ctrs[i];
        return NULL;
}

static void *find_container_by_name(Runtime *rt, const char *full_name) {
        return find_by_name_locked(rt, full_name);
}
static Claim *container_claim(void *c) {
        return &((Container *)c)->claim;
}
static const char *container_id_of(void *c) {
        return ((Container *)c)->id;
}
static void container_hold(void *c) {
        container_ref(c);
}
static void container_release(void *c) {
        container_unref(c);
}

static const ClaimOps container_claims = {"container",     find_container_by_name, container_claim,
                                          container_id_of, container_hold,         container_release};

/* Reserve the container's name (claim_name_locked); when it is free, the container joins the list. */
static int reserve_locked(Runtime *rt, Container *c, char **ret_existing, Error **reterr) {
        int r = claim_name_locked(rt, &container_claims, c->full_name, ret_existing, reterr);
        if (r < 0 || *ret_existing)
                return r;
        rt->ctrs = xrealloc(rt->ctrs, (rt->n_ctrs + 1) * sizeof(Container *));
        rt->ctrs[rt->n_ctrs++] = container_ref(c);
        return 0;
}

/*
 * With bind_mount_prefix, a host path is resolved under the prefix as under a root: a symlink on the
 * node (/var/run -> /run) leads to the node's /run behind the prefix, never to crio-c's own.
 */
static int resolve_under_prefix(const char *prefix, const char *host_path, char **ret, Error **reterr) {
        _cleanup_close_ int root = open(prefix, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return error_set(reterr, errno, "bind_mount_prefix: cannot open %s: %m", prefix);
        struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                               .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
        _cleanup_close_ int fd =
                (int)syscall(SYS_openat2, root, host_path + strspn(host_path, "/"), &how, sizeof(how));
        if (fd < 0)
                return errno == ENOENT ? -ENOENT
                                       : error_set(reterr, errno, "cannot resolve %s under %s: %m",
                                                   host_path, prefix);
        _cleanup_free_ char *link = xasprintf("/proc/self/fd/%d", fd);
        char target[PATH_MAX];
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        if (n < 0)
                return error_set(reterr, errno, "cannot resolve %s under %s: %m", host_path, prefix);
        target[n] = '\0';
        *ret = xstrdup(target);
        return 0;
}

/* One CRI mount's source: a missing one is created (behind the prefix) unless the config rejects it. */
static int prepare_mount_source(Runtime *rt, const MountConfig *m, size_t i, const char *prefix, char **ret,
                                Error **reterr) {
        _cleanup_free_ char *src = oci_mount_source(prefix, m->host_path);
        pthread_rwlock_rdlock(rt->config_lock);
        bool reject = strv_contains(rt->config->absent_mount_sources_to_reject, src);
        pthread_rwlock_unlock(rt->config_lock);
        if (prefix && path_has_dotdot(m->host_path))
                return error_set(reterr, EINVAL,
                                 "mounts[%zu].host_path: '%s' has '..' (bind_mount_prefix is set)", i,
                                 m->host_path);
        int r = prefix                  ? resolve_under_prefix(prefix, m->host_path, ret, reterr)
                : access(src, F_OK) < 0 ? -errno
                                        : 0;
        if (r != -ENOENT)
                return r;
        if (reject)
                return error_set(reterr, EINVAL, "mounts[%zu].host_path: '%s' does not exist", i, src);
        if (!prefix)
                return mkdir_parents_and_self(src, 0755) < 0
                               ? error_set(reterr, errno, "mounts[%zu].host_path: cannot create '%s': %m", i,
                                           src)
                               : 0;
        r = mkdir_in_root(prefix, m->host_path, (uid_t)-1, (gid_t)-1, reterr);
        if (r >= 0)
                r = resolve_under_prefix(prefix, m->host_path, ret, reterr);
        return r == -ENOENT ? error_set(reterr, ENOENT, "mounts[%zu].host_path: '%s' vanished", i, src) : r;
}

/*
 * The sources of the CRI's mounts. With bind_mount_prefix (not for the infra process's own mount),
 * *ret_sources holds where each one resolved; NULL without.
 */
static int prepare_mount_sources(Runtime *rt, const ContainerConfig *c, bool use_prefix, char ***ret_sources,
                                 Error **reterr) {
        pthread_rwlock_rdlock(rt->config_lock);
        _cleanup_free_ char *prefix = use_prefix && !isempty(rt->config->bind_mount_prefix)
                                              ? xstrdup(rt->config->bind_mount_prefix)
                                              : NULL;
        pthread_rwlock_unlock(rt->config_lock);
        char **sources = NULL;
        for (size_t i = 0; i < c->n_mounts; i++) {
                char *resolved = NULL;
                int r = prepare_mount_source(rt, &c->mounts[i], i, prefix, &resolved, reterr);
                if (r < 0) {
                        strv_free(sources);
                        return r;
                }
                if (prefix)
                        sources = strv_push(sources, resolved);
        }
        *ret_sources = sources;
        return 0;
}

/*
 * The image's VOLUMEs: "mkdir" (the default) and "bind" create the directories in the container's
 * writable layer, so they exist and belong to the container; "ignore" leaves the image as it is.
 */
static int make_image_volumes(Runtime *rt, const Pod *p, const Container *c, const ImageRunConfig *run,
                              Error **reterr) {
        pthread_rwlock_rdlock(rt->config_lock);
        bool ignore = strcmp(rt->config->image_volumes, "ignore") == 0;
        pthread_rwlock_unlock(rt->config_lock);
        uid_t uid;
        gid_t gid;
        pod_root_owner(p, &uid, &gid);
        STRV_FOREACH(v, ignore ? NULL : run->volumes) {
                int r = mkdir_in_root(c->rootfs, *v, uid, gid, reterr);
                if (r < 0)
                        return error_prefix(reterr, "image volume");
        }
        return 0;
}

/* The profile file the container names or the config sets; NULL with *ret_default for the built-in one. */
static json_object *load_seccomp(Runtime *rt, const ContainerConfig *c, bool *ret_default, Error **reterr) {
        _cleanup_free_ char *path = NULL;
        *ret_default = false;
        if (c->privileged || c->seccomp == SECCOMP_UNCONFINED)
                return NULL;
        if (c->seccomp == SECCOMP_LOCALHOST)
                path = xstrdup(c->seccomp_path);
        else {
                pthread_rwlock_rdlock(rt->config_lock);
                if (!isempty(rt->config->seccomp_profile))
                        path = xstrdup(rt->config->seccomp_profile);
                pthread_rwlock_unlock(rt->config_lock);
                if (!path) {
                        *ret_default = true;
                        return NULL;
                }
        }
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        json_object *o = NULL;
        if (read_file(path, 4 << 20, &text, &len) < 0) {
                error_set(reterr, errno == ENOENT ? ENOENT : EINVAL, "seccomp: cannot read profile '%s': %m",
                          path);
                return NULL;
        }
        if (json_parse_object(text, len, "seccomp profile", &o, reterr) < 0)
                return NULL;
        return o;
}

/* A profile is passed to the runtime only where the kernel enforces AppArmor; elsewhere runc would fail. */
static bool apparmor_enabled(void) {
        _cleanup_free_ char *t = NULL;
        return read_file("/sys/module/apparmor/parameters/enabled", 16, &t, NULL) >= 0 && t[0] == 'Y';
}

static int64_t own_oom_score_adj(void) {
        _cleanup_free_ char *t = NULL;
        return read_file("/proc/self/oom_score_adj", 32, &t, NULL) < 0 ? 0 : strtoll(t, NULL, 10);
}

static char *cgroups_path(Runtime *rt, const Pod *p, const char *id) {
        pthread_rwlock_rdlock(rt->config_lock);
        bool systemd = strcmp(rt->config->cgroup_manager, "systemd") == 0;
        pthread_rwlock_unlock(rt->config_lock);
        const char *parent = p->config->cgroup_parent;
        if (systemd)
                return xasprintf("%s:crio:%s", isempty(parent) ? "system.slice" : parent, id);
        return xasprintf("%s/crio-%s", isempty(parent) ? "/" DEFAULT_CGROUP_PARENT : parent, id);
}

static const char *pid_ns_path(Runtime *rt, const Pod *p, const ContainerConfig *c, char **buf,
                               Error **reterr) {
        int err = 0;
        const char *target = c->ns.pid == NS_TARGET ? c->ns.target_id
                             : c->ns.pid == NS_POD  ? p->infra_id
                                                    : NULL;
        if (!target)
                return NULL;
        Container *t = container_find_locked(rt, target, &err);
        if (!t || t->pid <= 0) {
                error_set(reterr, ENOENT, "namespace_options.target_id: container '%s' not found", target);
                return NULL;
        }
        /* Another pod's container is not this pod's to join; an exited one's pid may be anyone's now. */
        if (strcmp(t->pod_id, p->id) != 0 || t->state == CONTAINER_EXITED) {
                error_set(reterr, EINVAL, "namespace_options.target_id: container '%s' is %s", target,
                          t->state == CONTAINER_EXITED ? "not running" : "in another pod sandbox");
                return NULL;
        }
        *buf = xasprintf("/proc/%d/ns/pid", t->pid);
        return *buf;
}

typedef struct CreateCtx {
        StoreImage *image;
        ImageRunConfig run;
        char **layer_dirs;
        ResolvedUser user;
        Hook **hooks;                    /* read before the spec is built under the runtime's lock */
        MountsFileEntry *default_mounts; /* the same */
        size_t n_default_mounts;
        char **mount_sources; /* the CRI mounts' sources resolved under bind_mount_prefix, NULL without */
        char **cdi_names;     /* the CDI devices asked for, NULL for none */
        CdiRegistry *cdi;     /* the specs of cdi_spec_dirs, read when a device is asked for */
} CreateCtx;

static void create_ctx_done(CreateCtx *x) {
        store_image_free(x->image);
        image_run_config_done(&x->run);
        strv_free(x->layer_dirs);
        free(x->user.groups);
        hooks_free(x->hooks);
        mounts_file_free(x->default_mounts, x->n_default_mounts);
        strv_free(x->cdi_names);
        strv_free(x->mount_sources);
        cdi_registry_free(x->cdi);
}

static int load_image(Runtime *rt, Container *c, CreateCtx *x, Error **reterr) {
        int r = image_lookup(rt->images, c->config->image, &x->image, reterr);
        if (r < 0)
                return r == -ENOENT
                               ? error_set(reterr, ENOENT, "image.image: '%s' is not present; pull it first",
                                           c->config->image)
                               : r;
        Store *s = image_service_store(rt->images);
        for (char **l = x->image->layers; l && *l; l++) {
                char *dir = NULL;
                r = store_layer_dir(s, *l, &dir, reterr);
                if (r < 0)
                        return r;
                x->layer_dirs = strv_push(x->layer_dirs, dir);
        }
        _cleanup_free_ char *cfg = NULL;
        size_t len = 0;
        r = store_blob_read(s, x->image->config_digest, &cfg, &len, reterr);
        if (r >= 0)
                r = image_run_config_parse(cfg, len, &x->run, reterr);
        c->image_id = xstrdup(x->image->id);
        c->image_ref =
                xstrdup(x->image->repo_digests && x->image->repo_digests[0] ? x->image->repo_digests[0]
                                                                            : x->image->id);
        c->stop_signal = x->run.stop_signal ? xstrdup(x->run.stop_signal) : NULL;
        return r;
}

static int resolve_user(Container *c, CreateCtx *x, Error **reterr) {
        _cleanup_close_ int fd = open(c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return error_set(reterr, errno, "cannot open %s: %m", c->rootfs);
        const ContainerConfig *cc = c->config;
        UserRequest req = {.image_user = x->run.user,
                           .run_as_user = cc->run_as_user,
                           .run_as_username = cc->run_as_username,
                           .run_as_group = cc->run_as_group,
                           .supplemental = cc->supplemental_groups,
                           .n_supplemental = cc->n_supplemental_groups};
        int r = user_resolve(fd, &req, &x->user, reterr);
        if (r >= 0) {
                c->uid = x->user.uid;
                c->gid = x->user.gid;
                c->groups = xmalloc((x->user.n_groups + 1) * sizeof(int64_t));
                if (x->user.n_groups)
                        memcpy(c->groups, x->user.groups, x->user.n_groups * sizeof(int64_t));
                c->n_groups = x->user.n_groups;
        }
        return r;
}

/* The container's handler in the config; the config lock is held. */
static const RuntimeHandler *find_handler(const Config *config, const char *handler) {
        return config_find_runtime(config, isempty(handler) ? config->default_runtime : handler);
}

static bool handler_without_host_devices(const Config *config, const char *handler) {
        const RuntimeHandler *rh = find_handler(config, handler);
        return rh && rh->privileged_without_host_devices;
}

/* The devices the pod's annotation asks for, where its handler allows it; the config lock is held. */
static int pod_devices(const Config *config, const Pod *p, const Container *c, char ***ret, Error **reterr) {
        const RuntimeHandler *rh = find_handler(config, c->handler);
        if (c->infra || !rh) {
                *ret = NULL;
                return 0;
        }
        return pod_annotation_devices(&p->config->annotations, rh->allowed_annotations,
                                      config->allowed_devices, ret, reterr);
}

/* The hook files of hooks_dir, read at each create so that edits need no reload. */
static Hook **load_hooks(Runtime *rt) {
        pthread_rwlock_rdlock(rt->config_lock);
        _cleanup_strv_free_ char **dirs = strv_copy(rt->config->hooks_dir);
        pthread_rwlock_unlock(rt->config_lock);
        return hooks_load(dirs);
}

/*
 * default_mounts_file, read at each create as CRI-O does. The daemon checked it at start; a file broken
 * since then only warns, so that an operator's edit does not stop every container start.
 */
static void load_default_mounts(Runtime *rt, CreateCtx *x) {
        pthread_rwlock_rdlock(rt->config_lock);
        _cleanup_free_ char *path =
                isempty(rt->config->default_mounts_file) ? NULL : xstrdup(rt->config->default_mounts_file);
        pthread_rwlock_unlock(rt->config_lock);
        _cleanup_error_ Error *err = NULL;
        if (path && mounts_file_load(path, &x->default_mounts, &x->n_default_mounts, &err) < 0)
                log_warn("default_mounts_file: %s; no default mounts", err->message);
}

/* The CDI specs, read at each create that asks for a CDI device so that a new spec needs no reload. */
static int load_cdi(Runtime *rt, const ContainerConfig *cc, CreateCtx *x, Error **reterr) {
        int r = cdi_requested(&cc->annotations, cc->cdi_devices, &x->cdi_names, reterr);
        if (r < 0 || !x->cdi_names)
                return r;
        pthread_rwlock_rdlock(rt->config_lock);
        _cleanup_strv_free_ char **dirs = strv_copy(rt->config->cdi_spec_dirs);
        pthread_rwlock_unlock(rt->config_lock);
        x->cdi = cdi_registry_load(dirs);
        return 0;
}

/* The OCI hooks that match the container, by what the kubelet asked for and the command it runs. */
static void add_hooks(Hook *const *hooks, const ContainerConfig *cc, json_object *spec) {
        json_object *process = NULL, *args = NULL;
        const char *command = NULL;
        if (json_object_object_get_ex(spec, "process", &process) &&
            json_object_object_get_ex(process, "args", &args) && json_object_array_length(args) > 0)
                command = json_object_get_string(json_object_array_get_idx(args, 0));
        HookTarget t = {
                .annotations = &cc->annotations, .command = command, .has_bind_mounts = cc->n_mounts > 0};
        hooks_add_matching(hooks, &t, spec);
}

/* Build and write config.json. Called with rt->lock held (reads the pod and its infra container). */
static int write_spec_locked(Runtime *rt, const Pod *p, Container *c, const CreateCtx *x, Error **reterr) {
        const ContainerConfig *cc = c->config;
        _cleanup_free_ char *pidns = NULL, *cg = cgroups_path(rt, p, c->id);
        free(c->cgroup);
        c->cgroup = NULL;
        /* A systemd "slice:prefix:name" spec: where runc's systemd driver puts it (NULL if malformed). */
        if (cg[0] == '/')
                c->cgroup = xstrdup(cg);
        else
                (void)cgroup_systemd_path(cg, &c->cgroup);
        _cleanup_free_ char *shm = p->shm_mounted ? xasprintf("%s/shm", p->dir) : NULL;
        _cleanup_error_ Error *err = NULL;
        const char *pidns_path = pid_ns_path(rt, p, cc, &pidns, &err);
        if (err)
                return error_propagate(reterr, TAKE_PTR(err));
        bool seccomp_default = false;
        json_object *seccomp = load_seccomp(rt, cc, &seccomp_default, reterr);
        if (!seccomp && *reterr)
                return -(*reterr)->code;
        pthread_rwlock_rdlock(rt->config_lock);
        const Config *cfg = rt->config;
        _cleanup_free_ char *localtime = NULL;
        if (!c->infra)
                (void)config_timezone_file(cfg->timezone, &localtime); /* checked at load */
        _cleanup_strv_free_ char **annotated = NULL;
        if (pod_devices(cfg, p, c, &annotated, reterr) < 0) {
                pthread_rwlock_unlock(rt->config_lock);
                json_object_put(seccomp);
                return -(*reterr)->code;
        }
        SpecInput in = {
                .ctr = cc,
                .image = &x->run,
                .rootfs = c->rootfs,
                .hostname = p->config->hostname,
                .pod_dir = p->dir,
                .shm_path = p->config->ns.ipc == NS_NODE ? "/dev/shm" : shm,
                .netns = p->netns,
                .ipcns = p->ipcns,
                .utsns = p->utsns,
                .userns = p->userns,
                .userns_maps = &p->config->ns,
                .pidns = pidns_path,
                .host_net = !p->netns,
                .host_ipc = !p->ipcns,
                .host_pid = cc->ns.pid == NS_NODE,
                .cgroups_path = cg,
                .uid = c->uid,
                .gid = c->gid,
                .groups = c->groups,
                .n_groups = c->n_groups,
                .default_caps = rt->config->default_capabilities,
                .bounding_caps = capabilities_read_bounding(),
                .default_env = rt->config->default_env,
                .default_ulimits = rt->config->default_ulimits,
                .min_oom_score_adj = own_oom_score_adj(),
                .seccomp = seccomp,
                .seccomp_default = seccomp_default,
                .apparmor_profile =
                        isempty(cc->apparmor_profile) || !apparmor_enabled() ? NULL : cc->apparmor_profile,
                .extra_devices = rt->config->additional_devices,
                .pod_devices = annotated,
                .no_host_devices = handler_without_host_devices(rt->config, c->handler),
                .read_only = cfg->read_only && !c->infra,
                .inheritable_caps = cfg->add_inheritable_capabilities,
                .no_pivot = cfg->no_pivot,
                .device_owner_from_ctx = cfg->device_ownership_from_security_context,
                .pids_limit = c->infra ? 0 : cfg->pids_limit,
                .mount_sources = x->mount_sources,
                .localtime = localtime,
                .default_mounts = x->default_mounts,
                .n_default_mounts = x->n_default_mounts,
        };
        json_object *spec = oci_spec_build(&in, reterr);
        pthread_rwlock_unlock(rt->config_lock);
        json_object_put(seccomp);
        if (!spec)
                return -(*reterr)->code;
        add_hooks(x->hooks, cc, spec);
        if (x->cdi_names && cdi_apply(x->cdi, x->cdi_names, spec, reterr) < 0) {
                json_object_put(spec);
                return -(*reterr)->code;
        }
        _cleanup_free_ char *path = xasprintf("%s/config.json", c->bundle);
        const char *text = json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN |
                                                                        JSON_C_TO_STRING_NOSLASHESCAPE);
        int r = write_file_replace(path, text, strlen(text), 0600);
        json_object_put(spec);
        return r < 0 ? error_set(reterr, -r, "cannot write %s: %s", path, strerror(-r)) : 0;
}

static void set_paths(Runtime *rt, const Pod *p, Container *c) {
        c->bundle = xasprintf("%s/containers/%s", rt->paths.runroot, c->id);
        c->rootfs = xasprintf("%s/rootfs", c->bundle);
        if (!c->infra)
                c->layer = xasprintf("%s/containers/%s", rt->paths.root, c->id);
        const char *dir = p->config->log_directory;
        if (c->infra)
                c->log_path = xasprintf("%s/infra.log", c->bundle);
        else if (!isempty(dir) && !isempty(c->config->log_path))
                c->log_path = xasprintf("%s/%s", dir, c->config->log_path);
        else
                c->log_path = xasprintf("%s/%s.log", rt->paths.log_dir, c->id);
}

/* conmon, joined to its cgroup; it runs nothing until oci_monitor_start() writes its start byte. */
static int monitor_spawn_joined(Runtime *rt, const Container *c, const Handler *h, Monitor *m,
                                Error **reterr) {
        int r = oci_monitor_spawn(rt, c, h, m, reterr);
        /* conmon waits for the start byte: it joins before it forks or runs anything. */
        if (r >= 0 && c->monitor_cgroup)
                r = monitor_cgroup_join(c->monitor_cgroup, m->pid, reterr);
        return r;
}

/*
 * conmon loads a dozen libraries and parses its options before it reads its start pipe: spawned at
 * creation, it waits ready for the start byte that StartContainer writes (instantiate), which takes
 * its ~2 ms start-up off the start, and a preparation failing after it kills it.
 */
static int spawn_waiting_monitor(Runtime *rt, Container *c, const Handler *h, Error **reterr) {
        Monitor *m = xmalloc(sizeof(*m));
        *m = (Monitor){.pid = -1, .sync_fd = -EBADF, .start_fd = -EBADF};
        c->waiting_monitor = m;
        return monitor_spawn_joined(rt, c, h, m, reterr);
}

void container_drop_waiting_monitor(Container *c) {
        if (!c->waiting_monitor)
                return;
        oci_monitor_abort(c->waiting_monitor);
        c->waiting_monitor = mfree(c->waiting_monitor);
}

/* The handler's checks, the row, the directories, then the monitor, which waits. */
static int prepare_row_and_dirs(Runtime *rt, Pod *p, Container *c, Error **reterr) {
        set_paths(rt, p, c);
        Handler h = {};
        int r = runtime_handler_resolve(rt, c->handler, &h, reterr);
        if (r >= 0 && !c->infra)
                r = handler_check_memory(&h, c->config->resources.memory_limit,
                                         "linux.resources.memory_limit_in_bytes", reterr);
        /* Named in the row before it exists, so that a daemon killed meanwhile removes it at restart. */
        if (r >= 0 && h.monitor_in_pod)
                c->monitor_cgroup = xasprintf("%s/crio-conmon-%s",
                                              isempty(p->config->cgroup_parent) ? "/" DEFAULT_CGROUP_PARENT
                                                                                : p->config->cgroup_parent,
                                              c->id);
        if (r >= 0)
                r = state_save_container(rt, c, reterr);
        if (r >= 0)
                r = make_pod_private_dir(p, c->bundle, reterr);
        if (r >= 0 && mkdir_parents(c->log_path, 0755) < 0)
                r = error_set(reterr, errno, "log_path: cannot create the directory of %s: %m", c->log_path);
        if (r >= 0)
                r = spawn_waiting_monitor(rt, c, &h, reterr);
        handler_done(&h);
        return r;
}

/*
 * The bundle: rootfs, volumes, mount sources, user and spec. The OCI runtime is not involved yet:
 * StartContainer creates the container in it (instantiate says why).
 */
static int container_setup(Runtime *rt, Pod *p, Container *c, Error **reterr) {
        CreateCtx x = {};
        int r = prepare_row_and_dirs(rt, p, c, reterr);
        if (r >= 0 && !c->infra)
                r = load_image(rt, c, &x, reterr);
        if (r >= 0 && !c->infra)
                r = overlay_mount(rt, c, x.layer_dirs, p, reterr);
        else if (r >= 0 && mkdir(c->rootfs, 0755) < 0)
                r = error_set(reterr, errno, "cannot create %s: %m", c->rootfs);
        if (r >= 0 && !c->infra)
                r = make_image_volumes(rt, p, c, &x.run, reterr);
        if (r >= 0)
                r = prepare_mount_sources(rt, c->config, !c->infra, &x.mount_sources, reterr);
        if (r >= 0)
                r = resolve_user(c, &x, reterr);
        if (r >= 0 && !c->infra) {
                x.hooks = load_hooks(rt);
                load_default_mounts(rt, &x);
                r = load_cdi(rt, c->config, &x, reterr);
        }
        if (r >= 0) {
                pthread_mutex_lock(&rt->lock);
                r = write_spec_locked(rt, p, c, &x, reterr);
                pthread_mutex_unlock(&rt->lock);
        }
        create_ctx_done(&x);
        return r;
}

/* Publish a created container, or undo a failed one (runtime calls outside the lock). */
static void container_finish_creation(Runtime *rt, Container *c, bool ok) {
        if (!ok) {
                container_teardown(rt, c, true);
                state_delete_container(rt, c->id, NULL);
        }
        pthread_mutex_lock(&rt->lock);
        c->claim.creating = false;
        c->claim.failed = !ok;
        lists_changed_locked(rt);
        if (!ok)
                runtime_drop_container_locked(rt, c);
        else if (!c->infra)
                event_emit_locked(rt, c->id, c->pod_id, EVENT_CREATED);
        if (ok)
                container_check_exit_locked(rt, c);
        pthread_cond_broadcast(&rt->created);
        pthread_mutex_unlock(&rt->lock);
}

static Container *container_new(ContainerConfig *config, const Pod *p) {
        Container *c = xcalloc(1, sizeof(*c));
        c->refs = 1;
        pthread_mutex_init(&c->op_lock, NULL);
        c->config = config;
        c->id = random_id();
        c->pod_id = xstrdup(p->id);
        c->full_name = container_full_name(config, p->config);
        c->handler = xstrdup(p->handler);
        c->claim.creating = true;
        c->state = CONTAINER_CREATED;
        c->created_ns = now_ns();
        return c;
}

/* Create a container of a pod that the caller holds a reference to. */
static int create_in_pod(Runtime *rt, Pod *p, ContainerConfig *config, bool infra, char **ret_id,
                         Error **reterr) {
        Container *c = container_new(config, p);
        c->infra = infra;
        char *existing = NULL;
        pthread_mutex_lock(&rt->lock);
        int r = reserve_locked(rt, c, &existing, reterr);
        pthread_mutex_unlock(&rt->lock);
        if (r < 0 || existing) {
                container_unref(c);
                if (existing)
                        *ret_id = existing;
                return r;
        }
        r = container_setup(rt, p, c, reterr);
        if (r >= 0)
                r = state_save_container_created(rt, c, reterr);
        container_finish_creation(rt, c, r >= 0);
        if (r >= 0)
                *ret_id = xstrdup(c->id);
        else
                error_prefix(reterr, "create container '%s'", c->full_name);
        container_unref(c);
        return r;
}

int runtime_container_create(Runtime *rt, const char *pod_id, ContainerConfig *config, char **ret_id,
                             Error **reterr) {
        int r = validate_config(config, reterr), err = 0;
        if (r < 0) {
                container_config_free(config);
                return r;
        }
        pthread_mutex_lock(&rt->lock);
        Pod *p = pod_find_locked(rt, pod_id, &err);
        if (p)
                pod_ref(p);
        bool ready = p && p->state == POD_READY;
        pthread_mutex_unlock(&rt->lock);
        if (!p || !ready) {
                container_config_free(config);
                pod_unref(p);
                return p ? error_set(reterr, EBUSY, "pod sandbox %s is not ready", pod_id)
                         : error_set(reterr, ENOENT, "pod_sandbox_id: pod sandbox '%s' not found", pod_id);
        }
        /* As CRI-O and containerd: privilege is granted to the pod first (the kubelet does so). */
        if (config->privileged && !p->config->privileged) {
                container_config_free(config);
                pod_unref(p);
                return error_set(reterr, EINVAL,
                                 "linux.security_context.privileged: the pod sandbox %s is not privileged",
                                 pod_id);
        }
        r = create_in_pod(rt, p, config, false, ret_id, reterr);
        pod_unref(p);
        return r;
}

int container_get(Runtime *rt, const char *id, bool with_infra, Container **ret, Error **reterr) {
        int err = 0;
        pthread_mutex_lock(&rt->lock);
        Container *c = container_find_locked(rt, id, &err);
        if (c && c->infra && !with_infra)
                c = NULL, err = -ENOENT;
        if (c)
                container_ref(c);
        pthread_mutex_unlock(&rt->lock);
        if (!c)
                return error_set(
                        reterr, err == -EINVAL ? EINVAL : ENOENT,
                        err == -EINVAL ? "container ID '%s' is ambiguous" : "container '%s' not found", id);
        *ret = c;
        return 0;
}

static void mark_exited_locked(Runtime *rt, Container *c, int32_t exit_code, const char *reason,
                               const char *message) {
        c->state = CONTAINER_EXITED;
        lists_changed_locked(rt);
        c->exit_code = exit_code;
        c->finished_ns = now_ns();
        free(c->reason);
        c->reason = xstrdup(reason);
        free(c->message);
        c->message = xstrdup(message);
        if (!c->infra)
                event_emit_locked(rt, c->id, c->pod_id, EVENT_STOPPED);
        else
                pod_infra_exited_locked(rt, c->pod_id);
        pthread_cond_broadcast(&rt->exited); /* a stop may be waiting for this exit */
}

void container_mark_lost_locked(Runtime *rt, Container *c, int32_t exit_code, const char *message,
                                bool count) {
        if (c->state == CONTAINER_EXITED)
                return;
        /* The reason as for an exit file. */
        mark_exited_locked(rt, c, exit_code, exit_code == 0 ? "Completed" : "Error", message);
        if (count)
                metric_inc1(rt->monitor_lost, c->config->name);
}

/*
 * The OCI runtime's instance of the container, which its monitor makes by running `runtime create`.
 * It is made when the container starts, as containerd does, not at CreateContainer as on CRI-O: a
 * container that is only created then has nothing in the runtime (no waiting `runc init`), its
 * removal needs no runtime call, and CreateContainer answers in a few ms. The runtime's own errors (a
 * command the image lacks, a mount it refuses) answer StartContainer instead, and the container then
 * exits with StartError, as on containerd.
 */
static int instantiate(Runtime *rt, Container *c, const Handler *h, Error **reterr) {
        int pid = 0, r = 0;
        /* None waits after a daemon restart. */
        if (!c->waiting_monitor)
                r = spawn_waiting_monitor(rt, c, h, reterr);
        if (r >= 0)
                r = oci_monitor_start(c->waiting_monitor, &pid, reterr);
        container_drop_waiting_monitor(c); /* started: only its first process, which is gone */
        if (r < 0)
                return r;
        pthread_mutex_lock(&rt->lock);
        c->pid = pid;
        /* Recorded before the start: a daemon killed in between finds the instance at restart. */
        r = state_save_container(rt, c, reterr);
        pthread_mutex_unlock(&rt->lock);
        return r;
}

/* A failed start leaves nothing running or mounted: the container exits, as on containerd. */
static void fail_start(Runtime *rt, Container *c, const char *message) {
        teardown_runtime(rt, c, true);
        pthread_mutex_lock(&rt->lock);
        mark_exited_locked(rt, c, EXIT_START_ERROR, "StartError", message);
        c->pid = 0;
        c->runtime_released = true;
        state_save_container(rt, c, NULL);
        pthread_mutex_unlock(&rt->lock);
        overlay_unmount(c);
}

static int start_locked_op(Runtime *rt, Container *c, Error **reterr) {
        pthread_mutex_lock(&rt->lock);
        ContainerState st = c->state;
        bool instance = c->pid > 0; /* made by a start that a daemon restart cut short */
        pthread_mutex_unlock(&rt->lock);
        if (st != CONTAINER_CREATED)
                return error_set(reterr, EBUSY, "container %s is not in the created state", c->id);
        Handler h = {};
        _cleanup_error_ Error *err = NULL;
        int r = runtime_handler_resolve(rt, c->handler, &h, &err);
        if (r >= 0 && !instance)
                r = instantiate(rt, c, &h, &err);
        /* Taken before the runtime call: a short-lived container may exit before it returns. */
        int64_t started = now_ns();
        if (r >= 0)
                r = oci_start(rt, c, &h, &err);
        handler_done(&h);
        if (r < 0) {
                fail_start(rt, c, err->message);
                return error_propagate(reterr, TAKE_PTR(err));
        }
        pthread_mutex_lock(&rt->lock);
        c->started_ns = started;
        clamp_finished(c);
        if (c->state == CONTAINER_CREATED) {
                c->state = CONTAINER_RUNNING;
                lists_changed_locked(rt);
                if (!c->infra)
                        event_emit_locked(rt, c->id, c->pod_id, EVENT_STARTED);
        }
        container_check_exit_locked(rt, c);
        r = state_save_container(rt, c, reterr);
        pthread_mutex_unlock(&rt->lock);
        return r;
}

int runtime_container_start(Runtime *rt, const char *id, Error **reterr) {
        Container *c = NULL;
        int r = container_get(rt, id, true, &c, reterr);
        if (r < 0)
                return r;
        pthread_mutex_lock(&c->op_lock);
        r = start_locked_op(rt, c, reterr);
        pthread_mutex_unlock(&c->op_lock);
        container_unref(c);
        return r;
}

static int signal_from_name(const char *name) {
        if (isempty(name))
                return SIGTERM;
        const char *n = strncasecmp(name, "SIG", 3) == 0 ? name + 3 : name;
        for (int s = 1; s < NSIG; s++) {
                const char *abbrev = sigabbrev_np(s);
                if (abbrev && strcasecmp(abbrev, n) == 0)
                        return s;
        }
        char *end = NULL;
        long v = strtol(name, &end, 10);
        return end && !*end && v > 0 && v < NSIG ? (int)v : SIGTERM;
}

/* rt->exited waits on the monotonic clock: a wall clock stepped back must not stretch a grace period. */
static struct timespec exited_wait_until(int64_t ns_from_now) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        int64_t ns = until.tv_nsec + ns_from_now % 1000000000LL;
        until.tv_sec += ns_from_now / 1000000000LL + ns / 1000000000LL;
        until.tv_nsec = ns % 1000000000LL;
        return until;
}

/* Wait until the exit watcher marks the container exited, at most `ms`. */
static bool wait_exited(Runtime *rt, Container *c, int64_t ms) {
        struct timespec until = exited_wait_until(ms * 1000000LL);
        pthread_mutex_lock(&rt->lock);
        while (c->state != CONTAINER_EXITED && !container_check_exit_locked(rt, c))
                if (pthread_cond_timedwait(&rt->exited, &rt->lock, &until) != 0)
                        break;
        bool exited = c->state == CONTAINER_EXITED;
        pthread_mutex_unlock(&rt->lock);
        return exited;
}

/*
 * After SIGKILL: wait for the exit file, but not for one nobody will write (the monitor is gone and no
 * process of the container runs); then record the loss rather than wait forever.
 */
static void wait_killed(Runtime *rt, Container *c) {
        for (int64_t waited = 0; waited < KILL_WAIT_MS; waited += KILL_POLL_MS)
                if (wait_exited(rt, c, KILL_POLL_MS) || container_processes_gone(c))
                        break;
        pthread_mutex_lock(&rt->lock);
        if (!container_check_exit_locked(rt, c)) /* a monitor's last act may be writing it */
                container_mark_lost_locked(
                        rt, c, 137, "the container's monitor exited without reporting an exit code", true);
        pthread_mutex_unlock(&rt->lock);
}

/*
 * A stopped container keeps nothing in the OCI runtime: its state dir and cgroup go now rather
 * than when the kubelet removes it, which for a pod's dead containers can be much later. A stop
 * unmounts its rootfs too, as CRI-O and containerd do: nothing runs in it any more, and the unmount
 * (which syncs the upper file system, 0.4 ms idle, several ms on a busy disk) is then off the
 * removal's path. A removal that had to stop the container leaves the unmount to the teardown
 * thread, after its answer (`unmount` false).
 */
static void release_runtime(Runtime *rt, Container *c, const Handler *h, bool unmount) {
        _cleanup_error_ Error *err = NULL;
        if (c->runtime_released || c->state != CONTAINER_EXITED)
                return;
        if (oci_delete(rt, c, h, &err) < 0 && !strstr(err->message, "does not exist")) {
                log_warn("container %s: %s", c->id, err->message);
                return;
        }
        c->runtime_released = true;
        if (unmount)
                overlay_unmount(c);
}

static bool still_listed_locked(Runtime *rt, const Container *c) {
        for (size_t i = 0; i < rt->n_ctrs; i++)
                if (rt->ctrs[i] == c)
                        return true;
        return false;
}

/*
 * The exit watcher releases a container that exited on its own. A stop or remove in progress holds
 * the container and releases it itself, so a busy container is skipped rather than waited for.
 */
void container_release_exited(Runtime *rt, Container *c) {
        if (pthread_mutex_trylock(&c->op_lock) != 0)
                return;
        pthread_mutex_lock(&rt->lock);
        bool wanted = still_listed_locked(rt, c) && !c->claim.creating && c->state == CONTAINER_EXITED &&
                      !c->runtime_released;
        pthread_mutex_unlock(&rt->lock);
        Handler h = {};
        if (wanted && runtime_handler_resolve(rt, c->handler, &h, NULL) >= 0) {
                release_runtime(rt, c, &h, true);
                handler_done(&h);
                pthread_mutex_lock(&rt->lock);
                if (c->runtime_released && still_listed_locked(rt, c))
                        state_save_container(rt, c, NULL);
                pthread_mutex_unlock(&rt->lock);
        }
        pthread_mutex_unlock(&c->op_lock);
}

/* When a wait of TIMEOUT_S seconds from now ends, in monotonic ns; the CRI allows any int64. */
static int64_t deadline_after(int64_t timeout_s) {
        int64_t now = monotonic_ns();
        if (timeout_s <= 0)
                return now;
        return timeout_s >= (INT64_MAX - now) / 1000000000LL ? INT64_MAX : now + timeout_s * 1000000000LL;
}

/* A stop or removal coming while another stop waits out its grace period: the wait ends no later than
 * this one's would (CRI-O does the same; a kubelet's second, shorter stop is a force kill). */
static void hurry_stop(Runtime *rt, Container *c, int64_t timeout_s) {
        int64_t d = deadline_after(timeout_s);
        pthread_mutex_lock(&rt->lock);
        if (c->stop_deadline_ns && d < c->stop_deadline_ns) {
                c->stop_deadline_ns = d;
                pthread_cond_broadcast(&rt->exited);
        }
        pthread_mutex_unlock(&rt->lock);
}

typedef enum StopWait { STOP_EXITED, STOP_GRACE_OVER, STOP_ABANDONED } StopWait;

/*
 * The grace period starts before the stop signal is sent (the runtime call takes milliseconds), so that
 * a shorter stop or a removal coming meanwhile already finds a wait to hurry.
 */
static void set_stop_deadline(Runtime *rt, Container *c, int64_t deadline_ns) {
        pthread_mutex_lock(&rt->lock);
        c->stop_deadline_ns = deadline_ns;
        pthread_mutex_unlock(&rt->lock);
}

/* Wait for the exit until c->stop_deadline_ns, which may move closer meanwhile, or the daemon stops. */
static StopWait wait_for_stop(Runtime *rt, Container *c) {
        pthread_mutex_lock(&rt->lock);
        StopWait w;
        for (;;) {
                int64_t left = c->stop_deadline_ns - monotonic_ns();
                if (c->state == CONTAINER_EXITED || container_check_exit_locked(rt, c))
                        w = STOP_EXITED;
                else if (rt->shutting_down)
                        w = STOP_ABANDONED;
                else if (left <= 0)
                        w = STOP_GRACE_OVER;
                else {
                        struct timespec until = exited_wait_until(left);
                        pthread_cond_timedwait(&rt->exited, &rt->lock, &until);
                        continue;
                }
                break;
        }
        c->stop_deadline_ns = 0;
        pthread_mutex_unlock(&rt->lock);
        return w;
}

void runtime_begin_shutdown(Runtime *rt) {
        pthread_mutex_lock(&rt->lock);
        __atomic_store_n(&rt->shutting_down, true, __ATOMIC_RELAXED); /* ExecSync reads it unlocked */
        pthread_cond_broadcast(&rt->exited);
        pthread_mutex_unlock(&rt->lock);
}

/*
 * A container never started has no process: it ends at once, with the status a runtime reports for a
 * created container killed (CRI-O's view; containerd leaves it created, which a pod's stop could not).
 */
static int stop_unstarted(Runtime *rt, Container *c, bool removing, Error **reterr) {
        container_drop_waiting_monitor(c);
        pthread_mutex_lock(&rt->lock);
        mark_exited_locked(rt, c, 128 + SIGKILL, "Error", "stopped before it was started");
        c->runtime_released = true;
        int r = state_save_container(rt, c, reterr);
        pthread_mutex_unlock(&rt->lock);
        if (!removing)
                overlay_unmount(c);
        return r;
}

static int stop_op(Runtime *rt, Container *c, int64_t timeout_s, bool removing, Error **reterr) {
        pthread_mutex_lock(&rt->lock);
        bool exited = c->state == CONTAINER_EXITED || container_check_exit_locked(rt, c);
        bool unstarted = c->state == CONTAINER_CREATED && c->pid <= 0;
        pthread_mutex_unlock(&rt->lock);
        if (unstarted)
                return stop_unstarted(rt, c, removing, reterr);
        if (exited && c->runtime_released)
                return 0;
        Handler h = {};
        _cleanup_error_ Error *unresolved = NULL;
        int r = runtime_handler_resolve(rt, c->handler, &h, exited ? &unresolved : reterr);
        /*
         * An exited container needs its handler only to be released; a handler gone from the config
         * (or a runtime being upgraded) must not make it unstoppable and unremovable. The removal's
         * teardown tries the release again.
         */
        if (r < 0 && exited) {
                log_debug("container %s: not released from its runtime: %s", c->id, unresolved->message);
                return 0;
        }
        if (r < 0)
                return r;
        StopWait w = exited ? STOP_EXITED : STOP_GRACE_OVER;
        if (!exited && timeout_s > 0) {
                set_stop_deadline(rt, c, deadline_after(timeout_s));
                if (oci_kill(rt, c, &h, signal_from_name(c->stop_signal), false, NULL) >= 0)
                        w = wait_for_stop(rt, c); /* clears the deadline */
                else
                        set_stop_deadline(rt, c, 0);
        }
        if (w == STOP_ABANDONED) {
                handler_done(&h);
                return error_set(reterr, ESHUTDOWN,
                                 "the daemon is shutting down: container %s was not stopped", c->id);
        }
        if (w == STOP_EXITED)
                goto done;
        oci_kill(rt, c, &h, SIGKILL, true, NULL);
        wait_killed(rt, c);
done:
        release_runtime(rt, c, &h, !removing);
        handler_done(&h);
        pthread_mutex_lock(&rt->lock);
        r = state_save_container(rt, c, reterr);
        pthread_mutex_unlock(&rt->lock);
        return r;
}

int runtime_container_stop(Runtime *rt, const char *id, int64_t timeout_s, Error **reterr) {
        Container *c = NULL;
        _cleanup_error_ Error *err = NULL;
        /* Stopping a container that is already gone succeeds, as the CRI asks. */
        if (container_get(rt, id, true, &c, &err) < 0)
                return err->code == ENOENT ? 0 : error_propagate(reterr, TAKE_PTR(err));
        hurry_stop(rt, c, timeout_s);
        pthread_mutex_lock(&c->op_lock);
        int r = stop_op(rt, c, timeout_s, false, reterr);
        pthread_mutex_unlock(&c->op_lock);
        container_unref(c);
        return r;
}

/*
 * The runtime part goes first and the row next, so a retry after a failure finds the container
 * again. Its files are queued once the row is gone (teardown.c says how nothing is lost).
 */
static int remove_op(Runtime *rt, Container *c, Error **reterr) {
        int r = stop_op(rt, c, 0, true, reterr);
        if (r < 0)
                return r;
        teardown_runtime(rt, c, false);
        pthread_mutex_lock(&rt->lock);
        r = state_delete_container(rt, c->id, reterr);
        if (r >= 0 && !c->infra)
                event_emit_locked(rt, c->id, c->pod_id, EVENT_DELETED);
        if (r >= 0)
                runtime_drop_container_locked(rt, c);
        pthread_mutex_unlock(&rt->lock);
        if (r >= 0)
                teardown_enqueue(rt, c);
        return r;
}

int runtime_container_remove(Runtime *rt, const char *id, Error **reterr) {
        Container *c = NULL;
        _cleanup_error_ Error *err = NULL;
        if (container_get(rt, id, true, &c, &err) < 0)
                return err->code == ENOENT ? 0 : error_propagate(reterr, TAKE_PTR(err));
        hurry_stop(rt, c, 0);
        pthread_mutex_lock(&c->op_lock);
        int r = remove_op(rt, c, reterr);
        pthread_mutex_unlock(&c->op_lock);
        container_unref(c);
        return r;
}

/* Remove every container of a pod (used by pod stop with remove=false and pod removal). */
int containers_of_pod_apply(Runtime *rt, const char *pod_id, bool remove, Error **reterr) {
        for (;;) {
                Container *c = NULL;
                pthread_mutex_lock(&rt->lock);
                for (size_t i = 0; i < rt->n_ctrs && !c; i++) {
                        Container *x = rt->ctrs[i];
                        if (strcmp(x->pod_id, pod_id) != 0 || x->infra || x->claim.creating)
                                continue;
                        if (remove || x->state != CONTAINER_EXITED)
                                c = container_ref(x);
                }
                pthread_mutex_unlock(&rt->lock);
                if (!c)
                        return 0;
                hurry_stop(rt, c, 0);
                pthread_mutex_lock(&c->op_lock);
                int r = remove ? remove_op(rt, c, reterr) : stop_op(rt, c, 0, false, reterr);
                pthread_mutex_unlock(&c->op_lock);
                container_unref(c);
                if (r < 0)
                        return r;
        }
}

/* The pod's infra process: crio-pause, bind-mounted into an empty read-only root. */
int infra_start(Runtime *rt, Pod *p, Error **reterr) {
        ContainerConfig *cc = xcalloc(1, sizeof(*cc));
        cc->name = xstrdup("POD");
        cc->image = xstrdup("");
        cc->command = strv_push(NULL, xstrdup("/pause"));
        cc->mounts = xcalloc(1, sizeof(MountConfig));
        cc->mounts[0] = (MountConfig){.container_path = xstrdup("/pause"),
                                      .host_path = xstrdup(rt->paths.pause),
                                      .readonly = true};
        cc->n_mounts = 1;
        cc->readonly_rootfs = true;
        cc->run_as_user = cc->run_as_group = -1;
        cc->ns.pid = NS_CONTAINER;
        cc->seccomp = SECCOMP_RUNTIME_DEFAULT;
        cc->attempt = p->config->attempt;
        pthread_rwlock_rdlock(rt->config_lock);
        if (!isempty(rt->config->infra_ctr_cpuset)) /* checked at load */
                cc->resources.cpuset_cpus = xstrdup(rt->config->infra_ctr_cpuset);
        pthread_rwlock_unlock(rt->config_lock);
        char *id = NULL;
        int r = create_in_pod(rt, p, cc, true, &id, reterr);
        if (r < 0)
                return r;
        p->infra_id = id;
        r = runtime_container_start(rt, id, reterr);
        return r < 0 ? error_prefix(reterr, "start the pod's infra process") : 0;
}

bool pod_needs_infra(Runtime *rt, const Pod *p) {
        pthread_rwlock_rdlock(rt->config_lock);
        bool drop = rt->config->drop_infra_ctr;
        pthread_rwlock_unlock(rt->config_lock);
        return p->config->ns.pid == NS_POD || !drop;
}

void runtime_container_unclaimed(Runtime *rt, const char *id) {
        int err = 0;
        pthread_mutex_lock(&rt->lock);
        Container *c = container_find_locked(rt, id, &err);
        if (c)
                claim_mark_unclaimed(&c->claim);
        pthread_mutex_unlock(&rt->lock);
}
