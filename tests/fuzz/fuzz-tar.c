/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "layer-unpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Unpacks the input as a layer into base/root, next to an empty base/canary. Whatever the input, the
 * unpack either succeeds or fails with a message, and nothing appears in base except root and canary.
 * The input is pushed in two pieces so a split lands at an arbitrary offset. It is a plain tar unless
 * it starts with the gzip or zstd magic, so that the corpus also exercises the decompressors.
 */
static char base[64];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path) < 0 ? -1 : 0;
}

static void rm_rf(const char *path) {
        if (nftw(path, remove_one, 64, FTW_DEPTH | FTW_PHYS) < 0)
                abort();
}

static void remove_base(void) {
        rm_rf(base);
}

static void make_base(void) {
        snprintf(base, sizeof(base), "/tmp/fuzz-tar.XXXXXX");
        if (!mkdtemp(base))
                abort();
        atexit(remove_base);
        char canary[96];
        snprintf(canary, sizeof(canary), "%s/canary", base);
        if (mkdir(canary, 0755) < 0)
                abort();
}

/* Only root/ and an empty canary/ may exist in base. */
static void check_contained(void) {
        char canary[96];
        snprintf(canary, sizeof(canary), "%s/canary", base);
        const char *dirs[] = {base, canary};
        for (size_t i = 0; i < 2; i++) {
                DIR *d = opendir(dirs[i]);
                if (!d)
                        abort();
                for (struct dirent *de; (de = readdir(d));) {
                        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                                continue;
                        if (i == 0 && (strcmp(de->d_name, "root") == 0 || strcmp(de->d_name, "canary") == 0))
                                continue;
                        fprintf(stderr, "unpack wrote outside its directory: %s/%s\n", dirs[i], de->d_name);
                        abort();
                }
                closedir(d);
        }
}

static LayerCompression sniff(const uint8_t *data, size_t size) {
        if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b)
                return COMPRESSION_GZIP;
        if (size >= 4 && memcmp(data, "\x28\xb5\x2f\xfd", 4) == 0)
                return COMPRESSION_ZSTD;
        return COMPRESSION_NONE;
}

static void unpack(const char *root, const uint8_t *data, size_t size) {
        LayerUnpack *u = NULL;
        Error *e = NULL;
        char *blob = NULL, *diff = NULL;
        int64_t tar_size = -1;

        LayerCompression c = sniff(data, size);
        if (layer_unpack_new(root, c, &u, &e) < 0)
                abort();
        size_t half = size / 2;
        if (layer_unpack_push(u, data, half, &e) < 0 ||
            layer_unpack_push(u, data + half, size - half, &e) < 0) {
                if (!e || !e->message[0])
                        abort();
                layer_unpack_abort(u);
                error_free(e);
                return;
        }
        if (layer_unpack_finish(u, &blob, &diff, &tar_size, &e) < 0) {
                if (!e || !e->message[0] || blob || diff)
                        abort();
                error_free(e);
                return;
        }
        if (e || !blob || !diff || tar_size < 0)
                abort();
        /* Plain layers: the tar is the blob. */
        if (c == COMPRESSION_NONE && (strcmp(blob, diff) != 0 || tar_size != (int64_t)size))
                abort();
        free(blob);
        free(diff);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!base[0])
                make_base();
        char root[96];
        snprintf(root, sizeof(root), "%s/root", base);
        if (mkdir(root, 0755) < 0)
                abort();
        unpack(root, data, size);
        check_contained();
        rm_rf(root);
        return 0;
}
