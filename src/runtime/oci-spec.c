/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "json-util.h"
#include "oci-spec.h"
#include "pod-annotations.h"
#include "strv.h"

/* Linux capability numbers, in order (capability.h); the index is the number. */
static const char *const cap_names[] = {
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
};

int capability_from_name(const char *name) {
        if (strncasecmp(name, "CAP_", 4) == 0)
                name += 4;
        for (size_t i = 0; i < ELEMENTSOF(cap_names); i++)
                if (strcasecmp(name, cap_names[i]) == 0)
                        return (int)i;
        return -EINVAL;
}

const char *capability_to_name(int cap) {
        return cap >= 0 && (size_t)cap < ELEMENTSOF(cap_names) ? cap_names[cap] : NULL;
}

uint64_t capabilities_read_bounding(void) {
        FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        uint64_t set = 0;
        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "CapBnd: %" SCNx64, &set) == 1)
                        break;
        fclose(f);
        return set;
}

static void add_str(json_object *o, const char *key, const char *value) {
        json_object_object_add(o, key, json_object_new_string(value));
}

static json_object *strv_json(char *const *l) {
        json_object *a = json_object_new_array();
        STRV_FOREACH(s, l)
                json_object_array_add(a, json_object_new_string(*s));
        return a;
}

/* The kubelet's rules, as CRI documents them for ContainerConfig.command and args. */
char **oci_process_args(const ContainerConfig *ctr, const ImageRunConfig *image) {
        char **args = NULL;
        if (!strv_isempty(ctr->command))
                args = strv_copy(ctr->command);
        else
                args = strv_copy(image->entrypoint);
        char *const *rest = !strv_isempty(ctr->args) || !strv_isempty(ctr->command) ? ctr->args : image->cmd;
        STRV_FOREACH(s, rest)
                args = strv_push(args, xstrdup(*s));
        return args;
}

static void env_set(char ***env, const char *entry) {
        const char *eq = strchr(entry, '=');
        size_t klen = eq ? (size_t)(eq - entry) : strlen(entry);
        for (char **e = *env; e && *e; e++)
                if (strncmp(*e, entry, klen) == 0 && ((*e)[klen] == '=' || (*e)[klen] == 0)) {
                        free(*e);
                        *e = xstrdup(entry);
                        return;
                }
        *env = strv_push(*env, xstrdup(entry));
}

static bool env_has(char *const *env, const char *key) {
        size_t klen = strlen(key);
        STRV_FOREACH(e, env)
                if (strncmp(*e, key, klen) == 0 && (*e)[klen] == '=')
                        return true;
        return false;
}

/* Image env, then default_env, then the CRI's; PATH and HOSTNAME as every runtime provides them. */
static json_object *build_env(const SpecInput *in) {
        _cleanup_strv_free_ char **env = NULL;
        STRV_FOREACH(e, in->image->env)
                env_set(&env, *e);
        STRV_FOREACH(e, in->default_env)
                env_set(&env, *e);
        STRV_FOREACH(e, in->ctr->env)
                env_set(&env, *e);
        if (!env_has(env, "PATH"))
                env_set(&env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        if (in->ctr->tty && !env_has(env, "TERM"))
                env_set(&env, "TERM=xterm");
        if (!env_has(env, "HOSTNAME")) {
                _cleanup_free_ char *h = xasprintf("HOSTNAME=%s", strempty(in->hostname));
                env_set(&env, h);
        }
        return strv_json(env);
}

static bool has_all(char *const *names) {
        STRV_FOREACH(n, names)
                if (strcasecmp(*n, "ALL") == 0)
                        return true;
        return false;
}

static int cap_mask_apply(uint64_t *mask, char *const *names, bool add, Error **reterr) {
        STRV_FOREACH(n, names) {
                if (strcasecmp(*n, "ALL") == 0)
                        continue;
                int cap = capability_from_name(*n);
                if (cap < 0)
                        return error_set(reterr, EINVAL, "capabilities: unknown capability '%s'", *n);
                if (add)
                        *mask |= 1ULL << cap;
                else
                        *mask &= ~(1ULL << cap);
        }
        return 0;
}

/*
 * As the kubelet means them: "ALL" in add starts from every capability, "ALL" in drop from none;
 * then named drops, then named adds (so drop ALL + add NET_RAW leaves exactly NET_RAW).
 */
static int cap_mask_build(const SpecInput *in, uint64_t *ret, Error **reterr) {
        uint64_t mask = 0;
        int r = cap_mask_apply(&mask, in->default_caps, true, reterr);
        if (r < 0)
                return r;
        if (has_all(in->ctr->cap_add))
                mask = in->bounding_caps;
        if (has_all(in->ctr->cap_drop))
                mask = 0;
        r = cap_mask_apply(&mask, in->ctr->cap_drop, false, reterr);
        if (r >= 0)
                r = cap_mask_apply(&mask, in->ctr->cap_add, true, reterr);
        *ret = mask;
        return r;
}

static json_object *cap_mask_json(uint64_t mask) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < ELEMENTSOF(cap_names); i++)
                if (mask & (1ULL << i)) {
                        _cleanup_free_ char *n = xasprintf("CAP_%s", cap_names[i]);
                        json_object_array_add(a, json_object_new_string(n));
                }
        return a;
}

