/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <sqlite3.h>

#include "network.h"
#include "runtime.h"

/* Internal to src/runtime/: the live objects and the pieces that act on them. */

/* The cgroupfs parent of pods whose config names none (the kubelet always names one). */
#define DEFAULT_CGROUP_PARENT "crio-c"

/*
 * Where a pod's or container's creation stands, for the one name-reservation rule both follow
 * (claim_name_locked): a name being created makes a second request wait and take the result; a
 * name created after its client gave up is handed to the next request; otherwise it is reserved.
 */
typedef struct Claim {
        bool creating;   /* still being created: invisible to lists, a retry waits for it */
        bool failed;     /* creation failed: a waiting retry starts over */
        bool unclaimed;  /* created after its client gave up: the next request of the name gets it */
        bool handed_out; /* a retry already received it */
} Claim;

typedef struct Pod {
        int refs;
        pthread_mutex_t op_lock; /* serialises lifecycle operations on this pod */
        char *id;
        char *full_name; /* k8s_POD_<name>_<namespace>_<uid>_<attempt>: the reserved name */
        PodConfig *config;
        PodState state;
        Claim claim;
        int64_t created_ns;
        char *dir;                            /* <runroot>/pods/<id> */
        char *netns, *ipcns, *utsns, *userns; /* pinned namespace files; NULL when the host's */
        bool shm_mounted;                     /* <dir>/shm is a tmpfs of ours */
        char *infra_id;                       /* the infra container, when the pod has one */
        char **ips;
        char *handler;    /* runtime handler name */
        UsageSample last; /* the sum of its containers' latest samples */
        NetIfUsage *last_net;
        size_t n_last_net;
} Pod;

typedef struct Container {
        int refs;
        pthread_mutex_t op_lock;
        char *id;
        char *full_name; /* k8s_<name>_<pod name>_<namespace>_<uid>_<attempt> */
        char *pod_id;
        ContainerConfig *config;
        bool infra;
        Claim claim;
        ContainerState state;
        bool runtime_released; /* exited and deleted from the OCI runtime (its state and cgroup gone) */
        bool monitor_foreign;  /* running when the daemon started: its conmon is not our child */
        /* A stop waiting out the grace period waits until then (monotonic ns); a later, shorter stop or
           a removal brings it forward (the kubelet's force kill). 0: no stop is waiting. */
        int64_t stop_deadline_ns;
        int64_t created_ns, started_ns, finished_ns;
        int32_t exit_code;
        char *reason, *message;
        int pid;
        char *image_id, *image_ref;
        char *bundle;   /* <runroot>/containers/<id>: config.json, pid files, ctl fifo */
        char *rootfs;   /* <bundle>/rootfs, the overlay mount point */
        char *layer;    /* <root>/containers/<id>: overlay upper and work dirs */
        char *log_path; /* absolute */
        char *stop_signal;
        char *handler;
        char *cgroup;         /* from a hierarchy's root: "/parent/crio-<id>", "/x.slice/crio-<id>.scope" */
        char *monitor_cgroup; /* monitor_cgroup = "pod": conmon's, "/parent/crio-conmon-<id>"; else NULL */
        /* conmon spawned at creation, waiting for its start byte until StartContainer; NULL once started,
           stopped or removed, and after a daemon restart. The container's op_lock guards it. */
        struct Monitor *waiting_monitor;
        UsageSample last;        /* the latest stats sample: usage_nano_cores and the sampler's cache */
        int64_t layer_walked_ns; /* CLOCK_MONOTONIC of the last writable-layer walk; 0: never */
        int64_t layer_walked_at; /* the same instant, CLOCK_REALTIME, for answers */
        uint64_t layer_bytes, layer_inodes;
        int64_t uid, gid;
        int64_t *groups;
        size_t n_groups;
} Container;

