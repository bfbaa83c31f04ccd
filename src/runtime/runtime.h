/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "image-service.h"
#include "metrics.h"
#include "stats-parse.h"

/*
 * Pods and containers, run by an OCI runtime under one conmon per container (docs/runtime.md).
 * The engine works on the structs below; src/server/ translates CRI messages to and from them.
 */

typedef enum NamespaceMode {
        NS_POD = 0, /* shared by the pod */
        NS_CONTAINER = 1,
        NS_NODE = 2,
        NS_TARGET = 3,
} NamespaceMode;

typedef struct IdMap {
        uint32_t container_id, host_id, length;
} IdMap;

typedef struct NamespaceConfig {
        NamespaceMode network, pid, ipc;
        char *target_id;
        NamespaceMode user; /* the user namespace mode asked for; only POD and NODE are valid */
        bool userns;        /* userns mode POD with the mappings below */
        IdMap *uids, *gids;
        size_t n_uids, n_gids;
} NamespaceConfig;

typedef enum PortProtocol { PORT_TCP = 0, PORT_UDP = 1, PORT_SCTP = 2 } PortProtocol;

/* A host port forwarded to a port of the pod (CRI PortMapping). */
typedef struct PortMapping {
        PortProtocol protocol;
        int32_t container_port, host_port;
        char *host_ip; /* NULL: every address */
} PortMapping;

typedef struct PodConfig {
        char *name, *uid, *namespace_;
        uint32_t attempt;
        char *hostname;
        char *log_directory;
        char **dns_servers, **dns_searches, **dns_options;
        StrMap labels, annotations, sysctls;
        char *cgroup_parent;
        NamespaceConfig ns;
        bool privileged;
        char *runtime_handler; /* "" for the default */
        PortMapping *port_mappings;
        size_t n_port_mappings;
} PodConfig;

typedef enum Propagation { PROPAGATION_PRIVATE, PROPAGATION_RSLAVE, PROPAGATION_RSHARED } Propagation;

typedef struct MountConfig {
        char *container_path, *host_path;
        bool readonly;
        Propagation propagation;
} MountConfig;

typedef struct DeviceConfig {
        char *container_path, *host_path, *permissions;
} DeviceConfig;

typedef struct HugepageLimit {
        char *page_size;
        uint64_t limit;
} HugepageLimit;

typedef struct Resources {
        int64_t cpu_period, cpu_quota, cpu_shares, memory_limit, memory_swap_limit, oom_score_adj;
        char *cpuset_cpus, *cpuset_mems;
        HugepageLimit *hugepages;
        size_t n_hugepages;
        StrMap unified;
} Resources;

typedef enum SeccompKind { SECCOMP_RUNTIME_DEFAULT, SECCOMP_UNCONFINED, SECCOMP_LOCALHOST } SeccompKind;

typedef struct ContainerConfig {
        char *name;
        uint32_t attempt;
        char *image; /* as the client named it */
        char **command, **args;
        char *working_dir;
        char **env; /* "KEY=VALUE" */
        MountConfig *mounts;
        size_t n_mounts;
        DeviceConfig *devices;
        size_t n_devices;
        char **cdi_devices; /* CDI_devices: "vendor.com/class=name" */
        StrMap labels, annotations;
        char *log_path; /* relative to the pod's log directory */
        bool stdin_, stdin_once, tty;
        Resources resources;
        char **cap_add, **cap_drop;
        bool privileged, no_new_privs, readonly_rootfs;
        NamespaceConfig ns;
        int64_t run_as_user, run_as_group; /* -1: not set */
        char *run_as_username;
        int64_t *supplemental_groups;
        size_t n_supplemental_groups;
        char **masked_paths, **readonly_paths; /* NULL: defaults */
        bool has_masked_paths, has_readonly_paths;
        SeccompKind seccomp;
        char *seccomp_path; /* Localhost profile */
        char *apparmor_profile;
} ContainerConfig;

PodConfig *pod_config_free(PodConfig *c);
ContainerConfig *container_config_free(ContainerConfig *c);
void resources_done(Resources *r);
void namespace_config_done(NamespaceConfig *n);
void strmap_done(StrMap *m);
void strmap_add(StrMap *m, const char *key, const char *value);
const char *strmap_get(const StrMap *m, const char *key);

