/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <json-c/json.h>

#include "cmd.h"
#include "strv.h"

#define DEFAULT_SOCKET "/var/run/crio/crio.sock"
#define MAX_RESPONSE (16 * 1024 * 1024)

enum { F_SOCKET, F_ID, F_JSON, F_HELP, _F_MAX };

static const CliFlag status_flags[_F_MAX] = {
        [F_SOCKET] = {"socket", 's', true, "socket of the daemon (default " DEFAULT_SOCKET ")"},
        [F_ID] = {"id", 'i', true, "container id (containers)"},
        [F_JSON] = {"json", 'j', false, "print info and containers as the daemon's JSON"},
        [F_HELP] = {"help", 'h', false, "show this help"},
};

static void status_usage(void) {
        printf("Usage: crio status [--socket PATH] info|config|containers --id ID\n\n"
               "Query a running daemon through the HTTP API on its socket.\n\n"
               "  info        storage and cgroup settings\n"
               "  config      the effective configuration (TOML)\n"
               "  containers  one container or pod sandbox; needs --id\n\n");
        for (size_t i = 0; i < _F_MAX; i++)
                printf("  -%c, --%s\t%s\n", status_flags[i].short_name, status_flags[i].name,
                       status_flags[i].help);
}

static int connect_socket(const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path));
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        struct timeval tv = {.tv_sec = 10};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static int read_all(int fd, char **ret, size_t *ret_len) {
        size_t len = 0, cap = 4096;
        char *buf = xmalloc(cap + 1);
        for (;;) {
                if (len == cap) {
                        if (cap >= MAX_RESPONSE) {
                                free(buf);
                                return -EFBIG;
                        }
                        cap *= 2;
                        buf = xrealloc(buf, cap + 1);
                }
                ssize_t n = read(fd, buf + len, cap - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int r = -errno;
                        free(buf);
                        return r;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        buf[len] = '\0';
        *ret = buf;
        *ret_len = len;
        return 0;
}

/* GET `path` over the unix socket; returns the HTTP status and the body. */
static int http_get(const char *socket_path, const char *path, char **ret_body, Error **reterr) {
        _cleanup_close_ int fd = connect_socket(socket_path);
        if (fd < 0)
                return error_set(reterr, -fd, "cannot connect to %s: %s (is the daemon running?)",
                                 socket_path, strerror(-fd));
        _cleanup_free_ char *req =
                xasprintf("GET %s HTTP/1.1\r\nHost: crio\r\nConnection: close\r\n\r\n", path);
        size_t len = strlen(req);
        if (write(fd, req, len) != (ssize_t)len)
                return error_set(reterr, errno ? errno : EIO, "send request to %s: %m", socket_path);

        _cleanup_free_ char *resp = NULL;
        size_t resp_len;
        int r = read_all(fd, &resp, &resp_len);
        if (r < 0)
                return error_set(reterr, -r, "read response from %s: %s", socket_path, strerror(-r));
        int status = 0;
        char *body = strstr(resp, "\r\n\r\n");
        if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1 || !body)
                return error_set(reterr, EBADMSG, "malformed HTTP response from %s", socket_path);
        *ret_body = xstrdup(body + 4);
        return status;
}

static void print_json_pretty(const char *body) {
        json_object *o = json_tokener_parse(body);
        if (!o) {
                fputs(body, stdout);
                return;
        }
        printf("%s\n",
               json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
}

static const char *error_message(const char *body) {
        static __thread char buf[512];
        json_object *o = json_tokener_parse(body), *m = NULL;
        snprintf(buf, sizeof(buf), "%s", body);
        if (o && json_object_object_get_ex(o, "message", &m))
                snprintf(buf, sizeof(buf), "%s", json_object_get_string(m));
        json_object_put(o);
        buf[strcspn(buf, "\n")] = '\0';
        return buf;
}

static const char *str_field(json_object *o, const char *key) {
        json_object *v = NULL;
        return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

static void print_mappings(json_object *o, const char *kind, const char *title) {
        json_object *ids = NULL, *list = NULL;
        printf("default %s mappings (format <container>:<host>:<size>):\n", title);
        if (!json_object_object_get_ex(o, "default_id_mappings", &ids) ||
            !json_object_object_get_ex(ids, kind, &list))
                return;
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *m = json_object_array_get_idx(list, i);
                printf("  %s:%s:%s\n", str_field(m, "container_id"), str_field(m, "host_id"),
                       str_field(m, "size"));
        }
}

/* `crio status info` as CRI-O prints it. */
static void print_info(json_object *o) {
        printf("cgroup driver: %s\n", str_field(o, "cgroup_driver"));
        printf("storage driver: %s\n", str_field(o, "storage_driver"));
        printf("storage graph root: %s\n", str_field(o, "storage_root"));
        print_mappings(o, "gids", "GID");
        print_mappings(o, "uids", "UID");
}

static void print_map(json_object *o, const char *key, const char *title) {
        json_object *m = NULL;
        printf("%s:\n", title);
        if (!json_object_object_get_ex(o, key, &m) || !json_object_is_type(m, json_type_object))
                return;
        json_object_object_foreach(m, k, v)
                printf("  %s: %s\n", k, json_object_get_string(v));
}

/* `crio status containers --id ID`: one "key: value" line per field, maps indented below their name. */
static void print_container(json_object *o) {
        static const struct {
                const char *key, *title;
        } fields[] = {{"name", "name"},
                      {"pid", "pid"},
                      {"image", "image"},
                      {"image_ref", "image ref"},
                      {"created_time", "created"},
                      {"log_path", "log path"},
                      {"root", "root"},
                      {"sandbox", "sandbox"},
                      {"host_network", "host network"}};
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                printf("%s: %s\n", fields[i].title, str_field(o, fields[i].key));
        json_object *ips = NULL;
        printf("IP addresses:");
        if (json_object_object_get_ex(o, "ip_addresses", &ips))
                for (size_t i = 0; i < json_object_array_length(ips); i++)
                        printf(" %s", json_object_get_string(json_object_array_get_idx(ips, i)));
        printf("\n");
        print_map(o, "labels", "labels");
        print_map(o, "annotations", "annotations");
        print_map(o, "crio_annotations", "CRI-O annotations");
}

typedef enum Output { OUT_TEXT, OUT_JSON, OUT_INFO, OUT_CONTAINER } Output;

static int print_body(const char *body, Output how) {
        if (how == OUT_TEXT) {
                fputs(body, stdout);
                return 0;
        }
        if (how == OUT_JSON) {
                print_json_pretty(body);
                return 0;
        }
        json_object *o = json_tokener_parse(body);
        if (!o) {
                fprintf(stderr, "crio status: the daemon's answer is not JSON\n");
                return 1;
        }
        if (how == OUT_INFO)
                print_info(o);
        else
                print_container(o);
        json_object_put(o);
        return 0;
}

static int query(const char *socket_path, const char *path, Output how) {
        _cleanup_error_ Error *err = NULL;
        _cleanup_free_ char *body = NULL;
        int status = http_get(socket_path, path, &body, &err);
        if (status < 0) {
                fprintf(stderr, "crio status: %s\n", err->message);
                return 1;
        }
        if (status != 200) {
                fprintf(stderr, "crio status: %s (HTTP %d)\n", error_message(body), status);
                return 1;
        }
        return print_body(body, how);
}

static const char *canonical_subcommand(const char *s) {
        if (!strcmp(s, "info") || !strcmp(s, "i"))
                return "info";
        if (!strcmp(s, "config") || !strcmp(s, "c"))
                return "config";
        if (!strcmp(s, "containers") || !strcmp(s, "container") || !strcmp(s, "cs") || !strcmp(s, "s"))
                return "containers";
        return NULL;
}

/* Split "status [flags] SUB [flags]": flags may stand on either side of the subcommand. */
static int parse_status_args(char *const *args, char **values, const char **ret_sub, Error **reterr) {
        char **flags_only = xcalloc(1, sizeof(char *));
        const char *sub = NULL;
        int r = 0;
        for (size_t i = 0; args && args[i]; i++) {
                bool takes = strcmp(args[i], "--socket") == 0 || strcmp(args[i], "-s") == 0 ||
                             strcmp(args[i], "--id") == 0 || strcmp(args[i], "-i") == 0;
                if (args[i][0] != '-' && !sub) {
                        sub = canonical_subcommand(args[i]);
                        if (!sub) {
                                r = error_set(reterr, EINVAL, "unknown subcommand '%s'", args[i]);
                                break;
                        }
                        continue;
                }
                flags_only = strv_push(flags_only, xstrdup(args[i]));
                if (takes && args[i + 1])
                        flags_only = strv_push(flags_only, xstrdup(args[++i]));
        }
        if (r >= 0)
                r = cli_parse_command("status", flags_only, status_flags, _F_MAX, values, reterr);
        strv_free(flags_only);
        *ret_sub = sub;
        return r;
}

int cmd_status(const CliOptions *o) {
        char *values[_F_MAX] = {0};
        _cleanup_error_ Error *err = NULL;
        const char *sub = NULL;
        int r;

        if (parse_status_args(o->args, values, &sub, &err) < 0)
                r = usage_error("status", err->message);
        else if (values[F_HELP]) {
                status_usage();
                r = 0;
        } else if (!sub)
                r = usage_error("status", "missing subcommand: info, config or containers");
        else {
                const char *sock = values[F_SOCKET] ? values[F_SOCKET] : DEFAULT_SOCKET;
                if (strcmp(sub, "containers") == 0 && !values[F_ID])
                        r = usage_error("status", "containers needs --id ID");
                else if (strcmp(sub, "containers") == 0) {
                        _cleanup_free_ char *path = xasprintf("/containers/%s", values[F_ID]);
                        r = query(sock, path, values[F_JSON] ? OUT_JSON : OUT_CONTAINER);
                } else if (strcmp(sub, "info") == 0)
                        r = query(sock, "/info", values[F_JSON] ? OUT_JSON : OUT_INFO);
                else
                        r = query(sock, "/config", OUT_TEXT);
        }
        for (size_t i = 0; i < _F_MAX; i++)
                free(values[i]);
        return r;
}
