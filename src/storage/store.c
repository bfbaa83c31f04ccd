/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "db-migrate.h"
#include "digest.h"
#include "fs-util.h"
#include "store.h"
#include "strv.h"

/* Characters of the chain ID used for a layer's directory name (80 bits: no collision in practice). */
#define LINK_LEN 20
#define BLOB_MAX (16 * 1024 * 1024)

struct Store {
        char *root;
        sqlite3 *db;
        pthread_mutex_t lock;
        unsigned long staging_counter;
        char **held; /* chain IDs pulls are counting on; a multiset */
        /*
         * Every image (with its names and layers) in memory, rebuilt under `lock` after each write:
         * ImageStatus and ListImages read it under `images_lock` and never touch the database.
         */
        pthread_rwlock_t images_lock;
        StoreImage **images;
        size_t n_images;
        StoreSyncFn sync;
        void *sync_userdata;
};

static void reload_images_locked(Store *s);

/*
 * One syncfs per layer rather than an fsync per file: layers hold thousands of small files, and the
 * filesystem's dirty data is mostly the layer just written anyway.
 */
static int sync_filesystem(int dir_fd, void *userdata) {
        return syncfs(dir_fd) < 0 ? -errno : 0;
}

void store_set_sync(Store *s, StoreSyncFn fn, void *userdata) {
        s->sync = fn ? fn : sync_filesystem;
        s->sync_userdata = userdata;
}

/* Runs outside the store lock: a sync can take long, and other RPCs must not wait for it. */
static int sync_staged(Store *s, const char *dir, Error **reterr) {
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r = fd < 0 ? -errno : s->sync(fd, s->sync_userdata);
        if (r < 0)
                return error_set(reterr, -r, "sync layer files in '%s': %s", dir, strerror(-r));
        return 0;
}

/* fsync a directory, so that a rename or mkdir in it survives a power loss. */
static void sync_dir(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
                (void)fsync(fd);
}

void store_sqlite_setup(void) {
        /*
         * No up-front page-cache block per connection (20 pages, 87 KiB each): pages are allocated
         * as a connection first needs them, so a connection that touches four pages keeps four.
         */
        (void)sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
}

static int db_error(Store *s, Error **reterr, const char *what) {
        return error_set(reterr, EIO, "image store: %s: %s", what, sqlite3_errmsg(s->db));
}

static int exec_sql(Store *s, const char *sql, Error **reterr) {
        char *msg = NULL;
        if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
                int r = error_set(reterr, EIO, "image store: %s", msg ? msg : "SQL error");
                sqlite3_free(msg);
                return r;
        }
        return 0;
}

/* Prepare `sql` and bind text parameters (NULL binds SQL NULL). */
static sqlite3_stmt *prepare(Store *s, const char *sql, int n, const char *const *params) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
                return NULL;
        for (int i = 0; i < n; i++)
                sqlite3_bind_text(st, i + 1, params[i], -1, SQLITE_TRANSIENT);
        return st;
}

static void finalizep(sqlite3_stmt **st) {
        sqlite3_finalize(*st);
}
#define _cleanup_stmt_ _cleanup_(finalizep)

static char *column_dup(sqlite3_stmt *st, int col) {
        const unsigned char *t = sqlite3_column_text(st, col);
        return t ? xstrdup((const char *)t) : NULL;
}

/* Run a statement returning no rows. */
static int run(Store *s, const char *sql, int n, const char *const *params, Error **reterr) {
        _cleanup_stmt_ sqlite3_stmt *st = prepare(s, sql, n, params);
        if (!st || sqlite3_step(st) != SQLITE_DONE)
                return db_error(s, reterr, sql);
        return 0;
}

static char *layer_link(const char *chain_id) {
        const char *hex = strchr(chain_id, ':');
        return xstrndup(hex ? hex + 1 : chain_id, LINK_LEN);
}

static char *layer_path(const Store *s, const char *link) {
        return xasprintf("%s/layers/%s", s->root, link);
}

static char **drop_unused_layers(Store *s, Error **reterr);
static int64_t count_rows(Store *s, const char *sql, const char *param);

