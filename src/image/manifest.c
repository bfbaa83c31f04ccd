/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "digest.h"
#include "json-util.h"
#include "manifest.h"
#include "strv.h"

/* Manifests, indexes and configs nest a few levels; deeper input is an attack, not an image. */
/* How many platforms a "no image for this platform" error names before it stops listing. */
#define PLATFORMS_LISTED_MAX 16

static void json_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_putp)

/* Parse `len` bytes as one JSON object, after checking the size against the cap for its kind. */
static int parse_json_object(const char *body, size_t len, size_t max, const char *what, json_object **ret,
                             Error **reterr) {
        if (!body)
                return error_set(reterr, EINVAL, "%s is empty", what);
        if (len > max)
                return error_set(reterr, EINVAL, "%s is %zu bytes, over the limit of %zu", what, len, max);
        return json_parse_object(body, len, what, ret, reterr);
}

/* A member that may be absent: JSON null counts as absent, as Go's encoding/json treats it. */
static json_object *member(json_object *o, const char *key) {
        json_object *v = NULL;
        if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
                return NULL;
        return v;
}

/* The C string of a JSON string, or NULL for other types and for strings a C string cannot hold. */
static const char *string_value(json_object *v) {
        if (!json_object_is_type(v, json_type_string))
                return NULL;
        const char *s = json_object_get_string(v);
        /* "\u0000" would silently cut the string short in C. */
        return strlen(s) == (size_t)json_object_get_string_len(v) ? s : NULL;
}

/* Borrow a string member; *ret is NULL when absent and not `required`. */
static int get_string(json_object *o, const char *key, bool required, const char *what, const char **ret,
                      Error **reterr) {
        json_object *v = member(o, key);
        if (!v) {
                if (required)
                        return error_set(reterr, EINVAL, "%s: \"%s\" is missing", what, key);
                *ret = NULL;
                return 0;
        }
        const char *s = string_value(v);
        if (!s)
                return error_set(reterr, EINVAL, "%s: \"%s\" is not a string (without NUL characters)", what,
                                 key);
        *ret = s;
        return 0;
}

static int dup_string(json_object *o, const char *key, const char *what, char **ret, Error **reterr) {
        const char *s = NULL;
        int r = get_string(o, key, false, what, &s, reterr);
        if (r < 0)
                return r;
        *ret = s ? xstrdup(s) : NULL;
        return 0;
}

/* An optional member of a given type (NULL when absent or null). */
static int get_typed(json_object *o, const char *key, json_type type, const char *what, json_object **ret,
                     Error **reterr) {
        json_object *v = member(o, key);
        if (v && !json_object_is_type(v, type))
                return error_set(reterr, EINVAL, "%s: \"%s\" is not an %s", what, key,
                                 json_type_to_name(type));
        *ret = v;
        return 0;
}