/*
 * Capabilities beyond the daemon's bounding set cannot be granted (runc fails to apply them), so
 * privileged and "ALL" mean the bounding set (DESIGN.md section 5: no CAP_SYS_RESOURCE here).
 */
static int build_caps(const SpecInput *in, json_object *process, Error **reterr) {
        uint64_t mask = in->bounding_caps;
        if (!in->ctr->privileged) {
                int r = cap_mask_build(in, &mask, reterr);
                if (r < 0)
                        return r;
        }
        mask &= in->bounding_caps;
        json_object *caps = json_object_new_object();
        json_object_object_add(caps, "bounding", cap_mask_json(mask));
        json_object_object_add(caps, "effective", cap_mask_json(mask));
        json_object_object_add(caps, "permitted", cap_mask_json(mask));
        /*
         * Non-root users get capabilities only through ambient ones, which the CRI does not ask for.
         * The inheritable set (CRI-O 1.26's default) lets a program with file capabilities gain them.
         */
        if (in->inheritable_caps)
                json_object_object_add(caps, "inheritable", cap_mask_json(mask));
        json_object_object_add(process, "capabilities", caps);
        return 0;
}

static const struct {
        const char *name;
        int resource;
} rlimit_names[] = {
        {"cpu", 0},       {"fsize", 1},  {"data", 2},    {"stack", 3},   {"core", 4},   {"rss", 5},
        {"nproc", 6},     {"nofile", 7}, {"memlock", 8}, {"as", 9},      {"locks", 10}, {"sigpending", 11},
        {"msgqueue", 12}, {"nice", 13},  {"rtprio", 14}, {"rttime", 15},
};

static const char *const rlimit_oci[] = {
        "RLIMIT_CPU",      "RLIMIT_FSIZE", "RLIMIT_DATA",   "RLIMIT_STACK",
        "RLIMIT_CORE",     "RLIMIT_RSS",   "RLIMIT_NPROC",  "RLIMIT_NOFILE",
        "RLIMIT_MEMLOCK",  "RLIMIT_AS",    "RLIMIT_LOCKS",  "RLIMIT_SIGPENDING",
        "RLIMIT_MSGQUEUE", "RLIMIT_NICE",  "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
};

int rlimit_from_oci_name(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(rlimit_oci); i++)
                if (strcmp(name, rlimit_oci[i]) == 0)
                        return (int)i;
        return -EINVAL;
}

/* default_ulimits entries: "nofile=1024:2048" (also "RLIMIT_NOFILE=..."). */
static int build_rlimits(const SpecInput *in, json_object *process, Error **reterr) {
        json_object *a = json_object_new_array();
        json_object_object_add(process, "rlimits", a);
        STRV_FOREACH(u, in->default_ulimits) {
                char name[32];
                uint64_t soft = 0, hard = 0;
                int n = sscanf(*u, "%31[^=]=%" SCNu64 ":%" SCNu64, name, &soft, &hard);
                if (n < 2)
                        return error_set(reterr, EINVAL, "default_ulimits: bad entry '%s'", *u);
                if (n == 2)
                        hard = soft;
                const char *key = strncasecmp(name, "RLIMIT_", 7) == 0 ? name + 7 : name;
                int res = -1;
                for (size_t i = 0; i < ELEMENTSOF(rlimit_names); i++)
                        if (strcasecmp(key, rlimit_names[i].name) == 0)
                                res = rlimit_names[i].resource;
                if (res < 0)
                        return error_set(reterr, EINVAL, "default_ulimits: unknown limit '%s'", name);
                json_object *l = json_object_new_object();
                add_str(l, "type", rlimit_oci[res]);
                json_object_object_add(l, "soft", json_object_new_uint64(soft));
                json_object_object_add(l, "hard", json_object_new_uint64(hard));
                json_object_array_add(a, l);
        }
        return 0;
}

