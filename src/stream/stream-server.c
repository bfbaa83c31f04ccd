/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "cancel.h"
#include "fs-util.h"
#include "log.h"
#include "negotiate.h"
#include "session.h"
#include "stream.h"
#include "token.h"
#include "websocket.h"

/* Upgrade requests are a few headers; anything bigger is refused by libmicrohttpd (431) and closed. */
#define HTTP_MEMORY_LIMIT (16 * 1024)
#define HTTP_TIMEOUT_S 30
#define MAX_CONNECTIONS 256

struct StreamServer {
        struct MHD_Daemon *mhd;
        StreamBackend backend;
        TokenCache tokens;
        char *url_base; /* http://127.0.0.1:PORT */
        uint16_t port;
        int64_t idle_timeout_ns;
        int stop_fd;
        pthread_mutex_t lock;
        pthread_cond_t idle;
        size_t sessions;
        char *cert, *key, *ca; /* PEM; ca set: clients must present a certificate it signed */
};

/* What one HTTP request resolved to, carried from the access handler to the upgrade handler. */
typedef struct Pending {
        StreamServer *server;
        StreamRequest *req;
        SessionProto proto;
        int version;
        bool base64;
        char *peer;
} Pending;

static void pending_free(Pending *p) {
        if (!p)
                return;
        stream_request_free(p->req);
        free(p->peer);
        free(p);
}

typedef struct SessionThread {
        StreamServer *server;
        Session *session;
        struct MHD_UpgradeResponseHandle *urh;
} SessionThread;

static void *session_thread(void *arg) {
        SessionThread *t = arg;
        session_run(t->session, t->server->stop_fd);
        MHD_upgrade_action(t->urh, MHD_UPGRADE_ACTION_CLOSE);
        session_free(t->session);
        StreamServer *s = t->server;
        free(t);
        pthread_mutex_lock(&s->lock);
        if (--s->sessions == 0)
                pthread_cond_broadcast(&s->idle);
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
                       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh) {
        Pending *p = con_cls;
        StreamServer *srv = p->server;
        Session *s = xcalloc(1, sizeof(Session));
        *s = (Session){.proto = p->proto,
                       .version = p->version,
                       .base64 = p->base64,
                       .fd = sock,
                       .req = TAKE_PTR(p->req),
                       .backend = &srv->backend,
                       .peer = TAKE_PTR(p->peer),
                       .idle_timeout_ns = srv->idle_timeout_ns};
        s->ops = s->req->kind == STREAM_PORTFORWARD ? &portforward_ops : &remotecommand_ops;
        buf_append(&s->in, extra_in, extra_in_size);
        SessionThread *t = xcalloc(1, sizeof(SessionThread));
        *t = (SessionThread){.server = srv, .session = s, .urh = urh};
        spdy_flow_init(&s->flow);
        if (spdy_z_init(&s->z) < 0) {
                MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
                session_free(s);
                free(t);
                return;
        }
        pthread_mutex_lock(&srv->lock);
        srv->sessions++;
        pthread_mutex_unlock(&srv->lock);
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_t tid;
        if (pthread_create(&tid, &attr, session_thread, t) != 0) {
                log_error("stream session %s: cannot start a thread", s->peer);
                s->client_gone = true;
                session_thread(t);
        }
        pthread_attr_destroy(&attr);
        (void)cls;
        (void)conn;
}

static enum MHD_Result respond_text(struct MHD_Connection *conn, unsigned status, const char *text) {
        struct MHD_Response *r =
                MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
        if (!r)
                return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
        enum MHD_Result ret = MHD_queue_response(conn, status, r);
        MHD_destroy_response(r);
        return ret;
}

/* Every value of a header that may be repeated, joined with commas (as HTTP allows). */
typedef struct Collect {
        const char *name;
        Buf text;
} Collect;

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value) {
        Collect *c = cls;
        if (key && value && strcasecmp(key, c->name) == 0) {
                if (c->text.len)
                        buf_append(&c->text, ",", 1);
                buf_append(&c->text, value, strlen(value));
        }
        (void)kind;
        return MHD_YES;
}

static char *header_values(struct MHD_Connection *conn, const char *name) {
        Collect c = {.name = name};
        MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &c);
        buf_append(&c.text, "", 1);
        return (char *)c.text.data;
}

static char *peer_name(struct MHD_Connection *conn) {
        const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        char host[INET6_ADDRSTRLEN] = "?";
        uint16_t port = 0;
        if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET) {
                const struct sockaddr_in *a = (const struct sockaddr_in *)ci->client_addr;
                inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
                port = ntohs(a->sin_port);
        } else if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET6) {
                const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ci->client_addr;
                inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
                port = ntohs(a->sin6_port);
        }
        return xasprintf("%s:%u", host, port);
}

static enum MHD_Result refuse(struct MHD_Connection *conn, const char *peer, unsigned status,
                              const char *msg) {
        log_info("stream server: %s from %s", msg, peer);
        return respond_text(conn, status, msg);
}