/* Remove layer directories that have no row: left by a crash between the move and the commit. */
static void remove_unknown_layer_dirs(Store *s) {
        _cleanup_free_ char *dir = xasprintf("%s/layers", s->root);
        DIR *d = opendir(dir);
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                const char *p[] = {de->d_name};
                _cleanup_stmt_ sqlite3_stmt *st = prepare(s, "SELECT 1 FROM layers WHERE link = ?", 1, p);
                if (st && sqlite3_step(st) == SQLITE_ROW)
                        continue;
                _cleanup_free_ char *path = layer_path(s, de->d_name);
                rm_rf(path);
        }
        closedir(d);
}

static bool blob_referenced(Store *s, const char *digest) {
        const char *p[] = {digest};
        _cleanup_stmt_ sqlite3_stmt *st = prepare(
                s, "SELECT 1 FROM images WHERE config_digest = ?1 OR manifest_digest = ?1 LIMIT 1", 1, p);
        return !st || sqlite3_step(st) == SQLITE_ROW; /* when in doubt, keep */
}

/*
 * Remove blob files no image row names: `*.tmp-*` files a crash left in write_file_atomic, and blobs
 * whose rows went away without them (a crash between the commit and the unlink of a removal).
 */
static void remove_orphan_blobs(Store *s, const char *algo) {
        _cleanup_free_ char *dir = xasprintf("%s/blobs/%s", s->root, algo);
        DIR *d = opendir(dir);
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *digest = xasprintf("%s:%s", algo, de->d_name);
                if (!strstr(de->d_name, ".tmp-") && blob_referenced(s, digest))
                        continue;
                unlinkat(dirfd(d), de->d_name, 0);
        }
        closedir(d);
}

static int make_dirs(const char *root, Error **reterr) {
        /* containers/ is where writable layers will live; ImageFsInfo already names it. */
        static const char *const subdirs[] = {"",        "/blobs/sha256", "/blobs/sha512",
                                              "/layers", "/tmp",          "/containers"};
        for (size_t i = 0; i < ELEMENTSOF(subdirs); i++) {
                _cleanup_free_ char *p = xasprintf("%s%s", root, subdirs[i]);
                int r = mkdir_parents_and_self(p, 0700);
                if (r < 0)
                        return error_set(reterr, r, "create '%s': %s", p, strerror(-r));
        }
        return 0;
}

int store_open(const char *root, Store **ret, Error **reterr) {
        int r = make_dirs(root, reterr);
        if (r < 0)
                return r;
        Store *s = xcalloc(1, sizeof(*s));
        s->root = xstrdup(root);
        s->sync = sync_filesystem;
        pthread_mutex_init(&s->lock, NULL);
        pthread_rwlock_init(&s->images_lock, NULL);
        _cleanup_free_ char *db = xasprintf("%s/crio-c.db", root);
        if (sqlite3_open_v2(db, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                            NULL) != SQLITE_OK) {
                r = error_set(reterr, EIO, "open image database '%s': %s", db, sqlite3_errmsg(s->db));
                store_close(s);
                return r;
        }
        sqlite3_busy_timeout(s->db, 10000);
        r = exec_sql(s, STORE_DB_PRAGMAS, reterr);
        if (r >= 0)
                r = db_migrate(s->db, store_migrations, store_migrations_count, reterr);
        if (r < 0) {
                store_close(s);
                return r;
        }
        _cleanup_free_ char *tmp = xasprintf("%s/tmp", root);
        rm_rf(tmp);
        mkdir(tmp, 0700);
        remove_unknown_layer_dirs(s);
        remove_orphan_blobs(s, "sha256");
        remove_orphan_blobs(s, "sha512");
        /* Layers a failed pull held while their image was removed have no user left: drop them now. */
        _cleanup_strv_free_ char **orphans = drop_unused_layers(s, NULL);
        STRV_FOREACH(d, orphans)
                rm_rf(*d);
        reload_images_locked(s);
        *ret = s;
        return 0;
}

Store *store_close(Store *s) {
        if (!s)
                return NULL;
        sqlite3_close(s->db);
        store_images_free(s->images, s->n_images);
        pthread_rwlock_destroy(&s->images_lock);
        pthread_mutex_destroy(&s->lock);
        strv_free(s->held);
        free(s->root);
        free(s);
        return NULL;
}

void store_layers_hold(Store *s, char *const *chain_ids) {
        pthread_mutex_lock(&s->lock);
        STRV_FOREACH(c, chain_ids)
                s->held = strv_push(s->held, xstrdup(*c));
        pthread_mutex_unlock(&s->lock);
}

