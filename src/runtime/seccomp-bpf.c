/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include <linux/seccomp.h>
#include <seccomp.h>

#include "exec-plan.h"

#define MAX_ARGS 6

static json_object *get(json_object *o, const char *key) {
        json_object *v = NULL;
        return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static size_t array_len(json_object *a) {
        return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

/* An OCI action name and its errnoRet as libseccomp's action; -EOPNOTSUPP for notify, -EINVAL else. */
static int64_t action_of(const char *name, json_object *errno_ret) {
        uint32_t e = errno_ret ? (uint32_t)json_object_get_int(errno_ret) : EPERM;
        if (!name)
                return -EINVAL;
        if (strcmp(name, "SCMP_ACT_ALLOW") == 0)
                return SCMP_ACT_ALLOW;
        if (strcmp(name, "SCMP_ACT_ERRNO") == 0)
                return SCMP_ACT_ERRNO(e);
        if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0)
                return SCMP_ACT_KILL_THREAD;
        if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0)
                return SCMP_ACT_KILL_PROCESS;
        if (strcmp(name, "SCMP_ACT_TRAP") == 0)
                return SCMP_ACT_TRAP;
        if (strcmp(name, "SCMP_ACT_TRACE") == 0)
                return SCMP_ACT_TRACE(e);
        if (strcmp(name, "SCMP_ACT_LOG") == 0)
                return SCMP_ACT_LOG;
        if (strcmp(name, "SCMP_ACT_NOTIFY") == 0)
                return -EOPNOTSUPP;
        return -EINVAL;
}