/* What the runtime took from the config at start; handler details are read per call. */
typedef struct RuntimePaths {
        char *root, *runroot;
        char *exits_dir, *attach_dir, *ns_dir;
        char *pinns, *pause, *nsexec;
        char *log_dir; /* daemon's log dir for pods without one (unused by the CRI path) */
} RuntimePaths;

/* Sealed in-memory copies of runtime binaries (sealed-binary.c). */
typedef struct SealedBinary {
        char *path;
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime;
        int fd;
} SealedBinary;

typedef struct SealedBinaries {
        pthread_mutex_t lock;
        SealedBinary *items;
        size_t n;
} SealedBinaries;

/*
 * A new fd (caller closes) holding a sealed copy of the binary at path, made once and again when the file
 * changes; -errno when it cannot be made (callers then run the path). Blocks while copying.
 */
int sealed_binary_fd(SealedBinaries *c, const char *path);
void sealed_binaries_done(SealedBinaries *c);

struct Runtime {
        const Config *config;
        pthread_rwlock_t *config_lock;
        ImageService *images;
        RuntimePaths paths;

        sqlite3 *db;
        pthread_mutex_t db_lock;

        pthread_mutex_t lock;   /* the lists and every object's state fields */
        uint64_t list_gen;      /* lists_changed_locked(); read with runtime_lists_generation() */
        pthread_cond_t created; /* a creation finished or failed */
        pthread_cond_t exited;  /* a container was marked exited, a stop hurried, or shutting_down set */
        bool shutting_down;     /* stops still waiting give up (the container keeps running) */
        Pod **pods;
        size_t n_pods;
        Container **ctrs;
        size_t n_ctrs;

        NetworkManager *network; /* CNI */
        SealedBinaries sealed;   /* runtime binaries for the exec path */
        char *pod_cidr;          /* from UpdateRuntimeConfig (rt->lock) */

        MetricFamily *oom_total, *oom_count, *monitor_lost; /* NULL without metrics */

        /* Lifecycle events for GetContainerEvents (events.c); their own lock, taken inside rt->lock. */
        pthread_mutex_t events_lock;
        pthread_cond_t events_cond;
        RuntimeEvent **events;
        size_t n_events;
        bool events_enabled; /* enable_pod_events: events are kept from the start, until a sink takes them */
        RuntimeEventSink event_sink;
        void *event_sink_data;
        MetricFamily *events_dropped;
        pthread_t events_thread;
        bool events_started, events_stop;

        pthread_t sampler_thread; /* [crio.stats] collection_period > 0 */
        pthread_cond_t sampler_wake;
        bool sampler_started, sampler_stop;

        pthread_t exit_thread;
        int inotify_fd;
        int stop_fd;        /* eventfd that stops the exit watcher */
        int orphan_pipe[2]; /* the reaper's OrphanExit records, read by the exit watcher */
        bool exit_thread_started;

        /* Files of removed containers, deleted after RemoveContainer answered (teardown.c). */
        struct {
                pthread_mutex_t lock;
                pthread_cond_t wake, done;
                struct Pending *head, *tail;
                pthread_t thread;
                bool started, stop;
        } teardown;
};

/* The resolved runtime handler for a call. */
typedef struct Handler {
        char *name, *path, *root, *monitor, **monitor_env;
        bool systemd_cgroup; /* cgroup_manager = "systemd": the runtime and conmon manage cgroups through it
                              */
        bool no_sync_log;    /* conmon skips the fsync of the log at rotation and exit */
        int64_t create_timeout_ms; /* container_create_timeout, at least 30 s */
        int64_t min_memory;        /* container_min_memory in bytes: smaller limits are refused */
        bool monitor_in_pod;       /* monitor_cgroup = "pod" with cgroupfs: conmon joins the pod's cgroup */
} Handler;
void handler_done(Handler *h);
/* A memory limit (0: none) under the handler's container_min_memory is -EINVAL naming `field`. */
int handler_check_memory(const Handler *h, int64_t limit, const char *field, Error **reterr);
int runtime_handler_resolve(Runtime *rt, const char *name, Handler *ret, Error **reterr);