/* RFC 6838 restricted names: "type/subtype", each 1-127 of a limited set, starting alphanumeric. */
static bool media_type_name_ok(const char *s, size_t n) {
        if (n == 0 || n > 127 || !isalnum((unsigned char)s[0]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && !strchr("!#$&^_.+-", s[i]))
                        return false;
        return true;
}

static bool media_type_is_valid(const char *s) {
        const char *slash = strchr(s, '/');
        return slash && media_type_name_ok(s, (size_t)(slash - s)) &&
               media_type_name_ok(slash + 1, strlen(slash + 1));
}

static void descriptor_done(Descriptor *d) {
        free(d->media_type);
        free(d->digest);
        free(d->os);
        free(d->architecture);
        free(d->variant);
        *d = (Descriptor){};
}

static int get_size(json_object *o, const char *what, int64_t *ret, Error **reterr) {
        json_object *v = member(o, "size");
        if (!v)
                return error_set(reterr, EINVAL, "%s: \"size\" is missing", what);
        if (!json_object_is_type(v, json_type_int))
                return error_set(reterr, EINVAL, "%s: \"size\" is not an integer", what);
        int64_t size = json_object_get_int64(v);
        /* json-c clamps integers beyond int64 to INT64_MAX; the uint64 view tells them apart. */
        if (size < 0 || (size == INT64_MAX && json_object_get_uint64(v) != (uint64_t)INT64_MAX))
                return error_set(reterr, EINVAL, "%s: \"size\" is out of range", what);
        *ret = size;
        return 0;
}

static int platform_parse(json_object *o, const char *what, Descriptor *d, Error **reterr) {
        json_object *p = NULL;
        int r = get_typed(o, "platform", json_type_object, what, &p, reterr);
        if (r < 0 || !p)
                return r;

        const char *os = NULL, *arch = NULL, *variant = NULL;
        char pwhat[96];
        snprintf(pwhat, sizeof(pwhat), "%s platform", what);
        if ((r = get_string(p, "os", true, pwhat, &os, reterr)) < 0 ||
            (r = get_string(p, "architecture", true, pwhat, &arch, reterr)) < 0 ||
            (r = get_string(p, "variant", false, pwhat, &variant, reterr)) < 0)
                return r;
        d->os = xstrdup(os);
        d->architecture = xstrdup(arch);
        d->variant = variant ? xstrdup(variant) : NULL;
        return 0;
}

/* A descriptor (OCI image-spec descriptor.md); `platform` only for index entries. */
static int descriptor_parse(json_object *o, const char *what, bool platform, Descriptor *ret,
                            Error **reterr) {
        _cleanup_(descriptor_done) Descriptor d = {};
        const char *media_type = NULL, *digest = NULL;
        int r;

        if (!json_object_is_type(o, json_type_object))
                return error_set(reterr, EINVAL, "%s is not a JSON object", what);
        if ((r = get_string(o, "mediaType", true, what, &media_type, reterr)) < 0 ||
            (r = get_string(o, "digest", true, what, &digest, reterr)) < 0 ||
            (r = get_size(o, what, &d.size, reterr)) < 0)
                return r;
        if (!media_type_is_valid(media_type))
                return error_set(reterr, EINVAL, "%s: invalid media type \"%s\"", what, media_type);
        if (!digest_is_valid(digest))
                return error_set(reterr, EINVAL, "%s: invalid digest \"%s\"", what, digest);
        if (platform && (r = platform_parse(o, what, &d, reterr)) < 0)
                return r;

        d.media_type = xstrdup(media_type);
        d.digest = xstrdup(digest);
        *ret = d;
        d = (Descriptor){};
        return 0;
}

static const char *kind_media_type(ManifestKind kind) {
        switch (kind) {
        case MANIFEST_DOCKER_V2:
                return MEDIA_TYPE_DOCKER_MANIFEST;
        case MANIFEST_OCI:
                return MEDIA_TYPE_OCI_MANIFEST;
        case MANIFEST_DOCKER_LIST:
                return MEDIA_TYPE_DOCKER_LIST;
        case MANIFEST_OCI_INDEX:
                return MEDIA_TYPE_OCI_INDEX;
        case MANIFEST_DOCKER_SCHEMA1:
                return MEDIA_TYPE_DOCKER_SCHEMA1;
        default:
                return "unknown";
        }
}

/*
 * schemaVersion, mediaType and the fields only the other kind may have. A document that could be
 * read both as a manifest and as an index is refused (image-spec, after CVE-2021-41190), so a
 * signature or digest over it cannot mean two different images.
 */
static int check_header(json_object *root, ManifestKind kind, const char *what, Error **reterr) {
        bool is_list = kind == MANIFEST_DOCKER_LIST || kind == MANIFEST_OCI_INDEX;
        json_object *v = member(root, "schemaVersion");
        const char *media_type = NULL;
        int r;

        if (!v || !json_object_is_type(v, json_type_int))
                return error_set(reterr, EINVAL, "%s: \"schemaVersion\" is missing or not an integer", what);
        if (json_object_get_int64(v) == 1)
                return error_set(reterr, EOPNOTSUPP, "schema 1 images are not supported");
        if (json_object_get_int64(v) != 2)
                return error_set(reterr, EINVAL, "%s: unsupported schemaVersion %" PRId64, what,
                                 json_object_get_int64(v));
        if ((r = get_string(root, "mediaType", false, what, &media_type, reterr)) < 0)
                return r;
        if (media_type && strcmp(media_type, kind_media_type(kind)) != 0)
                return error_set(reterr, EINVAL, "%s: mediaType \"%s\" does not match the expected \"%s\"",
                                 what, media_type, kind_media_type(kind));
        if (!is_list && member(root, "manifests"))
                return error_set(reterr, EINVAL, "%s: has \"manifests\", which only an index may have",
                                 what);
        if (is_list && (member(root, "config") || member(root, "layers")))
                return error_set(reterr, EINVAL,
                                 "%s: has \"config\" or \"layers\", which only a manifest may have", what);
        return 0;
}

static const struct {
        const char *media_type;
        ManifestKind kind;
} manifest_media_types[] = {
        {MEDIA_TYPE_DOCKER_MANIFEST, MANIFEST_DOCKER_V2},
        {MEDIA_TYPE_OCI_MANIFEST, MANIFEST_OCI},
        {MEDIA_TYPE_DOCKER_LIST, MANIFEST_DOCKER_LIST},
        {MEDIA_TYPE_OCI_INDEX, MANIFEST_OCI_INDEX},
        {MEDIA_TYPE_DOCKER_SCHEMA1, MANIFEST_DOCKER_SCHEMA1},
        {MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED, MANIFEST_DOCKER_SCHEMA1},
};

/*
 * `n` bytes of `s` are the type. A header compares case-insensitively (RFC 6838); a body's
 * "mediaType" exactly, as manifest_parse() checks it.
 */
static ManifestKind kind_from_media_type(const char *s, size_t n, bool header) {
        for (size_t i = 0; i < ELEMENTSOF(manifest_media_types); i++) {
                const char *t = manifest_media_types[i].media_type;
                if (strlen(t) == n && (header ? strncasecmp(s, t, n) : strncmp(s, t, n)) == 0)
                        return manifest_media_types[i].kind;
        }
        return MANIFEST_UNKNOWN;
}

static ManifestKind kind_from_body(const char *body, size_t len) {
        _cleanup_json_ json_object *root = NULL;
        const char *media_type = NULL;

        if (parse_json_object(body, len, MANIFEST_MAX_SIZE, "manifest", &root, NULL) < 0 ||
            get_string(root, "mediaType", false, "manifest", &media_type, NULL) < 0)
                return MANIFEST_UNKNOWN;
        if (media_type)
                return kind_from_media_type(media_type, strlen(media_type), false);

        /* mediaType is optional in OCI documents (and absent in schema 1): guess as containerd does. */
        json_object *v = member(root, "schemaVersion");
        if (!v || !json_object_is_type(v, json_type_int))
                return MANIFEST_UNKNOWN;
        if (json_object_get_int64(v) == 1)
                return MANIFEST_DOCKER_SCHEMA1;
        if (json_object_get_int64(v) != 2)
                return MANIFEST_UNKNOWN;
        bool has_manifests = member(root, "manifests"), has_config = member(root, "config");
        if (has_manifests == has_config)
                return MANIFEST_UNKNOWN;
        return has_manifests ? MANIFEST_OCI_INDEX : MANIFEST_OCI;
}

ManifestKind manifest_kind_detect(const char *content_type, const char *body, size_t len) {
        if (content_type) {
                /* "type/subtype; charset=utf-8": parameters and surrounding blanks do not count. */
                content_type += strspn(content_type, " \t");
                size_t n = strcspn(content_type, ";");
                while (n > 0 && strchr(" \t", content_type[n - 1]))
                        n--;
                ManifestKind kind = kind_from_media_type(content_type, n, true);
                if (kind != MANIFEST_UNKNOWN)
                        return kind;
        }
        /* Registries may answer "application/json" or nothing useful: look at the body. */
        return kind_from_body(body, len);
}

int layer_compression_from_media_type(const char *media_type) {
        static const struct {
                const char *media_type;
                LayerCompression compression;
        } table[] = {
                {"application/vnd.docker.image.rootfs.diff.tar.gzip", COMPRESSION_GZIP},
                {"application/vnd.docker.image.rootfs.diff.tar.zstd", COMPRESSION_ZSTD},
                {"application/vnd.docker.image.rootfs.diff.tar", COMPRESSION_NONE},
                /* Foreign and non-distributable layers: we fetch them from the registry like any other. */
                {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", COMPRESSION_GZIP},
                {"application/vnd.oci.image.layer.v1.tar", COMPRESSION_NONE},
                {"application/vnd.oci.image.layer.v1.tar+gzip", COMPRESSION_GZIP},
                {"application/vnd.oci.image.layer.v1.tar+zstd", COMPRESSION_ZSTD},
                {"application/vnd.oci.image.layer.nondistributable.v1.tar", COMPRESSION_NONE},
                {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", COMPRESSION_GZIP},
                {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", COMPRESSION_ZSTD},
        };

        for (size_t i = 0; media_type && i < ELEMENTSOF(table); i++)
                if (strcmp(media_type, table[i].media_type) == 0)
                        return (int)table[i].compression;
        return -EINVAL;
}

Manifest *manifest_free(Manifest *m) {
        if (!m)
                return NULL;
        descriptor_done(&m->config);
        for (size_t i = 0; i < m->n_layers; i++)
                descriptor_done(&m->layers[i]);
        free(m->layers);
        free(m);
        return NULL;
}

static void manifest_freep(Manifest **m) {
        *m = manifest_free(*m);
}

static int manifest_parse_config(json_object *root, Manifest *m, Error **reterr) {
        json_object *config = member(root, "config");
        if (!config)
                return error_set(reterr, EINVAL, "manifest: \"config\" is missing");
        int r = descriptor_parse(config, "manifest config", false, &m->config, reterr);
        if (r < 0)
                return r;
        /* Either image config format works with either manifest format; artifacts are not images. */
        if (!streq_ptr(m->config.media_type, MEDIA_TYPE_DOCKER_CONFIG) &&
            !streq_ptr(m->config.media_type, MEDIA_TYPE_OCI_CONFIG))
                return error_set(reterr, EINVAL, "manifest config: media type \"%s\" is not an image config",
                                 m->config.media_type);
        return 0;
}

static int manifest_parse_layers(json_object *root, Manifest *m, Error **reterr) {
        json_object *layers = member(root, "layers");
        if (!layers || !json_object_is_type(layers, json_type_array))
                return error_set(reterr, EINVAL, "manifest: \"layers\" is missing or not an array");
        size_t n = json_object_array_length(layers);
        if (n > MANIFEST_MAX_LAYERS)
                return error_set(reterr, EINVAL, "manifest: %zu layers, over the limit of %d", n,
                                 MANIFEST_MAX_LAYERS);

        m->layers = xcalloc(n, sizeof(Descriptor));
        for (size_t i = 0; i < n; i++) {
                char what[64];
                snprintf(what, sizeof(what), "manifest layer %zu", i);
                int r = descriptor_parse(json_object_array_get_idx(layers, i), what, false, &m->layers[i],
                                         reterr);
                if (r < 0)
                        return r;
                m->n_layers++;
                if (layer_compression_from_media_type(m->layers[i].media_type) < 0)
                        return error_set(reterr, EINVAL, "%s: unsupported media type \"%s\"", what,
                                         m->layers[i].media_type);
        }
        return 0;
}

int manifest_parse(const char *body, size_t len, ManifestKind kind, Manifest **ret, Error **reterr) {
        _cleanup_json_ json_object *root = NULL;
        _cleanup_(manifest_freep) Manifest *m = NULL;
        int r;

        if (kind == MANIFEST_DOCKER_SCHEMA1)
                return error_set(reterr, EOPNOTSUPP, "schema 1 images are not supported");
        if (kind != MANIFEST_DOCKER_V2 && kind != MANIFEST_OCI)
                return error_set(reterr, EINVAL, "%s is not an image manifest media type",
                                 kind_media_type(kind));
        if ((r = parse_json_object(body, len, MANIFEST_MAX_SIZE, "manifest", &root, reterr)) < 0 ||
            (r = check_header(root, kind, "manifest", reterr)) < 0)
                return r;

        m = xcalloc(1, sizeof(*m));
        m->kind = kind;
        if ((r = manifest_parse_config(root, m, reterr)) < 0 ||
            (r = manifest_parse_layers(root, m, reterr)) < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

ManifestList *manifest_list_free(ManifestList *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n_manifests; i++)
                descriptor_done(&l->manifests[i]);
        free(l->manifests);
        free(l);
        return NULL;
}

static void manifest_list_freep(ManifestList **l) {
        *l = manifest_list_free(*l);
}

int manifest_list_parse(const char *body, size_t len, ManifestKind kind, ManifestList **ret,
                        Error **reterr) {
        _cleanup_json_ json_object *root = NULL;
        _cleanup_(manifest_list_freep) ManifestList *l = NULL;
        int r;

        if (kind == MANIFEST_DOCKER_SCHEMA1)
                return error_set(reterr, EOPNOTSUPP, "schema 1 images are not supported");
        if (kind != MANIFEST_DOCKER_LIST && kind != MANIFEST_OCI_INDEX)
                return error_set(reterr, EINVAL, "%s is not a manifest list media type",
                                 kind_media_type(kind));
        if ((r = parse_json_object(body, len, MANIFEST_MAX_SIZE, "manifest list", &root, reterr)) < 0 ||
            (r = check_header(root, kind, "manifest list", reterr)) < 0)
                return r;

        json_object *manifests = member(root, "manifests");
        if (!manifests || !json_object_is_type(manifests, json_type_array))
                return error_set(reterr, EINVAL, "manifest list: \"manifests\" is missing or not an array");
        size_t n = json_object_array_length(manifests);
        /* The header's layer cap bounds list entries too: no real index comes near it. */
        if (n > MANIFEST_MAX_LAYERS)
                return error_set(reterr, EINVAL, "manifest list: %zu entries, over the limit of %d", n,
                                 MANIFEST_MAX_LAYERS);

        l = xcalloc(1, sizeof(*l));
        l->kind = kind;
        l->manifests = xcalloc(n, sizeof(Descriptor));
        for (size_t i = 0; i < n; i++) {
                char what[64];
                snprintf(what, sizeof(what), "manifest list entry %zu", i);
                r = descriptor_parse(json_object_array_get_idx(manifests, i), what, true, &l->manifests[i],
                                     reterr);
                if (r < 0)
                        return r;
                l->n_manifests++;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

typedef struct Platform {
        const char *os, *architecture, *variant; /* borrowed or static; variant "" when none */
} Platform;

static bool str_in(const char *s, const char *const *set) {
        for (; *set; set++)
                if (strcmp(s, *set) == 0)
                        return true;
        return false;
}

static const char *normalize_variant(const char *arch, const char *variant) {
        static const char *const arm[][2] = {{"", "v7"}, {"5", "v5"}, {"6", "v6"}, {"7", "v7"}, {"8", "v8"}};

        if (strcasecmp(arch, "arm64") == 0) {
                /* arm64 is v8 unless it says otherwise, so "v8" and no variant are the same platform. */
                if (str_in(variant, (const char *const[]){"8", "v8", "v8.0", NULL}))
                        return "";
        } else if (strcasecmp(arch, "arm") == 0) {
                /* containerd's rule: 32-bit arm without a variant means v7. */
                for (size_t i = 0; i < ELEMENTSOF(arm); i++)
                        if (strcmp(variant, arm[i][0]) == 0)
                                return arm[i][1];
        } else if (strcasecmp(arch, "amd64") == 0 && strcmp(variant, "v1") == 0)
                return "";
        return variant;
}

/* containerd's platforms.Normalize: aliases for the same platform compare equal afterwards. */
static Platform platform_normalize(const char *os, const char *architecture, const char *variant) {
        static const char *const aliases[][3] = {
                {"x86_64", "amd64", NULL}, {"x86-64", "amd64", NULL}, {"aarch64", "arm64", NULL},
                {"i386", "386", NULL},     {"armhf", "arm", "v7"},    {"armel", "arm", "v6"},
        };
        Platform p = {os, architecture, strempty(variant)};

        if (strcasecmp(os, "macos") == 0)
                p.os = "darwin";
        for (size_t i = 0; i < ELEMENTSOF(aliases); i++)
                if (strcasecmp(architecture, aliases[i][0]) == 0) {
                        p.architecture = aliases[i][1];
                        if (aliases[i][2])
                                p.variant = aliases[i][2];
                }
        p.variant = normalize_variant(p.architecture, p.variant);
        return p;
}

static bool platform_equal(const Platform *a, const Platform *b) {
        return strcasecmp(a->os, b->os) == 0 && strcasecmp(a->architecture, b->architecture) == 0 &&
               strcasecmp(a->variant, b->variant) == 0;
}

/* Entries that can be an image: nested indexes and artifacts are not followed. */
static bool entry_is_image(const Descriptor *d) {
        return d->os && d->architecture &&
               (streq_ptr(d->media_type, MEDIA_TYPE_DOCKER_MANIFEST) ||
                streq_ptr(d->media_type, MEDIA_TYPE_OCI_MANIFEST) ||
                /* Kept so the caller reports "schema 1 is not supported" rather than "no such platform". */
                streq_ptr(d->media_type, MEDIA_TYPE_DOCKER_SCHEMA1) ||
                streq_ptr(d->media_type, MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED));
}

static int no_platform_error(const ManifestList *l, const char *wanted, Error **reterr) {
        _cleanup_free_ char *list = xstrdup("");
        size_t listed = 0;

        for (size_t i = 0; i < l->n_manifests; i++) {
                const Descriptor *d = &l->manifests[i];
                if (!entry_is_image(d))
                        continue;
                if (listed++ == PLATFORMS_LISTED_MAX) {
                        char *more = xasprintf("%s, ...", list);
                        free(list);
                        list = more;
                        break;
                }
                char *next = xasprintf("%s%s%s/%s%s%s", list, listed > 1 ? ", " : "", d->os, d->architecture,
                                       d->variant ? "/" : "", strempty(d->variant));
                free(list);
                list = next;
        }
        if (listed == 0)
                return error_set(reterr, ENOENT, "no image for %s: the manifest list has no images", wanted);
        return error_set(reterr, ENOENT, "no image for %s in the manifest list, which has %s", wanted, list);
}

int manifest_list_select(const ManifestList *l, const char *os, const char *architecture,
                         const char *variant, const Descriptor **ret, Error **reterr) {
        if (!os || !architecture)
                return error_set(reterr, EINVAL, "platform selection needs an os and an architecture");

        Platform want = platform_normalize(os, architecture, variant);
        for (size_t i = 0; i < l->n_manifests; i++) {
                const Descriptor *d = &l->manifests[i];
                if (!entry_is_image(d))
                        continue;
                Platform have = platform_normalize(d->os, d->architecture, d->variant);
                if (platform_equal(&want, &have)) {
                        *ret = d;
                        return 0;
                }
        }

        _cleanup_free_ char *wanted =
                xasprintf("%s/%s%s%s", os, architecture, variant && *variant ? "/" : "",
                          variant && *variant ? variant : "");
        return no_platform_error(l, wanted, reterr);
}

ImageConfig *image_config_free(ImageConfig *c) {
        if (!c)
                return NULL;
        free(c->architecture);
        free(c->os);
        free(c->variant);
        free(c->created);
        free(c->user);
        strv_free(c->env);
        strv_free(c->entrypoint);
        strv_free(c->cmd);
        free(c->working_dir);
        free(c->stop_signal);
        strv_free(c->label_keys);
        strv_free(c->label_values);
        strv_free(c->volumes);
        strv_free(c->exposed_ports);
        strv_free(c->diff_ids);
        free(c);
        return NULL;
}

static void image_config_freep(ImageConfig **c) {
        *c = image_config_free(*c);
}

/* An array of strings; absent or null is the empty list. */
static int get_strv(json_object *o, const char *key, const char *what, char ***ret, Error **reterr) {
        json_object *a = NULL;
        int r = get_typed(o, key, json_type_array, what, &a, reterr);
        if (r < 0)
                return r;

        size_t n = a ? json_object_array_length(a) : 0;
        _cleanup_strv_free_ char **l = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
                const char *s = string_value(json_object_array_get_idx(a, i));
                if (!s)
                        return error_set(reterr, EINVAL, "%s: \"%s\"[%zu] is not a string", what, key, i);
                l[i] = xstrdup(s);
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* The keys of an object ("Volumes", "ExposedPorts": the values are empty objects). */
static int get_keys(json_object *o, const char *key, const char *what, char ***ret, Error **reterr) {
        json_object *map = NULL;
        int r = get_typed(o, key, json_type_object, what, &map, reterr);
        if (r < 0)
                return r;

        char **l = xcalloc(1, sizeof(char *));
        if (map) {
                json_object_object_foreach(map, k, v) {
                        (void)v;
                        l = strv_push(l, xstrdup(k));
                }
        }
        *ret = l;
        return 0;
}

static int get_labels(json_object *o, const char *what, ImageConfig *c, Error **reterr) {
        json_object *map = NULL;
        int r = get_typed(o, "Labels", json_type_object, what, &map, reterr);
        if (r < 0)
                return r;

        _cleanup_strv_free_ char **keys = xcalloc(1, sizeof(char *));
        _cleanup_strv_free_ char **values = xcalloc(1, sizeof(char *));
        if (map) {
                json_object_object_foreach(map, k, v) {
                        /* Go reads a null label as "", so images built that way exist. */
                        const char *s = json_object_is_type(v, json_type_null) ? "" : string_value(v);
                        if (!s)
                                return error_set(reterr, EINVAL, "%s: label \"%s\" is not a string", what,
                                                 k);
                        keys = strv_push(keys, xstrdup(k));
                        values = strv_push(values, xstrdup(s));
                }
        }
        c->label_keys = TAKE_PTR(keys);
        c->label_values = TAKE_PTR(values);
        return 0;
}

/* The "config" object: how to run the image. Absent or null means all defaults. */
static int image_config_parse_runtime(json_object *root, ImageConfig *c, Error **reterr) {
        static const char what[] = "image config \"config\"";
        json_object *config = NULL;
        int r;

        if ((r = get_typed(root, "config", json_type_object, "image config", &config, reterr)) < 0 ||
            (r = dup_string(config, "User", what, &c->user, reterr)) < 0 ||
            (r = dup_string(config, "WorkingDir", what, &c->working_dir, reterr)) < 0 ||
            (r = dup_string(config, "StopSignal", what, &c->stop_signal, reterr)) < 0 ||
            (r = get_strv(config, "Env", what, &c->env, reterr)) < 0 ||
            (r = get_strv(config, "Entrypoint", what, &c->entrypoint, reterr)) < 0 ||
            (r = get_strv(config, "Cmd", what, &c->cmd, reterr)) < 0 ||
            (r = get_labels(config, what, c, reterr)) < 0 ||
            (r = get_keys(config, "Volumes", what, &c->volumes, reterr)) < 0 ||
            (r = get_keys(config, "ExposedPorts", what, &c->exposed_ports, reterr)) < 0)
                return r;
        return 0;
}

static int image_config_parse_rootfs(json_object *root, ImageConfig *c, Error **reterr) {
        static const char what[] = "image config \"rootfs\"";
        json_object *rootfs = NULL, *diff_ids = NULL;
        const char *type = NULL;
        int r;

        if ((r = get_typed(root, "rootfs", json_type_object, "image config", &rootfs, reterr)) < 0)
                return r;
        if (!rootfs)
                return error_set(reterr, EINVAL, "image config: \"rootfs\" is missing");
        if ((r = get_string(rootfs, "type", true, what, &type, reterr)) < 0)
                return r;
        if (strcmp(type, "layers") != 0)
                return error_set(reterr, EINVAL, "%s: type \"%s\" is not \"layers\"", what, type);
        if ((r = get_typed(rootfs, "diff_ids", json_type_array, what, &diff_ids, reterr)) < 0)
                return r;
        if (!diff_ids)
                return error_set(reterr, EINVAL, "%s: \"diff_ids\" is missing", what);
        if (json_object_array_length(diff_ids) > MANIFEST_MAX_LAYERS)
                return error_set(reterr, EINVAL, "%s: %zu diff_ids, over the limit of %d", what,
                                 json_object_array_length(diff_ids), MANIFEST_MAX_LAYERS);
        if ((r = get_strv(rootfs, "diff_ids", what, &c->diff_ids, reterr)) < 0)
                return r;
        for (size_t i = 0; c->diff_ids[i]; i++)
                if (!digest_is_valid(c->diff_ids[i]))
                        return error_set(reterr, EINVAL, "%s: diff_ids[%zu] \"%s\" is not a valid digest",
                                         what, i, c->diff_ids[i]);
        return 0;
}

/* Compare `s` with a pattern in which 'd' stands for a digit; stops at the pattern's end. */
static bool matches(const char *s, const char *pattern) {
        for (; *pattern; pattern++, s++)
                if (*pattern == 'd' ? !isdigit((unsigned char)*s) : *s != *pattern)
                        return false;
        return true;
}

/* RFC 3339 date-time: 2006-01-02T15:04:05[.frac](Z|+07:00), as Go's time.Time reads it. */
static bool rfc3339_is_valid(const char *s) {
        if (!matches(s, "dddd-dd-dd") || (s[10] != 'T' && s[10] != 't') || !matches(s + 11, "dd:dd:dd"))
                return false;
        s += 19;
        if (*s == '.') {
                if (!isdigit((unsigned char)*++s))
                        return false;
                while (isdigit((unsigned char)*s))
                        s++;
        }
        if (*s == 'Z' || *s == 'z')
                return s[1] == '\0';
        return (*s == '+' || *s == '-') && matches(s + 1, "dd:dd") && s[6] == '\0';
}

int image_config_parse(const char *body, size_t len, ImageConfig **ret, Error **reterr) {
        static const char what[] = "image config";
        _cleanup_json_ json_object *root = NULL;
        _cleanup_(image_config_freep) ImageConfig *c = NULL;
        int r;

        if ((r = parse_json_object(body, len, IMAGE_CONFIG_MAX_SIZE, what, &root, reterr)) < 0)
                return r;
        c = xcalloc(1, sizeof(*c));
        if ((r = dup_string(root, "architecture", what, &c->architecture, reterr)) < 0 ||
            (r = dup_string(root, "os", what, &c->os, reterr)) < 0 ||
            (r = dup_string(root, "variant", what, &c->variant, reterr)) < 0 ||
            (r = dup_string(root, "created", what, &c->created, reterr)) < 0 ||
            (r = image_config_parse_runtime(root, c, reterr)) < 0 ||
            (r = image_config_parse_rootfs(root, c, reterr)) < 0)
                return r;
        if (c->created && !rfc3339_is_valid(c->created))
                return error_set(reterr, EINVAL, "%s: \"created\" \"%s\" is not an RFC 3339 time", what,
                                 c->created);
        *ret = TAKE_PTR(c);
        return 0;
}
