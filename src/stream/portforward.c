/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "portforward.h"
#include "session.h"

/*
 * Kubernetes' portforward protocol over SPDY: for each forwarded connection the client opens a "data" and
 * an "error" stream with the same requestID header and the port; we connect to localhost:port inside the
 * pod's network namespace and copy bytes both ways. Errors go to the error stream as text.
 */

#define MAX_PAIRS 64
/*
 * Client data queued for one connection: beyond this the session stops reading the client (it is the SPDY
 * window, so a client keeping to its window is never paused). Data that comes before the error stream, when
 * there is no connection yet, is kept up to the same bound.
 */
#define TO_SOCKET_HIGH SPDY_INITIAL_WINDOW
#define CONNECT_TIMEOUT_MS 5000

typedef struct Pair {
        char *request_id;
        uint16_t port;
        uint32_t data_id, error_id;
        int fd;
        Buf to_socket;
        bool client_fin, socket_eof, shut_wr, error_closed;
} Pair;

typedef struct Pf {
        Pair *pairs[MAX_PAIRS];
        size_t n;
        bool websocket; /* channels 2i (data) and 2i+1 (error) for the request's i-th port */
        char *netns;    /* NULL until looked up; "" for the host's */
} Pf;

int portforward_parse_port(const char *text) {
        if (isempty(text) || strlen(text) > 5)
                return -EINVAL;
        int port = 0;
        for (const char *p = text; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                port = port * 10 + (*p - '0');
        }
        return port >= 1 && port <= 65535 ? port : -EINVAL;
}

typedef struct ConnectJob {
        const char *netns;
        uint16_t port;
        int fd, err;
} ConnectJob;

static int connect_to(int family, uint16_t port) {
        int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        struct sockaddr_storage ss = {};
        socklen_t len;
        if (family == AF_INET) {
                struct sockaddr_in *a = (struct sockaddr_in *)&ss;
                *a = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(port)};
                a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                len = sizeof(*a);
        } else {
                struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
                *a = (struct sockaddr_in6){.sin6_family = AF_INET6, .sin6_port = htons(port)};
                a->sin6_addr = in6addr_loopback;
                len = sizeof(*a);
        }
        if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
                int e = errno;
                close(fd);
                return -e;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int err = 0;
        socklen_t elen = sizeof(err);
        if (poll(&p, 1, CONNECT_TIMEOUT_MS) <= 0)
                err = ETIMEDOUT;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
                err = errno;
        if (err) {
                close(fd);
                return -err;
        }
        return fd;
}

/*
 * Runs on a thread of its own: network namespaces are per thread, so this thread enters the pod's and
 * exits afterwards, and no other thread of the daemon ever changes namespace. The socket stays in the
 * namespace it was created in.
 */
static void *connect_thread(void *arg) {
        ConnectJob *j = arg;
        if (!isempty(j->netns)) {
                int ns = open(j->netns, O_RDONLY | O_CLOEXEC);
                if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) {
                        j->err = errno;
                        if (ns >= 0)
                                close(ns);
                        return NULL;
                }
                close(ns);
        }
        int fd = connect_to(AF_INET, j->port);
        if (fd == -ECONNREFUSED || fd == -ENETUNREACH) {
                int fd6 = connect_to(AF_INET6, j->port);
                if (fd6 >= 0 || fd6 == -ECONNREFUSED)
                        fd = fd6;
        }
        if (fd < 0)
                j->err = -fd;
        else
                j->fd = fd;
        return NULL;
}

int portforward_connect(const char *netns, uint16_t port, int *ret_fd) {
        ConnectJob j = {.netns = netns, .port = port, .fd = -1};
        pthread_t t;
        int r = pthread_create(&t, NULL, connect_thread, &j);
        if (r != 0)
                return -r;
        pthread_join(t, NULL);
        if (j.fd < 0)
                return -(j.err ? j.err : EIO);
        *ret_fd = j.fd;
        return 0;
}

