/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "pinns-args.h"

static const char *const kind_names[_PINNS_KIND_MAX] = {
        [PINNS_USER] = "user",
        [PINNS_NET] = "net",
        [PINNS_IPC] = "ipc",
        [PINNS_UTS] = "uts",
};

const char *pinns_kind_to_string(PinnsKind kind) {
        if (kind < 0 || kind >= _PINNS_KIND_MAX)
                return NULL;
        return kind_names[kind];
}

/* ---- ID maps ---- */

static const char *skip_spaces(const char *s, const char *end) {
        while (s < end && *s == ' ')
                s++;
        return s;
}

/* Digits only: strtoul() would take a sign and wrap "-1" to a huge ID. */
static int parse_u32(const char **p, const char *end, uint32_t *ret) {
        const char *s = *p;
        uint64_t v = 0;

        if (s >= end || *s < '0' || *s > '9')
                return -EINVAL;
        for (; s < end && *s >= '0' && *s <= '9'; s++) {
                v = v * 10 + (uint64_t)(*s - '0');
                if (v > UINT32_MAX)
                        return -ERANGE;
        }
        *ret = (uint32_t)v;
        *p = s;
        return 0;
}

/* One "C H N" entry in [s, end), spaces around and between the numbers. */
static int parse_entry(const char *s, const char *end, IdMapping *ret) {
        uint32_t v[3];

        s = skip_spaces(s, end);
        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                if (i > 0) {
                        if (s >= end || *s != ' ')
                                return -EINVAL;
                        s = skip_spaces(s, end);
                }
                if (parse_u32(&s, end, &v[i]) < 0)
                        return -EINVAL;
        }
        if (skip_spaces(s, end) != end)
                return -EINVAL;
        *ret = (IdMapping){.inside = v[0], .outside = v[1], .count = v[2]};
        return 0;
}

static bool spans_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) {
        return a < b + blen && b < a + alen;
}

/* The kernel's own rules, checked here so the daemon gets a message better than "Invalid argument". */
static int idmap_check(const IdMapping *map, size_t n, Error **reterr) {
        for (size_t i = 0; i < n; i++) {
                if (map[i].count == 0)
                        return error_set(reterr, EINVAL, "entry %zu maps no IDs", i + 1);
                if ((uint64_t)map[i].inside + map[i].count - 1 > UINT32_MAX ||
                    (uint64_t)map[i].outside + map[i].count - 1 > UINT32_MAX)
                        return error_set(reterr, EINVAL, "entry %zu runs past ID 4294967295", i + 1);
                for (size_t j = 0; j < i; j++) {
                        if (spans_overlap(map[i].inside, map[i].count, map[j].inside, map[j].count) ||
                            spans_overlap(map[i].outside, map[i].count, map[j].outside, map[j].count))
                                return error_set(reterr, EINVAL, "entries %zu and %zu overlap", j + 1,
                                                 i + 1);
                }
        }
        return 0;
}

int idmap_parse(const char *spec, IdMapping **ret_map, size_t *ret_n, Error **reterr) {
        _cleanup_free_ IdMapping *map = NULL;
        size_t n = 0;

        if (!spec || !*spec)
                return error_set(reterr, EINVAL, "empty ID map");
        for (const char *s = spec;; s++) {
                const char *end = strchrnul(s, ',');
                if (n == IDMAP_MAX_LINES)
                        return error_set(reterr, EINVAL, "more than %d entries", IDMAP_MAX_LINES);
                map = xrealloc(map, (n + 1) * sizeof(*map));
                if (parse_entry(s, end, &map[n]) < 0)
                        return error_set(reterr, EINVAL, "entry %zu '%.*s' is not three numbers 'C H N'",
                                         n + 1, (int)(end - s), s);
                n++;
                if (!*end)
                        break;
                s = end;
        }
        int r = idmap_check(map, n, reterr);
        if (r < 0)
                return r;
        *ret_map = TAKE_PTR(map);
        *ret_n = n;
        return 0;
}

char *idmap_format(const IdMapping *map, size_t n) {
        /* Three 10-digit numbers, two spaces and a newline per line. */
        size_t size = n * 33 + 1, len = 0;
        char *text = xmalloc(size);

        text[0] = '\0';
        for (size_t i = 0; i < n; i++) {
                int w = snprintf(text + len, size - len, "%" PRIu32 " %" PRIu32 " %" PRIu32 "\n",
                                 map[i].inside, map[i].outside, map[i].count);
                len += (size_t)w;
        }
        return text;
}

/* ---- sysctls ---- */

/* The key becomes a path under /proc/sys: no '/', no empty part (so no ".." either), nothing that
 * would make the path or the error message ambiguous. */
