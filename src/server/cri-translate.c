/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <string.h>

#include "cri-translate.h"
#include "pb-util.h"
#include "strv.h"

static void strmap_from_entries(StrMap *m, void *const *entries, size_t n) {
        for (size_t i = 0; i < n; i++) {
                const MapEntry *e = entries[i];
                strmap_add(m, strempty(e->key), strempty(e->value));
        }
}

static char **strv_from_pb(char *const *l, size_t n) {
        char **out = NULL;
        for (size_t i = 0; i < n; i++)
                out = strv_push(out, xstrdup(strempty(l[i])));
        return out;
}

static NamespaceMode ns_mode(Runtime__V1__NamespaceMode m) {
        return (NamespaceMode)m;
}

static IdMap *idmaps_from_pb(Runtime__V1__IDMapping *const *l, size_t n) {
        IdMap *m = xcalloc(n ? n : 1, sizeof(IdMap));
        for (size_t i = 0; i < n; i++)
                m[i] = (IdMap){.container_id = l[i]->container_id,
                               .host_id = l[i]->host_id,
                               .length = l[i]->length};
        return m;
}

static void namespaces_from_cri(const Runtime__V1__NamespaceOption *o, NamespaceConfig *ns) {
        if (!o)
                return;
        ns->network = ns_mode(o->network);
        ns->pid = ns_mode(o->pid);
        ns->ipc = ns_mode(o->ipc);
        ns->target_id = isempty(o->target_id) ? NULL : xstrdup(o->target_id);
        const Runtime__V1__UserNamespace *u = o->userns_options;
        ns->user = u ? ns_mode(u->mode) : NS_NODE;
        if (u && u->mode == RUNTIME__V1__NAMESPACE_MODE__POD) {
                ns->userns = true;
                ns->uids = idmaps_from_pb(u->uids, u->n_uids);
                ns->n_uids = u->n_uids;
                ns->gids = idmaps_from_pb(u->gids, u->n_gids);
                ns->n_gids = u->n_gids;
        }
}

static void port_mappings_from_cri(const Runtime__V1__PodSandboxConfig *c, PodConfig *p) {
        p->port_mappings = xcalloc(c->n_port_mappings + 1, sizeof(PortMapping));
        for (size_t i = 0; i < c->n_port_mappings; i++) {
                const Runtime__V1__PortMapping *m = c->port_mappings[i];
                p->port_mappings[i] =
                        (PortMapping){.protocol = (PortProtocol)m->protocol,
                                      .container_port = m->container_port,
                                      .host_port = m->host_port,
                                      .host_ip = isempty(m->host_ip) ? NULL : xstrdup(m->host_ip)};
        }
        p->n_port_mappings = c->n_port_mappings;
}

PodConfig *pod_config_from_cri(const Runtime__V1__PodSandboxConfig *c, const char *runtime_handler) {
        PodConfig *p = xcalloc(1, sizeof(*p));
        const Runtime__V1__PodSandboxMetadata *md = c->metadata;
        p->name = xstrdup(md ? strempty(md->name) : "");
        p->uid = xstrdup(md ? strempty(md->uid) : "");
        p->namespace_ = xstrdup(md ? strempty(md->namespace_) : "");
        p->attempt = md ? md->attempt : 0;
        p->hostname = xstrdup(strempty(c->hostname));
        p->log_directory = xstrdup(strempty(c->log_directory));
        if (c->dns_config) {
                p->dns_servers = strv_from_pb(c->dns_config->servers, c->dns_config->n_servers);
                p->dns_searches = strv_from_pb(c->dns_config->searches, c->dns_config->n_searches);
                p->dns_options = strv_from_pb(c->dns_config->options, c->dns_config->n_options);
        }
        strmap_from_entries(&p->labels, (void *const *)c->labels, c->n_labels);
        strmap_from_entries(&p->annotations, (void *const *)c->annotations, c->n_annotations);
        const Runtime__V1__LinuxPodSandboxConfig *l = c->linux;
        /* The kubelet's default is a pod without namespace options: everything shared in the pod. */
        p->ns.pid = NS_POD;
        if (l) {
                p->cgroup_parent = xstrdup(strempty(l->cgroup_parent));
                strmap_from_entries(&p->sysctls, (void *const *)l->sysctls, l->n_sysctls);
                if (l->security_context) {
                        namespaces_from_cri(l->security_context->namespace_options, &p->ns);
                        p->privileged = l->security_context->privileged;
                }
        }
        p->runtime_handler = xstrdup(strempty(runtime_handler));
        port_mappings_from_cri(c, p);
        return p;
}

