/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "macros.h"
#include "nsexec-plan.h"

static bool parse_u64(const char *s, int base, uint64_t *ret) {
        if (!*s || *s == '-' || *s == '+' || *s == ' ')
                return false;
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(s, &end, base);
        if (errno || *end)
                return false;
        *ret = v;
        return true;
}

static bool parse_u32(const char *s, uint32_t *ret) {
        uint64_t v;
        if (!parse_u64(s, 10, &v) || v > UINT32_MAX)
                return false;
        *ret = (uint32_t)v;
        return true;
}

static bool parse_bool(const char *s, bool *ret) {
        if (strcmp(s, "0") != 0 && strcmp(s, "1") != 0)
                return false;
        *ret = s[0] == '1';
        return true;
}

static bool parse_limit(const char *s, uint64_t *ret) {
        if (strcmp(s, "unlimited") == 0) {
                *ret = RLIM_INFINITY;
                return true;
        }
        return parse_u64(s, 10, ret);
}

/* "RESOURCE:SOFT:HARD", the resource as its number. */
static bool parse_rlimit(char *s, PlanRlimit *ret) {
        char *soft = strchr(s, ':'), *hard = soft ? strchr(soft + 1, ':') : NULL;
        uint32_t resource;
        if (!hard)
                return false;
        *soft++ = 0;
        *hard++ = 0;
        if (!parse_u32(s, &resource) || resource >= RLIM_NLIMITS || !parse_limit(soft, &ret->soft) ||
            !parse_limit(hard, &ret->hard) || ret->soft > ret->hard)
                return false;
        ret->resource = (int)resource;
        return true;
}

/* "WIDTHxHEIGHT": the terminal the command gets. */
static bool parse_tty(char *s, ExecPlan *p) {
        char *x = strchr(s, 'x');
        uint32_t w, h;
        if (!x)
                return false;
        *x = 0;
        if (!parse_u32(s, &w) || !parse_u32(x + 1, &h) || w > UINT16_MAX || h > UINT16_MAX)
                return false;
        p->tty = true;
        p->width = (uint16_t)w;
        p->height = (uint16_t)h;
        return true;
}

static bool parse_oom_score_adj(const char *s, ExecPlan *p) {
        char *end = NULL;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (!*s || errno || *end || v < -1000 || v > 1000)
                return false;
        p->has_oom_score_adj = true;
        p->oom_score_adj = (int)v;
        return true;
}

static bool parse_umask(const char *s, ExecPlan *p) {
        uint64_t v;
        if (!parse_u64(s, 8, &v) || v > 0777)
                return false;
        p->has_umask = true;
        p->umask = (mode_t)v;
        return true;
}

static void strv_append(char ***v, size_t *n, char *s) {
        *v = xrealloc(*v, (*n + 2) * sizeof(char *));
        (*v)[(*n)++] = s;
        (*v)[*n] = NULL;
}

static bool parse_caps(const char *key, const char *value, ExecPlan *p) {
        static const struct {
                const char *key;
                size_t offset;
        } sets[] = {
                {"cap.bounding", offsetof(ExecPlan, cap_bounding)},
                {"cap.effective", offsetof(ExecPlan, cap_effective)},
                {"cap.permitted", offsetof(ExecPlan, cap_permitted)},
                {"cap.inheritable", offsetof(ExecPlan, cap_inheritable)},
                {"cap.ambient", offsetof(ExecPlan, cap_ambient)},
        };
        for (size_t i = 0; i < ELEMENTSOF(sets); i++)
                if (strcmp(key, sets[i].key) == 0)
                        return parse_u64(value, 16, (uint64_t *)((char *)p + sets[i].offset));
        return false;
}

static bool parse_ids(const char *key, const char *value, ExecPlan *p) {
        uint32_t id;
        if (!parse_u32(value, &id) || id == UINT32_MAX) /* (uid_t)-1 means "unchanged" to the kernel */
                return false;
        if (strcmp(key, "uid") == 0)
                p->uid = id;
        else if (strcmp(key, "gid") == 0)
                p->gid = id;
        else if (p->n_groups < PLAN_GROUPS_MAX) {
                p->groups = xrealloc(p->groups, (p->n_groups + 1) * sizeof(gid_t));
                p->groups[p->n_groups++] = id;
        } else
                return false;
        return true;
}

