/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "digest.h"
#include "manifest.h"
#include "log.h"
#include "registry-client.h"
#include "registry-errors.h"
#include "strv.h"
#include "www-authenticate.h"

#define DEFAULT_CERTS_DIR "/etc/containers/certs.d"
#define DEFAULT_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define USER_AGENT "crio-c"
#define MAX_REDIRECTS 5L
/* Idle libcurl handles kept per client: their live connections are what makes reuse work. */
#define IDLE_HANDLES_MAX 8
#define ERROR_BODY_MAX (64 * 1024)
#define TOKEN_RESPONSE_MAX (1024 * 1024)
#define CHALLENGE_HEADER_MAX (64 * 1024)
#define CERT_FILE_MAX (4 * 1024 * 1024)
/* How often a backoff sleep looks at the cancel flag and the deadline. */
#define BACKOFF_SLICE_NS (20 * 1000 * 1000LL)

#define ACCEPT_MANIFESTS                                                                                    \
        "Accept: " MEDIA_TYPE_OCI_INDEX ", " MEDIA_TYPE_OCI_MANIFEST ", " MEDIA_TYPE_DOCKER_LIST            \
        ", " MEDIA_TYPE_DOCKER_MANIFEST ", " MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED                               \
        ", " MEDIA_TYPE_DOCKER_SCHEMA1

struct RegistryClient {
        char *host; /* as configured; also names certs.d/<host> */
        bool insecure;
        /* An insecure registry is tried over HTTPS without verification first, as containers/image
         * does; once TLS fails there, the client speaks plain HTTP to it from then on. */
        atomic_bool plain_http;
        char *repository;
        char *username, *password, *identity_token, *registry_token;
        char *ca_blob; /* PEM: the system bundle plus certs.d's *.crt; NULL: libcurl's defaults */
        size_t ca_blob_len;
        char *client_cert, *client_key; /* paths; NULL: none */
        const Cancel *cancel;
        int64_t progress_timeout_ns;
        int64_t connect_timeout_ns;

        pthread_mutex_t lock; /* guards the fields below: clients may be shared by pulling threads */
        char *authorization;  /* "Bearer ..." or "Basic ..." once negotiated; NULL: anonymous */
        CURL *idle[IDLE_HANDLES_MAX];
        size_t n_idle;
};

/* Where the body of a successful response goes. */
typedef struct Body {
        char what[160]; /* "manifest", "blob sha512:<128 hex>", "token response" */
        BlobSink sink;  /* streaming; NULL: collected in the transfer's buffer */
        void *userdata;
        size_t max_size;       /* cap of a collected body */
        const char *digest;    /* digested while it arrives, with this digest's algorithm; NULL: not */
        int64_t expected_size; /* -1: unknown */
} Body;

typedef struct Request {
        const char *url;
        const char *accept;          /* a whole "Accept: ..." header, or NULL */
        const char *form;            /* POST this x-www-form-urlencoded body; NULL: GET */
        const char *user, *password; /* Basic credentials for a token endpoint */
        bool registry_auth;          /* send the negotiated Authorization, negotiate on 401 */
        bool client_cert;            /* present certs.d's client certificate */
} Request;

/* One request, across its attempts. The response fields describe the latest response. */
typedef struct Transfer {
        RegistryClient *client;
        const Body *body;
        CURL *curl;
        char errbuf[CURL_ERROR_SIZE];
        long status;
        char *content_type; /* media type, parameters dropped */
        char *docker_digest;
        char *www_authenticate; /* all challenges, joined with ", " */
        char *buf;              /* the collected 2xx body, or the (capped) error body; NUL-terminated */
        size_t len, cap;
        Digester *digester;
        uint64_t received;    /* bytes of the 2xx body */
        uint64_t handed_on;   /* bytes given to the sink: from then on a retry would repeat them */
        uint64_t resume_from; /* > 0: this attempt asks for the body from here on (Range) */
        uint64_t skip;        /* bytes of a 200 answer to a Range request already handed on */
        int64_t range_start;  /* of a 206 answer's Content-Range; -1: none */
        Error *abort_error;   /* why a callback stopped the transfer */
        int64_t last_progress_ns;
        curl_off_t last_bytes;
} Transfer;

static int64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static bool endswith(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);
        return n >= m && streq(s + n - m, suffix);
}

static void free_secret(char *s) {
        if (s)
                explicit_bzero(s, strlen(s));
        free(s);
}

/* ---- Names and URLs ---------------------------------------------------------------------------- */

/* host[:port] or [v6]:port; no path, userinfo or dot-only names, since it is a URL part and a dir name. */
static bool host_is_valid(const char *h) {
        size_t n = strlen(h);
        if (n == 0 || n > 255 || h[0] == '.' || h[0] == '-' || strstr(h, ".."))
                return false;
        return strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") == n;
}

