/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "fs-util.h"
#include "log.h"
#include "network-hook.h"
#include "process.h"
#include "pod-annotations.h"
#include "runtime-private.h"
#include "strv.h"

#define PINNS_TIMEOUT_MS 30000
#define SHM_SIZE "65536k"

static int64_t realtime_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Which namespace a sysctl belongs to, or NULL when it is not namespaced (the pod may not set it). */
static const char *sysctl_namespace(const char *key) {
        static const char *const ipc_prefixes[] = {"kernel.shm", "kernel.msg", "fs.mqueue."};
        if (strncmp(key, "net.", 4) == 0)
                return "net";
        if (strcmp(key, "kernel.sem") == 0)
                return "ipc";
        for (size_t i = 0; i < ELEMENTSOF(ipc_prefixes); i++)
                if (strncmp(key, ipc_prefixes[i], strlen(ipc_prefixes[i])) == 0)
                        return "ipc";
        if (strcmp(key, "kernel.domainname") == 0 || strcmp(key, "kernel.hostname") == 0)
                return "uts";
        return NULL;
}

static int validate_sysctl(const PodConfig *c, const char *key, Error **reterr) {
        const char *ns = sysctl_namespace(key);
        if (!ns || strstr(key, "..") || strchr(key, '/'))
                return error_set(reterr, EINVAL, "sysctls: '%s' is not a namespaced sysctl", key);
        bool host = (strcmp(ns, "net") == 0 || strcmp(ns, "uts") == 0) ? c->ns.network == NS_NODE
                                                                       : c->ns.ipc == NS_NODE;
        if (host)
                return error_set(reterr, EINVAL,
                                 "sysctls: '%s' cannot be set in a pod that uses the host's %s namespace",
                                 key, ns);
        return 0;
}

/* The kernel's limit on the lines of a uid_map or gid_map. */
#define IDMAP_LINES_MAX 340

/* ID mappings of a pod user namespace, checked as the kernel would, so the client learns which field. */
static int validate_idmaps(const char *field, const IdMap *m, size_t n, Error **reterr) {
        if (n == 0)
                return error_set(reterr, EINVAL,
                                 "namespace_options.userns_options.%s: a pod user namespace needs mappings",
                                 field);
        if (n > IDMAP_LINES_MAX)
                return error_set(reterr, EINVAL,
                                 "namespace_options.userns_options.%s: more than %d mappings", field,
                                 IDMAP_LINES_MAX);
        for (size_t i = 0; i < n; i++) {
                uint64_t len = m[i].length;
                if (len == 0 || m[i].container_id + len > UINT32_MAX || m[i].host_id + len > UINT32_MAX)
                        return error_set(
                                reterr, EINVAL,
                                "namespace_options.userns_options.%s[%zu]: length must be positive and "
                                "the range must stay below 2^32-1",
                                field, i);
                for (size_t j = 0; j < i; j++)
                        if (m[i].container_id < m[j].container_id + (uint64_t)m[j].length &&
                            m[j].container_id < m[i].container_id + len)
                                return error_set(
                                        reterr, EINVAL,
                                        "namespace_options.userns_options.%s[%zu]: container IDs overlap "
                                        "mapping %zu",
                                        field, i, j);
        }
        return 0;
}

static bool blank_or_control(char ch) {
        return (unsigned char)ch <= ' ' || ch == 0x7f;
}

/* An IPv4 or IPv6 address; an IPv6 one may name its zone ("fe80::1%eth0"), as resolv.conf allows. */
static bool is_ip_address(const char *s) {
        unsigned char buf[sizeof(struct in6_addr)];
        if (inet_pton(AF_INET, s, buf) == 1)
                return true;
        const char *zone = strchr(s, '%');
        _cleanup_free_ char *addr = xstrndup(s, zone ? (size_t)(zone - s) : strlen(s));
        return inet_pton(AF_INET6, addr, buf) == 1 && (!zone || zone[1]);
}

