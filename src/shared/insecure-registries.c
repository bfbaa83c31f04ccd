/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "insecure-registries.h"
#include "strv.h"

/* "a.b.c.d/n" or "v6/n": the address and prefix length, checked against the family's size. */
static bool parse_cidr(const char *text, int *ret_family, unsigned char addr[16], unsigned *ret_bits) {
        const char *slash = strchr(text, '/');
        if (!slash || slash - text >= INET6_ADDRSTRLEN || !slash[1])
                return false;
        char host[INET6_ADDRSTRLEN];
        memcpy(host, text, (size_t)(slash - text));
        host[slash - text] = 0;
        char *end = NULL;
        unsigned long bits = strtoul(slash + 1, &end, 10);
        int family = strchr(host, ':') ? AF_INET6 : AF_INET;
        if (*end || !isdigit((unsigned char)slash[1]) || bits > (family == AF_INET ? 32u : 128u) ||
            inet_pton(family, host, addr) != 1)
                return false;
        *ret_family = family;
        *ret_bits = (unsigned)bits;
        return true;
}

/* The IP of a registry named by an address ("10.1.2.3:5000", "[fd00::1]:5000"), if it is one. */
static bool domain_address(const char *domain, int *ret_family, unsigned char addr[16]) {
        char host[INET6_ADDRSTRLEN];
        const char *start = domain, *stop;
        if (*domain == '[') {
                start = domain + 1;
                stop = strchr(start, ']');
        } else
                stop = strchr(domain, ':') ? strchr(domain, ':') : domain + strlen(domain);
        if (!stop || stop - start >= INET6_ADDRSTRLEN)
                return false;
        memcpy(host, start, (size_t)(stop - start));
        host[stop - start] = 0;
        *ret_family = *domain == '[' ? AF_INET6 : AF_INET;
        return inet_pton(*ret_family, host, addr) == 1;
}

static bool prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits) {
        size_t whole = bits / 8;
        unsigned rest = bits % 8;
        if (memcmp(a, b, whole) != 0)
                return false;
        return rest == 0 || ((a[whole] ^ b[whole]) & (0xff << (8 - rest))) == 0;
}

bool insecure_registry_entry_valid(const char *entry) {
        int family;
        unsigned char addr[16];
        unsigned bits;
        if (strchr(entry, '/'))
                return parse_cidr(entry, &family, addr, &bits);
        /* A host, host:port or [v6]:port; a URL ("https://...") is the usual mistake. */
        return *entry && entry[strspn(entry, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                             ".-_:[]")] == 0;
}

bool insecure_registry_listed(char *const *entries, const char *domain) {
        int family = 0, net_family = 0;
        unsigned char addr[16], net[16];
        unsigned bits = 0;
        bool is_address = domain_address(domain, &family, addr);
        STRV_FOREACH(e, entries) {
                if (!strchr(*e, '/')) {
                        if (strcasecmp(*e, domain) == 0)
                                return true;
                } else if (is_address && parse_cidr(*e, &net_family, net, &bits) && net_family == family &&
                           prefix_equal(addr, net, bits))
                        return true;
        }
        return false;
}
