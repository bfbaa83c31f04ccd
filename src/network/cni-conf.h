/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "error.h"

/*
 * CNI network configurations (the CNI spec's "network configuration list"), read from the files of a
 * network directory: `.conflist` files hold a list, `.conf` and `.json` files a single plugin's
 * configuration, which is treated as a list of one.
 */

typedef struct CniNetwork {
        int refs;
        char *name;
        char *cni_version;
        char *path;        /* the file it came from */
        json_object *list; /* {cniVersion, name, plugins: [...], disableCheck?}, validated */
        size_t n_plugins;
        bool disable_check;
} CniNetwork;

/*
 * Parse one configuration file's text. `path` decides the form (a list for `.conflist`) and names the
 * file in messages. Checks what running it needs: a network name, a known cniVersion, plugins with a
 * plain `type` (it names an executable in the plugin dirs). -EINVAL with a message otherwise.
 */
int cni_network_parse(const char *path, const char *text, size_t len, CniNetwork **ret, Error **reterr);
CniNetwork *cni_network_ref(CniNetwork *n);
void cni_network_unref(CniNetwork *n);
void cni_network_unrefp(CniNetwork **n);
#define _cleanup_cni_network_ _cleanup_(cni_network_unrefp)

/* The plugin object at `index` (borrowed), and its type. */
json_object *cni_network_plugin(const CniNetwork *n, size_t index);
const char *cni_network_plugin_type(const CniNetwork *n, size_t index);

/* Whether `version` is a CNI spec version these plugins may speak ("0.1.0" ... "1.0.0"). */
bool cni_version_known(const char *version);
/* strcmp-like order of two known versions. */
int cni_version_compare(const char *a, const char *b);

/* Every configuration file of a directory, in lexical order, with what was wrong with the others. */
typedef struct CniDir {
        CniNetwork **nets;
        size_t n_nets;
        char **problems; /* "<path>: <message>", one per file skipped */
} CniDir;

/* Read `dir`. A missing directory is an empty one; other errors reading it are one problem. */
void cni_dir_load(const char *dir, CniDir *ret);
void cni_dir_done(CniDir *d);
/* The network called `name`, or the first one when `name` is empty; NULL if none. Borrowed. */
CniNetwork *cni_dir_find(const CniDir *d, const char *name);