static enum MHD_Result upgrade_spdy(struct MHD_Connection *conn, Pending *p) {
        _cleanup_free_ char *offered = header_values(conn, "X-Stream-Protocol-Version");
        const char *chosen = negotiate_spdy(p->req->kind, offered, &p->version);
        if (!chosen)
                return refuse(conn, p->peer, MHD_HTTP_FORBIDDEN, "unable to negotiate a stream protocol");
        struct MHD_Response *r = MHD_create_response_for_upgrade(on_upgrade, p->server);
        if (!r)
                return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, "SPDY/3.1");
        MHD_add_response_header(r, "X-Stream-Protocol-Version", chosen);
        p->proto = PROTO_SPDY;
        enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result upgrade_websocket(struct MHD_Connection *conn, Pending *p) {
        const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
        const char *version = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Version");
        if (!key || strlen(key) > 64 || !streq_ptr(version, "13"))
                return refuse(conn, p->peer, MHD_HTTP_BAD_REQUEST, "bad WebSocket handshake");
        _cleanup_free_ char *offered = header_values(conn, "Sec-WebSocket-Protocol");
        const char *chosen = negotiate_websocket(p->req->kind, offered, &p->version, &p->base64);
        if (!chosen)
                return refuse(conn, p->peer, MHD_HTTP_FORBIDDEN, "unable to negotiate a stream protocol");
        _cleanup_free_ char *accept = ws_accept_key(key);
        struct MHD_Response *r = MHD_create_response_for_upgrade(on_upgrade, p->server);
        if (!r || !accept)
                return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, "websocket");
        MHD_add_response_header(r, "Sec-WebSocket-Accept", accept);
        if (*chosen)
                MHD_add_response_header(r, "Sec-WebSocket-Protocol", chosen);
        p->proto = PROTO_WEBSOCKET;
        enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, r);
        MHD_destroy_response(r);
        return ret;
}

/* stream_tls_ca: a client certificate that verifies against the CA (libmicrohttpd only asks for one). */
static bool client_verified(struct MHD_Connection *conn) {
        const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (!ci || !ci->tls_session)
                return false;
        gnutls_session_t tls = ci->tls_session;
        unsigned int n = 0, status = 0;
        if (!gnutls_certificate_get_peers(tls, &n) || n == 0)
                return false;
        return gnutls_certificate_verify_peers2(tls, &status) == GNUTLS_E_SUCCESS && status == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
        StreamServer *srv = cls;
        if (*con_cls)
                return MHD_NO; /* upgrade requests carry no body: a second call means there is one */
        _cleanup_free_ char *peer = peer_name(conn);
        if (srv->ca && !client_verified(conn))
                return refuse(conn, peer, MHD_HTTP_FORBIDDEN, "no valid client certificate");
        StreamKind kind;
        const char *token = NULL;
        if (!stream_parse_path(url, &kind, &token))
                return refuse(conn, peer, MHD_HTTP_NOT_FOUND, "unknown streaming path");
        StreamRequest *req = token_cache_take(&srv->tokens, token, monotonic_ns());
        if (!req)
                return refuse(conn, peer, MHD_HTTP_NOT_FOUND, "unknown or expired stream token");
        Pending *p = xcalloc(1, sizeof(Pending));
        *p = (Pending){.server = srv, .req = req, .peer = TAKE_PTR(peer)};
        *con_cls = p;
        if (req->kind != kind)
                return refuse(conn, p->peer, MHD_HTTP_NOT_FOUND, "stream token used on the wrong path");
        _cleanup_free_ char *upgrade = header_values(conn, MHD_HTTP_HEADER_UPGRADE);
        if (strcasestr(upgrade, "websocket"))
                return upgrade_websocket(conn, p);
        if (strcasestr(upgrade, "SPDY/3.1"))
                return upgrade_spdy(conn, p);
        (void)method;
        (void)version;
        (void)upload_data;
        (void)upload_data_size;
        return refuse(conn, p->peer, MHD_HTTP_BAD_REQUEST, "the streaming server needs an Upgrade request");
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode code) {
        pending_free(*con_cls);
        *con_cls = NULL;
        (void)cls;
        (void)conn;
        (void)code;
}

static void on_mhd_error(void *cls, const char *fmt, va_list ap) _printf_(2, 0);

static void on_mhd_error(void *cls, const char *fmt, va_list ap) {
        _cleanup_free_ char *msg = NULL;
        if (vasprintf(&msg, fmt, ap) >= 0)
                log_debug("stream server: %s", msg);
        (void)cls;
}

static int bind_address(const StreamConfig *c, struct sockaddr_storage *ss, uint16_t *ret_port) {
        int port = 0;
        if (!isempty(c->port) && strcmp(c->port, "0") != 0) {
                char *end = NULL;
                long v = strtol(c->port, &end, 10);
                if (*end || v < 1 || v > 65535)
                        return -EINVAL;
                port = (int)v;
        }
        const char *addr = isempty(c->address) ? "127.0.0.1" : c->address;
        struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
                a4->sin_family = AF_INET;
                a4->sin_port = htons((uint16_t)port);
        } else if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
                a6->sin6_family = AF_INET6;
                a6->sin6_port = htons((uint16_t)port);
        } else {
                return -EINVAL;
        }
        *ret_port = (uint16_t)port;
        return 0;
}

