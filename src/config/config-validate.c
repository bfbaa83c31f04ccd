/* SPDX-License-Identifier: Apache-2.0 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "strv.h"

#define FIELD(base, key, T) ((T *)((char *)(base) + (key)->offset))
#define DEFAULT_GRPC_MSG_SIZE (80 * 1024 * 1024)

static int64_t unit_ns(const char *u, size_t len) {
        static const struct {
                const char *name;
                int64_t ns;
        } units[] = {
                {"ns", 1},           {"us", 1000},          {"\xc2\xb5s", 1000},         {"ms", 1000000},
                {"s", 1000000000LL}, {"m", 60000000000LL}, {"h", 3600000000000LL},
        };
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (strlen(units[i].name) == len && strncmp(units[i].name, u, len) == 0)
                        return units[i].ns;
        return -1;
}

/* One "<number><unit>" piece of a duration; advances *p. */
static int parse_duration_piece(const char **p, double *total) {
        const char *s = *p;
        char *end = NULL;
        if (!(*s >= '0' && *s <= '9') && *s != '.')
                return -EINVAL;
        double v = strtod(s, &end);
        if (end == s)
                return -EINVAL;
        const char *u = end;
        while (*end && !(*end >= '0' && *end <= '9') && *end != '.')
                end++;
        int64_t mult = unit_ns(u, (size_t)(end - u));
        if (mult < 0)
                return -EINVAL;
        *total += v * (double)mult;
        *p = end;
        return 0;
}

int parse_duration(const char *s, int64_t *ret_ns) {
        double total = 0;
        bool negative = false;

        if (!s || !*s)
                return -EINVAL;
        if (*s == '-' || *s == '+')
                negative = *s++ == '-';
        if (strcmp(s, "0") == 0) {
                *ret_ns = 0;
                return 0;
        }
        if (!*s)
                return -EINVAL;
        while (*s) {
                int r = parse_duration_piece(&s, &total);
                if (r < 0)
                        return r;
        }
        if (total > (double)INT64_MAX)
                return -ERANGE;
        *ret_ns = negative ? -(int64_t)total : (int64_t)total;
        return 0;
}

static bool choice_ok(const char *choices, const char *value) {
        const char *p = choices;
        size_t len = strlen(value);
        for (;;) {
                const char *bar = strchr(p, '|');
                size_t n = bar ? (size_t)(bar - p) : strlen(p);
                if (n == len && strncmp(p, value, n) == 0)
                        return true;
                if (!bar)
                        return false;
                p = bar + 1;
        }
}

static int check_key(const void *base, const ConfigKey *key, const char *path, Error **reterr) {
        if (key->type != CT_STRING)
                return 0;
        const char *v = *FIELD(base, key, char *const);
        if (key->choices && !choice_ok(key->choices, v)) {
                _cleanup_free_ char *list = xstrdup(key->choices);
                for (char *c = list; *c; c++)
                        if (*c == '|')
                                *c = ',';
                return error_set(reterr, EINVAL, "%s: invalid value '%s' (allowed: %s)", path, v, list);
        }
        int64_t ns;
        if ((key->flags & CK_DURATION) && *v && parse_duration(v, &ns) < 0)
                return error_set(reterr, EINVAL, "%s: '%s' is not a duration (like \"30s\" or \"1m\")", path, v);
        return 0;
}

static int check_keys(const void *base, const ConfigKey *keys, size_t n, const char *table, Error **reterr) {
        for (size_t i = 0; i < n; i++) {
                const char *t = table ? table : keys[i].table;
                _cleanup_free_ char *path = xasprintf("%s%s%s", t, *t ? "." : "", keys[i].name);
                int r = check_key(base, &keys[i], path, reterr);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int check_port(const char *name, int64_t port, Error **reterr) {
        if (port < 0 || port > 65535)
                return error_set(reterr, EINVAL, "%s: %lld is not a port number", name, (long long)port);
        return 0;
}

static int check_absolute(const char *name, const char *path, Error **reterr) {
        if (path[0] != '/')
                return error_set(reterr, EINVAL, "%s: '%s' is not an absolute path", name, path);
        return 0;
}

static int check_crio(const Config *c, Error **reterr) {
        char *end = NULL;
        long port = strtol(c->stream_port, &end, 10);
        int r;

        if (end == c->stream_port || *end || check_port("crio.api.stream_port", port, NULL) < 0)
                return error_set(reterr, EINVAL, "crio.api.stream_port: '%s' is not a port number", c->stream_port);
        r = check_port("crio.metrics.metrics_port", c->metrics_port, reterr);
        if (r < 0)
                return r;
        r = check_absolute("crio.api.listen", c->listen, reterr);
        if (r >= 0)
                r = check_absolute("crio.root", c->root, reterr);
        if (r >= 0)
                r = check_absolute("crio.runroot", c->runroot, reterr);
        if (r < 0)
                return r;
        r = log_check_filter(c->log_filter, reterr);
        if (r < 0)
                return error_prefix(reterr, "crio.runtime.log_filter");
        if (!config_find_runtime(c, c->default_runtime))
                return error_set(reterr, EINVAL,
                                 "crio.runtime.default_runtime: '%s' is not a configured runtime handler "
                                 "(add a [crio.runtime.runtimes.%s] table)",
                                 c->default_runtime, c->default_runtime);
        return 0;
}

int config_validate(const Config *c, Error **reterr) {
        int r = check_keys(c, config_keys, config_keys_count, NULL, reterr);
        if (r < 0)
                return r;
        for (size_t i = 0; i < c->n_runtimes; i++) {
                _cleanup_free_ char *t = xasprintf("crio.runtime.runtimes.%s", c->runtimes[i]->name);
                r = check_keys(c->runtimes[i], runtime_keys, runtime_keys_count, t, reterr);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < c->n_workloads; i++) {
                _cleanup_free_ char *t = xasprintf("crio.runtime.workloads.%s", c->workloads[i]->name);
                r = check_keys(c->workloads[i], workload_keys, workload_keys_count, t, reterr);
                if (r < 0)
                        return r;
        }
        return check_crio(c, reterr);
}

static int grpc_size(int64_t v) {
        return v <= 0 || v > INT_MAX ? DEFAULT_GRPC_MSG_SIZE : (int)v;
}

int config_grpc_max_send(const Config *c) {
        return grpc_size(c->grpc_max_send_msg_size);
}

int config_grpc_max_recv(const Config *c) {
        return grpc_size(c->grpc_max_recv_msg_size);
}
