/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/*
 * The streaming server (docs/streaming.md): Exec, Attach and PortForward answer with a URL on it carrying a
 * single-use token; the client then upgrades an HTTP/1.1 request on that URL to SPDY/3.1 or WebSocket and
 * speaks Kubernetes' remotecommand or portforward protocol. src/stream/ knows nothing of containers: the
 * daemon hands it a StreamBackend that starts processes and opens attach sockets.
 */

typedef enum StreamKind { STREAM_EXEC, STREAM_ATTACH, STREAM_PORTFORWARD } StreamKind;

typedef struct StreamRequest {
        StreamKind kind;
        char *container_id; /* exec, attach */
        char *pod_id;       /* port-forward */
        char **cmd;         /* exec */
        bool tty, stdin_, stdout_, stderr_;
        int32_t *ports; /* port-forward over WebSocket takes its ports from here */
        size_t n_ports;
} StreamRequest;

StreamRequest *stream_request_free(StreamRequest *r);

/*
 * What a started exec or attach gives the session; the session owns and closes the fds. With a tty,
 * stdout_fd is the terminal and stdin_fd a second descriptor of it. With attach_packets, stdout_fd is
 * conmon's attach socket (SOCK_SEQPACKET): every packet starts with a stream byte (2 stdout, 3 stderr) and
 * input is written to the same socket.
 */
typedef struct StreamIo {
        int stdin_fd, stdout_fd, stderr_fd;
        int exit_fd; /* readable once the process exited (a pidfd); -1 for attach */
        bool attach_packets;
} StreamIo;

typedef struct StreamBackend {
        void *userdata;
        /*
         * Start the request's command (exec) or open the container's attach socket. width and height are the
         * terminal's size when the client sent one before the start (else 0). May block briefly.
         */
        int (*start)(void *userdata, const StreamRequest *r, uint16_t width, uint16_t height, StreamIo *io,
                     void **ret_handle, Error **reterr);
        /* Terminal size in columns and rows. */
        int (*resize)(void *userdata, void *handle, uint16_t width, uint16_t height);
        /*
         * Done with a started request: kill (exec) if asked, then wait for it and free the handle. 0 with
         * the exit code for exec (attach: 0), or -errno. Blocks.
         */
        int (*finish)(void *userdata, void *handle, bool kill, int *ret_exit_code);
        /* The pod's network namespace file ("" for the host's), for port-forward. */
        int (*pod_netns)(void *userdata, const char *pod_id, char **ret_path, Error **reterr);
} StreamBackend;

typedef struct StreamConfig {
        const char *address, *port; /* port "0": a free port */
        bool tls;
        const char *tls_cert, *tls_key, *tls_ca;
        const char *tls_priorities; /* GnuTLS priority string: which TLS versions are accepted */
        int64_t idle_timeout_ms;    /* 0: sessions may stay idle */
        size_t max_pending;         /* tokens handed out and not used yet */
        int64_t token_ttl_ms;
} StreamConfig;

typedef struct StreamServer StreamServer;

/* Bind and start serving. The backend is copied; its userdata must outlive the server. */
int stream_server_new(const StreamConfig *config, const StreamBackend *backend, StreamServer **ret,
                      Error **reterr);
/* Close every session (exec'd processes are killed), stop listening, free. Blocks until sessions ended. */
StreamServer *stream_server_free(StreamServer *s);

/* Take a request and answer with its URL (caller frees). -ENOSPC when too many tokens are pending. */
int stream_server_register(StreamServer *s, StreamRequest *r, char **ret_url, Error **reterr);

/* The port the server listens on (useful when configured as 0). */
uint16_t stream_server_port(StreamServer *s);
