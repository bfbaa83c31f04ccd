/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "http-api.h"
#include "http-debug.h"
#include "cri-translate.h"
#include "log.h"

/* Requests are tiny GETs; anything bigger than this is refused by libmicrohttpd itself. */
#define HTTP_MEMORY_LIMIT (32 * 1024)
#define HTTP_READ_TIMEOUT_S 5

struct HttpApi {
        Daemon *daemon;
        struct MHD_Daemon *mhd;
};

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *type, char *body) {
        struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
        if (!r) {
                free(body);
                return MHD_NO;
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        enum MHD_Result ret = MHD_queue_response(conn, status, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result respond_json(struct MHD_Connection *conn, unsigned status, json_object *o) {
        char *body = xasprintf("%s\n", json_object_to_json_string_ext(
                                               o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return respond(conn, status, "application/json", body);
}

static enum MHD_Result respond_error(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
        _printf_(3, 4);

static enum MHD_Result respond_error(struct MHD_Connection *conn, unsigned status, const char *fmt, ...) {
        va_list ap;
        char *msg = NULL;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "message", json_object_new_string(msg ? msg : "error"));
        free(msg);
        return respond_json(conn, status, o);
}

/* The whole 32-bit range maps to itself: the daemon uses no global user namespace mapping. */
static json_object *identity_mappings(void) {
        json_object *list = json_object_new_array();
        json_object *m = json_object_new_object();
        json_object_object_add(m, "container_id", json_object_new_int64(0));
        json_object_object_add(m, "host_id", json_object_new_int64(0));
        json_object_object_add(m, "size", json_object_new_int64(4294967295LL));
        json_object_array_add(list, m);
        return list;
}

static enum MHD_Result serve_info(HttpApi *h, struct MHD_Connection *conn) {
        Daemon *d = h->daemon;
        json_object *o = json_object_new_object();
        pthread_rwlock_rdlock(&d->config_lock);
        json_object_object_add(o, "storage_driver", json_object_new_string(d->config->storage_driver));
        json_object_object_add(o, "storage_root", json_object_new_string(d->config->root));
        json_object_object_add(o, "storage_image", json_object_new_string(d->config->imagestore));
        json_object_object_add(o, "cgroup_driver", json_object_new_string(d->config->cgroup_manager));
        pthread_rwlock_unlock(&d->config_lock);
        json_object *ids = json_object_new_object();
        json_object_object_add(ids, "uids", identity_mappings());
        json_object_object_add(ids, "gids", identity_mappings());
        json_object_object_add(o, "default_id_mappings", ids);
        return respond_json(conn, MHD_HTTP_OK, o);
}

static json_object *strmap_json(const StrMap *m) {
        json_object *o = json_object_new_object();
        for (size_t i = 0; i < m->n; i++)
                json_object_object_add(o, m->keys[i], json_object_new_string(m->values[i]));
        return o;
}

static json_object *ips_json(const PodInfo *p) {
        json_object *ips = json_object_new_array();
        for (char **ip = p ? p->ips : NULL; ip && *ip; ip++)
                json_object_array_add(ips, json_object_new_string(*ip));
        return ips;
}

/*
 * A sandbox as CRI-O answers for its infra container: the pod's name, labels and annotations, and the
 * pid of its infra process, or of a running container of the pod when it has none (drop_infra_ctr).
 */
static enum MHD_Result serve_sandbox(HttpApi *h, struct MHD_Connection *conn, const PodInfo *p) {
        Runtime *rt = h->daemon->runtime;
        int pid = runtime_pod_infra_pid(rt, p->id);
        ContainerInfo **l = NULL;
        size_t n = 0;
        runtime_container_list(rt, &l, &n);
        for (size_t i = 0; i < n; i++) {
                ContainerInfo *full = NULL;
                if (!pid && strcmp(l[i]->pod_id, p->id) == 0 && l[i]->state == CONTAINER_RUNNING &&
                    runtime_container_info(rt, l[i]->id, &full, NULL) >= 0)
                        pid = full->pid;
                container_info_free(full);
                container_info_free(l[i]);
        }
        free(l);
        json_object *o = json_object_new_object();
        _cleanup_free_ char *name =
                xasprintf("k8s_POD_%s_%s_%s_%u", p->name, p->namespace_, p->uid, p->attempt);
        json_object_object_add(o, "name", json_object_new_string(name));
        json_object_object_add(o, "pid", json_object_new_int(pid));
        pthread_rwlock_rdlock(&h->daemon->config_lock);
        json_object_object_add(o, "image", json_object_new_string(h->daemon->config->pause_image));
        pthread_rwlock_unlock(&h->daemon->config_lock);
        json_object_object_add(o, "image_ref", json_object_new_string(""));
        json_object_object_add(o, "created_time", json_object_new_int64(p->created_ns));
        json_object_object_add(o, "labels", strmap_json(&p->labels));
        json_object_object_add(o, "annotations", strmap_json(&p->annotations));
        json_object_object_add(o, "crio_annotations", json_object_new_object());
        json_object_object_add(o, "log_path", json_object_new_string(""));
        json_object_object_add(o, "root", json_object_new_string(""));
        json_object_object_add(o, "sandbox", json_object_new_string(p->id));
        json_object_object_add(o, "ip_addresses", ips_json(p));
        json_object_object_add(o, "host_network", json_object_new_boolean(p->network == NS_NODE));
        return respond_json(conn, MHD_HTTP_OK, o);
}

/* What CRI-O's /containers/ID answers (cAdvisor reads it): name, pid, image, paths, labels, IPs. */
static enum MHD_Result serve_container(HttpApi *h, struct MHD_Connection *conn, const char *id) {
        _cleanup_container_info_ ContainerInfo *c = NULL;
        _cleanup_error_ Error *err = NULL;
        _cleanup_pod_info_ PodInfo *p = NULL;
        if (runtime_container_info(h->daemon->runtime, id, &c, &err) < 0) {
                if (runtime_pod_info(h->daemon->runtime, id, &p, NULL) >= 0)
                        return serve_sandbox(h, conn, p);
                return respond_error(conn, MHD_HTTP_NOT_FOUND, "container '%s' not found", id);
        }
        runtime_pod_info(h->daemon->runtime, c->pod_id, &p, NULL);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(c->name));
        json_object_object_add(o, "pid", json_object_new_int(c->pid));
        json_object_object_add(o, "image", json_object_new_string(c->image));
        json_object_object_add(o, "image_ref", json_object_new_string(c->image_ref));
        json_object_object_add(o, "created_time", json_object_new_int64(c->created_ns));
        json_object_object_add(o, "labels", strmap_json(&c->labels));
        json_object_object_add(o, "annotations", strmap_json(&c->annotations));
        json_object_object_add(o, "crio_annotations", json_object_new_object());
        json_object_object_add(o, "log_path", json_object_new_string(c->log_path));
        json_object_object_add(o, "root", json_object_new_string(c->rootfs));
        json_object_object_add(o, "sandbox", json_object_new_string(c->pod_id));
        json_object_object_add(o, "ip_addresses", ips_json(p));
        json_object_object_add(o, "host_network", json_object_new_boolean(p && p->network == NS_NODE));
        return respond_json(conn, MHD_HTTP_OK, o);
}

/* CRI-O's /pause/ID and /unpause/ID: freeze or thaw a running container; 200 with an empty body. */
static enum MHD_Result serve_pause(HttpApi *h, struct MHD_Connection *conn, const char *id, bool pause) {
        _cleanup_error_ Error *err = NULL;
        int r = runtime_container_pause(h->daemon->runtime, id, pause, &err);
        if (r == -ENOENT)
                return respond_error(conn, MHD_HTTP_NOT_FOUND, "container '%s' not found", id);
        /* runc refuses to pause a paused container and to resume a running one: a conflict too. */
        bool conflict =
                r == -EBUSY ||
                (r < 0 && (strstr(err->message, "not running") || strstr(err->message, "not paused")));
        if (r < 0)
                return respond_error(conn, conflict ? MHD_HTTP_CONFLICT : MHD_HTTP_INTERNAL_SERVER_ERROR,
                                     "%s", err->message);
        return respond(conn, MHD_HTTP_OK, "text/plain", xstrdup(""));
}

/* "/containers/ID" -> "ID" when `url` starts with `prefix` and a non-empty id follows. */
static const char *path_id(const char *url, const char *prefix) {
        size_t n = strlen(prefix);
        if (strncmp(url, prefix, n) != 0 || url[n] == '\0' || strchr(url + n, '/'))
                return NULL;
        return url + n;
}

static enum MHD_Result route(HttpApi *h, struct MHD_Connection *conn, const char *url) {
        const char *id;

        if (strcmp(url, "/info") == 0)
                return serve_info(h, conn);
        if (strcmp(url, "/config") == 0)
                return respond(conn, MHD_HTTP_OK, "application/toml", daemon_config_toml(h->daemon));
        if (strcmp(url, "/debug/goroutines") == 0)
                return respond(conn, MHD_HTTP_OK, "text/plain", debug_threads_text());
        if (strcmp(url, "/debug/heap") == 0)
                return respond(conn, MHD_HTTP_OK, "text/plain", debug_heap_text());
        if ((id = path_id(url, "/containers/")))
                return serve_container(h, conn, id);
        if ((id = path_id(url, "/pause/")))
                return serve_pause(h, conn, id, true);
        if ((id = path_id(url, "/unpause/")))
                return serve_pause(h, conn, id, false);
        return respond_error(conn, MHD_HTTP_NOT_FOUND, "no such endpoint: %s", url);
}

static enum MHD_Result respond_not_allowed(struct MHD_Connection *conn, const char *allow) {
        struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (!r)
                return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
        enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED, r);
        MHD_destroy_response(r);
        return ret;
}

/*
 * libmicrohttpd calls this once when the headers are in, then once per chunk of body, then once more
 * with no data. A body is read and thrown away (up to a bound) before answering, so clients that
 * write their body after the headers do not see a reset.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls) {
        static const size_t max_body = 64 * 1024;
        HttpApi *h = cls;
        uintptr_t seen = (uintptr_t)*req_cls;

        if (seen == 0) {
                log_debug("HTTP %s %s", method, url);
                *req_cls = (void *)(uintptr_t)1;
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                seen += *upload_data_size;
                *upload_data_size = 0;
                *req_cls = (void *)seen;
                if (seen > max_body)
                        return respond_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
                return MHD_YES;
        }
        bool head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && !head)
                return respond_not_allowed(conn, "GET, HEAD");
        /* HEAD must not act: it would pause a container without anyone reading the answer. */
        if (head && (path_id(url, "/pause/") || path_id(url, "/unpause/")))
                return respond_not_allowed(conn, "GET");
        return route(h, conn, url);
}

/* libmicrohttpd's logger callback; its format strings come from the library, not from clients. */
_printf_(2, 0) static void on_mhd_error(void *cls, const char *fmt, va_list ap) {
        char buf[512];
        vsnprintf(buf, sizeof(buf), fmt, ap);
        buf[strcspn(buf, "\n")] = '\0';
        /* Mostly notes about TCP options that a unix socket does not have: not worth a debug line. */
        log_trace("HTTP API: %s", buf);
}

/*
 * libmicrohttpd's unescaping, except that "%00" stays as it is: decoded, it would end the path early
 * ("/containers/ID%00junk" would name the container ID).
 */
static size_t unescape_keeping_nul(void *cls, struct MHD_Connection *conn, char *s) {
        char *out = s;
        for (const char *in = s; *in;) {
                unsigned v;
                if (in[0] == '%' && isxdigit((unsigned char)in[1]) && isxdigit((unsigned char)in[2]) &&
                    sscanf(in + 1, "%2x", &v) == 1 && v != 0) {
                        *out++ = (char)v;
                        in += 3;
                } else
                        *out++ = *in++;
        }
        *out = '\0';
        return (size_t)(out - s);
}

int http_api_new(Daemon *d, HttpApi **ret, Error **reterr) {
        HttpApi *h = xcalloc(1, sizeof(*h));
        h->daemon = d;
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC |
                         MHD_USE_AUTO | MHD_USE_ERROR_LOG;
        h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
                                  on_mhd_error, h, MHD_OPTION_CONNECTION_TIMEOUT,
                                  (unsigned)HTTP_READ_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                  (size_t)HTTP_MEMORY_LIMIT, MHD_OPTION_CONNECTION_LIMIT, 256u,
                                  MHD_OPTION_UNESCAPE_CALLBACK, unescape_keeping_nul, h, MHD_OPTION_END);
        if (!h->mhd) {
                free(h);
                return error_set(reterr, EIO, "start the HTTP API server");
        }
        *ret = h;
        return 0;
}

void http_api_add_connection(HttpApi *h, int fd) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (MHD_add_connection(h->mhd, fd, (struct sockaddr *)&sa, sizeof(sa)) != MHD_YES)
                log_debug("HTTP API refused a connection");
}

HttpApi *http_api_free(HttpApi *h) {
        if (!h)
                return NULL;
        MHD_stop_daemon(h->mhd);
        free(h);
        return NULL;
}
