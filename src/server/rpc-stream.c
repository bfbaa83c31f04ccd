/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "pb-util.h"
#include "rpc-stream.h"
#include "runtime.h"
#include "stream.h"
#include "strv.h"

/* The kubelet's streaming server allows as many requests in flight, each for a minute. */
#define MAX_PENDING_STREAMS 1000
#define STREAM_TOKEN_TTL_MS 60000

/* An attach handle: the ctl fifo for resizes. The socket itself belongs to the session. */
typedef struct AttachHandle {
        int ctl;
} AttachHandle;

typedef struct Handle {
        StreamKind kind;
        ExecProcess *exec;
        AttachHandle attach;
} Handle;

static int start_exec(Runtime *rt, const StreamRequest *r, uint16_t width, uint16_t height, StreamIo *io,
                      Handle *h, Error **reterr) {
        ExecIo e;
        ExecOptions o = {.tty = r->tty,
                         .want_stdin = r->stdin_,
                         .want_stdout = r->stdout_,
                         .width = width,
                         .height = height};
        int q = runtime_container_exec_start(rt, r->container_id, r->cmd, &o, &h->exec, &e, reterr);
        if (q < 0)
                return q;
        *io = (StreamIo){.stdin_fd = e.stdin_fd,
                         .stdout_fd = e.stdout_fd,
                         .stderr_fd = e.stderr_fd,
                         .exit_fd = e.exit_fd};
        return 0;
}

static int start_attach(Runtime *rt, const StreamRequest *r, StreamIo *io, Handle *h, Error **reterr) {
        int sock = -1, ctl = -1;
        bool tty = false;
        int q = runtime_container_attach(rt, r->container_id, &sock, &ctl, &tty, reterr);
        if (q < 0)
                return q;
        h->attach.ctl = ctl;
        int in = r->stdin_ ? fcntl(sock, F_DUPFD_CLOEXEC, 3) : -1;
        *io = (StreamIo){
                .stdin_fd = in, .stdout_fd = sock, .stderr_fd = -1, .exit_fd = -1, .attach_packets = true};
        return 0;
}

static int backend_start(void *userdata, const StreamRequest *r, uint16_t width, uint16_t height,
                         StreamIo *io, void **ret_handle, Error **reterr) {
        Daemon *d = userdata;
        Handle *h = xcalloc(1, sizeof(Handle));
        h->kind = r->kind;
        h->attach.ctl = -1;
        int q = r->kind == STREAM_EXEC ? start_exec(d->runtime, r, width, height, io, h, reterr)
                                       : start_attach(d->runtime, r, io, h, reterr);
        if (q < 0) {
                free(h);
                return q;
        }
        *ret_handle = h;
        return 0;
}

static int backend_resize(void *userdata, void *handle, uint16_t width, uint16_t height) {
        Handle *h = handle;
        if (h->kind == STREAM_EXEC)
                return exec_process_resize(h->exec, width, height);
        if (h->attach.ctl < 0)
                return -ENOTTY;
        /* conmon's ctl fifo: "1 <rows> <columns>\n", one message per write. */
        char line[64];
        int n = snprintf(line, sizeof(line), "1 %u %u\n", height, width);
        return write(h->attach.ctl, line, (size_t)n) == n ? 0 : -errno;
        (void)userdata;
}

static int backend_finish(void *userdata, void *handle, bool kill, int *ret_exit_code) {
        Handle *h = handle;
        int r = 0;
        *ret_exit_code = 0;
        if (h->kind == STREAM_EXEC)
                r = exec_process_finish(h->exec, kill, ret_exit_code);
        if (h->attach.ctl >= 0)
                close(h->attach.ctl);
        free(h);
        (void)userdata;
        return r;
}

static int backend_pod_netns(void *userdata, const char *pod_id, char **ret_path, Error **reterr) {
        Daemon *d = userdata;
        _cleanup_pod_info_ PodInfo *p = NULL;
        int r = runtime_pod_info(d->runtime, pod_id, &p, reterr);
        if (r < 0)
                return r;
        *ret_path = xstrdup(strempty(p->netns_path));
        return 0;
}

int stream_start(Daemon *d, Error **reterr) {
        /* Copied by the server. */
        StreamBackend backend = {.userdata = d,
                                 .start = backend_start,
                                 .resize = backend_resize,
                                 .finish = backend_finish,
                                 .pod_netns = backend_pod_netns};
        const Config *c = d->config;
        int64_t idle_ns = 0;
        if (!isempty(c->stream_idle_timeout) && parse_duration(c->stream_idle_timeout, &idle_ns) < 0)
                return error_set(reterr, EINVAL, "invalid stream_idle_timeout '%s'", c->stream_idle_timeout);
        StreamConfig sc = {.address = c->stream_address,
                           .port = c->stream_port,
                           .tls = c->stream_enable_tls,
                           .tls_cert = c->stream_tls_cert,
                           .tls_key = c->stream_tls_key,
                           .tls_ca = c->stream_tls_ca,
                           .tls_priorities = config_tls_priorities(c),
                           .idle_timeout_ms = idle_ns / 1000000,
                           .max_pending = MAX_PENDING_STREAMS,
                           .token_ttl_ms = STREAM_TOKEN_TTL_MS};
        return stream_server_new(&sc, &backend, &d->stream, reterr);
}

