/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <dirent.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "fs-util.h"
#include "http-debug.h"
#include "macros.h"

char debug_stat_state(const char *stat_text) {
        const char *paren = strrchr(stat_text, ')');
        return paren && paren[1] == ' ' && paren[2] ? paren[2] : '?';
}

static const char *state_name(char s) {
        switch (s) {
        case 'R':
                return "running";
        case 'S':
                return "sleeping";
        case 'D':
                return "waiting for I/O";
        case 'T':
        case 't':
                return "stopped";
        case 'Z':
                return "zombie";
        default:
                return "unknown";
        }
}

char *debug_threads_text(void) {
        char *buf = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&buf, &len);
        DIR *d = opendir("/proc/self/task");
        if (!out || !d) {
                if (out)
                        fclose(out);
                free(buf);
                if (d)
                        closedir(d);
                return xstrdup("cannot read /proc/self/task\n");
        }
        for (struct dirent *e; (e = readdir(d));) {
                if (!isdigit((unsigned char)e->d_name[0]))
                        continue;
                _cleanup_free_ char *comm_path = xasprintf("/proc/self/task/%s/comm", e->d_name);
                _cleanup_free_ char *stat_path = xasprintf("/proc/self/task/%s/stat", e->d_name);
                _cleanup_free_ char *comm = NULL, *stat = NULL;
                if (read_file(comm_path, 64, &comm, NULL) < 0 || read_file(stat_path, 4096, &stat, NULL) < 0)
                        continue; /* the thread just exited */
                comm[strcspn(comm, "\n")] = '\0';
                char s = debug_stat_state(stat);
                fprintf(out, "thread %s [%s]: %s\n", e->d_name, comm, state_name(s));
        }
        closedir(d);
        fclose(out);
        return buf;
}

char *debug_heap_text(void) {
        char *buf = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&buf, &len);
        if (!out)
                return xstrdup("cannot allocate the report\n");
        struct mallinfo2 mi = mallinfo2();
        fprintf(out,
                "arena_bytes %zu\nmmapped_bytes %zu\nin_use_bytes %zu\nfree_bytes %zu\n"
                "releasable_bytes %zu\nfree_chunks %zu\nmmapped_regions %zu\n\n",
                mi.arena, mi.hblkhd, mi.uordblks, mi.fordblks, mi.keepcost, mi.ordblks, mi.hblks);
        malloc_info(0, out);
        fclose(out);
        return buf;
}
