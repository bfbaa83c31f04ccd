/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/resource.h>

#include "daemon.h"
#include "fs-util.h"
#include "http-api.h"
#include "image-service.h"
#include "listener.h"
#include "log.h"
#include "metrics-server.h"
#include "pod-metrics.h"
#include "registries-watch.h"
#include "rpc-events.h"
#include "process.h"
#include "runtime.h"
#include "rpc-server.h"
#include "rpc-table.h"
#include "rpc-stream.h"
#include "sd-notify.h"
#include "store.h"
#include "stream.h"
#include "strv.h"
#include "version.h"
#include "worker-pool.h"

/* In-flight RPCs get this long to finish on SIGTERM before they are cancelled. */
#define SHUTDOWN_GRACE_MS 5000
#define WORKER_THREADS 16
/* Pulls beyond this many wait in the queue; their layers already download in parallel. */
#define PULL_THREADS 8
/*
 * Freed heap pages go back to the kernel once the RPC workers have had nothing to do for this long:
 * long enough that a burst of calls (a kubelet's relist, pods starting) is over first.
 */
#define RELEASE_AFTER_IDLE_NS (1000LL * 1000 * 1000)

/*
 * Not under AddressSanitizer, whose allocator replaces glibc's: there malloc_trim walks arenas
 * nothing has set up, and two first calls at once race in glibc's own set-up (a CI run crashed in it).
 */
void daemon_release_freed_memory(void) {
#ifndef __SANITIZE_ADDRESS__
        malloc_trim(0);
#endif
}

static void release_on_idle(void *userdata) {
        daemon_release_freed_memory();
}

char *daemon_config_json(Daemon *d) {
        pthread_rwlock_rdlock(&d->config_lock);
        json_object *o = config_to_json(d->config);
        pthread_rwlock_unlock(&d->config_lock);
        char *s = xstrdup(
                json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return s;
}

char *daemon_config_toml(Daemon *d) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return xstrdup("");
        pthread_rwlock_rdlock(&d->config_lock);
        config_write_toml(d->config, f);
        pthread_rwlock_unlock(&d->config_lock);
        fclose(f);
        return buf;
}

#define DEFAULT_REGISTRIES_CONF "/etc/containers/registries.conf"
#define DEFAULT_REGISTRIES_CONF_DIR "/etc/containers/registries.conf.d"
#define DEFAULT_CERTS_DIR "/etc/containers/certs.d"

ImageSettings daemon_image_settings(const CliOptions *o, const Config *c) {
        int64_t progress = 0, stall = 0, connect = 0;
        /* Validated at load. */
        parse_duration(c->pull_progress_timeout, &progress);
        parse_duration(c->pull_stall_timeout, &stall);
        parse_duration(c->pull_connect_timeout, &connect);
        return (ImageSettings){
                .registries_conf = o->registries_conf ? o->registries_conf : (char *)DEFAULT_REGISTRIES_CONF,
                .registries_conf_dir = o->registries_conf_dir ? o->registries_conf_dir
                                                              : (char *)DEFAULT_REGISTRIES_CONF_DIR,
                .global_auth_file = c->global_auth_file,
                .namespaced_auth_dir = c->namespaced_auth_dir,
                .signature_policy = c->signature_policy,
                .signature_policy_dir = c->signature_policy_dir,
                .short_name_mode = c->short_name_mode,
                .certs_dir = (char *)DEFAULT_CERTS_DIR,
                .pinned_images = c->pinned_images,
                .insecure_registries = c->insecure_registries,
                .pause_image = c->pause_image,
                .pull_progress_timeout_ns = progress,
                .pull_stall_timeout_ns = stall,
                .pull_connect_timeout_ns = connect,
                .max_parallel_downloads = c->max_parallel_downloads,
                .layer_limits =
                        {
                                .max_size = c->max_layer_size,
                                .max_ratio = c->max_layer_inflation_ratio,
                                .max_entries = c->max_layer_entries,
                                .min_free_space = c->min_free_space,
                        },
        };
}

/* Install the reloadable logging keys. The config was validated, so the filter compiles. */
static void apply_logging(const Config *c) {
        int level = log_level_from_string(c->log_level);
        if (level >= 0)
                log_set_level((LogLevel)level);
        log_set_filter(c->log_filter, NULL);
}

static void log_warnings(char **warnings) {
        STRV_FOREACH(w, warnings)
                log_warn("%s", *w);
}