static bool is_lower_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Path components of the docker grammar: lower-case alphanumerics joined by '.', '_', '-'. */
static bool repository_is_valid(const char *r) {
        size_t n = strlen(r);
        if (n == 0 || n > 255 || strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789._-/") != n)
                return false;
        for (size_t i = 0; i < n; i++) {
                bool component_start = i == 0 || r[i - 1] == '/';
                bool component_end = i + 1 == n || r[i + 1] == '/';
                if ((component_start || component_end) && !is_lower_alnum(r[i]))
                        return false;
        }
        return true;
}

static bool tag_is_valid(const char *t) {
        size_t n = strlen(t);
        if (n == 0 || n > 128 || t[0] == '.' || t[0] == '-')
                return false;
        return strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static const char *endpoint_host(const char *host) {
        /* docker.io is the name in references; the API is served elsewhere. */
        return strcasecmp(host, "docker.io") == 0 ? "registry-1.docker.io" : host;
}

char *registry_url(const char *host, bool plain_http, const char *repository, const char *kind,
                   const char *reference) {
        return xasprintf("%s://%s/v2/%s/%s/%s", plain_http ? "http" : "https", endpoint_host(host),
                         repository, kind, reference);
}

/* host/path of a URL for messages: no scheme, and no query, which may carry signatures. */
static char *display_url(const char *url) {
        const char *s = strstr(url, "://");
        s = s ? s + 3 : url;
        return xstrndup(s, strcspn(s, "?#"));
}

/* scheme://authority of a URL, lower case, for same-origin checks. */
static char *url_origin(const char *url) {
        const char *s = strstr(url, "://");
        size_t n = s ? (size_t)(s - url) + 3 + strcspn(s + 3, "/?#") : strlen(url);
        char *o = xstrndup(url, n);
        for (char *q = o; *q; q++)
                if (*q >= 'A' && *q <= 'Z')
                        *q = (char)(*q - 'A' + 'a');
        return o;
}

static char *registry_origin(const RegistryClient *c) {
        _cleanup_free_ char *url =
                xasprintf("%s://%s", atomic_load(&c->plain_http) ? "http" : "https", endpoint_host(c->host));
        return url_origin(url);
}

/* ---- TLS material from certs.d ----------------------------------------------------------------- */

static int read_file_capped(const char *path, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if (st.st_size > CERT_FILE_MAX)
                return -EFBIG;
        _cleanup_free_ char *buf = xmalloc((size_t)st.st_size + 1);
        size_t len = 0;
        for (;;) {
                ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0 || (len += (size_t)n) == (size_t)st.st_size)
                        break;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of `dir`, sorted so that "the first client certificate" is well defined. */
static int list_dir_sorted(const char *dir, char ***ret) {
        DIR *d = opendir(dir);
        if (!d)
                return -errno;
        char **names = NULL;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        names = strv_push(names, xstrdup(de->d_name));
        closedir(d);
        if (names)
                qsort(names, strv_length(names), sizeof(char *), compare_strings);
        *ret = names;
        return 0;
}

static int append_pem(RegistryClient *c, const char *path, bool required, Error **reterr) {
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        int r = read_file_capped(path, &data, &len);
        if (r == -ENOENT && !required)
                return 0;
        if (r < 0)
                return error_set(reterr, -r, "read CA certificate %s: %s", path,
                                 r == -EINVAL ? "not a regular file" : strerror(-r));
        c->ca_blob = xrealloc(c->ca_blob, c->ca_blob_len + len + 2);
        memcpy(c->ca_blob + c->ca_blob_len, data, len);
        c->ca_blob_len += len;
        /* PEM files need not end in a newline; the next one must start on its own line. */
        c->ca_blob[c->ca_blob_len++] = '\n';
        c->ca_blob[c->ca_blob_len] = '\0';
        return 0;
}

static void global_init_once(void) {
        /* Failure here only means libcurl will try again in curl_easy_init(), where it aborts. */
        (void)curl_global_init(CURL_GLOBAL_DEFAULT);
}

/*
 * libcurl's set-up initialises OpenSSL (its configuration, engines, error strings: ~2 MiB of
 * touched pages), so it waits for the first registry call instead of the daemon's start.
 */
void registry_client_global_init(void) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        pthread_once(&once, global_init_once);
}

static CURL *easy_init(void) {
        registry_client_global_init();
        return curl_easy_init();
}

/*
 * CURLOPT_CAINFO takes one file and replaces the system bundle, so the CAs go to libcurl as one
 * in-memory PEM (CURLOPT_CAINFO_BLOB): libcurl's own default bundle first, then certs.d's *.crt.
 * Nothing is written to disk and nothing needs cleaning up.
 */
static int load_ca_files(RegistryClient *c, const char *dir, char *const *crts, Error **reterr) {
        const char *system_bundle = DEFAULT_CA_BUNDLE;
#if LIBCURL_VERSION_NUM >= 0x075400
        CURL *h = easy_init();
        char *path = NULL;
        if (h && curl_easy_getinfo(h, CURLINFO_CAINFO, &path) == CURLE_OK && path)
                system_bundle = path;
#endif
        int r = append_pem(c, system_bundle, false, reterr);
#if LIBCURL_VERSION_NUM >= 0x075400
        curl_easy_cleanup(h);
#endif
        STRV_FOREACH(name, crts) {
                if (r < 0)
                        break;
                _cleanup_free_ char *p = xasprintf("%s/%s", dir, *name);
                r = append_pem(c, p, true, reterr);
        }
        return r;
}

/* containers-certs.d(5): *.crt are CAs, X.cert needs X.key and the reverse. The first pair is used. */
static int load_certs_dir(RegistryClient *c, const char *certs_dir, Error **reterr) {
        _cleanup_free_ char *dir = xasprintf("%s/%s", certs_dir, c->host);
        _cleanup_strv_free_ char **names = NULL, **crts = NULL;
        int r = list_dir_sorted(dir, &names);
        if (r == -ENOENT || r == -ENOTDIR)
                return 0;
        if (r < 0)
                return error_set(reterr, -r, "read %s: %s", dir, strerror(-r));

        STRV_FOREACH(name, names) {
                bool cert = endswith(*name, ".cert"), key = endswith(*name, ".key");
                if (endswith(*name, ".crt"))
                        crts = strv_push(crts, xstrdup(*name));
                if (!cert && !key)
                        continue;
                _cleanup_free_ char *base = xstrndup(*name, strlen(*name) - (cert ? 5 : 4));
                _cleanup_free_ char *other = xasprintf("%s%s", base, cert ? ".key" : ".cert");
                if (!strv_contains(names, other))
                        return error_set(reterr, EINVAL, "%s/%s has no matching %s", dir, *name, other);
                if (cert && !c->client_cert) {
                        c->client_cert = xasprintf("%s/%s", dir, *name);
                        c->client_key = xasprintf("%s/%s", dir, other);
                }
        }
        return crts ? load_ca_files(c, dir, crts, reterr) : 0;
}

/* ---- The client -------------------------------------------------------------------------------- */

static char *strdup_or_null(const char *s) {
        return s ? xstrdup(s) : NULL;
}

/* The CRI sends "" for fields it does not set; treat that as absent. */
static char *strdup_nonempty(const char *s) {
        return s && s[0] ? xstrdup(s) : NULL;
}

static void copy_credentials(RegistryClient *c, const Credentials *cr) {
        if (!cr)
                return;
        c->username = strdup_nonempty(cr->username);
        c->password = strdup_or_null(cr->password);
        c->identity_token = strdup_nonempty(cr->identity_token);
        c->registry_token = strdup_nonempty(cr->registry_token);
}

static int validate_options(const RegistryClientOptions *o, Error **reterr) {
        if (!o->host || !host_is_valid(o->host))
                return error_set(reterr, EINVAL, "invalid registry host '%s'", strempty(o->host));
        if (!o->repository || !repository_is_valid(o->repository))
                return error_set(reterr, EINVAL, "invalid repository name '%s'", strempty(o->repository));
        if (o->credentials && o->credentials->registry_token && o->credentials->registry_token[0] &&
            !bearer_token_is_valid(o->credentials->registry_token))
                return error_set(reterr, EINVAL, "registry token has characters not allowed in a header");
        return 0;
}

int registry_client_new(const RegistryClientOptions *o, RegistryClient **ret, Error **reterr) {
        int r = validate_options(o, reterr);
        if (r < 0)
                return r;

        _cleanup_(registry_client_freep) RegistryClient *c = xcalloc(1, sizeof(*c));
        if (pthread_mutex_init(&c->lock, NULL) != 0)
                abort();
        c->host = xstrdup(o->host);
        c->repository = xstrdup(o->repository);
        c->insecure = o->insecure;
        atomic_init(&c->plain_http, false);
        c->cancel = o->cancel;
        c->progress_timeout_ns = o->progress_timeout_ns;
        c->connect_timeout_ns = o->connect_timeout_ns;
        copy_credentials(c, o->credentials);
        if (!c->insecure) {
                r = load_certs_dir(c, o->certs_dir ?: DEFAULT_CERTS_DIR, reterr);
                if (r < 0)
                        return error_prefix(reterr, "registry %s", c->host);
        }
        *ret = TAKE_PTR(c);
        return 0;
}

RegistryClient *registry_client_free(RegistryClient *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_idle; i++)
                curl_easy_cleanup(c->idle[i]);
        pthread_mutex_destroy(&c->lock);
        free(c->host);
        free(c->repository);
        free_secret(c->username);
        free_secret(c->password);
        free_secret(c->identity_token);
        free_secret(c->registry_token);
        free_secret(c->authorization);
        free(c->ca_blob);
        free(c->client_cert);
        free(c->client_key);
        free(c);
        return NULL;
}

void registry_client_freep(RegistryClient **c) {
        *c = registry_client_free(*c);
}

static CURL *take_handle(RegistryClient *c) {
        pthread_mutex_lock(&c->lock);
        CURL *h = c->n_idle > 0 ? c->idle[--c->n_idle] : NULL;
        pthread_mutex_unlock(&c->lock);
        if (!h && !(h = easy_init()))
                abort(); /* only fails when out of memory */
        return h;
}

static void return_handle(RegistryClient *c, CURL *h) {
        pthread_mutex_lock(&c->lock);
        if (c->n_idle < IDLE_HANDLES_MAX) {
                c->idle[c->n_idle++] = h;
                h = NULL;
        }
        pthread_mutex_unlock(&c->lock);
        if (h)
                curl_easy_cleanup(h);
}

static char *get_authorization(RegistryClient *c) {
        pthread_mutex_lock(&c->lock);
        char *a = strdup_or_null(c->authorization);
        pthread_mutex_unlock(&c->lock);
        return a;
}

static void set_authorization(RegistryClient *c, char *a) {
        pthread_mutex_lock(&c->lock);
        free_secret(c->authorization);
        c->authorization = a;
        pthread_mutex_unlock(&c->lock);
}

/* ---- Interruption ------------------------------------------------------------------------------ */

static int check_interrupt(const RegistryClient *c, Error **reterr) {
        if (!cancel_requested(c->cancel))
                return 0;
        int r = cancel_reason(c->cancel);
        return error_set(reterr, -r, r == -ETIMEDOUT ? "deadline exceeded" : "cancelled");
}

static int backoff(const RegistryClient *c, unsigned ms, Error **reterr) {
        int64_t end = now_ns() + (int64_t)ms * 1000000LL;
        for (;;) {
                int r = check_interrupt(c, reterr);
                if (r < 0)
                        return r;
                int64_t left = end - now_ns();
                if (left <= 0)
                        return 0;
                if (left > BACKOFF_SLICE_NS)
                        left = BACKOFF_SLICE_NS;
                struct timespec ts = {.tv_sec = 0, .tv_nsec = left};
                nanosleep(&ts, NULL);
        }
}

/* ---- Transfer callbacks ------------------------------------------------------------------------ */

static void transfer_reset(Transfer *t) {
        t->status = 0;
        t->content_type = mfree(t->content_type);
        t->docker_digest = mfree(t->docker_digest);
        t->www_authenticate = mfree(t->www_authenticate);
        t->len = 0;
        t->errbuf[0] = '\0';
        t->range_start = -1;
        /* A resumed body continues where the last attempt stopped: same count, same digest state. */
        if (t->resume_from > 0) {
                t->last_progress_ns = now_ns();
                return;
        }
        t->received = 0;
        t->digester = digester_free(t->digester);
        DigestAlgorithm a;
        if (t->body->digest && digest_parse(t->body->digest, &a, NULL) == 0)
                t->digester = digester_new(a);
        t->last_progress_ns = now_ns();
        t->last_bytes = 0;
}

static void transfer_done(Transfer *t) {
        if (t->curl) {
                /* Idle handles must not point into this Transfer (error buffer, callback data). */
                curl_easy_reset(t->curl);
                return_handle(t->client, t->curl);
        }
        free(t->content_type);
        free(t->docker_digest);
        free(t->www_authenticate);
        free(t->buf);
        digester_free(t->digester);
        error_free(t->abort_error);
}

static int buffer_append(Transfer *t, const char *data, size_t n, size_t max) {
        if (n > max - t->len)
                return -EFBIG;
        if (t->len + n + 1 > t->cap) {
                size_t cap = t->cap ? t->cap : 16 * 1024;
                while (cap < t->len + n + 1)
                        cap *= 2;
                t->buf = xrealloc(t->buf, cap);
                t->cap = cap;
        }
        memcpy(t->buf + t->len, data, n);
        t->len += n;
        t->buf[t->len] = '\0';
        return 0;
}

/* The start of a resumed body: a 206 must start where asked; a 200 repeats what was handed on. */
static int resume_accept(Transfer *t, const char **data, size_t *n) {
        if (t->status == 206 && t->range_start != (int64_t)t->resume_from)
                return error_set(&t->abort_error, EBADMSG,
                                 "%s: registry resumed at byte %" PRId64 ", not %" PRIu64, t->body->what,
                                 t->range_start, t->resume_from);
        size_t k = *n < t->skip ? *n : (size_t)t->skip;
        t->skip -= k;
        *data += k;
        *n -= k;
        return 0;
}

static int body_accept(Transfer *t, const char *data, size_t n) {
        const Body *b = t->body;
        if (t->resume_from > 0 && resume_accept(t, &data, &n) < 0)
                return -EBADMSG;
        if (n == 0)
                return 0;
        if (t->digester)
                digester_update(t->digester, data, n);
        t->received += n;
        if (b->expected_size >= 0 && t->received > (uint64_t)b->expected_size)
                return error_set(&t->abort_error, EBADMSG, "%s is longer than %" PRId64 " bytes", b->what,
                                 b->expected_size);
        if (!b->sink) {
                if (buffer_append(t, data, n, b->max_size) < 0)
                        return error_set(&t->abort_error, EFBIG, "%s exceeds %zu bytes", b->what,
                                         b->max_size);
                return 0;
        }
        Error *e = NULL;
        int r = b->sink(b->userdata, data, n, &e);
        t->handed_on += n;
        if (r < 0) {
                if (!e)
                        error_set(&e, r, "%s: %s", b->what, strerror(-r));
                t->abort_error = e;
                return r;
        }
        error_free(e);
        return 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata) {
        Transfer *t = userdata;
        size_t n = size * nmemb;
        if (t->status < 200 || t->status > 299) {
                /* Error bodies only feed messages: keep the start, drop the rest. */
                size_t room = t->len < ERROR_BODY_MAX ? ERROR_BODY_MAX - t->len : 0;
                (void)buffer_append(t, data, n < room ? n : room, ERROR_BODY_MAX);
                return n;
        }
        return body_accept(t, data, n) < 0 ? 0 : n;
}

/* The value of header `name` in `line` ("Name: value\r\n"), trimmed; NULL for other headers. */
static char *header_value(const char *line, size_t n, const char *name) {
        size_t k = strlen(name);
        if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
                return NULL;
        const char *v = line + k + 1, *end = line + n;
        while (v < end && (*v == ' ' || *v == '\t'))
                v++;
        while (end > v && strchr(" \t\r\n", end[-1]))
                end--;
        return xstrndup(v, (size_t)(end - v));
}

static void start_response(Transfer *t, const char *line, size_t n) {
        /* Each response of a redirect chain starts over; only the last one counts. */
        t->content_type = mfree(t->content_type);
        t->docker_digest = mfree(t->docker_digest);
        t->www_authenticate = mfree(t->www_authenticate);
        t->len = 0;
        const char *sp = memchr(line, ' ', n);
        t->status = sp && (size_t)(sp - line) + 4 <= n ? strtol(sp + 1, NULL, 10) : 0;
        t->skip = t->status == 200 ? t->resume_from : 0;
}

static void add_challenge(Transfer *t, char *v) {
        if (!t->www_authenticate) {
                t->www_authenticate = v;
                return;
        }
        if (strlen(t->www_authenticate) + strlen(v) < CHALLENGE_HEADER_MAX) {
                char *joined = xasprintf("%s, %s", t->www_authenticate, v);
                free(t->www_authenticate);
                t->www_authenticate = joined;
        }
        free(v);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata) {
        Transfer *t = userdata;
        size_t n = size * nmemb;
        char *v;

        if (n >= 5 && strncmp(data, "HTTP/", 5) == 0)
                start_response(t, data, n);
        else if ((v = header_value(data, n, "Content-Type"))) {
                v[strcspn(v, "; \t")] = '\0';
                free(t->content_type);
                t->content_type = v;
        } else if ((v = header_value(data, n, "Docker-Content-Digest"))) {
                free(t->docker_digest);
                t->docker_digest = v;
        } else if ((v = header_value(data, n, "WWW-Authenticate")))
                add_challenge(t, v);
        else if ((v = header_value(data, n, "Content-Range"))) {
                unsigned long long start;
                t->range_start = sscanf(v, "bytes %llu-", &start) == 1 ? (int64_t)start : -1;
                free(v);
        }
        return n;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
        Transfer *t = userdata;
        const RegistryClient *c = t->client;
        if (check_interrupt(c, &t->abort_error) < 0)
                return 1;
        int64_t now = now_ns();
        if (dlnow + ulnow != t->last_bytes) {
                t->last_bytes = dlnow + ulnow;
                t->last_progress_ns = now;
        } else if (c->progress_timeout_ns > 0 && now - t->last_progress_ns >= c->progress_timeout_ns) {
                error_set(&t->abort_error, ETIMEDOUT, "no data received for %" PRId64 " ms",
                          (now - t->last_progress_ns) / 1000000);
                return 1;
        }
        return 0;
}

/* ---- Performing requests ----------------------------------------------------------------------- */

/* libcurl's receive buffer for streamed blobs (its maximum is 512 KiB before 7.88, 10 MiB since). */
#define BLOB_READ_SIZE (512L * 1024)

static CURLcode setup_transport(RegistryClient *c, const Request *rq, Transfer *t) {
        CURL *h = t->curl;
        CURLcode cc;
        /*
         * Registries redirect blob GETs to storage; never let that reach file:// or other protocols,
         * nor plain http from a registry the user did not mark insecure (a downgrade anyone on the path
         * could then serve).
         */
        if ((cc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https")) ||
            (cc = curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, c->insecure ? "http,https" : "https")) ||
            (cc = curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L)) ||
            (cc = curl_easy_setopt(h, CURLOPT_MAXREDIRS, MAX_REDIRECTS)) ||
            (cc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L)) ||
            (cc = curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L)) ||
            (cc = curl_easy_setopt(h, CURLOPT_USERAGENT, USER_AGENT)) ||
            (cc = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t->errbuf)) ||
            (cc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write)) ||
            (cc = curl_easy_setopt(h, CURLOPT_WRITEDATA, t)) ||
            (cc = curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header)) ||
            (cc = curl_easy_setopt(h, CURLOPT_HEADERDATA, t)) ||
            (cc = curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L)) ||
            (cc = curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress)) ||
            (cc = curl_easy_setopt(h, CURLOPT_XFERINFODATA, t)))
                return cc;
        if (c->connect_timeout_ns > 0 &&
            (cc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->connect_timeout_ns / 1000000))))
                return cc;
        /*
         * Streamed blobs are read in large pieces rather than libcurl's 16 KiB: a tenth of the recv
         * calls, and each trip through digest, inflate and the extraction pipe carries more.
         */
        if ((cc = curl_easy_setopt(h, CURLOPT_BUFFERSIZE,
                                   t->body && t->body->sink ? BLOB_READ_SIZE : 16384L)))
                return cc;
        if (c->ca_blob) {
                struct curl_blob blob = {
                        .data = c->ca_blob, .len = c->ca_blob_len, .flags = CURL_BLOB_NOCOPY};
                if ((cc = curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob)))
                        return cc;
        }
        if (c->insecure && ((cc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L)) ||
                            (cc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L))))
                return cc;
        if (rq->client_cert && c->client_cert &&
            ((cc = curl_easy_setopt(h, CURLOPT_SSLCERT, c->client_cert)) ||
             (cc = curl_easy_setopt(h, CURLOPT_SSLKEY, c->client_key))))
                return cc;
        return CURLE_OK;
}

