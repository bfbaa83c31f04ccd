/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cancel.h"
#include "log.h"
#include "process.h"
#include "runtime-private.h"

/*
 * conmon writes <exits_dir>/<container id> when a container exits; each write marks it exited.
 * Returns a reference to the container when this marked it exited, else NULL.
 */
static Container *handle_exit_file(Runtime *rt, const char *name) {
        Container *exited = NULL;
        pthread_mutex_lock(&rt->lock);
        for (size_t i = 0; i < rt->n_ctrs; i++) {
                Container *c = rt->ctrs[i];
                if (strcmp(c->id, name) != 0)
                        continue;
                if (container_check_exit_locked(rt, c)) {
                        log_debug("container %s exited with %d", c->id, c->exit_code);
                        state_save_container(rt, c, NULL);
                        exited = container_ref(c);
                }
                break;
        }
        pthread_mutex_unlock(&rt->lock);
        return exited;
}

/*
 * An orphan the daemon reaped was a container's init: its monitor died before it (conmon is its
 * parent and reaps it otherwise), so no exit file will come. The exit is recorded here with the
 * status the reaper saw (exit code, or 128 + signal, as conmon writes it) and counted as a lost
 * monitor.
 */
static void record_orphan_exit(Runtime *rt, const OrphanExit *e) {
        int code = WIFEXITED(e->status) ? WEXITSTATUS(e->status) : 128 + WTERMSIG(e->status);
        Container *exited = NULL;
        pthread_mutex_lock(&rt->lock);
        for (size_t i = 0; i < rt->n_ctrs && !exited; i++) {
                Container *c = rt->ctrs[i];
                if (c->pid != e->pid || c->claim.creating ||
                    (c->state != CONTAINER_CREATED && c->state != CONTAINER_RUNNING))
                        continue;
                container_mark_lost_locked(rt, c, code,
                                           "the container's monitor died before it; crio-c reaped it and "
                                           "recorded its exit code",
                                           true);
                state_save_container(rt, c, NULL);
                exited = container_ref(c);
        }
        pthread_mutex_unlock(&rt->lock);
        if (!exited)
                return;
        log_warn("container %s exited (%d) after its monitor died", exited->id, code);
        container_release_exited(rt, exited);
        container_unref(exited);
}

/*
 * A container whose monitor an earlier daemon started: when that conmon dies first, the container is
 * re-parented to the node's init, not to us, and no reaper of ours sees it end. Such containers are
 * looked at every SWEEP_MS instead; the exit code of one found gone that way is unknown.
 */
#define SWEEP_MS 2000

static bool sweep_candidate_locked(const Container *c) {
        return c->monitor_foreign && !c->claim.creating &&
               (c->state == CONTAINER_CREATED || c->state == CONTAINER_RUNNING);
}

static bool foreign_monitors(Runtime *rt) {
        bool any = false;
        pthread_mutex_lock(&rt->lock);
        for (size_t i = 0; i < rt->n_ctrs && !any; i++)
                any = sweep_candidate_locked(rt->ctrs[i]);
        pthread_mutex_unlock(&rt->lock);
        return any;
}

static void sweep_foreign_monitors(Runtime *rt) {
        Container **l = NULL;
        size_t n = 0;
        pthread_mutex_lock(&rt->lock);
        l = xcalloc(rt->n_ctrs + 1, sizeof(*l));
        for (size_t i = 0; i < rt->n_ctrs; i++)
                if (sweep_candidate_locked(rt->ctrs[i]))
                        l[n++] = container_ref(rt->ctrs[i]);
        pthread_mutex_unlock(&rt->lock);
        for (size_t i = 0; i < n; i++) {
                bool lost = false;
                if (container_processes_gone(l[i])) { /* /proc reads, outside the lock */
                        pthread_mutex_lock(&rt->lock);
                        lost = sweep_candidate_locked(l[i]) && !container_check_exit_locked(rt, l[i]);
                        if (lost) {
                                container_mark_lost_locked(
                                        rt, l[i], 255,
                                        "the container's monitor, started by an earlier "
                                        "crio-c, died before it; its exit code is unknown",
                                        true);
                                state_save_container(rt, l[i], NULL);
                        }
                        pthread_mutex_unlock(&rt->lock);
                }
                if (lost) {
                        log_warn("container %s: its monitor and processes are gone; marked exited",
                                 l[i]->id);
                        container_release_exited(rt, l[i]);
                }
                container_unref(l[i]);
        }
        free(l);
}