void store_layers_release(Store *s, char *const *chain_ids) {
        pthread_mutex_lock(&s->lock);
        STRV_FOREACH(c, chain_ids) {
                size_t n = strv_length(s->held);
                for (size_t i = 0; i < n; i++)
                        if (strcmp(s->held[i], *c) == 0) {
                                free(s->held[i]);
                                memmove(&s->held[i], &s->held[i + 1], (n - i) * sizeof(char *));
                                break;
                        }
        }
        pthread_mutex_unlock(&s->lock);
}

const char *store_root(const Store *s) {
        return s->root;
}

StoreImage *store_image_free(StoreImage *i) {
        if (!i)
                return NULL;
        free(i->id);
        free(i->config_digest);
        free(i->manifest_digest);
        strv_free(i->repo_tags);
        strv_free(i->repo_digests);
        free(i->user);
        strv_free(i->layers);
        free(i);
        return NULL;
}

void store_image_freep(StoreImage **i) {
        *i = store_image_free(*i);
}

void store_images_free(StoreImage **l, size_t n) {
        for (size_t i = 0; i < n; i++)
                store_image_free(l[i]);
        free(l);
}

StoreLayer *store_layer_free(StoreLayer *l) {
        if (!l)
                return NULL;
        free(l->chain_id);
        free(l->diff_id);
        free(l->blob_digest);
        free(l->dir);
        free(l);
        return NULL;
}

static char **select_strv(Store *s, const char *sql, const char *param) {
        const char *p[] = {param};
        char **l = xcalloc(1, sizeof(char *));
        _cleanup_stmt_ sqlite3_stmt *st = prepare(s, sql, 1, p);
        while (st && sqlite3_step(st) == SQLITE_ROW)
                l = strv_push(l, column_dup(st, 0));
        return l;
}

/* Fill an image from its row (id, config_digest, manifest_digest, size, pulled, user). */
static StoreImage *image_from_row(Store *s, sqlite3_stmt *st) {
        StoreImage *i = xcalloc(1, sizeof(*i));
        i->id = column_dup(st, 0);
        i->config_digest = column_dup(st, 1);
        i->manifest_digest = column_dup(st, 2);
        i->size = sqlite3_column_int64(st, 3);
        i->pulled_ns = sqlite3_column_int64(st, 4);
        i->user = column_dup(st, 5);
        i->repo_tags = select_strv(s, "SELECT name FROM image_tags WHERE image_id = ? ORDER BY name", i->id);
        i->repo_digests =
                select_strv(s, "SELECT name FROM image_digests WHERE image_id = ? ORDER BY name", i->id);
        i->layers =
                select_strv(s, "SELECT chain_id FROM image_layers WHERE image_id = ? ORDER BY idx", i->id);
        return i;
}

#define IMAGE_COLUMNS "SELECT id, config_digest, manifest_digest, size, pulled, user FROM images "

static StoreImage *image_copy(const StoreImage *i) {
        StoreImage *c = xcalloc(1, sizeof(*c));
        *c = (StoreImage){.id = xstrdup(i->id),
                          .config_digest = xstrdup(i->config_digest),
                          .manifest_digest = xstrdup(i->manifest_digest),
                          .repo_tags = strv_copy(i->repo_tags),
                          .repo_digests = strv_copy(i->repo_digests),
                          .size = i->size,
                          .pulled_ns = i->pulled_ns,
                          .user = xstrdup(i->user),
                          .layers = strv_copy(i->layers)};
        return c;
}

/* Re-read every image after a write; on a read error the previous view stays. Runs under the lock. */
static void reload_images_locked(Store *s) {
        StoreImage **l = NULL;
        size_t n = 0;
        _cleanup_stmt_ sqlite3_stmt *st = prepare(s, IMAGE_COLUMNS "ORDER BY pulled, id", 0, NULL);
        int step = SQLITE_DONE;
        while (st && (step = sqlite3_step(st)) == SQLITE_ROW) {
                l = xrealloc(l, (n + 1) * sizeof(*l));
                l[n++] = image_from_row(s, st);
        }
        if (!st || step != SQLITE_DONE) {
                store_images_free(l, n);
                return;
        }
        pthread_rwlock_wrlock(&s->images_lock);
        store_images_free(s->images, s->n_images);
        s->images = l;
        s->n_images = n;
        pthread_rwlock_unlock(&s->images_lock);
}

/*
 * The image a key names: a repo tag, a repo digest, the ID (bare or "sha256:") or a unique ID prefix
 * of at least 3 hex digits. Runs under images_lock.
 */
