/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Assertions shared by the unit tests; include after <cmocka.h>. */

#include <stdlib.h>
#include <string.h>

#include "strv.h"

extern char **environ;

#define assert_contains(haystack, needle)                                                                   \
        do {                                                                                                \
                const char *_h = (haystack), *_n = (needle);                                                \
                if (!_h || !strstr(_h, _n)) {                                                               \
                        print_error("'%s' does not contain '%s'\n", _h ? _h : "(null)", _n);                \
                        fail();                                                                             \
                }                                                                                           \
        } while (0)

/* `call` must succeed; on failure the test names the error message. */
#define assert_ok(call, err)                                                                                \
        do {                                                                                                \
                int _r = (call);                                                                            \
                if (_r < 0)                                                                                 \
                        print_error("unexpected error %d: %s\n", _r, (err) ? (err)->message : "(none)");    \
                assert_int_equal(_r, 0);                                                                    \
        } while (0)

/* Tests that set CONTAINER_* variables start and end without any: cli_parse() and config_load() read them.
 */
static inline void clear_container_env(void) {
        _cleanup_strv_free_ char **names = NULL;
        for (char **e = environ; *e; e++)
                if (strncmp(*e, "CONTAINER_", strlen("CONTAINER_")) == 0) {
                        const char *eq = strchr(*e, '=');
                        names = strv_push(names, eq ? xstrndup(*e, (size_t)(eq - *e)) : xstrdup(*e));
                }
        STRV_FOREACH(n, names)
                unsetenv(*n);
}
