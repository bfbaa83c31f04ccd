/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cancel.h"
#include "cni-result.h"
#include "cni.h"
#include "fs-util.h"
#include "json-util.h"
#include "log.h"
#include "network-private.h"
#include "strv.h"

#define IFNAME "eth0"
#define RECORD_MAX (4 << 20)

/*
 * What one pod's attachment used, as recorded in <cache_dir>/<pod id>.json: written before ADD (so a
 * daemon killed during ADD still knows to DEL) and again with the result after it.
 */
typedef struct Attachment {
        CniNetwork *net;
        char *container_id, *netns, *args;
        json_object *runtime_config; /* may be NULL */
        json_object *result;         /* NULL until ADD succeeded */
} Attachment;

static void attachment_done(Attachment *a) {
        cni_network_unref(a->net);
        free(a->container_id);
        free(a->netns);
        free(a->args);
        json_object_put(a->runtime_config);
        json_object_put(a->result);
        *a = (Attachment){};
}

static char *record_path(NetworkManager *m, const char *pod_id) {
        return xasprintf("%s/%s.json", m->cache_dir, pod_id);
}

static void put_string(json_object *o, const char *key, const char *value) {
        json_object_object_add(o, key, json_object_new_string(value ? value : ""));
}

/*
 * Written with a rename but without fsync: after a power loss the namespace is gone and nothing is
 * left to DEL in it, while a sync would double the cost of a pod's network set-up.
 */
static int record_write(NetworkManager *m, const char *pod_id, const Attachment *a, Error **reterr) {
        json_object *o = json_object_new_object();
        put_string(o, "networkPath", a->net->path);
        json_object_object_add(o, "network", json_object_get(a->net->list));
        put_string(o, "containerId", a->container_id);
        put_string(o, "ifName", IFNAME);
        put_string(o, "netns", a->netns);
        put_string(o, "args", a->args);
        if (a->runtime_config)
                json_object_object_add(o, "runtimeConfig", json_object_get(a->runtime_config));
        if (a->result)
                json_object_object_add(o, "result", json_object_get(a->result));
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        _cleanup_free_ char *path = record_path(m, pod_id);
        _cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
        int r = 0;
        errno = 0;
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
                r = errno ? -errno : -EIO;
        if (fd >= 0)
                close(fd);
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        json_object_put(o);
        if (r < 0) {
                unlink(tmp);
                return error_set(reterr, -r, "cannot record the pod's network in %s: %s", path,
                                 strerror(-r));
        }
        return 0;
}

static char *get_string(json_object *o, const char *key) {
        json_object *v = NULL;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
                       ? xstrdup(json_object_get_string(v))
                       : NULL;
}

static json_object *get_object(json_object *o, const char *key) {
        json_object *v = NULL;
        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_object)
                       ? json_object_get(v)
                       : NULL;
}

/* 0 with the record, 1 when there is none, -errno when it cannot be read. */
static int record_read(NetworkManager *m, const char *pod_id, Attachment *ret, Error **reterr) {
        _cleanup_free_ char *path = record_path(m, pod_id), *text = NULL;
        size_t len = 0;
        int r = read_file(path, RECORD_MAX, &text, &len);
        if (r == -ENOENT)
                return 1;
        if (r < 0)
                return error_set(reterr, -r, "cannot read %s: %s", path, strerror(-r));
        json_object *o = NULL;
        r = json_parse_object(text, len, path, &o, reterr);
        if (r < 0)
                return r;
        json_object *list = get_object(o, "network");
        _cleanup_free_ char *net_path = get_string(o, "networkPath");
        /* The list form is what was stored; parse it as such, naming the file it came from. */
        _cleanup_free_ char *as_list = xasprintf("%s#recorded.conflist", net_path ? net_path : "");
        const char *list_text = list ? json_object_to_json_string_ext(list, JSON_C_TO_STRING_PLAIN) : "";
        r = cni_network_parse(as_list, list_text, strlen(list_text), &ret->net, reterr);
        json_object_put(list);
        if (r >= 0) {
                ret->container_id = get_string(o, "containerId");
                ret->netns = get_string(o, "netns");
                ret->args = get_string(o, "args");
                ret->runtime_config = get_object(o, "runtimeConfig");
                ret->result = get_object(o, "result");
        }
        json_object_put(o);
        return r < 0 ? error_prefix(reterr, "network record %s", path) : 0;
}

static void record_remove(NetworkManager *m, const char *pod_id) {
        _cleanup_free_ char *path = record_path(m, pod_id);
        unlink(path);
}

