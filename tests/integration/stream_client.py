# SPDX-License-Identifier: Apache-2.0
"""A small client of the streaming server, written for the tests: SPDY/3.1 (as kubectl and crictl speak it)
and WebSocket (RFC 6455), and the Kubernetes remotecommand and portforward protocols on top."""

import base64
import json
import os
import socket
import ssl
import struct
import zlib
from urllib.parse import urlparse

_WORDS = ("options head post put delete trace accept accept-charset accept-encoding accept-language "
          "accept-ranges age allow authorization cache-control connection content-base content-encoding "
          "content-language content-length content-location content-md5 content-range content-type date etag "
          "expect expires from host if-match if-modified-since if-none-match if-range if-unmodified-since "
          "last-modified location max-forwards pragma proxy-authenticate proxy-authorization range referer "
          "retry-after server te trailer transfer-encoding upgrade user-agent vary via warning www-authenticate "
          "method get status").split() + ["200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie",
                                            "keep-alive", "origin"]
_TAIL = (b"100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
         b"203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
         b"403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
         b"Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
         b"chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
         b"text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
SPDY_DICT = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL
assert len(SPDY_DICT) == 1423

SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FIN = 1
INITIAL_WINDOW = 65536
SETTINGS_INITIAL_WINDOW_SIZE = 7


class UpgradeRefused(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body!r}")
        self.status, self.body = status, body


def _connect(url, timeout, ca=None, cert=None):
    """A TCP connection to the URL's host; TLS for https, verified against the CA file `ca`, with the client
    certificate `cert` (a (cert file, key file) pair) if given."""
    u = urlparse(url)
    s = socket.create_connection((u.hostname, u.port), timeout=timeout)
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=str(ca) if ca else None)
        if cert:
            ctx.load_cert_chain(str(cert[0]), str(cert[1]))
        s = ctx.wrap_socket(s, server_hostname=u.hostname)
    return s, u


def _read_response(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"connection closed during the handshake: {data!r}")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, rest


def _refused(sock, status, headers, rest):
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = sock.recv(4096)
        if not chunk:
            break
        rest += chunk
    sock.close()
    raise UpgradeRefused(status, rest)


def headers_block(pairs):
    out = struct.pack(">I", len(pairs))
    for k, v in pairs:
        out += struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
    return out


def control_frame(ftype, flags, payload):
    return struct.pack(">HHI", 0x8000 | 3, ftype, (flags << 24) | len(payload)) + payload


def data_frame(stream_id, flags, data):
    return struct.pack(">II", stream_id & 0x7fffffff, (flags << 24) | len(data)) + data


def window_update(stream_id, delta):
    return control_frame(WINDOW_UPDATE, 0, struct.pack(">II", stream_id, delta))


def settings_frame(pairs):
    return control_frame(SETTINGS, 0, struct.pack(">I", len(pairs))
                         + b"".join(struct.pack(">II", k & 0xffffff, v) for k, v in pairs))


class FlowControlViolation(AssertionError):
    pass