static void read_orphan_exits(Runtime *rt) {
        OrphanExit e[64];
        ssize_t n = read(rt->orphan_pipe[0], e, sizeof(e));
        for (ssize_t i = 0; i < n / (ssize_t)sizeof(e[0]); i++)
                record_orphan_exit(rt, &e[i]);
}

static void *exit_watch_main(void *arg) {
        Runtime *rt = arg;
        char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
        int64_t next_sweep_ns = monotonic_ns() + SWEEP_MS * 1000000LL;
        for (;;) {
                struct pollfd p[3] = {{.fd = rt->inotify_fd, .events = POLLIN},
                                      {.fd = rt->stop_fd, .events = POLLIN},
                                      {.fd = rt->orphan_pipe[0], .events = POLLIN}};
                bool foreign = foreign_monitors(rt);
                int64_t wait_ms = (next_sweep_ns - monotonic_ns()) / 1000000;
                int ready = poll(p, 3, !foreign ? -1 : wait_ms > 0 ? (int)wait_ms : 0);
                /* Due sweeps run even while exits keep the watcher busy. */
                if (foreign && monotonic_ns() >= next_sweep_ns) {
                        sweep_foreign_monitors(rt);
                        next_sweep_ns = monotonic_ns() + SWEEP_MS * 1000000LL;
                }
                if (ready <= 0)
                        continue;
                if (p[1].revents)
                        return NULL;
                if (p[2].revents)
                        read_orphan_exits(rt);
                if (!p[0].revents)
                        continue;
                ssize_t n = read(rt->inotify_fd, buf, sizeof(buf));
                /* An event holds at least its header, so the batch has at most this many exits. */
                Container *exited[sizeof(buf) / sizeof(struct inotify_event)];
                size_t n_exited = 0;
                for (ssize_t off = 0; off < n;) {
                        const struct inotify_event *ev = (const struct inotify_event *)(buf + off);
                        Container *c = ev->len > 0 ? handle_exit_file(rt, ev->name) : NULL;
                        if (c)
                                exited[n_exited++] = c;
                        off += (ssize_t)(sizeof(*ev) + ev->len);
                }
                /* Every exit of the batch is recorded first; the runtime calls come after. */
                for (size_t i = 0; i < n_exited; i++) {
                        container_release_exited(rt, exited[i]);
                        container_unref(exited[i]);
                }
        }
}

int exit_watch_start(Runtime *rt, Error **reterr) {
        rt->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (rt->inotify_fd < 0)
                return error_set(reterr, errno, "inotify: %m");
        if (inotify_add_watch(rt->inotify_fd, rt->paths.exits_dir, IN_CLOSE_WRITE | IN_MOVED_TO) < 0)
                return error_set(reterr, errno, "cannot watch %s: %m", rt->paths.exits_dir);
        rt->stop_fd = eventfd(0, EFD_CLOEXEC);
        if (rt->stop_fd < 0)
                return error_set(reterr, errno, "eventfd: %m");
        if (pipe2(rt->orphan_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
                return error_set(reterr, errno, "pipe: %m");
        process_report_orphans(rt->orphan_pipe[1]);
        int r = pthread_create(&rt->exit_thread, NULL, exit_watch_main, rt);
        if (r != 0)
                return error_set(reterr, r, "cannot start the exit watcher: %s", strerror(r));
        rt->exit_thread_started = true;
        /* Exits that happened between loading the state and the watch being in place. */
        pthread_mutex_lock(&rt->lock);
        for (size_t i = 0; i < rt->n_ctrs; i++)
                if (container_check_exit_locked(rt, rt->ctrs[i]))
                        state_save_container(rt, rt->ctrs[i], NULL);
        pthread_mutex_unlock(&rt->lock);
        return 0;
}

void exit_watch_stop(Runtime *rt) {
        if (rt->exit_thread_started) {
                uint64_t one = 1;
                if (write(rt->stop_fd, &one, sizeof(one)) < 0)
                        log_warn("cannot stop the exit watcher: %m");
                pthread_join(rt->exit_thread, NULL);
                rt->exit_thread_started = false;
        }
        if (rt->orphan_pipe[1] >= 0)
                process_report_orphans(-1);
        const int fds[] = {rt->inotify_fd, rt->stop_fd, rt->orphan_pipe[0], rt->orphan_pipe[1]};
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        rt->inotify_fd = rt->stop_fd = rt->orphan_pipe[0] = rt->orphan_pipe[1] = -1;
}