static int sysctl_key_check(const char *key, Error **reterr) {
        size_t len = strlen(key);

        if (len == 0)
                return error_set(reterr, EINVAL, "empty sysctl key");
        if (len > PATH_MAX - sizeof("/proc/sys/"))
                return error_set(reterr, EINVAL, "sysctl key '%.64s...' is too long", key);
        for (const char *c = key; *c; c++) {
                if (*c == '/')
                        return error_set(reterr, EINVAL, "sysctl key '%s' contains '/'", key);
                if ((unsigned char)*c <= ' ' || *c == 0x7f)
                        return error_set(reterr, EINVAL,
                                         "sysctl key '%s' contains a space or control character", key);
        }
        if (key[0] == '.' || key[len - 1] == '.' || strstr(key, ".."))
                return error_set(reterr, EINVAL, "sysctl key '%s' has an empty part", key);
        return 0;
}

char *sysctl_key_to_path(const char *key) {
        char *path = xasprintf("/proc/sys/%s", key);

        for (char *c = path + strlen("/proc/sys/"); *c; c++)
                if (*c == '.')
                        *c = '/';
        return path;
}

int sysctl_parse(const char *arg, Sysctl *ret, Error **reterr) {
        const char *eq = strchr(arg, '=');

        if (!eq)
                return error_set(reterr, EINVAL, "sysctl '%s' is not key=value", arg);
        _cleanup_free_ char *key = xstrndup(arg, (size_t)(eq - arg));
        int r = sysctl_key_check(key, reterr);
        if (r < 0)
                return r;
        /* Initializers are evaluated in no fixed order: build the path before the key is taken. */
        char *path = sysctl_key_to_path(key);
        *ret = (Sysctl){.key = TAKE_PTR(key), .value = xstrdup(eq + 1), .path = path};
        return 0;
}

void sysctl_done(Sysctl *s) {
        s->key = mfree(s->key);
        s->value = mfree(s->value);
        s->path = mfree(s->path);
}

/* ---- the command line ---- */

bool pinns_name_is_valid(const char *name) {
        if (!name || !*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strlen(name) > NAME_MAX)
                return false;
        /* Control characters would split the one-line error message that names the file. */
        for (const char *c = name; *c; c++)
                if (*c == '/' || (unsigned char)*c < ' ' || *c == 0x7f)
                        return false;
        return true;
}

typedef enum Option {
        OPT_DIR,
        OPT_NAME,
        OPT_NET,
        OPT_IPC,
        OPT_UTS,
        OPT_USER,
        OPT_UID_MAP,
        OPT_GID_MAP,
        OPT_HOSTNAME,
        OPT_SYSCTL,
        OPT_REMOVE,
        OPT_HELP,
} Option;

static const struct {
        const char *name;
        bool has_value;
} options[] = {
        [OPT_DIR] = {"--dir", true},           [OPT_NAME] = {"--name", true},
        [OPT_NET] = {"--net", false},          [OPT_IPC] = {"--ipc", false},
        [OPT_UTS] = {"--uts", false},          [OPT_USER] = {"--user", false},
        [OPT_UID_MAP] = {"--uid-map", true},   [OPT_GID_MAP] = {"--gid-map", true},
        [OPT_HOSTNAME] = {"--hostname", true}, [OPT_SYSCTL] = {"--sysctl", true},
        [OPT_REMOVE] = {"--remove", false},    [OPT_HELP] = {"--help", false},
};

static int option_lookup(const char *arg, size_t len) {
        if (len == 2 && strncmp(arg, "-h", 2) == 0)
                return OPT_HELP;
        for (size_t i = 0; i < ELEMENTSOF(options); i++)
                if (strlen(options[i].name) == len && strncmp(arg, options[i].name, len) == 0)
                        return (int)i;
        return -ENOENT;
}

static int set_once(const char **field, const char *value, Option opt, Error **reterr) {
        if (*field)
                return error_set(reterr, EINVAL, "%s given twice", options[opt].name);
        *field = value;
        return 0;
}

static int set_idmap(char **field, const char *value, Option opt, Error **reterr) {
        _cleanup_free_ IdMapping *map = NULL;
        size_t n = 0;

        if (*field)
                return error_set(reterr, EINVAL, "%s given twice", options[opt].name);
        int r = idmap_parse(value, &map, &n, reterr);
        if (r < 0)
                return error_prefix(reterr, "%s '%s'", options[opt].name, value);
        *field = idmap_format(map, n);
        return 0;
}

static int add_sysctl(PinnsArgs *a, const char *value, Error **reterr) {
        Sysctl s;
        int r = sysctl_parse(value, &s, reterr);
        if (r < 0)
                return error_prefix(reterr, "--sysctl");
        a->sysctls = xrealloc(a->sysctls, (a->n_sysctls + 1) * sizeof(*a->sysctls));
        a->sysctls[a->n_sysctls++] = s;
        return 0;
}