class SpdyConnection:
    """A SPDY/3.1 client session: open streams, send data, and collect what the server sends per stream.

    Without `flow` it behaves as Kubernetes' clients (moby/spdystream) do: no windows either way. With `flow`
    it keeps SPDY/3.1 flow control as the specification asks: it announces its stream window (`window`) in a
    SETTINGS frame (unless not `announce`: then the server learns of it from its first WINDOW_UPDATE), raises FlowControlViolation when the server sends more than a window allows, gives the
    window back with WINDOW_UPDATE as it takes data in, and sends no more than the server's windows allow."""

    def __init__(self, url, protocols=("v4.channel.k8s.io",), timeout=30.0, method="POST", ca=None, cert=None,
                 flow=False, window=INITIAL_WINDOW, announce=True):
        self.sock, u = _connect(url, timeout, ca, cert)
        req = (f"{method} {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
               + "".join(f"X-Stream-Protocol-Version: {p}\r\n" for p in protocols) + "\r\n")
        self.sock.sendall(req.encode())
        status, headers, rest = _read_response(self.sock)
        if status != 101:
            _refused(self.sock, status, headers, rest)
        self.protocol = headers.get("x-stream-protocol-version")
        self.buf = rest
        self.comp = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, SPDY_DICT)
        self.decomp = zlib.decompressobj(zdict=SPDY_DICT)
        self.next_id = 1
        self.data, self.fin, self.replied, self.reset = {}, set(), set(), {}
        self.fin_order = []
        self.goaway = None
        self.closed = False
        self.flow, self.recv_initial = flow, window
        self.send_win, self.session_send = {}, INITIAL_WINDOW
        self.recv_win, self.session_recv, self.credit, self.session_credit = {}, INITIAL_WINDOW, {}, 0
        self.updates_received = 0
        self.pings_answered = 0
        if flow and announce:
            self.send_raw(settings_frame([(SETTINGS_INITIAL_WINDOW_SIZE, window)]))

    def send_raw(self, b):
        self.sock.sendall(b)

    def open_stream(self, pairs, fin=False, wait=True):
        sid = self.next_id
        self.next_id += 2
        block = self.comp.compress(headers_block(pairs)) + self.comp.flush(zlib.Z_SYNC_FLUSH)
        self.send_raw(control_frame(SYN_STREAM, FIN if fin else 0, struct.pack(">IIH", sid, 0, 0) + block))
        self.send_win[sid] = INITIAL_WINDOW
        self.recv_win[sid] = self.recv_initial
        if wait:
            self.wait(lambda: sid in self.replied or sid in self.reset)
        return sid

    def send(self, sid, data, fin=False):
        off = 0
        while True:
            n = min(len(data) - off, 32768)
            if self.flow:
                while n > 0 and min(self.send_win[sid], self.session_send) <= 0:
                    if sid in self.reset or not self.read_frame():
                        raise ConnectionError(f"stream {sid} closed while waiting for window")
                n = min(n, self.send_win[sid], self.session_send)
                self.send_win[sid] -= n
                self.session_send -= n
            last = off + n >= len(data)
            self.send_raw(data_frame(sid, FIN if fin and last else 0, data[off:off + n]))
            off += n
            if last:
                return

    def close_stream(self, sid):
        self.send_raw(data_frame(sid, FIN, b""))

    def reset_stream(self, sid):
        self.send_raw(control_frame(RST_STREAM, 0, struct.pack(">II", sid, 5)))

    def read_frame(self):
        """Read one frame into the per-stream state; False once the connection is closed."""
        while True:
            if len(self.buf) >= 8:
                length = struct.unpack(">I", self.buf[4:8])[0] & 0xffffff
                if len(self.buf) >= 8 + length:
                    frame, self.buf = self.buf[:8 + length], self.buf[8 + length:]
                    self._handle(frame)
                    return True
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.closed = True
                return False
            self.buf += chunk

    def _handle(self, frame):
        first, flags = struct.unpack(">I", frame[:4])[0], frame[4]
        payload = frame[8:]
        if not first & 0x80000000:
            sid = first & 0x7fffffff
            self.data.setdefault(sid, bytearray()).extend(payload)
            if flags & FIN:
                self.fin.add(sid)
                self.fin_order.append(sid)
            if self.flow:
                self._account(sid, len(payload))
            return
        ftype = first & 0xffff
        if ftype == SYN_REPLY:
            sid = struct.unpack(">I", payload[:4])[0] & 0x7fffffff
            self.decomp.decompress(payload[4:])
            self.replied.add(sid)
            if flags & FIN:
                self.fin.add(sid)
        elif ftype == RST_STREAM:
            sid, code = struct.unpack(">II", payload[:8])
            self.reset[sid & 0x7fffffff] = code
        elif ftype == GOAWAY:
            self.goaway = struct.unpack(">II", payload[:8])
        elif ftype == PING:
            self.pong = struct.unpack(">I", payload[:4])[0]
            if self.pong % 2 == 0:  # the server's own ping: answer it, as spdystream does
                self.send_raw(frame)
                self.pings_answered += 1
        elif ftype == WINDOW_UPDATE:
            sid, delta = struct.unpack(">II", payload[:8])
            self.updates_received += 1
            if sid == 0:
                self.session_send += delta
            elif sid in self.send_win:
                self.send_win[sid] += delta

    def _account(self, sid, n):
        """Received data is checked against our windows, taken in at once, and its window given back."""
        self.session_recv -= n
        self.recv_win[sid] = self.recv_win.get(sid, self.recv_initial) - n
        if self.session_recv < 0 or self.recv_win[sid] < 0:
            raise FlowControlViolation(f"the server overran a window on stream {sid}: "
                                       f"stream {self.recv_win[sid]}, session {self.session_recv}")
        self.credit[sid] = self.credit.get(sid, 0) + n
        self.session_credit += n
        if self.session_credit >= INITIAL_WINDOW // 2:
            self.send_raw(window_update(0, self.session_credit))
            self.session_recv += self.session_credit
            self.session_credit = 0
        if self.credit[sid] >= self.recv_initial // 2 and sid not in self.fin:
            self.send_raw(window_update(sid, self.credit[sid]))
            self.recv_win[sid] += self.credit[sid]
            self.credit[sid] = 0

    def wait(self, cond):
        while not cond():
            if not self.read_frame():
                raise ConnectionError("connection closed while waiting")

    def read_until_closed(self):
        while self.read_frame():
            pass

    def read_until_goaway(self):
        """What client-go does: the session is over once the server says goodbye (it need not wait for EOF)."""
        while self.goaway is None and self.read_frame():
            pass

    def stream_data(self, sid):
        return bytes(self.data.get(sid, b""))

    def close(self):
        self.sock.close()