void resources_from_cri(const Runtime__V1__LinuxContainerResources *r, Resources *ret) {
        *ret = (Resources){};
        if (!r)
                return;
        ret->cpu_period = r->cpu_period;
        ret->cpu_quota = r->cpu_quota;
        ret->cpu_shares = r->cpu_shares;
        ret->memory_limit = r->memory_limit_in_bytes;
        ret->memory_swap_limit = r->memory_swap_limit_in_bytes;
        ret->oom_score_adj = r->oom_score_adj;
        ret->cpuset_cpus = isempty(r->cpuset_cpus) ? NULL : xstrdup(r->cpuset_cpus);
        ret->cpuset_mems = isempty(r->cpuset_mems) ? NULL : xstrdup(r->cpuset_mems);
        ret->hugepages = xcalloc(r->n_hugepage_limits + 1, sizeof(HugepageLimit));
        for (size_t i = 0; i < r->n_hugepage_limits; i++)
                ret->hugepages[i] =
                        (HugepageLimit){.page_size = xstrdup(strempty(r->hugepage_limits[i]->page_size)),
                                        .limit = r->hugepage_limits[i]->limit};
        ret->n_hugepages = r->n_hugepage_limits;
        strmap_from_entries(&ret->unified, (void *const *)r->unified, r->n_unified);
}

Runtime__V1__LinuxContainerResources *resources_to_cri(const Resources *r) {
        Runtime__V1__LinuxContainerResources *o =
                PB_NEW(Runtime__V1__LinuxContainerResources, RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT);
        o->cpu_period = r->cpu_period;
        o->cpu_quota = r->cpu_quota;
        o->cpu_shares = r->cpu_shares;
        o->memory_limit_in_bytes = r->memory_limit;
        o->memory_swap_limit_in_bytes = r->memory_swap_limit;
        o->oom_score_adj = r->oom_score_adj;
        o->cpuset_cpus = xstrdup(strempty(r->cpuset_cpus));
        o->cpuset_mems = xstrdup(strempty(r->cpuset_mems));
        o->unified = map_entries_new(&runtime__v1__linux_container_resources__unified_entry__descriptor,
                                     &r->unified, &o->n_unified);
        return o;
}

/* A user or group ID as the kernel takes it: 0 up to 2^32-2 ((uid_t)-1 means "unchanged"). */
static int check_id(const char *field, int64_t id, Error **reterr) {
        if (id < 0 || id > 4294967294LL)
                return error_set(reterr, EINVAL, "linux.security_context.%s: %" PRId64 " is not a valid ID",
                                 field, id);
        return 0;
}

static int check_ids(const Runtime__V1__LinuxContainerSecurityContext *s, Error **reterr) {
        int r = s->run_as_user ? check_id("run_as_user", s->run_as_user->value, reterr) : 0;
        if (r >= 0 && s->run_as_group)
                r = check_id("run_as_group", s->run_as_group->value, reterr);
        for (size_t i = 0; r >= 0 && i < s->n_supplemental_groups; i++)
                r = check_id("supplemental_groups", s->supplemental_groups[i], reterr);
        return r;
}

