/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/*
 * The pure part of crio-pinns: its command line, ID-map strings and sysctl keys. Nothing here touches
 * the system, so all of it is unit tested (tests/unit/test-pinns-args.c).
 */

/* The namespaces crio-pinns creates and pins, in the order it creates them: user first, so the others
 * are owned by it. */
typedef enum PinnsKind {
        PINNS_USER,
        PINNS_NET,
        PINNS_IPC,
        PINNS_UTS,
        _PINNS_KIND_MAX,
} PinnsKind;

/* "user", "net", "ipc", "uts": the name under /proc/PID/ns/ and, with "ns" appended, the pin directory. */
const char *pinns_kind_to_string(PinnsKind kind);

/* One line of /proc/PID/uid_map: `count` IDs starting at `inside` map to those starting at `outside`. */
typedef struct IdMapping {
        uint32_t inside;
        uint32_t outside;
        uint32_t count;
} IdMapping;

/* The kernel's limit on lines in one uid_map or gid_map (since Linux 4.15). */
#define IDMAP_MAX_LINES 340

/*
 * Parse "C H N[,C H N...]" (decimal, spaces between the numbers) into a new array. Rejects empty
 * ranges, ranges that wrap past 2^32, overlapping ranges on either side and more than IDMAP_MAX_LINES
 * of them, all of which the kernel would refuse with a bare EINVAL. Returns 0 or -EINVAL.
 */
int idmap_parse(const char *spec, IdMapping **ret_map, size_t *ret_n, Error **reterr);

/* The text the kernel wants written, in one write(), to /proc/PID/[ug]id_map: one "C H N\n" per line.
 * Never NULL; the caller frees it. */
char *idmap_format(const IdMapping *map, size_t n);

/* A sysctl to set inside the new namespaces. All strings are owned. */
typedef struct Sysctl {
        char *key;   /* "net.ipv4.ping_group_range" */
        char *value; /* written as given */
        char *path;  /* "/proc/sys/net/ipv4/ping_group_range" */
} Sysctl;

/*
 * Split "key=value" and check the key: dot-separated, no empty part, no '/', no whitespace or control
 * characters, so that the path built from it stays under /proc/sys. Returns 0 or -EINVAL.
 */
int sysctl_parse(const char *arg, Sysctl *ret, Error **reterr);

/* The /proc/sys path of a key already checked by sysctl_parse(); the caller frees it. */
char *sysctl_key_to_path(const char *key);

void sysctl_done(Sysctl *s);

typedef struct PinnsArgs {
        const char *dir;      /* borrowed from argv */
        const char *name;     /* borrowed from argv; a plain file name */
        const char *hostname; /* borrowed from argv, or NULL */
        bool help;
        bool remove;
        bool kinds[_PINNS_KIND_MAX];
        char *uid_map; /* owned, idmap_format() text, or NULL */
        char *gid_map;
        Sysctl *sysctls; /* owned */
        size_t n_sysctls;
} PinnsArgs;

/*
 * Parse crio-pinns' arguments (argv[0] is the program name). Options take their value as the next
 * argument or after '='. On success fills *ret (release it with pinns_args_done()) and returns 0; with
 * --help only ret->help is meaningful. On a usage error returns -EINVAL with a message naming the option,
 * and *ret is not touched.
 */
int pinns_args_parse(int argc, char *const *argv, PinnsArgs *ret, Error **reterr);

void pinns_args_done(PinnsArgs *a);

/* Whether `name` can be a pin file name: not empty, "." or "..", no '/' or control characters, at most
 * NAME_MAX bytes. */
bool pinns_name_is_valid(const char *name);
