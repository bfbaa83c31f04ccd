/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "cni-result.h"
#include "cni.h"
#include "fs-util.h"
#include "json-util.h"
#include "log.h"
#include "network-private.h"
#include "strv.h"

/* While no network is usable, look again this often: a plugin binary may have been installed. */
#define RESCAN_NOT_READY_MS 5000
/* Editors and installers write a file in several steps: wait for quiet before reading the dir. */
#define SETTLE_MS 50

static char *not_ready_message(NetworkManager *m, const CniDir *d, const char *verify_error) {
        _cleanup_free_ char *skipped = strv_join(d->problems, "; ");
        char *why = verify_error ? xstrdup(verify_error)
                    : *m->default_network
                            ? xasprintf("CNI network \"%s\" (cni_default_network) not found in %s",
                                        m->default_network, m->network_dir)
                            : xasprintf("no CNI configuration in %s", m->network_dir);
        char *msg = xasprintf("Network plugin returns error: %s%s%s", why, *skipped ? "; skipped " : "",
                              skipped);
        free(why);
        return msg;
}

static void log_problem_changes(NetworkManager *m, char **problems) {
        STRV_FOREACH(p, problems)
                if (!strv_contains(m->problems, *p))
                        log_warn("CNI configuration skipped: %s", *p);
        strv_free(m->problems);
        m->problems = strv_copy(problems);
}

/* Read network_dir, pick and verify the default network, and publish the outcome. Blocks on plugins. */
static void reload(NetworkManager *m) {
        CniDir d;
        cni_dir_load(m->network_dir, &d);
        CniNetwork *n = cni_dir_find(&d, m->default_network);
        _cleanup_error_ Error *err = NULL;
        if (n && cni_network_verify(n, m->plugin_dirs, m->plugin_timeout_ms, &err) < 0)
                n = NULL;
        char *why = n ? NULL : not_ready_message(m, &d, err ? err->message : NULL);
        pthread_mutex_lock(&m->lock);
        bool changed = (m->current ? m->current->path : NULL) != (n ? n->path : NULL);
        if (m->current && n)
                changed = strcmp(m->current->path, n->path) != 0 ||
                          !json_object_equal(m->current->list, n->list);
        if (n && changed)
                log_info("CNI default network is \"%s\" from %s", n->name, n->path);
        else if (!n && (!m->not_ready || strcmp(m->not_ready, why) != 0))
                log_warn("CNI network not ready: %s", why);
        cni_network_unref(m->current);
        m->current = n ? cni_network_ref(n) : NULL;
        free(m->not_ready);
        m->not_ready = why;
        log_problem_changes(m, d.problems);
        pthread_mutex_unlock(&m->lock);
        cni_dir_done(&d);
}

/* Watch network_dir; false (errno set) when it cannot be, for now. */
static bool watch_dir(NetworkManager *m) {
        uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_ATTRIB;
        m->unwatched = inotify_add_watch(m->inotify_fd, m->network_dir, mask) < 0;
        return !m->unwatched;
}

typedef enum Wake { WAKE_DIR, WAKE_WORK, WAKE_STOP } Wake;

/* Wait for events on the directory (or the rescan period), queued work or the stop request. */
static Wake wait_for_wake(NetworkManager *m) {
        /* The directory may have been created since: from then on, changes are seen at once. */
        if (m->unwatched && watch_dir(m))
                log_info("watching %s", m->network_dir);
        pthread_mutex_lock(&m->lock);
        int timeout = m->current && !m->unwatched ? -1 : RESCAN_NOT_READY_MS;
        pthread_mutex_unlock(&m->lock);
        struct pollfd f[2] = {{.fd = m->inotify_fd, .events = POLLIN}, {.fd = m->wake_fd, .events = POLLIN}};
        if (poll(f, 2, timeout) < 0 && errno != EINTR)
                return WAKE_STOP;
        if (f[1].revents) {
                uint64_t n;
                (void)!read(m->wake_fd, &n, sizeof(n));
                pthread_mutex_lock(&m->lock);
                bool stopping = m->stopping;
                pthread_mutex_unlock(&m->lock);
                if (stopping)
                        return WAKE_STOP;
                if (!f[0].revents)
                        return WAKE_WORK;
        }
        if (!f[0].revents)
                return WAKE_DIR; /* the rescan period */
        /* Drain everything that arrives until the writer is done; the contents matter, not the events. */
        char buf[4096];
        do {
                while (read(m->inotify_fd, buf, sizeof(buf)) > 0)
                        ;
        } while (poll(f, 1, SETTLE_MS) > 0 && !(f[0].revents & ~POLLIN));
        return WAKE_DIR;
}

