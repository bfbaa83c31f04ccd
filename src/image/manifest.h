/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define MEDIA_TYPE_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MEDIA_TYPE_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MEDIA_TYPE_DOCKER_SCHEMA1 "application/vnd.docker.distribution.manifest.v1+json"
#define MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"
#define MEDIA_TYPE_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_TYPE_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MEDIA_TYPE_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MEDIA_TYPE_OCI_CONFIG "application/vnd.oci.image.config.v1+json"

/* Caps on what we accept from a registry before parsing it (bytes). */
#define MANIFEST_MAX_SIZE (4 * 1024 * 1024)
#define IMAGE_CONFIG_MAX_SIZE (8 * 1024 * 1024)
#define MANIFEST_MAX_LAYERS 1024

typedef enum ManifestKind {
        MANIFEST_UNKNOWN,
        MANIFEST_DOCKER_V2,
        MANIFEST_OCI,
        MANIFEST_DOCKER_LIST,
        MANIFEST_OCI_INDEX,
        MANIFEST_DOCKER_SCHEMA1,
} ManifestKind;

typedef enum LayerCompression {
        COMPRESSION_NONE,
        COMPRESSION_GZIP,
        COMPRESSION_ZSTD,
} LayerCompression;

typedef struct Descriptor {
        char *media_type;
        char *digest;                      /* validated "sha256:..."/"sha512:..." */
        int64_t size;                      /* >= 0 */
        char *os, *architecture, *variant; /* platform, for index entries; NULL when absent */
} Descriptor;

typedef struct Manifest {
        ManifestKind kind;
        Descriptor config;
        Descriptor *layers;
        size_t n_layers;
} Manifest;

typedef struct ManifestList {
        ManifestKind kind;
        Descriptor *manifests;
        size_t n_manifests;
} ManifestList;

/*
 * The kind of a manifest body: from the Content-Type when it names one, else from the body's
 * "mediaType" and "schemaVersion". Never fails: MANIFEST_UNKNOWN when nothing fits.
 */
ManifestKind manifest_kind_detect(const char *content_type, const char *body, size_t len);

/*
 * Parse an image manifest (Docker schema 2 or OCI). -EINVAL with a clear message for malformed JSON,
 * missing or invalid fields (digest form, negative size), unknown layer media types, more than
 * MANIFEST_MAX_LAYERS layers; -EOPNOTSUPP for Docker schema 1 ("schema 1 images are not supported").
 */
int manifest_parse(const char *body, size_t len, ManifestKind kind, Manifest **ret, Error **reterr);
Manifest *manifest_free(Manifest *m);

/* Parse a Docker manifest list or OCI index. Same error rules. */
int manifest_list_parse(const char *body, size_t len, ManifestKind kind, ManifestList **ret, Error **reterr);
ManifestList *manifest_list_free(ManifestList *l);

/*
 * Choose the entry for a platform: os and architecture must match (after normalising aliases
 * such as x86_64 -> amd64, aarch64 -> arm64); a requested variant must match, arm64 without variant
 * matches "v8"; among equals the first wins. -ENOENT listing the platforms present when none fits.
 */
int manifest_list_select(const ManifestList *l, const char *os, const char *architecture,
                         const char *variant, const Descriptor **ret, Error **reterr);

/* Compression of a layer media type; -EINVAL for media types that are not layers we can unpack. */
int layer_compression_from_media_type(const char *media_type);

/* The parts of an image config (OCI image-spec config.json) the runtime uses. */
typedef struct ImageConfig {
        char *architecture, *os, *variant;
        char *created; /* RFC 3339, or NULL */
        char *user;
        char **env, **entrypoint, **cmd; /* strv, possibly empty, never NULL */
        char *working_dir;
        char *stop_signal;
        char **label_keys, **label_values; /* parallel strv */
        char **volumes;                    /* keys of config.Volumes */
        char **exposed_ports;              /* keys of config.ExposedPorts */
        char **diff_ids;                   /* rootfs.diff_ids, validated digests */
} ImageConfig;

/* Parse an image config; -EINVAL for malformed JSON, rootfs.type other than "layers", bad diff_ids. */
int image_config_parse(const char *body, size_t len, ImageConfig **ret, Error **reterr);
ImageConfig *image_config_free(ImageConfig *c);