static int load_tls(StreamServer *s, const StreamConfig *c, Error **reterr) {
        if (isempty(c->tls_cert) || isempty(c->tls_key))
                return error_set(reterr, EINVAL,
                                 "stream_enable_tls needs stream_tls_cert and stream_tls_key");
        if (read_file(c->tls_cert, 1 << 20, &s->cert, NULL) < 0)
                return error_set(reterr, errno ? errno : EIO, "cannot read %s", c->tls_cert);
        if (read_file(c->tls_key, 1 << 20, &s->key, NULL) < 0)
                return error_set(reterr, errno ? errno : EIO, "cannot read %s", c->tls_key);
        if (!isempty(c->tls_ca) && read_file(c->tls_ca, 1 << 20, &s->ca, NULL) < 0)
                return error_set(reterr, errno ? errno : EIO, "cannot read %s", c->tls_ca);
        return 0;
}

static int start_mhd(StreamServer *s, const StreamConfig *c, struct sockaddr_storage *ss, Error **reterr) {
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                         MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG |
                         (ss->ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
        if (c->tls)
                flags |= MHD_USE_TLS;
        /* With a CA, libmicrohttpd asks clients for a certificate; on_request() refuses those without one.
         */
        struct MHD_OptionItem tls_opts[] = {
                /* The first END ends the list: optional items go last. */
                {c->tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, s->cert},
                {MHD_OPTION_HTTPS_MEM_KEY, 0, s->key},
                {c->tls_priorities ? MHD_OPTION_HTTPS_PRIORITIES : MHD_OPTION_END, 0,
                 (void *)c->tls_priorities},
                {s->ca ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0, s->ca},
                {MHD_OPTION_END, 0, NULL},
        };
        s->mhd = MHD_start_daemon(
                flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, s,
                MHD_OPTION_SOCK_ADDR, ss, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY_LIMIT,
                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
                (unsigned)MAX_CONNECTIONS, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_ARRAY,
                tls_opts, MHD_OPTION_END);
        if (!s->mhd)
                return error_set(reterr, EADDRINUSE, "cannot start the streaming server on %s:%s",
                                 strempty(c->address), strempty(c->port));
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
        s->port = info ? info->port : 0;
        return 0;
}

static char *url_base(const StreamConfig *c, uint16_t port) {
        const char *addr = isempty(c->address) ? "127.0.0.1" : c->address;
        bool v6 = strchr(addr, ':') != NULL;
        return xasprintf("%s://%s%s%s:%u", c->tls ? "https" : "http", v6 ? "[" : "", addr, v6 ? "]" : "",
                         port);
}

int stream_server_new(const StreamConfig *c, const StreamBackend *backend, StreamServer **ret,
                      Error **reterr) {
        struct sockaddr_storage ss = {};
        uint16_t port = 0;
        if (bind_address(c, &ss, &port) < 0)
                return error_set(reterr, EINVAL, "invalid stream_address '%s' or stream_port '%s'",
                                 strempty(c->address), strempty(c->port));
        StreamServer *s = xcalloc(1, sizeof(StreamServer));
        s->backend = *backend;
        s->idle_timeout_ns = c->idle_timeout_ms * 1000000LL;
        s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->idle, NULL);
        token_cache_init(&s->tokens, c->max_pending, c->token_ttl_ms * 1000000LL);
        if (!c->tls && !isempty(c->tls_ca))
                log_warn("stream_tls_ca has no effect without stream_enable_tls");
        int r = c->tls ? load_tls(s, c, reterr) : 0;
        if (r >= 0)
                r = start_mhd(s, c, &ss, reterr);
        if (r < 0) {
                stream_server_free(s);
                return r;
        }
        s->url_base = url_base(c, s->port);
        log_info("streaming server listening on %s", s->url_base);
        *ret = s;
        return 0;
}

StreamServer *stream_server_free(StreamServer *s) {
        if (!s)
                return NULL;
        uint64_t one = 1;
        if (write(s->stop_fd, &one, sizeof(one)) < 0)
                log_debug("stream server: cannot signal sessions: %m");
        pthread_mutex_lock(&s->lock);
        while (s->sessions > 0)
                pthread_cond_wait(&s->idle, &s->lock);
        pthread_mutex_unlock(&s->lock);
        if (s->mhd)
                MHD_stop_daemon(s->mhd);
        token_cache_done(&s->tokens);
        close(s->stop_fd);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->idle);
        free(s->url_base);
        free(s->cert);
        free(s->key);
        free(s->ca);
        free(s);
        return NULL;
}

int stream_server_register(StreamServer *s, StreamRequest *r, char **ret_url, Error **reterr) {
        char token[TOKEN_LEN + 1];
        StreamKind kind = r->kind;
        if (token_cache_put(&s->tokens, r, monotonic_ns(), token) < 0)
                return error_set(reterr, ENOSPC, "too many pending stream requests; try again later");
        *ret_url = xasprintf("%s/%s/%s", s->url_base, stream_kind_to_string(kind), token);
        return 0;
}

uint16_t stream_server_port(StreamServer *s) {
        return s->port;
}