/* SIGHUP: rebuild the config from the same sources and take over the keys marked reloadable. */
static void daemon_reload(Daemon *d) {
        _cleanup_config_ Config *fresh = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        _cleanup_error_ Error *err = NULL;

        log_info("reloading configuration");
        if (config_load(&d->options->sources, &fresh, &warnings, &err) < 0) {
                log_error("reload failed, keeping the current configuration: %s", err->message);
                return;
        }
        pthread_mutex_lock(&d->image_reload_lock);
        log_warnings(warnings);
        pthread_rwlock_wrlock(&d->config_lock);
        for (size_t i = 0; i < config_keys_count; i++) {
                const ConfigKey *key = &config_keys[i];
                if (!(key->flags & CK_RELOAD))
                        continue;
                _cleanup_free_ char *before = config_value_to_string(d->config, key);
                _cleanup_free_ char *after = config_value_to_string(fresh, key);
                if (strcmp(before, after) == 0)
                        continue;
                /* default_runtime must name a handler of the live config, not only of the new one. */
                if (strcmp(key->name, "default_runtime") == 0 &&
                    !config_find_runtime(d->config, fresh->default_runtime)) {
                        log_error("reload: default_runtime '%s' is not a known handler; keeping '%s'",
                                  fresh->default_runtime, d->config->default_runtime);
                        continue;
                }
                config_copy_value(d->config, fresh, key);
                log_info("reload: %s.%s changed from %s to %s", key->table, key->name, before, after);
        }
        apply_logging(d->config);
        pthread_rwlock_unlock(&d->config_lock);

        /*
         * registries.conf is re-read on every reload. That is file I/O, so it happens outside the config
         * lock that inline RPCs take; reading d->config unlocked is fine here, as only this thread writes
         * it.
         */
        ImageSettings settings = daemon_image_settings(d->options, d->config);
        _cleanup_strv_free_ char **image_warnings = NULL;
        if (image_service_reload(d->images, &settings, &image_warnings, &err) < 0)
                log_error("reload: keeping the previous registries configuration: %s", err->message);
        pthread_mutex_unlock(&d->image_reload_lock);
        log_warnings(image_warnings);
}

static int start_images(Daemon *d, Error **reterr) {
        _cleanup_strv_free_ char **warnings = NULL;
        ImageSettings settings = daemon_image_settings(d->options, d->config);
        int r = image_service_new(d->config->root, &settings, &d->images, &warnings, reterr);
        log_warnings(warnings);
        return r;
}

/* Pulls parked on another pull's layer resume on the pull pool, like a new PullImage. */
static int submit_pull(void *pool, void (*fn)(void *arg), void *arg) {
        return worker_pool_submit(pool, fn, arg);
}

/*
 * clean_shutdown_file as CRI-O keeps it: removed at start, written after a stop that finished, once
 * the store is synced, so that node tooling can tell a crash or a power loss from a clean stop.
 * crio-c's own start-up checks of the store and of half-made objects run either way.
 */
static void forget_clean_shutdown(const Config *c) {
        if (!isempty(c->clean_shutdown_file) && unlink(c->clean_shutdown_file) < 0 && errno == ENOENT)
                log_info("%s is absent: the daemon did not stop cleanly last time (or never ran)",
                         c->clean_shutdown_file);
}

static void record_clean_shutdown(const Config *c) {
        if (isempty(c->clean_shutdown_file))
                return;
        int fd = open(c->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
                syncfs(fd);
                close(fd);
        }
        if (mkdir_parents(c->clean_shutdown_file, 0755) < 0 ||
            write_file_atomic(c->clean_shutdown_file, "", 0, 0644) < 0)
                log_warn("cannot write clean_shutdown_file %s: %m", c->clean_shutdown_file);
}

int daemon_lock_root(const char *root, Error **reterr) {
        if (mkdir_parents_and_self(root, 0700) < 0)
                return error_set(reterr, errno, "cannot create root %s: %m", root);
        _cleanup_free_ char *path = xasprintf("%s/crio-c.lock", root);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return error_set(reterr, errno, "cannot open %s: %m", path);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int e = errno;
                char pid[32] = "";
                ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
                pid[n > 0 ? strcspn(pid, "\n") : 0] = 0;
                close(fd);
                if (e == EWOULDBLOCK)
                        return error_set(reterr, EBUSY, "root %s is in use by another crio-c (pid %s)", root,
                                         *pid ? pid : "unknown");
                return error_set(reterr, e, "cannot lock %s: %s", path, strerror(e));
        }
        _cleanup_free_ char *text = xasprintf("%d\n", (int)getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, text, strlen(text), 0) < 0)
                log_warn("cannot write the pid into %s: %m", path);
        return fd;
}

static int daemon_start(Daemon *d, Error **reterr) {
        /* Two daemons on one root would undo each other's pods at start and share layers unlocked. */
        d->root_lock = daemon_lock_root(d->config->root, reterr);
        if (d->root_lock < 0)
                return d->root_lock;
        forget_clean_shutdown(d->config);
        unsigned groups = 0;
        const char *bad = NULL;
        if (pod_metrics_groups(d->config->included_pod_metrics, &groups, &bad) < 0)
                return error_set(reterr, EINVAL,
                                 "crio.stats.included_pod_metrics: unknown metric group '%s'", bad);
        /* Metrics first: once the CRI socket accepts connections, everything the daemon serves is up. */
        daemon_metrics_init(&d->metrics, d->config);
        int r = metrics_server_new(d, &d->metrics_server, reterr);
        if (r >= 0)
                r = listener_open(d->config->listen, &d->listener, reterr);
        if (r < 0)
                return r;
        r = start_images(d, reterr);
        if (r < 0)
                return r;
        image_service_set_metrics(d->images, d->metrics.registry);
        if (d->config->auto_reload_registries) {
                d->registries_watch = registries_watch_start(d, reterr);
                if (!d->registries_watch)
                        return -EIO;
        }
        r = process_reaper_start();
        if (r < 0)
                return error_set(reterr, -r, "cannot start the child reaper: %s", strerror(-r));
        r = runtime_new(d->config, &d->config_lock, d->images, d->metrics.registry, &d->runtime, reterr);
        if (r < 0)
                return r;
        r = stream_start(d, reterr);
        if (r < 0)
                return r;
        d->events = event_hub_new(d);
        d->rpcs = rpc_table_new();
        d->workers = worker_pool_new(WORKER_THREADS);
        worker_pool_set_idle_job(d->workers, RELEASE_AFTER_IDLE_NS, release_on_idle, NULL);
        d->pull_workers = worker_pool_new(PULL_THREADS);
        image_service_set_executor(d->images, submit_pull, d->pull_workers);
        r = rpc_server_new(d, &d->rpc, reterr);
        if (r >= 0)
                r = http_api_new(d, &d->http, reterr);
        if (r >= 0)
                r = listener_start(d->listener, d->rpc, d->http, reterr);
        return r;
}

