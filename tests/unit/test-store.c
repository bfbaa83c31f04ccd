/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "digest.h"
#include "fs-util.h"
#include "store.h"
#include "strv.h"

/* ---- helpers ---- */

/* `call` (passing `&_e` as its Error **) must succeed; a failure names the error message. */
#define assert_ok(call)                                                                                     \
        do {                                                                                                \
                Error *_e = NULL;                                                                           \
                int _r = (call);                                                                            \
                if (_r < 0)                                                                                 \
                        print_error("%s: unexpected error %d: %s\n", #call, _r,                             \
                                    _e ? _e->message : "(no message)");                                     \
                error_free(_e);                                                                             \
                assert_int_equal(_r, 0);                                                                    \
        } while (0)

/* `call` (passing `&_e`) must fail with -errnum and leave a message for the client. */
#define assert_fails(call, errnum)                                                                          \
        do {                                                                                                \
                Error *_e = NULL;                                                                           \
                int _r = (call);                                                                            \
                if (_r != -(errnum))                                                                        \
                        print_error("%s: returned %d (%s), expected %d\n", #call, _r,                       \
                                    _e ? _e->message : "no message", -(errnum));                            \
                assert_int_equal(_r, -(errnum));                                                            \
                assert_non_null(_e);                                                                        \
                assert_int_equal(_e->code, (errnum));                                                       \
                assert_non_null(_e->message);                                                               \
                error_free(_e);                                                                             \
        } while (0)

#define STRV(...) ((const char *const[]){__VA_ARGS__, NULL})
#define STRV_EMPTY ((const char *const[]){NULL})

/* Entries a staged layer holds on disk: its directory, "marker", "etc" and "etc/os-release". */
#define STAGED_INODES 4

typedef struct Fixture {
        char *dir;  /* the mkdtemp directory, removed in teardown */
        char *root; /* <dir>/store: store_open has to create it */
        Store *store;
} Fixture;

/* A layer as a pull would describe it. Chain IDs are crafted: the first 20 hex digits name the dir. */
typedef struct TestLayer {
        char chain_id[80];
        char diff_id[80];
        char blob_digest[80];
        int64_t size;
        char marker[64]; /* content of the "marker" file of the last staging copy */
        char *staging;   /* the last staging dir made for this layer (owned) */
} TestLayer;

#define MAX_LAYERS 4

/* An image as a pull would commit it; the id is crafted so that prefixes can collide on purpose. */
typedef struct TestImage {
        char id[65];
        char config_digest[80];
        char manifest_digest[80];
        char config_json[160];
        char manifest_json[160];
        char repo_tag[80];
        char repo_digest[160];
        const char *layers[MAX_LAYERS];
        size_t n_layers;
        StagedLayer staged[MAX_LAYERS];
        size_t n_staged;
} TestImage;

/* `prefix` followed by `fill` up to 64 hex digits. */
static void fill_hex(char *buf, const char *prefix, char fill) {
        size_t n = strlen(prefix);
        assert_true(n <= 64);
        memcpy(buf, prefix, n);
        memset(buf + n, fill, 64 - n);
        buf[64] = '\0';
}

static void fill_digest(char *buf, const char *prefix, char fill) {
        memcpy(buf, "sha256:", 7);
        fill_hex(buf + 7, prefix, fill);
}

static void layer_init(TestLayer *l, const char *prefix, char fill, int64_t size) {
        *l = (TestLayer){.size = size};
        fill_digest(l->chain_id, prefix, fill);
        fill_digest(l->diff_id, "d", fill);
        memcpy(l->diff_id + 8, l->chain_id + 7, 63); /* keeps the diff ID unique per layer */
        l->diff_id[71] = '\0';
        fill_digest(l->blob_digest, "b", fill);
        memcpy(l->blob_digest + 8, l->chain_id + 7, 63);
        l->blob_digest[71] = '\0';
}

static void layer_done(TestLayer *l) {
        l->staging = mfree(l->staging);
}

static char *path_join(const char *a, const char *b) {
        return xasprintf("%s/%s", a, b);
}

static void write_text(const char *path, const char *text) {
        int r = write_file_atomic(path, text, strlen(text), 0644);
        if (r < 0)
                print_error("write '%s': %s\n", path, strerror(-r));
        assert_int_equal(r, 0);
}

static char *read_text(const char *path) {
        char *text = NULL;
        int r = read_file(path, 1 << 20, &text, NULL);
        return r < 0 ? NULL : text;
}

static bool path_exists(const char *path) {
        struct stat st;
        return lstat(path, &st) == 0;
}

