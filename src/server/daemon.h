/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <pthread.h>

#include "config.h"
#include "daemon-metrics.h"
#include "flags.h"
#include "image-service.h"
#include "list-cache.h"

typedef struct RpcServer RpcServer;
typedef struct HttpApi HttpApi;
typedef struct Listener Listener;
typedef struct WorkerPool WorkerPool;
typedef struct RpcTable RpcTable;
typedef struct ImageService ImageService;
typedef struct Runtime Runtime;
typedef struct StreamServer StreamServer;
typedef struct MetricsServer MetricsServer;
typedef struct EventHub EventHub;
typedef struct RegistriesWatch RegistriesWatch;

/* The running daemon: its effective config and the services on its socket. */
typedef struct Daemon {
        Config *config; /* reloadable keys change under config_lock (SIGHUP) */
        pthread_rwlock_t config_lock;
        const CliOptions *options; /* the command line the daemon was started with */

        pthread_mutex_t state_lock;
        char *pod_cidr; /* last UpdateRuntimeConfig */

        ImageService *images;
        Runtime *runtime;     /* pods and containers */
        StreamServer *stream; /* Exec, Attach and PortForward sessions */

        RpcTable *rpcs;
        WorkerPool *workers;      /* handlers of ordinary RPCs */
        WorkerPool *pull_workers; /* long-running handlers (PullImage) */
        RpcServer *rpc;
        HttpApi *http;
        Listener *listener;
        DaemonMetrics metrics; /* Prometheus families; all NULL without enable_metrics */
        MetricsServer *metrics_server;
        EventHub *events;                   /* GetContainerEvents subscribers */
        ListCache pod_list, container_list; /* unfiltered ListPodSandbox / ListContainers answers */
        int root_lock;                      /* <root>/crio-c.lock, held while the daemon runs */
        RegistriesWatch *registries_watch;  /* auto_reload_registries; NULL without */
        /* Held across a settings snapshot and its install in the image service, so that a SIGHUP and an
         * automatic reload cannot install settings older than the other's. */
        pthread_mutex_t image_reload_lock;
} Daemon;

/*
 * Run the daemon in the foreground until SIGTERM or SIGINT. Takes ownership of `config`. Returns 0
 * after a clean shutdown, or -errno (with reterr set) when it cannot start.
 */
int daemon_run(const CliOptions *options, Config *config, Error **reterr);

/*
 * Give the pages of freed heap memory back to the kernel (malloc_trim): after a pull, and when the
 * RPC workers have been idle for a second after a burst of calls. Takes each malloc arena's lock in
 * turn for up to about a millisecond; does nothing under AddressSanitizer.
 */
void daemon_release_freed_memory(void);

/* The image service's view of the config (caller holds the config lock or owns `c`). */
ImageSettings daemon_image_settings(const CliOptions *o, const Config *c);

/*
 * Take <root>/crio-c.lock, creating root: one daemon (or one `crio wipe`) per root. Returns the fd,
 * held until closed or exit, or -EBUSY naming the holder's pid when another process has it.
 */
int daemon_lock_root(const char *root, Error **reterr);

/*
 * `crio wipe` (wipe.c): with no daemon on the root, remove what a node restart left (pods not ready
 * and their containers) when version_file is absent; `force` removes every pod, container and image
 * whatever it says. Reports on stdout.
 */
int daemon_wipe(const CliOptions *o, Config *config, bool force, Error **reterr);

/* Serialize the effective config for Status(verbose) and the HTTP API, under the config lock. */
char *daemon_config_json(Daemon *d);
char *daemon_config_toml(Daemon *d);