static Pf *pf_of(Session *s) {
        if (!s->state)
                s->state = xcalloc(1, sizeof(Pf));
        return s->state;
}

static void pair_free(Pair *p) {
        if (p->fd >= 0)
                close(p->fd);
        buf_done(&p->to_socket);
        free(p->request_id);
        free(p);
}

static void pair_remove(Session *s, Pf *pf, size_t i) {
        /* Data that will never reach the socket: give its (session) window back. */
        session_consumed(s, pf->pairs[i]->data_id, pf->pairs[i]->to_socket.len);
        pair_free(pf->pairs[i]);
        pf->pairs[i] = pf->pairs[--pf->n];
}

static Pair *pair_find(Pf *pf, const char *request_id, size_t *ret_index) {
        for (size_t i = 0; i < pf->n; i++)
                if (streq_ptr(pf->pairs[i]->request_id, request_id)) {
                        *ret_index = i;
                        return pf->pairs[i];
                }
        return NULL;
}

static Pair *pair_by_stream(Pf *pf, uint32_t id, size_t *ret_index) {
        for (size_t i = 0; i < pf->n; i++)
                if (pf->pairs[i]->data_id == id || pf->pairs[i]->error_id == id) {
                        *ret_index = i;
                        return pf->pairs[i];
                }
        return NULL;
}

/* Report a failure on the error stream and close both streams; the pair is removed by the caller. */
static void pair_fail(Session *s, Pair *p, const char *what, int err) {
        _cleanup_free_ char *msg = xasprintf("error forwarding port %u%s: %s", p->port, what, strerror(err));
        log_info("stream session %s: %s", s->peer, msg);
        session_send(s, p->error_id, msg, strlen(msg));
        session_close_channel(s, p->error_id);
        session_close_channel(s, p->data_id);
}

static int pair_connect(Session *s, Pf *pf, size_t i) {
        Pair *p = pf->pairs[i];
        if (!pf->netns) {
                _cleanup_(error_freep) Error *err = NULL;
                if (s->backend->pod_netns(s->backend->userdata, s->req->pod_id, &pf->netns, &err) < 0) {
                        pair_fail(s, p, "", err->code);
                        pair_remove(s, pf, i);
                        return 0;
                }
        }
        int r = portforward_connect(pf->netns, p->port, &p->fd);
        if (r < 0) {
                pair_fail(s, p, " to the pod", -r);
                pair_remove(s, pf, i);
        }
        return 0;
}

/* Older clients send no requestID: the kubelet pairs streams by ID then (error N, data N+2). */
static char *request_id_of(const SpdyHeaders *h, uint32_t id, bool is_error) {
        char *rid = spdy_headers_get(h, "requestid");
        if (rid)
                return rid;
        return xasprintf("%u", is_error ? id : id - 2);
}

static int pf_stream_open(Session *s, uint32_t id, const SpdyHeaders *h, bool fin) {
        Pf *pf = pf_of(s);
        _cleanup_free_ char *type = spdy_headers_get(h, "streamtype");
        _cleanup_free_ char *port_text = spdy_headers_get(h, "port");
        bool is_error = streq_ptr(type, "error"), is_data = streq_ptr(type, "data");
        int port = portforward_parse_port(port_text);
        if ((!is_error && !is_data) || port < 0) {
                log_warn("stream session %s: refusing a port-forward stream (type '%s', port '%s')", s->peer,
                         strempty(type), strempty(port_text));
                session_reset(s, id, SPDY_RST_PROTOCOL_ERROR);
                return 0;
        }
        _cleanup_free_ char *rid = request_id_of(h, id, is_error);
        size_t i;
        Pair *p = pair_find(pf, rid, &i);
        if (!p) {
                if (pf->n >= MAX_PAIRS) {
                        log_warn("stream session %s: too many port-forward streams", s->peer);
                        session_reset(s, id, SPDY_RST_REFUSED_STREAM);
                        return 0;
                }
                p = xcalloc(1, sizeof(Pair));
                *p = (Pair){.request_id = TAKE_PTR(rid), .port = (uint16_t)port, .fd = -1};
                i = pf->n;
                pf->pairs[pf->n++] = p;
        }
        uint32_t *slot = is_error ? &p->error_id : &p->data_id;
        if (*slot != 0 || p->port != port) {
                session_reset(s, id, SPDY_RST_PROTOCOL_ERROR);
                return 0;
        }
        *slot = id;
        session_reply(s, id);
        if (is_data && fin)
                p->client_fin = true;
        if (p->data_id && p->error_id)
                return pair_connect(s, pf, i);
        return 0;
}