/* Each word goes into the pod's resolv.conf: one word, no line of its own smuggled in. */
static int validate_dns_words(const char *field, char *const *words, Error **reterr) {
        for (size_t i = 0; words && words[i]; i++) {
                const char *w = words[i];
                if (!*w)
                        return error_set(reterr, EINVAL, "dns_config.%s[%zu]: is empty", field, i);
                if (strcmp(field, "servers") == 0 && !is_ip_address(w))
                        return error_set(reterr, EINVAL,
                                         "dns_config.servers[%zu]: '%.64s' is not an IP address", i, w);
                for (; *w; w++)
                        if (blank_or_control(*w))
                                return error_set(reterr, EINVAL,
                                                 "dns_config.%s[%zu]: contains a blank or control character",
                                                 field, i);
        }
        return 0;
}

/*
 * linux.cgroup_parent becomes a path under every cgroup mount (and the monitor's cgroup beside it):
 * no ".." may climb out of them, and no blank or control character is a kubelet's.
 */
static int validate_cgroup_parent(const char *parent, Error **reterr) {
        if (isempty(parent))
                return 0;
        for (const char *s = parent; *s; s++)
                if (blank_or_control(*s))
                        return error_set(reterr, EINVAL,
                                         "linux.cgroup_parent: contains a blank or control character");
        _cleanup_strv_free_ char **parts = strv_split(parent, '/');
        STRV_FOREACH(part, parts)
                if (strcmp(*part, "..") == 0 || strcmp(*part, ".") == 0)
                        return error_set(reterr, EINVAL, "linux.cgroup_parent: '%s' has a '%s' component",
                                         parent, *part);
        return 0;
}

