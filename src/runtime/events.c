/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "log.h"
#include "runtime-private.h"

/*
 * Lifecycle events for the evented PLEG. They are recorded where the state changes, under rt->lock,
 * so their order is the order of the changes (a STOPPED noticed by the exit watcher can never follow
 * the DELETED of the remove that waited for it). Statuses are copied then; a thread of its own hands
 * them to the sink, so no lifecycle call ever waits for a subscriber. The queue is bounded: a sink
 * that falls that far behind loses events, counted in containers_events_dropped_total. With
 * enable_pod_events they are kept from the start, so the exits a restarted daemon finds while it
 * loads its state reach the sink (and the first subscriber) too.
 */

#define EVENTS_QUEUE_MAX 1000

static int64_t realtime_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void event_free(RuntimeEvent *ev) {
        free(ev->id);
        pod_info_free(ev->pod);
        for (size_t i = 0; i < ev->n_containers; i++)
                container_info_free(ev->containers[i]);
        free(ev->containers);
        free(ev);
}

static RuntimeEvent *event_new_locked(Runtime *rt, const char *id, const char *pod_id,
                                      RuntimeEventType type) {
        RuntimeEvent *ev = xcalloc(1, sizeof(*ev));
        ev->type = type;
        ev->id = xstrdup(id);
        ev->created_at = realtime_ns();
        for (size_t i = 0; i < rt->n_pods; i++)
                if (strcmp(rt->pods[i]->id, pod_id) == 0)
                        ev->pod = pod_snapshot(rt->pods[i]);
        ev->containers = xcalloc(rt->n_ctrs + 1, sizeof(*ev->containers));
        for (size_t i = 0; i < rt->n_ctrs; i++) {
                const Container *c = rt->ctrs[i];
                if (!c->infra && !c->claim.creating && strcmp(c->pod_id, pod_id) == 0)
                        ev->containers[ev->n_containers++] = container_snapshot(c);
        }
        return ev;
}

void event_emit_locked(Runtime *rt, const char *id, const char *pod_id, RuntimeEventType type) {
        pthread_mutex_lock(&rt->events_lock);
        bool wanted = rt->events_enabled;
        bool full = rt->n_events >= EVENTS_QUEUE_MAX;
        pthread_mutex_unlock(&rt->events_lock);
        if (!wanted)
                return;
        if (full) {
                metric_inc0(rt->events_dropped);
                return;
        }
        RuntimeEvent *ev = event_new_locked(rt, id, pod_id, type);
        pthread_mutex_lock(&rt->events_lock);
        rt->events = xrealloc(rt->events, (rt->n_events + 1) * sizeof(*rt->events));
        rt->events[rt->n_events++] = ev;
        pthread_cond_signal(&rt->events_cond);
        pthread_mutex_unlock(&rt->events_lock);
}

static void *events_main(void *arg) {
        Runtime *rt = arg;
        pthread_mutex_lock(&rt->events_lock);
        for (;;) {
                while (!rt->events_stop && (rt->n_events == 0 || !rt->event_sink))
                        pthread_cond_wait(&rt->events_cond, &rt->events_lock);
                if (rt->events_stop)
                        break;
                RuntimeEvent **batch = rt->events;
                size_t n = rt->n_events;
                rt->events = NULL;
                rt->n_events = 0;
                RuntimeEventSink sink = rt->event_sink;
                void *data = rt->event_sink_data;
                pthread_mutex_unlock(&rt->events_lock);
                for (size_t i = 0; i < n; i++) {
                        if (sink)
                                sink(data, batch[i]);
                        event_free(batch[i]);
                }
                free(batch);
                pthread_mutex_lock(&rt->events_lock);
        }
        pthread_mutex_unlock(&rt->events_lock);
        return NULL;
}

void runtime_set_event_sink(Runtime *rt, RuntimeEventSink sink, void *userdata) {
        pthread_mutex_lock(&rt->events_lock);
        rt->event_sink = sink;
        rt->event_sink_data = userdata;
        pthread_cond_broadcast(&rt->events_cond);
        pthread_mutex_unlock(&rt->events_lock);
}

void runtime_event_dropped(Runtime *rt) {
        metric_inc0(rt->events_dropped);
}

void events_start(Runtime *rt) {
        if (pthread_create(&rt->events_thread, NULL, events_main, rt) != 0) {
                log_warn("cannot start the events thread: GetContainerEvents will stay silent");
                return;
        }
        rt->events_started = true;
}

void events_stop(Runtime *rt) {
        if (rt->events_started) {
                pthread_mutex_lock(&rt->events_lock);
                rt->events_stop = true;
                pthread_cond_broadcast(&rt->events_cond);
                pthread_mutex_unlock(&rt->events_lock);
                pthread_join(rt->events_thread, NULL);
                rt->events_started = false;
        }
        for (size_t i = 0; i < rt->n_events; i++)
                event_free(rt->events[i]);
        free(rt->events);
        rt->events = NULL;
        rt->n_events = 0;
}