static const StoreImage *find_image(Store *s, const char *key) {
        for (size_t i = 0; i < s->n_images; i++)
                if (strv_contains(s->images[i]->repo_tags, key))
                        return s->images[i];
        for (size_t i = 0; i < s->n_images; i++)
                if (strv_contains(s->images[i]->repo_digests, key))
                        return s->images[i];
        const char *id = strncmp(key, "sha256:", 7) == 0 ? key + 7 : key;
        size_t len = strlen(id);
        if (len < 3 || strspn(id, "0123456789abcdef") != len)
                return NULL;
        const StoreImage *found = NULL;
        for (size_t i = 0; i < s->n_images; i++) {
                if (strncmp(s->images[i]->id, id, len) != 0)
                        continue;
                if (found)
                        return NULL; /* an ID prefix must name exactly one image */
                found = s->images[i];
        }
        return found;
}

/* The ID of the image a key names, or NULL; caller frees. */
static char *resolve_image_id(Store *s, const char *key) {
        pthread_rwlock_rdlock(&s->images_lock);
        const StoreImage *found = find_image(s, key);
        char *id = found ? xstrdup(found->id) : NULL;
        pthread_rwlock_unlock(&s->images_lock);
        return id;
}

int store_image_lookup(Store *s, const char *key, StoreImage **ret, Error **reterr) {
        pthread_rwlock_rdlock(&s->images_lock);
        const StoreImage *found = find_image(s, key);
        StoreImage *img = found ? image_copy(found) : NULL;
        pthread_rwlock_unlock(&s->images_lock);
        if (!img)
                return error_set(reterr, ENOENT, "image '%s' not found", key);
        *ret = img;
        return 0;
}

int store_image_list(Store *s, StoreImage ***ret, size_t *ret_n, Error **reterr) {
        pthread_rwlock_rdlock(&s->images_lock);
        StoreImage **l = xcalloc(s->n_images + 1, sizeof(*l));
        size_t n = s->n_images;
        for (size_t i = 0; i < n; i++)
                l[i] = image_copy(s->images[i]);
        pthread_rwlock_unlock(&s->images_lock);
        *ret = l;
        *ret_n = n;
        return 0;
}

bool store_layer_exists(Store *s, const char *chain_id) {
        const char *p[] = {chain_id};
        pthread_mutex_lock(&s->lock);
        _cleanup_stmt_ sqlite3_stmt *st = prepare(s, "SELECT 1 FROM layers WHERE chain_id = ?", 1, p);
        bool found = st && sqlite3_step(st) == SQLITE_ROW;
        pthread_mutex_unlock(&s->lock);
        return found;
}

static char *blob_path(const Store *s, const char *digest) {
        DigestAlgorithm algo;
        const char *hex;
        if (digest_parse(digest, &algo, &hex) < 0)
                return NULL;
        return xasprintf("%s/blobs/%s/%s", s->root, algo == DIGEST_SHA512 ? "sha512" : "sha256", hex);
}

int store_blob_read(Store *s, const char *digest, char **ret, size_t *ret_len, Error **reterr) {
        _cleanup_free_ char *path = blob_path(s, digest);
        if (!path)
                return error_set(reterr, EINVAL, "invalid digest '%s'", digest);
        int r = read_file(path, BLOB_MAX, ret, ret_len);
        if (r < 0)
                return error_set(reterr, r, "read blob %s: %s", digest, strerror(-r));
        return 0;
}

int store_staging_dir(Store *s, char **ret_path, Error **reterr) {
        pthread_mutex_lock(&s->lock);
        unsigned long n = ++s->staging_counter;
        pthread_mutex_unlock(&s->lock);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        char *p = xasprintf("%s/tmp/%lx-%lx-%lu", s->root, (unsigned long)ts.tv_sec,
                            (unsigned long)ts.tv_nsec, n);
        if (mkdir(p, 0755) < 0) {
                int r = error_set(reterr, errno, "create staging directory '%s': %m", p);
                free(p);
                return r;
        }
        *ret_path = p;
        return 0;
}

void store_staging_remove(Store *s, const char *path) {
        rm_rf(path);
}

static __thread int64_t count_inodes_total;

static int count_inode(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        count_inodes_total++;
        return 0;
}

