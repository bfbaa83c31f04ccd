/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

#include <json-c/json.h>

#include "error.h"

/* How deep untrusted JSON (manifests, policies, auth files) may nest before we refuse it. */
#define JSON_MAX_DEPTH 32

/*
 * Parse `len` bytes (not necessarily NUL-terminated) as exactly one JSON object, strictly: valid
 * UTF-8, no raw NUL, nothing but whitespace after it, at most JSON_MAX_DEPTH levels. Messages start
 * with `what` ("manifest is not valid JSON: ..."). -EINVAL on any failure. Caller owns *ret.
 */
int json_parse_object(const char *text, size_t len, const char *what, json_object **ret, Error **reterr);
