/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "error.h"

/* One command to start in a container through crio-nsexec. */
typedef struct ExecRequest {
        char *const *argv;
        const char *cgroup; /* the container's cgroup from a hierarchy's root; NULL: do not join */
        bool tty;
        uint16_t width, height; /* the terminal's size, 0 when unknown */
        bool selinux_enabled;   /* the host enforces labels, which crio-nsexec does not set */
} ExecRequest;

/*
 * The plan crio-nsexec reads (its format: src/helpers/nsexec-plan.h, docs/helpers.md) to run
 * req->argv with the identity of the process in the container's OCI `spec`: env, cwd, user and
 * groups, capabilities, rlimits, no_new_privs, AppArmor profile, oom_score_adj, umask, and whether the
 * container has a user namespace to join. Strings may not contain NUL, so none can forge a record.
 * -EOPNOTSUPP when the spec asks for what only the runtime's own exec does (an SELinux label on a host
 * that enforces them, a personality, a seccomp notify listener): the caller then uses the runtime.
 * -EINVAL for a malformed spec. *ret_buf is malloc'ed.
 */
int exec_plan_build(json_object *spec, const ExecRequest *req, char **ret_buf, size_t *ret_len,
                    Error **reterr);

/*
 * The seccomp filter of the spec's linux.seccomp, compiled with libseccomp into classic BPF as runc
 * compiles it (the same actions, architectures and argument conditions) and written to `fd`;
 * *ret_flags gets the SECCOMP_FILTER_FLAG_* to load it with. -EOPNOTSUPP for what crio-nsexec cannot
 * load as runc would (notify actions, a listener, allow lists, whose newer system calls runc answers
 * with ENOSYS), -EINVAL for a malformed profile.
 */
int seccomp_bpf_compile(json_object *seccomp, int fd, unsigned *ret_flags, Error **reterr);