/*
 * WebSocket: one connection per port of the request, opened at once. Each channel first carries the port
 * number (two bytes, little endian), as the kubelet sends it; errors follow as text on the error channel.
 */
static int pf_begin(Session *s) {
        Pf *pf = pf_of(s);
        pf->websocket = true;
        if (s->req->n_ports == 0 || s->req->n_ports > MAX_PAIRS / 2) {
                log_warn("stream session %s: port-forward over WebSocket needs 1 to %d ports in the request",
                         s->peer, MAX_PAIRS / 2);
                return -EINVAL;
        }
        for (size_t i = 0; i < s->req->n_ports; i++) {
                Pair *p = xcalloc(1, sizeof(Pair));
                *p = (Pair){.request_id = xasprintf("%zu", i),
                            .port = (uint16_t)s->req->ports[i],
                            .fd = -1,
                            .data_id = (uint32_t)(2 * i),
                            .error_id = (uint32_t)(2 * i + 1)};
                pf->pairs[pf->n++] = p;
                uint8_t port_le[2] = {p->port & 0xff, p->port >> 8};
                session_send(s, p->data_id, port_le, 2);
                session_send(s, p->error_id, port_le, 2);
        }
        for (size_t i = pf->n; i-- > 0;)
                pair_connect(s, pf, i);
        if (pf->n == 0)
                session_finish(s); /* every connection failed; the errors are queued */
        return 0;
}

static int pf_data(Session *s, uint32_t id, const uint8_t *d, size_t n) {
        Pf *pf = pf_of(s);
        size_t i;
        Pair *p = pair_by_stream(pf, id, &i);
        if (!p || id != p->data_id || p->client_fin) {
                session_consumed(s, id, n);
                return 0;
        }
        if (p->fd < 0 && p->to_socket.len + n > TO_SOCKET_HIGH) {
                /* Only a client that ignores our window gets here: the error stream may never come. */
                log_warn("stream session %s: too much data before the port-forward error stream; resetting",
                         s->peer);
                session_reset(s, id, SPDY_RST_FLOW_CONTROL_ERROR);
                session_consumed(s, id, n);
                pair_remove(s, pf, i);
                return 0;
        }
        buf_append(&p->to_socket, d, n); /* consumed once written to the socket */
        return 0;
}

static void pf_fin(Session *s, uint32_t id) {
        Pf *pf = pf_of(s);
        size_t i;
        Pair *p = pair_by_stream(pf, id, &i);
        if (p && id == p->data_id)
                p->client_fin = true;
}

static void pf_reset(Session *s, uint32_t id) {
        Pf *pf = pf_of(s);
        size_t i;
        Pair *p = pair_by_stream(pf, id, &i);
        if (!p)
                return;
        /* The connection is over: its other stream is of no use either. */
        uint32_t other = id == p->data_id ? p->error_id : p->data_id;
        if (other && s->proto == PROTO_SPDY)
                session_reset(s, other, SPDY_RST_CANCEL);
        pair_remove(s, pf, i);
}

static bool pf_can_receive(Session *s) {
        Pf *pf = pf_of(s);
        /* Pairs not connected yet bound themselves (pf_data): their error stream must still be read. */
        for (size_t i = 0; i < pf->n; i++)
                if (pf->pairs[i]->fd >= 0 && pf->pairs[i]->to_socket.len > TO_SOCKET_HIGH)
                        return false;
        return true;
}

