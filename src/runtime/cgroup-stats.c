/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup-path.h"
#include "cgroup-stats.h"
#include "fs-util.h"
#include "macros.h"

static bool read_u64(const char *path, uint64_t *ret) {
        _cleanup_free_ char *t = NULL;
        return read_file(path, 4096, &t, NULL) >= 0 && stats_parse_u64(t, ret);
}

/* The hierarchies under a root: v1 controllers (each its own tree) or one unified tree, or both. */
typedef struct Hier {
        const char *root;
        bool v1;
        char *unified; /* NULL: none */
} Hier;

static bool exists_under(const char *root, const char *name) {
        _cleanup_free_ char *p = xasprintf("%s/%s", root, name);
        return access(p, F_OK) == 0;
}

/*
 * The unified tree holding the cgroup's PSI files: all of a v2 host's, and on a v1 hybrid host the
 * tree mounted at unified/, where runc (1.1 and later) and systemd place each container as well, with
 * no controller but the pressure files. NULL on a v1 host without it.
 */
static void hier_init(const char *root, Hier *h) {
        h->root = root;
        h->v1 = exists_under(root, "cpuacct") || exists_under(root, "cpu,cpuacct");
        h->unified = !h->v1                                             ? xstrdup(root)
                     : exists_under(root, "unified/cgroup.controllers") ? xasprintf("%s/unified", root)
                                                                        : NULL;
}

static char *cg_file(const Hier *h, const char *controller, const char *cg, const char *file) {
        return cgroup_file_path(h->root, h->v1 ? controller : NULL, cg, file);
}

static void read_cpu(const Hier *h, const char *cg, UsageSample *s) {
        if (h->v1) {
                _cleanup_free_ char *p = cg_file(h, "cpuacct", cg, "cpuacct.usage");
                s->has_cpu = read_u64(p, &s->cpu_ns);
                return;
        }
        _cleanup_free_ char *p = cg_file(h, NULL, cg, "cpu.stat"), *t = NULL;
        uint64_t usec = 0;
        if (read_file(p, 1 << 16, &t, NULL) >= 0 && stats_field(t, "usage_usec", &usec)) {
                s->has_cpu = true;
                s->cpu_ns = usec * 1000;
        }
}

/* The text of a cgroup file, or NULL when it is absent. */
static char *cg_text(const Hier *h, const char *controller, const char *cg, const char *file) {
        _cleanup_free_ char *p = cg_file(h, controller, cg, file);
        char *t = NULL;
        return read_file(p, 1 << 16, &t, NULL) >= 0 ? t : NULL;
}

/* Memory, and swap beside it (absent without swap accounting: no memsw or memory.swap.* files). */
static void read_memory_swap(const Hier *h, const char *cg, UsageSample *s) {
        _cleanup_free_ char *usage =
                cg_file(h, "memory", cg, h->v1 ? "memory.usage_in_bytes" : "memory.current");
        _cleanup_free_ char *text = cg_text(h, "memory", cg, "memory.stat");
        _cleanup_free_ char *limit =
                cg_text(h, "memory", cg, h->v1 ? "memory.limit_in_bytes" : "memory.max");
        uint64_t u = 0;
        if (read_u64(usage, &u) && text)
                stats_memory_from(u, text, limit, h->v1, s);
        if (!h->v1) {
                _cleanup_free_ char *cur = cg_text(h, NULL, cg, "memory.swap.current");
                _cleanup_free_ char *max = cg_text(h, NULL, cg, "memory.swap.max");
                stats_swap_v2(cur, max, s);
        } else if (s->has_memory) {
                _cleanup_free_ char *both = cg_text(h, "memory", cg, "memory.memsw.usage_in_bytes");
                _cleanup_free_ char *both_limit = cg_text(h, "memory", cg, "memory.memsw.limit_in_bytes");
                stats_swap_v1(both, both_limit, s->mem_usage, limit, s);
        }
}

static void read_oom(const Hier *h, const char *cg, UsageSample *s) {
        _cleanup_free_ char *oom = cg_text(h, "memory", cg, h->v1 ? "memory.oom_control" : "memory.events");
        s->has_oom = stats_field(oom, "oom_kill", &s->oom_kills);
}

/* "/dev/<name>" of a block device from sysfs; "" when it has none. */
static void blkio_name(BlkioDevice *d) {
        char link[PATH_MAX], sys[64];
        snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", d->major, d->minor);
        ssize_t n = readlink(sys, link, sizeof(link) - 1);
        if (n <= 0)
                return;
        link[n] = '\0';
        const char *base = strrchr(link, '/');
        base = base ? base + 1 : link;
        if (strlen(base) + 5 < sizeof(d->name)) /* a longer name is left unresolved */
                memcpy(mempcpy(d->name, "/dev/", 5), base, strlen(base) + 1);
}

/*
 * Block I/O per device. On v1 the throttle counters see the bios the cgroup's tasks issue whatever the
 * scheduler, but (seen on Linux 6.18) only on devices with a throttle rule in the cgroup; buffered
 * writes are flushed by the kernel's writeback threads and counted there, not in the container (v2
 * charges them to the cgroup that dirtied the pages).
 */
