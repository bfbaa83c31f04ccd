# SPDX-License-Identifier: Apache-2.0
"""gRPC over HTTP/2 on the wire: what any server of the CRI socket must do with the frames, headers and
flow control a client sends, spoken with raw HTTP/2 frames (h2_client) instead of a gRPC library, so
that the checks hold for whichever transport serves the socket.

The rules are those of gRPC's PROTOCOL-HTTP2.md and RFC 9113. The tests were first run against gRPC core,
the daemon's transport until 2026-12-05, which departs from the spec in places (accepting any
content-type, ignoring a compressed flag, a second message, or its own header limit); the daemon's own
server (rpc-conn.c) answers as the spec says, and the tests hold it to that. Every test also requires
that the daemon keeps serving."""

import gzip
import signal
import socket
import time
import urllib.parse

import h2.errors
import h2.settings
import pytest

import crio_helpers as h
import h2_client as w

VERSION = "Version"
IMAGE_STATUS = h.IMAGE_SERVICE + "ImageStatus"
PULL_IMAGE = h.IMAGE_SERVICE + "PullImage"

OK, INVALID_ARGUMENT, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL = 0, 3, 4, 12, 13


def assert_serves(client):
    """The connection (or, given a socket path, a new one) still answers a Version call."""
    if isinstance(client, w.H2Client):
        return w.assert_version_ok(client.call(VERSION, w.version_body()))
    return w.assert_version_ok(w.call(client, VERSION, w.version_body()))


def failed(reply):
    """The call did not succeed as a client sees it: a non-200 :status, no grpc-status or a non-OK one,
    a reset stream or a lost connection."""
    return not (reply.status == 200 and reply.grpc_status == OK and reply.reset is None and not reply.closed)


def image_status_request(image="nope:1"):
    return h.pb().ImageStatusRequest(image=h.pb().ImageSpec(image=image)).SerializeToString()


def assert_no_image(reply):
    """A successful ImageStatus answer for an image the daemon does not have."""
    assert reply.status == 200 and reply.grpc_status == OK, reply
    assert len(reply.messages) == 1, reply
    assert not h.pb().ImageStatusResponse.FromString(reply.messages[0]).HasField("image"), reply


# ---------------------------------------------------------------------------------------------------------
# Calls that work


def test_unary_call_answers_one_message_then_status_in_trailers(crio):
    with w.H2Client(crio.sock) as c:
        r = c.call(VERSION, w.version_body())
        v = w.assert_version_ok(r)
        assert v.runtime_api_version == "v1"
        # Status is sent in Trailers even when it is OK: a HEADERS frame after the DATA.
        assert r.trailers.get("grpc-status") == "0", r
        assert "grpc-status" not in r.headers, r


def test_empty_message_is_a_message(crio):
    """A 5-byte prefix of length 0 is a request: an empty VersionRequest, answered like any other."""
    w.assert_version_ok(w.call(crio.sock, VERSION, w.grpc_frame(b"")))


def test_message_split_over_many_data_frames(crio):
    """DATA frame boundaries have nothing to do with message boundaries: a request sent one byte per
    frame is the same request."""
    with w.H2Client(crio.sock) as c:
        sid = c.open_stream(IMAGE_STATUS)
        c.send_body(sid, w.grpc_frame(image_status_request()), frame_size=1)
        assert_no_image(c.wait_reply(sid))


@pytest.mark.parametrize("authority", ["localhost", "/var/run/crio/crio.sock", "unix:///var/run/crio/crio.sock", ""])
def test_any_authority_is_served(crio, authority):
    """grpc-go (crictl, critest, older kubelets) dialing a socket path sends the path as :authority, which
    is not an authority under RFC 3986: a CRI server must answer it all the same, as gRPC core did."""
    with w.H2Client(crio.sock) as c:
        w.assert_version_ok(c.call(VERSION, w.version_body(), authority=authority))


def test_interleaved_calls_on_one_connection_are_both_answered(crio):
    """Two streams opened before either sends its body, bodies sent in the other order: each stream
    gets its own answer."""
    api = h.pb()
    with w.H2Client(crio.sock) as c:
        first = c.open_stream(VERSION)
        second = c.open_stream("RuntimeConfig")
        c.send_body(second, w.grpc_frame(api.RuntimeConfigRequest().SerializeToString()))
        c.send_body(first, w.version_body())
        w.assert_version_ok(c.wait_reply(first))
        r = c.wait_reply(second)
        assert r.status == 200 and r.grpc_status == OK, r
        assert len(r.messages) == 1, r
        assert api.RuntimeConfigResponse.FromString(r.messages[0]).linux.cgroup_driver == api.CGROUPFS


