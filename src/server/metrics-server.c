/* SPDX-License-Identifier: Apache-2.0 */
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <microhttpd.h>

#include "daemon-metrics.h"
#include "fs-util.h"
#include "log.h"
#include "metrics-server.h"

/* Prometheus' text format, version 0.0.4. */
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define READ_TIMEOUT_S 10
#define PEM_MAX (1 << 20)

struct MetricsServer {
        Daemon *daemon;
        struct MHD_Daemon *tcp, *unix_;
        char *socket_path; /* ours to unlink */
        char *cert, *key;  /* PEM text for libmicrohttpd (it keeps pointers) */
};

static enum MHD_Result text(struct MHD_Connection *conn, unsigned status, char *body) {
        struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
        if (!r) {
                free(body);
                return MHD_NO;
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
        enum MHD_Result ret = MHD_queue_response(conn, status, r);
        MHD_destroy_response(r);
        return ret;
}

/* Rendering takes the registry's lock only for the copy into text: a scrape never holds up an RPC. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls) {
        MetricsServer *s = cls;
        if (!*req_cls) {
                *req_cls = (void *)1;
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
                return text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, xstrdup("only GET\n"));
        if (strcmp(url, "/metrics") != 0)
                return text(conn, MHD_HTTP_NOT_FOUND, xasprintf("no such endpoint: %s\n", url));
        return text(conn, MHD_HTTP_OK, daemon_metrics_render(&s->daemon->metrics));
}

_printf_(2, 0) static void on_mhd_error(void *cls, const char *fmt, va_list ap) {
        char buf[512];
        vsnprintf(buf, sizeof(buf), fmt, ap);
        buf[strcspn(buf, "\n")] = '\0';
        log_debug("metrics server: %s", buf);
}

static int read_pem(const char *path, const char *key, char **ret, Error **reterr) {
        if (read_file(path, PEM_MAX, ret, NULL) < 0)
                return error_set(reterr, errno, "crio.metrics.%s: cannot read '%s': %m", key, path);
        return 0;
}

static int start_tcp(MetricsServer *s, const Config *c, Error **reterr) {
        struct addrinfo hints = {
                .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
        struct addrinfo *ai = NULL;
        _cleanup_free_ char *port = xasprintf("%lld", (long long)c->metrics_port);
        int e = getaddrinfo(isempty(c->metrics_host) ? NULL : c->metrics_host, port, &hints, &ai);
        if (e != 0)
                return error_set(reterr, EINVAL, "crio.metrics.metrics_host: cannot resolve '%s': %s",
                                 c->metrics_host, gai_strerror(e));
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
        if (ai->ai_family == AF_INET6)
                flags |= MHD_USE_IPv6;
        bool tls = !isempty(c->metrics_cert) || !isempty(c->metrics_key);
        int r = 0;
        if (tls && (isempty(c->metrics_cert) || isempty(c->metrics_key)))
                r = error_set(reterr, EINVAL, "crio.metrics: metrics_cert and metrics_key go together");
        if (r >= 0 && tls)
                r = read_pem(c->metrics_cert, "metrics_cert", &s->cert, reterr);
        if (r >= 0 && tls)
                r = read_pem(c->metrics_key, "metrics_key", &s->key, reterr);
        if (r >= 0)
                s->tcp = MHD_start_daemon(
                        flags | (tls ? MHD_USE_TLS : 0), 0, NULL, NULL, on_request, s,
                        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)READ_TIMEOUT_S,
                        tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, s->cert, MHD_OPTION_HTTPS_MEM_KEY,
                        s->key, MHD_OPTION_HTTPS_PRIORITIES, config_tls_priorities(c), MHD_OPTION_END);
        if (r >= 0 && !s->tcp)
                r = error_set(reterr, EADDRNOTAVAIL, "cannot serve metrics on %s:%s (address in use?)",
                              c->metrics_host, port);
        freeaddrinfo(ai);
        return r;
}

static int start_unix(MetricsServer *s, const char *path, Error **reterr) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa.sun_path))
                return error_set(reterr, EINVAL, "crio.metrics.metrics_socket: '%s' is too long", path);
        strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return error_set(reterr, errno, "metrics socket: %m");
        unlink(path);
        if (mkdir_parents(path, 0755) < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            listen(fd, 64) < 0) {
                int r = error_set(reterr, errno, "crio.metrics.metrics_socket: cannot listen on '%s': %m",
                                  path);
                close(fd);
                return r;
        }
        s->socket_path = xstrdup(path);
        s->unix_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG, 0,
                                    NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, s,
                                    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_TIMEOUT,
                                    (unsigned)READ_TIMEOUT_S, MHD_OPTION_END);
        if (!s->unix_) {
                close(fd);
                return error_set(reterr, EIO, "cannot serve metrics on '%s'", path);
        }
        return 0;
}

int metrics_server_new(Daemon *d, MetricsServer **ret, Error **reterr) {
        *ret = NULL;
        if (!d->metrics.registry)
                return 0;
        MetricsServer *s = xcalloc(1, sizeof(*s));
        s->daemon = d;
        int r = start_tcp(s, d->config, reterr);
        if (r >= 0 && !isempty(d->config->metrics_socket))
                r = start_unix(s, d->config->metrics_socket, reterr);
        if (r < 0) {
                metrics_server_free(s);
                return r;
        }
        log_info("serving metrics on %s%s:%lld%s%s", s->cert ? "https://" : "http://",
                 d->config->metrics_host, (long long)d->config->metrics_port, s->socket_path ? " and " : "",
                 strempty(s->socket_path));
        *ret = s;
        return 0;
}

MetricsServer *metrics_server_free(MetricsServer *s) {
        if (!s)
                return NULL;
        if (s->tcp)
                MHD_stop_daemon(s->tcp);
        if (s->unix_)
                MHD_stop_daemon(s->unix_);
        if (s->socket_path)
                unlink(s->socket_path);
        free(s->socket_path);
        free(s->cert);
        free(s->key);
        return mfree(s);
}
