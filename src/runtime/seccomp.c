/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>

#include "oci-spec.h"

/*
 * RuntimeDefault: everything is allowed except system calls that reach past the container into the
 * kernel or the host (module loading, kexec, reboot, swap, accounting, the kernel keyring, raw
 * handles to host files, time setting, tracing other address spaces, io_uring, and new mounts and
 * namespaces without CAP_SYS_ADMIN). Capabilities already gate most of these; the profile is a second
 * wall for the day a capability is granted too widely. A deny list (unlike an allow list) never breaks
 * a workload that uses a new, harmless system call. See docs/runtime.md.
 */
static const char *const denied_syscalls[] = {
        "acct",
        "add_key",
        "bpf",
        "clock_adjtime",
        "clock_settime",
        "create_module",
        "delete_module",
        "finit_module",
        "get_kernel_syms",
        "init_module",
        "ioperm",
        "iopl",
        "kcmp",
        "kexec_file_load",
        "kexec_load",
        "keyctl",
        "lookup_dcookie",
        "nfsservctl",
        "open_by_handle_at",
        "perf_event_open",
        "pivot_root",
        "process_vm_readv",
        "process_vm_writev",
        "query_module",
        "quotactl",
        "reboot",
        "request_key",
        "settimeofday",
        "stime",
        "swapoff",
        "swapon",
        "sysfs",
        "_sysctl",
        "umount",
        "uselib",
        "userfaultfd",
        "ustat",
        "vm86",
        "vm86old",
        "fsconfig",
        "fsmount",
        "fsopen",
        "fspick",
        "move_mount",
        "open_tree",
        /* A large kernel surface with a history of escapes; Docker and containerd deny it too. */
        "io_uring_enter",
        "io_uring_register",
        "io_uring_setup",
};

/*
 * Without CAP_SYS_ADMIN a container gets no mounts and no namespaces of its own: where unprivileged
 * user namespaces are allowed, one would hand it a CAP_SYS_ADMIN that reaches the kernel's mount,
 * cgroup and netfilter code. clone is filtered on its flags below; clone3 hides its flags in memory
 * that a filter cannot read, so it answers ENOSYS and the C library falls back to clone.
 */
static const char *const denied_without_sys_admin[] = {"mount", "umount2", "unshare", "setns"};

static const unsigned long clone_namespace_flags[] = {
        0x00020000, /* CLONE_NEWNS */
        0x02000000, /* CLONE_NEWCGROUP */
        0x04000000, /* CLONE_NEWUTS */
        0x08000000, /* CLONE_NEWIPC */
        0x10000000, /* CLONE_NEWUSER */
        0x20000000, /* CLONE_NEWPID */
        0x40000000, /* CLONE_NEWNET */
};

static json_object *names_json(const char *const *names, size_t n) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, json_object_new_string(names[i]));
        return a;
}

static json_object *errno_rule(json_object *names, int errno_ret) {
        json_object *rule = json_object_new_object();
        json_object_object_add(rule, "names", names);
        json_object_object_add(rule, "action", json_object_new_string("SCMP_ACT_ERRNO"));
        json_object_object_add(rule, "errnoRet", json_object_new_int(errno_ret));
        return rule;
}

/* clone with FLAG among its flags (argument 0 on x86) fails with EPERM. */
static json_object *clone_flag_rule(unsigned long flag) {
        const char *clone[] = {"clone"};
        json_object *rule = errno_rule(names_json(clone, 1), EPERM);
        json_object *arg = json_object_new_object();
        json_object_object_add(arg, "index", json_object_new_int(0));
        json_object_object_add(arg, "value", json_object_new_uint64(flag));
        json_object_object_add(arg, "valueTwo", json_object_new_uint64(flag));
        json_object_object_add(arg, "op", json_object_new_string("SCMP_CMP_MASKED_EQ"));
        json_object *args = json_object_new_array();
        json_object_array_add(args, arg);
        json_object_object_add(rule, "args", args);
        return rule;
}

json_object *seccomp_default_profile(bool sys_admin) {
        json_object *p = json_object_new_object();
        json_object_object_add(p, "defaultAction", json_object_new_string("SCMP_ACT_ALLOW"));
        json_object *arches = json_object_new_array();
        json_object_array_add(arches, json_object_new_string("SCMP_ARCH_X86_64"));
        json_object_array_add(arches, json_object_new_string("SCMP_ARCH_X86"));
        json_object_array_add(arches, json_object_new_string("SCMP_ARCH_X32"));
        json_object_object_add(p, "architectures", arches);
        json_object *rules = json_object_new_array();
        json_object_array_add(rules,
                              errno_rule(names_json(denied_syscalls, ELEMENTSOF(denied_syscalls)), EPERM));
        if (!sys_admin) {
                json_object_array_add(rules, errno_rule(names_json(denied_without_sys_admin,
                                                                   ELEMENTSOF(denied_without_sys_admin)),
                                                        EPERM));
                const char *clone3[] = {"clone3"};
                json_object_array_add(rules, errno_rule(names_json(clone3, 1), ENOSYS));
                for (size_t i = 0; i < ELEMENTSOF(clone_namespace_flags); i++)
                        json_object_array_add(rules, clone_flag_rule(clone_namespace_flags[i]));
        }
        json_object_object_add(p, "syscalls", rules);
        return p;
}
