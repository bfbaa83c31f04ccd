# SPDX-License-Identifier: Apache-2.0
"""A gRPC client written on raw HTTP/2 frames (python3-h2), for tests of what the daemon's transport does
with frames and headers a well-behaved gRPC library would never send. Every wait has a deadline, so a
server that hangs fails the test instead of hanging it."""

import socket
import struct
import time
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

import crio_helpers as h

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def grpc_frame(message, compressed=False, length=None):
    """A Length-Prefixed-Message: the compressed flag, the 4-byte big-endian length (or the `length`
    given, to lie about it), then the message bytes."""
    return struct.pack(">BI", 1 if compressed else 0, len(message) if length is None else length) + message


def grpc_messages(body):
    """Split a response body into its messages; fails on a truncated one."""
    msgs = []
    while body:
        assert len(body) >= 5, f"truncated message prefix {body!r}"
        flag, n = struct.unpack(">BI", body[:5])
        assert flag == 0, f"compressed response message (flag {flag}) though the client accepts none"
        assert len(body) >= 5 + n, f"message of {n} bytes truncated to {len(body) - 5}"
        msgs.append(body[5:5 + n])
        body = body[5 + n:]
    return msgs


def call_headers(path, content_type="application/grpc", method="POST", extra=(), authority="localhost"):
    """The Request-Headers of a call, pseudo-headers first, as (name, value) byte pairs."""
    hdrs = [(":method", method), (":scheme", "http"), (":path", h.CriClient.method_path(path)),
            (":authority", authority), ("te", "trailers")]
    if content_type is not None:
        hdrs.append(("content-type", content_type))
    hdrs += list(extra)
    return [(k.encode(), v.encode() if isinstance(v, str) else v) for k, v in hdrs]


@dataclass
class Reply:
    """What a client observed on one stream."""
    status: int = None  # the :status of the response headers
    headers: dict = field(default_factory=dict)  # response headers (all of them for trailers-only)
    body: bytes = b""  # the DATA bytes, message framing included
    trailers: dict = field(default_factory=dict)
    ended: bool = False  # END_STREAM received
    reset: int = None  # the RST_STREAM error code, if the server reset the stream
    closed: bool = False  # the connection went away (GOAWAY or EOF) before the stream ended

    @property
    def messages(self):
        return grpc_messages(self.body)

    @property
    def grpc_status(self):
        """grpc-status from the trailers, or from a trailers-only HEADERS frame; None if neither has one."""
        v = self.trailers.get("grpc-status", self.headers.get("grpc-status") if self.ended and not self.trailers
                              else None)
        return None if v is None else int(v)

    @property
    def grpc_message(self):
        return self.trailers.get("grpc-message", self.headers.get("grpc-message"))

    @property
    def done(self):
        return self.ended or self.reset is not None or self.closed

    def __str__(self):
        return (f"Reply(status={self.status}, grpc-status={self.grpc_status}, grpc-message={self.grpc_message!r}, "
                f"reset={self.reset}, closed={self.closed}, ended={self.ended}, headers={self.headers}, "
                f"trailers={self.trailers}, body={self.body[:80]!r})")


def _header_dict(pairs):
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in pairs}