class ExecResult:
    def __init__(self, stdout, stderr, error, protocol):
        self.stdout, self.stderr, self.error, self.protocol = stdout, stderr, error, protocol

    @property
    def status(self):
        return json.loads(self.error) if self.error else None

    @property
    def exit_code(self):
        """The exit code as a v4 client reads it from the error stream's Status."""
        st = self.status
        if st is None or st.get("status") == "Success":
            return 0
        assert st.get("reason") == "NonZeroExitCode", st
        return int(next(c["message"] for c in st["details"]["causes"] if c["reason"] == "ExitCode"))


def remotecommand_streams(conn, stdin=False, stdout=True, stderr=True, tty=False):
    """Open the streams a remotecommand client opens, in kubectl's order. Returns {type: stream id}."""
    ids = {"error": conn.open_stream([("streamtype", "error")])}
    for name, want in (("stdin", stdin), ("stdout", stdout), ("stderr", stderr and not tty), ("resize", tty)):
        if want:
            ids[name] = conn.open_stream([("streamtype", name)])
    return ids


def spdy_exec(url, stdin_data=None, tty=False, stdout=True, stderr=True, resize=None,
              protocols=("v4.channel.k8s.io",), ca=None, cert=None, flow=False, window=INITIAL_WINDOW,
              announce=True):
    """Run a remotecommand session to its end: send stdin (then close it), collect output and the error stream."""
    conn = SpdyConnection(url, protocols, ca=ca, cert=cert, flow=flow, window=window, announce=announce)
    try:
        ids = remotecommand_streams(conn, stdin=stdin_data is not None, stdout=stdout, stderr=stderr, tty=tty)
        if resize:
            conn.send(ids["resize"], json.dumps({"Width": resize[0], "Height": resize[1]}).encode())
        if stdin_data is not None:
            conn.send(ids["stdin"], stdin_data, fin=True)
        conn.read_until_goaway()
        return ExecResult(conn.stream_data(ids.get("stdout", -1)), conn.stream_data(ids.get("stderr", -1)),
                          conn.stream_data(ids["error"]).decode(), conn.protocol)
    finally:
        conn.close()


class WebSocketConnection:
    """An RFC 6455 client: masked frames out, the Kubernetes channel byte first in each binary message (or,
    with a base64 protocol, text messages holding the channel as an ASCII digit and the data in base64)."""

    def __init__(self, url, protocols=("v4.channel.k8s.io",), timeout=30.0, key=None):
        self.sock, u = _connect(url, timeout)
        self.key = key or base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
               f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {self.key}\r\n"
               + (f"Sec-WebSocket-Protocol: {', '.join(protocols)}\r\n" if protocols else "") + "\r\n")
        self.sock.sendall(req.encode())
        status, self.headers, rest = _read_response(self.sock)
        if status != 101:
            _refused(self.sock, status, self.headers, rest)
        self.protocol = self.headers.get("sec-websocket-protocol")
        self.base64 = "base64" in (self.protocol or "")
        self.buf = rest
        self.channels = {}
        self.close_code = None
        self.closed = False

    def send_frame(self, opcode, payload, fin=True, mask=True):
        head = bytes([(0x80 if fin else 0) | opcode])
        n = len(payload)
        mbit = 0x80 if mask else 0
        if n < 126:
            head += bytes([mbit | n])
        elif n < 65536:
            head += bytes([mbit | 126]) + struct.pack(">H", n)
        else:
            head += bytes([mbit | 127]) + struct.pack(">Q", n)
        if mask:
            m = os.urandom(4)
            payload = bytes(b ^ m[i % 4] for i, b in enumerate(payload))
            head += m
        self.sock.sendall(head + payload)

    def send(self, channel, data):
        if self.base64:
            self.send_frame(1, bytes([ord("0") + channel]) + base64.b64encode(data))
        else:
            self.send_frame(2, bytes([channel]) + data)

    def read_frame(self):
        while True:
            if len(self.buf) >= 2:
                n = self.buf[1] & 0x7f
                off = 2
                if n == 126 and len(self.buf) >= 4:
                    n, off = struct.unpack(">H", self.buf[2:4])[0], 4
                elif n == 127 and len(self.buf) >= 10:
                    n, off = struct.unpack(">Q", self.buf[2:10])[0], 10
                if (self.buf[1] & 0x7f) < 126 or off > 2:
                    if len(self.buf) >= off + n:
                        opcode, payload = self.buf[0] & 0x0f, self.buf[off:off + n]
                        self.buf = self.buf[off + n:]
                        if opcode == 2 and payload:
                            self.channels.setdefault(payload[0], bytearray()).extend(payload[1:])
                        elif opcode == 1 and payload and self.base64:
                            self.channels.setdefault(payload[0] - ord("0"), bytearray()).extend(
                                base64.b64decode(payload[1:], validate=True))
                        elif opcode == 8:
                            self.close_code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 0
                        return True
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.closed = True
                return False
            self.buf += chunk

    def read_until_closed(self):
        while self.read_frame():
            pass

    def channel(self, n):
        return bytes(self.channels.get(n, b""))

    def close(self):
        self.sock.close()
