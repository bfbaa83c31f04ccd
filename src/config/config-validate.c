/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "config.h"
#include "fs-util.h"
#include "insecure-registries.h"
#include "log.h"
#include "strv.h"

#define FIELD(base, key, T) ((T *)((char *)(base) + (key)->offset))
#define DEFAULT_GRPC_MSG_SIZE (80 * 1024 * 1024)

static int64_t unit_ns(const char *u, size_t len) {
        static const struct {
                const char *name;
                int64_t ns;
        } units[] = {
                {"ns", 1},           {"us", 1000},         {"\xc2\xb5s", 1000},    {"ms", 1000000},
                {"s", 1000000000LL}, {"m", 60000000000LL}, {"h", 3600000000000LL},
        };
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (strlen(units[i].name) == len && strncmp(units[i].name, u, len) == 0)
                        return units[i].ns;
        return -1;
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/*
 * Digits as an exact integer. For a whole part more digits than fit are an overflow; for a fraction
 * digits past the 18th cannot change a nanosecond count and are skipped.
 */
static const char *scan_digits(const char *p, bool fraction, uint64_t *ret, unsigned *ret_count,
                               bool *overflow) {
        uint64_t v = 0;
        unsigned n = 0;
        for (; is_digit(*p); p++, n++) {
                if (fraction && n >= 18)
                        continue;
                if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
                        *overflow = true;
        }
        *ret = v;
        *ret_count = fraction && n > 18 ? 18 : n;
        return p;
}

/* One "<int>[.<frac>]<unit>" piece, in exact integer arithmetic as Go's time.ParseDuration does. */
static int parse_duration_piece(const char **p, uint64_t *total) {
        uint64_t whole, frac = 0, v, scale = 1;
        unsigned nwhole, nfrac = 0;
        bool overflow = false;
        const char *s = scan_digits(*p, false, &whole, &nwhole, &overflow);
        if (*s == '.')
                s = scan_digits(s + 1, true, &frac, &nfrac, &overflow);
        if (nwhole + nfrac == 0)
                return -EINVAL;
        const char *u = s;
        while (*s && !is_digit(*s) && *s != '.')
                s++;
        int64_t unit = unit_ns(u, (size_t)(s - u));
        if (unit < 0)
                return -EINVAL;
        if (overflow || __builtin_mul_overflow(whole, (uint64_t)unit, &v))
                return -ERANGE;
        for (unsigned i = 0; i < nfrac; i++)
                scale *= 10;
        /* In 128 bits: a fraction below 10^18 times an hour in nanoseconds does not fit in 64. */
        v += (uint64_t)(((__uint128_t)frac * (uint64_t)unit) / scale);
        if (__builtin_add_overflow(*total, v, total) || *total > (uint64_t)INT64_MAX)
                return -ERANGE;
        *p = s;
        return 0;
}

int parse_duration(const char *s, int64_t *ret_ns) {
        uint64_t total = 0;
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
        *ret_ns = negative ? -(int64_t)total : (int64_t)total;
        return 0;
}

int parse_size(const char *s, int64_t *ret_bytes) {
        static const char units[] = "bkmgtp";
        if (!s || !isdigit((unsigned char)*s))
                return -EINVAL;
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(s, &end, 10);
        if (errno == ERANGE || n > INT64_MAX)
                return -ERANGE;
        const char *u = *end ? strchr(units, tolower((unsigned char)*end)) : units;
        if (!u)
                return -EINVAL;
        if (*end) {
                end++;
                if (u != units && tolower((unsigned char)*end) == 'i')
                        end++;
                if (u != units && tolower((unsigned char)*end) == 'b')
                        end++;
                if (*end)
                        return -EINVAL;
        }
        for (const char *k = units; k < u; k++) {
                if (n > (unsigned long long)INT64_MAX / 1024)
                        return -ERANGE;
                n *= 1024;
        }
        *ret_bytes = (int64_t)n;
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
        int64_t n;
        if ((key->flags & CK_DURATION) && *v && parse_duration(v, &n) < 0)
                return error_set(reterr, EINVAL, "%s: '%s' is not a duration (like \"30s\" or \"1m\")", path,
                                 v);
        if ((key->flags & CK_SIZE) && *v && parse_size(v, &n) < 0)
                return error_set(reterr, EINVAL, "%s: '%s' is not a size (like \"12MiB\" or \"500KiB\")",
                                 path, v);
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

/* Only plain decimal digits: strtol alone would take " 80" and "+80". */
static bool parse_port_string(const char *s, long *ret) {
        if (!*s || strlen(s) > 5 || strspn(s, "0123456789") != strlen(s))
                return false;
        *ret = strtol(s, NULL, 10);
        return true;
}

static int check_layer_limits(const Config *c, Error **reterr) {
        const struct {
                const char *name;
                int64_t value;
        } limits[] = {
                {"max_layer_size", c->max_layer_size},
                {"max_layer_inflation_ratio", c->max_layer_inflation_ratio},
                {"max_layer_entries", c->max_layer_entries},
                {"min_free_space", c->min_free_space},
        };
        for (size_t i = 0; i < ELEMENTSOF(limits); i++)
                if (limits[i].value < 0)
                        return error_set(reterr, EINVAL,
                                         "crio.image.%s: %lld is negative (0 means no limit)",
                                         limits[i].name, (long long)limits[i].value);
        return 0;
}

static bool permissions_ok(const char *p) {
        return *p && strspn(p, "rwm") == strlen(p);
}

int config_parse_device(const char *spec, char **ret_host, char **ret_container, char **ret_permissions) {
        size_t len = strlen(spec);
        if (len == 0 || spec[len - 1] == ':' || strstr(spec, "::"))
                return -EINVAL; /* an empty part */
        _cleanup_strv_free_ char **parts = strv_split(spec, ':');
        size_t n = strv_length(parts);
        if (n == 0 || n > 3)
                return -EINVAL;
        const char *host = parts[0], *container = host, *perms = "rwm";
        if (n == 2 && parts[1][0] != '/')
                perms = parts[1];
        else if (n >= 2)
                container = parts[1];
        if (n == 3)
                perms = parts[2];
        if (host[0] != '/' || container[0] != '/' || !permissions_ok(perms))
                return -EINVAL;
        *ret_host = xstrdup(host);
        *ret_container = xstrdup(container);
        *ret_permissions = xstrdup(perms);
        return 0;
}

static int check_devices(char *const *devices, Error **reterr) {
        STRV_FOREACH(d, devices) {
                _cleanup_free_ char *host = NULL, *container = NULL, *perms = NULL;
                if (config_parse_device(*d, &host, &container, &perms) < 0)
                        return error_set(reterr, EINVAL,
                                         "crio.runtime.additional_devices: '%s' is not "
                                         "HOST[:CONTAINER][:PERMISSIONS] "
                                         "with absolute paths and permissions from \"rwm\"",
                                         *d);
        }
        return 0;
}

int config_timezone_file(const char *timezone, char **ret_path) {
        if (isempty(timezone)) {
                *ret_path = NULL;
                return 0;
        }
        if (strcasecmp(timezone, "local") == 0) {
                *ret_path = xstrdup("/etc/localtime");
                return 0;
        }
        /* Zone names are like "Europe/Paris", "Etc/GMT+5", "America/Port-au-Prince". */
        static const char allowed[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-.";
        if (timezone[0] == '/' || strspn(timezone, allowed) != strlen(timezone) ||
            path_has_dotdot(timezone) || strlen(timezone) > 255)
                return -EINVAL;
        *ret_path = xasprintf("/usr/share/zoneinfo/%s", timezone);
        return 0;
}

static int check_timezone(const char *timezone, Error **reterr) {
        _cleanup_free_ char *file = NULL;
        if (config_timezone_file(timezone, &file) < 0)
                return error_set(reterr, EINVAL, "crio.runtime.timezone: '%s' is not a time zone name",
                                 timezone);
        struct stat st;
        if (file && (stat(file, &st) < 0 || !S_ISREG(st.st_mode)))
                return error_set(reterr, EINVAL, "crio.runtime.timezone: '%s': no zone file %s", timezone,
                                 file);
        return 0;
}

static int check_mounts_file(const char *path, Error **reterr) {
        int r = check_absolute("crio.runtime.default_mounts_file", path, reterr);
        MountsFileEntry *m = NULL;
        size_t n = 0;
        if (r >= 0)
                r = mounts_file_load(path, &m, &n, reterr);
        mounts_file_free(m, n);
        return r < 0 ? error_prefix(reterr, "crio.runtime.default_mounts_file") : 0;
}

bool config_cpu_list_valid(const char *list) {
        const char *p = list;
        for (;;) {
                char *end = NULL;
                if (!is_digit(*p))
                        return false;
                unsigned long first = strtoul(p, &end, 10), last = first;
                if (*end == '-') {
                        if (!is_digit(end[1]))
                                return false;
                        last = strtoul(end + 1, &end, 10);
                }
                if (last < first || last >= 8192 || (*end != ',' && *end != '\0'))
                        return false;
                if (*end == '\0')
                        return true;
                p = end + 1;
        }
}

/* What every container gets something from: checked here so that a typo stops the daemon at once. */
static int check_container_keys(const Config *c, Error **reterr) {
        int r = check_timezone(c->timezone, reterr);
        if (r >= 0 && !isempty(c->default_mounts_file))
                r = check_mounts_file(c->default_mounts_file, reterr);
        if (r >= 0 && !isempty(c->bind_mount_prefix))
                r = check_absolute("crio.runtime.bind_mount_prefix", c->bind_mount_prefix, reterr);
        if (r >= 0 && !isempty(c->infra_ctr_cpuset) && !config_cpu_list_valid(c->infra_ctr_cpuset))
                r = error_set(reterr, EINVAL,
                              "crio.runtime.infra_ctr_cpuset: '%s' is not a CPU list such as 0-1,4",
                              c->infra_ctr_cpuset);
        STRV_FOREACH(d, r >= 0 ? c->allowed_devices : NULL)
                if ((r = check_absolute("crio.runtime.allowed_devices", *d, reterr)) < 0)
                        break;
        return r;
}

static int check_crio(const Config *c, Error **reterr) {
        long port = 0;
        int r;

        if (!parse_port_string(c->stream_port, &port) || check_port("crio.api.stream_port", port, NULL) < 0)
                return error_set(reterr, EINVAL, "crio.api.stream_port: '%s' is not a port number",
                                 c->stream_port);
        if (c->max_parallel_downloads < 1 || c->max_parallel_downloads > 64)
                return error_set(reterr, EINVAL,
                                 "crio.image.max_parallel_downloads: %lld is not between 1 and 64",
                                 (long long)c->max_parallel_downloads);
        r = check_layer_limits(c, reterr);
        if (r < 0)
                return r;
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
        STRV_FOREACH(e, c->insecure_registries)
                if (!insecure_registry_entry_valid(*e))
                        return error_set(
                                reterr, EINVAL,
                                "crio.image.insecure_registries: '%s' is neither a registry (host or "
                                "host:port) nor a CIDR",
                                *e);
        r = check_devices(c->additional_devices, reterr);
        if (r >= 0)
                r = check_container_keys(c, reterr);
        if (r < 0)
                return r;
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
                /* As CRI-O: a slice needs systemd to make a scope in it. */
                const char *mc = c->runtimes[i]->monitor_cgroup;
                if (strcmp(c->cgroup_manager, "cgroupfs") == 0 && *mc && strcmp(mc, "pod") != 0)
                        return error_set(
                                reterr, EINVAL,
                                "%s.monitor_cgroup: '%s' needs the systemd cgroup manager; with cgroupfs "
                                "it is \"pod\" or empty",
                                t, mc);
        }
        for (size_t i = 0; i < c->n_workloads; i++) {
                _cleanup_free_ char *t = xasprintf("crio.runtime.workloads.%s", c->workloads[i]->name);
                r = check_keys(c->workloads[i], workload_keys, workload_keys_count, t, reterr);
                if (r < 0)
                        return r;
        }
        return check_crio(c, reterr);
}

const char *config_tls_priorities(const Config *c) {
        return strcmp(c->tls_min_version, "VersionTLS13") == 0
                       ? "NORMAL:-VERS-ALL:+VERS-TLS1.3"
                       : "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";
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
