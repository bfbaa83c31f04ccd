/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cni-quantity.h"
#include "log.h"
#include "network-hook.h"
#include "strv.h"

static const char *const protocol_names[] = {"tcp", "udp", "sctp"};

static bool ip_literal(const char *s) {
        unsigned char buf[16];
        return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int port_mappings_validate(const PodConfig *c, Error **reterr) {
        for (size_t i = 0; i < c->n_port_mappings; i++) {
                const PortMapping *m = &c->port_mappings[i];
                if ((unsigned)m->protocol >= ELEMENTSOF(protocol_names))
                        return error_set(reterr, EINVAL, "port_mappings[%zu].protocol: unknown protocol %d",
                                         i, (int)m->protocol);
                if (m->host_port < 0 || m->host_port > 65535)
                        return error_set(reterr, EINVAL, "port_mappings[%zu].host_port: %d is not a port", i,
                                         m->host_port);
                if (m->host_port > 0 && (m->container_port <= 0 || m->container_port > 65535))
                        return error_set(reterr, EINVAL,
                                         "port_mappings[%zu].container_port: %d is not a port", i,
                                         m->container_port);
                if (m->host_ip && !ip_literal(m->host_ip))
                        return error_set(reterr, EINVAL,
                                         "port_mappings[%zu].host_ip: '%.64s' is not an IP address", i,
                                         m->host_ip);
        }
        return 0;
}

/* The portMappings capability: only mappings with a host port (the kubelet sends every port). */
static json_object *port_mappings_json(const PodConfig *c) {
        json_object *list = json_object_new_array();
        for (size_t i = 0; i < c->n_port_mappings; i++) {
                const PortMapping *m = &c->port_mappings[i];
                if (m->host_port <= 0)
                        continue;
                json_object *o = json_object_new_object();
                json_object_object_add(o, "hostPort", json_object_new_int(m->host_port));
                json_object_object_add(o, "containerPort", json_object_new_int(m->container_port));
                json_object_object_add(o, "protocol", json_object_new_string(protocol_names[m->protocol]));
                if (m->host_ip)
                        json_object_object_add(o, "hostIP", json_object_new_string(m->host_ip));
                json_object_array_add(list, o);
        }
        if (json_object_array_length(list) == 0) {
                json_object_put(list);
                return NULL;
        }
        return list;
}

static json_object *strv_json(char **l) {
        json_object *a = json_object_new_array();
        STRV_FOREACH(s, l)
                json_object_array_add(a, json_object_new_string(*s));
        return a;
}

static json_object *dns_json(const PodConfig *c) {
        if (strv_isempty(c->dns_servers) && strv_isempty(c->dns_searches) && strv_isempty(c->dns_options))
                return NULL;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "servers", strv_json(c->dns_servers));
        json_object_object_add(o, "searches", strv_json(c->dns_searches));
        json_object_object_add(o, "options", strv_json(c->dns_options));
        return o;
}

/*
 * The bandwidth capability from the pods' traffic-shaping annotations (bits per second). Bursts are
 * left as large as the plugin allows: the annotations carry none.
 */
static int bandwidth_json(const PodConfig *c, json_object **ret, Error **reterr) {
        static const struct {
                const char *annotation, *rate, *burst;
        } dirs[] = {{"kubernetes.io/ingress-bandwidth", "ingressRate", "ingressBurst"},
                    {"kubernetes.io/egress-bandwidth", "egressRate", "egressBurst"}};
        *ret = NULL;
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                const char *v = strmap_get(&c->annotations, dirs[i].annotation);
                uint64_t bits = 0;
                if (!v)
                        continue;
                if (cni_quantity_parse(v, &bits) < 0 || bits == 0)
                        return error_set(reterr, EINVAL, "annotations[%s]: '%.64s' is not a bandwidth",
                                         dirs[i].annotation, v);
                if (!*ret)
                        *ret = json_object_new_object();
                json_object_object_add(*ret, dirs[i].rate, json_object_new_int64((int64_t)bits));
                json_object_object_add(*ret, dirs[i].burst, json_object_new_int64(INT32_MAX));
        }
        return 0;
}

