/* SPDX-License-Identifier: Apache-2.0 */
#include <limits.h>
#include <string.h>

#include "json-util.h"

int json_parse_object(const char *text, size_t len, const char *what, json_object **ret, Error **reterr) {
        if (!text)
                return error_set(reterr, EINVAL, "%s is missing", what);
        if (len > INT_MAX)
                return error_set(reterr, EINVAL, "%s is too large", what);
        /* JSON text never holds a raw NUL, and json-c would treat one as the end of the input. */
        if (memchr(text, '\0', len))
                return error_set(reterr, EINVAL, "%s is not valid JSON: it contains a NUL byte", what);

        json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH);
        if (!tok)
                abort();
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        json_object *o = json_tokener_parse_ex(tok, text, (int)len);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        if (jerr == json_tokener_continue) {
                /* A NUL tells json-c the input ended: a scalar completes, an open object is truncated. */
                o = json_tokener_parse_ex(tok, "", 1);
                jerr = json_tokener_get_error(tok);
        }
        json_tokener_free(tok);

        if (jerr != json_tokener_success) {
                const char *why =
                        jerr == json_tokener_error_parse_eof ? "truncated" : json_tokener_error_desc(jerr);
                return error_set(reterr, EINVAL, "%s is not valid JSON: %s", what, why);
        }
        if (!json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return error_set(reterr, EINVAL, "%s is not a JSON object", what);
        }
        *ret = o;
        return 0;
}
