/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>

#include <json-c/json.h>

#include "cancel.h"
#include "log.h"
#include "remotecommand.h"
#include "session.h"

/*
 * Kubernetes' remotecommand protocols (exec and attach). Over SPDY the client opens one stream per
 * channel, naming it in the streamType header; over WebSocket the channel is the first byte of each
 * message (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize).
 */

enum { CH_STDIN, CH_STDOUT, CH_STDERR, CH_ERROR, CH_RESIZE, N_CH };

static const char *const channel_names[N_CH] = {"stdin", "stdout", "stderr", "error", "resize"};

/*
 * Client input queued for the process is bounded: beyond this the session stops reading the socket. It is
 * the SPDY window, so that a client keeping to its window is never paused (docs/streaming.md).
 */
#define STDIN_HIGH SPDY_INITIAL_WINDOW
#define RESIZE_MAX 4096
/* The client has this long to open the streams it announced (as the kubelet's server allows). */
#define STREAM_SETUP_MS 30000
/*
 * A terminal command starts once the client sent its terminal size, or after this long: otherwise the
 * command could run (and ask for the size) before the first resize event, and see 0x0.
 */
#define FIRST_SIZE_WAIT_MS 250

typedef struct Rc {
        uint32_t ch[N_CH]; /* SPDY stream IDs; WebSocket: the channel numbers */
        bool have[N_CH];
        bool started, done;
        bool waiting_for_size, got_size;
        uint16_t width, height; /* the last size, applied at start when it came before */
        StreamIo io;
        void *handle;
        Buf stdin_buf;
        bool stdin_fin;
        Buf resize_buf;
        bool exited;
} Rc;

int remotecommand_channel_from_name(const char *name) {
        for (int i = 0; i < N_CH; i++)
                if (streq_ptr(name, channel_names[i]))
                        return i;
        return -1;
}

/* Which channels a request needs: the kubelet's count, so that the session starts once all are open. */
static bool channel_expected(const StreamRequest *r, int version, int ch) {
        switch (ch) {
        case CH_STDIN:
                return r->stdin_;
        case CH_STDOUT:
                return r->stdout_;
        case CH_STDERR:
                return r->stderr_ && !r->tty;
        case CH_ERROR:
                return true;
        default:
                return r->tty && version >= RC_V3;
        }
}

static Rc *rc_of(Session *s) {
        if (!s->state) {
                Rc *rc = xcalloc(1, sizeof(Rc));
                rc->io = (StreamIo){.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .exit_fd = -1};
                s->state = rc;
                s->setup_deadline_ns = monotonic_ns() + STREAM_SETUP_MS * 1000000LL;
        }
        return s->state;
}

static int channel_of(Session *s, Rc *rc, uint32_t id) {
        for (int i = 0; i < N_CH; i++)
                if (rc->have[i] && rc->ch[i] == id)
                        return i;
        (void)s;
        return -1;
}

char *remotecommand_status_json(int exit_code, const char *error) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "metadata", json_object_new_object());
        if (!error && exit_code == 0) {
                json_object_object_add(o, "status", json_object_new_string("Success"));
        } else if (!error) {
                _cleanup_free_ char *msg =
                        xasprintf("command terminated with non-zero exit code: %d", exit_code);
                _cleanup_free_ char *code = xasprintf("%d", exit_code);
                json_object *cause = json_object_new_object();
                json_object_object_add(cause, "reason", json_object_new_string("ExitCode"));
                json_object_object_add(cause, "message", json_object_new_string(code));
                json_object *causes = json_object_new_array();
                json_object_array_add(causes, cause);
                json_object *details = json_object_new_object();
                json_object_object_add(details, "causes", causes);
                json_object_object_add(o, "status", json_object_new_string("Failure"));
                json_object_object_add(o, "message", json_object_new_string(msg));
                json_object_object_add(o, "reason", json_object_new_string("NonZeroExitCode"));
                json_object_object_add(o, "details", details);
        } else {
                json_object_object_add(o, "status", json_object_new_string("Failure"));
                json_object_object_add(o, "message", json_object_new_string(error));
                json_object_object_add(o, "reason", json_object_new_string("InternalError"));
                json_object_object_add(o, "code", json_object_new_int(500));
        }
        char *s = xstrdup(
                json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return s;
}

/*
 * The outcome on the error channel: v4 and v5 send a Status object (also on success); older versions send
 * a plain message on failure only, so their clients cannot tell exit codes apart.
 */