static json_object *build_user(const SpecInput *in) {
        json_object *u = json_object_new_object();
        json_object_object_add(u, "uid", json_object_new_int64(in->uid));
        json_object_object_add(u, "gid", json_object_new_int64(in->gid));
        json_object *g = json_object_new_array();
        for (size_t i = 0; i < in->n_groups; i++)
                json_object_array_add(g, json_object_new_int64(in->groups[i]));
        json_object_object_add(u, "additionalGids", g);
        return u;
}

static int build_process(const SpecInput *in, json_object *spec, Error **reterr) {
        _cleanup_strv_free_ char **args = oci_process_args(in->ctr, in->image);
        if (strv_isempty(args))
                return error_set(reterr, EINVAL, "command: no command specified and the image has none");
        json_object *p = json_object_new_object();
        json_object_object_add(spec, "process", p);
        json_object_object_add(p, "terminal", json_object_new_boolean(in->ctr->tty));
        json_object_object_add(p, "user", build_user(in));
        json_object_object_add(p, "args", strv_json(args));
        json_object_object_add(p, "env", build_env(in));
        const char *cwd = !isempty(in->ctr->working_dir)     ? in->ctr->working_dir
                          : !isempty(in->image->working_dir) ? in->image->working_dir
                                                             : "/";
        add_str(p, "cwd", cwd);
        json_object_object_add(p, "noNewPrivileges", json_object_new_boolean(in->ctr->no_new_privs));
        int64_t oom = in->ctr->resources.oom_score_adj;
        json_object_object_add(
                p, "oomScoreAdj",
                json_object_new_int64(oom < in->min_oom_score_adj ? in->min_oom_score_adj : oom));
        if (in->apparmor_profile && !in->ctr->privileged)
                add_str(p, "apparmorProfile", in->apparmor_profile);
        int r = build_caps(in, p, reterr);
        if (r >= 0)
                r = build_rlimits(in, p, reterr);
        return r;
}

static void add_mount(json_object *mounts, const char *dest, const char *type, const char *source,
                      const char *const *options) {
        json_object *m = json_object_new_object();
        add_str(m, "destination", dest);
        add_str(m, "type", type);
        add_str(m, "source", source);
        json_object *o = json_object_new_array();
        for (; options && *options; options++)
                json_object_array_add(o, json_object_new_string(*options));
        json_object_object_add(m, "options", o);
        json_object_array_add(mounts, m);
}

static bool mounted_by_cri(const ContainerConfig *c, const char *dest) {
        for (size_t i = 0; i < c->n_mounts; i++)
                if (strcmp(c->mounts[i].container_path, dest) == 0)
                        return true;
        return false;
}

static bool rootfs_readonly(const SpecInput *in) {
        return in->ctr->readonly_rootfs || (in->read_only && !in->ctr->privileged);
}

static void add_pod_file(const SpecInput *in, json_object *mounts, const char *dest, const char *file) {
        if (mounted_by_cri(in->ctr, dest))
                return;
        _cleanup_free_ char *src = xasprintf("%s/%s", in->pod_dir, file);
        const char *ro[] = {"bind", "rprivate", rootfs_readonly(in) ? "ro" : "rw", NULL};
        add_mount(mounts, dest, "bind", src, ro);
}

