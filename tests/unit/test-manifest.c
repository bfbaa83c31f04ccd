/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "manifest.h"
#include "strv.h"

/* ---- fixtures ---- */

#define R8(c) c c c c c c c c
#define R64(c) R8(R8(c))
#define SHA256(c) "sha256:" R64(c)
#define SHA512(c) "sha512:" R64(c) R64(c)

#define DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"

static const char docker_manifest[] =
        "{\n"
        "   \"schemaVersion\": 2,\n"
        "   \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
        "   \"config\": {\n"
        "      \"mediaType\": \"application/vnd.docker.container.image.v1+json\",\n"
        "      \"size\": 1469,\n"
        "      \"digest\": \"" SHA256(
                "a") "\"\n"
                     "   },\n"
                     "   \"layers\": [\n"
                     "      {\"mediaType\": \"" DOCKER_LAYER "\", \"size\": 2811478, \"digest\": \"" SHA256(
                             "b") "\"},\n"
                                  "      {\"mediaType\": "
                                  "\"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip\", \"size\": "
                                  "0,\n"
                                  "       \"digest\": \"" SHA256(
                                          "c") "\", \"urls\": [\"https://example.com/layer\"]},\n"
                                               "      {\"mediaType\": "
                                               "\"application/vnd.docker.image.rootfs.diff.tar\", \"size\": "
                                               "9223372036854775807,\n"
                                               "       \"digest\": \"" SHA512("d") "\"}\n"
                                                                                   "   ]\n"
                                                                                   "}\n";

static const char oci_manifest[] =
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
        "\"digest\":\"" SHA256(
                "1") "\",\"size\":7023},"
                     "\"layers\":["
                     "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
                     "\"digest\":\"" SHA256(
                             "2") "\",\"size\":32654},"
                                  "{\"mediaType\":\"" OCI_LAYER_GZIP "\","
                                  "\"digest\":\"" SHA256(
                                          "3") "\",\"size\":16724},"
                                               "{\"mediaType\":\"application/"
                                               "vnd.oci.image.layer.v1.tar+zstd\","
                                               "\"digest\":\"" SHA256(
                                                       "4") "\",\"size\":73109},"
                                                            "{\"mediaType\":\"application/"
                                                            "vnd.oci.image.layer.nondistributable.v1.tar+"
                                                            "gzip\","
                                                            "\"digest\":\"" SHA256(
                                                                    "5") "\",\"size\":1,"
                                                                         "\"annotations\":{\"a\":\"b\"}}],"
                                                                         "\"annotations\":{\"org."
                                                                         "opencontainers.image.created\":"
                                                                         "\"2024-01-01T00:00:00Z\"}}";

static const char docker_list[] =
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.list.v2+json\","
        "\"manifests\":["
        "{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"size\":528,"
        "\"digest\":\"" SHA256(
                "a") "\",\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
                     "{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"size\":528,"
                     "\"digest\":\"" SHA256(
                             "b") "\",\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":"
                                  "\"v7\"}},"
                                  "{\"mediaType\":\"application/"
                                  "vnd.docker.distribution.manifest.v2+json\",\"size\":528,"
                                  "\"digest\":\"" SHA256(
                                          "c") "\",\"platform\":{\"architecture\":\"arm64\",\"os\":"
                                               "\"linux\",\"variant\":\"v8\","
                                               "\"features\":[\"sse4\"],\"os.version\":\"\"}}]}";

static const char oci_index[] =
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
        "\"manifests\":["
        "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":100,"
        "\"digest\":\"" SHA256(
                "1") "\",\"platform\":{\"architecture\":\"ppc64le\",\"os\":\"linux\"}},"
                     "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":200,"
                     "\"digest\":\"" SHA256("2") "\"},"
                                                 "{\"mediaType\":\"application/"
                                                 "vnd.oci.image.manifest.v1+json\",\"size\":300,"
                                                 "\"digest\":\"" SHA256(
                                                         "3") "\",\"platform\":{\"architecture\":"
                                                              "\"unknown\",\"os\":\"unknown\"},"
                                                              "\"annotations\":{\"vnd.docker.reference."
                                                              "type\":\"attestation-manifest\"}}],"
                                                              "\"annotations\":{\"x\":\"y\"}}";

static int sentinel_storage;
#define SENTINEL ((void *)&sentinel_storage)

/*
 * Rewrite one member of a JSON document. `path` is '/'-separated keys and array indexes;
 * `value` is JSON text, or NULL to delete the member. Returns the new document.
 */
static char *mutate(const char *doc, const char *path, const char *value) {
        json_object *root = json_tokener_parse(doc), *parent = root;
        _cleanup_strv_free_ char **parts = strv_split(path, '/');
        size_t n = strv_length(parts);

        assert_non_null(root);
        assert_true(n > 0);
        for (size_t i = 0; i + 1 < n; i++) {
                if (json_object_is_type(parent, json_type_array))
                        parent = json_object_array_get_idx(parent, strtoul(parts[i], NULL, 10));
                else
                        parent = json_object_object_get(parent, parts[i]);
                assert_non_null(parent);
        }
        json_object *v = NULL;
        if (value) {
                v = json_tokener_parse(value);
                assert_true(v || strcmp(value, "null") == 0);
        }
        if (json_object_is_type(parent, json_type_array)) {
                size_t idx = strtoul(parts[n - 1], NULL, 10);
                if (value)
                        assert_int_equal(json_object_array_put_idx(parent, idx, v), 0);
                else
                        assert_int_equal(json_object_array_del_idx(parent, idx, 1), 0);
        } else if (value)
                assert_int_equal(json_object_object_add(parent, parts[n - 1], v), 0);
        else
                json_object_object_del(parent, parts[n - 1]);
        char *out = xstrdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
        json_object_put(root);
        return out;
}

/* A member to change in a valid document ("path", new JSON "value" or NULL to delete it). */
typedef struct BadCase {
        const char *path, *value;
        int error; /* -errno */
        const char *message;
} BadCase;

/* A whole document that must fail. */
typedef struct BadDoc {
        const char *doc;
        int error;
        const char *message;
} BadDoc;

typedef enum Parser {
        PARSE_MANIFEST,
        PARSE_LIST,
        PARSE_CONFIG,
} Parser;

/* `ret_e` is read only after the call that fills it, whatever the order of argument evaluation. */
static void check_error(int r, Error *const *ret_e, int expected, const char *message, const char *label) {
        Error *e = *ret_e;
        if (r >= 0) {
                print_message("case '%s': accepted, expected %d\n", label, expected);
                fail();
        }
        assert_int_equal(r, expected);
        assert_non_null(e);
        assert_int_equal(e->code, -expected);
        if (message && !strstr(e->message, message)) {
                print_message("case '%s': expected '%s' in '%s'\n", label, message, e->message);
                fail();
        }
}

