/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "fs-util.h"
#include "http-api.h"
#include "listener.h"
#include "log.h"
#include "rpc-server.h"

#define HTTP2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define PREFACE_LEN (sizeof(HTTP2_PREFACE) - 1)
#define MAX_PENDING 256
#define CLASSIFY_TIMEOUT_MS 10000
/* A client that sent part of the preface is looked at again after this long. */
#define PARTIAL_RETRY_MS 5
#define ACCEPT_PAUSE_MS 100

typedef struct Pending {
        int fd;
        long long deadline_ms;
        long long retry_at_ms; /* 0: poll for input */
} Pending;

struct Listener {
        char *path;
        int fd;
        int wake_fd;
        pthread_t thread;
        bool running;
        RpcServer *rpc;
        HttpApi *http;
        Pending pending[MAX_PENDING];
        size_t n_pending;
        long long accept_paused_until_ms; /* out of fds: stop polling the socket for a while */
};

static long long now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fill_addr(const char *path, struct sockaddr_un *sa, Error **reterr) {
        *sa = (struct sockaddr_un){.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(sa->sun_path))
                return error_set(reterr, ENAMETOOLONG, "socket path '%s' is too long", path);
        memcpy(sa->sun_path, path, strlen(path));
        return 0;
}

/*
 * Whether the process that listens on a connected socket is still alive. A daemon that was just
 * killed can leave its listening socket accepting connections for a few milliseconds after it was
 * reaped (the kernel may finish closing an exiting process's files asynchronously), so a successful
 * connect alone does not prove a live owner.
 */
static bool listener_alive(int connected_fd) {
        struct ucred peer;
        socklen_t len = sizeof(peer);
        if (getsockopt(connected_fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0 || peer.pid <= 0)
                return true; /* cannot tell: assume the worst */
        return kill(peer.pid, 0) == 0 || errno != ESRCH;
}

/*
 * A socket file that accepts connections from a live listener belongs to a running daemon; one that
 * refuses, or whose listener is gone, is stale.
 */
static int check_existing(const char *path, const struct sockaddr_un *sa, Error **reterr) {
        struct stat st;
        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : error_set(reterr, errno, "inspect socket '%s': %m", path);
        if (!S_ISSOCK(st.st_mode))
                return error_set(reterr, EEXIST, "'%s' exists and is not a socket; refusing to replace it",
                                 path);
        _cleanup_close_ int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe < 0)
                return error_set(reterr, errno, "socket: %m");
        if (connect(probe, (const struct sockaddr *)sa, sizeof(*sa)) == 0 && listener_alive(probe))
                return error_set(reterr, EADDRINUSE, "another daemon is already serving '%s'; stop it first",
                                 path);
        if (unlink(path) < 0 && errno != ENOENT)
                return error_set(reterr, errno, "remove stale socket '%s': %m", path);
        return 0;
}

int listener_open(const char *path, Listener **ret, Error **reterr) {
        struct sockaddr_un sa;
        int r = fill_addr(path, &sa, reterr);
        if (r < 0)
                return r;
        r = mkdir_parents(path, 0755);
        if (r < 0)
                return error_set(reterr, r, "create the directory of '%s': %s", path, strerror(-r));
        r = check_existing(path, &sa, reterr);
        if (r < 0)
                return r;

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return error_set(reterr, errno, "socket: %m");
        /* Bind under a restrictive umask so the socket is never briefly open to everyone. */
        mode_t old = umask(0117);
        r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (r < 0)
                return error_set(reterr, errno, "bind '%s': %m", path);
        if (chmod(path, 0660) < 0 || listen(fd, 512) < 0) {
                int saved = errno;
                unlink(sa.sun_path);
                return error_set(reterr, saved, "set up socket '%s': %s", sa.sun_path, strerror(saved));
        }
        Listener *l = xcalloc(1, sizeof(*l));
        l->path = xstrdup(path);
        l->fd = TAKE_FD(fd);
        l->wake_fd = -EBADF;
        *ret = l;
        return 0;
}

static void drop_pending(Listener *l, size_t i) {
        close(l->pending[i].fd);
        l->pending[i] = l->pending[--l->n_pending];
}

static void accept_new(Listener *l) {
        for (;;) {
                int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
                        /* The connection stays queued and the socket readable: without a pause, poll spins.
                         */
                        if (l->accept_paused_until_ms == 0)
                                log_error("cannot accept connections: %m; retrying every %d ms",
                                          ACCEPT_PAUSE_MS);
                        l->accept_paused_until_ms = now_ms() + ACCEPT_PAUSE_MS;
                        return;
                }
                if (fd < 0)
                        return;
                l->accept_paused_until_ms = 0;
                if (l->n_pending == MAX_PENDING) {
                        log_warn("too many connections waiting to be classified; dropping one");
                        close(fd);
                        continue;
                }
                l->pending[l->n_pending++] =
                        (Pending){.fd = fd, .deadline_ms = now_ms() + CLASSIFY_TIMEOUT_MS};
        }
}