static void build_system_mounts(const SpecInput *in, json_object *mounts) {
        bool priv = in->ctr->privileged;
        add_mount(mounts, "/proc", "proc", "proc", (const char *[]){"nosuid", "noexec", "nodev", NULL});
        add_mount(mounts, "/dev", "tmpfs", "tmpfs",
                  (const char *[]){"nosuid", "strictatime", "mode=755", "size=65536k", NULL});
        add_mount(mounts, "/dev/pts", "devpts", "devpts",
                  (const char *[]){"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5",
                                   NULL});
        add_mount(mounts, "/dev/mqueue", "mqueue", "mqueue",
                  (const char *[]){"nosuid", "noexec", "nodev", NULL});
        /*
         * A fresh sysfs, also with the node's network: root in the node's user namespace may mount one
         * there, and it brings none of the node's mounts below /sys (tracefs, debugfs, bpf) that a
         * recursive bind would copy in. With the node's network, two containers get the node's /sys
         * bound instead, as CRI-O does: a privileged one (node agents expect those mounts there), and
         * one in a user namespace of its own (it cannot mount sysfs in a network namespace it does not
         * own).
         */
        if (in->host_net && (in->userns || priv))
                add_mount(mounts, "/sys", "bind", "/sys",
                          (const char *[]){"rbind", "nosuid", "noexec", "nodev", priv ? "rw" : "ro", NULL});
        else
                add_mount(mounts, "/sys", "sysfs", "sysfs",
                          (const char *[]){"nosuid", "noexec", "nodev", priv ? "rw" : "ro", NULL});
        add_mount(mounts, "/sys/fs/cgroup", "cgroup", "cgroup",
                  (const char *[]){"nosuid", "noexec", "nodev", "relatime", priv ? "rw" : "ro", NULL});
        if (in->shm_path && !mounted_by_cri(in->ctr, "/dev/shm"))
                add_mount(mounts, "/dev/shm", "bind", in->shm_path,
                          (const char *[]){"rbind", "rprivate", "rw", NULL});
        add_pod_file(in, mounts, "/etc/hostname", "hostname");
        add_pod_file(in, mounts, "/etc/hosts", "hosts");
        add_pod_file(in, mounts, "/etc/resolv.conf", "resolv.conf");
}

/*
 * With read_only, the places programs expect to write get a tmpfs, seeded with what the image has
 * there (tmpcopyup). /tmp stays executable: runtimes unpack native libraries there.
 */
static void build_read_only_mounts(const SpecInput *in, json_object *mounts) {
        static const struct {
                const char *dest, *mode;
                bool noexec;
        } dirs[] = {
                {"/run", "mode=0755", true}, {"/tmp", "mode=1777", false}, {"/var/tmp", "mode=1777", false}};
        if (!in->read_only || in->ctr->privileged)
                return;
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                if (!mounted_by_cri(in->ctr, dirs[i].dest))
                        add_mount(mounts, dirs[i].dest, "tmpfs", "tmpfs",
                                  (const char *[]){"rw", "nosuid", "nodev", "tmpcopyup", dirs[i].mode,
                                                   dirs[i].noexec ? "noexec" : NULL, NULL});
}

/* The node's own: default_mounts_file's entries whose source exists, and the time zone. */
static void build_node_mounts(const SpecInput *in, json_object *mounts) {
        const char *ro[] = {"rbind", "rprivate", "nosuid", "nodev", "ro", NULL};
        for (size_t i = 0; i < in->n_default_mounts; i++) {
                const MountsFileEntry *m = &in->default_mounts[i];
                if (!mounted_by_cri(in->ctr, m->destination) && access(m->source, F_OK) == 0)
                        add_mount(mounts, m->destination, "bind", m->source, ro);
        }
        if (in->localtime && !mounted_by_cri(in->ctr, "/etc/localtime"))
                add_mount(mounts, "/etc/localtime", "bind", in->localtime, ro);
}

char *oci_mount_source(const char *bind_prefix, const char *host_path) {
        if (isempty(bind_prefix))
                return xstrdup(host_path);
        size_t n = strlen(bind_prefix);
        while (n > 0 && bind_prefix[n - 1] == '/')
                n--;
        return xasprintf("%.*s%s", (int)n, bind_prefix, host_path);
}

static const char *propagation_option(Propagation p) {
        switch (p) {
        case PROPAGATION_RSLAVE:
                return "rslave";
        case PROPAGATION_RSHARED:
                return "rshared";
        default:
                return "rprivate";
        }
}