static bool is_dir(const char *path) {
        struct stat st;
        return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Entries in a directory other than "." and "..", or -1 when it cannot be opened. */
static int count_entries(const char *path) {
        DIR *d = opendir(path);
        if (!d)
                return -1;
        int n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        n++;
        closedir(d);
        return n;
}

static int count_sub(const Fixture *fx, const char *sub) {
        _cleanup_free_ char *p = path_join(fx->root, sub);
        return count_entries(p);
}

/* Unpack a fake layer into a fresh staging dir: "marker" (names this copy) and "etc/os-release". */
static void stage_layer(Fixture *fx, TestLayer *l, const char *marker) {
        char *dir = NULL;
        assert_ok(store_staging_dir(fx->store, &dir, &_e));
        _cleanup_free_ char *m = path_join(dir, "marker");
        _cleanup_free_ char *etc = path_join(dir, "etc");
        _cleanup_free_ char *osr = path_join(dir, "etc/os-release");
        write_text(m, marker);
        assert_int_equal(mkdir(etc, 0755), 0);
        write_text(osr, "ID=test\n");
        free(l->staging);
        l->staging = dir;
        snprintf(l->marker, sizeof(l->marker), "%s", marker);
}

/* Fill an image; `repo` names it ("quay.io/test/<repo>"), `tag` may be NULL (pull by digest). */
static void image_init(TestImage *img, const char *id_prefix, char fill, const char *repo, const char *tag) {
        *img = (TestImage){0};
        fill_hex(img->id, id_prefix, fill);
        snprintf(img->config_digest, sizeof(img->config_digest), "sha256:%s", img->id);
        snprintf(img->config_json, sizeof(img->config_json),
                 "{\"config\":{\"User\":\"1000\"},\"id\":\"%s\"}", img->id);
        snprintf(img->manifest_json, sizeof(img->manifest_json), "{\"schemaVersion\":2,\"config\":\"%s\"}",
                 img->config_digest);
        _cleanup_free_ char *md =
                digest_buffer(DIGEST_SHA256, img->manifest_json, strlen(img->manifest_json));
        snprintf(img->manifest_digest, sizeof(img->manifest_digest), "%s", md);
        if (tag)
                snprintf(img->repo_tag, sizeof(img->repo_tag), "quay.io/test/%s:%s", repo, tag);
        snprintf(img->repo_digest, sizeof(img->repo_digest), "quay.io/test/%s@%s", repo,
                 img->manifest_digest);
}

/* Append a layer (on top of the previous one); `staged` layers are committed from their staging dir. */
static void image_add_layer(TestImage *img, const TestLayer *l, bool staged) {
        assert_true(img->n_layers < MAX_LAYERS);
        const char *parent = img->n_layers > 0 ? img->layers[img->n_layers - 1] : NULL;
        img->layers[img->n_layers++] = l->chain_id;
        if (!staged)
                return;
        img->staged[img->n_staged++] = (StagedLayer){
                .chain_id = l->chain_id,
                .diff_id = l->diff_id,
                .blob_digest = l->blob_digest,
                .parent_chain_id = parent,
                .size = l->size,
                .staging_dir = l->staging,
        };
}

static ImageCommit commit_of(const TestImage *img) {
        return (ImageCommit){
                .id = img->id,
                .config_digest = img->config_digest,
                .manifest_digest = img->manifest_digest,
                .config_json = img->config_json,
                .config_len = strlen(img->config_json),
                .manifest_json = img->manifest_json,
                .manifest_len = strlen(img->manifest_json),
                .user = "1000",
                .layers = img->layers,
                .n_layers = img->n_layers,
                .staged = img->staged,
                .n_staged = img->n_staged,
                .repo_tag = img->repo_tag[0] ? img->repo_tag : NULL,
                .repo_digest = img->repo_digest,
        };
}

static int commit(Fixture *fx, const TestImage *img, Error **reterr) {
        ImageCommit c = commit_of(img);
        return store_image_commit(fx->store, &c, reterr);
}

static void assert_strv(char *const *l, const char *const *expected) {
        size_t n = 0;
        while (expected[n])
                n++;
        if (strv_length(l) != n)
                print_error("strv has %zu items, expected %zu\n", strv_length(l), n);
        assert_int_equal(strv_length(l), n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(l[i], expected[i]);
}

/* `key` must name the image with `id`. */
static void assert_lookup(Fixture *fx, const char *key, const char *id) {
        _cleanup_store_image_ StoreImage *img = NULL;
        Error *e = NULL;
        int r = store_image_lookup(fx->store, key, &img, &e);
        if (r < 0)
                print_error("lookup '%s': %s\n", key, e ? e->message : "(no message)");
        error_free(e);
        assert_int_equal(r, 0);
        assert_string_equal(img->id, id);
}

static void assert_lookup_missing(Fixture *fx, const char *key) {
        StoreImage *img = NULL;
        assert_fails(store_image_lookup(fx->store, key, &img, &_e), ENOENT);
        assert_null(img);
}

static StoreImage *lookup(Fixture *fx, const char *key) {
        StoreImage *img = NULL;
        assert_ok(store_image_lookup(fx->store, key, &img, &_e));
        return img;
}

static void assert_image_count(Fixture *fx, size_t expected) {
        StoreImage **l = NULL;
        size_t n = 0;
        assert_ok(store_image_list(fx->store, &l, &n, &_e));
        store_images_free(l, n);
        assert_int_equal(n, expected);
}

static void assert_usage(Fixture *fx, int64_t bytes, int64_t inodes) {
        int64_t b = -1, i = -1;
        assert_ok(store_usage(fx->store, &b, &i, &_e));
        assert_int_equal(b, bytes);
        assert_int_equal(i, inodes);
}

/* The blob must hold `content`, or be absent when `content` is NULL. */
static void assert_blob(Fixture *fx, const char *digest, const char *content) {
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        if (!content) {
                assert_fails(store_blob_read(fx->store, digest, &data, &len, &_e), ENOENT);
                return;
        }
        assert_ok(store_blob_read(fx->store, digest, &data, &len, &_e));
        assert_int_equal(len, strlen(content));
        assert_memory_equal(data, content, len);
}

static void assert_image_blobs(Fixture *fx, const TestImage *img, bool present) {
        assert_blob(fx, img->config_digest, present ? img->config_json : NULL);
        assert_blob(fx, img->manifest_digest, present ? img->manifest_json : NULL);
}

/* The layer is present, its dir is <root>/layers/<first 20 hex>/diff, and it holds the copy `marker`. */
static void assert_layer(Fixture *fx, const TestLayer *l, const char *marker) {
        assert_true(store_layer_exists(fx->store, l->chain_id));
        _cleanup_free_ char *dir = NULL;
        assert_ok(store_layer_dir(fx->store, l->chain_id, &dir, &_e));
        _cleanup_free_ char *expected = xasprintf("%s/layers/%.20s/diff", fx->root, l->chain_id + 7);
        assert_string_equal(dir, expected);
        _cleanup_free_ char *m = path_join(dir, "marker");
        _cleanup_free_ char *text = read_text(m);
        if (!text)
                print_error("layer %s: '%s' is missing\n", l->chain_id, m);
        assert_non_null(text);
        assert_string_equal(text, marker);
        _cleanup_free_ char *osr = path_join(dir, "etc/os-release");
        assert_true(path_exists(osr));
}

/* The layer has no row and no directory. */
static void assert_no_layer(Fixture *fx, const TestLayer *l) {
        assert_false(store_layer_exists(fx->store, l->chain_id));
        char *dir = NULL;
        assert_fails(store_layer_dir(fx->store, l->chain_id, &dir, &_e), ENOENT);
        assert_null(dir);
        _cleanup_free_ char *link = xasprintf("%s/layers/%.20s", fx->root, l->chain_id + 7);
        assert_false(path_exists(link));
}

static void reopen(Fixture *fx) {
        fx->store = store_close(fx->store);
        assert_ok(store_open(fx->root, &fx->store, &_e));
}

/* ---- fixture ---- */

static int setup(void **state) {
        Fixture *fx = xcalloc(1, sizeof(*fx));
        const char *tmp = getenv("TMPDIR");
        fx->dir = xasprintf("%s/test-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(fx->dir)) {
                free(fx->dir);
                free(fx);
                return -1;
        }
        fx->root = path_join(fx->dir, "store");
        Error *e = NULL;
        if (store_open(fx->root, &fx->store, &e) < 0) {
                print_error("store_open: %s\n", e ? e->message : "(no message)");
                error_free(e);
                rm_rf(fx->dir);
                free(fx->root);
                free(fx->dir);
                free(fx);
                return -1;
        }
        *state = fx;
        return 0;
}

static int teardown(void **state) {
        Fixture *fx = *state;
        store_close(fx->store);
        int r = rm_rf(fx->dir);
        free(fx->root);
        free(fx->dir);
        free(fx);
        return r < 0 ? -1 : 0;
}

/* Two layers L1 (bottom) and L2, staged, and image A ("app:1") made of them. */
typedef struct Base {
        TestLayer l1, l2;
        TestImage a;
} Base;

static void base_commit(Fixture *fx, Base *b) {
        layer_init(&b->l1, "11", '1', 1000);
        layer_init(&b->l2, "22", '2', 2000);
        stage_layer(fx, &b->l1, "l1-first");
        stage_layer(fx, &b->l2, "l2-first");
        image_init(&b->a, "a1", 'a', "app", "1");
        image_add_layer(&b->a, &b->l1, true);
        image_add_layer(&b->a, &b->l2, true);
        assert_ok(commit(fx, &b->a, &_e));
}

static void base_done(Base *b) {
        layer_done(&b->l1);
        layer_done(&b->l2);
}

/* Image B ("other:1") on L1 (present, not staged) and a new staged L3. */
static void commit_sharing_bottom(Fixture *fx, Base *b, TestLayer *l3, TestImage *img) {
        layer_init(l3, "33", '3', 3000);
        stage_layer(fx, l3, "l3-first");
        image_init(img, "b2", 'b', "other", "1");
        image_add_layer(img, &b->l1, false);
        image_add_layer(img, l3, true);
        assert_ok(commit(fx, img, &_e));
}

/* ---- leftovers ---- */

/* Blobs no image row names (a crash's *.tmp-* file, a blob whose rows went) go at start-up. */
static void test_open_removes_orphan_and_tmp_blobs(void **state) {
        Fixture *fx = *state;
        Base b;
        base_commit(fx, &b);
        _cleanup_free_ char *dir = path_join(fx->root, "blobs/sha256");
        _cleanup_free_ char *tmp = xasprintf("%s/%s.tmp-AbC123", dir, b.a.config_digest + 7);
        _cleanup_free_ char *orphan = xasprintf("%s/%064d", dir, 7);
        _cleanup_free_ char *orphan512 = xasprintf("%s/blobs/sha512/%0128d", fx->root, 5);
        write_text(tmp, "half");
        write_text(orphan, "{}");
        write_text(orphan512, "{}");
        assert_int_equal(count_entries(dir), 4);

        reopen(fx);
        assert_false(path_exists(tmp));
        assert_false(path_exists(orphan));
        assert_false(path_exists(orphan512));
        assert_int_equal(count_entries(dir), 2);
        assert_image_blobs(fx, &b.a, true);
        base_done(&b);
}

/* The same config reached through a second manifest: the image keeps its first manifest, no new blob. */
static void test_second_manifest_of_present_image_writes_no_blob(void **state) {
        Fixture *fx = *state;
        Base b;
        base_commit(fx, &b);
        TestImage again = b.a;
        snprintf(again.manifest_json, sizeof(again.manifest_json), "{\"schemaVersion\":2,\"other\":1}");
        _cleanup_free_ char *md =
                digest_buffer(DIGEST_SHA256, again.manifest_json, strlen(again.manifest_json));
        snprintf(again.manifest_digest, sizeof(again.manifest_digest), "%s", md);
        snprintf(again.repo_digest, sizeof(again.repo_digest), "quay.io/test/app@%s", md);
        again.n_staged = 0;
        assert_ok(commit(fx, &again, &_e));

        _cleanup_free_ char *dir = path_join(fx->root, "blobs/sha256");
        assert_int_equal(count_entries(dir), 2);
        assert_blob(fx, again.manifest_digest, NULL);
        assert_image_blobs(fx, &b.a, true);
        assert_lookup(fx, again.repo_digest, b.a.id);
        base_done(&b);
}

/* ---- layers committed on their own ---- */

static StagedLayer staged_of(const TestLayer *l) {
        return (StagedLayer){.chain_id = l->chain_id,
                             .diff_id = l->diff_id,
                             .blob_digest = l->blob_digest,
                             .size = l->size,
                             .staging_dir = l->staging};
}

/* A layer committed before its image is there at once, for an image commit to use without staging. */
static void test_layer_commit_then_image(void **state) {
        Fixture *fx = *state;
        TestLayer l;
        layer_init(&l, "44", '4', 4000);
        stage_layer(fx, &l, "l4");
        StagedLayer sl = staged_of(&l);
        assert_ok(store_layer_commit(fx->store, &sl, &_e));
        assert_layer(fx, &l, "l4");
        assert_false(path_exists(l.staging));
        /* A second copy (another pull's) loses to the committed one and is removed. */
        stage_layer(fx, &l, "l4-again");
        sl = staged_of(&l);
        assert_ok(store_layer_commit(fx->store, &sl, &_e));
        assert_layer(fx, &l, "l4");
        assert_false(path_exists(l.staging));
        TestImage img;
        image_init(&img, "c3", 'c', "solo", "1");
        image_add_layer(&img, &l, false);
        assert_ok(commit(fx, &img, &_e));
        reopen(fx);
        assert_layer(fx, &l, "l4");
        layer_done(&l);
}

typedef struct SyncWatch {
        Fixture *fx;
        const char *chain_id;
        int calls;
        bool listed_at_sync; /* was the layer's row there when its files were synced? */
        int fail;            /* -errno to fail the sync with */
} SyncWatch;

static int watch_sync(int dir_fd, void *userdata) {
        SyncWatch *w = userdata;
        w->calls++;
        w->listed_at_sync |= store_layer_exists(w->fx->store, w->chain_id);
        return w->fail;
}

/* Power-loss safety: a layer's files are synced before any row names it, and a failed sync commits nothing.
 */
static void test_layer_rows_only_after_sync(void **state) {
        Fixture *fx = *state;
        TestLayer l;
        layer_init(&l, "66", '6', 600);
        SyncWatch w = {.fx = fx, .chain_id = l.chain_id, .fail = -EIO};
        store_set_sync(fx->store, watch_sync, &w);
        stage_layer(fx, &l, "l6");
        StagedLayer sl = staged_of(&l);
        assert_fails(store_layer_commit(fx->store, &sl, &_e), EIO);
        assert_int_equal(w.calls, 1);
        assert_no_layer(fx, &l);
        assert_int_equal(count_sub(fx, "tmp"), 0);

        w.fail = 0;
        stage_layer(fx, &l, "l6");
        sl = staged_of(&l);
        assert_ok(store_layer_commit(fx->store, &sl, &_e));
        assert_int_equal(w.calls, 2);
        assert_false(w.listed_at_sync);
        assert_layer(fx, &l, "l6");

        /* An image commit with staged layers syncs them first too. */
        TestLayer m;
        layer_init(&m, "77", '7', 700);
        stage_layer(fx, &m, "l7");
        SyncWatch wm = {.fx = fx, .chain_id = m.chain_id};
        store_set_sync(fx->store, watch_sync, &wm);
        TestImage img;
        image_init(&img, "d4", 'd', "synced", "1");
        image_add_layer(&img, &l, false);
        image_add_layer(&img, &m, true);
        assert_ok(commit(fx, &img, &_e));
        assert_int_equal(wm.calls, 1);
        assert_false(wm.listed_at_sync);
        store_set_sync(fx->store, NULL, NULL);
        layer_done(&l);
        layer_done(&m);
}

/* A layer whose image never came is kept while held, and goes at the next start. */
static void test_layer_commit_without_image_goes_at_start(void **state) {
        Fixture *fx = *state;
        Base b;
        base_commit(fx, &b);
        TestLayer l;
        layer_init(&l, "55", '5', 500);
        stage_layer(fx, &l, "l5");
        StagedLayer sl = staged_of(&l);
        char *held[] = {l.chain_id, NULL};
        store_layers_hold(fx->store, held);
        assert_ok(store_layer_commit(fx->store, &sl, &_e));
        /* Removing another image drops unused layers, but not a held one. */
        assert_ok(store_image_remove(fx->store, b.a.id, &_e));
        assert_layer(fx, &l, "l5");
        store_layers_release(fx->store, held);
        reopen(fx);
        assert_no_layer(fx, &l);
        layer_done(&l);
        base_done(&b);
}

/* ---- store_open ---- */

static void test_open_creates_layout(void **state) {
        Fixture *fx = *state;
        static const char *const dirs[] = {"", "blobs", "blobs/sha256", "layers", "tmp"};
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_free_ char *p = path_join(fx->root, dirs[i]);
                if (!is_dir(p))
                        print_error("'%s' is not a directory\n", p);
                assert_true(is_dir(p));
        }
        _cleanup_free_ char *db = path_join(fx->root, "crio-c.db");
        assert_true(path_exists(db));
        assert_string_equal(store_root(fx->store), fx->root);
        assert_int_equal(count_sub(fx, "layers"), 0);
        assert_int_equal(count_sub(fx, "tmp"), 0);
        assert_image_count(fx, 0);
        assert_usage(fx, 0, 0);
}

static void test_open_fails_when_root_is_a_file(void **state) {
        Fixture *fx = *state;
        _cleanup_free_ char *file = path_join(fx->dir, "not-a-dir");
        write_text(file, "x");
        Store *s = NULL;
        Error *e = NULL;
        int r = store_open(file, &s, &e);
        assert_true(r < 0);
        assert_null(s);
        assert_non_null(e);
        assert_int_equal(e->code, -r);
        error_free(e);
}

static void test_open_clears_tmp_and_unknown_layer_dirs(void **state) {
        Fixture *fx = *state;
        Base b;
        base_commit(fx, &b);

        /* Leftovers of a crash: a half-unpacked layer, a stray file, and a layer moved without its row. */
        _cleanup_free_ char *half = path_join(fx->root, "tmp/leftover/usr/bin");
        assert_int_equal(mkdir_parents_and_self(half, 0755), 0);
        _cleanup_free_ char *half_file = path_join(half, "sh");
        write_text(half_file, "#!");
        _cleanup_free_ char *stray = path_join(fx->root, "tmp/stray");
        write_text(stray, "x");
        _cleanup_free_ char *orphan = path_join(fx->root, "layers/0123456789abcdef0123/diff/etc");
        assert_int_equal(mkdir_parents_and_self(orphan, 0755), 0);
        _cleanup_free_ char *orphan_file = path_join(orphan, "passwd");
        write_text(orphan_file, "root:x:0:0::/root:/bin/sh\n");
        assert_int_equal(count_sub(fx, "layers"), 3);

        reopen(fx);

        _cleanup_free_ char *tmp = path_join(fx->root, "tmp");
        assert_true(is_dir(tmp));
        assert_int_equal(count_entries(tmp), 0);
        _cleanup_free_ char *orphan_link = path_join(fx->root, "layers/0123456789abcdef0123");
        assert_false(path_exists(orphan_link));
        assert_int_equal(count_sub(fx, "layers"), 2);
        assert_layer(fx, &b.l1, "l1-first");
        assert_layer(fx, &b.l2, "l2-first");
        base_done(&b);
}

static void test_reopen_keeps_everything(void **state) {
        Fixture *fx = *state;
        Base b;
        base_commit(fx, &b);
        TestLayer l3;
        TestImage img_b;
        commit_sharing_bottom(fx, &b, &l3, &img_b);
        _cleanup_store_image_ StoreImage *before = lookup(fx, b.a.id);

        reopen(fx);

        _cleanup_store_image_ StoreImage *after = lookup(fx, b.a.repo_tag);
        assert_string_equal(after->id, before->id);
        assert_int_equal(after->pulled_ns, before->pulled_ns);
        assert_int_equal(after->size, before->size);
        assert_string_equal(after->user, "1000");
        assert_strv(after->layers, STRV(b.l1.chain_id, b.l2.chain_id));
        assert_strv(after->repo_tags, STRV(b.a.repo_tag));
        assert_strv(after->repo_digests, STRV(b.a.repo_digest));
        assert_lookup(fx, img_b.repo_digest, img_b.id);
        assert_lookup(fx, "b2b", img_b.id);

        StoreImage **l = NULL;
        size_t n = 0;
        assert_ok(store_image_list(fx->store, &l, &n, &_e));
        assert_int_equal(n, 2);
        assert_string_equal(l[0]->id, b.a.id);
        assert_string_equal(l[1]->id, img_b.id);
        store_images_free(l, n);

        assert_layer(fx, &b.l1, "l1-first");
        assert_layer(fx, &b.l2, "l2-first");
        assert_layer(fx, &l3, "l3-first");
        assert_image_blobs(fx, &b.a, true);
        assert_image_blobs(fx, &img_b, true);
        assert_usage(fx, 6000, 3 * STAGED_INODES);
        base_done(&b);
        layer_done(&l3);
}

/* ---- staging ---- */

static void test_staging_dirs_are_fresh_and_removable(void **state) {
        Fixture *fx = *state;
        _cleanup_free_ char *a = NULL, *b = NULL;
        assert_ok(store_staging_dir(fx->store, &a, &_e));
        assert_ok(store_staging_dir(fx->store, &b, &_e));
        assert_string_not_equal(a, b);
        _cleanup_free_ char *tmp_prefix = xasprintf("%s/tmp/", fx->root);
        assert_int_equal(strncmp(a, tmp_prefix, strlen(tmp_prefix)), 0);
        assert_true(is_dir(a));
        assert_int_equal(count_entries(a), 0);

        _cleanup_free_ char *deep = path_join(a, "x/y");
        assert_int_equal(mkdir_parents_and_self(deep, 0755), 0);
        _cleanup_free_ char *f = path_join(deep, "z");
        write_text(f, "z");
        store_staging_remove(fx->store, a);
        assert_false(path_exists(a));
        assert_true(is_dir(b));
        store_staging_remove(fx->store, a); /* already gone: harmless */
        store_staging_remove(fx->store, b);
        assert_int_equal(count_sub(fx, "tmp"), 0);
}

/* ---- commit and lookup ---- */

static void test_commit_image(void **state) {
        Fixture *fx = *state;
        struct timespec t0, t1;
        clock_gettime(CLOCK_REALTIME, &t0);
        Base b;
        base_commit(fx, &b);
        clock_gettime(CLOCK_REALTIME, &t1);

        _cleanup_store_image_ StoreImage *img = lookup(fx, b.a.id);
        assert_string_equal(img->id, b.a.id);
        assert_string_equal(img->config_digest, b.a.config_digest);
        assert_string_equal(img->manifest_digest, b.a.manifest_digest);
        assert_string_equal(img->user, "1000");
        assert_int_equal(img->size, 3000);
        assert_strv(img->layers, STRV(b.l1.chain_id, b.l2.chain_id));
        assert_strv(img->repo_tags, STRV("quay.io/test/app:1"));
        assert_strv(img->repo_digests, STRV(b.a.repo_digest));
        assert_true(img->pulled_ns >= (int64_t)t0.tv_sec * 1000000000LL + t0.tv_nsec);
        assert_true(img->pulled_ns <= (int64_t)t1.tv_sec * 1000000000LL + t1.tv_nsec);
        base_done(&b);
}

static void test_commit_moves_staged_layers(void **state) {
        Fixture *fx = *state;
        Base b;
        base_commit(fx, &b);
        assert_layer(fx, &b.l1, "l1-first");
        assert_layer(fx, &b.l2, "l2-first");
        /* The staging dirs became the layers' diff dirs: nothing is left under tmp. */
        assert_false(path_exists(b.l1.staging));
        assert_false(path_exists(b.l2.staging));
        assert_int_equal(count_sub(fx, "tmp"), 0);
        assert_int_equal(count_sub(fx, "layers"), 2);
        base_done(&b);
}

static void test_commit_writes_blobs(void **state) {
        Fixture *fx = *state;
        Base b;
        base_commit(fx, &b);
        assert_image_blobs(fx, &b.a, true);
        _cleanup_free_ char *path = xasprintf("%s/blobs/sha256/%s", fx->root, b.a.id);
        assert_true(path_exists(path));

        char unknown[80];
        fill_digest(unknown, "", '0');
        assert_blob(fx, unknown, NULL);
        char *data = NULL;
        size_t len = 0;
        assert_fails(store_blob_read(fx->store, "sha256:not-hex", &data, &len, &_e), EINVAL);
        assert_fails(store_blob_read(fx->store, "../../crio-c.db", &data, &len, &_e), EINVAL);
        assert_null(data);
        base_done(&b);
}

static void test_lookup_keys(void **state) {
        Fixture *fx = *state;
        Base b;
        base_commit(fx, &b);
        TestLayer l3;
        TestImage img_b;
        commit_sharing_bottom(fx, &b, &l3, &img_b);

        _cleanup_free_ char *prefixed = xasprintf("sha256:%s", b.a.id);
        assert_lookup(fx, b.a.id, b.a.id);
        assert_lookup(fx, prefixed, b.a.id);
        assert_lookup(fx, "a1a", b.a.id);
        assert_lookup(fx, "a1aaaaaa", b.a.id);
        assert_lookup(fx, "quay.io/test/app:1", b.a.id);
        assert_lookup(fx, b.a.repo_digest, b.a.id);
        assert_lookup(fx, "b2b", img_b.id);
        assert_lookup(fx, img_b.repo_tag, img_b.id);

        assert_lookup_missing(fx, "a1");   /* a unique prefix, but shorter than 3 */
        assert_lookup_missing(fx, "a1x");  /* not hex */
        assert_lookup_missing(fx, "a1ab"); /* no such ID */
        assert_lookup_missing(fx, "quay.io/test/app:2");
        assert_lookup_missing(fx, "quay.io/test/app"); /* names are exact, not normalised */
        assert_lookup_missing(fx, "");
        assert_lookup_missing(fx, "sha256:");
        base_done(&b);
        layer_done(&l3);
}

static void test_lookup_ambiguous_prefix(void **state) {
        Fixture *fx = *state;
        TestLayer l;
        layer_init(&l, "44", '4', 10);
        stage_layer(fx, &l, "l4");
        TestImage x, y;
        image_init(&x, "abcd1", '0', "x", "1");
        image_add_layer(&x, &l, true);
        assert_ok(commit(fx, &x, &_e));
        image_init(&y, "abcd2", '0', "y", "1");
        image_add_layer(&y, &l, false);
        assert_ok(commit(fx, &y, &_e));

        assert_lookup_missing(fx, "abc");
        assert_lookup_missing(fx, "abcd");
        assert_lookup_missing(fx, "sha256:abcd");
        assert_lookup(fx, "abcd1", x.id);
        assert_lookup(fx, "abcd2", y.id);
        _cleanup_free_ char *full_y = xasprintf("sha256:%s", y.id);
        assert_lookup(fx, full_y, y.id);
        layer_done(&l);
}

static void test_image_list_in_pull_order(void **state) {
        Fixture *fx = *state;
        TestLayer l;
        layer_init(&l, "55", '5', 10);
        stage_layer(fx, &l, "l5");
        /* IDs in the opposite order of the pulls, so an ID sort would show. */
        TestImage imgs[3];
        static const char *const prefixes[] = {"f3", "c2", "01"};
        for (size_t i = 0; i < ELEMENTSOF(imgs); i++) {
                image_init(&imgs[i], prefixes[i], '9', prefixes[i], "1");
                image_add_layer(&imgs[i], &l, i == 0);
                assert_ok(commit(fx, &imgs[i], &_e));
        }
        StoreImage **list = NULL;
        size_t n = 0;
        assert_ok(store_image_list(fx->store, &list, &n, &_e));
        assert_int_equal(n, 3);
        for (size_t i = 0; i < n; i++) {
                assert_string_equal(list[i]->id, imgs[i].id);
                assert_strv(list[i]->repo_tags, STRV(imgs[i].repo_tag));
                assert_strv(list[i]->layers, STRV(l.chain_id));
                if (i > 0)
                        assert_true(list[i]->pulled_ns >= list[i - 1]->pulled_ns);
        }
        store_images_free(list, n);
        layer_done(&l);
}

static void test_usage_sums_layers(void **state) {
        Fixture *fx = *state;
        assert_usage(fx, 0, 0);
        Base b;
        base_commit(fx, &b);
        assert_usage(fx, 3000, 2 * STAGED_INODES);
        TestLayer l3;
        TestImage img_b;
        commit_sharing_bottom(fx, &b, &l3, &img_b);
        /* The shared bottom layer counts once. */
        assert_usage(fx, 6000, 3 * STAGED_INODES);
        _cleanup_store_image_ StoreImage *img = lookup(fx, img_b.id);
        assert_int_equal(img->size, 4000);
        base_done(&b);
        layer_done(&l3);
}

static void test_commit_again_only_adds_names(void **state) {
        Fixture *fx = *state;
        Base b;
        base_commit(fx, &b);
        _cleanup_store_image_ StoreImage *first = lookup(fx, b.a.id);

        /* A second pull of the same image under another tag and repository, layers unpacked again. */
        TestImage again;
        image_init(&again, "a1", 'a', "mirror", "2");
        stage_layer(fx, &b.l1, "l1-second");
        stage_layer(fx, &b.l2, "l2-second");
        image_add_layer(&again, &b.l1, true);
        image_add_layer(&again, &b.l2, true);
        assert_ok(commit(fx, &again, &_e));

        assert_image_count(fx, 1);
        _cleanup_store_image_ StoreImage *img = lookup(fx, b.a.id);
        assert_strv(img->repo_tags, STRV("quay.io/test/app:1", "quay.io/test/mirror:2"));
        assert_strv(img->repo_digests, STRV(b.a.repo_digest, again.repo_digest));
        assert_strv(img->layers, STRV(b.l1.chain_id, b.l2.chain_id));
        assert_int_equal(img->size, first->size);
        assert_int_equal(img->pulled_ns, first->pulled_ns);
        assert_usage(fx, 3000, 2 * STAGED_INODES);
        /* The duplicates were dropped; the layers committed first stay. */
        assert_false(path_exists(b.l1.staging));
        assert_false(path_exists(b.l2.staging));
        assert_int_equal(count_sub(fx, "tmp"), 0);
        assert_int_equal(count_sub(fx, "layers"), 2);
        assert_layer(fx, &b.l1, "l1-first");
        assert_layer(fx, &b.l2, "l2-first");

        /* The very same commit once more changes nothing. */
        image_init(&again, "a1", 'a', "mirror", "2");
        image_add_layer(&again, &b.l1, false);
        image_add_layer(&again, &b.l2, false);
        assert_ok(commit(fx, &again, &_e));
        StoreImage *same = lookup(fx, "quay.io/test/mirror:2");
        assert_strv(same->repo_tags, STRV("quay.io/test/app:1", "quay.io/test/mirror:2"));
        assert_strv(same->repo_digests, STRV(b.a.repo_digest, again.repo_digest));
        store_image_free(same);
        assert_image_count(fx, 1);
        base_done(&b);
}

static void test_tag_moves_to_new_image(void **state) {
        Fixture *fx = *state;
        Base b;
        base_commit(fx, &b);
        /* "app:1" is pushed again with new content. */
        TestLayer l3;
        layer_init(&l3, "33", '3', 3000);
        stage_layer(fx, &l3, "l3");
        TestImage newer;
        image_init(&newer, "b2", 'b', "app", "1");
        image_add_layer(&newer, &b.l1, false);
        image_add_layer(&newer, &l3, true);
        assert_ok(commit(fx, &newer, &_e));

        assert_lookup(fx, "quay.io/test/app:1", newer.id);
        _cleanup_store_image_ StoreImage *old = lookup(fx, b.a.id);
        assert_strv(old->repo_tags, STRV_EMPTY);
        assert_strv(old->repo_digests, STRV(b.a.repo_digest));
        _cleanup_store_image_ StoreImage *img = lookup(fx, newer.id);
        assert_strv(img->repo_tags, STRV("quay.io/test/app:1"));
        assert_image_count(fx, 2);

        /* Pulling the old one again by tag takes the tag back. */
        image_init(&b.a, "a1", 'a', "app", "1");
        image_add_layer(&b.a, &b.l1, false);
        image_add_layer(&b.a, &b.l2, false);
        assert_ok(commit(fx, &b.a, &_e));
        assert_lookup(fx, "quay.io/test/app:1", b.a.id);
        _cleanup_store_image_ StoreImage *untagged = lookup(fx, newer.id);
        assert_strv(untagged->repo_tags, STRV_EMPTY);
        base_done(&b);
        layer_done(&l3);
}

static void test_commit_with_present_bottom_layer(void **state) {
        Fixture *fx = *state;
        Base b;
        base_commit(fx, &b);
        TestLayer l3;
        TestImage img_b;
        commit_sharing_bottom(fx, &b, &l3, &img_b);

        _cleanup_store_image_ StoreImage *img = lookup(fx, img_b.id);
        assert_strv(img->layers, STRV(b.l1.chain_id, l3.chain_id));
        assert_int_equal(img->size, 4000);
        assert_layer(fx, &b.l1, "l1-first");
        assert_layer(fx, &l3, "l3-first");
        assert_int_equal(count_sub(fx, "layers"), 3);
        assert_int_equal(count_sub(fx, "tmp"), 0);
        assert_image_count(fx, 2);

        /* An image all of whose layers are present needs nothing staged. */
        TestImage img_c;
        image_init(&img_c, "c3", 'c', "third", "1");
        image_add_layer(&img_c, &b.l1, false);
        image_add_layer(&img_c, &b.l2, false);
        assert_ok(commit(fx, &img_c, &_e));
        assert_lookup(fx, "quay.io/test/third:1", img_c.id);
        assert_int_equal(count_sub(fx, "layers"), 3);
        base_done(&b);
        layer_done(&l3);
}

/* The store must look exactly as the base image left it. */
static void assert_only_base(Fixture *fx, Base *b) {
        assert_image_count(fx, 1);
        assert_int_equal(count_sub(fx, "layers"), 2);
        assert_layer(fx, &b->l1, "l1-first");
        assert_layer(fx, &b->l2, "l2-first");
        assert_image_blobs(fx, &b->a, true);
        assert_usage(fx, 3000, 2 * STAGED_INODES);
        assert_int_equal(count_sub(fx, "blobs/sha256"), 2);
}

static void assert_image_absent(Fixture *fx, const TestImage *img) {
        assert_lookup_missing(fx, img->id);
        if (img->repo_tag[0])
                assert_lookup_missing(fx, img->repo_tag);
        assert_lookup_missing(fx, img->repo_digest);
        assert_image_blobs(fx, img, false);
}

static void test_commit_missing_layer_fails_cleanly(void **state) {
        Fixture *fx = *state;
        Base b;
        base_commit(fx, &b);
        TestLayer l5, missing;
        layer_init(&l5, "55", '5', 500);
        layer_init(&missing, "66", '6', 600);
        stage_layer(fx, &l5, "l5");
        TestImage img;
        image_init(&img, "c3", 'c', "broken", "1");
        image_add_layer(&img, &b.l1, false);
        image_add_layer(&img, &l5, true);
        image_add_layer(&img, &missing, false);

        assert_fails(commit(fx, &img, &_e), ENOENT);

        assert_image_absent(fx, &img);
        assert_no_layer(fx, &l5);
        assert_no_layer(fx, &missing);
        assert_only_base(fx, &b);
        /* The staging dir is still the caller's to remove. */
        store_staging_remove(fx->store, l5.staging);
        assert_int_equal(count_sub(fx, "tmp"), 0);
        base_done(&b);
        layer_done(&l5);
        layer_done(&missing);
}

static void test_commit_failed_move_removes_written_blobs(void **state) {
        Fixture *fx = *state;
        Base b;
        base_commit(fx, &b);
        TestLayer l5, lost;
        layer_init(&l5, "55", '5', 500);
        layer_init(&lost, "66", '6', 600);
        stage_layer(fx, &l5, "l5");
        lost.staging = xasprintf("%s/tmp/vanished", fx->root);
        TestImage img;
        image_init(&img, "c3", 'c', "broken", "1");
        image_add_layer(&img, &b.l1, false);
        image_add_layer(&img, &l5, true);
        image_add_layer(&img, &lost, true);

        Error *e = NULL;
        int r = commit(fx, &img, &e);
        assert_true(r < 0);
        assert_non_null(e);
        assert_int_equal(e->code, -r);
        error_free(e);

        /* The manifest and config it wrote are gone again, and so is l5, which it had moved. */
        assert_image_absent(fx, &img);
        assert_no_layer(fx, &l5);
        assert_no_layer(fx, &lost);
        assert_only_base(fx, &b);
        base_done(&b);
        layer_done(&l5);
        layer_done(&lost);
}

static void test_commit_invalid_digest_removes_written_blob(void **state) {
        Fixture *fx = *state;
        Base b;
        base_commit(fx, &b);
        TestLayer l5;
        layer_init(&l5, "55", '5', 500);
        stage_layer(fx, &l5, "l5");
        TestImage img;
        image_init(&img, "c3", 'c', "broken", "1");
        image_add_layer(&img, &l5, true);
        /* The manifest blob is written before the config digest is found to be bad. */
        snprintf(img.config_digest, sizeof(img.config_digest), "sha256:C3");

        assert_fails(commit(fx, &img, &_e), EINVAL);

        assert_lookup_missing(fx, img.id);
        assert_lookup_missing(fx, img.repo_tag);
        assert_blob(fx, img.manifest_digest, NULL);
        assert_no_layer(fx, &l5);
        assert_only_base(fx, &b);
        base_done(&b);
        layer_done(&l5);
}

/*
 * Layer dirs are named by the first 20 hex digits of the chain ID. A new layer whose chain ID shares
 * them with a present layer must not cost the present layer its files, whatever happens to the commit.
 */
static void test_commit_link_collision_keeps_present_layer(void **state) {
        Fixture *fx = *state;
        Base b;
        base_commit(fx, &b);
        TestLayer twin;
        layer_init(&twin, "11111111111111111111", 'f', 700);
        stage_layer(fx, &twin, "twin");
        TestImage img;
        image_init(&img, "c3", 'c', "twin", "1");
        image_add_layer(&img, &twin, true);

        Error *e = NULL;
        int r = commit(fx, &img, &e);

        /* Everything is released before the verdict: a failing cmocka assertion skips cleanups. */
        char *marker = xasprintf("%s/layers/11111111111111111111/diff/marker", fx->root);
        char *text = read_text(marker);
        bool kept = text && strcmp(text, "l1-first") == 0 && store_layer_exists(fx->store, b.l1.chain_id);
        if (!kept)
                print_error("BUG: committing layer %s (commit returned %d: %s) destroyed the files of "
                            "present layer %s, which image %s still uses: '%s' is %s\n",
                            twin.chain_id, r, e ? e->message : "no error", b.l1.chain_id, b.a.id, marker,
                            text ? text : "gone");
        error_free(e);
        free(text);
        free(marker);
        base_done(&b);
        layer_done(&twin);
        assert_true(kept);
}

/* ---- remove ---- */

static void test_remove_tag_of_image_with_other_tag_untags(void **state) {
        Fixture *fx = *state;
        Base b;
        base_commit(fx, &b);
        TestImage again;
        image_init(&again, "a1", 'a', "app", "2");
        image_add_layer(&again, &b.l1, false);
        image_add_layer(&again, &b.l2, false);
        assert_ok(commit(fx, &again, &_e));

        assert_ok(store_image_remove(fx->store, "quay.io/test/app:1", &_e));

        assert_lookup_missing(fx, "quay.io/test/app:1");
        _cleanup_store_image_ StoreImage *img = lookup(fx, "quay.io/test/app:2");
        assert_string_equal(img->id, b.a.id);
        assert_strv(img->repo_tags, STRV("quay.io/test/app:2"));
        assert_strv(img->repo_digests, STRV(b.a.repo_digest));
        assert_only_base(fx, &b);

        /* The last tag goes with the image, as `crictl rmi app:2` expects. */
        assert_ok(store_image_remove(fx->store, "quay.io/test/app:2", &_e));
        assert_image_absent(fx, &b.a);
        assert_image_count(fx, 0);
        assert_no_layer(fx, &b.l1);
        assert_no_layer(fx, &b.l2);
        assert_usage(fx, 0, 0);
        base_done(&b);
}

static void test_remove_by_id_keeps_shared_layer(void **state) {
        Fixture *fx = *state;
        Base b;
        base_commit(fx, &b);
        TestLayer l3;
        TestImage img_b;
        commit_sharing_bottom(fx, &b, &l3, &img_b);
        _cleanup_free_ char *l2_dir = NULL;
        assert_ok(store_layer_dir(fx->store, b.l2.chain_id, &l2_dir, &_e));

        assert_ok(store_image_remove(fx->store, b.a.id, &_e));

        assert_image_absent(fx, &b.a);
        assert_image_count(fx, 1);
        assert_no_layer(fx, &b.l2);
        assert_false(path_exists(l2_dir));
        assert_layer(fx, &b.l1, "l1-first");
        assert_layer(fx, &l3, "l3-first");
        assert_image_blobs(fx, &img_b, true);
        assert_int_equal(count_sub(fx, "layers"), 2);
        assert_usage(fx, 4000, 2 * STAGED_INODES);

        /* The last image goes by its repo digest, and takes every layer and blob with it. */
        assert_ok(store_image_remove(fx->store, img_b.repo_digest, &_e));
        assert_image_absent(fx, &img_b);
        assert_image_count(fx, 0);
        assert_no_layer(fx, &b.l1);
        assert_no_layer(fx, &l3);
        assert_int_equal(count_sub(fx, "layers"), 0);
        assert_int_equal(count_sub(fx, "blobs/sha256"), 0);
        assert_usage(fx, 0, 0);
        base_done(&b);
        layer_done(&l3);
}

static void test_remove_by_prefixed_id(void **state) {
        Fixture *fx = *state;
        Base b;
        base_commit(fx, &b);
        _cleanup_free_ char *key = xasprintf("sha256:%s", b.a.id);
        assert_ok(store_image_remove(fx->store, key, &_e));
        assert_image_absent(fx, &b.a);
        assert_no_layer(fx, &b.l1);
        assert_no_layer(fx, &b.l2);
        assert_int_equal(count_sub(fx, "layers"), 0);
        assert_int_equal(count_sub(fx, "blobs/sha256"), 0);
        base_done(&b);
}

static void test_remove_unknown(void **state) {
        Fixture *fx = *state;
        char unknown[65];
        fill_hex(unknown, "", '0');
        assert_fails(store_image_remove(fx->store, "quay.io/test/app:1", &_e), ENOENT);
        assert_fails(store_image_remove(fx->store, unknown, &_e), ENOENT);

        Base b;
        base_commit(fx, &b);
        /* A second image with the same ID prefix makes "a1a" ambiguous. */
        TestImage twin;
        image_init(&twin, "a1a", 'b', "twin", "1");
        image_add_layer(&twin, &b.l1, false);
        assert_ok(commit(fx, &twin, &_e));

        assert_fails(store_image_remove(fx->store, "quay.io/test/app:2", &_e), ENOENT);
        assert_fails(store_image_remove(fx->store, unknown, &_e), ENOENT);
        assert_fails(store_image_remove(fx->store, "a1a", &_e), ENOENT);
        assert_fails(store_image_remove(fx->store, "a1", &_e), ENOENT);
        assert_fails(store_image_remove(fx->store, "", &_e), ENOENT);
        assert_image_count(fx, 2);
        assert_lookup(fx, b.a.repo_tag, b.a.id);
        assert_lookup(fx, twin.repo_tag, twin.id);
        assert_int_equal(count_sub(fx, "layers"), 2);
        base_done(&b);
}

static void test_layer_exists(void **state) {
        Fixture *fx = *state;
        TestLayer l1;
        layer_init(&l1, "11", '1', 1000);
        assert_false(store_layer_exists(fx->store, l1.chain_id));
        assert_false(store_layer_exists(fx->store, ""));
        stage_layer(fx, &l1, "l1");
        /* Staged is not present. */
        assert_false(store_layer_exists(fx->store, l1.chain_id));
        TestImage img;
        image_init(&img, "a1", 'a', "app", "1");
        image_add_layer(&img, &l1, true);
        assert_ok(commit(fx, &img, &_e));
        assert_true(store_layer_exists(fx->store, l1.chain_id));
        assert_false(store_layer_exists(fx->store, l1.chain_id + 7)); /* the full chain ID only */
        assert_ok(store_image_remove(fx->store, img.id, &_e));
        assert_no_layer(fx, &l1);
        layer_done(&l1);
}

/* ---- concurrency ---- */

typedef struct Committer {
        Fixture *fx;
        const TestImage *img;
        pthread_barrier_t *start;
        int r;
        Error *error;
} Committer;

static void *committer_run(void *arg) {
        Committer *c = arg;
        pthread_barrier_wait(c->start);
        c->r = commit(c->fx, c->img, &c->error);
        return NULL;
}

/* Run the commits of `n` images in as many threads, released at once; all must succeed. */
static void commit_concurrently(Fixture *fx, const TestImage *imgs, size_t n) {
        pthread_barrier_t start;
        pthread_t threads[4];
        Committer cs[4];
        assert_true(n <= ELEMENTSOF(threads));
        assert_int_equal(pthread_barrier_init(&start, NULL, (unsigned)n), 0);
        for (size_t i = 0; i < n; i++) {
                cs[i] = (Committer){.fx = fx, .img = &imgs[i], .start = &start};
                assert_int_equal(pthread_create(&threads[i], NULL, committer_run, &cs[i]), 0);
        }
        for (size_t i = 0; i < n; i++)
                assert_int_equal(pthread_join(threads[i], NULL), 0);
        pthread_barrier_destroy(&start);
        for (size_t i = 0; i < n; i++) {
                if (cs[i].r < 0)
                        print_error("commit of %s: %s\n", imgs[i].id, cs[i].error->message);
                error_free(cs[i].error);
                assert_int_equal(cs[i].r, 0);
        }
}

#define ROUNDS 16

static void test_concurrent_commits_share_layer(void **state) {
        Fixture *fx = *state;
        for (int round = 0; round < ROUNDS; round++) {
                char prefix[16];
                TestLayer shared[2], top[2];
                TestImage imgs[2];
                for (int t = 0; t < 2; t++) {
                        /* Each pull unpacked the shared layer on its own. */
                        snprintf(prefix, sizeof(prefix), "5%02x", round);
                        layer_init(&shared[t], prefix, '5', 100);
                        snprintf(prefix, sizeof(prefix), "%d%02x", 6 + t, round);
                        layer_init(&top[t], prefix, (char)('6' + t), 10);
                        snprintf(prefix, sizeof(prefix), "%c%02x", t ? 'b' : 'a', round);
                        image_init(&imgs[t], prefix, '0', t ? "right" : "left", prefix);
                        stage_layer(fx, &shared[t], t ? "shared-right" : "shared-left");
                        stage_layer(fx, &top[t], "top");
                        image_add_layer(&imgs[t], &shared[t], true);
                        image_add_layer(&imgs[t], &top[t], true);
                }
                commit_concurrently(fx, imgs, 2);

                for (int t = 0; t < 2; t++) {
                        _cleanup_store_image_ StoreImage *img = lookup(fx, imgs[t].repo_tag);
                        assert_string_equal(img->id, imgs[t].id);
                        assert_strv(img->layers, STRV(shared[t].chain_id, top[t].chain_id));
                        assert_int_equal(img->size, 110);
                        assert_layer(fx, &top[t], "top");
                        assert_false(path_exists(shared[t].staging));
                        layer_done(&top[t]);
                }
                /* One copy of the shared layer won; the other staging copy is gone. */
                _cleanup_free_ char *dir = NULL;
                assert_ok(store_layer_dir(fx->store, shared[0].chain_id, &dir, &_e));
                _cleanup_free_ char *m = path_join(dir, "marker");
                _cleanup_free_ char *text = read_text(m);
                assert_non_null(text);
                assert_true(strcmp(text, "shared-left") == 0 || strcmp(text, "shared-right") == 0);
                assert_int_equal(count_sub(fx, "tmp"), 0);
                assert_int_equal(count_sub(fx, "layers"), 3 * (round + 1));
                layer_done(&shared[0]);
                layer_done(&shared[1]);
        }
        assert_image_count(fx, 2 * ROUNDS);
        assert_usage(fx, 120 * ROUNDS, 3 * STAGED_INODES * ROUNDS);
}

static void test_concurrent_commits_of_same_image(void **state) {
        Fixture *fx = *state;
        TestLayer copies[2];
        TestImage imgs[2];
        for (int t = 0; t < 2; t++) {
                /* Two pulls of one image by different tags, each with its own unpacked copy. */
                layer_init(&copies[t], "77", '7', 700);
                stage_layer(fx, &copies[t], t ? "right" : "left");
                image_init(&imgs[t], "d4", 'd', "same", t ? "right" : "left");
                image_add_layer(&imgs[t], &copies[t], true);
        }
        commit_concurrently(fx, imgs, 2);

        assert_image_count(fx, 1);
        _cleanup_store_image_ StoreImage *img = lookup(fx, imgs[0].id);
        assert_strv(img->repo_tags, STRV("quay.io/test/same:left", "quay.io/test/same:right"));
        assert_int_equal(img->size, 700);
        assert_int_equal(count_sub(fx, "layers"), 1);
        assert_int_equal(count_sub(fx, "tmp"), 0);
        assert_usage(fx, 700, STAGED_INODES);
        layer_done(&copies[0]);
        layer_done(&copies[1]);
}

#define STORE_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                STORE_TEST(test_open_creates_layout),
                STORE_TEST(test_open_fails_when_root_is_a_file),
                STORE_TEST(test_open_clears_tmp_and_unknown_layer_dirs),
                STORE_TEST(test_open_removes_orphan_and_tmp_blobs),
                STORE_TEST(test_layer_commit_then_image),
                STORE_TEST(test_layer_commit_without_image_goes_at_start),
                STORE_TEST(test_layer_rows_only_after_sync),
                STORE_TEST(test_second_manifest_of_present_image_writes_no_blob),
                STORE_TEST(test_reopen_keeps_everything),
                STORE_TEST(test_staging_dirs_are_fresh_and_removable),
                STORE_TEST(test_commit_image),
                STORE_TEST(test_commit_moves_staged_layers),
                STORE_TEST(test_commit_writes_blobs),
                STORE_TEST(test_lookup_keys),
                STORE_TEST(test_lookup_ambiguous_prefix),
                STORE_TEST(test_image_list_in_pull_order),
                STORE_TEST(test_usage_sums_layers),
                STORE_TEST(test_commit_again_only_adds_names),
                STORE_TEST(test_tag_moves_to_new_image),
                STORE_TEST(test_commit_with_present_bottom_layer),
                STORE_TEST(test_commit_missing_layer_fails_cleanly),
                STORE_TEST(test_commit_failed_move_removes_written_blobs),
                STORE_TEST(test_commit_invalid_digest_removes_written_blob),
                STORE_TEST(test_commit_link_collision_keeps_present_layer),
                STORE_TEST(test_remove_tag_of_image_with_other_tag_untags),
                STORE_TEST(test_remove_by_id_keeps_shared_layer),
                STORE_TEST(test_remove_by_prefixed_id),
                STORE_TEST(test_remove_unknown),
                STORE_TEST(test_layer_exists),
                STORE_TEST(test_concurrent_commits_share_layer),
                STORE_TEST(test_concurrent_commits_of_same_image),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
