/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "cri-translate.h"
#include "pb-util.h"
#include "pod-metrics.h"
#include "rpc-pods.h"

/* ContainerStats, ListContainerStats, PodSandboxStats, ListPodSandboxStats: engine samples to CRI. */

static Runtime__V1__UInt64Value *u64(uint64_t v) {
        Runtime__V1__UInt64Value *o = PB_NEW(Runtime__V1__UInt64Value, RUNTIME__V1__UINT64_VALUE__INIT);
        o->value = v;
        return o;
}

static Runtime__V1__PsiData *psi_line_to_cri(const PsiLine *l) {
        Runtime__V1__PsiData *d = PB_NEW(Runtime__V1__PsiData, RUNTIME__V1__PSI_DATA__INIT);
        d->total = l->total_us * 1000; /* the kernel counts µs, the CRI ns */
        d->avg10 = l->avg10;
        d->avg60 = l->avg60;
        d->avg300 = l->avg300;
        return d;
}

/* A cgroup's pressure on one resource, NULL when the host has no PSI file for it. */
static Runtime__V1__PsiStats *psi_to_cri(const UsageSample *u, PsiResource r) {
        const PsiStats *p = &u->psi[r];
        if (!p->has_some && !p->has_full)
                return NULL;
        Runtime__V1__PsiStats *o = PB_NEW(Runtime__V1__PsiStats, RUNTIME__V1__PSI_STATS__INIT);
        if (p->has_some)
                o->some = psi_line_to_cri(&p->some);
        if (p->has_full)
                o->full = psi_line_to_cri(&p->full);
        return o;
}

static Runtime__V1__CpuUsage *cpu_to_cri(const UsageSample *u) {
        if (!u->has_cpu)
                return NULL;
        Runtime__V1__CpuUsage *o = PB_NEW(Runtime__V1__CpuUsage, RUNTIME__V1__CPU_USAGE__INIT);
        o->timestamp = u->timestamp;
        o->usage_core_nano_seconds = u64(u->cpu_ns);
        if (u->has_nano_cores)
                o->usage_nano_cores = u64(u->nano_cores);
        o->psi = psi_to_cri(u, PSI_CPU);
        return o;
}

static Runtime__V1__MemoryUsage *memory_to_cri(const UsageSample *u) {
        if (!u->has_memory)
                return NULL;
        Runtime__V1__MemoryUsage *m = PB_NEW(Runtime__V1__MemoryUsage, RUNTIME__V1__MEMORY_USAGE__INIT);
        m->timestamp = u->timestamp;
        m->working_set_bytes = u64(u->mem_working_set);
        m->usage_bytes = u64(u->mem_usage);
        m->rss_bytes = u64(u->mem_rss);
        m->page_faults = u64(u->mem_page_faults);
        m->major_page_faults = u64(u->mem_major_page_faults);
        if (u->has_available)
                m->available_bytes = u64(u->mem_available);
        m->psi = psi_to_cri(u, PSI_MEMORY);
        return m;
}

static Runtime__V1__SwapUsage *swap_to_cri(const UsageSample *u) {
        if (!u->has_swap)
                return NULL;
        Runtime__V1__SwapUsage *o = PB_NEW(Runtime__V1__SwapUsage, RUNTIME__V1__SWAP_USAGE__INIT);
        o->timestamp = u->timestamp;
        o->swap_usage_bytes = u64(u->swap_usage);
        if (u->has_swap_available)
                o->swap_available_bytes = u64(u->swap_available);
        return o;
}

static Runtime__V1__IoUsage *io_to_cri(const UsageSample *u) {
        Runtime__V1__PsiStats *psi = psi_to_cri(u, PSI_IO);
        if (!psi)
                return NULL;
        Runtime__V1__IoUsage *o = PB_NEW(Runtime__V1__IoUsage, RUNTIME__V1__IO_USAGE__INIT);
        o->timestamp = u->timestamp;
        o->psi = psi;
        return o;
}

static Runtime__V1__ContainerAttributes *container_attributes(const ContainerInfo *c) {
        Runtime__V1__ContainerAttributes *a =
                PB_NEW(Runtime__V1__ContainerAttributes, RUNTIME__V1__CONTAINER_ATTRIBUTES__INIT);
        a->id = xstrdup(c->id);
        a->metadata = container_metadata_to_cri(c);
        a->labels = map_entries_new(&runtime__v1__container_attributes__labels_entry__descriptor, &c->labels,
                                    &a->n_labels);
        a->annotations = map_entries_new(&runtime__v1__container_attributes__annotations_entry__descriptor,
                                         &c->annotations, &a->n_annotations);
        return a;
}