static void build_cri_mounts(const SpecInput *in, json_object *mounts) {
        for (size_t i = 0; i < in->ctr->n_mounts; i++) {
                const MountConfig *m = &in->ctr->mounts[i];
                const char *opts[] = {"rbind", propagation_option(m->propagation), m->readonly ? "ro" : "rw",
                                      NULL};
                add_mount(mounts, m->container_path, "bind",
                          in->mount_sources ? in->mount_sources[i] : m->host_path, opts);
        }
}

/*
 * A mount's propagation only works if the root above it propagates the same way: rshared for a
 * bidirectional mount, rslave for host-to-container (runc's own default is rslave), else private.
 * Without pivot_root the old root stays below the container's, and runc refuses to make it private
 * (the container could then keep host mounts alive): no_pivot gets rslave at least.
 */
static const char *rootfs_propagation(const SpecInput *in) {
        const ContainerConfig *c = in->ctr;
        Propagation p = in->no_pivot ? PROPAGATION_RSLAVE : PROPAGATION_PRIVATE;
        for (size_t i = 0; i < c->n_mounts; i++)
                if (c->mounts[i].propagation > p)
                        p = c->mounts[i].propagation;
        return p == PROPAGATION_RSHARED ? "rshared" : p == PROPAGATION_RSLAVE ? "rslave" : "rprivate";
}

static void add_namespace(json_object *a, const char *type, const char *path) {
        json_object *ns = json_object_new_object();
        add_str(ns, "type", type);
        if (path)
                add_str(ns, "path", path);
        json_object_array_add(a, ns);
}

static json_object *build_namespaces(const SpecInput *in) {
        json_object *a = json_object_new_array();
        add_namespace(a, "mount", NULL);
        if (!in->host_net)
                add_namespace(a, "network", in->netns);
        if (!in->host_ipc)
                add_namespace(a, "ipc", in->ipcns);
        if (!in->host_pid)
                add_namespace(a, "pid", in->pidns);
        /* A pod without a UTS namespace of its own (host network) keeps the node's hostname. */
        if (in->utsns)
                add_namespace(a, "uts", in->utsns);
        if (in->userns)
                add_namespace(a, "user", in->userns);
        return a;
}

static json_object *idmaps_json(const IdMap *m, size_t n) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "containerID", json_object_new_int64(m[i].container_id));
                json_object_object_add(o, "hostID", json_object_new_int64(m[i].host_id));
                json_object_object_add(o, "size", json_object_new_int64(m[i].length));
                json_object_array_add(a, o);
        }
        return a;
}

static void add_int_if(json_object *o, const char *key, int64_t v) {
        if (v > 0)
                json_object_object_add(o, key, json_object_new_int64(v));
}

/* "0-3,5,7-9" as cpuset.cpus and cpuset.mems take it (whether the node has them is the kernel's call). */
static bool cpu_list_valid(const char *s) {
        for (;;) {
                char *end;
                if (!isdigit((unsigned char)*s))
                        return false;
                unsigned long lo = strtoul(s, &end, 10);
                s = end;
                if (*s == '-') {
                        if (!isdigit((unsigned char)s[1]))
                                return false;
                        if (strtoul(s + 1, &end, 10) < lo)
                                return false;
                        s = end;
                }
                if (!*s)
                        return true;
                if (*s++ != ',')
                        return false;
        }
}

/* A hugepage size as the kubelet names it: digits and a unit, "2MB", "1GB", "64KB". */
static bool page_size_valid(const char *s) {
        size_t digits = strspn(s, "0123456789");
        return digits > 0 && (strcmp(s + digits, "KB") == 0 || strcmp(s + digits, "MB") == 0 ||
                              strcmp(s + digits, "GB") == 0);
}

#define RANGE_ERROR(field, v, lo, hi)                                                                       \
        error_set(reterr, EINVAL, "linux.resources.%s: %" PRId64 " is outside %" PRId64 "..%" PRId64,       \
                  field, (int64_t)(v), (int64_t)(lo), (int64_t)(hi))