static void send_outcome(Session *s, Rc *rc, int exit_code, const char *error) {
        if (!rc->have[CH_ERROR])
                return;
        if (s->version >= RC_V4) {
                _cleanup_free_ char *json = remotecommand_status_json(exit_code, error);
                session_send(s, rc->ch[CH_ERROR], json, strlen(json));
        } else if (error || exit_code != 0) {
                _cleanup_free_ char *msg =
                        error ? xstrdup(error)
                              : xasprintf("command terminated with non-zero exit code: %d", exit_code);
                session_send(s, rc->ch[CH_ERROR], msg, strlen(msg));
        }
}

static void close_fd(int *fd) {
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

static void close_io(StreamIo *io) {
        close_fd(&io->stdin_fd);
        close_fd(&io->stdout_fd);
        close_fd(&io->stderr_fd);
        close_fd(&io->exit_fd);
}

/* The process (or attach) ended and its output was read: report, close our channels, end the session. */
static void complete(Session *s, Rc *rc) {
        int code = 0;
        int r = s->backend->finish(s->backend->userdata, TAKE_PTR(rc->handle), false, &code);
        rc->done = true;
        close_io(&rc->io);
        if (r < 0)
                send_outcome(s, rc, 0, "the command's exit status is unknown");
        else
                send_outcome(s, rc, code, NULL);
        for (int i = CH_STDOUT; i <= CH_ERROR; i++)
                if (rc->have[i])
                        session_close_channel(s, rc->ch[i]);
        session_finish(s);
}

/* Input the command will not get: dropped, and its window given back. */
static void drop_stdin(Session *s, Rc *rc) {
        session_consumed(s, rc->ch[CH_STDIN], rc->stdin_buf.len);
        buf_done(&rc->stdin_buf);
}

static void stdin_closed(Session *s, Rc *rc) {
        if (rc->io.stdin_fd < 0)
                return;
        /* Attach: half-close the socket so conmon closes the container's stdin (if it was told to). */
        if (rc->io.attach_packets)
                shutdown(rc->io.stdin_fd, SHUT_WR);
        close_fd(&rc->io.stdin_fd);
        drop_stdin(s, rc);
}

static void set_nonblock(int fd) {
        if (fd >= 0)
                fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static int start(Session *s, Rc *rc) {
        rc->started = true;
        s->setup_deadline_ns = 0;
        _cleanup_(error_freep) Error *err = NULL;
        uint16_t w = rc->got_size ? rc->width : 0, h = rc->got_size ? rc->height : 0;
        if (s->backend->start(s->backend->userdata, s->req, w, h, &rc->io, &rc->handle, &err) < 0) {
                log_info("stream session %s: %s", s->peer, err->message);
                send_outcome(s, rc, 0, err->message);
                for (int i = CH_STDOUT; i <= CH_ERROR; i++)
                        if (rc->have[i])
                                session_close_channel(s, rc->ch[i]);
                rc->done = true;
                session_finish(s);
                return 0;
        }
        set_nonblock(rc->io.stdin_fd);
        set_nonblock(rc->io.stdout_fd);
        set_nonblock(rc->io.stderr_fd);
        if (rc->got_size)
                s->backend->resize(s->backend->userdata, rc->handle, rc->width, rc->height);
        if (rc->io.stdin_fd < 0)
                drop_stdin(s, rc);
        else if (rc->stdin_fin && rc->stdin_buf.len == 0)
                stdin_closed(s, rc);
        return 0;
}

/* All streams are open: start now, or once the terminal size came (bounded wait). */
static int ready(Session *s, Rc *rc) {
        if (s->req->tty && rc->have[CH_RESIZE] && !rc->got_size) {
                rc->waiting_for_size = true;
                s->setup_deadline_ns = 0;
                s->wake_ns = monotonic_ns() + FIRST_SIZE_WAIT_MS * 1000000LL;
                return 0;
        }
        rc->waiting_for_size = false;
        s->wake_ns = 0;
        return start(s, rc);
}

static bool all_expected(Session *s, Rc *rc) {
        for (int i = 0; i < N_CH; i++)
                if (channel_expected(s->req, s->version, i) && !rc->have[i])
                        return false;
        return true;
}

static int rc_stream_open(Session *s, uint32_t id, const SpdyHeaders *h, bool fin) {
        Rc *rc = rc_of(s);
        _cleanup_free_ char *type = spdy_headers_get(h, "streamtype");
        int ch = remotecommand_channel_from_name(type);
        if (ch < 0 || rc->have[ch] || rc->started) {
                log_warn("stream session %s: refusing a stream of type '%s'", s->peer, strempty(type));
                session_reset(s, id, SPDY_RST_PROTOCOL_ERROR);
                return 0;
        }
        rc->have[ch] = true;
        rc->ch[ch] = id;
        session_reply(s, id);
        if (fin && ch == CH_STDIN)
                rc->stdin_fin = true;
        if (all_expected(s, rc))
                return ready(s, rc);
        return 0;
}

static int rc_begin(Session *s) {
        Rc *rc = rc_of(s);
        for (int i = 0; i < N_CH; i++) {
                rc->have[i] = channel_expected(s->req, s->version, i);
                rc->ch[i] = (uint32_t)i;
        }
        /* The kubelet's WebSocket server opens with an empty message on each channel it writes. */
        for (int i = CH_STDOUT; i <= CH_ERROR; i++)
                if (rc->have[i])
                        session_send(s, (uint32_t)i, NULL, 0);
        return ready(s, rc);
}

/* Resize events are a stream of JSON objects {"Width":W,"Height":H}; apply each complete one. */
static void apply_resizes(Session *s, Rc *rc) {
        size_t start = 0;
        int depth = 0;
        for (size_t i = 0; i < rc->resize_buf.len; i++) {
                char c = (char)rc->resize_buf.data[i];
                if (c == '{' && depth++ == 0)
                        start = i;
                if (c != '}' || depth == 0 || --depth > 0)
                        continue;
                _cleanup_free_ char *text = xstrndup((char *)rc->resize_buf.data + start, i + 1 - start);
                json_object *o = json_tokener_parse(text), *w = NULL, *hh = NULL;
                if (o && json_object_object_get_ex(o, "Width", &w) &&
                    json_object_object_get_ex(o, "Height", &hh)) {
                        int64_t width = json_object_get_int64(w), height = json_object_get_int64(hh);
                        if (width > 0 && width <= 0xffff && height > 0 && height <= 0xffff) {
                                rc->width = (uint16_t)width;
                                rc->height = (uint16_t)height;
                                rc->got_size = true;
                                if (rc->handle)
                                        s->backend->resize(s->backend->userdata, rc->handle, rc->width,
                                                           rc->height);
                        }
                }
                json_object_put(o);
                buf_consume(&rc->resize_buf, i + 1);
                i = (size_t)-1;
                start = 0;
        }
        if (depth == 0)
                rc->resize_buf.len = 0; /* whitespace between objects */
}

static int rc_data(Session *s, uint32_t id, const uint8_t *p, size_t n) {
        Rc *rc = rc_of(s);
        int ch = channel_of(s, rc, id);
        /* Input that comes before the start (a terminal waiting for its size) is kept for the command. */
        if (ch == CH_STDIN && !rc->stdin_fin && (rc->io.stdin_fd >= 0 || !rc->started)) {
                buf_append(&rc->stdin_buf, p, n);
                return 0; /* consumed once written to the process */
        }
        session_consumed(s, id, n);
        if (ch == CH_RESIZE) {
                if (rc->resize_buf.len + n > RESIZE_MAX) {
                        log_warn("stream session %s: oversized resize message; closing", s->peer);
                        return -EMSGSIZE;
                }
                buf_append(&rc->resize_buf, p, n);
                apply_resizes(s, rc);
                if (rc->waiting_for_size && rc->got_size)
                        return ready(s, rc);
        }
        return 0;
}

static void rc_fin(Session *s, uint32_t id) {
        Rc *rc = rc_of(s);
        if (channel_of(s, rc, id) != CH_STDIN)
                return;
        rc->stdin_fin = true;
        if (rc->stdin_buf.len == 0 && rc->started)
                stdin_closed(s, rc);
}

static void rc_reset(Session *s, uint32_t id) {
        rc_fin(s, id);
}

static bool rc_can_receive(Session *s) {
        Rc *rc = rc_of(s);
        return rc->stdin_buf.len <= STDIN_HIGH;
}

/* May output for a channel be read now? Attach packets may be for either output channel. */
static bool room_for(Session *s, Rc *rc, int ch) {
        if (rc->io.attach_packets)
                return session_can_send_on(s, rc->ch[CH_STDOUT]) &&
                       (!rc->have[CH_STDERR] || session_can_send_on(s, rc->ch[CH_STDERR]));
        return session_can_send_on(s, rc->ch[ch]);
}

static size_t rc_pollfds(Session *s, struct pollfd *p, size_t max) {
        Rc *rc = rc_of(s);
        p[0] = (struct pollfd){.fd = room_for(s, rc, CH_STDOUT) ? rc->io.stdout_fd : -1, .events = POLLIN};
        p[1] = (struct pollfd){.fd = room_for(s, rc, CH_STDERR) ? rc->io.stderr_fd : -1, .events = POLLIN};
        p[2] = (struct pollfd){.fd = rc->stdin_buf.len ? rc->io.stdin_fd : -1, .events = POLLOUT};
        p[3] = (struct pollfd){.fd = rc->io.exit_fd, .events = POLLIN};
        (void)max;
        return 4;
}

/* Read one chunk of output; false at EOF. EAGAIN after the process exited also ends the source. */
static bool pump_output(Session *s, Rc *rc, int *fd, int ch) {
        uint8_t b[SESSION_READ_CHUNK + 1];
        ssize_t n = read(*fd, b, rc->io.attach_packets ? 8193 : SESSION_READ_CHUNK);
        if (n < 0 && errno == EINTR)
                return true;
        if (n < 0 && errno == EAGAIN)
                return !rc->exited;
        if (n <= 0)
                return false; /* EOF, or EIO from a terminal whose last user is gone */
        if (rc->io.attach_packets) {
                /* conmon: the first byte of each packet names the stream (2 stdout, 3 stderr). */
                if (n < 2)
                        return true;
                ch = b[0] == 3 && rc->have[CH_STDERR] ? CH_STDERR : CH_STDOUT;
                if (rc->have[ch])
                        session_send(s, rc->ch[ch], b + 1, (size_t)n - 1);
                return true;
        }
        if (rc->have[ch])
                session_send(s, rc->ch[ch], b, (size_t)n);
        return true;
}

static void write_stdin(Session *s, Rc *rc) {
        ssize_t n = write(rc->io.stdin_fd, rc->stdin_buf.data, rc->stdin_buf.len);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n < 0) {
                stdin_closed(s, rc); /* the process closed its stdin: drop what the client sends */
                rc->stdin_fin = true;
                return;
        }
        buf_consume(&rc->stdin_buf, (size_t)n);
        session_consumed(s, rc->ch[CH_STDIN], (size_t)n);
        if (rc->stdin_buf.len == 0 && rc->stdin_fin)
                stdin_closed(s, rc);
}

static int rc_on_poll(Session *s, struct pollfd *p, size_t n) {
        Rc *rc = rc_of(s);
        if (rc->waiting_for_size && monotonic_ns() >= s->wake_ns) {
                rc->got_size = false;
                rc->waiting_for_size = false;
                s->wake_ns = 0;
                return start(s, rc);
        }
        if (!rc->started || rc->done)
                return 0;
        if (p[3].revents) {
                rc->exited = true;
                close_fd(&rc->io.exit_fd);
        }
        /* After the exit, read what is left without waiting for EOF (background processes may hold it). */
        bool drain_out = rc->exited && room_for(s, rc, CH_STDOUT);
        bool drain_err = rc->exited && room_for(s, rc, CH_STDERR);
        if ((p[0].revents || drain_out) && rc->io.stdout_fd >= 0 &&
            !pump_output(s, rc, &rc->io.stdout_fd, CH_STDOUT))
                close_fd(&rc->io.stdout_fd);
        if ((p[1].revents || drain_err) && rc->io.stderr_fd >= 0 &&
            !pump_output(s, rc, &rc->io.stderr_fd, CH_STDERR))
                close_fd(&rc->io.stderr_fd);
        if (p[2].revents && rc->io.stdin_fd >= 0)
                write_stdin(s, rc);
        (void)n;
        bool outputs_done = rc->io.stdout_fd < 0 && rc->io.stderr_fd < 0;
        s->poll_now = rc->exited && ((rc->io.stdout_fd >= 0 && room_for(s, rc, CH_STDOUT)) ||
                                     (rc->io.stderr_fd >= 0 && room_for(s, rc, CH_STDERR)));
        /* Exec ends when the process exited and its output is read; attach when conmon closes the socket. */
        if (outputs_done && (rc->exited || rc->io.exit_fd < 0))
                complete(s, rc);
        return 0;
}

static void rc_end(Session *s, bool client_gone) {
        Rc *rc = s->state;
        if (!rc)
                return;
        if (rc->handle) {
                int code;
                log_info("stream session %s: the client went away; %s", s->peer,
                         s->req->kind == STREAM_EXEC ? "killing the command" : "detaching");
                s->backend->finish(s->backend->userdata, TAKE_PTR(rc->handle), true, &code);
        }
        close_io(&rc->io);
        buf_done(&rc->stdin_buf);
        buf_done(&rc->resize_buf);
        free(rc);
        s->state = NULL;
        (void)client_gone;
}

const SessionOps remotecommand_ops = {
        .stream_open = rc_stream_open,
        .begin = rc_begin,
        .data = rc_data,
        .fin = rc_fin,
        .reset = rc_reset,
        .can_receive = rc_can_receive,
        .pollfds = rc_pollfds,
        .on_poll = rc_on_poll,
        .end = rc_end,
};
