/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "log.h"
#include "pb-util.h"
#include "rpc-events.h"
#include "rpc-pods.h"
#include "runtime.h"

/* Events before the first subscriber (exits a restarted daemon found) are kept for it, this many. */
#define BACKLOG_MAX 1000

typedef struct Packed {
        uint8_t *data;
        size_t len;
} Packed;

struct EventHub {
        Daemon *daemon;
        pthread_mutex_t lock;
        RpcStream **subs;
        size_t n_subs;
        bool had_subscriber;
        Packed *backlog; /* oldest first */
        size_t n_backlog;
};

typedef struct Subscription {
        EventHub *hub;
        RpcStream *stream;
} Subscription;

static Runtime__V1__ContainerEventType type_to_cri(RuntimeEventType t) {
        static const Runtime__V1__ContainerEventType map[] = {
                [EVENT_CREATED] = RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_CREATED_EVENT,
                [EVENT_STARTED] = RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STARTED_EVENT,
                [EVENT_STOPPED] = RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STOPPED_EVENT,
                [EVENT_DELETED] = RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_DELETED_EVENT,
        };
        return map[t];
}

/* The event as the CRI message, packed once for every subscriber. */
static uint8_t *event_pack(const RuntimeEvent *ev, size_t *ret_len) {
        Runtime__V1__ContainerEventResponse *m =
                PB_NEW(Runtime__V1__ContainerEventResponse, RUNTIME__V1__CONTAINER_EVENT_RESPONSE__INIT);
        m->container_id = xstrdup(ev->id);
        m->container_event_type = type_to_cri(ev->type);
        m->created_at = ev->created_at;
        if (ev->pod)
                m->pod_sandbox_status = pod_status_to_cri(ev->pod);
        for (size_t i = 0; i < ev->n_containers; i++)
                PB_APPEND(m->n_containers_statuses, m->containers_statuses,
                          container_status_to_cri(ev->containers[i]));
        size_t len = protobuf_c_message_get_packed_size(&m->base);
        uint8_t *buf = xmalloc(len + 1);
        protobuf_c_message_pack(&m->base, buf);
        protobuf_c_message_free_unpacked(&m->base, NULL);
        *ret_len = len;
        return buf;
}

/* h->lock held; takes `data`. The oldest event makes room when the backlog is full. */
static void keep_for_first_subscriber(EventHub *h, uint8_t *data, size_t len) {
        if (h->n_backlog == BACKLOG_MAX) {
                free(h->backlog[0].data);
                memmove(h->backlog, h->backlog + 1, (BACKLOG_MAX - 1) * sizeof(Packed));
                h->n_backlog--;
                runtime_event_dropped(h->daemon->runtime);
        }
        h->backlog = xrealloc(h->backlog, (h->n_backlog + 1) * sizeof(Packed));
        h->backlog[h->n_backlog++] = (Packed){.data = data, .len = len};
}

/* The runtime's events thread. Sends never block: a full queue drops the event for that subscriber. */
static void deliver(void *userdata, const RuntimeEvent *ev) {
        EventHub *h = userdata;
        pthread_mutex_lock(&h->lock);
        bool wanted = h->n_subs > 0 || !h->had_subscriber;
        pthread_mutex_unlock(&h->lock);
        if (!wanted)
                return;
        size_t len = 0;
        _cleanup_free_ uint8_t *buf = event_pack(ev, &len);
        pthread_mutex_lock(&h->lock);
        if (!h->had_subscriber) {
                keep_for_first_subscriber(h, TAKE_PTR(buf), len);
                pthread_mutex_unlock(&h->lock);
                return;
        }
        for (size_t i = 0; i < h->n_subs; i++)
                if (!rpc_stream_send(h->subs[i], buf, len))
                        runtime_event_dropped(h->daemon->runtime);
        pthread_mutex_unlock(&h->lock);
}

EventHub *event_hub_new(Daemon *d) {
        EventHub *h = xcalloc(1, sizeof(*h));
        h->daemon = d;
        pthread_mutex_init(&h->lock, NULL);
        if (d->config->enable_pod_events)
                runtime_set_event_sink(d->runtime, deliver, h);
        return h;
}

EventHub *event_hub_free(EventHub *h) {
        if (!h)
                return NULL;
        for (size_t i = 0; i < h->n_subs; i++)
                rpc_stream_unref(h->subs[i]);
        free(h->subs);
        for (size_t i = 0; i < h->n_backlog; i++)
                free(h->backlog[i].data);
        free(h->backlog);
        pthread_mutex_destroy(&h->lock);
        return mfree(h);
}

static void unsubscribe(void *userdata) {
        Subscription *s = userdata;
        EventHub *h = s->hub;
        pthread_mutex_lock(&h->lock);
        for (size_t i = 0; i < h->n_subs; i++)
                if (h->subs[i] == s->stream) {
                        h->subs[i] = h->subs[--h->n_subs];
                        break;
                }
        pthread_mutex_unlock(&h->lock);
        rpc_stream_unref(s->stream);
        free(s);
}

int rpc_get_container_events(RpcContext *ctx, const ProtobufCMessage *req, RpcStream *stream,
                             Error **reterr) {
        EventHub *h = ctx->daemon->events;
        if (!ctx->daemon->config->enable_pod_events)
                return error_set(reterr, EOPNOTSUPP,
                                 "container events are off: set crio.runtime.enable_pod_events = true");
        Subscription *s = xmalloc(sizeof(*s));
        *s = (Subscription){.hub = h, .stream = rpc_stream_ref(stream)};
        rpc_stream_on_close(stream, unsubscribe, s);
        pthread_mutex_lock(&h->lock);
        /* The first subscriber (a kubelet after the daemon's restart) hears what happened before it. */
        for (size_t i = 0; i < h->n_backlog; i++) {
                if (!rpc_stream_send(stream, h->backlog[i].data, h->backlog[i].len))
                        runtime_event_dropped(h->daemon->runtime);
                free(h->backlog[i].data);
        }
        h->backlog = mfree(h->backlog);
        h->n_backlog = 0;
        h->had_subscriber = true;
        PB_APPEND(h->n_subs, h->subs, stream);
        pthread_mutex_unlock(&h->lock);
        return 0;
}
