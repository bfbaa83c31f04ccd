/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auto_reload_registries: a change to registries.conf or to a file of its drop-in directory reloads
 * them, as SIGHUP does for that part (the rest of crio.conf is not re-read). Editors replace a file
 * by renaming another over it, so the main file is watched through its directory.
 */
#include <libgen.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"
#include "registries-watch.h"
#include "strv.h"

/* Changes come in bursts (an editor's temp file, write, rename); one reload after they settle. */
#define SETTLE_MS 100
#define WATCHED (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE)

/*
 * The main file and the drop-in directory are each watched through their parent directory (for
 * renames over them and for a drop-in directory created later), and the drop-in directory itself
 * while it exists.
 */
struct RegistriesWatch {
        Daemon *daemon;
        int inotify_fd, stop_fd;
        int main_parent_wd, dropin_parent_wd, dropin_wd;
        char *main_name, *dropin_name, *dropin_path;
        pthread_t thread;
        bool started;
};

static void reload_registries(Daemon *d) {
        pthread_mutex_lock(&d->image_reload_lock);
        pthread_rwlock_rdlock(&d->config_lock);
        ImageSettings view = daemon_image_settings(d->options, d->config);
        _cleanup_(image_settings_freep) ImageSettings *settings = image_settings_copy(&view);
        pthread_rwlock_unlock(&d->config_lock);
        _cleanup_strv_free_ char **warnings = NULL;
        _cleanup_error_ Error *err = NULL;
        int r = image_service_reload(d->images, settings, &warnings, &err);
        pthread_mutex_unlock(&d->image_reload_lock);
        if (r < 0) {
                log_error(
                        "registries configuration changed but cannot be used; keeping the previous one: %s",
                        err->message);
                return;
        }
        STRV_FOREACH(w, warnings)
                log_warn("%s", *w);
        log_info("registries configuration changed: reloaded %s and %s", settings->registries_conf,
                 settings->registries_conf_dir);
}

static bool names(const struct inotify_event *ev, int wd, const char *name) {
        return ev->wd == wd && ev->len > 0 && strcmp(ev->name, name) == 0;
}

/*
 * Whether a batch of events touches the main file or the drop-ins; keeps the drop-in directory's own
 * watch in step with the directory coming and going.
 */
static bool note_events(RegistriesWatch *w, const char *buf, ssize_t n) {
        bool hit = false;
        for (ssize_t off = 0; off < n;) {
                const struct inotify_event *ev = (const struct inotify_event *)(buf + off);
                off += (ssize_t)(sizeof(*ev) + ev->len);
                /* An overflowed queue lost events: reload rather than miss a change. */
                if (ev->mask & IN_Q_OVERFLOW)
                        hit = true;
                if (ev->wd == w->dropin_wd) {
                        hit = true;
                        if (ev->mask & IN_IGNORED) /* that directory went; another may be in its place */
                                w->dropin_wd = inotify_add_watch(w->inotify_fd, w->dropin_path,
                                                                 WATCHED | IN_ONLYDIR);
                }
                if (names(ev, w->main_parent_wd, w->main_name))
                        hit = true;
                if (names(ev, w->dropin_parent_wd, w->dropin_name)) {
                        hit = true;
                        if (w->dropin_wd < 0)
                                w->dropin_wd = inotify_add_watch(w->inotify_fd, w->dropin_path,
                                                                 WATCHED | IN_ONLYDIR);
                }
        }
        return hit;
}

static void *watch_main(void *arg) {
        RegistriesWatch *w = arg;
        char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
        bool pending = false;
        for (;;) {
                struct pollfd p[2] = {{.fd = w->inotify_fd, .events = POLLIN},
                                      {.fd = w->stop_fd, .events = POLLIN}};
                int n = poll(p, 2, pending ? SETTLE_MS : -1);
                if (n < 0)
                        continue;
                if (p[1].revents)
                        return NULL;
                if (n == 0) { /* quiet for SETTLE_MS since the last relevant change */
                        pending = false;
                        reload_registries(w->daemon);
                        continue;
                }
                ssize_t len = read(w->inotify_fd, buf, sizeof(buf));
                if (len > 0 && note_events(w, buf, len))
                        pending = true;
        }
}

/* Watch the directory holding `path`; *ret_name is path's last component. */
static int watch_parent(int fd, const char *path, char **ret_name) {
        _cleanup_free_ char *base = xstrdup(path), *dir = xstrdup(path);
        *ret_name = xstrdup(basename(base));
        const char *parent = dirname(dir);
        int wd = inotify_add_watch(fd, parent, WATCHED | IN_ONLYDIR);
        if (wd < 0)
                log_warn("auto_reload_registries: cannot watch %s (%m); changes there need a SIGHUP",
                         parent);
        return wd;
}

RegistriesWatch *registries_watch_start(Daemon *d, Error **reterr) {
        ImageSettings view = daemon_image_settings(d->options, d->config);
        RegistriesWatch *w = xcalloc(1, sizeof(*w));
        w->daemon = d;
        w->main_parent_wd = w->dropin_parent_wd = w->dropin_wd = -1;
        w->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        w->stop_fd = eventfd(0, EFD_CLOEXEC);
        if (w->inotify_fd < 0 || w->stop_fd < 0) {
                error_set(reterr, errno, "auto_reload_registries: %m");
                return registries_watch_stop(w);
        }
        w->main_parent_wd = watch_parent(w->inotify_fd, view.registries_conf, &w->main_name);
        w->dropin_parent_wd = watch_parent(w->inotify_fd, view.registries_conf_dir, &w->dropin_name);
        w->dropin_path = xstrdup(view.registries_conf_dir);
        w->dropin_wd = inotify_add_watch(w->inotify_fd, w->dropin_path, WATCHED | IN_ONLYDIR);
        if (w->dropin_wd < 0)
                log_info("auto_reload_registries: %s: %m; watching for it to appear", w->dropin_path);
        int r = pthread_create(&w->thread, NULL, watch_main, w);
        if (r != 0) {
                error_set(reterr, r, "auto_reload_registries: cannot start its thread: %s", strerror(r));
                return registries_watch_stop(w);
        }
        w->started = true;
        return w;
}

RegistriesWatch *registries_watch_stop(RegistriesWatch *w) {
        if (!w)
                return NULL;
        if (w->started) {
                uint64_t one = 1;
                if (write(w->stop_fd, &one, sizeof(one)) < 0)
                        log_warn("cannot stop the registries watcher: %m");
                pthread_join(w->thread, NULL);
        }
        if (w->inotify_fd >= 0)
                close(w->inotify_fd);
        if (w->stop_fd >= 0)
                close(w->stop_fd);
        free(w->main_name);
        free(w->dropin_name);
        free(w->dropin_path);
        free(w);
        return NULL;
}