static struct curl_slist *header_append(struct curl_slist *l, const char *h) {
        struct curl_slist *n = curl_slist_append(l, h);
        if (!n)
                abort(); /* only fails when out of memory */
        return n;
}

/*
 * The Authorization header is one of ours, not libcurl's: libcurl drops custom Authorization headers
 * (and CURLOPT_USERNAME) when a redirect leads to another host, port or scheme (since 7.58/7.83), so
 * a registry token never reaches the storage backend a blob GET is redirected to.
 */
static CURLcode setup_request(RegistryClient *c, const Request *rq, Transfer *t,
                              struct curl_slist **headers) {
        CURL *h = t->curl;
        CURLcode cc;
        if (rq->accept)
                *headers = header_append(*headers, rq->accept);
        if (t->resume_from > 0) {
                _cleanup_free_ char *range = xasprintf("Range: bytes=%" PRIu64 "-", t->resume_from);
                *headers = header_append(*headers, range);
        }
        char *a = rq->registry_auth ? get_authorization(c) : NULL;
        if (a) {
                char *line = xasprintf("Authorization: %s", a);
                *headers = header_append(*headers, line);
                free_secret(line);
                free_secret(a);
        }
        if ((cc = curl_easy_setopt(h, CURLOPT_URL, rq->url)) ||
            (cc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, *headers)))
                return cc;
        if (rq->form && (cc = curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, rq->form)))
                return cc;
        if (rq->user && ((cc = curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC)) ||
                         (cc = curl_easy_setopt(h, CURLOPT_USERNAME, rq->user)) ||
                         (cc = curl_easy_setopt(h, CURLOPT_PASSWORD, strempty(rq->password)))))
                return cc;
        return CURLE_OK;
}