int pod_config_validate(const PodConfig *c, Error **reterr) {
        if (isempty(c->name))
                return error_set(reterr, EINVAL, "metadata.name is required");
        if (isempty(c->namespace_))
                return error_set(reterr, EINVAL, "metadata.namespace is required");
        if (isempty(c->uid))
                return error_set(reterr, EINVAL, "metadata.uid is required");
        /* Kubernetes names are at most 253 bytes; the name also travels in CNI_ARGS and runtime argv. */
        const char *fields[] = {"name", "namespace", "uid"}, *values[] = {c->name, c->namespace_, c->uid};
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (strlen(values[i]) > METADATA_MAX)
                        return error_set(reterr, EINVAL, "metadata.%s: longer than %d bytes", fields[i],
                                         METADATA_MAX);
        if (c->hostname && strlen(c->hostname) > 64)
                return error_set(reterr, EINVAL, "hostname: '%s' is longer than 64 characters", c->hostname);
        /* It goes into the pod's /etc/hosts and /etc/hostname: no line breaks or blanks smuggled in. */
        for (const char *h = c->hostname; h && *h; h++)
                if (blank_or_control(*h) || *h == '/')
                        return error_set(reterr, EINVAL,
                                         "hostname: contains a blank, control character or '/'");
        int r = validate_cgroup_parent(c->cgroup_parent, reterr);
        if (r >= 0)
                r = validate_dns_words("servers", c->dns_servers, reterr);
        if (r >= 0)
                r = validate_dns_words("searches", c->dns_searches, reterr);
        if (r >= 0)
                r = validate_dns_words("options", c->dns_options, reterr);
        if (r >= 0)
                r = port_mappings_validate(c, reterr);
        if (r < 0)
                return r;
        if (!isempty(c->log_directory) && c->log_directory[0] != '/')
                return error_set(reterr, EINVAL, "log_directory: '%s' is not an absolute path",
                                 c->log_directory);
        for (size_t i = 0; i < c->sysctls.n; i++) {
                r = validate_sysctl(c, c->sysctls.keys[i], reterr);
                if (r < 0)
                        return r;
        }
        if ((c->ns.network != NS_POD && c->ns.network != NS_NODE) ||
            (c->ns.ipc != NS_POD && c->ns.ipc != NS_NODE))
                return error_set(reterr, EINVAL,
                                 "namespace_options: a pod's network and IPC namespaces are POD or NODE");
        if ((unsigned)c->ns.pid > NS_NODE)
                return error_set(reterr, EINVAL,
                                 "namespace_options.pid: a pod's PID mode is POD, CONTAINER or NODE");
        if (c->ns.user == NS_CONTAINER || (unsigned)c->ns.user >= NS_TARGET)
                return error_set(
                        reterr, EINVAL,
                        "namespace_options.userns_options.mode: a pod's user namespace is POD or NODE");
        if (c->ns.userns) {
                r = validate_idmaps("uids", c->ns.uids, c->ns.n_uids, reterr);
                if (r >= 0)
                        r = validate_idmaps("gids", c->ns.gids, c->ns.n_gids, reterr);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int write_text(const char *dir, const char *name, const char *text, Error **reterr) {
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
        if (write_file_replace(path, text, strlen(text), 0644) < 0)
                return error_set(reterr, errno, "cannot write %s: %m", path);
        return 0;
}

static char *node_hostname(void) {
        char h[256] = "";
        gethostname(h, sizeof(h) - 1);
        return xstrdup(h);
}

static char *resolv_conf_text(const PodConfig *c) {
        if (strv_isempty(c->dns_servers) && strv_isempty(c->dns_searches) && strv_isempty(c->dns_options)) {
                char *text = NULL;
                if (read_file("/etc/resolv.conf", 1 << 20, &text, NULL) >= 0)
                        return text;
                return xstrdup("");
        }
        char *s = xstrdup("");
        STRV_FOREACH(v, c->dns_searches) {
                char *n = xasprintf("%s%s %s", s, v == c->dns_searches ? "search" : "", *v);
                free(s);
                s = n;
        }
        if (!strv_isempty(c->dns_searches)) {
                char *n = xasprintf("%s\n", s);
                free(s);
                s = n;
        }
        STRV_FOREACH(v, c->dns_servers) {
                char *n = xasprintf("%snameserver %s\n", s, *v);
                free(s);
                s = n;
        }
        if (!strv_isempty(c->dns_options)) {
                _cleanup_free_ char *opts = strv_join(c->dns_options, " ");
                char *n = xasprintf("%soptions %s\n", s, opts);
                free(s);
                s = n;
        }
        return s;
}

/* /etc/hosts of the pod: the node's for host-network pods, otherwise localhost plus our own name. */
static char *hosts_text(const Pod *p, const char *hostname) {
        if (p->config->ns.network == NS_NODE) {
                char *text = NULL;
                if (read_file("/etc/hosts", 1 << 20, &text, NULL) >= 0)
                        return text;
        }
        char *s = xstrdup("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        STRV_FOREACH(ip, p->ips) {
                char *n = xasprintf("%s%s\t%s\n", s, *ip, hostname);
                free(s);
                s = n;
        }
        return s;
}

static int write_pod_files(Pod *p, Error **reterr) {
        const PodConfig *c = p->config;
        const char *hostname = c->hostname;
        _cleanup_free_ char *h = xasprintf("%s\n", hostname);
        _cleanup_free_ char *resolv = resolv_conf_text(c);
        _cleanup_free_ char *hosts = hosts_text(p, hostname);
        int r = write_text(p->dir, "hostname", h, reterr);
        if (r >= 0)
                r = write_text(p->dir, "resolv.conf", resolv, reterr);
        if (r >= 0)
                r = write_text(p->dir, "hosts", hosts, reterr);
        return r;
}

static int mount_shm(Pod *p, Error **reterr) {
        if (p->config->ns.ipc == NS_NODE)
                return 0;
        _cleanup_free_ char *shm = xasprintf("%s/shm", p->dir);
        if (mkdir(shm, 0755) < 0 && errno != EEXIST)
                return error_set(reterr, errno, "cannot create %s: %m", shm);
        if (mount("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=" SHM_SIZE) < 0)
                return error_set(reterr, errno, "cannot mount the pod's /dev/shm: %m");
        p->shm_mounted = true;
        return 0;
}

static char *idmap_text(const IdMap *m, size_t n) {
        char *s = xstrdup("");
        for (size_t i = 0; i < n; i++) {
                char *next = xasprintf("%s%s%" PRIu32 " %" PRIu32 " %" PRIu32, s, i ? "," : "",
                                       m[i].container_id, m[i].host_id, m[i].length);
                free(s);
                s = next;
        }
        return s;
}

static char **pinns_argv(Runtime *rt, const Pod *p, char *const *default_sysctls) {
        const PodConfig *c = p->config;
        char **a = NULL;
        a = strv_push(a, xstrdup(rt->paths.pinns));
        a = strv_push(a, xasprintf("--dir=%s", rt->paths.ns_dir));
        a = strv_push(a, xasprintf("--name=%s", p->id));
        if (c->ns.network != NS_NODE) {
                a = strv_push(a, xstrdup("--net"));
                a = strv_push(a, xstrdup("--uts"));
                a = strv_push(a, xasprintf("--hostname=%s", c->hostname));
        }
        if (c->ns.ipc != NS_NODE)
                a = strv_push(a, xstrdup("--ipc"));
        if (c->ns.userns) {
                _cleanup_free_ char *uids = idmap_text(c->ns.uids, c->ns.n_uids);
                _cleanup_free_ char *gids = idmap_text(c->ns.gids, c->ns.n_gids);
                a = strv_push(a, xstrdup("--user"));
                a = strv_push(a, xasprintf("--uid-map=%s", uids));
                a = strv_push(a, xasprintf("--gid-map=%s", gids));
        }
        STRV_FOREACH(s, default_sysctls) {
                _cleanup_free_ char *key = xstrndup(*s, strcspn(*s, "="));
                if (!strmap_get(&c->sysctls, key) && validate_sysctl(c, key, NULL) >= 0)
                        a = strv_push(a, xasprintf("--sysctl=%s", *s));
        }
        for (size_t i = 0; i < c->sysctls.n; i++)
                a = strv_push(a, xasprintf("--sysctl=%s=%s", c->sysctls.keys[i], c->sysctls.values[i]));
        return a;
}

static void set_ns_paths(Runtime *rt, Pod *p) {
        const PodConfig *c = p->config;
        if (c->ns.network != NS_NODE) {
                p->netns = xasprintf("%s/netns/%s", rt->paths.ns_dir, p->id);
                p->utsns = xasprintf("%s/utsns/%s", rt->paths.ns_dir, p->id);
        }
        if (c->ns.ipc != NS_NODE)
                p->ipcns = xasprintf("%s/ipcns/%s", rt->paths.ns_dir, p->id);
        if (c->ns.userns)
                p->userns = xasprintf("%s/userns/%s", rt->paths.ns_dir, p->id);
}

static int pin_namespaces(Runtime *rt, Pod *p, Error **reterr) {
        const PodConfig *c = p->config;
        if (c->ns.network == NS_NODE && c->ns.ipc == NS_NODE && !c->ns.userns)
                return 0;
        pthread_rwlock_rdlock(rt->config_lock);
        _cleanup_strv_free_ char **argv = pinns_argv(rt, p, rt->config->default_sysctls);
        pthread_rwlock_unlock(rt->config_lock);
        /* Paths are recorded before the helper runs, so a crash in between still cleans them up. */
        set_ns_paths(rt, p);
        int r = state_save_pod(rt, p, reterr);
        if (r < 0)
                return r;
        int status = 0;
        _cleanup_free_ char *out = NULL;
        r = process_run((const char *const *)argv, PINNS_TIMEOUT_MS, 65536, &status, &out, reterr);
        if (r < 0)
                return r;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                size_t n = strlen(out);
                while (n && out[n - 1] == '\n')
                        out[--n] = 0;
                /* The helper names the sysctl or namespace that failed; that is the client's field. */
                return error_set(reterr, strstr(out, "sysctl") ? EINVAL : EIO,
                                 "creating the pod's namespaces: %s", out);
        }
        return 0;
}

/* Take the pod's infra container out of the list (a reference for the caller), or NULL. */
static Container *take_infra(Runtime *rt, const Pod *p) {
        Container *c = NULL;
        pthread_mutex_lock(&rt->lock);
        for (size_t i = 0; p->infra_id && i < rt->n_ctrs && !c; i++)
                if (strcmp(rt->ctrs[i]->id, p->infra_id) == 0)
                        c = container_ref(rt->ctrs[i]);
        if (c)
                runtime_drop_container_locked(rt, c);
        pthread_mutex_unlock(&rt->lock);
        return c;
}

void pod_teardown(Runtime *rt, Pod *p) {
        _cleanup_error_ Error *err = NULL;
        /* What DEL could not release stays recorded; the pod goes regardless, as its namespace does. */
        if (network_teardown(rt, p, &err) < 0)
                log_warn("pod %s: %s", p->id, err->message);
        Container *infra = take_infra(rt, p);
        if (infra) {
                container_teardown(rt, infra, infra->claim.creating || p->claim.creating);
                state_delete_container(rt, infra->id, NULL);
                container_unref(infra);
        }
        unpin_namespace(p->netns);
        unpin_namespace(p->ipcns);
        unpin_namespace(p->utsns);
        unpin_namespace(p->userns);
        if (p->dir) {
                _cleanup_free_ char *shm = xasprintf("%s/shm", p->dir);
                umount2(shm, MNT_DETACH);
                p->shm_mounted = false;
                rm_rf(p->dir);
        }
}

void pod_infra_exited_locked(Runtime *rt, const char *pod_id) {
        int err = 0;
        Pod *p = pod_find_locked(rt, pod_id, &err);
        if (!p || p->claim.creating || p->state != POD_READY)
                return;
        log_warn("pod %s: its infra process exited; the sandbox is not ready", p->id);
        p->state = POD_NOTREADY;
        lists_changed_locked(rt);
        event_emit_locked(rt, p->id, p->id, EVENT_STOPPED);
        state_save_pod(rt, p, NULL);
}

/* k8s_POD_<name>_<namespace>_<uid>_<attempt>, the reserved name of a pod. */
static char *pod_full_name(const PodConfig *c) {
        return xasprintf("k8s_POD_%s_%s_%s_%" PRIu32, c->name, c->namespace_, c->uid, c->attempt);
}

static Pod *find_by_name_locked(Runtime *rt, const char *full_name) {
        for (size_t i = 0; i < rt->n_pods; i++)
                if (strcmp(rt->pods[i]->full_name, full_name) == 0 && !rt->pods[i]->claim.failed)
                        return rt->pods[i];
        return NULL;
}

static void *find_pod_by_name(Runtime *rt, const char *full_name) {
        return find_by_name_locked(rt, full_name);
}
static Claim *pod_claim(void *p) {
        return &((Pod *)p)->claim;
}
static const char *pod_id_of(void *p) {
        return ((Pod *)p)->id;
}
static void pod_hold(void *p) {
        pod_ref(p);
}
static void pod_release(void *p) {
        pod_unref(p);
}

static const ClaimOps pod_claims = {"pod sandbox", find_pod_by_name, pod_claim,
                                    pod_id_of,     pod_hold,         pod_release};

/* Reserve the pod's name (claim_name_locked); when it is free, the pod joins the list. */
static int reserve_locked(Runtime *rt, Pod *p, char **ret_existing, Error **reterr) {
        int r = claim_name_locked(rt, &pod_claims, p->full_name, ret_existing, reterr);
        if (r < 0 || *ret_existing)
                return r;
        rt->pods = xrealloc(rt->pods, (rt->n_pods + 1) * sizeof(Pod *));
        rt->pods[rt->n_pods++] = pod_ref(p);
        return 0;
}

static int pod_setup(Runtime *rt, Pod *p, Error **reterr) {
        p->dir = xasprintf("%s/pods/%s", rt->paths.runroot, p->id);
        int r = state_save_pod(rt, p, reterr);
        if (r < 0)
                return r;
        r = make_pod_private_dir(p, p->dir, reterr);
        if (r >= 0)
                r = mount_shm(p, reterr);
        if (r >= 0)
                r = pin_namespaces(rt, p, reterr);
        if (r >= 0)
                r = network_setup(rt, p, reterr);
        if (r >= 0)
                r = write_pod_files(p, reterr);
        if (r >= 0 && pod_needs_infra(rt, p))
                r = infra_start(rt, p, reterr);
        return r;
}

static void pod_finish_creation(Runtime *rt, Pod *p, bool ok) {
        if (!ok) {
                pod_teardown(rt, p);
                state_delete_pod(rt, p->id, NULL);
        }
        pthread_mutex_lock(&rt->lock);
        p->claim.creating = false;
        p->claim.failed = !ok;
        lists_changed_locked(rt);
        if (!ok)
                runtime_drop_pod_locked(rt, p);
        else {
                /* The sandbox's own events carry its ID, as CRI-O's infra container events do. */
                event_emit_locked(rt, p->id, p->id, EVENT_CREATED);
                event_emit_locked(rt, p->id, p->id, EVENT_STARTED);
        }
        pthread_cond_broadcast(&rt->created);
        pthread_mutex_unlock(&rt->lock);
}

/*
 * The runtime sets up a user-namespaced container from inside the namespace, where the host's
 * directories count as "others": every directory down to the daemon's run root must be searchable
 * by them, or the runtime fails with a bare "permission denied" on the rootfs.
 */
static int check_reachable_from_userns(const char *runroot, Error **reterr) {
        _cleanup_free_ char *path = xstrdup(runroot);
        for (char *end = path + strlen(path); end > path; end = strrchr(path, '/')) {
                *end = 0;
                struct stat st;
                if (stat(path, &st) < 0)
                        return error_set(reterr, errno, "cannot inspect %s: %m", path);
                if (!(st.st_mode & S_IXOTH))
                        return error_set(
                                reterr, EBUSY,
                                "namespace_options.userns_options: %s (mode %04o) is not searchable by "
                                "others, so containers in a user namespace cannot reach their root "
                                "filesystems under %s",
                                path, (unsigned)(st.st_mode & 07777), runroot);
        }
        return 0;
}

/* The handler's default_annotations join the pod's own, so annotation-driven features see them. */
static void add_default_annotations(Runtime *rt, const char *handler, PodConfig *config) {
        pthread_rwlock_rdlock(rt->config_lock);
        const RuntimeHandler *rh = config_find_runtime(rt->config, handler);
        if (rh)
                pod_annotations_add_defaults(&config->annotations, &rh->default_annotations);
        pthread_rwlock_unlock(rt->config_lock);
}

int runtime_pod_run(Runtime *rt, PodConfig *config, char **ret_id, Error **reterr) {
        int r = pod_config_validate(config, reterr);
        Handler h = {};
        if (r >= 0 && config->ns.userns)
                r = check_reachable_from_userns(rt->paths.runroot, reterr);
        if (r >= 0)
                r = runtime_handler_resolve(rt, config->runtime_handler, &h, reterr);
        if (r < 0) {
                pod_config_free(config);
                return r;
        }
        add_default_annotations(rt, h.name, config);
        /* No hostname asked for: the node's, as other runtimes do; every pod file and the UTS namespace
         * agree. */
        if (isempty(config->hostname)) {
                free(config->hostname);
                config->hostname = node_hostname();
        }
        Pod *p = xcalloc(1, sizeof(*p));
        p->refs = 1;
        pthread_mutex_init(&p->op_lock, NULL);
        p->config = config;
        p->id = random_id();
        p->full_name = pod_full_name(config);
        p->handler = TAKE_PTR(h.name);
        handler_done(&h);
        p->claim.creating = true;
        p->state = POD_READY;
        p->created_ns = realtime_ns();

        char *existing = NULL;
        pthread_mutex_lock(&rt->lock);
        r = reserve_locked(rt, p, &existing, reterr);
        pthread_mutex_unlock(&rt->lock);
        if (r < 0 || existing) {
                pod_unref(p);
                if (existing)
                        *ret_id = existing;
                return r;
        }
        r = pod_setup(rt, p, reterr);
        if (r >= 0)
                r = state_save_pod_created(rt, p, reterr);
        pod_finish_creation(rt, p, r >= 0);
        if (r >= 0)
                *ret_id = xstrdup(p->id);
        else
                error_prefix(reterr, "run pod sandbox '%s'", p->full_name);
        pod_unref(p);
        return r;
}

static int get_pod(Runtime *rt, const char *id, Pod **ret, Error **reterr) {
        int err = 0;
        pthread_mutex_lock(&rt->lock);
        Pod *p = pod_find_locked(rt, id, &err);
        if (p)
                pod_ref(p);
        pthread_mutex_unlock(&rt->lock);
        if (!p)
                return error_set(reterr, err == -EINVAL ? EINVAL : ENOENT,
                                 err == -EINVAL ? "pod sandbox ID '%s' is ambiguous"
                                                : "pod sandbox '%s' not found",
                                 id);
        *ret = p;
        return 0;
}

/*
 * Stop every container, then the infra process, then release the network. The pod is recorded not
 * ready before the network goes: a daemon killed during the DEL must not find it ready at restart with
 * its network released (a stop asked again does the DEL again).
 */
static int stop_op(Runtime *rt, Pod *p, Error **reterr) {
        int r = containers_of_pod_apply(rt, p->id, false, reterr);
        if (r < 0)
                return r;
        if (p->infra_id) {
                r = runtime_container_stop(rt, p->infra_id, 0, reterr);
                if (r < 0)
                        return r;
        }
        pthread_mutex_lock(&rt->lock);
        if (p->state != POD_NOTREADY) {
                p->state = POD_NOTREADY;
                lists_changed_locked(rt);
                event_emit_locked(rt, p->id, p->id, EVENT_STOPPED);
        }
        r = state_save_pod(rt, p, reterr);
        pthread_mutex_unlock(&rt->lock);
        return r < 0 ? r : network_teardown(rt, p, reterr);
}

int runtime_pod_stop(Runtime *rt, const char *id, Error **reterr) {
        Pod *p = NULL;
        _cleanup_error_ Error *err = NULL;
        if (get_pod(rt, id, &p, &err) < 0)
                return err->code == ENOENT ? 0 : error_propagate(reterr, TAKE_PTR(err));
        pthread_mutex_lock(&p->op_lock);
        int r = stop_op(rt, p, reterr);
        pthread_mutex_unlock(&p->op_lock);
        pod_unref(p);
        return r;
}

int runtime_pod_remove(Runtime *rt, const char *id, Error **reterr) {
        Pod *p = NULL;
        _cleanup_error_ Error *err = NULL;
        if (get_pod(rt, id, &p, &err) < 0)
                return err->code == ENOENT ? 0 : error_propagate(reterr, TAKE_PTR(err));
        pthread_mutex_lock(&p->op_lock);
        int r = stop_op(rt, p, reterr);
        if (r >= 0)
                r = containers_of_pod_apply(rt, p->id, true, reterr);
        if (r >= 0) {
                pod_teardown(rt, p);
                r = state_delete_pod(rt, p->id, reterr);
        }
        if (r >= 0) {
                pthread_mutex_lock(&rt->lock);
                event_emit_locked(rt, p->id, p->id, EVENT_DELETED);
                runtime_drop_pod_locked(rt, p);
                pthread_mutex_unlock(&rt->lock);
        }
        pthread_mutex_unlock(&p->op_lock);
        /*
         * The files of its containers (removed now or earlier) go on the teardown thread meanwhile;
         * the pod is answered for once they are gone too.
         */
        teardown_wait(rt, p->id, NULL);
        pod_unref(p);
        return r;
}

void runtime_pod_unclaimed(Runtime *rt, const char *id) {
        int err = 0;
        pthread_mutex_lock(&rt->lock);
        Pod *p = pod_find_locked(rt, id, &err);
        if (p)
                claim_mark_unclaimed(&p->claim);
        pthread_mutex_unlock(&rt->lock);
}
