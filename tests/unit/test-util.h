/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Assertions shared by the unit tests; include after <cmocka.h>. */

#include <string.h>

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
