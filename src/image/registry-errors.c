/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <strings.h>

#include "macros.h"
#include "registry-errors.h"

/* Bounds on what an untrusted error body may add to a message. */
#define ERROR_TEXT_MAX 256
#define ERROR_ENTRIES_MAX 4

static void json_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

json_object *registry_json_parse(const char *body, size_t len) {
        if (!body || len == 0 || len > INT32_MAX)
                return NULL;
        json_tokener *tok = json_tokener_new();
        if (!tok)
                abort();
        json_object *o = json_tokener_parse_ex(tok, body, (int)len);
        size_t end = json_tokener_get_parse_end(tok);
        bool ok = o && json_tokener_get_error(tok) == json_tokener_success;
        json_tokener_free(tok);
        while (ok && end < len && strchr(" \t\r\n", body[end]))
                end++;
        if (!ok || end != len) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

/* A message being built from untrusted text: controls become spaces, the length is capped. */
typedef struct Text {
        FILE *f;
        size_t used;
        bool full;
} Text;

static void append_clean(Text *t, const char *s, size_t n) {
        for (size_t i = 0; i < n && s[i] && !t->full; i++) {
                if (t->used++ >= ERROR_TEXT_MAX) {
                        fputs("...", t->f);
                        t->full = true;
                        return;
                }
                unsigned char c = (unsigned char)s[i];
                fputc(c < 0x20 || c == 0x7f ? ' ' : c, t->f);
        }
}

static const char *string_member(json_object *o, const char *key) {
        json_object *v = NULL;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string) ||
            json_object_get_string_len(v) == 0)
                return NULL;
        return json_object_get_string(v);
}

/* "CODE: message" or either alone; false when the pair is empty. */
static bool append_pair(Text *t, const char *code, const char *message, bool first) {
        if (!code && !message)
                return false;
        if (!first)
                append_clean(t, "; ", 2);
        if (code)
                append_clean(t, code, SIZE_MAX);
        if (code && message)
                append_clean(t, ": ", 2);
        if (message)
                append_clean(t, message, SIZE_MAX);
        return true;
}

static bool append_distribution_errors(Text *t, json_object *root) {
        json_object *errors = NULL;
        if (!json_object_object_get_ex(root, "errors", &errors) ||
            !json_object_is_type(errors, json_type_array))
                return false;
        size_t n = json_object_array_length(errors), shown = 0;
        for (size_t i = 0; i < n && shown < ERROR_ENTRIES_MAX; i++) {
                json_object *e = json_object_array_get_idx(errors, i);
                if (!json_object_is_type(e, json_type_object))
                        continue;
                if (append_pair(t, string_member(e, "code"), string_member(e, "message"), shown == 0))
                        shown++;
        }
        return shown > 0;
}

static bool append_json_message(Text *t, const char *body, size_t len) {
        _cleanup_(json_putp) json_object *root = registry_json_parse(body, len);
        if (!root || !json_object_is_type(root, json_type_object))
                return false;
        if (append_distribution_errors(t, root))
                return true;
        const char *details = string_member(root, "details") ?: string_member(root, "message");
        if (details)
                return append_pair(t, NULL, details, true);
        return append_pair(t, string_member(root, "error"), string_member(root, "error_description"), true);
}

static bool append_text_message(Text *t, const char *content_type, const char *body, size_t len) {
        if (!content_type || strncasecmp(content_type, "text/plain", 10) != 0)
                return false;
        size_t n = 0;
        while (n < len && body[n] != '\n' && body[n] != '\r' && body[n] != '\0')
                n++;
        while (n > 0 && body[n - 1] == ' ')
                n--;
        if (n == 0)
                return false;
        append_clean(t, body, n);
        return true;
}

char *registry_error_body_message(const char *content_type, const char *body, size_t len) {
        char *text = NULL;
        size_t text_len = 0;
        if (!body || len == 0)
                return NULL;
        Text t = {.f = open_memstream(&text, &text_len)};
        if (!t.f)
                abort();
        bool found = append_json_message(&t, body, len) || append_text_message(&t, content_type, body, len);
        if (fclose(t.f) != 0)
                abort();
        if (!found) {
                free(text);
                return NULL;
        }
        return text;
}

int registry_http_status_errno(long status) {
        switch (status) {
        case 401:
        case 403:
                return EACCES;
        case 404:
                return ENOENT;
        case 429:
                return EAGAIN; /* the registry is there but will not serve now: worth trying later */
        default:
                return status >= 500 && status <= 599 ? EAGAIN : EIO;
        }
}

int registry_curl_code_errno(CURLcode code) {
        switch (code) {
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_INVALIDCERTSTATUS:
        case CURLE_SSL_CLIENTCERT:
        case CURLE_USE_SSL_FAILED:
                return EPROTO;
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return ECONNREFUSED;
        /* The network failed us, not the registry's content: worth trying again later. */
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_OPERATION_TIMEDOUT:
                return EAGAIN;
        default:
                return EIO;
        }
}

CURLcode registry_refine_curl_code(CURLcode code, const char *errbuf) {
        /* OpenSSL words a peer's alert as "... SSL routines::tlsv13 alert certificate required". */
        if ((code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR) && errbuf &&
            strstr(errbuf, "SSL routines") && strstr(errbuf, " alert "))
                return CURLE_SSL_CONNECT_ERROR;
        return code;
}

static bool is_connection_cut(CURLcode code) {
        switch (code) {
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
                return true;
        default:
                return false;
        }
}

bool registry_should_resume(CURLcode code, uint64_t bytes_handed_on, unsigned fruitless_resumes) {
        return bytes_handed_on > 0 && fruitless_resumes < REGISTRY_MAX_FRUITLESS_RESUMES &&
               is_connection_cut(code);
}

bool registry_should_retry(CURLcode code, long status, uint64_t bytes_handed_on, unsigned attempts_made) {
        if (bytes_handed_on > 0 || attempts_made >= REGISTRY_MAX_ATTEMPTS)
                return false;
        if (code != CURLE_OK)
                return is_connection_cut(code);
        return status == 429 || (status >= 500 && status <= 599 && status != 501 && status != 505);
}

unsigned registry_retry_delay_ms(unsigned attempt) {
        unsigned ms = 100;
        for (unsigned i = 1; i < attempt && ms < 60000; i++)
                ms *= 4;
        return ms;
}