static void put_if(json_object *o, const char *key, json_object *v) {
        if (v)
                json_object_object_add(o, key, v);
}

static int runtime_config_json(Runtime *rt, const PodConfig *c, json_object **ret, Error **reterr) {
        json_object *bandwidth = NULL;
        int r = bandwidth_json(c, &bandwidth, reterr);
        if (r < 0)
                return r;
        json_object *o = json_object_new_object();
        put_if(o, "bandwidth", bandwidth);
        put_if(o, "dns", dns_json(c));
        if (!rt->config->disable_hostport_mapping)
                put_if(o, "portMappings", port_mappings_json(c));
        pthread_mutex_lock(&rt->lock);
        if (!isempty(rt->pod_cidr)) {
                json_object *range = json_object_new_object(), *set = json_object_new_array(),
                            *ranges = json_object_new_array();
                json_object_object_add(range, "subnet", json_object_new_string(rt->pod_cidr));
                json_object_array_add(set, range);
                json_object_array_add(ranges, set);
                json_object_object_add(o, "ipRanges", ranges);
        }
        pthread_mutex_unlock(&rt->lock);
        *ret = o;
        return 0;
}

int network_setup(Runtime *rt, Pod *p, Error **reterr) {
        if (!p->netns || p->config->ns.network == NS_NODE)
                return 0;
        json_object *rc = NULL;
        int r = runtime_config_json(rt, p->config, &rc, reterr);
        if (r < 0)
                return r;
        PodNetwork pn = {.pod_id = p->id,
                         .netns = p->netns,
                         .name = p->config->name,
                         .namespace_ = p->config->namespace_,
                         .uid = p->config->uid,
                         .runtime_config = rc};
        char **ips = NULL;
        r = network_pod_attach(rt->network, &pn, &ips, reterr);
        json_object_put(rc);
        if (r < 0)
                return r;
        pthread_mutex_lock(&rt->lock);
        strv_free(p->ips);
        p->ips = ips;
        pthread_mutex_unlock(&rt->lock);
        return 0;
}

int network_teardown(Runtime *rt, Pod *p, Error **reterr) {
        if (p->config->ns.network == NS_NODE)
                return 0;
        return network_pod_detach(rt->network, p->id, reterr);
}

static bool cidr_valid(const char *cidr) {
        const char *slash = strchr(cidr, '/');
        if (!slash || slash == cidr || slash - cidr > 45)
                return false;
        char addr[46];
        memcpy(addr, cidr, (size_t)(slash - cidr));
        addr[slash - cidr] = 0;
        unsigned char buf[16];
        int max = inet_pton(AF_INET, addr, buf) == 1 ? 32 : inet_pton(AF_INET6, addr, buf) == 1 ? 128 : -1;
        char *end = NULL;
        long prefix = strtol(slash + 1, &end, 10);
        return max > 0 && slash[1] && !*end && prefix >= 0 && prefix <= max;
}

int runtime_set_pod_cidr(Runtime *rt, const char *cidr, Error **reterr) {
        if (!isempty(cidr) && !cidr_valid(cidr))
                /* Quoted only in part: the value may be megabytes, and the message goes into a header. */
                return error_set(reterr, EINVAL,
                                 "runtime_config.network_config.pod_cidr: '%.64s%s' is not a CIDR", cidr,
                                 strlen(cidr) > 64 ? "..." : "");
        pthread_mutex_lock(&rt->lock);
        free(rt->pod_cidr);
        rt->pod_cidr = isempty(cidr) ? NULL : xstrdup(cidr);
        pthread_mutex_unlock(&rt->lock);
        return 0;
}

bool runtime_network_ready(Runtime *rt, char **ret_message) {
        return network_manager_ready(rt->network, ret_message);
}