static size_t pf_pollfds(Session *s, struct pollfd *p, size_t max) {
        Pf *pf = pf_of(s);
        size_t n = 0;
        for (size_t i = 0; i < pf->n && n < max; i++) {
                Pair *x = pf->pairs[i];
                bool room = session_can_send_on(s, x->data_id);
                short ev = (room && !x->socket_eof ? POLLIN : 0) | (x->to_socket.len ? POLLOUT : 0);
                p[n++] = (struct pollfd){.fd = ev ? x->fd : -1, .events = ev};
        }
        return n;
}

/* Move bytes for one connection; true when it is over (both directions closed). */
static bool pair_step(Session *s, Pair *p, short revents) {
        if (p->fd < 0)
                return false; /* not connected yet */
        if ((revents & (POLLIN | POLLHUP | POLLERR)) && !p->socket_eof) {
                uint8_t b[SESSION_READ_CHUNK];
                ssize_t n = read(p->fd, b, sizeof(b));
                if (n > 0) {
                        session_send(s, p->data_id, b, (size_t)n);
                } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                        p->socket_eof = true;
                        session_close_channel(s, p->data_id);
                }
        }
        if ((revents & POLLOUT) && p->to_socket.len) {
                ssize_t n = send(p->fd, p->to_socket.data, p->to_socket.len, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n > 0) {
                        buf_consume(&p->to_socket, (size_t)n);
                        session_consumed(s, p->data_id, (size_t)n);
                } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                        session_consumed(s, p->data_id, p->to_socket.len);
                        p->to_socket.len = 0;
                        p->client_fin = true;
                }
        }
        if (p->client_fin && p->to_socket.len == 0 && !p->shut_wr) {
                shutdown(p->fd, SHUT_WR);
                p->shut_wr = true;
        }
        /*
         * The error stream ends with the pod's side, after the last data (which may wait for window), as the
         * kubelet ends it: client-go closes the local connection only once its error stream is done. Client
         * data may still follow on the data stream until the client's FIN.
         */
        if (p->socket_eof && !p->error_closed && session_pending(s, p->data_id) == 0) {
                session_close_channel(s, p->error_id);
                p->error_closed = true;
        }
        return p->socket_eof && p->error_closed && (p->shut_wr || s->proto == PROTO_WEBSOCKET);
        return false;
}

static int pf_on_poll(Session *s, struct pollfd *p, size_t n) {
        Pf *pf = pf_of(s);
        /* pollfds() filled one entry per pair in order; pairs are only removed here, back to front. */
        for (size_t i = pf->n; i-- > 0;) {
                /* Frames parsed since pollfds() may have removed pairs: trust an entry only if its fd
                 * matches. */
                short rev = i < n && p[i].fd >= 0 && p[i].fd == pf->pairs[i]->fd ? p[i].revents : 0;
                if (pair_step(s, pf->pairs[i], rev))
                        pair_remove(s, pf, i);
        }
        /* Over WebSocket the session is its ports: it ends when the last connection did. */
        if (pf->websocket && pf->n == 0)
                session_finish(s);
        return 0;
}

static void pf_end(Session *s, bool client_gone) {
        Pf *pf = s->state;
        if (!pf)
                return;
        while (pf->n > 0)
                pair_remove(s, pf, pf->n - 1);
        free(pf->netns);
        free(pf);
        s->state = NULL;
        (void)client_gone;
}

const SessionOps portforward_ops = {
        .stream_open = pf_stream_open,
        .begin = pf_begin,
        .data = pf_data,
        .fin = pf_fin,
        .reset = pf_reset,
        .can_receive = pf_can_receive,
        .pollfds = pf_pollfds,
        .on_poll = pf_on_poll,
        .end = pf_end,
};
