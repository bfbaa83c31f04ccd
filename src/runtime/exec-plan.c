/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "exec-plan.h"
#include "oci-spec.h"

typedef struct Plan {
        FILE *f;
        char *buf;
        size_t len;
} Plan;

static json_object *get(json_object *o, const char *key) {
        json_object *v = NULL;
        return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static bool is_type(json_object *o, json_type t) {
        return o && json_object_is_type(o, t);
}

/* A record; a value with a NUL inside would end it early, so it is refused. */
static int put(Plan *p, const char *key, const char *value, size_t len, Error **reterr) {
        if (strlen(value) != len)
                return error_set(reterr, EINVAL, "config.json: %s holds a NUL byte", key);
        fprintf(p->f, "%s=%s", key, value);
        fputc(0, p->f);
        return 0;
}

static int put_json_string(Plan *p, const char *key, json_object *s, Error **reterr) {
        if (!is_type(s, json_type_string))
                return error_set(reterr, EINVAL, "config.json: %s is not a string", key);
        return put(p, key, json_object_get_string(s), (size_t)json_object_get_string_len(s), reterr);
}

typedef enum Base { DEC, HEX, OCT } Base;

static void put_num(Plan *p, const char *key, Base base, uint64_t v) {
        if (base == HEX)
                fprintf(p->f, "%s=%" PRIx64, key, v);
        else if (base == OCT)
                fprintf(p->f, "%s=%" PRIo64, key, v);
        else
                fprintf(p->f, "%s=%" PRIu64, key, v);
        fputc(0, p->f);
}

static int put_strings(Plan *p, const char *key, json_object *a, Error **reterr) {
        if (!a)
                return 0;
        if (!is_type(a, json_type_array))
                return error_set(reterr, EINVAL, "config.json: %s is not an array", key);
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                int r = put_json_string(p, key, json_object_array_get_idx(a, i), reterr);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int put_user(Plan *p, json_object *user, Error **reterr) {
        static const char *const ids[] = {"uid", "gid"};
        for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                json_object *v = get(user, ids[i]);
                int64_t id = v ? json_object_get_int64(v) : 0;
                if ((v && !is_type(v, json_type_int)) || id < 0 || id >= UINT32_MAX)
                        return error_set(reterr, EINVAL, "config.json: process.user.%s is not an id",
                                         ids[i]);
                put_num(p, ids[i], DEC, (uint64_t)id);
        }
        json_object *groups = get(user, "additionalGids");
        for (size_t i = 0; is_type(groups, json_type_array) && i < json_object_array_length(groups); i++) {
                int64_t g = json_object_get_int64(json_object_array_get_idx(groups, i));
                if (g < 0 || g >= UINT32_MAX)
                        return error_set(reterr, EINVAL, "config.json: bad additional gid");
                put_num(p, "group", DEC, (uint64_t)g);
        }
        json_object *umask = get(user, "umask");
        if (is_type(umask, json_type_int))
                put_num(p, "umask", OCT, (uint64_t)json_object_get_int64(umask) & 0777);
        return 0;
}

static int put_caps(Plan *p, json_object *caps, Error **reterr) {
        static const char *const sets[] = {"bounding", "effective", "permitted", "inheritable", "ambient"};
        for (size_t i = 0; i < ELEMENTSOF(sets); i++) {
                json_object *names = get(caps, sets[i]);
                uint64_t mask = 0;
                for (size_t j = 0; is_type(names, json_type_array) && j < json_object_array_length(names);
                     j++) {
                        const char *n = json_object_get_string(json_object_array_get_idx(names, j));
                        int cap = n ? capability_from_name(n) : -EINVAL;
                        if (cap < 0)
                                return error_set(reterr, EOPNOTSUPP, "capability %s unknown here",
                                                 n ? n : "?");
                        mask |= 1ULL << cap;
                }
                _cleanup_free_ char *key = xasprintf("cap.%s", sets[i]);
                put_num(p, key, HEX, mask);
        }
        return 0;
}

static int put_rlimits(Plan *p, json_object *rlimits, Error **reterr) {
        for (size_t i = 0; is_type(rlimits, json_type_array) && i < json_object_array_length(rlimits); i++) {
                json_object *l = json_object_array_get_idx(rlimits, i);
                const char *type = json_object_get_string(get(l, "type"));
                int res = type ? rlimit_from_oci_name(type) : -EINVAL;
                if (res < 0)
                        return error_set(reterr, EOPNOTSUPP, "rlimit %s unknown here", type ? type : "?");
                uint64_t soft = json_object_get_uint64(get(l, "soft")),
                         hard = json_object_get_uint64(get(l, "hard"));
                fprintf(p->f, "rlimit=%d:%" PRIu64 ":%" PRIu64, res, soft, hard);
                fputc(0, p->f);
        }
        return 0;
}

static bool has_user_namespace(json_object *linux_) {
        json_object *ns = get(linux_, "namespaces");
        for (size_t i = 0; is_type(ns, json_type_array) && i < json_object_array_length(ns); i++) {
                const char *type = json_object_get_string(get(json_object_array_get_idx(ns, i), "type"));
                if (type && strcmp(type, "user") == 0)
                        return true;
        }
        return false;
}

/* What only the runtime's exec can reproduce. */
static int check_supported(json_object *process, json_object *linux_, const ExecRequest *req,
                           Error **reterr) {
        const char *label = json_object_get_string(get(process, "selinuxLabel"));
        if (label && *label && req->selinux_enabled)
                return error_set(reterr, EOPNOTSUPP, "SELinux process label");
        if (get(linux_, "personality"))
                return error_set(reterr, EOPNOTSUPP, "personality");
        return 0;
}

static int put_process(Plan *p, json_object *process, const ExecRequest *req, Error **reterr) {
        for (char *const *a = req->argv; *a; a++)
                put(p, "arg", *a, strlen(*a), reterr);
        int r = put_strings(p, "env", get(process, "env"), reterr);
        json_object *cwd = get(process, "cwd");
        if (r >= 0)
                r = cwd ? put_json_string(p, "cwd", cwd, reterr) : put(p, "cwd", "/", 1, reterr);
        if (r >= 0)
                r = put_user(p, get(process, "user"), reterr);
        if (r >= 0)
                r = put_caps(p, get(process, "capabilities"), reterr);
        if (r >= 0)
                r = put_rlimits(p, get(process, "rlimits"), reterr);
        if (r < 0)
                return r;
        put_num(p, "no_new_privs", DEC, json_object_get_boolean(get(process, "noNewPrivileges")));
        json_object *apparmor = get(process, "apparmorProfile");
        if (apparmor && json_object_get_string_len(apparmor) > 0)
                r = put_json_string(p, "apparmor", apparmor, reterr);
        json_object *oom = get(process, "oomScoreAdj");
        if (is_type(oom, json_type_int))
                fprintf(p->f, "oom_score_adj=%d%c", json_object_get_int(oom), 0);
        return r;
}

int exec_plan_build(json_object *spec, const ExecRequest *req, char **ret_buf, size_t *ret_len,
                    Error **reterr) {
        json_object *process = get(spec, "process"), *linux_ = get(spec, "linux");
        if (!is_type(process, json_type_object))
                return error_set(reterr, EINVAL, "config.json has no process");
        if (!req->argv || !req->argv[0])
                return error_set(reterr, EINVAL, "cmd: no command given");
        int r = check_supported(process, linux_, req, reterr);
        if (r < 0)
                return r;
        Plan p = {};
        p.f = open_memstream(&p.buf, &p.len);
        if (!p.f)
                return error_set(reterr, ENOMEM, "open_memstream: %m");
        r = put_process(&p, process, req, reterr);
        put_num(&p, "user_namespace", DEC, has_user_namespace(linux_));
        if (r >= 0 && req->cgroup)
                r = put(&p, "cgroup", req->cgroup, strlen(req->cgroup), reterr);
        if (req->tty)
                fprintf(p.f, "tty=%ux%u%c", req->width, req->height, 0);
        fclose(p.f);
        if (r < 0) {
                free(p.buf);
                return r;
        }
        *ret_buf = p.buf;
        *ret_len = p.len;
        return 0;
}