/* Entries below (and including) a directory; nftw keeps its state per call, the counter per thread. */
static int64_t count_inodes(const char *dir) {
        count_inodes_total = 0;
        if (nftw(dir, count_inode, 32, FTW_PHYS) < 0)
                return 0;
        return count_inodes_total;
}

typedef struct Moved {
        char *layer_dir; /* <root>/layers/<link> */
} Moved;

static void undo_moves(Moved *m, size_t n) {
        for (size_t i = 0; i < n; i++) {
                rm_rf(m[i].layer_dir);
                free(m[i].layer_dir);
        }
        free(m);
}

static void forget_moves(Moved *m, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(m[i].layer_dir);
        free(m);
}

static bool layer_row_exists(Store *s, const char *chain_id) {
        const char *p[] = {chain_id};
        _cleanup_stmt_ sqlite3_stmt *st = prepare(s, "SELECT 1 FROM layers WHERE chain_id = ?", 1, p);
        return st && sqlite3_step(st) == SQLITE_ROW;
}

/* Move one staged layer into place; a layer committed meanwhile by another pull wins. */
static int move_layer(Store *s, const StagedLayer *l, Moved **moved, size_t *n_moved, int64_t *ret_inodes,
                      Error **reterr) {
        int64_t counted = *ret_inodes;
        *ret_inodes = -1;
        if (layer_row_exists(s, l->chain_id)) {
                rm_rf(l->staging_dir);
                return 0;
        }
        _cleanup_free_ char *link = layer_link(l->chain_id);
        const char *p[] = {link};
        _cleanup_stmt_ sqlite3_stmt *owner = prepare(s, "SELECT 1 FROM layers WHERE link = ?", 1, p);
        /* Another chain ID with the same first 80 bits: only a crafted image gets here. */
        if (!owner || sqlite3_step(owner) == SQLITE_ROW)
                return error_set(reterr, EEXIST, "layer %s collides with a stored layer's directory name",
                                 l->chain_id);
        char *dir = layer_path(s, link);
        _cleanup_free_ char *diff = xasprintf("%s/diff", dir);
        *ret_inodes = counted;
        /* Only a leftover without a row can be here (checked above): clear it. */
        rm_rf(dir);
        if (mkdir(dir, 0700) < 0 || rename(l->staging_dir, diff) < 0) {
                int r = error_set(reterr, errno, "move layer %s into place: %m", l->chain_id);
                rm_rf(dir);
                free(dir);
                return r;
        }
        /* The layer's own files were synced while staged; the new names need their directories synced. */
        sync_dir(dir);
        _cleanup_free_ char *layers = xasprintf("%s/layers", s->root);
        sync_dir(layers);
        *moved = xrealloc(*moved, (*n_moved + 1) * sizeof(Moved));
        (*moved)[(*n_moved)++] = (Moved){.layer_dir = dir};
        return 0;
}

static int write_blob(Store *s, const char *digest, const char *data, size_t len, Error **reterr) {
        _cleanup_free_ char *path = blob_path(s, digest);
        if (!path)
                return error_set(reterr, EINVAL, "invalid digest '%s'", digest);
        if (access(path, F_OK) == 0)
                return 0;
        int r = write_file_atomic(path, data, len, 0600);
        if (r < 0)
                return error_set(reterr, r, "write blob %s: %s", digest, strerror(-r));
        return 1;
}

static void remove_blob(Store *s, const char *digest) {
        _cleanup_free_ char *path = blob_path(s, digest);
        if (path)
                unlink(path);
}

static int insert_layer(Store *s, const StagedLayer *l, int64_t inodes, Error **reterr) {
        _cleanup_free_ char *link = layer_link(l->chain_id);
        _cleanup_stmt_ sqlite3_stmt *st = prepare(
                s,
                "INSERT INTO layers (chain_id, diff_id, parent, link, blob_digest, size, inodes, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, strftime('%s','now'))",
                5, (const char *const[]){l->chain_id, l->diff_id, l->parent_chain_id, link, l->blob_digest});
        if (!st)
                return db_error(s, reterr, "insert layer");
        sqlite3_bind_int64(st, 6, l->size);
        sqlite3_bind_int64(st, 7, inodes);
        if (sqlite3_step(st) != SQLITE_DONE)
                return db_error(s, reterr, "insert layer");
        return 0;
}