/* The container must be running in a ready pod. */
static int check_container(Daemon *d, const char *id, Error **reterr) {
        if (isempty(id))
                return error_set(reterr, EINVAL, "container_id is required");
        _cleanup_container_info_ ContainerInfo *c = NULL;
        int r = runtime_container_info(d->runtime, id, &c, reterr);
        if (r < 0)
                return r;
        if (c->state != CONTAINER_RUNNING)
                return error_set(reterr, EBUSY, "container %s is not running", c->id);
        _cleanup_pod_info_ PodInfo *p = NULL;
        r = runtime_pod_info(d->runtime, c->pod_id, &p, reterr);
        if (r < 0)
                return r;
        if (p->state != POD_READY)
                return error_set(reterr, EBUSY, "pod %s is not ready", p->id);
        return 0;
}

static int check_streams(bool in, bool out, bool err, bool tty, Error **reterr) {
        if (!in && !out && !err)
                return error_set(reterr, EINVAL, "one of stdin, stdout or stderr must be set");
        if (tty && err)
                return error_set(reterr, EINVAL, "tty and stderr cannot both be set");
        return 0;
}

static int full_container_id(Daemon *d, const char *id, char **ret, Error **reterr) {
        _cleanup_container_info_ ContainerInfo *c = NULL;
        int r = runtime_container_info(d->runtime, id, &c, reterr);
        if (r < 0)
                return r;
        *ret = xstrdup(c->id);
        return 0;
}

/* Hand an exec or attach request (owned) to the streaming server under the container's full ID. */
static int register_request(Daemon *d, const char *container_id, StreamRequest *s, char **ret_url,
                            Error **reterr) {
        int q = full_container_id(d, container_id, &s->container_id, reterr);
        if (q >= 0)
                q = stream_server_register(d->stream, TAKE_PTR(s), ret_url, reterr);
        stream_request_free(s);
        return q;
}

int rpc_exec(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp, Error **reterr) {
        const Runtime__V1__ExecRequest *r = (const Runtime__V1__ExecRequest *)req;
        Daemon *d = ctx->daemon;
        int q = check_container(d, r->container_id, reterr);
        if (q >= 0 && r->n_cmd == 0)
                q = error_set(reterr, EINVAL, "cmd is required");
        if (q >= 0)
                q = check_streams(r->stdin, r->stdout, r->stderr, r->tty, reterr);
        if (q < 0)
                return q;
        StreamRequest *s = xcalloc(1, sizeof(StreamRequest));
        *s = (StreamRequest){.kind = STREAM_EXEC,
                             .tty = r->tty,
                             .stdin_ = r->stdin,
                             .stdout_ = r->stdout,
                             .stderr_ = r->stderr};
        for (size_t i = 0; i < r->n_cmd; i++)
                s->cmd = strv_push(s->cmd, xstrdup(r->cmd[i]));
        char *url = NULL;
        q = register_request(d, r->container_id, s, &url, reterr);
        if (q < 0)
                return q;
        Runtime__V1__ExecResponse *resp =
                PB_NEW(Runtime__V1__ExecResponse, RUNTIME__V1__EXEC_RESPONSE__INIT);
        resp->url = url;
        *ret_resp = &resp->base;
        return 0;
}

int rpc_attach(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp, Error **reterr) {
        const Runtime__V1__AttachRequest *r = (const Runtime__V1__AttachRequest *)req;
        Daemon *d = ctx->daemon;
        int q = check_container(d, r->container_id, reterr);
        if (q >= 0)
                q = check_streams(r->stdin, r->stdout, r->stderr, r->tty, reterr);
        if (q < 0)
                return q;
        StreamRequest *s = xcalloc(1, sizeof(StreamRequest));
        *s = (StreamRequest){.kind = STREAM_ATTACH,
                             .tty = r->tty,
                             .stdin_ = r->stdin,
                             .stdout_ = r->stdout,
                             .stderr_ = r->stderr};
        char *url = NULL;
        q = register_request(d, r->container_id, s, &url, reterr);
        if (q < 0)
                return q;
        Runtime__V1__AttachResponse *resp =
                PB_NEW(Runtime__V1__AttachResponse, RUNTIME__V1__ATTACH_RESPONSE__INIT);
        resp->url = url;
        *ret_resp = &resp->base;
        return 0;
}

int rpc_port_forward(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                     Error **reterr) {
        const Runtime__V1__PortForwardRequest *r = (const Runtime__V1__PortForwardRequest *)req;
        Daemon *d = ctx->daemon;
        if (isempty(r->pod_sandbox_id))
                return error_set(reterr, EINVAL, "pod_sandbox_id is required");
        _cleanup_pod_info_ PodInfo *p = NULL;
        int q = runtime_pod_info(d->runtime, r->pod_sandbox_id, &p, reterr);
        if (q < 0)
                return q;
        if (p->state != POD_READY)
                return error_set(reterr, EBUSY, "pod %s is not ready", p->id);
        for (size_t i = 0; i < r->n_port; i++)
                if (r->port[i] < 1 || r->port[i] > 65535)
                        return error_set(reterr, EINVAL, "port %d is out of range", r->port[i]);
        StreamRequest *s = xcalloc(1, sizeof(StreamRequest));
        *s = (StreamRequest){.kind = STREAM_PORTFORWARD, .pod_id = xstrdup(p->id), .n_ports = r->n_port};
        s->ports = xcalloc(r->n_port ? r->n_port : 1, sizeof(int32_t));
        if (r->n_port > 0)
                memcpy(s->ports, r->port, r->n_port * sizeof(int32_t));
        char *url = NULL;
        q = stream_server_register(d->stream, s, &url, reterr);
        if (q < 0)
                return q;
        Runtime__V1__PortForwardResponse *resp =
                PB_NEW(Runtime__V1__PortForwardResponse, RUNTIME__V1__PORT_FORWARD_RESPONSE__INIT);
        resp->url = url;
        *ret_resp = &resp->base;
        return 0;
}