/* Object lifetime (rt->lock protects the lists; references keep an object alive outside it). */
Pod *pod_ref(Pod *p);
void pod_unref(Pod *p);
Container *container_ref(Container *c);
void container_unref(Container *c);
/* Look a container up (full ID or unique prefix) and take a reference; -ENOENT or -EINVAL (ambiguous). */
int container_get(Runtime *rt, const char *id, bool with_infra, Container **ret, Error **reterr);
Pod *pod_find_locked(Runtime *rt, const char *id_or_prefix, int *ret_err);
Container *container_find_locked(Runtime *rt, const char *id_or_prefix, int *ret_err);
void runtime_drop_pod_locked(Runtime *rt, Pod *p);
/*
 * Something ListPodSandbox or ListContainers answers with changed (an object listed, unlisted, or its
 * state): called with rt->lock held, in the same critical section as the change.
 */
static inline void lists_changed_locked(Runtime *rt) {
        __atomic_add_fetch(&rt->list_gen, 1, __ATOMIC_RELEASE);
}
void runtime_drop_container_locked(Runtime *rt, Container *c);
char *random_id(void);

/* How claim_name_locked() sees one kind of object. */
typedef struct ClaimOps {
        const char *kind;                                         /* "pod sandbox", "container" */
        void *(*find_locked)(Runtime *rt, const char *full_name); /* not failed */
        Claim *(*claim_of)(void *obj);
        const char *(*id_of)(void *obj);
        void (*hold)(void *obj);
        void (*release)(void *obj);
} ClaimOps;

/*
 * Reserve `full_name` (rt->lock held; may wait on rt->created). 0 with *ret_existing NULL: the name
 * is free and the caller adds its object; 0 with *ret_existing: answer with that object; -EEXIST.
 */
int claim_name_locked(Runtime *rt, const ClaimOps *ops, const char *full_name, char **ret_existing,
                      Error **reterr);
/* The client of a creation gave up (see runtime_pod_unclaimed()). */
void claim_mark_unclaimed(Claim *c);

/* State rows (runtime-state.c). Written through before an RPC answers. */
int state_open(Runtime *rt, Error **reterr);
void state_close(Runtime *rt);
int state_save_pod(Runtime *rt, const Pod *p, Error **reterr);
/* The row of an object whose creation just finished (its `creating` flag is cleared under the lock after).
 */
int state_save_pod_created(Runtime *rt, const Pod *p, Error **reterr);
int state_save_container_created(Runtime *rt, const Container *c, Error **reterr);
int state_delete_pod(Runtime *rt, const char *id, Error **reterr);
int state_save_container(Runtime *rt, const Container *c, Error **reterr);
int state_delete_container(Runtime *rt, const char *id, Error **reterr);
/* Load every row into rt->pods / rt->ctrs (half-made ones come back with creating set). */
int state_load(Runtime *rt, Error **reterr);

/* Pod pieces (pod.c). */
void pod_teardown(Runtime *rt, Pod *p);
/*
 * The pod's infra process exited: it held the pod's PID namespace, so the sandbox is not ready any
 * more (as on CRI-O and containerd; the kubelet then makes a new one). rt->lock held.
 */
void pod_infra_exited_locked(Runtime *rt, const char *pod_id);
/* The longest metadata name, namespace or uid taken: Kubernetes' own bound on names. */
#define METADATA_MAX 253
int pod_config_validate(const PodConfig *c, Error **reterr);
bool pod_needs_infra(Runtime *rt, const Pod *p);
int infra_start(Runtime *rt, Pod *p, Error **reterr);
/* Stop (or remove) every container of a pod but its infra process. */
int containers_of_pod_apply(Runtime *rt, const char *pod_id, bool remove, Error **reterr);
/* Container pieces (container.c). */
void container_teardown(Runtime *rt, Container *c, bool half_made);
/* The file part of a teardown: rootfs unmount, bundle, writable layer, exit file, attach dir. */
void container_teardown_files(Runtime *rt, Container *c);
/*
 * For a created container whose start a daemon restart cut short: kill and delete what its monitor and
 * runtime made, so that it can be started afresh. False when there was nothing.
 */