static void read_blkio(const Hier *h, const char *cg, UsageSample *s) {
        if (h->v1) {
                _cleanup_free_ char *bytes =
                        cg_text(h, "blkio", cg, "blkio.throttle.io_service_bytes_recursive");
                _cleanup_free_ char *ops = cg_text(h, "blkio", cg, "blkio.throttle.io_serviced_recursive");
                if (bytes && ops && stats_parse_blkio_v1(bytes, true, s) >= 0)
                        (void)stats_parse_blkio_v1(ops, false, s);
        } else {
                _cleanup_free_ char *t = cg_text(h, NULL, cg, "io.stat");
                if (t)
                        (void)stats_parse_io_stat(t, s);
        }
        for (size_t i = 0; i < s->n_blkio; i++)
                blkio_name(&s->blkio[i]);
}

/* The kernel's huge page sizes ("2MB", ...), listed once: they are fixed at boot. */
static char hugetlb_sizes[STATS_HUGETLB_MAX][16];
static size_t n_hugetlb_sizes;
static pthread_once_t hugetlb_once = PTHREAD_ONCE_INIT;

static void list_hugetlb_sizes(void) {
        DIR *d = opendir("/sys/kernel/mm/hugepages");
        if (!d)
                return;
        for (struct dirent *e = readdir(d); e && n_hugetlb_sizes < STATS_HUGETLB_MAX; e = readdir(d))
                if (stats_hugetlb_pagesize(e->d_name, hugetlb_sizes[n_hugetlb_sizes],
                                           sizeof(hugetlb_sizes[0])) == 0)
                        n_hugetlb_sizes++;
        closedir(d);
}

/* One size's usage from the v1 hugetlb controller: usage, max usage and failcnt. */
static bool read_hugetlb_v1(const Hier *h, const char *cg, HugetlbUsage *u) {
        _cleanup_free_ char *f1 = xasprintf("hugetlb.%s.usage_in_bytes", u->pagesize);
        _cleanup_free_ char *f2 = xasprintf("hugetlb.%s.max_usage_in_bytes", u->pagesize);
        _cleanup_free_ char *f3 = xasprintf("hugetlb.%s.failcnt", u->pagesize);
        _cleanup_free_ char *p1 = cg_file(h, "hugetlb", cg, f1), *p2 = cg_file(h, "hugetlb", cg, f2);
        _cleanup_free_ char *p3 = cg_file(h, "hugetlb", cg, f3);
        if (!read_u64(p1, &u->usage) || !read_u64(p3, &u->failcnt))
                return false;
        u->has_max_usage = read_u64(p2, &u->max_usage);
        return true;
}

/* The same from a unified tree: current, and the "max" line of events; v2 keeps no maximum. */
static bool read_hugetlb_v2(const Hier *h, const char *cg, HugetlbUsage *u) {
        _cleanup_free_ char *f1 = xasprintf("hugetlb.%s.current", u->pagesize);
        _cleanup_free_ char *f2 = xasprintf("hugetlb.%s.events", u->pagesize);
        _cleanup_free_ char *p1 = cgroup_file_path(h->unified, NULL, cg, f1);
        _cleanup_free_ char *p2 = cgroup_file_path(h->unified, NULL, cg, f2), *ev = NULL;
        return read_u64(p1, &u->usage) && read_file(p2, 4096, &ev, NULL) >= 0 &&
               stats_field(ev, "max", &u->failcnt);
}

/*
 * Huge pages per size, from the v1 hugetlb controller, or from the unified tree where the host binds
 * the controller there (a hybrid host may; it has files below the root only when delegated).
 */
static void read_hugetlb(const Hier *h, const char *cg, UsageSample *s) {
        pthread_once(&hugetlb_once, list_hugetlb_sizes);
        bool ctl_v1 = h->v1 && exists_under(h->root, "hugetlb");
        if (!ctl_v1 && !h->unified)
                return;
        for (size_t i = 0; i < n_hugetlb_sizes; i++) {
                HugetlbUsage u = {0};
                memcpy(u.pagesize, hugetlb_sizes[i], sizeof(u.pagesize));
                if (ctl_v1 ? read_hugetlb_v1(h, cg, &u) : read_hugetlb_v2(h, cg, &u))
                        s->hugetlb[s->n_hugetlb++] = u;
        }
}

static void read_psi(const Hier *h, const char *cg, UsageSample *s) {
        static const char *const files[PSI_N] = {
                [PSI_CPU] = "cpu.pressure", [PSI_MEMORY] = "memory.pressure", [PSI_IO] = "io.pressure"};
        if (!h->unified)
                return;
        for (size_t i = 0; i < PSI_N; i++) {
                _cleanup_free_ char *p = cgroup_file_path(h->unified, NULL, cg, files[i]), *t = NULL;
                if (read_file(p, 4096, &t, NULL) >= 0)
                        (void)stats_parse_psi(t, &s->psi[i]);
        }
}

void cgroup_stats_read(const char *root, const char *cg, unsigned extra, UsageSample *s) {
        Hier h;
        hier_init(root, &h);
        read_cpu(&h, cg, s);
        read_memory_swap(&h, cg, s);
        _cleanup_free_ char *pids = cg_file(&h, "pids", cg, "pids.current");
        s->has_pids = read_u64(pids, &s->pids);
        read_psi(&h, cg, s);
        if (extra & CGROUP_READ_OOM)
                read_oom(&h, cg, s);
        if (extra & CGROUP_READ_BLKIO)
                read_blkio(&h, cg, s);
        if (extra & CGROUP_READ_HUGETLB)
                read_hugetlb(&h, cg, s);
        free(h.unified);
}
