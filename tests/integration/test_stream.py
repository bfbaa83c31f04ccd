# SPDX-License-Identifier: Apache-2.0
"""Exec, Attach and PortForward through the streaming server, driven by the test suite's own SPDY/3.1 and
WebSocket client (stream_client.py) the way kubectl and crictl drive them."""

import hashlib
import json
import os
import socket
import ssl
import struct
import time

import grpc
import pytest

import crio_helpers as h
import pod_helpers as ph
import stream_client as sc


@pytest.fixture
def node(image_daemon, tmp_path_factory):
    wd = tmp_path_factory.mktemp("node")
    d = image_daemon(config=ph.runtime_conf(wd))
    c = d.client(timeout=60)
    yield d, c
    for ctr in c.list_containers():
        c.remove_container(ctr.id)
    for pod in c.list_pods():
        c.remove_pod(pod.id)
    c.close()


@pytest.fixture
def cri(node):
    return node[1]


@pytest.fixture
def image(cri, image_registry):
    ref = ph.busybox(image_registry)
    cri.pull_image(ref)
    return ref


def running(cri, image, command, pod=None, **kw):
    pod = pod or cri.run_pod()
    ctr = cri.create_container(pod, ph.container_config(image, command=command, **kw))
    cri.start_container(ctr)
    cri.wait_container_state(ctr, "CONTAINER_RUNNING")
    return pod, ctr


@pytest.fixture
def sleeper(cri, image):
    return running(cri, image, ["sleep", "3600"])


def exec_url(cri, ctr, cmd, stdin=False, stdout=True, stderr=True, tty=False):
    req = h.pb().ExecRequest(container_id=ctr, cmd=cmd, stdin=stdin, stdout=stdout, stderr=stderr, tty=tty)
    return cri.call("Exec", req, h.pb().ExecResponse).url


def attach_url(cri, ctr, stdin=False, stdout=True, stderr=True, tty=False):
    req = h.pb().AttachRequest(container_id=ctr, stdin=stdin, stdout=stdout, stderr=stderr, tty=tty)
    return cri.call("Attach", req, h.pb().AttachResponse).url


def port_forward_url(cri, pod, ports=()):
    req = h.pb().PortForwardRequest(pod_sandbox_id=pod, port=list(ports))
    return cri.call("PortForward", req, h.pb().PortForwardResponse).url


# --- exec ----------------------------------------------------------------------------------------------------

