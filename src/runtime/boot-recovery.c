/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a starting daemon finds of objects whose processes and mounts died without it: after the node
 * restarted (every process, mount, pinned namespace and tmpfs file is gone) or after a monitor died
 * together with its container while no daemon ran. Their rows still say running and ready; left so,
 * a kubelet would wait for them forever instead of starting them again.
 */
#include <dirent.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "fs-util.h"
#include "log.h"
#include "process.h"
#include "runtime-private.h"
#include "version.h"

/* The exit status containerd reports for a task whose exit nobody saw; CRI-O's is the same. */
#define EXIT_UNKNOWN 255

static bool process_file_mentions(int pid, const char *file, const char *id) {
        if (pid <= 1)
                return false;
        _cleanup_free_ char *path = xasprintf("/proc/%d/%s", pid, file), *text = NULL;
        size_t len = 0;
        if (read_file(path, 65536, &text, &len) < 0)
                return false;
        return memmem(text, len, id, strlen(id)) != NULL;
}

int container_monitor_pid(const Container *c) {
        if (!c->bundle)
                return 0;
        _cleanup_free_ char *pidfile = xasprintf("%s/conmon-pidfile", c->bundle), *text = NULL;
        if (read_file(pidfile, 64, &text, NULL) < 0)
                return 0;
        int pid = parse_pid(text);
        return process_file_mentions(pid, "cmdline", c->id) ? pid : 0;
}

/* A zombie (killed, not yet reaped by whoever inherited it) runs no more. */
static bool process_running(int pid) {
        _cleanup_free_ char *path = xasprintf("/proc/%d/stat", pid), *text = NULL;
        if (read_file(path, 4096, &text, NULL) < 0)
                return false;
        char state = proc_stat_state(text);
        return state && state != 'Z' && state != 'X';
}

/* The recorded init pid is a running process in the container's own cgroup (a reused pid is not). */
static bool init_alive(const Container *c) {
        return process_file_mentions(c->pid, "cgroup", c->id) && process_running(c->pid);
}

bool container_processes_gone(const Container *c) {
        return container_monitor_pid(c) == 0 && !init_alive(c);
}

/* A created container gets its processes when it starts (container.c, instantiate). */
static bool container_unstarted(const Container *c) {
        return c->state == CONTAINER_CREATED && c->pid <= 0;
}

static bool container_vanished(const Container *c) {
        if (c->claim.creating || (c->state != CONTAINER_CREATED && c->state != CONTAINER_RUNNING) ||
            container_unstarted(c))
                return false;
        return container_processes_gone(c);
}

/* Its directory, pinned namespaces and /dev/shm mount are all still there. */
static bool pod_intact(const Pod *p) {
        struct stat dir, shm;
        if (!p->dir || stat(p->dir, &dir) < 0)
                return false;
        const char *ns[] = {p->netns, p->ipcns, p->utsns, p->userns};
        for (size_t i = 0; i < ELEMENTSOF(ns); i++)
                if (ns[i] && !is_namespace_file(ns[i]))
                        return false;
        if (p->shm_mounted) {
                _cleanup_free_ char *path = xasprintf("%s/shm", p->dir);
                if (stat(path, &shm) < 0 || shm.st_dev == dir.st_dev)
                        return false;
        }
        return true;
}

/* `restarted`: every container went with the node, and no monitor was lost on its own. */
static void mark_vanished_containers(Runtime *rt, bool restarted) {
        for (size_t i = 0; i < rt->n_ctrs; i++) {
                Container *c = rt->ctrs[i];
                if (!container_vanished(c)) {
                        /* Its monitor runs, but was started by an earlier daemon: not our child. */
                        c->monitor_foreign =
                                (c->state == CONTAINER_CREATED || c->state == CONTAINER_RUNNING) &&
                                !container_unstarted(c);
                        continue;
                }
                log_warn("container %s: its monitor and processes were gone when the daemon started "
                         "(a node restart?): marked exited",
                         c->id);
                container_mark_lost_locked(rt, c, EXIT_UNKNOWN,
                                           "the container's processes were gone when crio-c started; "
                                           "the node may have restarted",
                                           !restarted);
                state_save_container(rt, c, NULL);
        }
}

/*
 * A StartContainer the daemon did not see finish (killed while the runtime started it): the runtime
 * removes the container's exec FIFO when it starts it, so a created container whose init runs and
 * whose FIFO is gone is running. Its start time is when this daemon noticed.
 */
static void mark_started_containers(Runtime *rt) {
        for (size_t i = 0; i < rt->n_ctrs; i++) {
                Container *c = rt->ctrs[i];
                Handler h = {};
                if (c->claim.creating || c->state != CONTAINER_CREATED || !init_alive(c) ||
                    runtime_handler_resolve(rt, c->handler, &h, NULL) < 0)
                        continue;
                _cleanup_free_ char *state = xasprintf("%s/%s", h.root, c->id);
                _cleanup_free_ char *fifo = xasprintf("%s/exec.fifo", state);
                handler_done(&h);
                /* The runtime's state of the container must be there (a moved runtime_root says nothing). */
                struct stat st;
                if (stat(state, &st) < 0 || !S_ISDIR(st.st_mode) || access(fifo, F_OK) == 0 ||
                    errno != ENOENT)
                        continue;
                log_info("container %s: started while the daemon was away", c->id);
                struct timespec now;
                clock_gettime(CLOCK_REALTIME, &now);
                c->started_ns = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
                c->state = CONTAINER_RUNNING;
                lists_changed_locked(rt);
                if (!c->infra)
                        event_emit_locked(rt, c->id, c->pod_id, EVENT_STARTED);
                state_save_container(rt, c, NULL);
        }
}

