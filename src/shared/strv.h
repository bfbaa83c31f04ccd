/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "macros.h"

/* NULL-terminated arrays of owned strings. A NULL strv is the empty list. */
size_t strv_length(char *const *l);
static inline bool strv_isempty(char *const *l) {
        return !l || !*l;
}
char **strv_free(char **l);
void strv_freep(char ***l);
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* Append, taking ownership of `s`. Returns the (possibly moved) array. */
char **strv_push(char **l, char *s);
char **strv_copy(char *const *l);
bool strv_equal(char *const *a, char *const *b);
bool strv_contains(char *const *l, const char *s);

/* Split on `sep`, dropping empty pieces: "a,,b" -> {"a","b"}; "" -> empty list (non-NULL). */
char **strv_split(const char *s, char sep);
/* The strings joined with `sep` between them; "" for an empty list. Caller frees. */
char *strv_join(char *const *l, const char *sep);

#define STRV_FOREACH(s, l) for (char *const *s = (l); s && *s; s++)
