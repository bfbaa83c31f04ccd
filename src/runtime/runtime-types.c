/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "runtime.h"
#include "strv.h"

void strmap_done(StrMap *m) {
        for (size_t i = 0; i < m->n; i++) {
                free(m->keys[i]);
                free(m->values[i]);
        }
        free(m->keys);
        free(m->values);
        *m = (StrMap){};
}

void strmap_add(StrMap *m, const char *key, const char *value) {
        m->keys = xrealloc(m->keys, (m->n + 1) * sizeof(char *));
        m->values = xrealloc(m->values, (m->n + 1) * sizeof(char *));
        m->keys[m->n] = xstrdup(key);
        m->values[m->n++] = xstrdup(value);
}

const char *strmap_get(const StrMap *m, const char *key) {
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->keys[i], key) == 0)
                        return m->values[i];
        return NULL;
}

void namespace_config_done(NamespaceConfig *n) {
        free(n->target_id);
        free(n->uids);
        free(n->gids);
        *n = (NamespaceConfig){};
}

void resources_done(Resources *r) {
        free(r->cpuset_cpus);
        free(r->cpuset_mems);
        for (size_t i = 0; i < r->n_hugepages; i++)
                free(r->hugepages[i].page_size);
        free(r->hugepages);
        strmap_done(&r->unified);
        *r = (Resources){};
}

PodConfig *pod_config_free(PodConfig *c) {
        if (!c)
                return NULL;
        free(c->name);
        free(c->uid);
        free(c->namespace_);
        free(c->hostname);
        free(c->log_directory);
        strv_free(c->dns_servers);
        strv_free(c->dns_searches);
        strv_free(c->dns_options);
        strmap_done(&c->labels);
        strmap_done(&c->annotations);
        strmap_done(&c->sysctls);
        free(c->cgroup_parent);
        namespace_config_done(&c->ns);
        free(c->runtime_handler);
        for (size_t i = 0; i < c->n_port_mappings; i++)
                free(c->port_mappings[i].host_ip);
        free(c->port_mappings);
        return mfree(c);
}

static void mounts_free(MountConfig *m, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(m[i].container_path);
                free(m[i].host_path);
        }
        free(m);
}

ContainerConfig *container_config_free(ContainerConfig *c) {
        if (!c)
                return NULL;
        free(c->name);
        free(c->image);
        strv_free(c->command);
        strv_free(c->args);
        free(c->working_dir);
        strv_free(c->env);
        mounts_free(c->mounts, c->n_mounts);
        for (size_t i = 0; i < c->n_devices; i++) {
                free(c->devices[i].container_path);
                free(c->devices[i].host_path);
                free(c->devices[i].permissions);
        }
        free(c->devices);
        strv_free(c->cdi_devices);
        strmap_done(&c->labels);
        strmap_done(&c->annotations);
        free(c->log_path);
        resources_done(&c->resources);
        strv_free(c->cap_add);
        strv_free(c->cap_drop);
        namespace_config_done(&c->ns);
        free(c->run_as_username);
        free(c->supplemental_groups);
        strv_free(c->masked_paths);
        strv_free(c->readonly_paths);
        free(c->seccomp_path);
        free(c->apparmor_profile);
        return mfree(c);
}

PodInfo *pod_info_free(PodInfo *p) {
        if (!p)
                return NULL;
        free(p->id);
        free(p->name);
        free(p->uid);
        free(p->namespace_);
        strmap_done(&p->labels);
        strmap_done(&p->annotations);
        free(p->runtime_handler);
        free(p->netns_path);
        strv_free(p->ips);
        free(p->uids);
        free(p->gids);
        return mfree(p);
}

void pod_info_freep(PodInfo **p) {
        pod_info_free(*p);
}

ContainerInfo *container_info_free(ContainerInfo *c) {
        if (!c)
                return NULL;
        free(c->id);
        free(c->pod_id);
        free(c->name);
        free(c->reason);
        free(c->message);
        free(c->image);
        free(c->image_id);
        free(c->image_ref);
        free(c->log_path);
        free(c->rootfs);
        strmap_done(&c->labels);
        strmap_done(&c->annotations);
        mounts_free(c->mounts, c->n_mounts);
        resources_done(&c->resources);
        free(c->groups);
        return mfree(c);
}

void container_info_freep(ContainerInfo **c) {
        container_info_free(*c);
}

void exec_result_done(ExecResult *r) {
        free(r->out);
        free(r->err);
        *r = (ExecResult){};
}