typedef enum PodState { POD_READY, POD_NOTREADY } PodState;
typedef enum ContainerState {
        CONTAINER_CREATED,
        CONTAINER_RUNNING,
        CONTAINER_EXITED,
        CONTAINER_UNKNOWN,
} ContainerState;

/* A snapshot of a pod for status and list answers; caller frees with pod_info_free(). */
typedef struct PodInfo {
        char *id;
        char *name, *uid, *namespace_;
        uint32_t attempt;
        PodState state;
        int64_t created_ns;
        StrMap labels, annotations;
        char *runtime_handler;
        char *netns_path; /* "" with host network */
        NamespaceMode network, pid, ipc;
        char **ips;
        bool userns; /* a pod user namespace with these mappings */
        IdMap *uids, *gids;
        size_t n_uids, n_gids;
} PodInfo;

typedef struct ContainerInfo {
        char *id, *pod_id;
        char *name;
        uint32_t attempt;
        ContainerState state;
        int64_t created_ns, started_ns, finished_ns;
        int32_t exit_code;
        char *reason, *message;
        char *image, *image_id, *image_ref;
        char *log_path; /* absolute */
        char *rootfs;
        int pid;
        StrMap labels, annotations;
        MountConfig *mounts;
        size_t n_mounts;
        Resources resources;
        int64_t uid, gid;
        int64_t *groups;
        size_t n_groups;
} ContainerInfo;

PodInfo *pod_info_free(PodInfo *p);
void pod_info_freep(PodInfo **p);
#define _cleanup_pod_info_ _cleanup_(pod_info_freep)
ContainerInfo *container_info_free(ContainerInfo *c);
void container_info_freep(ContainerInfo **c);
#define _cleanup_container_info_ _cleanup_(container_info_freep)

typedef struct Runtime Runtime;

/*
 * Open the runtime: create its directories, open its tables in the store's database, rebuild pods
 * and containers from them (finishing or undoing what a killed daemon left half-made, reading exit
 * files of containers that exited meanwhile) and start watching exits. `metrics` (NULL: none) gets the
 * runtime's families (OOM kills). `config` and its lock are the
 * daemon's; the runtime reads them under the lock. Blocks on I/O.
 */
int runtime_new(const Config *config, pthread_rwlock_t *config_lock, ImageService *images, Metrics *metrics,
                Runtime **ret, Error **reterr);
/*
 * CRI-O's reboot test: version_file lives on a tmpfs, so its absence means the node restarted since a
 * daemon last started (or that none ever did). "" turns the test off. runtime_new() writes the file.
 */
bool runtime_node_restarted(const Config *c);
/* Write version_file ("" : nothing); failures only warn. `crio wipe` writes it once it is done. */
void runtime_write_version_file(const char *path);
/* Stop watching and free the in-memory view; containers keep running under their monitors. */
Runtime *runtime_free(Runtime *rt);

/* RunPodSandbox: takes ownership of `config`. *ret_id is the new (or, for a retry, existing) pod. */
int runtime_pod_run(Runtime *rt, PodConfig *config, char **ret_id, Error **reterr);
int runtime_pod_stop(Runtime *rt, const char *id, Error **reterr);
int runtime_pod_remove(Runtime *rt, const char *id, Error **reterr);
/* Lookup by full ID or unique prefix. -ENOENT when absent. */
int runtime_pod_info(Runtime *rt, const char *id, PodInfo **ret, Error **reterr);
/*
 * The daemon is stopping: stops still waiting out a grace period give up (their containers keep
 * running, the kubelet asks again) and so do ExecSync waits, so that no client-chosen timeout holds the
 * shutdown.
 */
void runtime_begin_shutdown(Runtime *rt);
/* The pid of the pod's running infra process (pods sharing one PID namespace), else 0. */
int runtime_pod_infra_pid(Runtime *rt, const char *pod_id);
/* Every pod, in creation order. Never blocks on the runtime or disk. */
void runtime_pod_list(Runtime *rt, PodInfo ***ret, size_t *ret_n);
/*
 * A number that changes whenever runtime_pod_list() or runtime_container_list() would answer
 * differently (an object appears or goes, or its state changes). Read it before taking a list: an
 * answer kept for it stays right for as long as it stays the same.
 */