static Runtime__V1__ContainerStats *container_stats_to_cri(const ContainerStatsInfo *s) {
        Runtime__V1__ContainerStats *o =
                PB_NEW(Runtime__V1__ContainerStats, RUNTIME__V1__CONTAINER_STATS__INIT);
        o->attributes = container_attributes(s->info);
        o->cpu = cpu_to_cri(&s->usage);
        o->memory = memory_to_cri(&s->usage);
        o->swap = swap_to_cri(&s->usage);
        o->io = io_to_cri(&s->usage);
        if (s->has_layer) {
                Runtime__V1__FilesystemUsage *f = o->writable_layer =
                        PB_NEW(Runtime__V1__FilesystemUsage, RUNTIME__V1__FILESYSTEM_USAGE__INIT);
                f->timestamp = s->layer_timestamp;
                f->fs_id =
                        PB_NEW(Runtime__V1__FilesystemIdentifier, RUNTIME__V1__FILESYSTEM_IDENTIFIER__INIT);
                f->fs_id->mountpoint = xstrdup(s->layer_mountpoint);
                f->used_bytes = u64(s->layer_bytes);
                f->inodes_used = u64(s->layer_inodes);
        }
        return o;
}

static int require_id(const char *id, const char *field, Error **reterr) {
        if (isempty(id))
                return error_set(reterr, EINVAL, "%s is required", field);
        return 0;
}

int rpc_container_stats(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                        Error **reterr) {
        const Runtime__V1__ContainerStatsRequest *r = (const Runtime__V1__ContainerStatsRequest *)req;
        ContainerStatsInfo *s = NULL;
        int q = require_id(r->container_id, "container_id", reterr);
        if (q >= 0)
                q = runtime_container_stats(ctx->daemon->runtime, r->container_id, &s, reterr);
        if (q < 0)
                return q;
        Runtime__V1__ContainerStatsResponse *resp =
                PB_NEW(Runtime__V1__ContainerStatsResponse, RUNTIME__V1__CONTAINER_STATS_RESPONSE__INIT);
        resp->stats = container_stats_to_cri(s);
        container_stats_info_free(s);
        *ret_resp = &resp->base;
        return 0;
}

static bool prefix_match(const char *id, const char *filter) {
        return isempty(filter) || strncmp(id, filter, strlen(filter)) == 0;
}

static bool container_stats_match(const ContainerInfo *c, const Runtime__V1__ContainerStatsFilter *f) {
        if (!f)
                return true;
        return prefix_match(c->id, f->id) && prefix_match(c->pod_id, f->pod_sandbox_id) &&
               labels_match(&c->labels, (void *const *)f->label_selector, f->n_label_selector);
}

int rpc_list_container_stats(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                             Error **reterr) {
        const Runtime__V1__ListContainerStatsRequest *r =
                (const Runtime__V1__ListContainerStatsRequest *)req;
        ContainerStatsInfo **l = NULL;
        size_t n = 0;
        runtime_container_stats_list(ctx->daemon->runtime, &l, &n);
        Runtime__V1__ListContainerStatsResponse *resp = PB_NEW(
                Runtime__V1__ListContainerStatsResponse, RUNTIME__V1__LIST_CONTAINER_STATS_RESPONSE__INIT);
        for (size_t i = 0; i < n; i++) {
                if (container_stats_match(l[i]->info, r->filter))
                        PB_APPEND(resp->n_stats, resp->stats, container_stats_to_cri(l[i]));
                container_stats_info_free(l[i]);
        }
        free(l);
        *ret_resp = &resp->base;
        return 0;
}

static Runtime__V1__NetworkInterfaceUsage *interface_to_cri(const NetIfUsage *u) {
        Runtime__V1__NetworkInterfaceUsage *o =
                PB_NEW(Runtime__V1__NetworkInterfaceUsage, RUNTIME__V1__NETWORK_INTERFACE_USAGE__INIT);
        o->name = xstrdup(u->name);
        o->rx_bytes = u64(u->rx_bytes);
        o->rx_errors = u64(u->rx_errors);
        o->tx_bytes = u64(u->tx_bytes);
        o->tx_errors = u64(u->tx_errors);
        return o;
}

static Runtime__V1__NetworkUsage *network_to_cri(const PodStatsInfo *s) {
        if (!s->has_network)
                return NULL;
        Runtime__V1__NetworkUsage *o = PB_NEW(Runtime__V1__NetworkUsage, RUNTIME__V1__NETWORK_USAGE__INIT);
        o->timestamp = s->net_timestamp;
        const NetIfUsage *def = stats_default_interface(s->ifaces, s->n_ifaces);
        if (def)
                o->default_interface = interface_to_cri(def);
        for (size_t i = 0; i < s->n_ifaces; i++)
                PB_APPEND(o->n_interfaces, o->interfaces, interface_to_cri(&s->ifaces[i]));
        return o;
}

static Runtime__V1__PodSandboxAttributes *pod_attributes(const PodInfo *p) {
        Runtime__V1__PodSandboxAttributes *a =
                PB_NEW(Runtime__V1__PodSandboxAttributes, RUNTIME__V1__POD_SANDBOX_ATTRIBUTES__INIT);
        a->id = xstrdup(p->id);
        a->metadata = pod_metadata_to_cri(p);
        a->labels = map_entries_new(&runtime__v1__pod_sandbox_attributes__labels_entry__descriptor,
                                    &p->labels, &a->n_labels);
        a->annotations = map_entries_new(&runtime__v1__pod_sandbox_attributes__annotations_entry__descriptor,
                                         &p->annotations, &a->n_annotations);
        return a;
}