static void daemon_stop(Daemon *d) {
        /*
         * Close the door, give calls in flight their grace, cancel the rest, wait for every handler
         * (they hand their answers to the still running gRPC connection thread), then free the server.
         */
        d->listener = listener_free(d->listener);
        d->metrics_server = metrics_server_free(d->metrics_server);
        d->http = http_api_free(d->http);
        rpc_server_shutdown(d->rpc, SHUTDOWN_GRACE_MS);
        if (d->runtime)
                runtime_begin_shutdown(d->runtime);
        d->workers = worker_pool_free(d->workers);
        if (d->images)
                image_service_set_executor(d->images, NULL, NULL);
        d->pull_workers = worker_pool_free(d->pull_workers);
        d->rpc = rpc_server_free(d->rpc);
        d->rpcs = rpc_table_free(d->rpcs);
        d->stream = stream_server_free(d->stream);
        d->runtime = runtime_free(d->runtime);
        d->registries_watch = registries_watch_stop(d->registries_watch);
        d->images = image_service_free(d->images);
        d->events = event_hub_free(d->events);
        daemon_metrics_done(&d->metrics);
}

static int wait_for_signals(Daemon *d, const sigset_t *set) {
        for (;;) {
                int sig = 0;
                if (sigwait(set, &sig) != 0)
                        continue;
                if (sig == SIGHUP) {
                        daemon_reload(d);
                        continue;
                }
                log_info("received %s, shutting down", strsignal(sig));
                return 0;
        }
}

/*
 * Many pulls, connections and containers' fds add up; the soft limit (often 1024) is only a default
 * for select()-era programs, and nothing here uses select().
 */
static void raise_fd_limit(void) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
                return;
        rlim_t was = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                log_warn("cannot raise the open file limit from %llu: %m", (unsigned long long)was);
        else
                log_debug("open file limit raised from %llu to %llu", (unsigned long long)was,
                          (unsigned long long)rl.rlim_cur);
}

int daemon_run(const CliOptions *options, Config *config, Error **reterr) {
        Daemon d = {.config = config, .options = options, .root_lock = -1};
        sigset_t set;
        int r;

        pthread_rwlock_init(&d.config_lock, NULL);
        pthread_mutex_init(&d.state_lock, NULL);
        pthread_mutex_init(&d.image_reload_lock, NULL);
        list_cache_init(&d.pod_list);
        list_cache_init(&d.container_list);
        apply_logging(config);
        /*
         * Modes are chosen where files are made; an inherited restrictive umask (077) would, for one,
         * make the run root's directories unsearchable for containers in a user namespace.
         */
        umask(022);

        /* Threads inherit the mask, so only this thread ever takes these signals (in sigwait). */
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        signal(SIGPIPE, SIG_IGN);
        /* Pulls run on several threads; glibc would give each its own arena and keep what they freed. */
        mallopt(M_ARENA_MAX, 2);
        store_sqlite_setup();
        raise_fd_limit();
        /* Containers' monitors get re-parented to us, so we can reap them promptly (DESIGN.md 5). */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                log_warn("cannot become a child subreaper: %m");

        r = daemon_start(&d, reterr);
        if (r >= 0) {
                log_info("crio-c %s serving CRI v1 (gRPC) and HTTP on %s", CRIO_VERSION, config->listen);
                int n = notify_service_manager("READY=1");
                if (n < 0)
                        log_warn("cannot notify the service manager: %s", strerror(-n));
                r = wait_for_signals(&d, &set);
                notify_service_manager("STOPPING=1");
        }
        daemon_stop(&d);
        if (r >= 0)
                record_clean_shutdown(config);
        if (d.root_lock >= 0)
                close(d.root_lock);
        free(d.pod_cidr);
        config_free(d.config);
        pthread_rwlock_destroy(&d.config_lock);
        pthread_mutex_destroy(&d.state_lock);
        pthread_mutex_destroy(&d.image_reload_lock);
        list_cache_done(&d.pod_list);
        list_cache_done(&d.container_list);
        return r;
}