uint64_t runtime_lists_generation(Runtime *rt);

/*
 * The client that asked for this pod (container) gave up before the answer came: the next request
 * for the same name (a kubelet's retry) gets this object instead of a "name is reserved" error.
 */
void runtime_pod_unclaimed(Runtime *rt, const char *id);
void runtime_container_unclaimed(Runtime *rt, const char *id);

/* CreateContainer: takes ownership of `config`. */
int runtime_container_create(Runtime *rt, const char *pod_id, ContainerConfig *config, char **ret_id,
                             Error **reterr);
int runtime_container_start(Runtime *rt, const char *id, Error **reterr);
/* timeout_s: seconds between the stop signal and SIGKILL (0: kill at once). */
int runtime_container_stop(Runtime *rt, const char *id, int64_t timeout_s, Error **reterr);
int runtime_container_remove(Runtime *rt, const char *id, Error **reterr);
int runtime_container_info(Runtime *rt, const char *id, ContainerInfo **ret, Error **reterr);
/* Every container (not infra processes), brief: identity, image, state, labels, annotations. */
void runtime_container_list(Runtime *rt, ContainerInfo ***ret, size_t *ret_n);
/* The OCI spec the container runs with (config.json), for verbose status. Caller frees. */
int runtime_container_spec(Runtime *rt, const char *id, char **ret_json, Error **reterr);
int runtime_container_update(Runtime *rt, const char *id, const Resources *res, Error **reterr);
int runtime_container_reopen_log(Runtime *rt, const char *id, Error **reterr);
/* Freeze (pause) or thaw a running container's processes through the runtime. */
int runtime_container_pause(Runtime *rt, const char *id, bool pause, Error **reterr);

typedef struct ExecResult {
        char *out, *err;
        size_t out_len, err_len;
        int32_t exit_code;
} ExecResult;
void exec_result_done(ExecResult *r);

/* ExecSync: run argv in the container; timeout_s 0 means none. -ETIMEDOUT kills the process tree. */
int runtime_container_exec_sync(Runtime *rt, const char *id, char *const *argv, int64_t timeout_s,
                                ExecResult *ret, Error **reterr);

/*
 * Streaming exec (exec-stream.c): start argv in the container with pipes, or a terminal when tty, and hand
 * back the client's ends. The process runs detached from the runtime and is adopted by the daemon.
 */
typedef struct ExecProcess ExecProcess;
typedef struct ExecIo {
        int stdin_fd;  /* -1 without stdin; with tty a second descriptor of the terminal */
        int stdout_fd; /* the terminal with tty; -1 without stdout */
        int stderr_fd; /* -1 with tty; always a pipe otherwise (read and dropped when not wanted) */
        int exit_fd;   /* a pidfd: readable once the process exited */
} ExecIo;
typedef struct ExecOptions {
        bool tty, want_stdin, want_stdout;
        uint16_t width, height; /* the terminal's first size; 0: not known yet */
} ExecOptions;
int runtime_container_exec_start(Runtime *rt, const char *id, char *const *argv, const ExecOptions *o,
                                 ExecProcess **ret, ExecIo *ret_io, Error **reterr);
/* Set the terminal size (columns, rows); -ENOTTY without a terminal. */
int exec_process_resize(ExecProcess *p, uint16_t width, uint16_t height);
/* Kill the process tree if asked, wait for the process (blocks) and free p. 0 with its exit code, or -errno.
 */
int exec_process_finish(ExecProcess *p, bool kill, int *ret_exit_code);

/*
 * Attach: connect to the container's conmon attach socket (SOCK_SEQPACKET, output packets prefixed with
 * the stream byte) and open its ctl fifo for resizes. The container must be running.
 */
int runtime_container_attach(Runtime *rt, const char *id, int *ret_socket, int *ret_ctl, bool *ret_tty,
                             Error **reterr);