static Runtime__V1__PodSandboxStats *pod_stats_to_cri(const PodStatsInfo *s) {
        Runtime__V1__PodSandboxStats *o =
                PB_NEW(Runtime__V1__PodSandboxStats, RUNTIME__V1__POD_SANDBOX_STATS__INIT);
        o->attributes = pod_attributes(s->info);
        Runtime__V1__LinuxPodSandboxStats *l = o->linux =
                PB_NEW(Runtime__V1__LinuxPodSandboxStats, RUNTIME__V1__LINUX_POD_SANDBOX_STATS__INIT);
        l->cpu = cpu_to_cri(&s->usage);
        l->memory = memory_to_cri(&s->usage);
        l->network = network_to_cri(s);
        if (s->usage.has_pids) {
                l->process = PB_NEW(Runtime__V1__ProcessUsage, RUNTIME__V1__PROCESS_USAGE__INIT);
                l->process->timestamp = s->usage.timestamp;
                l->process->process_count = u64(s->usage.pids);
        }
        for (size_t i = 0; i < s->n_ctrs; i++)
                PB_APPEND(l->n_containers, l->containers, container_stats_to_cri(s->ctrs[i]));
        return o;
}

int rpc_pod_sandbox_stats(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                          Error **reterr) {
        const Runtime__V1__PodSandboxStatsRequest *r = (const Runtime__V1__PodSandboxStatsRequest *)req;
        PodStatsInfo *s = NULL;
        int q = require_id(r->pod_sandbox_id, "pod_sandbox_id", reterr);
        if (q >= 0)
                q = runtime_pod_stats(ctx->daemon->runtime, r->pod_sandbox_id, &s, reterr);
        if (q < 0)
                return q;
        Runtime__V1__PodSandboxStatsResponse *resp =
                PB_NEW(Runtime__V1__PodSandboxStatsResponse, RUNTIME__V1__POD_SANDBOX_STATS_RESPONSE__INIT);
        resp->stats = pod_stats_to_cri(s);
        pod_stats_info_free(s);
        *ret_resp = &resp->base;
        return 0;
}

static bool pod_stats_match(const PodInfo *p, const Runtime__V1__PodSandboxStatsFilter *f) {
        if (!f)
                return true;
        return prefix_match(p->id, f->id) &&
               labels_match(&p->labels, (void *const *)f->label_selector, f->n_label_selector);
}

int rpc_list_pod_sandbox_stats(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                               Error **reterr) {
        const Runtime__V1__ListPodSandboxStatsRequest *r =
                (const Runtime__V1__ListPodSandboxStatsRequest *)req;
        PodStatsInfo **l = NULL;
        size_t n = 0;
        runtime_pod_stats_list(ctx->daemon->runtime, &l, &n);
        Runtime__V1__ListPodSandboxStatsResponse *resp =
                PB_NEW(Runtime__V1__ListPodSandboxStatsResponse,
                       RUNTIME__V1__LIST_POD_SANDBOX_STATS_RESPONSE__INIT);
        for (size_t i = 0; i < n; i++) {
                if (pod_stats_match(l[i]->info, r->filter))
                        PB_APPEND(resp->n_stats, resp->stats, pod_stats_to_cri(l[i]));
                pod_stats_info_free(l[i]);
        }
        free(l);
        *ret_resp = &resp->base;
        return 0;
}

static unsigned metric_groups(Daemon *d) {
        unsigned groups = 0;
        const char *bad = NULL;
        pthread_rwlock_rdlock(&d->config_lock);
        pod_metrics_groups(d->config->included_pod_metrics, &groups, &bad); /* validated at start */
        pthread_rwlock_unlock(&d->config_lock);
        return groups;
}

int rpc_list_metric_descriptors(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                                Error **reterr) {
        Runtime__V1__ListMetricDescriptorsResponse *resp =
                PB_NEW(Runtime__V1__ListMetricDescriptorsResponse,
                       RUNTIME__V1__LIST_METRIC_DESCRIPTORS_RESPONSE__INIT);
        resp->descriptors = pod_metrics_descriptors(metric_groups(ctx->daemon), &resp->n_descriptors);
        *ret_resp = &resp->base;
        return 0;
}

int rpc_list_pod_sandbox_metrics(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                                 Error **reterr) {
        unsigned groups = metric_groups(ctx->daemon);
        PodStatsInfo **l = NULL;
        size_t n = 0;
        runtime_pod_stats_list(ctx->daemon->runtime, &l, &n);
        Runtime__V1__ListPodSandboxMetricsResponse *resp =
                PB_NEW(Runtime__V1__ListPodSandboxMetricsResponse,
                       RUNTIME__V1__LIST_POD_SANDBOX_METRICS_RESPONSE__INIT);
        for (size_t i = 0; i < n; i++) {
                PB_APPEND(resp->n_pod_metrics, resp->pod_metrics, pod_metrics_from_stats(l[i], groups));
                pod_stats_info_free(l[i]);
        }
        free(l);
        *ret_resp = &resp->base;
        return 0;
}