static int op_of(const char *name, enum scmp_compare *ret) {
        static const struct {
                const char *name;
                enum scmp_compare op;
        } ops[] = {
                {"SCMP_CMP_NE", SCMP_CMP_NE},
                {"SCMP_CMP_LT", SCMP_CMP_LT},
                {"SCMP_CMP_LE", SCMP_CMP_LE},
                {"SCMP_CMP_EQ", SCMP_CMP_EQ},
                {"SCMP_CMP_GE", SCMP_CMP_GE},
                {"SCMP_CMP_GT", SCMP_CMP_GT},
                {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
        };
        for (size_t i = 0; name && i < ELEMENTSOF(ops); i++)
                if (strcmp(name, ops[i].name) == 0) {
                        *ret = ops[i].op;
                        return 0;
                }
        return -EINVAL;
}

/* "SCMP_ARCH_X86_64" -> libseccomp's token; 0 when unknown. */
static uint32_t arch_of(const char *name) {
        char lower[32];
        if (!name || strncmp(name, "SCMP_ARCH_", 10) != 0 || strlen(name + 10) >= sizeof(lower))
                return 0;
        size_t i = 0;
        for (const char *s = name + 10; *s; s++)
                lower[i++] = (char)tolower((unsigned char)*s);
        lower[i] = 0;
        return seccomp_arch_resolve_name(lower);
}

static int add_architectures(scmp_filter_ctx ctx, json_object *arches, Error **reterr) {
        for (size_t i = 0; i < array_len(arches); i++) {
                const char *name = json_object_get_string(json_object_array_get_idx(arches, i));
                uint32_t arch = arch_of(name);
                if (!arch)
                        return error_set(reterr, EINVAL, "seccomp: unknown architecture %s",
                                         name ? name : "?");
                int r = seccomp_arch_add(ctx, arch);
                if (r < 0 && r != -EEXIST)
                        return error_set(reterr, -r, "seccomp: architecture %s: %s", name, strerror(-r));
        }
        return 0;
}

static int parse_conditions(json_object *args, struct scmp_arg_cmp *conds, size_t *n, bool *same_arg,
                            Error **reterr) {
        *n = array_len(args);
        *same_arg = false;
        if (*n > MAX_ARGS)
                return error_set(reterr, EINVAL, "seccomp: more than %d argument conditions", MAX_ARGS);
        for (size_t i = 0; i < *n; i++) {
                json_object *a = json_object_array_get_idx(args, i);
                int64_t index = json_object_get_int64(get(a, "index"));
                enum scmp_compare op;
                if (index < 0 || index >= MAX_ARGS || op_of(json_object_get_string(get(a, "op")), &op) < 0)
                        return error_set(reterr, EINVAL, "seccomp: bad argument condition");
                conds[i] = (struct scmp_arg_cmp){.arg = (unsigned)index,
                                                 .op = op,
                                                 .datum_a = json_object_get_uint64(get(a, "value")),
                                                 .datum_b = json_object_get_uint64(get(a, "valueTwo"))};
                for (size_t j = 0; j < i; j++)
                        *same_arg |= conds[j].arg == conds[i].arg;
        }
        return 0;
}

/*
 * One rule for each name. Conditions on different arguments must all hold; libseccomp cannot AND two
 * on the same argument, so those are added as alternatives, one rule each, as runc does.
 */
static int add_rule(scmp_filter_ctx ctx, uint32_t default_action, json_object *rule, Error **reterr) {
        int64_t action = action_of(json_object_get_string(get(rule, "action")), get(rule, "errnoRet"));
        if (action < 0)
                return error_set(reterr, (int)-action, "seccomp: action %s not supported",
                                 json_object_get_string(get(rule, "action")));
        if ((uint32_t)action == default_action)
                return 0; /* libseccomp refuses rules that do what the default does */
        struct scmp_arg_cmp conds[MAX_ARGS];
        size_t n = 0;
        bool same_arg = false;
        int r = parse_conditions(get(rule, "args"), conds, &n, &same_arg, reterr);
        json_object *names = get(rule, "names");
        for (size_t i = 0; r >= 0 && i < array_len(names); i++) {
                const char *name = json_object_get_string(json_object_array_get_idx(names, i));
                int nr = name ? seccomp_syscall_resolve_name(name) : __NR_SCMP_ERROR;
                if (nr == __NR_SCMP_ERROR)
                        continue; /* unknown to this libseccomp: as runc, skipped */
                if (!same_arg)
                        r = seccomp_rule_add_array(ctx, (uint32_t)action, nr, (unsigned)n, conds);
                for (size_t j = 0; same_arg && r >= 0 && j < n; j++)
                        r = seccomp_rule_add_array(ctx, (uint32_t)action, nr, 1, &conds[j]);
                if (r < 0)
                        return error_set(reterr, -r, "seccomp: rule for %s: %s", name, strerror(-r));
        }
        return r;
}

static int flags_of(json_object *flags, unsigned *ret, Error **reterr) {
        unsigned f = 0;
        for (size_t i = 0; i < array_len(flags); i++) {
                const char *name = json_object_get_string(json_object_array_get_idx(flags, i));
                if (name && strcmp(name, "SECCOMP_FILTER_FLAG_LOG") == 0)
                        f |= SECCOMP_FILTER_FLAG_LOG;
                else if (name && strcmp(name, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
                        f |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
                else if (!name || strcmp(name, "SECCOMP_FILTER_FLAG_TSYNC") != 0) /* one thread: moot */
                        return error_set(reterr, EOPNOTSUPP, "seccomp: flag %s not supported",
                                         name ? name : "?");
        }
        *ret = f;
        return 0;
}

static int build(scmp_filter_ctx ctx, json_object *seccomp, uint32_t default_action, Error **reterr) {
        int r = add_architectures(ctx, get(seccomp, "architectures"), reterr);
        json_object *rules = get(seccomp, "syscalls");
        for (size_t i = 0; r >= 0 && i < array_len(rules); i++)
                r = add_rule(ctx, default_action, json_object_array_get_idx(rules, i), reterr);
        return r;
}

int seccomp_bpf_compile(json_object *seccomp, int fd, unsigned *ret_flags, Error **reterr) {
        if (get(seccomp, "listenerPath"))
                return error_set(reterr, EOPNOTSUPP, "seccomp: notify listener");
        unsigned flags = 0;
        int r = flags_of(get(seccomp, "flags"), &flags, reterr);
        if (r < 0)
                return r;
        json_object *def = get(seccomp, "defaultAction");
        int64_t action = action_of(json_object_get_string(def), get(seccomp, "defaultErrnoRet"));
        if (action < 0)
                return error_set(reterr, (int)-action, "seccomp: default action %s not supported",
                                 json_object_get_string(def));
        /*
         * runc answers ENOSYS, not an allow list's default action, for system calls newer than the
         * profile (so that libc falls back, as from clone3 to clone); libseccomp's plain output does not,
         * and an exec'd process would then see EPERM where the container's own sees ENOSYS.
         */
        if ((uint32_t)action != SCMP_ACT_ALLOW && (uint32_t)action != SCMP_ACT_LOG)
                return error_set(reterr, EOPNOTSUPP, "seccomp: an allow list (default action %s)",
                                 json_object_get_string(def));
        scmp_filter_ctx ctx = seccomp_init((uint32_t)action);
        if (!ctx)
                return error_set(reterr, ENOMEM, "seccomp_init failed");
        r = build(ctx, seccomp, (uint32_t)action, reterr);
        if (r >= 0 && (r = seccomp_export_bpf(ctx, fd)) < 0)
                r = error_set(reterr, -r, "seccomp: export the filter: %s", strerror(-r));
        seccomp_release(ctx);
        if (r < 0)
                return r;
        *ret_flags = flags;
        return 0;
}