/*
 * A container's resource usage: sampled now, or with [crio.stats] collection_period > 0 the background
 * sampler's latest sample. Absent parts (an exited container has no cgroup) have their has_* unset.
 */
typedef struct ContainerStatsInfo {
        ContainerInfo *info; /* id, metadata, labels, annotations */
        UsageSample usage;
        bool has_layer;
        int64_t layer_timestamp;
        uint64_t layer_bytes, layer_inodes; /* refreshed at most every STATS_LAYER_REFRESH_S */
        char *layer_mountpoint;
        /* The limits the container runs with (its resources now; 0: not set), for cAdvisor's spec_*. */
        int64_t spec_cpu_period, spec_cpu_quota, spec_cpu_shares, spec_memory_limit, spec_memory_swap_limit;
} ContainerStatsInfo;

/* A pod's usage: the sum of its containers' (its infra process included) and its network namespace. */
typedef struct PodStatsInfo {
        PodInfo *info;
        UsageSample usage;
        bool has_network; /* not for pods on the host's network */
        int64_t net_timestamp;
        NetIfUsage *ifaces;
        size_t n_ifaces;
        ContainerStatsInfo **ctrs; /* its containers, without the infra process */
        size_t n_ctrs;
} PodStatsInfo;

/* Seconds between walks of a writable layer for its bytes and inodes when sampling on demand. */
#define STATS_LAYER_REFRESH_S 10

ContainerStatsInfo *container_stats_info_free(ContainerStatsInfo *s);
PodStatsInfo *pod_stats_info_free(PodStatsInfo *s);
/* -ENOENT for unknown IDs. Reads cgroup files (and at most once per refresh period walks the layer). */
int runtime_container_stats(Runtime *rt, const char *id, ContainerStatsInfo **ret, Error **reterr);
/* Every container's stats. */
void runtime_container_stats_list(Runtime *rt, ContainerStatsInfo ***ret, size_t *ret_n);
/* A pod's stats; -ENOENT for unknown IDs. May start a short-lived thread that enters the pod's netns. */
int runtime_pod_stats(Runtime *rt, const char *id, PodStatsInfo **ret, Error **reterr);
void runtime_pod_stats_list(Runtime *rt, PodStatsInfo ***ret, size_t *ret_n);

typedef enum RuntimeEventType {
        EVENT_CREATED,
        EVENT_STARTED,
        EVENT_STOPPED,
        EVENT_DELETED,
} RuntimeEventType;

/* A lifecycle event with the statuses at the time it happened. */
typedef struct RuntimeEvent {
        RuntimeEventType type;
        char *id; /* the container's, or the pod's for the sandbox's own events */
        int64_t created_at;
        PodInfo *pod;
        ContainerInfo **containers; /* every container of the pod (not its infra process) */
        size_t n_containers;
} RuntimeEvent;

/*
 * Receive every lifecycle event, in order, on the runtime's events thread (the sink must not block).
 * Events are collected with enable_pod_events only, from the runtime's start (exits found while
 * loading the state included) and kept until a sink is set. `sink` NULL stops.
 */
typedef void (*RuntimeEventSink)(void *userdata, const RuntimeEvent *ev);
void runtime_set_event_sink(Runtime *rt, RuntimeEventSink sink, void *userdata);
/* Count an event a subscriber's queue had no room for (containers_events_dropped_total). */
void runtime_event_dropped(Runtime *rt);

/*
 * Is an image in use by a container (RemoveImage answers FAILED_PRECONDITION then)? Waits first for
 * removed containers whose rootfs on the image is still being unmounted (milliseconds).
 */
bool runtime_image_in_use(Runtime *rt, const char *image_id);

/* NetworkReady: whether pods can get a network now; when not, *ret_message says why (caller frees). */
bool runtime_network_ready(Runtime *rt, char **ret_message);

/*
 * The pod CIDR from UpdateRuntimeConfig, handed to CNI plugins that take ipRanges ("" clears it).
 * -EINVAL when it is not an address with a prefix length.
 */
int runtime_set_pod_cidr(Runtime *rt, const char *cidr, Error **reterr);