/* CNI_ARGS as the Kubernetes plugins (and CRI-O) pass them. */
static char *pod_args(const PodNetwork *pn) {
        return xasprintf(
                "IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;K8S_POD_INFRA_CONTAINER_ID=%s;"
                "K8S_POD_UID=%s",
                pn->namespace_, pn->name, pn->pod_id, pn->uid);
}

/* The namespace path for DEL: "" once it is no longer a namespace, which plugins take as gone. */
static const char *netns_for_del(const char *netns) {
        if (!netns || !is_namespace_file(netns))
                return "";
        return netns;
}

static CniInvocation invocation(NetworkManager *m, const Attachment *a, bool deleting) {
        return (CniInvocation){.container_id = a->container_id,
                               .netns = deleting ? netns_for_del(a->netns) : a->netns,
                               .ifname = IFNAME,
                               .args = a->args,
                               .runtime_config = a->runtime_config,
                               .plugin_dirs = m->plugin_dirs,
                               .timeout_ms = m->plugin_timeout_ms};
}

static int attach_add(NetworkManager *m, const PodNetwork *pn, Attachment *a, char ***ret_ips,
                      Error **reterr) {
        int r = record_write(m, pn->pod_id, a, reterr);
        if (r < 0)
                return r;
        CniInvocation inv = invocation(m, a, false);
        r = cni_add(a->net, &inv, &a->result, reterr);
        if (r >= 0)
                r = cni_result_pod_ips(a->result, a->net->cni_version, ret_ips, reterr);
        if (r >= 0)
                r = record_write(m, pn->pod_id, a, reterr);
        if (r >= 0)
                return 0;
        /* Undo whatever the plugins that ran did; the record goes only if that worked. */
        _cleanup_error_ Error *del_err = NULL;
        inv = invocation(m, a, true);
        if (cni_del(a->net, &inv, a->result, &del_err) < 0)
                log_warn("pod %s: undoing a failed CNI ADD: %s", pn->pod_id, del_err->message);
        else
                record_remove(m, pn->pod_id);
        return r;
}

int network_pod_attach(NetworkManager *m, const PodNetwork *pn, char ***ret_ips, Error **reterr) {
        Attachment a = {
                .container_id = xstrdup(pn->pod_id), .netns = xstrdup(pn->netns), .args = pod_args(pn)};
        a.runtime_config = pn->runtime_config ? json_object_get(pn->runtime_config) : NULL;
        int r = network_current(m, &a.net, reterr);
        char **ips = NULL;
        int64_t start = monotonic_ns();
        if (r >= 0)
                r = attach_add(m, pn, &a, &ips, reterr);
        if (r >= 0) {
                log_debug("pod %s: attached to CNI network %s in %.3f ms", pn->pod_id, a.net->name,
                          (double)(monotonic_ns() - start) / 1e6);
                *ret_ips = ips;
        }
        attachment_done(&a);
        return r < 0 ? error_prefix(reterr, "pod network") : 0;
}

int network_pod_detach(NetworkManager *m, const char *pod_id, Error **reterr) {
        Attachment a = {};
        int r = record_read(m, pod_id, &a, reterr);
        if (r != 0)
                return r > 0 ? 0 : r;
        CniInvocation inv = invocation(m, &a, true);
        r = cni_del(a.net, &inv, a.result, reterr);
        if (r >= 0)
                record_remove(m, pod_id);
        attachment_done(&a);
        return r < 0 ? error_prefix(reterr, "pod network teardown") : 0;
}

char **network_recorded_pods(NetworkManager *m) {
        char **ids = xcalloc(1, sizeof(char *));
        DIR *d = opendir(m->cache_dir);
        for (struct dirent *e; d && (e = readdir(d));) {
                size_t n = strlen(e->d_name);
                if (n > 5 && strcmp(e->d_name + n - 5, ".json") == 0)
                        ids = strv_push(ids, xstrndup(e->d_name, n - 5));
        }
        if (d)
                closedir(d);
        return ids;
}

int network_pod_check(NetworkManager *m, const char *pod_id, Error **reterr) {
        Attachment a = {};
        int r = record_read(m, pod_id, &a, reterr);
        if (r != 0)
                return r > 0 ? 0 : r;
        CniInvocation inv = invocation(m, &a, false);
        r = a.result ? cni_check(a.net, &inv, a.result, reterr) : 0;
        attachment_done(&a);
        return r < 0 ? error_prefix(reterr, "pod network check") : 0;
}