bool container_undo_start(Runtime *rt, Container *c);

/*
 * Deferred file teardown of removed containers (teardown.c). teardown_enqueue() takes a reference;
 * teardown_wait() blocks until no queued container matches the pod and/or image (NULL: any);
 * teardown_done() finishes the queue and stops its thread; teardown_sweep_orphans() removes, at
 * start-up, the directories of containers that have no state row (a daemon killed before its queue
 * ran). None of them takes rt->lock, so none may be called with it held, but the sweep.
 */
void teardown_init(Runtime *rt);
void teardown_enqueue(Runtime *rt, Container *c);
void teardown_wait(Runtime *rt, const char *pod_id, const char *image_id);
void teardown_done(Runtime *rt);
void teardown_sweep_orphans(Runtime *rt);
/* Read the exit file of a container, if there is one: updates state. Call with rt->lock held. */
bool container_check_exit_locked(Runtime *rt, Container *c);
/*
 * Record an exit nobody saw (the monitor died with the container): EXITED, reason Completed or Error
 * by the code, `message`;
 * `count` it in containers_stopped_monitor_count. Wakes stops waiting for the exit.
 */
void container_mark_lost_locked(Runtime *rt, Container *c, int32_t exit_code, const char *message,
                                bool count);
/*
 * At start-up, after the exit files were read (boot-recovery.c): containers whose processes are gone
 * are marked exited, pods whose namespaces or files are gone not ready; after a node restart
 * (version_file absent) with internal_wipe, such pods are removed. Then version_file is written.
 */
void boot_recovery(Runtime *rt);
/*
 * The pid of the container's monitor, from conmon's pid file, while that process runs and its command
 * line names the container (a reused pid does not); else 0.
 */
int container_monitor_pid(const Container *c);
/*
 * Neither the container's monitor nor its init process runs (reads /proc; the caller holds op_lock
 * or is alone, and checks the state itself).
 */
bool container_processes_gone(const Container *c);
void container_release_exited(Runtime *rt, Container *c);

/* conmon and OCI runtime calls (oci.c). A container's monitor is spawned first, then started. */
typedef struct Monitor {
        pid_t pid; /* conmon's first process, until it exits */
        int sync_fd, start_fd;
        int64_t create_timeout_ms; /* how long `runtime create` may take before the create fails */
} Monitor;
int oci_monitor_spawn(Runtime *rt, const Container *c, const Handler *h, Monitor *ret, Error **reterr);
int oci_monitor_start(Monitor *m, int *ret_pid, Error **reterr);
void oci_monitor_abort(Monitor *m);
/* A container's waiting monitor (if any) killed and forgotten. */
void container_drop_waiting_monitor(Container *c);
int oci_start(Runtime *rt, const Container *c, const Handler *h, Error **reterr);
/* `runtime <verb> <id>` (start, pause, resume). */
int oci_simple(Runtime *rt, const Container *c, const Handler *h, const char *verb, Error **reterr);
int oci_kill(Runtime *rt, const Container *c, const Handler *h, int sig, bool all, Error **reterr);
int oci_delete(Runtime *rt, const Container *c, const Handler *h, Error **reterr);
int oci_update(Runtime *rt, const Container *c, const Handler *h, const char *resources_json,
               Error **reterr);
int oci_exec_sync(Runtime *rt, Container *c, const Handler *h, char *const *argv, int64_t timeout_s,
                  ExecResult *ret, Error **reterr);