def test_fifty_concurrent_streams_on_one_connection(crio):
    with w.H2Client(crio.sock) as c:
        c.wait_ready()
        # RFC 9113 section 6.5.2 recommends a limit of no less than 100 concurrent streams.
        limit = c.conn.remote_settings.max_concurrent_streams
        assert limit >= 50, f"the server allows only {limit} concurrent streams"
        sids = [c.open_stream(VERSION) for _ in range(50)]
        for sid in sids:
            c.send_body(sid, w.version_body())
        for sid in sids:
            w.assert_version_ok(c.wait_reply(sid, timeout=10))
        assert_serves(c)


def settle(c, quiet=0.3):
    """Read until nothing arrived for `quiet` seconds (what a server sends past a window would show)."""
    while True:
        before = (sum(len(r.body) for r in c.replies.values()), sum(r.done for r in c.replies.values()))
        c.pump(quiet)
        if (sum(len(r.body) for r in c.replies.values()), sum(r.done for r in c.replies.values())) == before:
            return


def test_response_waits_for_a_tiny_stream_window(crio):
    """A client that allows 16 bytes per stream gets at most 16 bytes before it acknowledges them, and
    the whole answer once it keeps acknowledging."""
    api = h.pb()
    settings = {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 16}
    with w.H2Client(crio.sock, settings=settings, auto_ack=False) as c:
        c.wait_ready()  # the window applies to streams opened after the server acknowledged it
        sid = c.open_stream("Status")
        c.send_body(sid, w.grpc_frame(api.StatusRequest(verbose=True).SerializeToString()))
        r = c.replies[sid]
        c.wait(lambda: len(r.body) >= 16 or r.done, what="the first 16 bytes")
        settle(c)
        assert len(r.body) == 16 and not r.done, f"{len(r.body)} bytes sent into a 16-byte window: {r}"
        deadline = time.monotonic() + 20
        while not r.done:
            assert time.monotonic() < deadline, f"answer incomplete after 20 s: {len(r.body)} bytes"
            c.ack(sid)
            c.pump(1.0)
        assert r.grpc_status == OK, r
        assert len(r.body) > 1000, f"Status(verbose) answer of only {len(r.body)} bytes: nothing was tested"
        s = api.StatusResponse.FromString(r.messages[0])
        assert "config" in s.info
        c.auto_ack = True
        assert_serves(c)


