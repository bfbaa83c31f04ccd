/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "fs-util.h"
#include "log.h"
#include "runtime-private.h"
#include "strv.h"

/*
 * RemoveContainer answers once the container is out of the runtime, its state row is deleted and it
 * is gone from the lists; deleting its directories (tens of unlinks) and unmounting its rootfs, if
 * its stop did not (a container removed while created), run here afterwards. Whoever depends on
 * those files being gone waits with teardown_wait(); shutdown drains the queue; a daemon killed in
 * between finds the leftovers at start-up (teardown_sweep_orphans), since no row names them.
 */

typedef struct Pending {
        Container *c;
        struct Pending *next;
} Pending;

static void *teardown_main(void *arg) {
        Runtime *rt = arg;
        prctl(PR_SET_NAME, "teardown");
        pthread_mutex_lock(&rt->teardown.lock);
        for (;;) {
                while (!rt->teardown.head && !rt->teardown.stop)
                        pthread_cond_wait(&rt->teardown.wake, &rt->teardown.lock);
                Pending *p = rt->teardown.head;
                if (!p)
                        break;
                /* The entry stays queued while it runs, so that waiters see it as pending. */
                pthread_mutex_unlock(&rt->teardown.lock);
                container_teardown_files(rt, p->c);
                pthread_mutex_lock(&rt->teardown.lock);
                rt->teardown.head = p->next;
                if (!rt->teardown.head)
                        rt->teardown.tail = NULL;
                pthread_cond_broadcast(&rt->teardown.done);
                container_unref(p->c);
                free(p);
        }
        pthread_mutex_unlock(&rt->teardown.lock);
        return NULL;
}

void teardown_init(Runtime *rt) {
        pthread_mutex_init(&rt->teardown.lock, NULL);
        pthread_cond_init(&rt->teardown.wake, NULL);
        pthread_cond_init(&rt->teardown.done, NULL);
}

void teardown_enqueue(Runtime *rt, Container *c) {
        Pending *p = xmalloc(sizeof(*p));
        *p = (Pending){.c = container_ref(c)};
        pthread_mutex_lock(&rt->teardown.lock);
        /* The thread starts with the first removal: an idle daemon does not keep it. */
        if (!rt->teardown.started && !rt->teardown.stop)
                rt->teardown.started = pthread_create(&rt->teardown.thread, NULL, teardown_main, rt) == 0;
        if (!rt->teardown.started) {
                pthread_mutex_unlock(&rt->teardown.lock);
                container_teardown_files(rt, c);
                container_unref(c);
                free(p);
                return;
        }
        if (rt->teardown.tail)
                rt->teardown.tail->next = p;
        else
                rt->teardown.head = p;
        rt->teardown.tail = p;
        pthread_cond_signal(&rt->teardown.wake);
        pthread_mutex_unlock(&rt->teardown.lock);
}

static bool pending_matches(const Pending *p, const char *pod_id, const char *image_id) {
        for (; p; p = p->next)
                if ((!pod_id || strcmp(p->c->pod_id, pod_id) == 0) &&
                    (!image_id || (p->c->image_id && strcmp(p->c->image_id, image_id) == 0)))
                        return true;
        return false;
}

void teardown_wait(Runtime *rt, const char *pod_id, const char *image_id) {
        pthread_mutex_lock(&rt->teardown.lock);
        while (pending_matches(rt->teardown.head, pod_id, image_id))
                pthread_cond_wait(&rt->teardown.done, &rt->teardown.lock);
        pthread_mutex_unlock(&rt->teardown.lock);
}

void teardown_done(Runtime *rt) {
        pthread_mutex_lock(&rt->teardown.lock);
        rt->teardown.stop = true;
        pthread_cond_signal(&rt->teardown.wake);
        bool started = rt->teardown.started;
        pthread_mutex_unlock(&rt->teardown.lock);
        /* The thread finishes what is queued before it sees the stop. */
        if (started)
                pthread_join(rt->teardown.thread, NULL);
        pthread_mutex_destroy(&rt->teardown.lock);
        pthread_cond_destroy(&rt->teardown.wake);
        pthread_cond_destroy(&rt->teardown.done);
}

static bool known_container(Runtime *rt, const char *id) {
        for (size_t i = 0; i < rt->n_ctrs; i++)
                if (strcmp(rt->ctrs[i]->id, id) == 0)
                        return true;
        return false;
}

static bool is_container_id(const char *s) {
        size_t n = strspn(s, "0123456789abcdef");
        return n == 64 && s[n] == '\0';
}

/* Remove what a container left under our directories, from its ID alone. */
static void remove_leftovers(Runtime *rt, const char *id) {
        _cleanup_free_ char *bundle = xasprintf("%s/containers/%s", rt->paths.runroot, id);
        _cleanup_free_ char *rootfs = xasprintf("%s/rootfs", bundle);
        _cleanup_free_ char *layer = xasprintf("%s/containers/%s", rt->paths.root, id);
        Container c = {.id = (char *)id, .bundle = bundle, .rootfs = rootfs, .layer = layer};
        log_info("removing the leftovers of container %s, removed before the daemon stopped", id);
        container_teardown_files(rt, &c);
}

/* IDs of the container directories under `dir` that no state row names. */
static char **orphans_in(Runtime *rt, const char *dir, char **ids) {
        DIR *d = opendir(dir);
        if (!d)
                return ids;
        struct dirent *de;
        while ((de = readdir(d)))
                if (is_container_id(de->d_name) && !known_container(rt, de->d_name) &&
                    !strv_contains(ids, de->d_name))
                        ids = strv_push(ids, xstrdup(de->d_name));
        closedir(d);
        return ids;
}

void teardown_sweep_orphans(Runtime *rt) {
        _cleanup_free_ char *bundles = xasprintf("%s/containers", rt->paths.runroot);
        _cleanup_free_ char *layers = xasprintf("%s/containers", rt->paths.root);
        _cleanup_strv_free_ char **ids = orphans_in(rt, layers, orphans_in(rt, bundles, NULL));
        STRV_FOREACH(id, ids)
                remove_leftovers(rt, *id);
}