static int64_t image_size(Store *s, const ImageCommit *c) {
        int64_t total = 0;
        for (size_t i = 0; i < c->n_layers; i++) {
                const char *p[] = {c->layers[i]};
                _cleanup_stmt_ sqlite3_stmt *st =
                        prepare(s, "SELECT size FROM layers WHERE chain_id = ?", 1, p);
                if (st && sqlite3_step(st) == SQLITE_ROW)
                        total += sqlite3_column_int64(st, 0);
        }
        return total;
}

static int insert_image(Store *s, const ImageCommit *c, Error **reterr) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        _cleanup_stmt_ sqlite3_stmt *st = prepare(
                s,
                "INSERT OR IGNORE INTO images (id, config_digest, manifest_digest, size, pulled, user) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                3, (const char *const[]){c->id, c->config_digest, c->manifest_digest});
        if (!st)
                return db_error(s, reterr, "insert image");
        sqlite3_bind_int64(st, 4, image_size(s, c));
        sqlite3_bind_int64(st, 5, (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec);
        sqlite3_bind_text(st, 6, c->user ? c->user : "", -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE)
                return db_error(s, reterr, "insert image");
        if (sqlite3_changes(s->db) == 0)
                return 0; /* already present: its layer list is too */
        for (size_t i = 0; i < c->n_layers; i++) {
                _cleanup_stmt_ sqlite3_stmt *l = prepare(
                        s, "INSERT INTO image_layers (image_id, idx, chain_id) VALUES (?, ?, ?)", 1, &c->id);
                if (!l)
                        return db_error(s, reterr, "insert image layer");
                sqlite3_bind_int64(l, 2, (int64_t)i);
                sqlite3_bind_text(l, 3, c->layers[i], -1, SQLITE_TRANSIENT);
                if (sqlite3_step(l) != SQLITE_DONE)
                        return db_error(s, reterr, "insert image layer");
        }
        return 0;
}

static int insert_names(Store *s, const ImageCommit *c, Error **reterr) {
        int r = 0;
        if (c->repo_tag)
                r = run(s, "INSERT OR REPLACE INTO image_tags (name, image_id) VALUES (?, ?)", 2,
                        (const char *const[]){c->repo_tag, c->id}, reterr);
        if (r >= 0 && c->repo_digest)
                r = run(s, "INSERT OR IGNORE INTO image_digests (name, image_id) VALUES (?, ?)", 2,
                        (const char *const[]){c->repo_digest, c->id}, reterr);
        return r;
}

static int check_layers_available(Store *s, const ImageCommit *c, Error **reterr) {
        for (size_t i = 0; i < c->n_layers; i++) {
                bool staged = false;
                for (size_t k = 0; k < c->n_staged && !staged; k++)
                        staged = strcmp(c->staged[k].chain_id, c->layers[i]) == 0;
                if (!staged && !layer_row_exists(s, c->layers[i]))
                        return error_set(reterr, ENOENT, "layer %s of image %s is missing", c->layers[i],
                                         c->id);
        }
        return 0;
}

static int commit_rows(Store *s, const ImageCommit *c, const int64_t *inodes, Error **reterr) {
        int r = exec_sql(s, "BEGIN IMMEDIATE", reterr);
        if (r < 0)
                return r;
        for (size_t i = 0; i < c->n_staged && r >= 0; i++)
                if (inodes[i] >= 0)
                        r = insert_layer(s, &c->staged[i], inodes[i], reterr);
        if (r >= 0)
                r = insert_image(s, c, reterr);
        if (r >= 0)
                r = insert_names(s, c, reterr);
        if (r >= 0)
                r = exec_sql(s, "COMMIT", reterr);
        if (r < 0)
                exec_sql(s, "ROLLBACK", NULL);
        return r;
}

int store_image_commit(Store *s, const ImageCommit *c, Error **reterr) {
        Moved *moved = NULL;
        size_t n_moved = 0;
        _cleanup_free_ int64_t *inodes = xcalloc(c->n_staged + 1, sizeof(int64_t));

        int wrote_manifest = 0, wrote_config = 0;

        /* Staging dirs are this pull's own: count and sync them before taking the store lock. */
        for (size_t i = 0; i < c->n_staged; i++) {
                inodes[i] = count_inodes(c->staged[i].staging_dir);
                int q = sync_staged(s, c->staged[i].staging_dir, reterr);
                if (q < 0)
                        return q;
        }
        pthread_mutex_lock(&s->lock);
        int r = check_layers_available(s, c, reterr);
        /*
         * An image already present keeps the manifest its row names; the manifest that led to it this
         * time (another tag's, a manifest list's other entry) would be a blob no row references.
         */
        bool present = count_rows(s, "SELECT COUNT(*) FROM images WHERE id = ?", c->id) > 0;
        if (r >= 0 && !present)
                r = wrote_manifest =
                        write_blob(s, c->manifest_digest, c->manifest_json, c->manifest_len, reterr);
        if (r >= 0 && !present)
                r = wrote_config = write_blob(s, c->config_digest, c->config_json, c->config_len, reterr);
        for (size_t i = 0; i < c->n_staged && r >= 0; i++)
                r = move_layer(s, &c->staged[i], &moved, &n_moved, &inodes[i], reterr);
        if (r >= 0)
                r = commit_rows(s, c, inodes, reterr);
        if (r < 0) {
                undo_moves(moved, n_moved);
                if (wrote_manifest > 0)
                        remove_blob(s, c->manifest_digest);
                if (wrote_config > 0)
                        remove_blob(s, c->config_digest);
        } else {
                forget_moves(moved, n_moved);
                reload_images_locked(s);
        }
        pthread_mutex_unlock(&s->lock);
        return r;
}

int store_layer_commit(Store *s, const StagedLayer *l, Error **reterr) {
        Moved *moved = NULL;
        size_t n_moved = 0;
        int64_t inodes = count_inodes(l->staging_dir);
        int r = sync_staged(s, l->staging_dir, reterr);
        if (r < 0) {
                rm_rf(l->staging_dir);
                return r;
        }
        pthread_mutex_lock(&s->lock);
        r = move_layer(s, l, &moved, &n_moved, &inodes, reterr);
        if (r >= 0 && inodes >= 0)
                r = insert_layer(s, l, inodes, reterr);
        if (r < 0) {
                undo_moves(moved, n_moved);
                rm_rf(l->staging_dir);
        } else
                forget_moves(moved, n_moved);
        pthread_mutex_unlock(&s->lock);
        return r;
}

static int64_t count_rows(Store *s, const char *sql, const char *param) {
        const char *p[] = {param};
        _cleanup_stmt_ sqlite3_stmt *st = prepare(s, sql, 1, p);
        return st && sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
}

/* Delete layer rows no image uses and no pull holds; their directories are returned for removal. */
static char **drop_unused_layers(Store *s, Error **reterr) {
        char **dirs = xcalloc(1, sizeof(char *));
        _cleanup_strv_free_ char **unused = xcalloc(1, sizeof(char *));
        _cleanup_stmt_ sqlite3_stmt *st = prepare(
                s, "SELECT chain_id FROM layers WHERE chain_id NOT IN (SELECT chain_id FROM image_layers)",
                0, NULL);
        while (st && sqlite3_step(st) == SQLITE_ROW)
                unused = strv_push(unused, column_dup(st, 0));
        STRV_FOREACH(c, unused) {
                if (strv_contains(s->held, *c))
                        continue;
                const char *p[] = {*c};
                _cleanup_stmt_ sqlite3_stmt *l =
                        prepare(s, "SELECT link FROM layers WHERE chain_id = ?", 1, p);
                _cleanup_free_ char *link = l && sqlite3_step(l) == SQLITE_ROW ? column_dup(l, 0) : NULL;
                if (run(s, "DELETE FROM layers WHERE chain_id = ?", 1, p, reterr) < 0)
                        return strv_free(dirs);
                if (link)
                        dirs = strv_push(dirs, layer_path(s, link));
        }
        return dirs;
}

/* Delete an image's rows; returns the layer dirs and blobs to remove once committed. */
static int delete_image_rows(Store *s, const char *id, char ***ret_dirs, char ***ret_blobs, Error **reterr) {
        const char *p[] = {id};
        char **blobs = xcalloc(1, sizeof(char *));
        _cleanup_stmt_ sqlite3_stmt *st =
                prepare(s, "SELECT config_digest, manifest_digest FROM images WHERE id = ?", 1, p);
        if (st && sqlite3_step(st) == SQLITE_ROW) {
                blobs = strv_push(blobs, column_dup(st, 0));
                blobs = strv_push(blobs, column_dup(st, 1));
        }
        static const char *const deletes[] = {
                "DELETE FROM images WHERE id = ?", "DELETE FROM image_layers WHERE image_id = ?",
                "DELETE FROM image_tags WHERE image_id = ?", "DELETE FROM image_digests WHERE image_id = ?"};
        int r = 0;
        for (size_t i = 0; i < ELEMENTSOF(deletes) && r >= 0; i++)
                r = run(s, deletes[i], 1, p, reterr);
        char **dirs = r >= 0 ? drop_unused_layers(s, reterr) : NULL;
        if (!dirs) {
                strv_free(blobs);
                return r < 0 ? r : -EIO;
        }
        *ret_dirs = dirs;
        *ret_blobs = blobs;
        return 0;
}

static int remove_locked(Store *s, const char *key, char ***ret_dirs, char ***ret_blobs, Error **reterr) {
        _cleanup_free_ char *id = resolve_image_id(s, key);
        if (!id)
                return error_set(reterr, ENOENT, "image '%s' not found", key);
        bool is_tag = count_rows(s, "SELECT COUNT(*) FROM image_tags WHERE name = ?", key) > 0;
        if (is_tag && count_rows(s, "SELECT COUNT(*) FROM image_tags WHERE image_id = ?", id) > 1)
                return run(s, "DELETE FROM image_tags WHERE name = ?", 1, (const char *const[]){key},
                           reterr);

        int r = exec_sql(s, "BEGIN IMMEDIATE", reterr);
        if (r >= 0)
                r = delete_image_rows(s, id, ret_dirs, ret_blobs, reterr);
        if (r >= 0)
                r = exec_sql(s, "COMMIT", reterr);
        if (r < 0) {
                exec_sql(s, "ROLLBACK", NULL);
                *ret_dirs = strv_free(*ret_dirs);
                *ret_blobs = strv_free(*ret_blobs);
        }
        return r;
}

/* Rename a dead layer dir into tmp/ (cheap, under the lock); the slow delete happens after unlocking. */
static char *move_aside(Store *s, const char *dir) {
        char *aside = xasprintf("%s/tmp/removing-%lu", s->root, ++s->staging_counter);
        if (rename(dir, aside) == 0)
                return aside;
        free(aside);
        return xstrdup(dir);
}

int store_image_remove(Store *s, const char *key, Error **reterr) {
        _cleanup_strv_free_ char **dirs = NULL, **blobs = NULL, **aside = xcalloc(1, sizeof(char *));
        pthread_mutex_lock(&s->lock);
        int r = remove_locked(s, key, &dirs, &blobs, reterr);
        STRV_FOREACH(d, dirs)
                aside = strv_push(aside, move_aside(s, *d));
        /* Blobs are shared only by images with the same manifest or config; those rows are gone too. */
        STRV_FOREACH(b, blobs)
                if (count_rows(
                            s,
                            "SELECT COUNT(*) FROM images WHERE config_digest = ?1 OR manifest_digest = ?1",
                            *b) == 0)
                        remove_blob(s, *b);
        reload_images_locked(s);
        pthread_mutex_unlock(&s->lock);
        STRV_FOREACH(d, aside)
                rm_rf(*d);
        return r;
}

int store_usage(Store *s, int64_t *ret_bytes, int64_t *ret_inodes, Error **reterr) {
        pthread_mutex_lock(&s->lock);
        _cleanup_stmt_ sqlite3_stmt *st =
                prepare(s, "SELECT COALESCE(SUM(size), 0), COALESCE(SUM(inodes), 0) FROM layers", 0, NULL);
        bool ok = st && sqlite3_step(st) == SQLITE_ROW;
        if (ok) {
                *ret_bytes = sqlite3_column_int64(st, 0);
                *ret_inodes = sqlite3_column_int64(st, 1);
        }
        pthread_mutex_unlock(&s->lock);
        return ok ? 0 : error_set(reterr, EIO, "image store: cannot compute usage");
}

int store_layer_dir(Store *s, const char *chain_id, char **ret, Error **reterr) {
        const char *p[] = {chain_id};
        pthread_mutex_lock(&s->lock);
        _cleanup_stmt_ sqlite3_stmt *st = prepare(s, "SELECT link FROM layers WHERE chain_id = ?", 1, p);
        _cleanup_free_ char *link = st && sqlite3_step(st) == SQLITE_ROW ? column_dup(st, 0) : NULL;
        pthread_mutex_unlock(&s->lock);
        if (!link)
                return error_set(reterr, ENOENT, "layer %s not found", chain_id);
        *ret = xasprintf("%s/layers/%s/diff", s->root, link);
        return 0;
}
