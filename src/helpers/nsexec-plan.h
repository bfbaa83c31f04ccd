/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/*
 * The pure part of crio-nsexec: the plan the daemon hands it (what to run in a container and with
 * which identity), and the look-ups done inside the container's root (the command in $PATH, $HOME
 * from /etc/passwd). Nothing here touches the system except the look-ups' stat() callback, so all of
 * it is unit tested (tests/unit/test-nsexec-plan.c). The format is in docs/helpers.md.
 */

/* A resource limit: `resource` is RLIMIT_*; RLIM_INFINITY is written "unlimited". */
typedef struct PlanRlimit {
        int resource;
        uint64_t soft, hard;
} PlanRlimit;

#define PLAN_RLIMITS_MAX 16
/* The kernel's NGROUPS_MAX: runc accepts as many supplementary groups, and so must an exec. */
#define PLAN_GROUPS_MAX 65536

/* All strings point into the plan's buffer, which must outlive the plan. */
typedef struct ExecPlan {
        char **args; /* NULL-terminated; at least one */
        size_t n_args;
        char **env; /* NULL-terminated */
        size_t n_env;
        const char *cwd;
        uid_t uid;
        gid_t gid;
        gid_t *groups; /* malloc'ed */
        size_t n_groups;
        uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
        PlanRlimit rlimits[PLAN_RLIMITS_MAX];
        size_t n_rlimits;
        bool no_new_privs;
        bool user_namespace;  /* the container has its own user namespace: join it too */
        const char *cgroup;   /* the container's cgroup from a hierarchy's root; NULL: stay */
        const char *apparmor; /* profile to exec into; NULL: none */
        bool has_oom_score_adj;
        int oom_score_adj;
        bool has_umask;
        mode_t umask;
        unsigned seccomp_flags; /* SECCOMP_FILTER_FLAG_* for the filter passed beside the plan */
        bool tty;
        uint16_t width, height; /* the terminal's size; 0: leave the default */
} ExecPlan;

/*
 * Parse a plan: "key=value" records, each ending in a NUL byte. `buf` (of `len` bytes) is modified and
 * must outlive the plan. Unknown keys, malformed numbers, missing args or cwd are -EINVAL naming the
 * record. The caller frees the plan with exec_plan_done().
 */
int exec_plan_parse(char *buf, size_t len, ExecPlan *ret, Error **reterr);
void exec_plan_done(ExecPlan *p);

/* The value of `name` in a NULL-terminated "K=V" environment, or NULL. */
const char *exec_plan_getenv(char *const *env, const char *name);

/* Is `path` an executable regular file (stat()'s answer)? Replaceable in tests. */
typedef bool (*ExecutableCheck)(const char *path, void *userdata);

/*
 * Where the command `name` is: itself when it contains a '/', else the first executable file in
 * `path_env` (colon-separated, empty entries meaning "."; an unset or empty $PATH finds nothing, as in
 * runc's search).
 * Returns a malloc'ed path, or NULL (errno ENOENT) when no entry holds it.
 */
char *exec_plan_find_command(const char *name, const char *path_env, ExecutableCheck check, void *userdata);

/* The home directory of `uid` in an /etc/passwd text (name:pw:uid:gid:gecos:home:shell), or NULL. */
char *exec_plan_passwd_home(const char *passwd, uid_t uid);