static Container *unstarted_without_monitor(Runtime *rt, const char *id) {
        for (size_t i = 0; i < rt->n_ctrs; i++) {
                Container *c = rt->ctrs[i];
                if (!c->claim.creating && container_unstarted(c) && strcmp(c->id, id) == 0)
                        return container_monitor_pid(c) > 0 ? NULL : c;
        }
        return NULL;
}

/*
 * A conmon that had not written its pid file yet when the daemon died (it was about to) is found by
 * the --cid= of its command line, in one walk over /proc for every such container, and its process
 * group killed.
 */
static void kill_monitors_without_pid_file(Runtime *rt) {
        DIR *d = opendir("/proc");
        for (struct dirent *e; d && (e = readdir(d));) {
                int pid = parse_pid(e->d_name);
                _cleanup_free_ char *path = xasprintf("/proc/%d/cmdline", pid), *args = NULL;
                size_t len = 0;
                if (pid <= 1 || !process_file_mentions(pid, "comm", "conmon") ||
                    read_file(path, 65536, &args, &len) < 0)
                        continue;
                for (const char *a = args; a < args + len; a += strlen(a) + 1) {
                        Container *c =
                                strncmp(a, "--cid=", 6) == 0 ? unstarted_without_monitor(rt, a + 6) : NULL;
                        if (!c)
                                continue;
                        kill(-pid, SIGKILL);
                        kill(pid, SIGKILL);
                        log_info("container %s: killed its monitor, which had gone on without a start",
                                 c->id);
                }
        }
        if (d)
                closedir(d);
}

/*
 * What a daemon that died left of containers it created but had not started: a monitor waiting for
 * its start byte sees its pipe close and goes on, and has the runtime create the container; a start
 * cut short before the runtime reported the pid leaves the same. The monitor's process group goes,
 * the runtime's state of the container is deleted, and the container is created again (a start
 * makes them afresh).
 */
static void undo_cut_starts(Runtime *rt) {
        bool any = false;
        for (size_t i = 0; i < rt->n_ctrs && !any; i++)
                any = !rt->ctrs[i]->claim.creating && container_unstarted(rt->ctrs[i]);
        if (!any)
                return;
        kill_monitors_without_pid_file(rt);
        for (size_t i = 0; i < rt->n_ctrs; i++) {
                Container *c = rt->ctrs[i];
                if (!c->claim.creating && container_unstarted(c) && container_undo_start(rt, c))
                        log_info(
                                "container %s: what its monitor and runtime made without a start was undone",
                                c->id);
        }
}

/* Marks the ready pods that lost what they run in; returns how many pods are not intact. */
static size_t mark_vanished_pods(Runtime *rt) {
        size_t broken = 0;
        for (size_t i = 0; i < rt->n_pods; i++) {
                Pod *p = rt->pods[i];
                if (pod_intact(p))
                        continue;
                broken++;
                if (p->state != POD_READY)
                        continue;
                log_warn("pod %s: its namespaces or files were gone when the daemon started "
                         "(a node restart?): marked not ready",
                         p->id);
                p->state = POD_NOTREADY;
                lists_changed_locked(rt);
                state_save_pod(rt, p, NULL);
        }
        return broken;
}

/* Remove a pod of the previous boot with its containers, rows included. */
static void wipe_pod(Runtime *rt, Pod *p) {
        for (size_t i = rt->n_ctrs; i-- > 0;) {
                Container *c = rt->ctrs[i];
                if (strcmp(c->pod_id, p->id) != 0 || c->infra)
                        continue;
                container_teardown(rt, c, false);
                state_delete_container(rt, c->id, NULL);
                runtime_drop_container_locked(rt, c);
        }
        pod_teardown(rt, p);
        state_delete_pod(rt, p->id, NULL);
        runtime_drop_pod_locked(rt, p);
}

/* With internal_wipe, what the node's restart left of the previous boot goes, as on CRI-O. */
static void wipe_previous_boot(Runtime *rt) {
        size_t n = 0;
        for (size_t i = rt->n_pods; i-- > 0;) {
                if (pod_intact(rt->pods[i]))
                        continue;
                wipe_pod(rt, rt->pods[i]);
                n++;
        }
        if (n > 0)
                log_info("removed %zu pod sandboxes of the previous boot and their containers "
                         "(internal_wipe)",
                         n);
}

bool runtime_node_restarted(const Config *c) {
        return !isempty(c->version_file) && access(c->version_file, F_OK) < 0 && errno == ENOENT;
}

void runtime_write_version_file(const char *path) {
        if (isempty(path))
                return;
        const char *text = CRIO_VERSION "\n";
        if (mkdir_parents(path, 0755) < 0 || write_file_atomic(path, text, strlen(text), 0644) < 0)
                log_warn("cannot write version_file %s: %m", path);
}

void boot_recovery(Runtime *rt) {
        bool restarted = runtime_node_restarted(rt->config);
        undo_cut_starts(rt);
        mark_vanished_containers(rt, restarted);
        mark_started_containers(rt);
        size_t broken = mark_vanished_pods(rt);
        if (restarted && broken > 0) {
                log_info("the node restarted since the last start (version_file %s was absent)",
                         rt->config->version_file);
                if (rt->config->internal_wipe)
                        wipe_previous_boot(rt);
        }
        runtime_write_version_file(rt->config->version_file);
}