def test_exec_output_and_exit_codes(cri, sleeper):
    _, ctr = sleeper
    url = exec_url(cri, ctr, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert url.startswith("http://127.0.0.1:") and "/exec/" in url
    r = sc.spdy_exec(url)
    assert r.protocol == "v4.channel.k8s.io"
    assert (r.stdout, r.stderr) == (b"out\n", b"err\n")
    assert r.exit_code == 3
    assert r.status["reason"] == "NonZeroExitCode" and r.status["status"] == "Failure"
    ok = sc.spdy_exec(exec_url(cri, ctr, ["true"]))
    assert ok.status == {"metadata": {}, "status": "Success"} and ok.exit_code == 0


def test_exec_stdin_is_echoed(cri, sleeper):
    _, ctr = sleeper
    data = b"".join(b"line %d\n" % i for i in range(20000))  # more than any one buffer
    r = sc.spdy_exec(exec_url(cri, ctr, ["cat"], stdin=True), stdin_data=data)
    assert r.stdout == data and r.exit_code == 0


def test_exec_command_not_found(cri, sleeper):
    _, ctr = sleeper
    r = sc.spdy_exec(exec_url(cri, ctr, ["/no/such/binary"]))
    assert r.status["status"] == "Failure"
    assert r.exit_code != 0 if r.status.get("reason") == "NonZeroExitCode" else "no such" in r.error.lower()


def test_exec_tty_resize_is_seen_by_the_command(cri, sleeper):
    _, ctr = sleeper
    url = exec_url(cri, ctr, ["sh"], stdin=True, tty=True, stderr=False)
    r = sc.spdy_exec(url, tty=True, stderr=False, resize=(123, 45), stdin_data=b"stty size; exit 7\n")
    assert b"45 123" in r.stdout
    assert r.exit_code == 7


def test_exec_input_sent_before_the_start_is_kept(cri, sleeper):
    """A terminal command waits briefly for the client's size; what the client types meanwhile is not lost."""
    _, ctr = sleeper
    url = exec_url(cri, ctr, ["sh"], stdin=True, tty=True, stderr=False)
    r = sc.spdy_exec(url, tty=True, stderr=False, stdin_data=b"echo typed-early; exit 3\n")
    assert b"typed-early" in r.stdout.replace(b"echo typed-early", b"")
    assert r.exit_code == 3


def test_exec_older_protocols(cri, sleeper):
    _, ctr = sleeper
    for proto in ("v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"):
        ok = sc.spdy_exec(exec_url(cri, ctr, ["echo", "hi"]), protocols=(proto,))
        assert ok.protocol == proto and ok.stdout == b"hi\n" and ok.error == ""
        bad = sc.spdy_exec(exec_url(cri, ctr, ["sh", "-c", "exit 2"]), protocols=(proto,))
        assert "non-zero exit code: 2" in bad.error


def test_exec_client_order_decides_the_protocol(cri, sleeper):
    _, ctr = sleeper
    r = sc.spdy_exec(exec_url(cri, ctr, ["true"]), protocols=("v3.channel.k8s.io", "v4.channel.k8s.io"))
    assert r.protocol == "v3.channel.k8s.io"
    with pytest.raises(sc.UpgradeRefused) as e:
        sc.spdy_exec(exec_url(cri, ctr, ["true"]), protocols=("v9.channel.k8s.io",))
    assert e.value.status == 403


def test_exec_is_killed_when_the_client_leaves(cri, sleeper):
    _, ctr = sleeper
    conn = sc.SpdyConnection(exec_url(cri, ctr, ["sh", "-c", "echo started; exec sleep 4242"]))
    ids = sc.remotecommand_streams(conn)
    conn.wait(lambda: b"started" in conn.stream_data(ids["stdout"]))
    assert "sleep 4242" in cri.exec_sync(ctr, ["ps"]).stdout.decode()
    conn.close()
    gone = h.wait_until(lambda: "sleep 4242" not in cri.exec_sync(ctr, ["ps"]).stdout.decode(), 20)
    assert gone, "the exec'd command outlived its client"


def test_exec_requests_are_validated(cri, sleeper, image):
    pod, ctr = sleeper
    for kw in ({"stdin": False, "stdout": False, "stderr": False}, {"tty": True, "stderr": True}):
        e = h.rpc_error(exec_url, cri, ctr, ["true"], **kw)
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert h.rpc_error(exec_url, cri, ctr, []).code() == grpc.StatusCode.INVALID_ARGUMENT
    assert h.rpc_error(exec_url, cri, "nonexistent", ["true"]).code() == grpc.StatusCode.NOT_FOUND
    stopped = cri.create_container(pod, ph.container_config(image, command=["sleep", "1"]))
    assert h.rpc_error(exec_url, cri, stopped, ["true"]).code() != grpc.StatusCode.OK
    assert h.rpc_error(attach_url, cri, stopped).code() != grpc.StatusCode.OK


def test_token_is_single_use(cri, sleeper):
    _, ctr = sleeper
    url = exec_url(cri, ctr, ["true"])
    assert sc.spdy_exec(url).exit_code == 0
    with pytest.raises(sc.UpgradeRefused) as e:
        sc.spdy_exec(url)
    assert e.value.status == 404
    with pytest.raises(sc.UpgradeRefused) as e:
        sc.spdy_exec(url.rsplit("/", 1)[0] + "/" + "A" * 32)
    assert e.value.status == 404


# --- websocket -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("proto", ["v4.channel.k8s.io", "v5.channel.k8s.io"])
def test_exec_over_websocket(cri, sleeper, proto):
    _, ctr = sleeper
    ws = sc.WebSocketConnection(exec_url(cri, ctr, ["sh", "-c", "cat; echo done >&2; exit 4"], stdin=True),
                                protocols=(proto,))
    try:
        assert ws.protocol == proto
        ws.send(0, b"over websocket\n")
        if proto.startswith("v5"):
            ws.send(255, bytes([0]))  # v5: close stdin
        else:
            # v4 has no way to close stdin: the command reads one line and the test ends it from the outside.
            pass
        if proto.startswith("v4"):
            ws.wait = None
        while b"over websocket\n" not in ws.channel(1):
            assert ws.read_frame()
        if proto.startswith("v4"):
            ws.close()
            return
        ws.read_until_closed()
        assert ws.channel(1) == b"over websocket\n" and ws.channel(2) == b"done\n"
        st = json.loads(ws.channel(3))
        assert st["reason"] == "NonZeroExitCode" and st["details"]["causes"][0]["message"] == "4"
        assert ws.close_code == 1000
    finally:
        ws.close()


@pytest.mark.parametrize("proto", ["v4.base64.channel.k8s.io", "base64.channel.k8s.io"])
def test_exec_over_websocket_base64(cri, sleeper, proto):
    _, ctr = sleeper
    payload = bytes(range(256)) * 512  # every byte value, over several frames
    ws = sc.WebSocketConnection(
        exec_url(cri, ctr, ["sh", "-c", "head -c 131072 | md5sum; echo err >&2; exit 3"], stdin=True),
        protocols=(proto, "v4.channel.k8s.io"))
    try:
        assert ws.protocol == proto and ws.base64
        for i in range(0, len(payload), 30000):
            ws.send(0, payload[i:i + 30000])
        ws.read_until_closed()
        assert ws.channel(1).split()[0].decode() == hashlib.md5(payload).hexdigest()
        assert ws.channel(2) == b"err\n"
        if proto.startswith("v4"):
            st = json.loads(ws.channel(3))
            assert st["reason"] == "NonZeroExitCode" and st["details"]["causes"][0]["message"] == "3"
        else:
            assert b"exit code: 3" in ws.channel(3)
    finally:
        ws.close()


def test_exec_over_websocket_without_a_protocol(cri, sleeper):
    """A client that names no subprotocol gets binary channels with channel.k8s.io's meaning, as from the
    kubelet, and no protocol header back."""
    _, ctr = sleeper
    ws = sc.WebSocketConnection(exec_url(cri, ctr, ["sh", "-c", "echo out; echo err >&2; exit 5"]), protocols=())
    try:
        assert ws.protocol is None and not ws.base64
        ws.read_until_closed()
        assert (ws.channel(1), ws.channel(2)) == (b"out\n", b"err\n")
        assert b"exit code: 5" in ws.channel(3)
    finally:
        ws.close()


def test_port_forward_over_websocket_base64(cri, image):
    pod, _ = running(cri, image, HTTPD)
    assert b"hello-from-the-pod" in fetch_over_websocket(cri, pod, "v4.base64.channel.k8s.io")


def test_websocket_handshake_is_checked(cri, sleeper):
    _, ctr = sleeper
    ws = sc.WebSocketConnection(exec_url(cri, ctr, ["true"]), key="dGhlIHNhbXBsZSBub25jZQ==")
    assert ws.headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 section 1.3
    ws.read_until_closed()
    ws.close()
    with pytest.raises(sc.UpgradeRefused) as e:
        sc.WebSocketConnection(exec_url(cri, ctr, ["true"]), protocols=("v5.base64.channel.k8s.io",))
    assert e.value.status == 403


# --- attach --------------------------------------------------------------------------------------------------

def test_attach_output_stdin_and_detach(cri, image):
    pod, ctr = running(cri, image, ["sh", "-c", "while read l; do echo got:$l; echo err:$l >&2; done"],
                       stdin=True)
    conn = sc.SpdyConnection(attach_url(cri, ctr, stdin=True))
    ids = sc.remotecommand_streams(conn, stdin=True)
    conn.send(ids["stdin"], b"hello\n")
    conn.wait(lambda: b"got:hello\n" in conn.stream_data(ids["stdout"]))
    conn.wait(lambda: b"err:hello\n" in conn.stream_data(ids["stderr"]))
    conn.close()  # detach
    assert cri.container_status(ctr).status.state == h.pb().CONTAINER_RUNNING
    # A second attach still reaches the same process.
    conn = sc.SpdyConnection(attach_url(cri, ctr, stdin=True, stderr=False))
    ids = sc.remotecommand_streams(conn, stdin=True, stderr=False)
    conn.send(ids["stdin"], b"again\n")
    conn.wait(lambda: b"got:again\n" in conn.stream_data(ids["stdout"]))
    conn.close()
    assert cri.container_status(ctr).status.state == h.pb().CONTAINER_RUNNING


def test_attach_stdin_once_closes_the_containers_stdin(cri, image):
    pod = cri.run_pod()
    cfg = ph.container_config(image, command=["sh", "-c", "cat; echo stdin-closed"], stdin=True)
    cfg.stdin_once = True
    ctr = cri.create_container(pod, cfg)
    cri.start_container(ctr)
    cri.wait_container_state(ctr, "CONTAINER_RUNNING")
    r = sc.spdy_exec(attach_url(cri, ctr, stdin=True), stdin_data=b"once\n")
    assert r.stdout == b"once\nstdin-closed\n" and r.exit_code == 0
    cri.wait_container_state(ctr, "CONTAINER_EXITED")


def test_attach_terminal_resize_and_end(cri, image):
    pod, ctr = running(cri, image, ["sh", "-c", "while read l; do [ \"$l\" = q ] && exit 0; stty size; done"],
                       stdin=True, tty=True)
    conn = sc.SpdyConnection(attach_url(cri, ctr, stdin=True, stderr=False, tty=True))
    ids = sc.remotecommand_streams(conn, stdin=True, stderr=False, tty=True)
    conn.send(ids["resize"], json.dumps({"Width": 91, "Height": 31}).encode())
    # The size travels through conmon's ctl fifo, the line through the attach socket: ask until it shows.
    for _ in range(100):
        conn.send(ids["stdin"], b"\n")
        n = len(conn.stream_data(ids["stdout"]))
        conn.wait(lambda: b"\n" in conn.stream_data(ids["stdout"])[n:])  # at least the terminal's echo
        if b"31 91" in conn.stream_data(ids["stdout"]):
            break
    assert b"31 91" in conn.stream_data(ids["stdout"])
    conn.send(ids["stdin"], b"q\n")
    conn.read_until_goaway()  # the container exits: the attach ends with Success
    conn.close()
    assert json.loads(conn.stream_data(ids["error"]))["status"] == "Success"
    cri.wait_container_state(ctr, "CONTAINER_EXITED")


# --- port-forward --------------------------------------------------------------------------------------------

HTTPD = ["sh", "-c", "mkdir -p /tmp/www && echo hello-from-the-pod > /tmp/www/index.html && "
                     "exec httpd -f -p 8080 -h /tmp/www"]


def forward(conn, port, request_id, payload):
    err = conn.open_stream([("streamtype", "error"), ("port", str(port)), ("requestid", str(request_id))])
    data = conn.open_stream([("streamtype", "data"), ("port", str(port)), ("requestid", str(request_id))])
    if payload is not None:
        conn.send(data, payload)
    return err, data


def test_port_forward_http_and_closed_port(cri, image):
    pod, _ = running(cri, image, HTTPD)
    conn = sc.SpdyConnection(port_forward_url(cri, pod, [8080]), protocols=("portforward.k8s.io",))
    try:
        assert conn.protocol == "portforward.k8s.io"
        req = b"GET /index.html HTTP/1.0\r\n\r\n"
        # httpd may need a moment to listen: retry the first connection until it is accepted.
        for attempt in range(50):
            e0, d0 = forward(conn, 8080, attempt, req)
            conn.wait(lambda: d0 in conn.fin)
            if b"hello-from-the-pod" in conn.stream_data(d0):
                break
            time.sleep(0.2)
        assert b"hello-from-the-pod" in conn.stream_data(d0)
        # The error stream ends with the pod's side though the client did not close its own (client-go
        # closes the local connection only then).
        conn.wait(lambda: e0 in conn.fin)
        assert conn.stream_data(e0) == b""
        # Two connections at once, each answered on its own stream.
        e1, d1 = forward(conn, 8080, 100, None)
        e2, d2 = forward(conn, 8080, 101, None)
        conn.send(d2, req)
        conn.send(d1, req)
        conn.wait(lambda: d1 in conn.fin and d2 in conn.fin)
        assert b"200 OK" in conn.stream_data(d1) and b"200 OK" in conn.stream_data(d2)
        # A port nobody listens on: a clear message on the error stream.
        e3, d3 = forward(conn, 8081, 102, None)
        conn.wait(lambda: e3 in conn.fin)
        assert b"8081" in conn.stream_data(e3) and b"refused" in conn.stream_data(e3).lower()
    finally:
        conn.close()


def fetch_over_websocket(cri, pod, protocol):
    """GET /index.html from the pod's port 8080 through a WebSocket port-forward; the body after the port."""
    req = b"GET /index.html HTTP/1.0\r\n\r\n"
    for attempt in range(50):  # httpd may need a moment to listen
        ws = sc.WebSocketConnection(port_forward_url(cri, pod, [8080]), protocols=(protocol,))
        try:
            assert ws.protocol == protocol
            while len(ws.channel(0)) < 2 or len(ws.channel(1)) < 2:
                assert ws.read_frame()
            # Each channel opens with the port, two bytes little endian.
            assert ws.channel(0)[:2] == ws.channel(1)[:2] == struct.pack("<H", 8080)
            ws.send(0, req)
            ws.read_until_closed()
        finally:
            ws.close()
        if b"hello-from-the-pod" in ws.channel(0):
            break
        time.sleep(0.2)
    return ws.channel(0)[2:]


def test_port_forward_over_websocket(cri, image):
    pod, _ = running(cri, image, HTTPD)
    assert b"hello-from-the-pod" in fetch_over_websocket(cri, pod, "v4.channel.k8s.io")
    ws = sc.WebSocketConnection(port_forward_url(cri, pod, [8081]), protocols=("v4.channel.k8s.io",))
    ws.read_until_closed()
    ws.close()
    assert b"8081" in ws.channel(1)[2:] and b"refused" in ws.channel(1).lower()


def test_port_forward_bad_streams_are_reset(cri, image):
    pod, _ = running(cri, image, HTTPD)
    conn = sc.SpdyConnection(port_forward_url(cri, pod), protocols=("portforward.k8s.io",))
    try:
        for headers in ([("streamtype", "data"), ("port", "0")], [("streamtype", "bogus"), ("port", "80")],
                        [("streamtype", "data"), ("port", "99999")], [("streamtype", "data")]):
            sid = conn.open_stream(headers)
            assert sid in conn.reset
    finally:
        conn.close()


# --- SPDY flow control -------------------------------------------------------------------------------------

MIB = 1024 * 1024


@pytest.mark.parametrize("window,announce", [(sc.INITIAL_WINDOW, True), (16384, True), (sc.INITIAL_WINDOW, False)])
def test_exec_keeps_to_the_windows_of_a_client_that_keeps_them(cri, sleeper, window, announce):
    """4 MiB each way through cat; the client raises if the server overruns a window. A client that does not
    announce its window is recognised by its first WINDOW_UPDATE, which comes before it answers the server's
    PING (sent behind the data that filled the window)."""
    _, ctr = sleeper
    payload = os.urandom(4 * MIB)
    r = sc.spdy_exec(exec_url(cri, ctr, ["cat"], stdin=True), stdin_data=payload, flow=True, window=window,
                     announce=announce)
    assert r.status == {"metadata": {}, "status": "Success"}
    assert hashlib.sha256(r.stdout).hexdigest() == hashlib.sha256(payload).hexdigest()


def test_a_client_without_flow_control_moves_large_output(cri, sleeper):
    """kubectl and crictl (moby/spdystream) never open a window, but answer PINGs: the server learns from its
    PING behind a full window that they keep none, and does not wait for them."""
    _, ctr = sleeper
    start = time.monotonic()
    r = sc.spdy_exec(exec_url(cri, ctr, ["head", "-c", str(3 * MIB), "/dev/zero"]))
    assert r.stdout == bytes(3 * MIB)
    assert time.monotonic() - start < 5
    payload = os.urandom(2 * MIB)
    r = sc.spdy_exec(exec_url(cri, ctr, ["cat"], stdin=True), stdin_data=payload)
    assert r.stdout == payload


ECHO = ["nc", "-ll", "-p", "9000", "-e", "cat"]


def echo_through_forward(conn, request_id, payload):
    """Forward a connection to the pod's echo server, send payload, half-close, and read the echo."""
    e, d = forward(conn, 9000, request_id, None)
    conn.send(d, payload, fin=True)
    conn.wait(lambda: d in conn.fin or d in conn.reset or (e in conn.fin and conn.stream_data(e)))
    if d in conn.fin and not conn.stream_data(e):
        # The error stream ends after the last data, which may have waited for window.
        conn.wait(lambda: e in conn.fin)
        assert conn.fin_order.index(d) < conn.fin_order.index(e)
    return conn.stream_data(d), conn.stream_data(e)


def test_port_forward_keeps_to_the_windows_of_a_client_that_keeps_them(cri, image):
    pod, _ = running(cri, image, ECHO)
    conn = sc.SpdyConnection(port_forward_url(cri, pod), protocols=("portforward.k8s.io",), flow=True)
    try:
        for attempt in range(50):  # nc may need a moment to listen
            echoed, err = echo_through_forward(conn, attempt, b"ping")
            if echoed == b"ping":
                break
            time.sleep(0.2)
        assert echoed == b"ping", err
        payload = os.urandom(4 * MIB)
        echoed, err = echo_through_forward(conn, 100, payload)
        assert len(echoed) == len(payload) and echoed == payload, err
        assert conn.updates_received > 0
    finally:
        conn.close()


def test_port_forward_data_before_the_error_stream_is_kept(cri, image):
    pod, _ = running(cri, image, HTTPD)
    conn = sc.SpdyConnection(port_forward_url(cri, pod), protocols=("portforward.k8s.io",))
    try:
        for attempt in range(50):  # httpd may need a moment to listen
            rid = str(attempt)
            d = conn.open_stream([("streamtype", "data"), ("port", "8080"), ("requestid", rid)])
            conn.send(d, b"GET /index.html HTTP/1.0\r\n\r\n")
            e = conn.open_stream([("streamtype", "error"), ("port", "8080"), ("requestid", rid)])
            conn.wait(lambda: d in conn.fin or e in conn.fin)
            if b"hello-from-the-pod" in conn.stream_data(d):
                break
            time.sleep(0.2)
        assert b"hello-from-the-pod" in conn.stream_data(d)
        # Before the error stream, data is kept up to one window; a client that sends more is reset.
        d = conn.open_stream([("streamtype", "data"), ("port", "8080"), ("requestid", "big")])
        conn.send(d, bytes(sc.INITIAL_WINDOW + 1))
        conn.wait(lambda: d in conn.reset)
        assert conn.reset[d] == 7  # FLOW_CONTROL_ERROR
    finally:
        conn.close()


def test_flow_control_errors_reset_the_stream(cri, sleeper):
    _, ctr = sleeper
    conn = sc.SpdyConnection(exec_url(cri, ctr, ["sleep", "30"], stdin=True), flow=True)
    try:
        ids = sc.remotecommand_streams(conn, stdin=True)
        # A window update of 0 is a protocol error; one past 2^31-1 a flow-control error.
        conn.send_raw(sc.window_update(ids["stdout"], 0))
        conn.send_raw(sc.window_update(ids["stderr"], 0x7fffffff))
        conn.wait(lambda: ids["stdout"] in conn.reset and ids["stderr"] in conn.reset)
        assert conn.reset[ids["stdout"]] == 1 and conn.reset[ids["stderr"]] == 7
        # More data than the server's window in one frame (nothing can have been given back before it).
        conn.send_raw(sc.data_frame(ids["stdin"], 0, bytes(sc.INITIAL_WINDOW + 1)))
        conn.wait(lambda: ids["stdin"] in conn.reset)
        assert conn.reset[ids["stdin"]] == 7
        # A session window update of 0 ends the session.
        conn.send_raw(sc.window_update(0, 0))
        conn.read_until_closed()
        assert conn.goaway and conn.goaway[1] == 1
    finally:
        conn.close()
    assert_still_serving(cri, ctr)


# --- hostile input -------------------------------------------------------------------------------------------

def assert_still_serving(cri, ctr):
    assert sc.spdy_exec(exec_url(cri, ctr, ["echo", "alive"])).stdout == b"alive\n"


def closed_cleanly(conn):
    conn.read_until_closed()
    return conn.closed


@pytest.mark.parametrize("garbage", [
    sc.control_frame(sc.SYN_STREAM, 0, struct.pack(">IIH", 1, 0, 0) + b"\x78\x9c not zlib at all"),
    struct.pack(">HHI", 0x8000 | 2, sc.SYN_STREAM, 10) + b"\0" * 10,  # SPDY/2
    struct.pack(">HHI", 0x8000 | 3, sc.PING, 3) + b"\0" * 3,  # wrong fixed length
    struct.pack(">II", 1, 0xffffff),  # a 16 MiB data frame announced
    sc.control_frame(sc.SYN_STREAM, 0, struct.pack(">IIH", 2, 0, 0)),  # even (server) stream ID
])
def test_malformed_spdy_frames_close_the_session(cri, sleeper, garbage):
    _, ctr = sleeper
    conn = sc.SpdyConnection(exec_url(cri, ctr, ["sleep", "30"]))
    conn.send_raw(garbage)
    assert closed_cleanly(conn)
    assert conn.goaway is not None and conn.goaway[1] == 1  # PROTOCOL_ERROR
    conn.close()
    assert_still_serving(cri, ctr)


def test_header_bomb_is_refused(cri, sleeper):
    _, ctr = sleeper
    conn = sc.SpdyConnection(exec_url(cri, ctr, ["true"]))
    block = sc.headers_block([("x%d" % i, "v" * 1000) for i in range(100)])
    z = conn.comp.compress(block) + conn.comp.flush(2)
    conn.send_raw(sc.control_frame(sc.SYN_STREAM, 0, struct.pack(">IIH", 1, 0, 0) + z))
    assert closed_cleanly(conn) and conn.goaway[1] == 1
    conn.close()
    assert_still_serving(cri, ctr)


def test_unknown_stream_type_is_reset(cri, sleeper):
    _, ctr = sleeper
    conn = sc.SpdyConnection(exec_url(cri, ctr, ["true"]))
    sid = conn.open_stream([("streamtype", "bogus")])
    assert conn.reset.get(sid) == 1
    conn.close()
    assert_still_serving(cri, ctr)


def test_malformed_websocket_frames_close_the_session(cri, sleeper):
    _, ctr = sleeper
    for send in (lambda ws: ws.send_frame(2, b"\0abc", mask=False),  # clients must mask
                 lambda ws: ws.send_frame(9, b"x" * 200),  # oversized control frame
                 lambda ws: ws.send_frame(2, b"\0part", fin=False),  # fragments
                 lambda ws: ws.sock.sendall(bytes([0x82, 0xff]) + struct.pack(">Q", 1 << 40) + b"mask")):
        ws = sc.WebSocketConnection(exec_url(cri, ctr, ["sleep", "30"], stdin=True))
        send(ws)
        ws.read_until_closed()
        assert ws.closed and ws.close_code == 1002
        ws.close()
    assert_still_serving(cri, ctr)


def test_bad_http_requests_are_refused(cri, sleeper):
    _, ctr = sleeper
    url = exec_url(cri, ctr, ["true"])
    host, port = url.split("//")[1].split("/")[0].split(":")
    for request in (b"GET /exec/" + url.rsplit("/", 1)[1].encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET /exec/x HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n"):
        s = socket.create_connection((host, int(port)), timeout=30)
        try:
            s.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = b""
        try:
            while chunk := s.recv(65536):
                reply += chunk
                if b"\r\n\r\n" in reply:
                    break
        except ConnectionResetError:
            pass
        s.close()
        assert reply == b"" or reply.split()[1] in (b"400", b"404", b"413", b"431"), reply[:100]
    assert_still_serving(cri, ctr)


def test_a_client_that_stops_reading_is_bounded(node, cri, sleeper):
    d, _ = node
    _, ctr = sleeper
    conn = sc.SpdyConnection(exec_url(cri, ctr, ["cat", "/dev/zero"]))
    sc.remotecommand_streams(conn)
    pid = d.pid
    rss = lambda: int(next(l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")))
    time.sleep(2)
    before = rss()
    time.sleep(3)
    assert rss() - before < 20 * 1024, "the daemon buffers output for a client that does not read"
    conn.close()
    assert_still_serving(cri, ctr)


# --- configuration -------------------------------------------------------------------------------------------

def test_stream_over_tls(image_daemon, tmp_path_factory, image_registry, test_pki):
    wd = tmp_path_factory.mktemp("tls")
    conf = (ph.runtime_conf(wd) + f'[crio.api]\nstream_enable_tls = true\nstream_tls_cert = "{test_pki.server_cert}"\n'
            f'stream_tls_key = "{test_pki.server_key}"\n')
    d = image_daemon(config=conf)
    cri = d.client(timeout=60)
    try:
        image = ph.busybox(image_registry)
        cri.pull_image(image)
        pod, ctr = running(cri, image, ["sleep", "3600"])
        url = exec_url(cri, ctr, ["sh", "-c", "echo secret; exit 6"])
        assert url.startswith("https://127.0.0.1:")
        r = sc.spdy_exec(url, ca=test_pki.ca_cert)
        assert r.stdout == b"secret\n" and r.exit_code == 6
        # Plain HTTP on the TLS port gets no upgrade.
        plain = "http://" + exec_url(cri, ctr, ["true"]).split("://", 1)[1]
        with pytest.raises((sc.UpgradeRefused, ConnectionError, OSError)):
            sc.spdy_exec(plain)
    finally:
        for c in cri.list_containers():
            cri.remove_container(c.id)
        for p in cri.list_pods():
            cri.remove_pod(p.id)
        cri.close()


def test_stream_client_certificates(image_daemon, tmp_path_factory, image_registry, test_pki):
    wd = tmp_path_factory.mktemp("mtls")
    conf = (ph.runtime_conf(wd) + f'[crio.api]\nstream_enable_tls = true\nstream_tls_cert = "{test_pki.server_cert}"\n'
            f'stream_tls_key = "{test_pki.server_key}"\nstream_tls_ca = "{test_pki.ca_cert}"\n')
    d = image_daemon(config=conf)
    cri = d.client(timeout=60)
    try:
        image = ph.busybox(image_registry)
        cri.pull_image(image)
        pod, ctr = running(cri, image, ["sleep", "3600"])
        with pytest.raises((sc.UpgradeRefused, ssl.SSLError, ConnectionError)) as e:
            sc.spdy_exec(exec_url(cri, ctr, ["true"]), ca=test_pki.ca_cert)
        if isinstance(e.value, sc.UpgradeRefused):
            assert e.value.status == 403
        r = sc.spdy_exec(exec_url(cri, ctr, ["echo", "mutual"]), ca=test_pki.ca_cert,
                         cert=(test_pki.client_cert, test_pki.client_key))
        assert r.stdout == b"mutual\n" and r.exit_code == 0
    finally:
        for c in cri.list_containers():
            cri.remove_container(c.id)
        for p in cri.list_pods():
            cri.remove_pod(p.id)
        cri.close()


def test_idle_sessions_are_closed(image_daemon, tmp_path_factory, image_registry):
    wd = tmp_path_factory.mktemp("idle")
    d = image_daemon(config=ph.runtime_conf(wd) + '[crio.api]\nstream_idle_timeout = "1s"\n')
    cri = d.client(timeout=60)
    try:
        pod = cri.run_pod()
        conn = sc.SpdyConnection(port_forward_url(cri, pod), protocols=("portforward.k8s.io",))
        conn.read_until_closed()  # nothing is sent: the server gives up on the session
        assert conn.closed and conn.goaway is not None
        conn.close()
    finally:
        for p in cri.list_pods():
            cri.remove_pod(p.id)
        cri.close()
