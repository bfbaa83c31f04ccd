/* SPDX-License-Identifier: Apache-2.0 */
/* Replays a fuzz target's corpus (every file of the directories given) without libFuzzer. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int main(int argc, char **argv);

static int replay_file(const char *path) {
        FILE *f = fopen(path, "rb");
        if (!f)
                return -1;
        size_t cap = 1 << 16, len = 0;
        uint8_t *buf = malloc(cap);
        size_t n;
        while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
                len += n;
                if (len == cap)
                        buf = realloc(buf, cap *= 2);
        }
        fclose(f);
        if (!buf)
                return -1;
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
        return 0;
}

int main(int argc, char **argv) {
        int count = 0;
        for (int i = 1; i < argc; i++) {
                DIR *d = opendir(argv[i]);
                if (!d) {
                        fprintf(stderr, "cannot open corpus %s\n", argv[i]);
                        return 1;
                }
                struct dirent *de;
                while ((de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        char path[4096];
                        snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
                        if (replay_file(path) < 0) {
                                fprintf(stderr, "cannot read %s\n", path);
                                closedir(d);
                                return 1;
                        }
                        count++;
                }
                closedir(d);
        }
        printf("replayed %d inputs\n", count);
        return count > 0 ? 0 : 1;
}