/* CHECK the pods queued by network_check_later(), one at a time, until done or asked to stop. */
static void run_pending_checks(NetworkManager *m) {
        for (;;) {
                pthread_mutex_lock(&m->lock);
                size_t n = strv_length(m->pending_checks);
                char *id = n && !m->stopping ? m->pending_checks[n - 1] : NULL;
                if (id)
                        m->pending_checks[n - 1] = NULL;
                pthread_mutex_unlock(&m->lock);
                if (!id)
                        return;
                _cleanup_error_ Error *err = NULL;
                if (network_pod_check(m, id, &err) < 0)
                        log_warn("pod %s: its network failed CHECK after the restart: %s", id, err->message);
                else
                        log_debug("pod %s: CNI CHECK passed", id);
                free(id);
        }
}

static void *watcher_main(void *arg) {
        NetworkManager *m = arg;
        for (Wake w; (w = wait_for_wake(m)) != WAKE_STOP;) {
                if (w == WAKE_DIR)
                        reload(m);
                run_pending_checks(m);
        }
        return NULL;
}

void network_check_later(NetworkManager *m, const char *pod_id) {
        pthread_mutex_lock(&m->lock);
        m->pending_checks = strv_push(m->pending_checks ? m->pending_checks : xcalloc(1, sizeof(char *)),
                                      xstrdup(pod_id));
        pthread_mutex_unlock(&m->lock);
        uint64_t one = 1;
        (void)!write(m->wake_fd, &one, sizeof(one));
}

static int start_watching(NetworkManager *m, Error **reterr) {
        m->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        m->wake_fd = eventfd(0, EFD_CLOEXEC);
        if (m->inotify_fd < 0 || m->wake_fd < 0)
                return error_set(reterr, errno, "inotify/eventfd: %m");
        /* A directory that does not exist yet (or cannot be watched) is looked at periodically instead. */
        if (!watch_dir(m))
                log_info("cannot watch %s (%m): looking at it every %d s until it can be", m->network_dir,
                         RESCAN_NOT_READY_MS / 1000);
        int r = pthread_create(&m->watcher, NULL, watcher_main, m);
        if (r != 0)
                return error_set(reterr, r, "cannot start the CNI watcher: %s", strerror(r));
        m->watching = true;
        return 0;
}

int network_manager_new(const NetworkSettings *s, NetworkManager **ret, Error **reterr) {
        NetworkManager *m = xcalloc(1, sizeof(*m));
        m->network_dir = xstrdup(s->network_dir);
        m->default_network = xstrdup(s->default_network ? s->default_network : "");
        m->cache_dir = xstrdup(s->cache_dir);
        m->plugin_dirs = strv_copy(s->plugin_dirs);
        m->plugin_timeout_ms = s->plugin_timeout_ms;
        m->inotify_fd = m->wake_fd = -EBADF;
        pthread_mutex_init(&m->lock, NULL);
        int r = mkdir_parents_and_self(m->cache_dir, 0700);
        if (r < 0) {
                network_manager_free(m);
                return error_set(reterr, -r, "cannot create %s: %s", s->cache_dir, strerror(-r));
        }
        reload(m);
        r = start_watching(m, reterr);
        if (r < 0) {
                network_manager_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

NetworkManager *network_manager_free(NetworkManager *m) {
        if (!m)
                return NULL;
        if (m->watching) {
                pthread_mutex_lock(&m->lock);
                m->stopping = true;
                pthread_mutex_unlock(&m->lock);
                uint64_t one = 1;
                (void)!write(m->wake_fd, &one, sizeof(one));
                pthread_join(m->watcher, NULL);
        }
        if (m->inotify_fd >= 0)
                close(m->inotify_fd);
        if (m->wake_fd >= 0)
                close(m->wake_fd);
        cni_network_unref(m->current);
        free(m->not_ready);
        strv_free(m->problems);
        strv_free(m->pending_checks);
        free(m->network_dir);
        free(m->default_network);
        free(m->cache_dir);
        strv_free(m->plugin_dirs);
        pthread_mutex_destroy(&m->lock);
        free(m);
        return NULL;
}

int network_current(NetworkManager *m, CniNetwork **ret, Error **reterr) {
        pthread_mutex_lock(&m->lock);
        CniNetwork *n = m->current ? cni_network_ref(m->current) : NULL;
        _cleanup_free_ char *why = n ? NULL : xstrdup(m->not_ready);
        pthread_mutex_unlock(&m->lock);
        if (!n)
                return error_set(reterr, EBUSY, "the pod network is not ready: %s", why);
        *ret = n;
        return 0;
}

bool network_manager_ready(NetworkManager *m, char **ret_message) {
        pthread_mutex_lock(&m->lock);
        bool ready = m->current != NULL;
        *ret_message = ready ? NULL : xstrdup(m->not_ready);
        pthread_mutex_unlock(&m->lock);
        return ready;
}