static int security_from_cri(const Runtime__V1__LinuxContainerSecurityContext *s, ContainerConfig *c,
                             Error **reterr) {
        c->run_as_user = c->run_as_group = -1;
        c->seccomp = SECCOMP_UNCONFINED; /* no profile named: the kubelet asked for none */
        if (!s)
                return 0;
        int r = check_ids(s, reterr);
        if (r < 0)
                return r;
        if (s->seccomp && (unsigned)s->seccomp->profile_type > SECCOMP_LOCALHOST)
                return error_set(reterr, EINVAL,
                                 "linux.security_context.seccomp.profile_type: unknown type %d",
                                 (int)s->seccomp->profile_type);
        if (s->capabilities) {
                c->cap_add =
                        strv_from_pb(s->capabilities->add_capabilities, s->capabilities->n_add_capabilities);
                c->cap_drop = strv_from_pb(s->capabilities->drop_capabilities,
                                           s->capabilities->n_drop_capabilities);
        }
        c->privileged = s->privileged;
        namespaces_from_cri(s->namespace_options, &c->ns);
        if (s->run_as_user)
                c->run_as_user = s->run_as_user->value;
        if (s->run_as_group)
                c->run_as_group = s->run_as_group->value;
        c->run_as_username = isempty(s->run_as_username) ? NULL : xstrdup(s->run_as_username);
        c->readonly_rootfs = s->readonly_rootfs;
        c->supplemental_groups = xcalloc(s->n_supplemental_groups + 1, sizeof(int64_t));
        if (s->n_supplemental_groups)
                memcpy(c->supplemental_groups, s->supplemental_groups,
                       s->n_supplemental_groups * sizeof(int64_t));
        c->n_supplemental_groups = s->n_supplemental_groups;
        c->no_new_privs = s->no_new_privs;
        c->masked_paths = strv_from_pb(s->masked_paths, s->n_masked_paths);
        c->has_masked_paths = s->n_masked_paths > 0;
        c->readonly_paths = strv_from_pb(s->readonly_paths, s->n_readonly_paths);
        c->has_readonly_paths = s->n_readonly_paths > 0;
        if (s->apparmor &&
            s->apparmor->profile_type == RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost)
                c->apparmor_profile = xstrdup(strempty(s->apparmor->localhost_ref));
        if (s->seccomp) {
                c->seccomp = (SeccompKind)s->seccomp->profile_type;
                c->seccomp_path =
                        isempty(s->seccomp->localhost_ref) ? NULL : xstrdup(s->seccomp->localhost_ref);
                return 0;
        }
        /* The deprecated string form still sent by older kubelets: "runtime/default", "unconfined",
         * "localhost/<path>". */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        const char *p = s->seccomp_profile_path;
#pragma GCC diagnostic pop
        if (isempty(p) || strcmp(p, "unconfined") == 0)
                return 0;
        if (strncmp(p, "localhost/", 10) == 0) {
                c->seccomp = SECCOMP_LOCALHOST;
                c->seccomp_path = xstrdup(p + 9);
        } else if (strcmp(p, "runtime/default") == 0 || strcmp(p, "docker/default") == 0)
                c->seccomp = SECCOMP_RUNTIME_DEFAULT;
        else
                return error_set(
                        reterr, EINVAL,
                        "seccomp_profile_path: unknown profile '%s' (a file needs the localhost/ prefix)",
                        p);
        return 0;
}

static void mounts_from_cri(const Runtime__V1__ContainerConfig *c, ContainerConfig *out) {
        out->mounts = xcalloc(c->n_mounts + 1, sizeof(MountConfig));
        for (size_t i = 0; i < c->n_mounts; i++) {
                const Runtime__V1__Mount *m = c->mounts[i];
                out->mounts[i] = (MountConfig){
                        .container_path = xstrdup(strempty(m->container_path)),
                        .host_path = xstrdup(strempty(m->host_path)),
                        .readonly = m->readonly,
                        .propagation =
                                m->propagation ==
                                                RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER
                                        ? PROPAGATION_RSLAVE
                                : m->propagation == RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL
                                        ? PROPAGATION_RSHARED
                                        : PROPAGATION_PRIVATE,
                };
        }
        out->n_mounts = c->n_mounts;
        out->devices = xcalloc(c->n_devices + 1, sizeof(DeviceConfig));
        for (size_t i = 0; i < c->n_devices; i++)
                out->devices[i] =
                        (DeviceConfig){.container_path = xstrdup(strempty(c->devices[i]->container_path)),
                                       .host_path = xstrdup(strempty(c->devices[i]->host_path)),
                                       .permissions = xstrdup(strempty(c->devices[i]->permissions))};
        out->n_devices = c->n_devices;
        for (size_t i = 0; i < c->n_cdi_devices; i++)
                out->cdi_devices = strv_push(out->cdi_devices, xstrdup(strempty(c->cdi_devices[i]->name)));
}