static CURLcode perform(RegistryClient *c, const Request *rq, Transfer *t) {
        struct curl_slist *headers = NULL;
        transfer_reset(t);
        curl_easy_reset(t->curl);
        CURLcode cc = setup_transport(c, rq, t);
        if (cc == CURLE_OK)
                cc = setup_request(c, rq, t, &headers);
        if (cc == CURLE_OK)
                cc = registry_refine_curl_code(curl_easy_perform(t->curl), t->errbuf);
        if (cc == CURLE_OK)
                curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->status);
        curl_slist_free_all(headers);
        return cc;
}

static int take_abort_error(Transfer *t, Error **reterr) {
        return error_propagate(reterr, TAKE_PTR(t->abort_error));
}

static int transfer_error(const Request *rq, const Transfer *t, CURLcode cc, Error **reterr) {
        _cleanup_free_ char *where = display_url(rq->url);
        const char *method = rq->form ? "POST" : "GET";
        const Body *b = t->body;

        if (cc == CURLE_PARTIAL_FILE && b->expected_size >= 0)
                return error_set(reterr, EBADMSG, "%s is truncated: got %" PRIu64 " of %" PRId64 " bytes",
                                 b->what, t->received, b->expected_size);
        if (cc == CURLE_PARTIAL_FILE)
                return error_set(reterr, EBADMSG, "%s is truncated: got %" PRIu64 " bytes (%s %s: %s)",
                                 b->what, t->received, method, where, t->errbuf);
        if (cc == CURLE_UNSUPPORTED_PROTOCOL)
                return error_set(reterr, EACCES,
                                 "%s %s: redirect to another protocol refused (plain http is allowed only "
                                 "for registries marked insecure): %s",
                                 method, where, t->errbuf[0] ? t->errbuf : curl_easy_strerror(cc));
        if (cc != CURLE_OK)
                return error_set(reterr, registry_curl_code_errno(cc), "%s %s: %s", method, where,
                                 t->errbuf[0] ? t->errbuf : curl_easy_strerror(cc));

        _cleanup_free_ char *detail = registry_error_body_message(t->content_type, t->buf, t->len);
        int e = registry_http_status_errno(t->status);
        return error_set(reterr, e, "%s%s %s: HTTP %ld%s%s", e == EACCES ? "unauthorized: " : "", method,
                         where, t->status, detail ? ": " : "", strempty(detail));
}

