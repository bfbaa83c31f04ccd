/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/*
 * The image store: metadata in SQLite (<root>/crio-c.db, WAL mode), manifests and configs as files
 * under <root>/blobs/<algorithm>/<hex>, extracted layers under <root>/layers/<link>/diff where <link>
 * is a short name derived from the chain ID (overlay mount options have a page-size limit).
 * New layers are unpacked under <root>/tmp and move into place only when the image that needs them
 * is committed, in the same step as its database rows, so a failed pull leaves nothing behind.
 * All functions are thread-safe (one connection behind a mutex) and block on disk I/O.
 */
typedef struct Store Store;

typedef struct StoreLayer {
        char *chain_id;
        char *diff_id;
        char *blob_digest;
        int64_t size;   /* bytes of the tar stream */
        int64_t inodes; /* entries on disk */
        char *dir;      /* absolute path of the layer's diff directory */
} StoreLayer;

typedef struct StoreImage {
        char *id; /* hex of the config digest */
        char *config_digest;
        char *manifest_digest;
        char **repo_tags;    /* "host/repo:tag" */
        char **repo_digests; /* "host/repo@sha256:..." */
        int64_t size;        /* sum of layer sizes */
        int64_t pulled_ns;   /* CLOCK_REALTIME of the first pull */
        char *user;          /* config User */
        char **layers;       /* chain IDs, bottom first */
} StoreImage;

/*
 * SQLite's process-wide memory settings for a long-running daemon: call once, before any database
 * opens (SQLite ignores them afterwards, and a failure only leaves its defaults). Never blocks.
 */
void store_sqlite_setup(void);

/*
 * How every connection of the daemon's database is set up: write-ahead log, no fsync per commit, and
 * a page cache of at most 512 KiB (negative: KiB), not SQLite's 2 MiB: the daemon answers reads from
 * memory and only writes single rows through (docs/decisions.md).
 */
#define STORE_DB_PRAGMAS "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size = -512;"

/* Open (creating) the store under `root`; clears <root>/tmp and removes layer dirs with no row. */
int store_open(const char *root, Store **ret, Error **reterr);
Store *store_close(Store *s);

const char *store_root(const Store *s);

StoreImage *store_image_free(StoreImage *i);
void store_image_freep(StoreImage **i);
#define _cleanup_store_image_ _cleanup_(store_image_freep)
void store_images_free(StoreImage **l, size_t n);
StoreLayer *store_layer_free(StoreLayer *l);

/*
 * Find an image by full ID, "sha256:"-prefixed ID, unique ID prefix (at least 3 characters),
 * repo tag or repo digest (exact strings, already normalised by the caller). 0 and *ret, or -ENOENT.
 */
int store_image_lookup(Store *s, const char *key, StoreImage **ret, Error **reterr);

/* Every image, in pull order. */
int store_image_list(Store *s, StoreImage ***ret, size_t *ret_n, Error **reterr);

/*
 * Keep layers from being deleted while a pull that will use them runs (a RemoveImage of another
 * image sharing them would otherwise drop them between the pull's check and its commit). Holds
 * nest; chain IDs not in the store are fine. Pair each hold with a release.
 */
void store_layers_hold(Store *s, char *const *chain_ids);
void store_layers_release(Store *s, char *const *chain_ids);

/* Is the layer with this chain ID present? */
bool store_layer_exists(Store *s, const char *chain_id);

/* Read a stored blob (manifest or config); caller frees. -ENOENT when absent. */
int store_blob_read(Store *s, const char *digest, char **ret, size_t *ret_len, Error **reterr);

/* A fresh empty directory under <root>/tmp for unpacking a layer. Caller frees the path. */
int store_staging_dir(Store *s, char **ret_path, Error **reterr);

/* Remove a staging directory and everything in it. */
void store_staging_remove(Store *s, const char *path);

/* A layer unpacked into a staging dir, waiting to be committed with its image. */
typedef struct StagedLayer {
        const char *chain_id;
        const char *diff_id;
        const char *blob_digest;
        const char *parent_chain_id; /* NULL for the bottom layer */
        int64_t size;
        const char *staging_dir; /* the dir that holds the layer's files (becomes .../diff) */
} StagedLayer;

typedef struct ImageCommit {
        const char *id;
        const char *config_digest;
        const char *manifest_digest;
        const char *config_json; /* stored as a blob */
        size_t config_len;
        const char *manifest_json; /* stored as a blob */
        size_t manifest_len;
        const char *user;
        const char *const *layers; /* chain IDs, bottom first */
        size_t n_layers;
        const StagedLayer *staged; /* new layers; layers already present are not repeated */
        size_t n_staged;
        const char *repo_tag;    /* may be NULL (pull by digest) */
        const char *repo_digest; /* "host/repo@sha256:..." */
} ImageCommit;

/*
 * Commit an image: move staged layers into place, write blobs, insert rows, point the tag at this
 * image (taking it from any other image). Idempotent for an image already present (only names are
 * added). Staged dirs of layers that appeared meanwhile are removed. All or nothing.
 */
int store_image_commit(Store *s, const ImageCommit *c, Error **reterr);

/*
 * How a staged layer is made durable before a row names it (default: syncfs(2) on its filesystem).
 * Returns 0 or -errno. Tests replace it to watch the order or to fail it.
 */
typedef int (*StoreSyncFn)(int dir_fd, void *userdata);
void store_set_sync(Store *s, StoreSyncFn fn, void *userdata);

/*
 * Commit one layer on its own, before its image: its files are synced first (after a power loss the
 * store never lists a layer whose files are incomplete), then the staged dir moves into place and its
 * row is inserted.
 * Until an image uses it, the layer lives as long as a hold on it (store_layers_hold) or until the
 * next start-up, so a pull that fails later keeps what it finished and its retry fetches only the
 * rest. A layer already present wins and the staged dir is removed. The staged dir is consumed
 * either way.
 */
int store_layer_commit(Store *s, const StagedLayer *l, Error **reterr);

/*
 * Remove by the same keys as store_image_lookup. A repo tag of an image with other names only
 * untags; otherwise the image and the layers no other image uses are deleted. -ENOENT when absent.
 */
int store_image_remove(Store *s, const char *key, Error **reterr);

/* Bytes (tar stream sizes) and inodes of all stored layers, summed from the database. */
int store_usage(Store *s, int64_t *ret_bytes, int64_t *ret_inodes, Error **reterr);

/* The layer directory (…/layers/<link>/diff) of a chain ID; caller frees. -ENOENT when absent. */
int store_layer_dir(Store *s, const char *chain_id, char **ret, Error **reterr);