/* Parse with one of the three parsers, which must fail as told and leave its output alone. */
static void check_rejected(Parser parser, const char *doc, size_t len, ManifestKind kind, int error,
                           const char *message, const char *label) {
        _cleanup_error_ Error *e = NULL;
        void *out = SENTINEL;
        int r;

        switch (parser) {
        case PARSE_MANIFEST:
                r = manifest_parse(doc, len, kind, (Manifest **)&out, &e);
                break;
        case PARSE_LIST:
                r = manifest_list_parse(doc, len, kind, (ManifestList **)&out, &e);
                break;
        default:
                r = image_config_parse(doc, len, (ImageConfig **)&out, &e);
                break;
        }
        check_error(r, &e, error, message, label);
        assert_ptr_equal(out, SENTINEL);
}

static void check_bad_cases(Parser parser, const char *base, ManifestKind kind, const BadCase *cases,
                            size_t n) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *doc = mutate(base, cases[i].path, cases[i].value);
                check_rejected(parser, doc, strlen(doc), kind, cases[i].error, cases[i].message,
                               cases[i].path);
        }
}

static void check_bad_docs(Parser parser, ManifestKind kind, const BadDoc *docs, size_t n) {
        for (size_t i = 0; i < n; i++)
                check_rejected(parser, docs[i].doc, docs[i].doc ? strlen(docs[i].doc) : 0, kind,
                               docs[i].error, docs[i].message, strempty(docs[i].doc));
}

static Manifest *parse_manifest_ok(const char *doc, ManifestKind kind) {
        Manifest *m = NULL;
        _cleanup_error_ Error *e = NULL;
        if (manifest_parse(doc, strlen(doc), kind, &m, &e) < 0) {
                print_message("unexpected error: %s\n%s\n", e->message, doc);
                fail();
        }
        assert_null(e);
        assert_non_null(m);
        return m;
}

static ManifestList *parse_list_ok(const char *doc, ManifestKind kind) {
        ManifestList *l = NULL;
        _cleanup_error_ Error *e = NULL;
        if (manifest_list_parse(doc, strlen(doc), kind, &l, &e) < 0) {
                print_message("unexpected error: %s\n%s\n", e->message, doc);
                fail();
        }
        assert_null(e);
        assert_non_null(l);
        return l;
}

/* ---- kind detection ---- */

static void test_detect(void **state) {
        static const char oci_no_type[] = "{\"schemaVersion\":2,\"config\":{},\"layers\":[]}";
        static const char index_no_type[] = "{\"schemaVersion\":2,\"manifests\":[]}";
        static const char schema1[] = "{\"schemaVersion\":1,\"name\":\"x\",\"tag\":\"y\",\"fsLayers\":[]}";
        static const struct {
                const char *content_type, *body;
                ManifestKind kind;
        } cases[] = {
                {MEDIA_TYPE_DOCKER_MANIFEST, "", MANIFEST_DOCKER_V2},
                {MEDIA_TYPE_OCI_MANIFEST, NULL, MANIFEST_OCI},
                {MEDIA_TYPE_DOCKER_LIST, oci_manifest, MANIFEST_DOCKER_LIST}, /* the header decides */
                {MEDIA_TYPE_OCI_INDEX, "", MANIFEST_OCI_INDEX},
                {MEDIA_TYPE_DOCKER_SCHEMA1, "", MANIFEST_DOCKER_SCHEMA1},
                {MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED, "", MANIFEST_DOCKER_SCHEMA1},
                {" application/vnd.oci.image.index.v1+json ; charset=utf-8", "", MANIFEST_OCI_INDEX},
                {"Application/VND.Docker.Distribution.Manifest.V2+JSON", "", MANIFEST_DOCKER_V2},
                {"application/vnd.oci.image.manifest.v1+jsonx", oci_index, MANIFEST_OCI_INDEX},
                {"application/json", docker_manifest, MANIFEST_DOCKER_V2},
                {"text/plain", docker_list, MANIFEST_DOCKER_LIST},
                {MEDIA_TYPE_OCI_CONFIG, oci_manifest, MANIFEST_OCI},
                {NULL, oci_index, MANIFEST_OCI_INDEX},
                {"", oci_no_type, MANIFEST_OCI},
                {NULL, index_no_type, MANIFEST_OCI_INDEX},
                {NULL, schema1, MANIFEST_DOCKER_SCHEMA1},
                {NULL, "{\"schemaVersion\":2,\"config\":{},\"manifests\":[]}", MANIFEST_UNKNOWN},
                {NULL, "{\"schemaVersion\":2}", MANIFEST_UNKNOWN},
                {NULL, "{\"schemaVersion\":3,\"config\":{}}", MANIFEST_UNKNOWN},
                {NULL, "{\"schemaVersion\":\"2\",\"config\":{}}", MANIFEST_UNKNOWN},
                {NULL, "{\"mediaType\":\"application/vnd.oci.artifact.manifest.v1+json\"}",
                 MANIFEST_UNKNOWN},
                {NULL, "{\"mediaType\":7,\"schemaVersion\":2,\"config\":{}}", MANIFEST_UNKNOWN},
                {NULL, "{\"mediaType\":\"Application/vnd.oci.image.index.v1+json\"}", MANIFEST_UNKNOWN},
                {NULL, "[]", MANIFEST_UNKNOWN},
                {NULL, "{", MANIFEST_UNKNOWN},
                {NULL, "", MANIFEST_UNKNOWN},
                {NULL, NULL, MANIFEST_UNKNOWN},
                {"application/octet-stream", "not json", MANIFEST_UNKNOWN},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const char *body = cases[i].body;
                ManifestKind k = manifest_kind_detect(cases[i].content_type, body, body ? strlen(body) : 0);
                if (k != cases[i].kind) {
                        print_message("case %zu (%s): got %d, expected %d\n", i,
                                      strempty(cases[i].content_type), k, cases[i].kind);
                        fail();
                }
        }
}

static void test_detect_oversized_body(void **state) {
        size_t len = MANIFEST_MAX_SIZE + 1;
        char *big = xmalloc(len);
        memset(big, ' ', len);
        memcpy(big, oci_index, strlen(oci_index));
        assert_int_equal(manifest_kind_detect(NULL, big, len), MANIFEST_UNKNOWN);
        assert_int_equal(manifest_kind_detect(NULL, big, len - 1), MANIFEST_OCI_INDEX);
        /* A body with a NUL is not JSON, whatever precedes it. */
        big[strlen(oci_index)] = '\0';
        assert_int_equal(manifest_kind_detect(NULL, big, len - 1), MANIFEST_UNKNOWN);
        free(big);
}

/* ---- manifests ---- */

static void check_descriptor(const Descriptor *d, const char *media_type, const char *digest, int64_t size) {
        assert_string_equal(d->media_type, media_type);
        assert_string_equal(d->digest, digest);
        assert_int_equal(d->size, size);
        assert_null(d->os);
        assert_null(d->architecture);
        assert_null(d->variant);
}