static int negotiate(RegistryClient *c, const Request *rq, const Transfer *t, Error **reterr);

static int request(RegistryClient *c, const Request *rq, Transfer *t, Error **reterr);

/* An insecure registry that does not speak TLS: switch the client to HTTP and send the request again. */
static bool fall_back_to_http(RegistryClient *c, CURLcode cc, const Request *rq) {
        if (!c->insecure || atomic_load(&c->plain_http) || strncasecmp(rq->url, "https://", 8) != 0)
                return false;
        if (registry_curl_code_errno(cc) != EPROTO && cc != CURLE_SSL_CONNECT_ERROR)
                return false;
        _cleanup_free_ char *own = registry_origin(c), *origin = url_origin(rq->url);
        if (strcmp(own, origin) != 0)
                return false;
        atomic_store(&c->plain_http, true);
        return true;
}

static int request_over_http(RegistryClient *c, const Request *rq, Transfer *t, Error **reterr) {
        _cleanup_free_ char *url = xasprintf("http://%s", rq->url + 8);
        Request plain = *rq;
        plain.url = url;
        return request(c, &plain, t, reterr);
}

/*
 * Send a request until it succeeds, negotiating authentication once, retrying what may be retried, and
 * resuming a streamed body cut off midway from the bytes already handed on (with backoff, bounded).
 */