int resources_validate(const Resources *r, Error **reterr) {
        /* 0 is "not set" for each; the bounds are the kernel's (cpu.shares, cfs period and quota). */
        if (r->cpu_shares != 0 && (r->cpu_shares < 2 || r->cpu_shares > 262144))
                return RANGE_ERROR("cpu_shares", r->cpu_shares, 2, 262144);
        if (r->cpu_period != 0 && (r->cpu_period < 1000 || r->cpu_period > 1000000))
                return RANGE_ERROR("cpu_period", r->cpu_period, 1000, 1000000);
        if (r->cpu_quota > 0 && (r->cpu_quota < 1000 || r->cpu_quota > (INT64_MAX >> 10)))
                return RANGE_ERROR("cpu_quota", r->cpu_quota, 1000, INT64_MAX >> 10);
        if (r->oom_score_adj < -1000 || r->oom_score_adj > 1000)
                return RANGE_ERROR("oom_score_adj", r->oom_score_adj, -1000, 1000);
        if (r->memory_limit < 0)
                return RANGE_ERROR("memory_limit_in_bytes", r->memory_limit, 0, INT64_MAX);
        if (r->cpuset_cpus && !cpu_list_valid(r->cpuset_cpus))
                return error_set(reterr, EINVAL, "linux.resources.cpuset_cpus: '%.64s' is not a CPU list",
                                 r->cpuset_cpus);
        if (r->cpuset_mems && !cpu_list_valid(r->cpuset_mems))
                return error_set(reterr, EINVAL, "linux.resources.cpuset_mems: '%.64s' is not a node list",
                                 r->cpuset_mems);
        for (size_t i = 0; i < r->n_hugepages; i++)
                if (!page_size_valid(r->hugepages[i].page_size))
                        return error_set(reterr, EINVAL,
                                         "linux.resources.hugepage_limits[%zu].page_size: '%.64s' is not a "
                                         "size like 2MB",
                                         i, r->hugepages[i].page_size);
        return 0;
}

json_object *oci_resources_json(const Resources *r) {
        json_object *res = json_object_new_object();
        json_object *cpu = json_object_new_object();
        add_int_if(cpu, "shares", r->cpu_shares);
        add_int_if(cpu, "quota", r->cpu_quota);
        add_int_if(cpu, "period", r->cpu_period);
        if (!isempty(r->cpuset_cpus))
                add_str(cpu, "cpus", r->cpuset_cpus);
        if (!isempty(r->cpuset_mems))
                add_str(cpu, "mems", r->cpuset_mems);
        json_object_object_add(res, "cpu", cpu);
        json_object *mem = json_object_new_object();
        add_int_if(mem, "limit", r->memory_limit);
        add_int_if(mem, "swap", r->memory_swap_limit);
        json_object_object_add(res, "memory", mem);
        json_object *hp = json_object_new_array();
        for (size_t i = 0; i < r->n_hugepages; i++) {
                json_object *h = json_object_new_object();
                add_str(h, "pageSize", r->hugepages[i].page_size);
                json_object_object_add(h, "limit", json_object_new_uint64(r->hugepages[i].limit));
                json_object_array_add(hp, h);
        }
        json_object_object_add(res, "hugepageLimits", hp);
        if (r->unified.n) {
                json_object *u = json_object_new_object();
                for (size_t i = 0; i < r->unified.n; i++)
                        add_str(u, r->unified.keys[i], r->unified.values[i]);
                json_object_object_add(res, "unified", u);
        }
        return res;
}

static json_object *device_rule(bool allow, const char *type, int64_t major, int64_t minor,
                                const char *access) {
        json_object *d = json_object_new_object();
        json_object_object_add(d, "allow", json_object_new_boolean(allow));
        if (type)
                add_str(d, "type", type);
        if (major >= 0)
                json_object_object_add(d, "major", json_object_new_int64(major));
        if (minor >= 0)
                json_object_object_add(d, "minor", json_object_new_int64(minor));
        add_str(d, "access", access);
        return d;
}

static json_object *device_json(const char *path, const struct stat *st) {
        json_object *o = json_object_new_object();
        add_str(o, "path", path);
        add_str(o, "type", S_ISCHR(st->st_mode) ? "c" : "b");
        json_object_object_add(o, "major", json_object_new_int64(major(st->st_rdev)));
        json_object_object_add(o, "minor", json_object_new_int64(minor(st->st_rdev)));
        json_object_object_add(o, "fileMode", json_object_new_int(st->st_mode & 0777));
        json_object_object_add(o, "uid", json_object_new_int((int)st->st_uid));
        json_object_object_add(o, "gid", json_object_new_int((int)st->st_gid));
        return o;
}

