/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `crio wipe`, for nodes that run it before the daemon (CRI-O's crio-wipe.service) or with
 * internal_wipe = false. It opens the runtime as the daemon does, so the removal is the daemon's own:
 * processes killed, mounts, pinned namespaces, cgroups, CNI attachments, directories and rows gone.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "process.h"
#include "runtime.h"
#include "store.h"
#include "strv.h"

typedef struct WipeCounts {
        size_t pods, containers, images;
} WipeCounts;

static size_t containers_of(Runtime *rt, const char *pod_id) {
        ContainerInfo **l = NULL;
        size_t n = 0, mine = 0;
        runtime_container_list(rt, &l, &n);
        for (size_t i = 0; i < n; i++) {
                mine += strcmp(l[i]->pod_id, pod_id) == 0;
                container_info_free(l[i]);
        }
        free(l);
        return mine;
}

static bool wipe_pod(Runtime *rt, const PodInfo *p, WipeCounts *counts) {
        _cleanup_error_ Error *err = NULL;
        size_t ctrs = containers_of(rt, p->id);
        if (runtime_pod_remove(rt, p->id, &err) < 0) {
                fprintf(stderr, "cannot remove pod sandbox %s: %s\n", p->id, err->message);
                return false;
        }
        printf("removed pod sandbox %s (%s/%s) and %zu containers\n", p->id, p->namespace_, p->name, ctrs);
        counts->pods++;
        counts->containers += ctrs;
        return true;
}

/* Every pod (`all`) or those not ready, with their containers; one that fails does not stop the rest. */
static int wipe_pods(Runtime *rt, bool all, WipeCounts *counts, Error **reterr) {
        PodInfo **pods = NULL;
        size_t n = 0, failed = 0;
        runtime_pod_list(rt, &pods, &n);
        for (size_t i = 0; i < n; i++) {
                if ((all || pods[i]->state != POD_READY) && !wipe_pod(rt, pods[i], counts))
                        failed++;
                pod_info_free(pods[i]);
        }
        free(pods);
        if (failed > 0)
                return error_set(reterr, EIO, "%zu pod sandboxes could not be removed; run crio wipe again",
                                 failed);
        return 0;
}

static int wipe_images(ImageService *images, WipeCounts *counts, Error **reterr) {
        Store *store = image_service_store(images);
        StoreImage **l = NULL;
        size_t n = 0;
        int r = store_image_list(store, &l, &n, reterr);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                r = store_image_remove(store, l[i]->id, reterr);
                if (r >= 0) {
                        printf("removed image %s\n", l[i]->id);
                        counts->images++;
                }
        }
        store_images_free(l, n);
        return r;
}

static int wipe_with_runtime(const CliOptions *o, Config *config, bool force, WipeCounts *counts,
                             Error **reterr) {
        _cleanup_strv_free_ char **warnings = NULL;
        ImageSettings settings = daemon_image_settings(o, config);
        ImageService *images = NULL;
        Runtime *rt = NULL;
        pthread_rwlock_t config_lock = PTHREAD_RWLOCK_INITIALIZER;
        /*
         * The runtime's own wipe would go unreported (the pods it would remove are the not ready ones), and
         * it would write version_file before the wipe is done: a wipe that fails halfway could not be run
         * again. The file is written here once every pod is gone.
         */
        _cleanup_free_ char *version_file = TAKE_PTR(config->version_file);
        config->version_file = xstrdup("");
        config->internal_wipe = false;
        int r = image_service_new(config->root, &settings, &images, &warnings, reterr);
        if (r >= 0)
                r = process_reaper_start();
        if (r >= 0)
                r = runtime_new(config, &config_lock, images, NULL, &rt, reterr);
        if (r >= 0)
                r = wipe_pods(rt, force, counts, reterr);
        if (r >= 0 && force)
                r = wipe_images(images, counts, reterr);
        if (r >= 0)
                runtime_write_version_file(version_file);
        runtime_free(rt);
        image_service_free(images);
        return r;
}

int daemon_wipe(const CliOptions *o, Config *config, bool force, Error **reterr) {
        int lock = daemon_lock_root(config->root, reterr);
        if (lock < 0)
                return error_prefix(reterr, "stop the daemon first");
        bool restarted = runtime_node_restarted(config);
        int r = 0;
        if (!force && isempty(config->version_file))
                printf("nothing to wipe: version_file is empty, so node restarts are not tracked (--force "
                       "wipes "
                       "anyway)\n");
        else if (!force && !restarted)
                printf("nothing to wipe: %s is there, so the node has not restarted since the daemon last "
                       "started (--force wipes anyway)\n",
                       config->version_file);
        else {
                WipeCounts counts = {};
                r = wipe_with_runtime(o, config, force, &counts, reterr);
                printf("wiped %zu pod sandboxes, %zu containers and %zu images\n", counts.pods,
                       counts.containers, counts.images);
        }
        close(lock);
        return r;
}