static int request(RegistryClient *c, const Request *rq, Transfer *t, Error **reterr) {
        bool negotiated = false;
        unsigned fruitless = 0;
        for (unsigned attempt = 1;;) {
                int r = check_interrupt(c, reterr);
                if (r < 0)
                        return r;
                CURLcode cc = perform(c, rq, t);
                if (t->abort_error)
                        return take_abort_error(t, reterr);
                if (cc != CURLE_OK && !t->handed_on && fall_back_to_http(c, cc, rq))
                        return request_over_http(c, rq, t, reterr);
                if (cc == CURLE_OK && t->status >= 200 && t->status <= 299)
                        return 0;
                /* A cached token may have expired: a 401 always earns one fresh negotiation. */
                if (cc == CURLE_OK && t->status == 401 && rq->registry_auth && !negotiated) {
                        negotiated = true;
                        r = negotiate(c, rq, t, reterr);
                        if (r < 0)
                                return r;
                        continue;
                }
                fruitless = t->handed_on > t->resume_from ? 0 : fruitless + 1;
                if (registry_should_resume(cc, t->handed_on, fruitless)) {
                        log_debug("%s cut off after %" PRIu64 " bytes (%s); resuming", t->body->what,
                                  t->handed_on, curl_easy_strerror(cc));
                        t->resume_from = t->handed_on;
                        r = backoff(c, registry_retry_delay_ms(fruitless + 1), reterr);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (!registry_should_retry(cc, t->status, t->handed_on, attempt))
                        return transfer_error(rq, t, cc, reterr);
                r = backoff(c, registry_retry_delay_ms(attempt), reterr);
                if (r < 0)
                        return r;
                attempt++;
        }
}

/* ---- Authentication ---------------------------------------------------------------------------- */

static int fetch_token(RegistryClient *c, const AuthChallenge *ch, const char *url, const char *scope,
                       char **ret, Error **reterr) {
        Body body = {.what = "token response", .max_size = TOKEN_RESPONSE_MAX, .expected_size = -1};
        _cleanup_(transfer_done) Transfer t = {.client = c, .body = &body, .curl = take_handle(c)};
        _cleanup_free_ char *form = NULL, *origin = url_origin(url), *own = registry_origin(c);
        /* The client certificate is for the registry, not for a token server somewhere else. */
        Request rq = {.url = url, .client_cert = streq(origin, own)};

        if (c->identity_token) {
                form = bearer_refresh_form(ch, scope, c->identity_token);
                rq.form = form;
                rq.url = auth_challenge_get(ch, "realm");
        } else if (c->username) {
                rq.user = c->username;
                rq.password = c->password;
        }
        int r = request(c, &rq, &t, reterr);
        if (form)
                explicit_bzero(form, strlen(form));
        if (r < 0)
                return r;
        /* A token server answering nonsense is an authentication failure, not a bad argument. */
        _cleanup_error_ Error *e = NULL;
        if (bearer_token_parse(t.buf, t.len, ret, &e) < 0)
                return error_set(reterr, EACCES, "unauthorized: %s", e->message);
        return 0;
}

static int bearer_authorization(RegistryClient *c, const AuthChallenge *ch, char **ret, Error **reterr) {
        if (c->registry_token) {
                *ret = xasprintf("Bearer %s", c->registry_token);
                return 0;
        }
        _cleanup_free_ char *scope = xasprintf("repository:%s:pull", c->repository);
        _cleanup_free_ char *url = NULL, *token = NULL;
        _cleanup_error_ Error *e = NULL;
        int r = bearer_token_url(ch, scope, &url, &e);
        if (r < 0)
                return error_set(reterr, EACCES, "unauthorized: %s: %s", c->host, e->message);
        /* Credentials and tokens travel in the clear only to a registry the user called insecure. */
        if (!c->insecure && strncasecmp(url, "https://", 8) != 0)
                return error_set(reterr, EACCES, "unauthorized: token realm of %s is not https", c->host);
        r = fetch_token(c, ch, url, scope, &token, reterr);
        if (r < 0)
                return error_prefix(reterr, "get bearer token for %s", c->host);
        *ret = xasprintf("Bearer %s", token);
        explicit_bzero(token, strlen(token));
        return 0;
}

static char *basic_authorization(const char *user, const char *password) {
        _cleanup_free_ char *plain = xasprintf("%s:%s", user, strempty(password));
        size_t n = strlen(plain);
        char *out = xmalloc(sizeof("Basic ") - 1 + 4 * ((n + 2) / 3) + 1);
        memcpy(out, "Basic ", 6);
        EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)plain, (int)n);
        explicit_bzero(plain, n);
        return out;
}