/*
 * A privileged container sees the node's devices, as on every runtime: each device node under /dev
 * (not the pty, shm and mqueue mounts, which the container gets its own of), a few levels deep.
 */
static void add_host_devices(const char *dir, json_object *devs, int depth) {
        DIR *d = opendir(dir);
        for (struct dirent *de; d && (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *path = xasprintf("%s/%s", dir, de->d_name);
                struct stat st;
                if (lstat(path, &st) < 0)
                        continue;
                if (S_ISDIR(st.st_mode) && depth < 3 && strcmp(path, "/dev/pts") != 0 &&
                    strcmp(path, "/dev/shm") != 0 && strcmp(path, "/dev/mqueue") != 0)
                        add_host_devices(path, devs, depth + 1);
                else if ((S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) && strcmp(path, "/dev/console") != 0)
                        json_object_array_add(devs, device_json(path, &st));
        }
        if (d)
                closedir(d);
}

/*
 * device_ownership_from_security_context: runAsUser and runAsGroup own the device where they are
 * given and not root, as in CRI-O (root needs no ownership, and the node's group stays).
 */
static void set_device_owner(json_object *dev, const ContainerConfig *c) {
        if (c->run_as_user > 0)
                json_object_object_add(dev, "uid", json_object_new_int64(c->run_as_user));
        if (c->run_as_group > 0)
                json_object_object_add(dev, "gid", json_object_new_int64(c->run_as_group));
}

/*
 * One device node of the host, at `container_path`, allowed with `perm`; `field` names it in errors.
 * `owner` (NULL: the host's owners) is the container whose security context owns the device.
 */
static int add_device(const DeviceConfig *d, const char *field, const ContainerConfig *owner,
                      json_object *devs, json_object *rules, Error **reterr) {
        struct stat st;
        if (stat(d->host_path, &st) < 0)
                return error_set(reterr, errno == ENOENT ? ENOENT : EINVAL, "%s: host path '%s': %m", field,
                                 d->host_path);
        if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
                return error_set(reterr, EINVAL, "%s: '%s' is not a device node", field, d->host_path);
        const char *type = S_ISCHR(st.st_mode) ? "c" : "b";
        json_object *dev = device_json(d->container_path, &st);
        if (owner)
                set_device_owner(dev, owner);
        json_object_array_add(devs, dev);
        const char *perm = isempty(d->permissions) ? "rwm" : d->permissions;
        json_object_array_add(rules, device_rule(true, type, major(st.st_rdev), minor(st.st_rdev), perm));
        return 0;
}

/* Devices given as "HOST[:CONTAINER][:PERMISSIONS]" strings; `field` names where they come from. */
static int add_device_specs(char *const *specs, const char *field, json_object *devs, json_object *rules,
                            Error **reterr) {
        STRV_FOREACH(spec, specs) {
                DeviceConfig d = {};
                if (config_parse_device(*spec, &d.host_path, &d.container_path, &d.permissions) < 0)
                        return error_set(reterr, EINVAL, "%s: '%s' is not HOST[:CONTAINER][:PERMISSIONS]",
                                         field, *spec);
                int r = add_device(&d, field, NULL, devs, rules, reterr);
                free(d.host_path), free(d.container_path), free(d.permissions);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The configured additional_devices (checked at load), the pod's annotated ones, then the CRI's devices. */
static int build_devices(const SpecInput *in, json_object *linux_, json_object *rules, Error **reterr) {
        json_object *devs = json_object_new_array();
        json_object_object_add(linux_, "devices", devs);
        if (in->ctr->privileged && !in->no_host_devices)
                add_host_devices("/dev", devs, 0);
        int r = add_device_specs(in->extra_devices, "additional_devices", devs, rules, reterr);
        if (r >= 0)
                r = add_device_specs(in->pod_devices, "annotation " DEVICES_ANNOTATION, devs, rules, reterr);
        for (size_t i = 0; i < in->ctr->n_devices && r >= 0; i++)
                r = add_device(&in->ctr->devices[i], "devices", in->device_owner_from_ctx ? in->ctr : NULL,
                               devs, rules, reterr);
        return r;
}

/* Paths that expose the host or the kernel; the defaults every OCI runtime user agrees on. */
static char *const default_masked[] = {
        "/proc/acpi",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/sys/firmware",
        "/sys/devices/virtual/powercap",
        NULL,
};
static char *const default_readonly[] = {
        "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

/* Whether the process of SPEC keeps capability NAME (in its bounding set). */
static bool spec_grants(json_object *spec, const char *name) {
        json_object *process = NULL, *caps = NULL, *bounding = NULL;
        if (!json_object_object_get_ex(spec, "process", &process) ||
            !json_object_object_get_ex(process, "capabilities", &caps) ||
            !json_object_object_get_ex(caps, "bounding", &bounding))
                return false;
        for (size_t i = 0; i < json_object_array_length(bounding); i++)
                if (strcmp(json_object_get_string(json_object_array_get_idx(bounding, i)), name) == 0)
                        return true;
        return false;
}

static int build_linux(const SpecInput *in, json_object *spec, Error **reterr) {
        json_object *l = json_object_new_object();
        json_object_object_add(spec, "linux", l);
        json_object_object_add(l, "namespaces", build_namespaces(in));
        if (in->cgroups_path)
                add_str(l, "cgroupsPath", in->cgroups_path);
        add_str(l, "rootfsPropagation", rootfs_propagation(in));
        /* The runtime wants the mappings of a user namespace it joins, too. */
        if (in->userns && in->userns_maps) {
                json_object_object_add(l, "uidMappings",
                                       idmaps_json(in->userns_maps->uids, in->userns_maps->n_uids));
                json_object_object_add(l, "gidMappings",
                                       idmaps_json(in->userns_maps->gids, in->userns_maps->n_gids));
        }
        json_object *res = oci_resources_json(&in->ctr->resources);
        json_object_object_add(l, "resources", res);
        if (in->pids_limit > 0) {
                json_object *pids = json_object_new_object();
                json_object_object_add(pids, "limit", json_object_new_int64(in->pids_limit));
                json_object_object_add(res, "pids", pids);
        }
        json_object *rules = json_object_new_array();
        json_object_object_add(res, "devices", rules);
        json_object_array_add(rules, device_rule(in->ctr->privileged, NULL, -1, -1, "rwm"));
        int r = build_devices(in, l, rules, reterr);
        if (r < 0)
                return r;
        if (!in->ctr->privileged) {
                json_object_object_add(
                        l, "maskedPaths",
                        strv_json(in->ctr->has_masked_paths ? in->ctr->masked_paths : default_masked));
                json_object_object_add(
                        l, "readonlyPaths",
                        strv_json(in->ctr->has_readonly_paths ? in->ctr->readonly_paths : default_readonly));
                if (in->seccomp)
                        json_object_object_add(l, "seccomp", json_object_get(in->seccomp));
                else if (in->seccomp_default)
                        json_object_object_add(l, "seccomp",
                                               seccomp_default_profile(spec_grants(spec, "CAP_SYS_ADMIN")));
        }
        return 0;
}

json_object *oci_spec_build(const SpecInput *in, Error **reterr) {
        json_object *spec = json_object_new_object();
        add_str(spec, "ociVersion", "1.0.2");
        json_object *root = json_object_new_object();
        add_str(root, "path", in->rootfs);
        json_object_object_add(root, "readonly", json_object_new_boolean(rootfs_readonly(in)));
        json_object_object_add(spec, "root", root);
        if (in->utsns && !isempty(in->hostname))
                add_str(spec, "hostname", in->hostname);
        json_object *mounts = json_object_new_array();
        json_object_object_add(spec, "mounts", mounts);
        build_system_mounts(in, mounts);
        build_read_only_mounts(in, mounts);
        build_node_mounts(in, mounts);
        build_cri_mounts(in, mounts);
        json_object *ann = json_object_new_object();
        for (size_t i = 0; i < in->ctr->annotations.n; i++)
                add_str(ann, in->ctr->annotations.keys[i], in->ctr->annotations.values[i]);
        json_object_object_add(spec, "annotations", ann);
        int r = build_process(in, spec, reterr);
        if (r >= 0)
                r = build_linux(in, spec, reterr);
        if (r < 0)
                return json_object_put(spec), NULL;
        return spec;
}
