/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <json-c/json.h>

#include "runtime.h"

/* What the image's config says about running it (the "config" object of an OCI image config). */
typedef struct ImageRunConfig {
        char **env, **entrypoint, **cmd, **volumes;
        char *working_dir, *user, *stop_signal;
        bool has_entrypoint; /* an explicit empty Entrypoint clears nothing but is not "unset" */
} ImageRunConfig;

/* Parse the run config out of an image config blob. Missing fields stay empty. -EINVAL on bad JSON. */
int image_run_config_parse(const char *json, size_t len, ImageRunConfig *ret, Error **reterr);
void image_run_config_done(ImageRunConfig *c);

/* Everything the spec of one container depends on besides its CRI config. */
typedef struct SpecInput {
        const ContainerConfig *ctr;
        const ImageRunConfig *image;
        const char *rootfs;
        const char *hostname;
        const char *pod_dir;                                /* hostname, hosts, resolv.conf live here */
        const char *shm_path;                               /* bind-mounted on /dev/shm; NULL for none */
        const char *netns, *ipcns, *utsns, *userns, *pidns; /* paths to join; NULL: new or host */
        const NamespaceConfig *userns_maps;                 /* the pod's ID mappings, with `userns` */
        bool host_net, host_ipc, host_pid;
        const char *cgroups_path;
        int64_t uid, gid;
        const int64_t *groups;
        size_t n_groups;
        char *const *default_caps;
        uint64_t bounding_caps; /* the daemon's bounding set: privileged and ALL get no more */
        char *const *default_env;
        char *const *default_ulimits;
        int64_t min_oom_score_adj;    /* the daemon's own: nobody may go below it here */
        json_object *seccomp;         /* profile to embed (borrowed), NULL for none or the default */
        bool seccomp_default;         /* no profile given: the built-in one, fitted to the capabilities */
        const char *apparmor_profile; /* NULL when the host has no AppArmor */
        char *const *extra_devices;   /* additional_devices: "HOST[:CONTAINER][:PERMISSIONS]" */
        char *const *pod_devices; /* the pod's devices.crio.io annotation, checked against allowed_devices */
        bool no_host_devices;     /* privileged_without_host_devices of the handler */
        bool read_only;           /* read_only: unprivileged containers get a read-only rootfs */
        bool inheritable_caps;    /* add_inheritable_capabilities */
        bool no_pivot;            /* no_pivot: the runtime will not pivot_root into the rootfs */
        bool device_owner_from_ctx; /* device_ownership_from_security_context */
        int64_t pids_limit;         /* pids_limit; <= 0: none */
        char *const *mount_sources; /* the CRI mounts' host paths resolved under bind_mount_prefix; NULL: as
                                       given */
        const char *localtime;      /* host file bound on /etc/localtime (timezone); NULL for none */
        const MountsFileEntry *default_mounts; /* default_mounts_file's entries, bound read-only */
        size_t n_default_mounts;
        char **volumes_to_create; /* unused by the spec, for the caller */
} SpecInput;

/*
 * Build the OCI runtime spec (config.json) of a container. Returns a new object, or NULL with
 * reterr set (-EINVAL naming the field: no command, a bad capability, a bad ulimit).
 */
json_object *oci_spec_build(const SpecInput *in, Error **reterr);

/* A CRI mount's host path behind bind_mount_prefix (NULL or "": none), joined as text. New. */
char *oci_mount_source(const char *bind_prefix, const char *host_path);

/* The process args by the kubelet's rules: command+args, else entrypoint+args, else entrypoint+cmd. */
char **oci_process_args(const ContainerConfig *ctr, const ImageRunConfig *image);

/* Capability sets: bit mask from CRI names ("NET_ADMIN", "CAP_NET_ADMIN", "ALL"). */
int capability_from_name(const char *name);
const char *capability_to_name(int cap);
uint64_t capabilities_read_bounding(void);

/* The resource number of an OCI rlimit type ("RLIMIT_NOFILE"), or -EINVAL. */
int rlimit_from_oci_name(const char *name);

/* The linux.resources object of a spec for these resources. */
json_object *oci_resources_json(const Resources *r);
/* Resources a runtime could apply: -EINVAL naming the field (its bounds, a CPU list, a page size). */
int resources_validate(const Resources *r, Error **reterr);

/*
 * The built-in RuntimeDefault seccomp profile (a deny list of dangerous syscalls); mounts and new
 * namespaces are denied too unless the container has CAP_SYS_ADMIN.
 */
json_object *seccomp_default_profile(bool sys_admin);