static bool parse_record(char *key, char *value, ExecPlan *p) {
        if (strcmp(key, "arg") == 0)
                strv_append(&p->args, &p->n_args, value);
        else if (strcmp(key, "env") == 0)
                strv_append(&p->env, &p->n_env, value);
        else if (strcmp(key, "cwd") == 0)
                p->cwd = value;
        else if (strcmp(key, "cgroup") == 0)
                p->cgroup = value;
        else if (strcmp(key, "apparmor") == 0)
                p->apparmor = value;
        else if (strcmp(key, "uid") == 0 || strcmp(key, "gid") == 0 || strcmp(key, "group") == 0)
                return parse_ids(key, value, p);
        else if (strncmp(key, "cap.", 4) == 0)
                return parse_caps(key, value, p);
        else if (strcmp(key, "rlimit") == 0)
                return p->n_rlimits < PLAN_RLIMITS_MAX && parse_rlimit(value, &p->rlimits[p->n_rlimits++]);
        else if (strcmp(key, "no_new_privs") == 0)
                return parse_bool(value, &p->no_new_privs);
        else if (strcmp(key, "user_namespace") == 0)
                return parse_bool(value, &p->user_namespace);
        else if (strcmp(key, "oom_score_adj") == 0)
                return parse_oom_score_adj(value, p);
        else if (strcmp(key, "umask") == 0)
                return parse_umask(value, p);
        else if (strcmp(key, "seccomp_flags") == 0) {
                uint32_t flags;
                if (!parse_u32(value, &flags))
                        return false;
                p->seccomp_flags = flags;
        } else if (strcmp(key, "tty") == 0)
                return parse_tty(value, p);
        else
                return false;
        return true;
}

static int plan_check(ExecPlan *p, Error **reterr) {
        if (p->n_args == 0)
                return error_set(reterr, EINVAL, "plan: no arg record");
        if (!p->cwd || p->cwd[0] != '/')
                return error_set(reterr, EINVAL, "plan: cwd must be an absolute path");
        if (!p->env)
                p->env = xcalloc(1, sizeof(char *));
        if ((p->cap_effective | p->cap_inheritable) & ~p->cap_permitted)
                return error_set(reterr, EINVAL,
                                 "plan: effective or inheritable capabilities beyond the permitted");
        if (p->cap_ambient & ~(p->cap_permitted & p->cap_inheritable))
                return error_set(reterr, EINVAL,
                                 "plan: ambient capabilities not both permitted and inheritable");
        return 0;
}

int exec_plan_parse(char *buf, size_t len, ExecPlan *ret, Error **reterr) {
        ExecPlan p = {};
        if (len == 0 || buf[len - 1] != 0)
                return error_set(reterr, EINVAL, "plan: not a list of NUL-terminated records");
        for (char *rec = buf, *next; rec < buf + len; rec = next) {
                next = rec + strlen(rec) + 1; /* before the '=' becomes a NUL */
                char *eq = strchr(rec, '=');
                if (!eq) {
                        exec_plan_done(&p);
                        return error_set(reterr, EINVAL, "plan: record without '=': %.64s", rec);
                }
                *eq = 0;
                if (!parse_record(rec, eq + 1, &p)) {
                        exec_plan_done(&p);
                        return error_set(reterr, EINVAL, "plan: bad record %.32s=%.64s", rec, eq + 1);
                }
        }
        int r = plan_check(&p, reterr);
        if (r < 0) {
                exec_plan_done(&p);
                return r;
        }
        *ret = p;
        return 0;
}

void exec_plan_done(ExecPlan *p) {
        free(p->args);
        free(p->env);
        free(p->groups);
        p->args = p->env = NULL;
        p->groups = NULL;
        p->n_args = p->n_env = p->n_groups = 0;
}

const char *exec_plan_getenv(char *const *env, const char *name) {
        size_t n = strlen(name);
        for (size_t i = 0; env && env[i]; i++)
                if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
                        return env[i] + n + 1;
        return NULL;
}

char *exec_plan_find_command(const char *name, const char *path_env, ExecutableCheck check, void *userdata) {
        if (strchr(name, '/'))
                return xstrdup(name);
        for (const char *p = path_env ? path_env : ""; *p;) { /* no $PATH, or an empty one: nothing found */
                size_t n = strcspn(p, ":");
                char *candidate = n ? xasprintf("%.*s/%s", (int)n, p, name) : xasprintf("./%s", name);
                if (check(candidate, userdata))
                        return candidate;
                free(candidate);
                if (!p[n])
                        break;
                p += n + 1;
        }
        errno = ENOENT;
        return NULL;
}

/* Field `index` (0-based) of a colon-separated passwd line, as [start, start + len). */
static bool passwd_field(const char *line, size_t line_len, int index, const char **start, size_t *len) {
        const char *p = line, *end = line + line_len;
        for (int i = 0; i < index; i++) {
                const char *colon = memchr(p, ':', (size_t)(end - p));
                if (!colon)
                        return false;
                p = colon + 1;
        }
        const char *colon = memchr(p, ':', (size_t)(end - p));
        *start = p;
        *len = (size_t)((colon ? colon : end) - p);
        return true;
}

char *exec_plan_passwd_home(const char *passwd, uid_t uid) {
        char want[16];
        int want_len = snprintf(want, sizeof(want), "%u", (unsigned)uid);
        for (const char *line = passwd; line && *line;) {
                const char *nl = strchr(line, '\n');
                size_t len = nl ? (size_t)(nl - line) : strlen(line);
                const char *f, *home;
                size_t flen, home_len;
                if (passwd_field(line, len, 2, &f, &flen) && flen == (size_t)want_len &&
                    memcmp(f, want, flen) == 0 && passwd_field(line, len, 5, &home, &home_len) && home_len)
                        return xstrndup(home, home_len);
                line = nl ? nl + 1 : NULL;
        }
        return NULL;
}