static void test_docker_manifest(void **state) {
        Manifest *m = parse_manifest_ok(docker_manifest, MANIFEST_DOCKER_V2);
        assert_int_equal(m->kind, MANIFEST_DOCKER_V2);
        check_descriptor(&m->config, MEDIA_TYPE_DOCKER_CONFIG, SHA256("a"), 1469);
        assert_int_equal(m->n_layers, 3);
        check_descriptor(&m->layers[0], DOCKER_LAYER, SHA256("b"), 2811478);
        check_descriptor(&m->layers[1], "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                         SHA256("c"), 0);
        check_descriptor(&m->layers[2], "application/vnd.docker.image.rootfs.diff.tar", SHA512("d"),
                         INT64_MAX);
        manifest_free(m);
}

static void test_oci_manifest(void **state) {
        Manifest *m = parse_manifest_ok(oci_manifest, MANIFEST_OCI);
        assert_int_equal(m->kind, MANIFEST_OCI);
        check_descriptor(&m->config, MEDIA_TYPE_OCI_CONFIG, SHA256("1"), 7023);
        assert_int_equal(m->n_layers, 4);
        check_descriptor(&m->layers[0], "application/vnd.oci.image.layer.v1.tar", SHA256("2"), 32654);
        check_descriptor(&m->layers[1], OCI_LAYER_GZIP, SHA256("3"), 16724);
        check_descriptor(&m->layers[2], "application/vnd.oci.image.layer.v1.tar+zstd", SHA256("4"), 73109);
        check_descriptor(&m->layers[3], "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                         SHA256("5"), 1);
        manifest_free(m);
}

static void test_manifest_variants_accepted(void **state) {
        static const struct {
                const char *path, *value;
                ManifestKind kind;
        } cases[] = {
                /* mediaType is optional in OCI, and either config type works with either manifest type. */
                {"mediaType", NULL, MANIFEST_OCI},
                {"mediaType", "null", MANIFEST_OCI},
                {"config/mediaType", "\"" MEDIA_TYPE_DOCKER_CONFIG "\"", MANIFEST_OCI},
                {"layers", "[]", MANIFEST_OCI},
                {"layers/0/urls", "[\"https://a\"]", MANIFEST_OCI},
                {"layers/0/annotations", "null", MANIFEST_OCI},
                {"subject", "{\"mediaType\":\"x/y\"}", MANIFEST_OCI},
                {"artifactType", "\"application/x\"", MANIFEST_OCI},
                {"config/size", "0", MANIFEST_OCI},
                {"config/digest", "\"" SHA512("f") "\"", MANIFEST_OCI},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *doc = mutate(oci_manifest, cases[i].path, cases[i].value);
                manifest_free(parse_manifest_ok(doc, cases[i].kind));
        }
        /* Whitespace around the document is fine. */
        _cleanup_free_ char *padded = xasprintf(" \t\r\n%s \n\n", oci_manifest);
        manifest_free(parse_manifest_ok(padded, MANIFEST_OCI));
}

static void test_manifest_invalid(void **state) {
        static const BadCase cases[] = {
                {"schemaVersion", NULL, -EINVAL, "schemaVersion"},
                {"schemaVersion", "\"2\"", -EINVAL, "schemaVersion"},
                {"schemaVersion", "3", -EINVAL, "unsupported schemaVersion 3"},
                {"schemaVersion", "2.0", -EINVAL, "schemaVersion"},
                {"mediaType", "\"" MEDIA_TYPE_DOCKER_MANIFEST "\"", -EINVAL, "does not match"},
                {"mediaType", "\"" MEDIA_TYPE_OCI_INDEX "\"", -EINVAL, "does not match"},
                {"mediaType", "5", -EINVAL, "\"mediaType\" is not a string"},
                {"manifests", "[]", -EINVAL, "only an index"},
                {"config", NULL, -EINVAL, "\"config\" is missing"},
                {"config", "null", -EINVAL, "\"config\" is missing"},
                {"config", "[]", -EINVAL, "manifest config is not a JSON object"},
                {"config/mediaType", NULL, -EINVAL, "manifest config: \"mediaType\" is missing"},
                {"config/mediaType", "\"application/vnd.oci.image.layer.v1.tar\"", -EINVAL,
                 "not an image config"},
                {"config/mediaType", "\"application/vnd.cncf.helm.config.v1+json\"", -EINVAL,
                 "not an image config"},
                {"config/digest", NULL, -EINVAL, "\"digest\" is missing"},
                {"config/digest", "\"sha256:abc\"", -EINVAL, "invalid digest"},
                {"config/digest", "\"" SHA256("A") "\"", -EINVAL, "invalid digest"},
                {"config/digest", "\"md5:" R8("ab") R8("cd") "\"", -EINVAL, "invalid digest"},
                {"config/digest", "\"" SHA256("a") "\\u0000\"", -EINVAL, "NUL"},
                {"config/digest", "[]", -EINVAL, "\"digest\" is not a string"},
                {"config/size", NULL, -EINVAL, "\"size\" is missing"},
                {"config/size", "-1", -EINVAL, "out of range"},
                {"config/size", "9223372036854775808", -EINVAL, "out of range"},
                {"config/size", "18446744073709551616", -EINVAL, "out of range"},
                {"config/size", "1.5", -EINVAL, "not an integer"},
                {"config/size", "1e3", -EINVAL, "not an integer"},
                {"config/size", "\"12\"", -EINVAL, "not an integer"},
                {"layers", NULL, -EINVAL, "\"layers\" is missing"},
                {"layers", "{}", -EINVAL, "not an array"},
                {"layers/1", "\"x\"", -EINVAL, "manifest layer 1 is not a JSON object"},
                {"layers/1", "null", -EINVAL, "manifest layer 1 is not a JSON object"},
                {"layers/2/mediaType", "\"application/vnd.oci.image.layer.v1.tar+bzip2\"", -EINVAL,
                 "manifest layer 2: unsupported media type"},
                {"layers/2/mediaType", "\"application/vnd.oci.image.layer.v1.tar+gzip+encrypted\"", -EINVAL,
                 "unsupported media type"},
                {"layers/0/mediaType", "\"" MEDIA_TYPE_OCI_CONFIG "\"", -EINVAL, "unsupported media type"},
                {"layers/0/mediaType", "\"no-slash\"", -EINVAL, "invalid media type"},
                {"layers/0/mediaType", "\"a/b c\"", -EINVAL, "invalid media type"},
                {"layers/0/mediaType", "\"/x\"", -EINVAL, "invalid media type"},
                {"layers/0/mediaType", "\"application/.tar\"", -EINVAL, "invalid media type"},
                {"layers/3/digest", "\"sha256:" R64("g") "\"", -EINVAL, "manifest layer 3: invalid digest"},
                {"layers/3/size", "-5", -EINVAL, "manifest layer 3: \"size\""},
        };
        static const BadDoc docs[] = {
                {"{\"schemaVersion\": 2,", -EINVAL, "not valid JSON"},
                {"{\"schemaVersion\": 2", -EINVAL, "truncated"},
                {"{\"schemaVersion\": 2} {}", -EINVAL, "not valid JSON"},
                {"{\"schemaVersion\": 2,}", -EINVAL, "not valid JSON"},
                {"{\"a\": \"\xff\xfe\"}", -EINVAL, "not valid JSON"},
                {"[{\"schemaVersion\": 2}]", -EINVAL, "not a JSON object"},
                {"\"manifest\"", -EINVAL, "not a JSON object"},
                {NULL, -EINVAL, "empty"},
                {"", -EINVAL, "truncated"},
                {"   ", -EINVAL, "truncated"},
        };
        static const BadCase docker_cases[] = {
                {"mediaType", "\"" MEDIA_TYPE_OCI_MANIFEST "\"", -EINVAL, "does not match"},
                {"layers/0/digest", "\"sha384:" R64("a") "\"", -EINVAL, "invalid digest"},
        };

        check_bad_cases(PARSE_MANIFEST, oci_manifest, MANIFEST_OCI, cases, ELEMENTSOF(cases));
        check_bad_docs(PARSE_MANIFEST, MANIFEST_OCI, docs, ELEMENTSOF(docs));
        check_bad_cases(PARSE_MANIFEST, docker_manifest, MANIFEST_DOCKER_V2, docker_cases,
                        ELEMENTSOF(docker_cases));
}

static void test_manifest_nul_and_depth(void **state) {
        static const char with_nul[] = "{\"schemaVersion\": 2\0, \"config\": {}}";
        _cleanup_error_ Error *e = NULL, *e2 = NULL;
        Manifest *m = SENTINEL;

        check_error(manifest_parse(with_nul, sizeof(with_nul) - 1, MANIFEST_OCI, &m, &e), &e, -EINVAL,
                    "NUL byte", "NUL");
        assert_ptr_equal(m, SENTINEL);

        /* Nesting deeper than any manifest stops the tokenizer instead of recursing on. */
        char deep[4096] = "{\"schemaVersion\":2,\"x\":";
        size_t n = strlen(deep);
        for (size_t i = 0; i < 1000; i++)
                deep[n++] = '[';
        for (size_t i = 0; i < 1000; i++)
                deep[n++] = ']';
        deep[n++] = '}';
        check_error(manifest_parse(deep, n, MANIFEST_OCI, &m, &e2), &e2, -EINVAL, "nesting too deep",
                    "depth");
        assert_ptr_equal(m, SENTINEL);
}

static void test_manifest_schema1_and_wrong_kind(void **state) {
        static const char schema1[] = "{\"schemaVersion\":1,\"name\":\"library/busybox\",\"tag\":\"latest\","
                                      "\"architecture\":\"amd64\",\"fsLayers\":[{\"blobSum\":\"" SHA256(
                                              "a") "\"}],"
                                                   "\"history\":[{\"v1Compatibility\":\"{}\"}]}";
        static const struct {
                const char *body;
                ManifestKind kind;
                int error;
                const char *message;
        } cases[] = {
                {schema1, MANIFEST_DOCKER_SCHEMA1, -EOPNOTSUPP, "schema 1 images are not supported"},
                {"", MANIFEST_DOCKER_SCHEMA1, -EOPNOTSUPP, "schema 1 images are not supported"},
                /* A schema 1 body served under a schema 2 type is still schema 1. */
                {schema1, MANIFEST_DOCKER_V2, -EOPNOTSUPP, "schema 1 images are not supported"},
                {schema1, MANIFEST_OCI, -EOPNOTSUPP, "schema 1 images are not supported"},
                {oci_manifest, MANIFEST_OCI_INDEX, -EINVAL, "not an image manifest"},
                {docker_manifest, MANIFEST_DOCKER_LIST, -EINVAL, "not an image manifest"},
                {oci_manifest, MANIFEST_UNKNOWN, -EINVAL, "not an image manifest"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_error_ Error *e = NULL;
                Manifest *m = SENTINEL;
                int r = manifest_parse(cases[i].body, strlen(cases[i].body), cases[i].kind, &m, &e);
                check_error(r, &e, cases[i].error, cases[i].message, cases[i].body);
                assert_ptr_equal(m, SENTINEL);
        }

        _cleanup_error_ Error *e = NULL;
        ManifestList *l = SENTINEL;
        check_error(manifest_list_parse(schema1, strlen(schema1), MANIFEST_DOCKER_SCHEMA1, &l, &e), &e,
                    -EOPNOTSUPP, "schema 1", "list schema1");
        assert_ptr_equal(l, SENTINEL);
}

/* A manifest with `n` layers, built with json-c. */
static char *manifest_with_layers(size_t n) {
        json_object *root = json_tokener_parse(oci_manifest), *layers = json_object_new_array();
        assert_non_null(root);
        for (size_t i = 0; i < n; i++) {
                json_object *layer = json_object_new_object();
                json_object_object_add(layer, "mediaType", json_object_new_string(OCI_LAYER_GZIP));
                json_object_object_add(layer, "digest", json_object_new_string(SHA256("e")));
                json_object_object_add(layer, "size", json_object_new_int64((int64_t)i));
                json_object_array_add(layers, layer);
        }
        json_object_object_add(root, "layers", layers);
        char *s = xstrdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
        json_object_put(root);
        return s;
}

static void test_manifest_caps(void **state) {
        _cleanup_free_ char *max = manifest_with_layers(MANIFEST_MAX_LAYERS);
        Manifest *m = parse_manifest_ok(max, MANIFEST_OCI);
        assert_int_equal(m->n_layers, MANIFEST_MAX_LAYERS);
        assert_int_equal(m->layers[MANIFEST_MAX_LAYERS - 1].size, MANIFEST_MAX_LAYERS - 1);
        manifest_free(m);

        _cleanup_free_ char *over = manifest_with_layers(MANIFEST_MAX_LAYERS + 1);
        _cleanup_error_ Error *e = NULL;
        m = SENTINEL;
        check_error(manifest_parse(over, strlen(over), MANIFEST_OCI, &m, &e), &e, -EINVAL, "1025 layers",
                    "too many layers");
        assert_ptr_equal(m, SENTINEL);

        /* The byte cap: a document padded to exactly the limit passes, one byte more does not. */
        size_t len = MANIFEST_MAX_SIZE + 1;
        _cleanup_free_ char *big = xmalloc(len);
        memset(big, '\n', len);
        memcpy(big, oci_manifest, strlen(oci_manifest));
        m = NULL;
        _cleanup_error_ Error *e2 = NULL, *e3 = NULL;
        assert_int_equal(manifest_parse(big, len - 1, MANIFEST_OCI, &m, &e2), 0);
        manifest_free(m);
        m = SENTINEL;
        check_error(manifest_parse(big, len, MANIFEST_OCI, &m, &e3), &e3, -EINVAL, "over the limit",
                    "size cap");
        assert_ptr_equal(m, SENTINEL);
}

/* ---- lists ---- */

static void check_entry(const Descriptor *d, const char *digest, const char *os, const char *arch,
                        const char *variant) {
        assert_string_equal(d->digest, digest);
        assert_true(streq_ptr(d->os, os));
        assert_true(streq_ptr(d->architecture, arch));
        assert_true(streq_ptr(d->variant, variant));
}

static void test_docker_list(void **state) {
        ManifestList *l = parse_list_ok(docker_list, MANIFEST_DOCKER_LIST);
        assert_int_equal(l->kind, MANIFEST_DOCKER_LIST);
        assert_int_equal(l->n_manifests, 3);
        assert_string_equal(l->manifests[0].media_type, MEDIA_TYPE_DOCKER_MANIFEST);
        assert_int_equal(l->manifests[0].size, 528);
        check_entry(&l->manifests[0], SHA256("a"), "linux", "amd64", NULL);
        check_entry(&l->manifests[1], SHA256("b"), "linux", "arm", "v7");
        check_entry(&l->manifests[2], SHA256("c"), "linux", "arm64", "v8");
        manifest_list_free(l);
}

static void test_oci_index(void **state) {
        ManifestList *l = parse_list_ok(oci_index, MANIFEST_OCI_INDEX);
        assert_int_equal(l->kind, MANIFEST_OCI_INDEX);
        assert_int_equal(l->n_manifests, 3);
        check_entry(&l->manifests[0], SHA256("1"), "linux", "ppc64le", NULL);
        check_entry(&l->manifests[1], SHA256("2"), NULL, NULL, NULL);
        check_entry(&l->manifests[2], SHA256("3"), "unknown", "unknown", NULL);
        assert_int_equal(l->manifests[2].size, 300);
        manifest_list_free(l);

        static const struct {
                const char *path, *value;
        } accepted[] = {
                {"mediaType", NULL},
                {"manifests", "[]"},
                {"manifests/0/platform", "null"},
                {"manifests/0/platform/variant", "null"},
                {"manifests/0/mediaType", "\"" MEDIA_TYPE_OCI_INDEX "\""},
                {"manifests/0/mediaType", "\"application/vnd.in-toto+json\""},
        };
        for (size_t i = 0; i < ELEMENTSOF(accepted); i++) {
                _cleanup_free_ char *doc = mutate(oci_index, accepted[i].path, accepted[i].value);
                manifest_list_free(parse_list_ok(doc, MANIFEST_OCI_INDEX));
        }
}

static void test_list_invalid(void **state) {
        static const BadCase cases[] = {
                {"schemaVersion", "1", -EOPNOTSUPP, "schema 1"},
                {"schemaVersion", NULL, -EINVAL, "schemaVersion"},
                {"mediaType", "\"" MEDIA_TYPE_OCI_MANIFEST "\"", -EINVAL, "does not match"},
                {"config", "{}", -EINVAL, "only a manifest"},
                {"layers", "[]", -EINVAL, "only a manifest"},
                {"manifests", NULL, -EINVAL, "\"manifests\" is missing"},
                {"manifests", "{}", -EINVAL, "not an array"},
                {"manifests/1", "7", -EINVAL, "manifest list entry 1 is not a JSON object"},
                {"manifests/1/digest", "\"sha256:\"", -EINVAL, "manifest list entry 1: invalid digest"},
                {"manifests/1/size", "-1", -EINVAL, "entry 1: \"size\""},
                {"manifests/1/mediaType", NULL, -EINVAL, "\"mediaType\" is missing"},
                {"manifests/0/platform", "[]", -EINVAL, "\"platform\" is not an object"},
                {"manifests/0/platform", "\"linux/amd64\"", -EINVAL, "\"platform\" is not an object"},
                {"manifests/0/platform/os", NULL, -EINVAL, "entry 0 platform: \"os\" is missing"},
                {"manifests/0/platform/architecture", "null", -EINVAL, "\"architecture\" is missing"},
                {"manifests/0/platform/architecture", "64", -EINVAL, "\"architecture\" is not a string"},
                {"manifests/0/platform/variant", "[\"v7\"]", -EINVAL, "\"variant\" is not a string"},
        };
        static const BadDoc docs[] = {
                {"{\"schemaVersion\":2,\"manifests\":[}", -EINVAL, "not valid JSON"},
                {"{\"schemaVersion\":2,\"manifests\":[]}\n\n]", -EINVAL, "not valid JSON"},
                {"[]", -EINVAL, "not a JSON object"},
        };
        check_bad_cases(PARSE_LIST, oci_index, MANIFEST_OCI_INDEX, cases, ELEMENTSOF(cases));
        check_bad_docs(PARSE_LIST, MANIFEST_OCI_INDEX, docs, ELEMENTSOF(docs));

        static const BadCase docker_cases[] = {
                {"mediaType", "\"" MEDIA_TYPE_OCI_INDEX "\"", -EINVAL, "does not match"},
                {"manifests/2/digest", "\"" SHA256("a") "x\"", -EINVAL, "entry 2: invalid digest"},
        };
        check_bad_cases(PARSE_LIST, docker_list, MANIFEST_DOCKER_LIST, docker_cases,
                        ELEMENTSOF(docker_cases));

        static const ManifestKind wrong[] = {MANIFEST_OCI, MANIFEST_DOCKER_V2, MANIFEST_UNKNOWN};
        for (size_t i = 0; i < ELEMENTSOF(wrong); i++) {
                _cleanup_error_ Error *e = NULL;
                ManifestList *l = SENTINEL;
                check_error(manifest_list_parse(oci_index, strlen(oci_index), wrong[i], &l, &e), &e, -EINVAL,
                            "not a manifest list", "wrong kind");
                assert_ptr_equal(l, SENTINEL);
        }
}

static char *list_with_entries(size_t n) {
        json_object *root = json_tokener_parse(oci_index), *entries = json_object_new_array();
        assert_non_null(root);
        for (size_t i = 0; i < n; i++) {
                json_object *entry = json_object_new_object(), *platform = json_object_new_object();
                json_object_object_add(entry, "mediaType", json_object_new_string(MEDIA_TYPE_OCI_MANIFEST));
                json_object_object_add(entry, "digest", json_object_new_string(SHA256("9")));
                json_object_object_add(entry, "size", json_object_new_int64(1));
                json_object_object_add(platform, "os", json_object_new_string("linux"));
                json_object_object_add(platform, "architecture", json_object_new_string("s390x"));
                json_object_object_add(entry, "platform", platform);
                json_object_array_add(entries, entry);
        }
        json_object_object_add(root, "manifests", entries);
        char *s = xstrdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
        json_object_put(root);
        return s;
}

static void test_list_caps(void **state) {
        _cleanup_free_ char *max = list_with_entries(MANIFEST_MAX_LAYERS);
        ManifestList *l = parse_list_ok(max, MANIFEST_OCI_INDEX);
        assert_int_equal(l->n_manifests, MANIFEST_MAX_LAYERS);

        /* The "no platform" message names a bounded number of platforms. */
        _cleanup_error_ Error *e = NULL;
        const Descriptor *d = SENTINEL;
        check_error(manifest_list_select(l, "linux", "amd64", NULL, &d, &e), &e, -ENOENT, "linux/s390x, ...",
                    "listing");
        assert_ptr_equal(d, SENTINEL);
        assert_true(strlen(e->message) < 512);
        manifest_list_free(l);

        _cleanup_free_ char *over = list_with_entries(MANIFEST_MAX_LAYERS + 1);
        _cleanup_error_ Error *e2 = NULL;
        l = SENTINEL;
        check_error(manifest_list_parse(over, strlen(over), MANIFEST_OCI_INDEX, &l, &e2), &e2, -EINVAL,
                    "1025 entries", "too many entries");
        assert_ptr_equal(l, SENTINEL);
}

/* ---- platform selection ---- */

typedef struct Entry {
        const char *media_type, *os, *arch, *variant;
} Entry;

static ManifestList *build_list(const Entry *entries, size_t n) {
        json_object *root = json_object_new_object(), *list = json_object_new_array();
        json_object_object_add(root, "schemaVersion", json_object_new_int(2));
        for (size_t i = 0; i < n; i++) {
                json_object *entry = json_object_new_object();
                char digest[80];
                snprintf(digest, sizeof(digest), "sha256:%064zx", i);
                json_object_object_add(entry, "mediaType",
                                       json_object_new_string(entries[i].media_type
                                                                      ? entries[i].media_type
                                                                      : MEDIA_TYPE_OCI_MANIFEST));
                json_object_object_add(entry, "digest", json_object_new_string(digest));
                json_object_object_add(entry, "size", json_object_new_int64((int64_t)i));
                if (entries[i].os) {
                        json_object *p = json_object_new_object();
                        json_object_object_add(p, "os", json_object_new_string(entries[i].os));
                        json_object_object_add(p, "architecture", json_object_new_string(entries[i].arch));
                        if (entries[i].variant)
                                json_object_object_add(p, "variant",
                                                       json_object_new_string(entries[i].variant));
                        json_object_object_add(entry, "platform", p);
                }
                json_object_array_add(list, entry);
        }
        json_object_object_add(root, "manifests", list);
        ManifestList *l = parse_list_ok(json_object_to_json_string(root), MANIFEST_OCI_INDEX);
        json_object_put(root);
        return l;
}

typedef struct Want {
        const char *os, *arch, *variant;
        int index; /* expected entry, -1 for ENOENT */
} Want;

static void check_selection(const ManifestList *l, const Want *wants, size_t n) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_error_ Error *e = NULL;
                const Descriptor *d = SENTINEL;
                int r = manifest_list_select(l, wants[i].os, wants[i].arch, wants[i].variant, &d, &e);
                int got = r < 0 ? -1 : (int)(d - l->manifests);
                if (got != wants[i].index) {
                        print_message("%s/%s/%s: got entry %d (%s), expected %d\n", wants[i].os,
                                      wants[i].arch, strempty(wants[i].variant), got, e ? e->message : "",
                                      wants[i].index);
                        fail();
                }
                if (r < 0) {
                        assert_int_equal(r, -ENOENT);
                        assert_ptr_equal(d, SENTINEL);
                        assert_non_null(strstr(e->message, wants[i].arch));
                } else
                        assert_null(e);
        }
}

static void test_select_matrix(void **state) {
        static const Entry entries[] = {
                {NULL, "linux", "amd64", NULL},   {NULL, "linux", "arm", "v6"},
                {NULL, "linux", "arm", "v7"},     {NULL, "linux", "arm64", "v8"},
                {NULL, "windows", "amd64", NULL}, {NULL, "linux", "386", NULL},
                {NULL, "linux", "ppc64le", NULL}, {NULL, "unknown", "unknown", NULL},
                {NULL, "linux", "amd64", NULL},
        };
        static const Want wants[] = {
                {"linux", "amd64", NULL, 0},    {"linux", "amd64", "", 0},
                {"linux", "x86_64", NULL, 0},   {"linux", "x86-64", NULL, 0},
                {"Linux", "AMD64", NULL, 0},    {"linux", "amd64", "v1", 0},
                {"linux", "amd64", "v3", -1},   {"linux", "aarch64", NULL, 3},
                {"linux", "arm64", NULL, 3},    {"linux", "arm64", "v8", 3},
                {"linux", "arm64", "8", 3},     {"linux", "arm64", "v8.0", 3},
                {"linux", "arm64", "v9", -1},   {"linux", "arm", "v7", 2},
                {"linux", "arm", "7", 2},       {"linux", "armhf", NULL, 2},
                {"linux", "arm", NULL, 2},      {"linux", "arm", "v6", 1},
                {"linux", "armel", NULL, 1},    {"linux", "arm", "6", 1},
                {"linux", "arm", "v5", -1},     {"windows", "amd64", NULL, 4},
                {"windows", "x86_64", NULL, 4}, {"linux", "i386", NULL, 5},
                {"linux", "386", NULL, 5},      {"linux", "ppc64le", NULL, 6},
                {"linux", "riscv64", NULL, -1}, {"darwin", "amd64", NULL, -1},
                {"linux", "s390x", NULL, -1},
        };
        ManifestList *l = build_list(entries, ELEMENTSOF(entries));
        check_selection(l, wants, ELEMENTSOF(wants));
        manifest_list_free(l);
}

static void test_select_entries_without_variant(void **state) {
        static const Entry entries[] = {
                {NULL, "linux", "arm", NULL},
                {NULL, "linux", "arm64", NULL},
                {NULL, "linux", "amd64", "v3"},
                {NULL, "macos", "arm64", NULL},
        };
        static const Want wants[] = {
                {"linux", "arm", NULL, 0},      {"linux", "arm", "v7", 0},   {"linux", "arm", "v6", -1},
                {"linux", "arm64", NULL, 1},    {"linux", "arm64", "v8", 1}, {"linux", "aarch64", "8", 1},
                {"linux", "amd64", NULL, -1},   {"linux", "amd64", "v3", 2}, {"darwin", "arm64", NULL, 3},
                {"linux", "arm64", "v9.0", -1},
        };
        ManifestList *l = build_list(entries, ELEMENTSOF(entries));
        check_selection(l, wants, ELEMENTSOF(wants));
        manifest_list_free(l);
}

static void test_select_skips_non_images(void **state) {
        static const Entry entries[] = {
                {MEDIA_TYPE_OCI_INDEX, "linux", "amd64", NULL},
                {"application/vnd.in-toto+json", "linux", "amd64", NULL},
                {NULL, NULL, NULL, NULL}, /* no platform */
                {MEDIA_TYPE_DOCKER_MANIFEST, "linux", "amd64", NULL},
                {MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED, "linux", "arm64", NULL},
        };
        static const Want wants[] = {
                {"linux", "amd64", NULL, 3},
                {"linux", "arm64", NULL, 4},
                {"linux", "s390x", NULL, -1},
        };
        ManifestList *l = build_list(entries, ELEMENTSOF(entries));
        check_selection(l, wants, ELEMENTSOF(wants));

        _cleanup_error_ Error *e = NULL;
        const Descriptor *d = SENTINEL;
        check_error(manifest_list_select(l, "linux", "s390x", "v2", &d, &e), &e, -ENOENT,
                    "no image for linux/s390x/v2 in the manifest list, which has linux/amd64, linux/arm64",
                    "message");
        assert_ptr_equal(d, SENTINEL);
        manifest_list_free(l);
}

static void test_select_errors(void **state) {
        static const Entry entries[] = {{NULL, "linux", "arm", "v7"}, {NULL, "linux", "arm64", "v8"}};
        ManifestList *l = build_list(entries, ELEMENTSOF(entries));
        _cleanup_error_ Error *e = NULL, *e2 = NULL, *e3 = NULL;
        const Descriptor *d = SENTINEL;

        check_error(manifest_list_select(l, "linux", "amd64", NULL, &d, &e), &e, -ENOENT,
                    "no image for linux/amd64 in the manifest list, which has linux/arm/v7, linux/arm64/v8",
                    "listing");
        check_error(manifest_list_select(l, NULL, "amd64", NULL, &d, &e2), &e2, -EINVAL, "needs an os",
                    "no os");
        assert_ptr_equal(d, SENTINEL);
        manifest_list_free(l);

        l = build_list(NULL, 0);
        check_error(manifest_list_select(l, "linux", "amd64", NULL, &d, &e3), &e3, -ENOENT, "has no images",
                    "empty");
        assert_ptr_equal(d, SENTINEL);
        manifest_list_free(l);
}

/* ---- layers ---- */

static void test_layer_compression(void **state) {
        static const struct {
                const char *media_type;
                int compression;
        } cases[] = {
                {"application/vnd.docker.image.rootfs.diff.tar.gzip", COMPRESSION_GZIP},
                {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", COMPRESSION_GZIP},
                {"application/vnd.docker.image.rootfs.diff.tar", COMPRESSION_NONE},
                {"application/vnd.docker.image.rootfs.diff.tar.zstd", COMPRESSION_ZSTD},
                {"application/vnd.oci.image.layer.v1.tar", COMPRESSION_NONE},
                {"application/vnd.oci.image.layer.v1.tar+gzip", COMPRESSION_GZIP},
                {"application/vnd.oci.image.layer.v1.tar+zstd", COMPRESSION_ZSTD},
                {"application/vnd.oci.image.layer.nondistributable.v1.tar", COMPRESSION_NONE},
                {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", COMPRESSION_GZIP},
                {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", COMPRESSION_ZSTD},
                {"application/vnd.oci.image.layer.v1.tar+gzip+encrypted", -EINVAL},
                {"application/vnd.oci.image.layer.v1.tar+bzip2", -EINVAL},
                {"application/vnd.oci.image.layer.v1.tar+GZIP", -EINVAL},
                {"application/vnd.oci.image.config.v1+json", -EINVAL},
                {"application/vnd.docker.image.rootfs.diff.tar.gzip ", -EINVAL},
                {"", -EINVAL},
                {NULL, -EINVAL},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                if (layer_compression_from_media_type(cases[i].media_type) != cases[i].compression) {
                        print_message("case %zu '%s'\n", i, strempty(cases[i].media_type));
                        fail();
                }
}

/* ---- image configs ---- */

static const char docker_config[] =
        "{\"architecture\":\"arm\",\"variant\":\"v7\",\"os\":\"linux\","
        "\"created\":\"2024-05-01T12:34:56.123456789Z\",\"author\":\"someone\","
        "\"config\":{\"User\":\"1000:1000\",\"Env\":[\"PATH=/usr/bin:/bin\",\"A=b=c\"],"
        "\"Entrypoint\":[\"/bin/sh\",\"-c\"],\"Cmd\":[\"echo hi\"],\"WorkingDir\":\"/srv\","
        "\"StopSignal\":\"SIGQUIT\",\"Labels\":{\"org.example.a\":\"1\",\"b\":\"\",\"c\":null},"
        "\"Volumes\":{\"/data\":{},\"/cache\":{}},\"ExposedPorts\":{\"80/tcp\":{},\"53/udp\":{}},"
        "\"Healthcheck\":{\"Test\":[\"CMD\",\"true\"]},\"OnBuild\":null},"
        "\"container_config\":{\"Cmd\":[\"ignored\"]},"
        "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" SHA256("a") "\",\"" SHA512(
                "b") "\"]},"
                     "\"history\":[{\"created\":\"2024-05-01T12:34:56Z\",\"created_by\":\"ADD x /\"},"
                     "{\"empty_layer\":true}]}";

static ImageConfig *parse_config_ok_len(const char *doc, size_t len) {
        ImageConfig *c = NULL;
        _cleanup_error_ Error *e = NULL;
        if (image_config_parse(doc, len, &c, &e) < 0) {
                print_message("unexpected error: %s\n%.*s\n", e->message, (int)len, doc);
                fail();
        }
        assert_null(e);
        assert_non_null(c);
        return c;
}

static ImageConfig *parse_config_ok(const char *doc) {
        return parse_config_ok_len(doc, strlen(doc));
}

static void check_strv(char **l, const char *const *expected) {
        assert_non_null(l);
        size_t n = 0;
        for (; expected[n]; n++) {
                assert_non_null(l[n]);
                assert_string_equal(l[n], expected[n]);
        }
        assert_null(l[n]);
}

static void test_config_full(void **state) {
        ImageConfig *c = parse_config_ok(docker_config);
        assert_string_equal(c->architecture, "arm");
        assert_string_equal(c->variant, "v7");
        assert_string_equal(c->os, "linux");
        assert_string_equal(c->created, "2024-05-01T12:34:56.123456789Z");
        assert_string_equal(c->user, "1000:1000");
        check_strv(c->env, (const char *const[]){"PATH=/usr/bin:/bin", "A=b=c", NULL});
        check_strv(c->entrypoint, (const char *const[]){"/bin/sh", "-c", NULL});
        check_strv(c->cmd, (const char *const[]){"echo hi", NULL});
        assert_string_equal(c->working_dir, "/srv");
        assert_string_equal(c->stop_signal, "SIGQUIT");
        check_strv(c->label_keys, (const char *const[]){"org.example.a", "b", "c", NULL});
        check_strv(c->label_values, (const char *const[]){"1", "", "", NULL});
        check_strv(c->volumes, (const char *const[]){"/data", "/cache", NULL});
        check_strv(c->exposed_ports, (const char *const[]){"80/tcp", "53/udp", NULL});
        check_strv(c->diff_ids, (const char *const[]){SHA256("a"), SHA512("b"), NULL});
        image_config_free(c);
}

static void test_config_minimal(void **state) {
        static const char *const docs[] = {
                "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":["
                "]}}",
                "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"config\":null}",
                "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"config\":{}}",
                "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"config\":{\"Env\":null,\"Cmd\":null,"
                "\"Entrypoint\":null,\"Labels\":null,\"Volumes\":null,\"ExposedPorts\":null,\"User\":null}}",
        };
        static const char *const empty[] = {NULL};

        for (size_t i = 0; i < ELEMENTSOF(docs); i++) {
                ImageConfig *c = parse_config_ok(docs[i]);
                assert_null(c->created);
                assert_null(c->user);
                assert_null(c->working_dir);
                assert_null(c->stop_signal);
                check_strv(c->env, empty);
                check_strv(c->entrypoint, empty);
                check_strv(c->cmd, empty);
                check_strv(c->label_keys, empty);
                check_strv(c->label_values, empty);
                check_strv(c->volumes, empty);
                check_strv(c->exposed_ports, empty);
                check_strv(c->diff_ids, empty);
                image_config_free(c);
        }
}

static void test_config_created_forms(void **state) {
        static const char *const good[] = {
                "\"2024-01-02T03:04:05Z\"",        "\"2024-01-02t03:04:05z\"",
                "\"2024-01-02T03:04:05.5+01:00\"", "\"0001-01-01T00:00:00Z\"",
                "\"2024-01-02T03:04:05-07:30\"",
        };
        static const char *const bad[] = {
                "\"2024-01-02 03:04:05Z\"",
                "\"2024-01-02T03:04:05\"",
                "\"2024-01-02T03:04:05.Z\"",
                "\"2024-01-02T03:04:05Zx\"",
                "\"2024-01-02T03:04:05+0100\"",
                "\"24-01-02T03:04:05Z\"",
                "\"\"",
                "\"2024-01-02\"",
                "\"2024-01-02T03:04:05+01:00x\"",
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_free_ char *doc = mutate(docker_config, "created", good[i]);
                image_config_free(parse_config_ok(doc));
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *doc = mutate(docker_config, "created", bad[i]);
                _cleanup_error_ Error *e = NULL;
                ImageConfig *c = SENTINEL;
                check_error(image_config_parse(doc, strlen(doc), &c, &e), &e, -EINVAL, "RFC 3339", bad[i]);
                assert_ptr_equal(c, SENTINEL);
        }
}

static void test_config_invalid(void **state) {
        static const BadCase cases[] = {
                {"rootfs", NULL, -EINVAL, "\"rootfs\" is missing"},
                {"rootfs", "[]", -EINVAL, "\"rootfs\" is not an object"},
                {"rootfs/type", "\"layer\"", -EINVAL, "type \"layer\" is not \"layers\""},
                {"rootfs/type", NULL, -EINVAL, "\"type\" is missing"},
                {"rootfs/type", "1", -EINVAL, "\"type\" is not a string"},
                {"rootfs/diff_ids", NULL, -EINVAL, "\"diff_ids\" is missing"},
                {"rootfs/diff_ids", "{}", -EINVAL, "\"diff_ids\" is not an array"},
                {"rootfs/diff_ids/1", "\"sha256:xyz\"", -EINVAL,
                 "diff_ids[1] \"sha256:xyz\" is not a valid digest"},
                {"rootfs/diff_ids/0", "3", -EINVAL, "\"diff_ids\"[0] is not a string"},
                {"rootfs/diff_ids/0", "null", -EINVAL, "\"diff_ids\"[0] is not a string"},
                {"architecture", "64", -EINVAL, "\"architecture\" is not a string"},
                {"os", "{}", -EINVAL, "\"os\" is not a string"},
                {"created", "0", -EINVAL, "\"created\" is not a string"},
                {"config", "[]", -EINVAL, "\"config\" is not an object"},
                {"config/User", "0", -EINVAL, "\"User\" is not a string"},
                {"config/Env", "\"A=b\"", -EINVAL, "\"Env\" is not an array"},
                {"config/Env/1", "1", -EINVAL, "\"Env\"[1] is not a string"},
                {"config/Env/0", "\"A=\\u0000b\"", -EINVAL, "\"Env\"[0] is not a string"},
                {"config/Entrypoint", "\"/bin/sh\"", -EINVAL, "\"Entrypoint\" is not an array"},
                {"config/Cmd/0", "[]", -EINVAL, "\"Cmd\"[0]"},
                {"config/WorkingDir", "[]", -EINVAL, "\"WorkingDir\""},
                {"config/StopSignal", "9", -EINVAL, "\"StopSignal\""},
                {"config/Labels", "[]", -EINVAL, "\"Labels\" is not an object"},
                {"config/Labels/b", "1", -EINVAL, "label \"b\" is not a string"},
                {"config/Volumes", "[\"/data\"]", -EINVAL, "\"Volumes\" is not an object"},
                {"config/ExposedPorts", "\"80/tcp\"", -EINVAL, "\"ExposedPorts\" is not an object"},
        };
        static const BadDoc docs[] = {
                {"{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}", -EINVAL, "not valid JSON"},
                {"null", -EINVAL, "not a JSON object"},
                {"{\"rootfs\":{\"type\":\"layers\"}} ,", -EINVAL, "not valid JSON"},
                {NULL, -EINVAL, "empty"},
        };

        check_bad_cases(PARSE_CONFIG, docker_config, MANIFEST_UNKNOWN, cases, ELEMENTSOF(cases));
        check_bad_docs(PARSE_CONFIG, MANIFEST_UNKNOWN, docs, ELEMENTSOF(docs));
}

static void test_config_caps(void **state) {
        json_object *root = json_tokener_parse(docker_config), *ids = json_object_new_array();
        assert_non_null(root);
        for (size_t i = 0; i <= MANIFEST_MAX_LAYERS; i++)
                json_object_array_add(ids, json_object_new_string(SHA256("c")));
        json_object_object_add(json_object_object_get(root, "rootfs"), "diff_ids", ids);
        _cleanup_free_ char *over = xstrdup(json_object_to_json_string(root));
        json_object_array_del_idx(ids, 0, 1);
        _cleanup_free_ char *max = xstrdup(json_object_to_json_string(root));
        json_object_put(root);

        ImageConfig *c = parse_config_ok(max);
        assert_int_equal(strv_length(c->diff_ids), MANIFEST_MAX_LAYERS);
        image_config_free(c);

        _cleanup_error_ Error *e = NULL, *e2 = NULL;
        c = SENTINEL;
        check_error(image_config_parse(over, strlen(over), &c, &e), &e, -EINVAL, "1025 diff_ids",
                    "diff_ids cap");
        assert_ptr_equal(c, SENTINEL);

        size_t len = IMAGE_CONFIG_MAX_SIZE + 1;
        _cleanup_free_ char *big = xmalloc(len);
        memset(big, ' ', len);
        memcpy(big, docker_config, strlen(docker_config));
        image_config_free(parse_config_ok_len(big, len - 1));
        check_error(image_config_parse(big, len, &c, &e2), &e2, -EINVAL, "over the limit", "size cap");
        assert_ptr_equal(c, SENTINEL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_detect),
                cmocka_unit_test(test_detect_oversized_body),
                cmocka_unit_test(test_docker_manifest),
                cmocka_unit_test(test_oci_manifest),
                cmocka_unit_test(test_manifest_variants_accepted),
                cmocka_unit_test(test_manifest_invalid),
                cmocka_unit_test(test_manifest_nul_and_depth),
                cmocka_unit_test(test_manifest_schema1_and_wrong_kind),
                cmocka_unit_test(test_manifest_caps),
                cmocka_unit_test(test_docker_list),
                cmocka_unit_test(test_oci_index),
                cmocka_unit_test(test_list_invalid),
                cmocka_unit_test(test_list_caps),
                cmocka_unit_test(test_select_matrix),
                cmocka_unit_test(test_select_entries_without_variant),
                cmocka_unit_test(test_select_skips_non_images),
                cmocka_unit_test(test_select_errors),
                cmocka_unit_test(test_layer_compression),
                cmocka_unit_test(test_config_full),
                cmocka_unit_test(test_config_minimal),
                cmocka_unit_test(test_config_created_forms),
                cmocka_unit_test(test_config_invalid),
                cmocka_unit_test(test_config_caps),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