/* One command to start in a running container (exec-helper.c). */
typedef struct ExecLaunch {
        char *const *argv;
        bool tty;
        uint16_t width, height; /* the terminal's size; 0: unknown */
        int in, out, err;       /* the command's stdio (-1: /dev/null); with tty, err only carries errors */
} ExecLaunch;
/*
 * Start the command in the container through crio-nsexec (runc exec's work in a small helper of ours;
 * docs/helpers.md). 0: it runs as *ret_target, which the caller adopts; with tty, *ret_console is a
 * socket holding the terminal's master (else -1). > 0: it could not start: the exit code (126 not
 * executable, 127 not found, 255 otherwise), with the reason written to l->err. -EOPNOTSUPP: the
 * container needs the runtime's own exec (reterr says why); other -errno with reterr. Blocks.
 */
int exec_helper_start(Runtime *rt, Container *c, const ExecLaunch *l, pid_t *ret_target, int *ret_console,
                      Error **reterr);
/* As exec_helper_start(), returning -EOPNOTSUPP without a message after logging why (at debug). */
int exec_helper_try(Runtime *rt, Container *c, const ExecLaunch *l, pid_t *ret_target, int *ret_console,
                    Error **reterr);
/* SIGKILL a process and every descendant, children first (exec.c). */
void exec_kill_tree(pid_t pid, int depth);
/* Is the container running (its exit file read first)? Takes rt->lock. */
bool container_is_running(Runtime *rt, Container *c);
/*
 * The container an exec runs in (a reference) and its handler: it must exist and be running, and argv
 * must name a command. -errno with the client's message otherwise.
 */
int exec_target_get(Runtime *rt, const char *id, char *const *argv, Container **ret, Handler *ret_handler,
                    Error **reterr);

/* Exit watcher (exit-watch.c). */
int exit_watch_start(Runtime *rt, Error **reterr);
void exit_watch_stop(Runtime *rt);

/* Snapshots for answers (runtime-query.c); rt->lock held. */
PodInfo *pod_snapshot(const Pod *p);
ContainerInfo *container_brief(const Container *c);    /* identity, image, state, labels, annotations */
ContainerInfo *container_snapshot(const Container *c); /* everything ContainerStatus reports */

/*
 * Lifecycle events (events.c). rt->lock held: the pod's and its containers' statuses are copied now,
 * in the order the changes happened, and handed to the sink by the events thread. Free without a sink.
 * `id` is a container's or, for the sandbox's own events, the pod's.
 */
void event_emit_locked(Runtime *rt, const char *id, const char *pod_id, RuntimeEventType type);
void events_start(Runtime *rt);
void events_stop(Runtime *rt);

/*
 * A container's stats (stats.c): sampled now when `force` or when the sampler's latest sample is
 * stale, otherwise that sample. Takes ownership of `info`. Reads cgroup files outside rt->lock.
 */
ContainerStatsInfo *stats_sample_container(Runtime *rt, Container *c, ContainerInfo *info, bool force);
/* The effective [crio.stats] collection period in ns; 0 samples on demand. */
int64_t stats_period_ns(Runtime *rt);
int64_t stats_now_ns(void);

/* Sample every pod and its containers now, keeping the samples for the RPCs (pod-stats.c). */
void stats_sample_all(Runtime *rt);
/* Stats sampler (stats.c): started when collection_period > 0. */
void stats_sampler_start(Runtime *rt);
void stats_sampler_stop(Runtime *rt);

/* Mounts and pinned namespaces (mounts.c). */
int overlay_mount(Runtime *rt, Container *c, char *const *layer_dirs, const Pod *p, Error **reterr);
int64_t idmap_to_host(const IdMap *maps, size_t n, uint32_t id);
void overlay_unmount(Container *c);
/* mkdir -p of `path` inside a container's root, resolving every component under the root. */
int mkdir_in_root(const char *rootfs, const char *path, uid_t uid, gid_t gid, Error **reterr);
/* The host IDs of the root of a pod's user namespace; -1 each without one (or unmapped). */
void pod_root_owner(const Pod *p, uid_t *uid, gid_t *gid);
/* mkdir DIR 0700, owned by the pod's root when the pod has a user namespace (else by root). */
int make_pod_private_dir(const Pod *p, const char *dir, Error **reterr);
void unpin_namespace(const char *path);
