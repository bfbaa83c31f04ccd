/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <json-c/json.h>

/* How the registry client reads failures: error bodies, errno mapping and the retry rule. Pure. */

/* Attempts per request, the first included (registry-client.h promises 3). */
#define REGISTRY_MAX_ATTEMPTS 3

/* Parse a whole buffer as one JSON value (trailing whitespace allowed). NULL when it is not JSON. */
json_object *registry_json_parse(const char *body, size_t len);

/*
 * A readable summary of an error body, for messages: the distribution spec's
 * {"errors":[{"code":"MANIFEST_UNKNOWN","message":"..."}]} as "MANIFEST_UNKNOWN: ...; CODE2: ...", a
 * token server's {"details":"..."} or OAuth2's {"error":"...","error_description":"..."}, else the first
 * line of a text/plain body. Control characters become spaces and the text is capped, since the body is
 * the server's and the message goes to the client. NULL when there is nothing usable. Caller frees.
 */
char *registry_error_body_message(const char *content_type, const char *body, size_t len);

/* Positive errno for a final HTTP status that is not 2xx: 401/403 EACCES, 404 ENOENT, else EIO. */
int registry_http_status_errno(long status);

/*
 * Positive errno for a transfer libcurl could not complete: TLS failures EPROTO, refused, unreachable
 * or unresolvable hosts ECONNREFUSED, anything else EIO.
 */
int registry_curl_code_errno(CURLcode code);

/*
 * libcurl reports a TLS alert that arrives after the handshake (TLS 1.3 servers rejecting a client
 * certificate) as a plain receive error; tell it apart by its message so that it is reported as a TLS
 * failure and not retried. Other codes are returned as they are.
 */
CURLcode registry_refine_curl_code(CURLcode code, const char *errbuf);

/*
 * Whether a request may be sent again: it ended in 5xx (except 501 and 505, which will not change),
 * 429, or the connection was reset or cut (receive, send or HTTP/2 errors, an empty or short reply);
 * nothing was handed to the caller yet; and fewer than REGISTRY_MAX_ATTEMPTS were made.
 */
bool registry_should_retry(CURLcode code, long status, uint64_t bytes_handed_on, unsigned attempts_made);

/*
 * Resumes of a streamed blob in a row that brought no new byte before it gives up. Resumes that make
 * progress do not count: the body only grows, so they end with the blob.
 */
#define REGISTRY_MAX_FRUITLESS_RESUMES 2

/*
 * Should a streamed body cut off after `bytes_handed_on` bytes (a reset, a truncated body) be resumed
 * with a Range request? Only connection cuts, and fewer than REGISTRY_MAX_FRUITLESS_RESUMES in a row
 * that brought nothing.
 */
bool registry_should_resume(CURLcode code, uint64_t bytes_handed_on, unsigned fruitless_resumes);

/* Milliseconds to wait before attempt `attempt` + 1 (attempt >= 1): 100, 400, 1600, ... */
unsigned registry_retry_delay_ms(unsigned attempt);
