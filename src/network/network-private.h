/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <pthread.h>

#include "cni-conf.h"
#include "network.h"

/* Internal to src/network/: the manager, shared by the watcher (network.c) and attachments. */
struct NetworkManager {
        char *network_dir, *default_network, *cache_dir;
        char **plugin_dirs;
        int64_t plugin_timeout_ms;

        pthread_mutex_t lock; /* the two fields below */
        CniNetwork *current;  /* the default network, verified; NULL when none is usable */
        char *not_ready;      /* why, when current is NULL */
        char **problems;      /* the skipped files of the last load, to log only changes */

        char **pending_checks; /* pod IDs to CHECK in the watcher thread (lock) */
        bool stopping;         /* (lock) */
        int inotify_fd, wake_fd;
        pthread_t watcher;
        bool watching;
        bool unwatched; /* network_dir could not be watched: it is read periodically */
};

/* The default network (a reference), or NULL with -EBUSY and the reason. */
int network_current(NetworkManager *m, CniNetwork **ret, Error **reterr);