static int apply_option(PinnsArgs *a, Option opt, const char *value, Error **reterr) {
        switch (opt) {
        case OPT_DIR:
                return set_once(&a->dir, value, opt, reterr);
        case OPT_NAME:
                return set_once(&a->name, value, opt, reterr);
        case OPT_HOSTNAME:
                return set_once(&a->hostname, value, opt, reterr);
        case OPT_UID_MAP:
                return set_idmap(&a->uid_map, value, opt, reterr);
        case OPT_GID_MAP:
                return set_idmap(&a->gid_map, value, opt, reterr);
        case OPT_SYSCTL:
                return add_sysctl(a, value, reterr);
        case OPT_NET:
                a->kinds[PINNS_NET] = true;
                return 0;
        case OPT_IPC:
                a->kinds[PINNS_IPC] = true;
                return 0;
        case OPT_UTS:
                a->kinds[PINNS_UTS] = true;
                return 0;
        case OPT_USER:
                a->kinds[PINNS_USER] = true;
                return 0;
        case OPT_REMOVE:
                a->remove = true;
                return 0;
        case OPT_HELP:
                a->help = true;
                return 0;
        }
        return error_set(reterr, EINVAL, "unknown option");
}

/* argv[*i] is an option; its value is after '=' or the next argument. */
static int parse_one(PinnsArgs *a, int argc, char *const *argv, int *i, Error **reterr) {
        const char *arg = argv[*i], *eq = strchr(arg, '='), *value = NULL;
        int opt = option_lookup(arg, eq ? (size_t)(eq - arg) : strlen(arg));

        if (opt < 0)
                return error_set(reterr, EINVAL, "unknown option '%s'", arg);
        if (!options[opt].has_value) {
                if (eq)
                        return error_set(reterr, EINVAL, "%s takes no value", options[opt].name);
        } else if (eq) {
                value = eq + 1;
        } else if (*i + 1 < argc) {
                value = argv[++*i];
        } else {
                return error_set(reterr, EINVAL, "%s needs a value", options[opt].name);
        }
        return apply_option(a, (Option)opt, value, reterr);
}

static bool any_kind(const PinnsArgs *a) {
        for (size_t k = 0; k < _PINNS_KIND_MAX; k++)
                if (a->kinds[k])
                        return true;
        return false;
}

static int validate_create(const PinnsArgs *a, Error **reterr) {
        if (!any_kind(a))
                return error_set(reterr, EINVAL,
                                 "no namespace to create: give --net, --ipc, --uts or --user");
        if (a->kinds[PINNS_USER] && (!a->uid_map || !a->gid_map))
                return error_set(reterr, EINVAL, "--user needs --uid-map and --gid-map");
        if (!a->kinds[PINNS_USER] && (a->uid_map || a->gid_map))
                return error_set(reterr, EINVAL, "--uid-map and --gid-map need --user");
        /* Without a new UTS namespace the hostname would be the host's. */
        if (a->hostname && !a->kinds[PINNS_UTS])
                return error_set(reterr, EINVAL, "--hostname needs --uts");
        if (a->hostname && (!*a->hostname || strlen(a->hostname) > HOST_NAME_MAX))
                return error_set(reterr, EINVAL, "--hostname must have 1 to %d characters", HOST_NAME_MAX);
        return 0;
}

static int validate(const PinnsArgs *a, Error **reterr) {
        if (!a->dir || !*a->dir)
                return error_set(reterr, EINVAL, "missing --dir");
        if (!a->name)
                return error_set(reterr, EINVAL, "missing --name");
        if (!pinns_name_is_valid(a->name))
                return error_set(reterr, EINVAL, "--name '%s' is not a plain file name", a->name);
        if (a->remove) {
                if (a->hostname || a->uid_map || a->gid_map || a->n_sysctls > 0)
                        return error_set(reterr, EINVAL,
                                         "--remove takes only --dir, --name and namespace kinds");
                return 0;
        }
        return validate_create(a, reterr);
}

int pinns_args_parse(int argc, char *const *argv, PinnsArgs *ret, Error **reterr) {
        PinnsArgs a = {0};
        int r = 0;

        for (int i = 1; i < argc && r >= 0; i++) {
                if (strncmp(argv[i], "--", 2) != 0 && strcmp(argv[i], "-h") != 0)
                        r = error_set(reterr, EINVAL, "unexpected argument '%s'", argv[i]);
                else
                        r = parse_one(&a, argc, argv, &i, reterr);
        }
        if (r >= 0 && !a.help)
                r = validate(&a, reterr);
        if (r < 0) {
                pinns_args_done(&a);
                return r;
        }
        *ret = a;
        return 0;
}

void pinns_args_done(PinnsArgs *a) {
        for (size_t i = 0; i < a->n_sysctls; i++)
                sysctl_done(&a->sysctls[i]);
        free(a->sysctls);
        free(a->uid_map);
        free(a->gid_map);
        *a = (PinnsArgs){0};
}
