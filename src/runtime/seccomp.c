/* SPDX-License-Identifier: Apache-2.0 */
#include "oci-spec.h"

/*
 * RuntimeDefault: everything is allowed except system calls that reach past the container into the
 * kernel or the host (module loading, kexec, reboot, swap, accounting, the kernel keyring, raw
 * handles to host files, time setting, tracing other address spaces, new mounts and namespaces
 * without CAP_SYS_ADMIN). Capabilities already gate most of these; the profile is a second wall for
 * the day a capability is granted too widely. A deny list (unlike an allow list) never breaks a
 * workload that uses a new, harmless system call. See docs/runtime.md.
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
};

json_object *seccomp_default_profile(void) {
        json_object *p = json_object_new_object();
        json_object_object_add(p, "defaultAction", json_object_new_string("SCMP_ACT_ALLOW"));
        json_object *arches = json_object_new_array();
        json_object_array_add(arches, json_object_new_string("SCMP_ARCH_X86_64"));
        json_object_array_add(arches, json_object_new_string("SCMP_ARCH_X86"));
        json_object_array_add(arches, json_object_new_string("SCMP_ARCH_X32"));
        json_object_object_add(p, "architectures", arches);
        json_object *names = json_object_new_array();
        for (size_t i = 0; i < ELEMENTSOF(denied_syscalls); i++)
                json_object_array_add(names, json_object_new_string(denied_syscalls[i]));
        json_object *rule = json_object_new_object();
        json_object_object_add(rule, "names", names);
        json_object_object_add(rule, "action", json_object_new_string("SCMP_ACT_ERRNO"));
        json_object_object_add(rule, "errnoRet", json_object_new_int(1)); /* EPERM */
        json_object *rules = json_object_new_array();
        json_object_array_add(rules, rule);
        json_object_object_add(p, "syscalls", rules);
        return p;
}