def test_responses_wait_for_the_connection_window(crio):
    """Streams with large windows share the connection's 65,535 bytes: the server stops there until the
    client acknowledges data, then finishes every answer."""
    api = h.pb()
    body = w.grpc_frame(api.StatusRequest(verbose=True).SerializeToString())
    size = len(w.call(crio.sock, "Status", body).body)
    settings = {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20}
    with w.H2Client(crio.sock, settings=settings, auto_ack=False) as c:
        c.wait_ready()
        sids = [c.open_stream("Status") for _ in range(65535 // size + 2)]
        for sid in sids:
            c.send_body(sid, body)
        received = lambda: sum(len(c.replies[sid].body) for sid in sids)  # noqa: E731
        c.wait(lambda: received() >= 32768, what="the first half of the connection window")
        settle(c)
        assert received() <= 65535, f"{received()} bytes sent into a 65,535-byte connection window"
        assert not all(c.replies[sid].done for sid in sids)
        deadline = time.monotonic() + 20
        while not all(c.replies[sid].done for sid in sids):
            assert time.monotonic() < deadline, f"answers incomplete after 20 s: {received()} bytes"
            for sid in sids:
                c.ack(sid)
            c.pump(1.0)
        for sid in sids:
            r = c.replies[sid]
            assert r.grpc_status == OK and len(r.body) == size, r
        c.auto_ack = True
        assert_serves(c)


def test_request_larger_than_the_servers_window(crio):
    """A 5 MiB request is past any server's initial window (gRPC core's is 4 MiB, HTTP/2's default
    64 KiB): the server opens it with WINDOW_UPDATEs and answers the whole request."""
    req = h.pb().UpdateRuntimeConfigRequest()
    req.runtime_config.network_config.pod_cidr = "1" * (5 << 20)
    with w.H2Client(crio.sock, timeout=20) as c:
        r = c.call("UpdateRuntimeConfig", w.grpc_frame(req.SerializeToString()))
        # The daemon read the value: it names it (cut at 64 characters) as no CIDR.
        assert r.grpc_status == INVALID_ARGUMENT, r
        assert "pod_cidr" in r.grpc_message and "is not a CIDR" in r.grpc_message, r
        assert_serves(c)


def test_unknown_path_is_unimplemented_in_a_grpc_answer(crio):
    with w.H2Client(crio.sock) as c:
        for path in ("/runtime.v1.RuntimeService/Nope", "/runtime.v1.NoSuchService/Version", "/nope"):
            r = c.call(path, w.grpc_frame(b""))
            assert r.status == 200, r
            assert r.headers.get("content-type", "").startswith("application/grpc"), r
            assert r.grpc_status == UNIMPLEMENTED, r
            assert r.messages == [], r
        assert_serves(c)


def test_grpc_message_is_percent_encoded(crio):
    """grpc-message carries UTF-8, percent-encoded: '%', control characters and non-ASCII bytes never
    appear raw in the header."""
    cidr = 'bad%cidr é\n\t"x'
    req = h.pb().UpdateRuntimeConfigRequest()
    req.runtime_config.network_config.pod_cidr = cidr
    r = w.call(crio.sock, "UpdateRuntimeConfig", w.grpc_frame(req.SerializeToString()))
    assert r.grpc_status == INVALID_ARGUMENT, r
    raw = r.grpc_message
    assert all(0x20 <= ord(ch) <= 0x7E for ch in raw), raw
    assert "%25" in raw and "%0A" in raw.upper(), raw
    assert cidr in urllib.parse.unquote(raw, encoding="utf-8", errors="strict"), raw


# ---------------------------------------------------------------------------------------------------------
# Malformed requests


@pytest.mark.parametrize("body", [
    pytest.param(w.grpc_frame(b"\x0a\x02v1", length=100), id="prefix-promises-100-bytes"),
    pytest.param(b"\x00\x00\x00", id="half-a-prefix"),
    pytest.param(b"", id="no-message"),
])
def test_truncated_request_fails_and_connection_serves_on(crio, body):
    """END_STREAM before the message is whole: INTERNAL, as grpc-go answers an unexpected end of a
    message; no message at all is INVALID_ARGUMENT "missing request message"."""
    with w.H2Client(crio.sock) as c:
        r = c.call(VERSION, body)
        assert failed(r), r
        assert not r.closed, r
        if body:
            assert r.grpc_status == INTERNAL, r
        else:
            assert (r.grpc_status, r.grpc_message) == (INVALID_ARGUMENT, "missing request message"), r
        assert_serves(c)


def test_compressed_flag_without_grpc_encoding_fails(crio):
    """The spec: without grpc-encoding the compressed flag must be 0 (gRPC's compression.md answers
    INTERNAL). gRPC core handed the bytes on as they were."""
    with w.H2Client(crio.sock) as c:
        r = c.call(IMAGE_STATUS, w.grpc_frame(gzip.compress(image_status_request()), compressed=True))
        assert r.grpc_status == INTERNAL, r
        assert_serves(c)


def test_unknown_grpc_encoding_fails(crio):
    """The spec: an encoding the server does not support is UNIMPLEMENTED, naming it. (gRPC core took an
    unknown name for identity.)"""
    with w.H2Client(crio.sock) as c:
        r = c.call(IMAGE_STATUS, w.grpc_frame(gzip.compress(image_status_request()), compressed=True),
                   extra=[("grpc-encoding", "x-no-such-coding")])
        assert r.grpc_status == UNIMPLEMENTED, r
        assert "x-no-such-coding" in r.grpc_message, r
        assert_serves(c)


def test_gzip_request_is_decoded_or_unimplemented(crio):
    """A gzip-compressed request is either decoded (gRPC core supports gzip and answers it) or refused
    as UNIMPLEMENTED (the spec, for a server without gzip); never read as if it were not compressed."""
    with w.H2Client(crio.sock) as c:
        r = c.call(IMAGE_STATUS, w.grpc_frame(gzip.compress(image_status_request()), compressed=True),
                   extra=[("grpc-encoding", "gzip")])
        if r.grpc_status == UNIMPLEMENTED:
            assert r.messages == [], r
        else:
            assert_no_image(r)
        assert_serves(c)


def test_broken_gzip_body_fails(crio):
    """grpc-encoding gzip and a body that is not gzip: gRPC core resets the stream (INTERNAL_ERROR,
    which a client sees as INTERNAL); a server without gzip answers UNIMPLEMENTED."""
    with w.H2Client(crio.sock) as c:
        r = c.call(IMAGE_STATUS, w.grpc_frame(b"this is not gzip", compressed=True),
                   extra=[("grpc-encoding", "gzip")])
        assert failed(r), r
        assert_serves(c)


def test_two_messages_on_a_unary_call(crio):
    """A unary call takes one request: INTERNAL for a second one, as grpc-go and grpc-java answer (gRPC
    core read the first and ignored the second)."""
    with w.H2Client(crio.sock) as c:
        r = c.call(IMAGE_STATUS, w.grpc_frame(image_status_request()) * 2)
        assert r.grpc_status == INTERNAL and r.messages == [], r
        assert_serves(c)


@pytest.mark.parametrize("content_type", ["text/plain", "application/json", None])
def test_content_type_not_grpc(crio, content_type):
    """The spec: a server SHOULD answer a content-type that does not begin with application/grpc with
    HTTP 415 (gRPC core ignored the content-type)."""
    with w.H2Client(crio.sock) as c:
        r = c.call(VERSION, w.version_body(), content_type=content_type)
        assert r.status == 415, r
        assert_serves(c)


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_method_other_than_post_fails(crio, method):
    """gRPC is POST only: HTTP 405, as grpc-go and grpc-java answer (gRPC core answered a trailers-only
    UNKNOWN "Bad method header")."""
    with w.H2Client(crio.sock) as c:
        r = c.call(VERSION, w.version_body(), method=method)
        assert r.status == 405, r
        assert_serves(c)


# ---------------------------------------------------------------------------------------------------------
# Deadlines and cancellation


class SilentRegistry:
    """A TCP listener on 127.0.0.1 that takes connections and never answers: a pull from it hangs."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.host = f"127.0.0.1:{self.sock.getsockname()[1]}"

    def wait_connection(self, timeout=5.0):
        self.sock.settimeout(timeout)
        conn, _ = self.sock.accept()
        return conn

    def close(self):
        self.sock.close()


@pytest.fixture
def silent_registry():
    r = SilentRegistry()
    yield r
    r.close()


def pull_request(ref):
    return w.grpc_frame(h.pb().PullImageRequest(image=h.pb().ImageSpec(image=ref)).SerializeToString())


def closed_by_peer(conn, timeout):
    """True if the peer closes conn within timeout seconds (what it sends meanwhile is read and dropped)."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            conn.settimeout(max(deadline - time.monotonic(), 0.001))
            if not conn.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False
    finally:
        conn.close()
    return False


@pytest.mark.parametrize("timeout", ["1n", "300m"])
def test_deadline_ends_a_slow_call(make_daemon, silent_registry, timeout):
    """A pull from a registry that never answers, with grpc-timeout: the server ends the call at its
    deadline with DEADLINE_EXCEEDED (gRPC core: a trailers-only HEADERS frame) or, as the spec also
    allows, RST_STREAM CANCEL; the pull stops (its registry connection is closed); and the stream ends
    once."""
    d = make_daemon().start()
    with w.H2Client(d.sock) as c:
        t0 = time.monotonic()
        sid = c.open_stream(PULL_IMAGE, extra=[("grpc-timeout", timeout)])
        c.send_body(sid, pull_request(f"{silent_registry.host}/x/y:1"))
        r = c.wait_reply(sid)
        took = time.monotonic() - t0
        assert r.grpc_status == DEADLINE_EXCEEDED or r.reset == h2.errors.ErrorCodes.CANCEL, r
        assert took < 3, f"call ended {took:.1f} s after a deadline of {timeout}"
        assert_serves(c)
        late = [f for f in c.after_end if f[0] == sid]
        # gRPC core 1.51 ended the stream twice: its own trailers-only DEADLINE_EXCEEDED and RST_STREAM,
        # then the daemon's status in a second trailers-only HEADERS frame on the closed stream, which
        # RFC 9113 makes a connection error (strict clients such as h2 drop the connection).
        assert late == [], f"frames after END_STREAM: {late}"
    try:
        conn = silent_registry.wait_connection(timeout=0.5)
    except socket.timeout:
        return  # the pull ended before it connected
    assert closed_by_peer(conn, 5), "the pull kept its registry connection after the call's deadline"


@pytest.mark.parametrize("value", ["abc", "1x", "-1S", "999999999H", "1", ""])
def test_malformed_grpc_timeout_does_not_break_the_daemon(crio, value):
    """A grpc-timeout that does not parse is ignored and the call answered, as gRPC core did (grpc-go
    answers INTERNAL)."""
    with w.H2Client(crio.sock) as c:
        r = c.call(VERSION, w.version_body(), extra=[("grpc-timeout", value)])
        w.assert_version_ok(r)
        assert_serves(c)
    assert_serves(crio.sock)


@pytest.mark.parametrize("when", ["before-body", "mid-message"])
def test_client_reset_stream_leaves_the_connection_serving(crio, when):
    with w.H2Client(crio.sock) as c:
        sid = c.open_stream(IMAGE_STATUS)
        if when == "mid-message":
            c.send_body(sid, w.grpc_frame(image_status_request())[:7], end_stream=False)
        c.reset(sid, h2.errors.ErrorCodes.CANCEL)
        assert_serves(c)
        c.ping(b"afterrst")
        c.wait(lambda: b"afterrst" in c.ping_acks, what="the PING ACK")


def test_client_reset_stops_the_call_in_progress(make_daemon, silent_registry):
    """RST_STREAM CANCEL on a pull that hangs on its registry: the pull stops (its registry connection
    is closed) and the connection serves on."""
    d = make_daemon().start()
    with w.H2Client(d.sock) as c:
        sid = c.open_stream(PULL_IMAGE)
        c.send_body(sid, pull_request(f"{silent_registry.host}/x/y:1"))
        conn = silent_registry.wait_connection()
        c.reset(sid, h2.errors.ErrorCodes.CANCEL)
        assert closed_by_peer(conn, 5), "the pull kept its registry connection after the client cancelled"
        assert_serves(c)


# ---------------------------------------------------------------------------------------------------------
# The connection


def test_ping_is_acknowledged_with_its_payload(crio):
    """PINGs are answered with the same 8 bytes, also several in a row (kubelets ping idle connections),
    without the server taking them for abuse (a GOAWAY ENHANCE_YOUR_CALM)."""
    with w.H2Client(crio.sock) as c:
        payloads = [b"crio-%03d" % i for i in range(5)]
        for p in payloads:
            c.ping(p)
        c.wait(lambda: len(c.ping_acks) >= len(payloads), what="the PING ACKs")
        assert sorted(c.ping_acks) == payloads
        assert_serves(c)
        c.ping(b"\x00\xff" * 4)
        c.wait(lambda: len(c.ping_acks) > len(payloads), what="the last PING ACK")
        assert c.ping_acks[-1] == b"\x00\xff" * 4
        assert c.goaway is None


def frame(ftype, flags, stream_id, payload):
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + stream_id.to_bytes(4, "big") + payload


# Connection errors of RFC 9113: the server answers with GOAWAY and closes the connection (gRPC core
# closes it without a GOAWAY). Core lets some others pass (DATA on an idle stream, PING, GOAWAY or
# RST_STREAM with the wrong stream id), so they are not here.
CONNECTION_ERRORS = {
    "settings-of-5-bytes": frame(0x4, 0, 0, b"\x00" * 5),  # FRAME_SIZE_ERROR
    "settings-ack-with-payload": frame(0x4, 0x1, 0, b"\x00" * 6),  # FRAME_SIZE_ERROR
    "settings-on-a-stream": frame(0x4, 0, 1, b""),  # PROTOCOL_ERROR
    "enable-push-2": frame(0x4, 0, 0, b"\x00\x02\x00\x00\x00\x02"),  # PROTOCOL_ERROR
    "initial-window-past-2^31": frame(0x4, 0, 0, b"\x00\x04\x80\x00\x00\x00"),  # FLOW_CONTROL_ERROR
    "ping-of-7-bytes": frame(0x6, 0, 0, b"\x00" * 7),  # FRAME_SIZE_ERROR
    "window-update-of-0": frame(0x8, 0, 0, b"\x00" * 4),  # PROTOCOL_ERROR
    # HEADERS without END_HEADERS must be followed by CONTINUATION: PROTOCOL_ERROR.
    "ping-inside-a-header-block": frame(0x1, 0, 1, b"\x82") + frame(0x6, 0, 0, b"\x00" * 8),
    "continuation-without-headers": frame(0x9, 0x4, 1, b"\x82"),  # PROTOCOL_ERROR
    "undecodable-hpack": frame(0x1, 0x5, 1, b"\xff" * 6),  # COMPRESSION_ERROR
    "frame-past-max-frame-size": None,  # built from the server's SETTINGS_MAX_FRAME_SIZE
}


@pytest.mark.parametrize("garbage", CONNECTION_ERRORS.values(), ids=CONNECTION_ERRORS.keys())
def test_connection_error_ends_the_connection_only(crio, garbage):
    with w.H2Client(crio.sock) as c:
        c.wait_ready()
        if garbage is None:
            size = c.conn.remote_settings.max_frame_size + 1
            if size > 0xFFFFFF:
                pytest.skip("the server takes frames of any size")
            # The head of a DATA frame of that size on stream 1, and a little of its payload.
            garbage = size.to_bytes(3, "big") + b"\x00\x00" + (1).to_bytes(4, "big") + b"\x00" * 64
        c.send_raw(garbage)
        code, gone = c.wait_gone_raw(5)
        assert gone, "the server neither sent GOAWAY nor closed the connection"
        assert code != h2.errors.ErrorCodes.NO_ERROR, "GOAWAY with NO_ERROR for a connection error"
    assert_serves(crio.sock)


def test_unknown_frame_type_is_ignored(crio):
    """RFC 9113 section 4.1: frames of an unknown type are ignored."""
    with w.H2Client(crio.sock) as c:
        c.wait_ready()
        c.send_raw(frame(0xEE, 0, 0, b"what is this") + frame(0xEF, 0xFF, 1, b"\x00" * 100))
        assert_serves(c)
        assert c.goaway is None


def test_header_block_over_64k_is_refused_or_answered(crio):
    """A 100 KB header (a block of 87.5 KB on the wire, in CONTINUATION frames) is past what the server
    advertised (gRPC core: SETTINGS_MAX_HEADER_LIST_SIZE 8192) and what gRPC suggests (8 KiB). A server
    may refuse it (RST_STREAM, HTTP 431, RESOURCE_EXHAUSTED, or GOAWAY for the connection); gRPC core
    answered the call. nghttp2 refuses a single field past 64 KiB as a compression error, which ends
    the connection (with GOAWAY)."""
    with w.H2Client(crio.sock) as c:
        sid = c.open_stream(VERSION, extra=[("x-huge", "x" * 100_000)])
        c.send_body(sid, w.version_body())
        r = c.wait_reply(sid, timeout=10)
        assert r.closed and c.gone, r
    assert_serves(crio.sock)


def test_headers_past_the_servers_limit_reset_the_stream(crio):
    """Request headers past the daemon's 16 KiB (20 KB here, each field under HPACK's limits) reset that
    stream only; the connection serves on."""
    with w.H2Client(crio.sock) as c:
        sid = c.open_stream(VERSION, extra=[(f"x-big-{i}", "x" * 5000) for i in range(4)])
        c.send_body(sid, w.version_body())
        r = c.wait_reply(sid, timeout=10)
        assert r.reset is not None and not r.closed, r
        assert_serves(c)
    assert_serves(crio.sock)


def test_sigterm_sends_goaway_to_an_idle_client(make_daemon):
    """An idle connection (as a kubelet keeps) hears of the shutdown at once: a GOAWAY with NO_ERROR
    (or at least the connection closes), and the daemon exits 0."""
    d = make_daemon().start()
    with w.H2Client(d.sock) as c:
        assert_serves(c)
        d.send_signal(signal.SIGTERM)
        assert c.wait_gone(5), "no GOAWAY and no close within 5 s of SIGTERM"
        if c.goaway is not None:
            assert c.goaway.error_code == h2.errors.ErrorCodes.NO_ERROR, c.goaway
        assert d.wait(10) == 0, d.log_tail()