class H2Client:
    """One HTTP/2 connection to a unix socket. Received DATA is acknowledged at once (WINDOW_UPDATE)
    unless auto_ack is False. h2 takes any GOAWAY as the end of the connection, so after one nothing more
    is read: streams not ended by then count as closed, even those the GOAWAY would let finish."""

    def __init__(self, sock_path, timeout=5.0, settings=None, auto_ack=True):
        self.timeout = timeout
        self.auto_ack = auto_ack
        self.sock = h.connect_unix(sock_path, timeout)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
        self.conn.initiate_connection()
        self.settings_acked = 0
        self.settings_sent = 1
        if settings:
            self.conn.update_settings(settings)
            self.settings_sent += 1
        self.replies = {}  # stream id -> Reply
        self.unacked = {}  # stream id -> flow-controlled bytes received and not yet acknowledged
        self.remote_settings_seen = False
        self.goaway = None  # the ConnectionTerminated event
        self.eof = False
        self.inbuf = bytearray()
        self.after_end = []  # (stream id, frame type, headers or payload) received after END_STREAM
        self.late_block = b""
        self.ping_acks = []
        self.flush()

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- sending -----------------------------------------------------------------------------------------

    def flush(self):
        data = self.conn.data_to_send()
        self.send_raw(data)

    def send_raw(self, data):
        """Write bytes as they are; a server that already closed is noted, not raised."""
        if not data or self.eof:
            return
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.eof = True

    def open_stream(self, path, content_type="application/grpc", method="POST", extra=(), end_stream=False,
                    authority="localhost"):
        """Send a call's HEADERS frame; returns the stream id."""
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, call_headers(path, content_type, method, extra, authority),
                               end_stream=end_stream)
        self.replies[sid] = Reply()
        self.flush()
        return sid

    def send_body(self, sid, body, end_stream=True, frame_size=None):
        """DATA frames carrying body (of at most frame_size bytes, or as large as the peer allows),
        END_STREAM on the last one. Waits for WINDOW_UPDATEs when the peer's window is full. A stream the
        server already ended or reset takes nothing more."""
        r = self.replies[sid]
        sent = 0
        while True:
            if r.done or self.gone:
                return
            n = min(len(body) - sent, frame_size or self.conn.max_outbound_frame_size,
                    self.conn.local_flow_control_window(sid))
            if n == 0 and sent < len(body):
                window = lambda: self.conn.local_flow_control_window(sid) > 0 or r.done  # noqa: E731
                self.wait(window, what=f"a WINDOW_UPDATE for stream {sid} after {sent} bytes")
                continue
            last = sent + n == len(body)
            try:
                self.conn.send_data(sid, body[sent:sent + n], end_stream=end_stream and last)
            except h2.exceptions.StreamClosedError:
                return
            sent += n
            self.flush()
            if last:
                return

    def reset(self, sid, code=h2.errors.ErrorCodes.CANCEL):
        self.conn.reset_stream(sid, code)
        self.flush()

    def ping(self, payload):
        self.conn.ping(payload)
        self.flush()

    def ack(self, sid, nbytes=None):
        """Acknowledge received DATA of stream sid (all of it by default), letting the server send more."""
        n = self.unacked.get(sid, 0) if nbytes is None else nbytes
        if n:
            self.conn.acknowledge_received_data(n, sid)
            self.unacked[sid] -= n
            self.flush()

    # -- receiving ---------------------------------------------------------------------------------------

    @property
    def gone(self):
        return self.eof or self.goaway is not None

    def _recv(self, timeout):
        """What one recv gets within timeout seconds: None if nothing came, b"" once the server closed."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536)
        except socket.timeout:
            return None
        except ConnectionResetError:
            return b""

    def pump(self, timeout=None):
        """Read what arrives within timeout seconds (at most one recv) and handle its events."""
        if self.gone:
            return
        data = self._recv(self.timeout if timeout is None else max(timeout, 0.001))
        if data is None:
            return
        if not data:
            self.eof = True
            for r in self.replies.values():
                if not r.done:
                    r.closed = True
            return
        self.inbuf += data
        # One frame at a time: h2 raises on any frame after a GOAWAY (gRPC core follows its first GOAWAY
        # with a PING), and would drop the events of the frames before it in the same batch.
        while len(self.inbuf) >= 9 and not self.gone:
            size = 9 + int.from_bytes(self.inbuf[:3], "big")
            if len(self.inbuf) < size:
                break
            frame, self.inbuf = bytes(self.inbuf[:size]), self.inbuf[size:]
            if self._after_end(frame):
                continue
            for ev in self.conn.receive_data(frame):
                self._handle(ev)
        self.flush()

    def _after_end(self, frame):
        """Note and drop a HEADERS, CONTINUATION or DATA frame on a stream the server already ended with
        END_STREAM (h2 would take it for a connection error): gRPC core sends a second trailers-only
        response after it ended a call at its deadline. Returns True if the frame was dropped."""
        ftype, flags, sid = frame[3], frame[4], int.from_bytes(frame[5:9], "big") & 0x7FFFFFFF
        r = self.replies.get(sid)
        if ftype not in (0x0, 0x1, 0x9) or r is None or not r.ended:
            return False
        payload = frame[9:]
        if ftype == 0x0:
            self.after_end.append((sid, "DATA", payload))
            if payload:  # it took its share of the connection window all the same
                self.conn.increment_flow_control_window(len(payload))
            return True
        if ftype == 0x1:
            if flags & 0x8:  # PADDED
                payload = payload[1:len(payload) - payload[0]]
            if flags & 0x20:  # PRIORITY
                payload = payload[5:]
            self.late_block = b""
        self.late_block += payload
        if flags & 0x4:  # END_HEADERS: decoded all the same, to keep HPACK's dynamic table in step
            headers = self.conn.decoder.decode(self.late_block, raw=True)
            self.after_end.append((sid, "HEADERS", _header_dict(headers)))
        return True

    def _handle(self, ev):
        r = self.replies.get(getattr(ev, "stream_id", None))
        if isinstance(ev, h2.events.ResponseReceived):
            r.headers = _header_dict(ev.headers)
            r.status = int(r.headers[":status"])
        elif isinstance(ev, h2.events.DataReceived):
            r.body += ev.data
            if ev.flow_controlled_length:
                self.unacked[ev.stream_id] = self.unacked.get(ev.stream_id, 0) + ev.flow_controlled_length
                if self.auto_ack:
                    self.ack(ev.stream_id)
        elif isinstance(ev, h2.events.TrailersReceived):
            r.trailers = _header_dict(ev.headers)
        elif isinstance(ev, h2.events.StreamEnded):
            r.ended = True
        elif isinstance(ev, h2.events.StreamReset):
            if r is not None and not r.ended:
                r.reset = ev.error_code
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = ev
            for rep in self.replies.values():
                if not rep.done:
                    rep.closed = True
        elif isinstance(ev, h2.events.PingAckReceived):
            self.ping_acks.append(ev.ping_data)
        elif isinstance(ev, h2.events.SettingsAcknowledged):
            self.settings_acked += 1
        elif isinstance(ev, h2.events.RemoteSettingsChanged):
            self.remote_settings_seen = True

    def wait(self, predicate, timeout=None, what="the server"):
        """Handle frames until predicate() holds; AssertionError if it does not within timeout seconds."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; replies: "
                                     f"{ {sid: str(r) for sid, r in self.replies.items()} }, goaway={self.goaway}, "
                                     f"eof={self.eof}")
            if self.gone:
                raise AssertionError(f"connection gone (goaway={self.goaway}, eof={self.eof}) while waiting for "
                                     f"{what}")
            self.pump(left)
        return True

    def wait_ready(self, timeout=None):
        """Wait for the server's SETTINGS and its acknowledgement of ours."""
        self.wait(lambda: self.remote_settings_seen and self.settings_acked >= self.settings_sent, timeout,
                  "the server's SETTINGS and SETTINGS ACK")

    def wait_reply(self, sid, timeout=None):
        """The Reply of stream sid once it ended, was reset or lost its connection."""
        r = self.replies[sid]
        self.wait(lambda: r.done or self.gone, timeout, f"the end of stream {sid}")
        if not r.done:
            r.closed = True
        return r

    def wait_gone(self, timeout=None):
        """Wait until the server sends GOAWAY or closes the connection; returns True if it did."""
        try:
            self.wait(lambda: self.gone, timeout, "GOAWAY or EOF")
        except AssertionError:
            return False
        return True

    def wait_gone_raw(self, timeout=None):
        """After sending what h2 did not see (its state no longer matches the server's), read frames
        without h2 until a GOAWAY or EOF. Returns (GOAWAY error code or None, True if the connection
        went away within timeout seconds)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        buf = self.inbuf
        while not self.eof:
            while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
                size = 9 + int.from_bytes(buf[:3], "big")
                if buf[3] == 0x7 and size >= 17:  # GOAWAY: last stream id, then the error code
                    return int.from_bytes(buf[13:17], "big"), True
                buf = buf[size:]
            left = deadline - time.monotonic()
            if left <= 0:
                return None, False
            data = self._recv(left)
            if data is None:
                continue
            if not data:
                self.eof = True
            buf += data
        return None, True

    def call(self, path, body=b"", content_type="application/grpc", method="POST", extra=(), timeout=None,
             authority="localhost"):
        """One call: HEADERS, then body in DATA with END_STREAM. Returns its Reply."""
        sid = self.open_stream(path, content_type, method, extra, authority=authority)
        self.send_body(sid, body)
        return self.wait_reply(sid, timeout)


def call(sock_path, path, body=b"", timeout=5.0, **kwargs):
    """One call on a connection of its own: returns its Reply."""
    with H2Client(sock_path, timeout) as c:
        return c.call(path, body, **kwargs)


def version_body():
    return grpc_frame(h.pb().VersionRequest(version="v1").SerializeToString())


def assert_version_ok(reply):
    """The reply is a successful Version answer: 200, one VersionResponse, grpc-status 0."""
    assert reply.status == 200, reply
    assert reply.headers.get("content-type", "").startswith("application/grpc"), reply
    assert reply.grpc_status == 0, reply
    msgs = reply.messages
    assert len(msgs) == 1, reply
    v = h.pb().VersionResponse.FromString(msgs[0])
    assert v.runtime_name == "crio-c", v
    return v