typedef enum Kind { KIND_WAIT, KIND_GRPC, KIND_HTTP, KIND_GARBAGE, KIND_CLOSED } Kind;

static Kind classify(int fd) {
        char buf[PREFACE_LEN];
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
        if (n == 0)
                return KIND_CLOSED;
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? KIND_WAIT : KIND_CLOSED;
        /* HTTP methods are upper-case tokens; anything else is not worth handing to the HTTP parser. */
        if (buf[0] < 'A' || buf[0] > 'Z')
                return KIND_GARBAGE;
        if (memcmp(buf, HTTP2_PREFACE, (size_t)n) != 0)
                return KIND_HTTP;
        return (size_t)n == PREFACE_LEN ? KIND_GRPC : KIND_WAIT;
}

static void reject_garbage(int fd) {
        static const char reply[] =
                "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        /* Best effort: the socket is non-blocking and about to be closed either way. */
        if (send(fd, reply, sizeof(reply) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                log_debug("cannot answer a malformed request: %m");
        close(fd);
}

static void hand_over(Listener *l, size_t i, Kind kind) {
        int fd = l->pending[i].fd;
        l->pending[i] = l->pending[--l->n_pending];
        if (kind == KIND_GARBAGE)
                reject_garbage(fd);
        else if (kind == KIND_GRPC)
                rpc_server_adopt_fd(l->rpc, fd);
        else
                http_api_add_connection(l->http, fd);
}

/* Look at every pending connection that poll marked readable (or whose retry time came). */
static void service_pending(Listener *l, const struct pollfd *pfds, size_t n_polled, const size_t *map) {
        long long now = now_ms();
        for (size_t k = n_polled; k-- > 0;) {
                size_t i = map[k];
                Pending *p = &l->pending[i];
                bool due = p->retry_at_ms ? now >= p->retry_at_ms : (pfds[k].revents != 0);
                if (!due) {
                        if (now >= p->deadline_ms)
                                drop_pending(l, i);
                        continue;
                }
                Kind kind = classify(p->fd);
                if (kind == KIND_CLOSED || (kind == KIND_WAIT && now >= p->deadline_ms))
                        drop_pending(l, i);
                else if (kind == KIND_WAIT)
                        p->retry_at_ms = now + PARTIAL_RETRY_MS;
                else
                        hand_over(l, i, kind);
        }
}

static void *listener_main(void *arg) {
        Listener *l = arg;
        struct pollfd pfds[MAX_PENDING + 2];
        size_t map[MAX_PENDING];

        for (;;) {
                size_t n = 0;
                int timeout = 1000;
                long long now = now_ms();
                for (size_t i = 0; i < l->n_pending; i++) {
                        const Pending *p = &l->pending[i];
                        long long wait = (p->retry_at_ms ? p->retry_at_ms : p->deadline_ms) - now;
                        if (wait < timeout)
                                timeout = wait < 0 ? 0 : (int)wait;
                        pfds[n] = (struct pollfd){.fd = p->retry_at_ms ? -1 : p->fd, .events = POLLIN};
                        map[n++] = i;
                }
                bool paused = l->accept_paused_until_ms > now;
                if (paused && l->accept_paused_until_ms - now < timeout)
                        timeout = (int)(l->accept_paused_until_ms - now);
                pfds[n] = (struct pollfd){.fd = paused ? -1 : l->fd, .events = POLLIN};
                pfds[n + 1] = (struct pollfd){.fd = l->wake_fd, .events = POLLIN};
                if (poll(pfds, n + 2, timeout) < 0) {
                        /* EINTR, or ENOMEM for the poll set: try again rather than stop serving. */
                        if (errno != EINTR)
                                log_error("poll on the listening socket failed: %m");
                        continue;
                }
                if (pfds[n + 1].revents)
                        break;
                service_pending(l, pfds, n, map);
                if (pfds[n].revents || (l->accept_paused_until_ms && now_ms() >= l->accept_paused_until_ms))
                        accept_new(l);
        }
        return NULL;
}

int listener_start(Listener *l, RpcServer *rpc, HttpApi *http, Error **reterr) {
        l->rpc = rpc;
        l->http = http;
        l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (l->wake_fd < 0)
                return error_set(reterr, errno, "eventfd: %m");
        int r = pthread_create(&l->thread, NULL, listener_main, l);
        if (r != 0)
                return error_set(reterr, r, "start the accept thread");
        l->running = true;
        return 0;
}

Listener *listener_free(Listener *l) {
        if (!l)
                return NULL;
        if (l->running) {
                uint64_t one = 1;
                if (write(l->wake_fd, &one, sizeof(one)) < 0)
                        log_error("cannot wake the accept thread: %m");
                pthread_join(l->thread, NULL);
        }
        while (l->n_pending > 0)
                drop_pending(l, 0);
        close(l->fd);
        if (l->wake_fd >= 0)
                close(l->wake_fd);
        unlink(l->path);
        free(l->path);
        free(l);
        return NULL;
}