static char *scheme_names(const AuthChallenges *l) {
        char *joined = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&joined, &len);
        if (!f)
                abort();
        for (size_t i = 0; i < l->n; i++)
                fprintf(f, "%s%s", i == 0 ? "" : ", ", l->items[i].scheme);
        if (fclose(f) != 0)
                abort();
        return joined;
}

/* After a 401: work out the Authorization for this registry from its challenge and our credentials. */
static int negotiate(RegistryClient *c, const Request *rq, const Transfer *t, Error **reterr) {
        _cleanup_(auth_challenges_freep) AuthChallenges *l = NULL;
        _cleanup_error_ Error *e = NULL;
        if (!t->www_authenticate)
                return transfer_error(rq, t, CURLE_OK, reterr);
        if (www_authenticate_parse(t->www_authenticate, &l, &e) < 0)
                return error_set(reterr, EACCES, "unauthorized: %s: malformed WWW-Authenticate header: %s",
                                 c->host, e->message);

        _cleanup_free_ char *authorization = NULL;
        const AuthChallenge *ch = auth_challenges_find(l, "bearer");
        int r = 0;
        if (ch)
                r = bearer_authorization(c, ch, &authorization, reterr);
        else if (auth_challenges_find(l, "basic") && c->username)
                authorization = basic_authorization(c->username, c->password);
        else if (auth_challenges_find(l, "basic"))
                return transfer_error(rq, t, CURLE_OK, reterr); /* no credentials: the registry's words */
        else {
                _cleanup_free_ char *names = scheme_names(l);
                return error_set(reterr, EACCES, "unauthorized: %s asks for unsupported authentication: %s",
                                 c->host, names);
        }
        if (r < 0)
                return r;
        set_authorization(c, TAKE_PTR(authorization));
        return 0;
}