int container_config_from_cri(const Runtime__V1__ContainerConfig *c, ContainerConfig **ret, Error **reterr) {
        for (size_t i = 0; i < c->n_mounts; i++)
                if ((unsigned)c->mounts[i]->propagation >
                    RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL)
                        return error_set(reterr, EINVAL, "mounts[%zu].propagation: unknown mode %d", i,
                                         (int)c->mounts[i]->propagation);
        ContainerConfig *out = xcalloc(1, sizeof(*out));
        out->name = xstrdup(c->metadata ? strempty(c->metadata->name) : "");
        out->attempt = c->metadata ? c->metadata->attempt : 0;
        out->image = xstrdup(c->image ? strempty(c->image->image) : "");
        out->command = strv_from_pb(c->command, c->n_command);
        out->args = strv_from_pb(c->args, c->n_args);
        out->working_dir = xstrdup(strempty(c->working_dir));
        for (size_t i = 0; i < c->n_envs; i++) {
                const Runtime__V1__KeyValue *kv = c->envs[i];
                out->env =
                        strv_push(out->env, xasprintf("%s=%.*s", strempty(kv->key), (int)kv->value.len,
                                                      kv->value.data ? (const char *)kv->value.data : ""));
        }
        mounts_from_cri(c, out);
        strmap_from_entries(&out->labels, (void *const *)c->labels, c->n_labels);
        strmap_from_entries(&out->annotations, (void *const *)c->annotations, c->n_annotations);
        out->log_path = xstrdup(strempty(c->log_path));
        out->stdin_ = c->stdin;
        out->stdin_once = c->stdin_once;
        out->tty = c->tty;
        resources_from_cri(c->linux ? c->linux->resources : NULL, &out->resources);
        int r = security_from_cri(c->linux ? c->linux->security_context : NULL, out, reterr);
        if (r < 0) {
                container_config_free(out);
                return r;
        }
        *ret = out;
        return 0;
}

static MapEntry *entry_new(const ProtobufCMessageDescriptor *desc, const char *key, const char *value) {
        MapEntry *e = xcalloc(1, sizeof(*e));
        protobuf_c_message_init(desc, e);
        e->key = xstrdup(key);
        e->value = xstrdup(value);
        return e;
}

void *map_entries_new(const ProtobufCMessageDescriptor *desc, const StrMap *m, size_t *ret_n) {
        MapEntry **l = xcalloc(m->n + 1, sizeof(MapEntry *));
        for (size_t i = 0; i < m->n; i++)
                l[i] = entry_new(desc, m->keys[i], m->values[i]);
        *ret_n = m->n;
        return l;
}

bool labels_match(const StrMap *labels, void *const *selector, size_t n) {
        for (size_t i = 0; i < n; i++) {
                const MapEntry *e = selector[i];
                const char *v = strmap_get(labels, strempty(e->key));
                if (!v || strcmp(v, strempty(e->value)) != 0)
                        return false;
        }
        return true;
}

Runtime__V1__ContainerMetadata *container_metadata_to_cri(const ContainerInfo *c) {
        Runtime__V1__ContainerMetadata *m =
                PB_NEW(Runtime__V1__ContainerMetadata, RUNTIME__V1__CONTAINER_METADATA__INIT);
        m->name = xstrdup(c->name);
        m->attempt = c->attempt;
        return m;
}

Runtime__V1__PodSandboxMetadata *pod_metadata_to_cri(const PodInfo *p) {
        Runtime__V1__PodSandboxMetadata *m =
                PB_NEW(Runtime__V1__PodSandboxMetadata, RUNTIME__V1__POD_SANDBOX_METADATA__INIT);
        m->name = xstrdup(p->name);
        m->uid = xstrdup(p->uid);
        m->namespace_ = xstrdup(p->namespace_);
        m->attempt = p->attempt;
        return m;
}