/* ---- Manifests and blobs ----------------------------------------------------------------------- */

static int check_body_digest(const char *expected, const char *source, const Transfer *t, Error **reterr) {
        DigestAlgorithm a;
        if (digest_parse(expected, &a, NULL) < 0)
                return error_set(reterr, EBADMSG, "registry sent an invalid %s", source);
        _cleanup_free_ char *got = digest_buffer(a, t->buf, t->len);
        if (!streq(got, expected))
                return error_set(reterr, EBADMSG, "manifest digest mismatch: %s says %s, the body has %s",
                                 source, expected, got);
        return 0;
}

static int verify_manifest(const char *reference, const Transfer *t, Error **reterr) {
        const char *type = t->content_type;
        /*
         * A signed schema 1 manifest's digest covers the payload without its signatures, so it never
         * matches the body; such manifests are refused by the parser anyway, with a clearer message.
         */
        if (type &&
            (streq(type, MEDIA_TYPE_DOCKER_SCHEMA1) || streq(type, MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED)))
                return 0;
        if (t->docker_digest) {
                int r = check_body_digest(t->docker_digest, "Docker-Content-Digest", t, reterr);
                if (r < 0)
                        return r;
        }
        if (digest_is_valid(reference))
                return check_body_digest(reference, "the requested digest", t, reterr);
        return 0;
}

int registry_get_manifest(RegistryClient *c, const char *reference, char **ret_body, size_t *ret_len,
                          char **ret_content_type, char **ret_digest, Error **reterr) {
        if (!reference || (!digest_is_valid(reference) && !tag_is_valid(reference)))
                return error_set(reterr, EINVAL, "invalid tag or digest '%s'", strempty(reference));

        _cleanup_free_ char *url =
                registry_url(c->host, atomic_load(&c->plain_http), c->repository, "manifests", reference);
        Body body = {.what = "manifest", .max_size = MANIFEST_MAX_SIZE, .expected_size = -1};
        _cleanup_(transfer_done) Transfer t = {.client = c, .body = &body, .curl = take_handle(c)};
        Request rq = {.url = url, .accept = ACCEPT_MANIFESTS, .registry_auth = true, .client_cert = true};
        int r = request(c, &rq, &t, reterr);
        if (r >= 0)
                r = verify_manifest(reference, &t, reterr);
        if (r < 0)
                return error_prefix(reterr, "fetch manifest %s of %s/%s", reference, c->host, c->repository);

        if (ret_digest)
                *ret_digest = digest_is_valid(reference) ? xstrdup(reference)
                                                         : digest_buffer(DIGEST_SHA256, t.buf, t.len);
        if (ret_content_type)
                *ret_content_type = strdup_or_null(t.content_type);
        if (ret_len)
                *ret_len = t.len;
        *ret_body = t.buf ? TAKE_PTR(t.buf) : xstrdup("");
        return 0;
}

static int blob_transfer(RegistryClient *c, Body *body, Transfer *t, Error **reterr) {
        if (!digest_is_valid(body->digest))
                return error_set(reterr, EINVAL, "invalid blob digest '%s'", strempty(body->digest));
        _cleanup_free_ char *url =
                registry_url(c->host, atomic_load(&c->plain_http), c->repository, "blobs", body->digest);
        Request rq = {.url = url, .registry_auth = true, .client_cert = true};

        snprintf(body->what, sizeof(body->what), "blob %s", body->digest);
        t->curl = take_handle(c);
        int r = request(c, &rq, t, reterr);
        if (r < 0)
                return r;
        if (body->expected_size >= 0 && t->received != (uint64_t)body->expected_size)
                return error_set(reterr, EBADMSG,
                                 "blob %s is truncated: got %" PRIu64 " of %" PRId64 " bytes", body->digest,
                                 t->received, body->expected_size);
        _cleanup_free_ char *got = digester_result(t->digester);
        if (!streq(got, body->digest))
                return error_set(reterr, EBADMSG, "blob %s has the wrong digest %s", body->digest, got);
        return 0;
}

int registry_get_blob(RegistryClient *c, const char *digest, size_t max_size, char **ret_body,
                      size_t *ret_len, Error **reterr) {
        Body body = {.digest = digest, .max_size = max_size, .expected_size = -1};
        _cleanup_(transfer_done) Transfer t = {.client = c, .body = &body};
        int r = blob_transfer(c, &body, &t, reterr);
        if (r < 0)
                return error_prefix(reterr, "fetch %s/%s", c->host, c->repository);
        if (ret_len)
                *ret_len = t.len;
        *ret_body = t.buf ? TAKE_PTR(t.buf) : xstrdup("");
        return 0;
}

int registry_fetch_blob(RegistryClient *c, const char *digest, int64_t expected_size, BlobSink sink,
                        void *userdata, Error **reterr) {
        Body body = {.digest = digest, .sink = sink, .userdata = userdata, .expected_size = expected_size};
        _cleanup_(transfer_done) Transfer t = {.client = c, .body = &body};
        int r = blob_transfer(c, &body, &t, reterr);
        if (r < 0)
                return error_prefix(reterr, "fetch %s/%s", c->host, c->repository);
        return 0;
}
