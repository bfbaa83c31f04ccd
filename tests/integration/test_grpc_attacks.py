# SPDX-License-Identifier: Apache-2.0
"""Clients that misbehave on purpose against the daemon's gRPC server (rpc-server.c, rpc-conn.c): each test
names what a hostile or stalled client does and what the server must not do in return (spin, leak, hang
its shutdown)."""

import os
import signal
import socket
import time

import h2.settings

import crio_helpers as h
import pod_helpers as ph
import h2_client as w

VERSION = "Version"


def cpu_seconds(pid):
    """User plus system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_used_over(pid, seconds):
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return cpu_seconds(pid) - before


def assert_serves(sock):
    w.assert_version_ok(w.call(sock, VERSION, w.version_body()))


def test_deadline_of_an_answer_the_client_does_not_read_does_not_spin(make_daemon):
    """A call answered in time whose client opens no window for the answer, then lets the deadline pass:
    the answer waits for the client, and the connection thread sleeps meanwhile."""
    d = make_daemon().start()
    settings = {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0}
    with w.H2Client(d.sock, settings=settings, auto_ack=False) as c:
        c.wait_ready()
        sid = c.open_stream(VERSION, extra=[("grpc-timeout", "200m")])
        c.send_body(sid, w.version_body())
        r = c.replies[sid]
        c.wait(lambda: r.status is not None, what="the response headers")
        time.sleep(0.5)  # past the deadline
        used = cpu_used_over(d.pid, 2.0)
        assert used < 0.5, f"the daemon used {used:.2f} s of CPU in 2 s with one stalled call"
    assert_serves(d.sock)


def ping_frame():
    return (8).to_bytes(3, "big") + b"\x06\x00" + b"\x00" * 4 + b"\x00" * 8


# Fewer PINGs than nghttp2's flood limit for what one read brings.
PING_BATCH = ping_frame() * 500


def pinger(d):
    """A raw, non-blocking connection past the preface and an empty SETTINGS frame, for PING batches."""
    s = h.connect_unix(d.sock, 5.0)
    s.sendall(w.PREFACE + (0).to_bytes(3, "big") + b"\x04\x00" + b"\x00" * 4)
    s.setblocking(False)
    return s


def test_broken_connection_with_unread_output_does_not_spin(make_daemon):
    """A client sends PINGs and never reads their ACKs: the server's socket fills, nghttp2 finds the
    connection flooded and gives it up while ACKs are still unsent and more of the client's bytes wait
    unread. The broken connection must not keep the connection thread busy while the client holds it."""
    d = make_daemon().start()
    s = pinger(d)
    try:
        # Small batches, until the server stops reading.
        deadline = time.monotonic() + 20
        blocked = 0
        while time.monotonic() < deadline and blocked < 10:
            try:
                s.send(PING_BATCH)
                blocked = 0
            except BlockingIOError:
                blocked += 1
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.01)
        time.sleep(0.5)
        used = cpu_used_over(d.pid, 2.0)
        assert used < 0.5, f"the daemon used {used:.2f} s of CPU in 2 s for one broken connection"
        assert_serves(d.sock)
    finally:
        s.close()
    assert_serves(d.sock)


EVENTS_CONF = "[crio.runtime]\nenable_pod_events = true\n"
GET_EVENTS = "GetContainerEvents"


def exit_time(d, timeout=20.0):
    """Seconds from SIGTERM to the daemon's exit; its exit code must be 0."""
    start = time.monotonic()
    d.send_signal(signal.SIGTERM)
    rc = d.wait(timeout)
    assert rc == 0, d.log_tail()
    return time.monotonic() - start


def test_sigterm_ends_an_open_event_stream_at_once(make_daemon):
    d = make_daemon(config=EVENTS_CONF).start()
    with w.H2Client(d.sock) as c:
        sid = c.open_stream(GET_EVENTS)
        c.send_body(sid, w.grpc_frame(h.pb().GetEventsRequest().SerializeToString()))
        r = c.replies[sid]
        c.wait(lambda: r.status is not None, what="the stream's response headers")
        took = exit_time(d)
        c.wait_reply(sid)
    assert took < 3, f"exit took {took:.1f} s with one event stream open"


def test_sigterm_with_a_stalled_event_stream(make_daemon):
    """The client opens no window and never reads: the stream ends, the daemon exits within its grace."""
    d = make_daemon(config=EVENTS_CONF).start()
    settings = {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0}
    with w.H2Client(d.sock, settings=settings, auto_ack=False) as c:
        c.wait_ready()
        sid = c.open_stream(GET_EVENTS)
        c.send_body(sid, w.grpc_frame(h.pb().GetEventsRequest().SerializeToString()))
        r = c.replies[sid]
        c.wait(lambda: r.status is not None, what="the stream's response headers")
        took = exit_time(d)
    assert took < 8, f"exit took {took:.1f} s"


def test_sigterm_with_a_stalled_unary_answer(make_daemon):
    d = make_daemon().start()
    settings = {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0}
    with w.H2Client(d.sock, settings=settings, auto_ack=False) as c:
        c.wait_ready()
        sids = [c.open_stream(VERSION, extra=[("grpc-timeout", "1S")]) for _ in range(3)]
        for sid in sids:
            c.send_body(sid, w.version_body())
        c.wait(lambda: all(c.replies[s].status is not None for s in sids), what="the response headers")
        time.sleep(1.2)
        took = exit_time(d)
    assert took < 8, f"exit took {took:.1f} s"


def test_sigterm_with_a_client_that_never_reads_the_socket(make_daemon):
    d = make_daemon().start()
    s = pinger(d)
    try:
        for _ in range(12):  # ACKs past what the socket holds, too few at a time for a flood
            try:
                s.send(PING_BATCH)
            except BlockingIOError:
                pass
            time.sleep(0.02)
        took = exit_time(d)
    finally:
        s.close()
    assert took < 8, f"exit took {took:.1f} s"


def test_sigterm_with_a_request_still_coming(make_daemon):
    """A call whose request never ends holds the daemon for its grace, not longer."""
    d = make_daemon(config=EVENTS_CONF).start()
    with w.H2Client(d.sock) as c:
        sid = c.open_stream(GET_EVENTS)
        c.send_body(sid, w.grpc_frame(h.pb().GetEventsRequest().SerializeToString()), end_stream=False)
        sid2 = c.open_stream("NoSuchMethod")
        c.wait_reply(sid2)
        took = exit_time(d)
    assert took < 8, f"exit took {took:.1f} s"


def test_sigterm_sends_goaway_to_every_idle_client(make_daemon):
    """Idle connections (a kubelet keeps one) hear GOAWAY before the daemon closes them: a grpc-go client
    takes a close without one for a broken transport."""
    d = make_daemon().start()
    clients = [w.H2Client(d.sock) for _ in range(5)]
    try:
        for c in clients:
            w.assert_version_ok(c.call(VERSION, w.version_body()))
        d.send_signal(signal.SIGTERM)
        for c in clients:
            assert c.wait_gone(5), "no GOAWAY and no close within 5 s of SIGTERM"
        assert [c.goaway is not None for c in clients] == [True] * len(clients), "closed without GOAWAY"
        assert d.wait(10) == 0, d.log_tail()
    finally:
        for c in clients:
            c.close()


def read_stream_raw(c, sid, timeout=10.0):
    """After a GOAWAY (past which h2 reads nothing): read stream sid's frames by hand, opening the windows
    for each DATA frame, until its END_STREAM or EOF. Returns (DATA bytes, trailers dict)."""
    buf, body, trailers = bytearray(c.inbuf), b"", {}
    unacked = c.unacked.get(sid, 0)
    if unacked:  # what h2 received and did not acknowledge
        window_update(c, sid, unacked)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
            size = 9 + int.from_bytes(buf[:3], "big")
            ftype, flags = buf[3], buf[4]
            fsid = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
            payload, buf = bytes(buf[9:size]), buf[size:]
            if ftype == 0x1:  # HEADERS: decoded in order, to keep HPACK's table in step
                block = payload[1:len(payload) - payload[0]] if flags & 0x8 else payload
                block = block[5:] if flags & 0x20 else block
                headers = w._header_dict(c.conn.decoder.decode(block, raw=True))
                if fsid == sid and flags & 0x1:
                    return body, headers
            if ftype == 0x0 and fsid == sid:
                body += payload
                if payload:
                    window_update(c, sid, len(payload))
                if flags & 0x1:
                    return body, trailers
        c.sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            data = c.sock.recv(65536)
        except socket.timeout:
            continue
        if not data:
            break
        buf += data
    return body, None


def window_update(c, sid, n):
    """Open the stream's and the connection's windows by n; a server that closed already is fine."""
    inc = n.to_bytes(4, "big")
    try:
        c.sock.sendall(w_frame(0x8, 0, sid, inc) + w_frame(0x8, 0, 0, inc))
    except (BrokenPipeError, ConnectionResetError):
        pass


def w_frame(ftype, flags, stream_id, payload):
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + stream_id.to_bytes(4, "big") + payload


def test_sigterm_does_not_cut_a_stream_message_the_client_has_part_of(image_daemon, tmp_path_factory):
    """An event stream's client read part of a message (its window is small) when the daemon stops: the
    stream ends with UNAVAILABLE after that message, whole, not after a cut one (which a client takes
    for a broken stream, INTERNAL)."""
    wd = tmp_path_factory.mktemp("node")
    d = image_daemon(config=ph.runtime_conf(wd, "enable_pod_events = true\n"))
    cri = d.client(timeout=60)
    try:
        cri.run_pod()  # its events wait for the first subscriber
        settings = {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 16}
        with w.H2Client(d.sock, settings=settings, auto_ack=False, timeout=10) as c:
            c.wait_ready()
            sid = c.open_stream(GET_EVENTS)
            c.send_body(sid, w.grpc_frame(h.pb().GetEventsRequest().SerializeToString()))
            r = c.replies[sid]
            c.wait(lambda: len(r.body) >= 16, what="the first 16 bytes of the first event")
            d.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            rest, trailers = read_stream_raw(c, sid)
            assert trailers is not None, f"no end of the stream: {len(r.body + rest)} bytes"
            msgs = w.grpc_messages(r.body + rest)
            assert len(msgs) >= 1
            h.pb().ContainerEventResponse.FromString(msgs[0])
            assert trailers.get("grpc-status") == "14", trailers
        assert d.wait(20) == 0, d.log_tail()
    finally:
        if d.running():
            d.stop()
        cri.close()
        d.start()
        cri = d.client(timeout=60)
        ph.remove_everything(d, cri)


def test_a_stream_whose_deadline_passes_before_its_request_ends_is_never_opened(make_daemon):
    """GetContainerEvents with a 100 ms deadline whose body comes 300 ms later: the call ends with
    DEADLINE_EXCEEDED at its deadline, and the late request is not routed (no subscription is made for
    an answered call)."""
    d = make_daemon(config=EVENTS_CONF).start()
    with w.H2Client(d.sock) as c:
        sid = c.open_stream(GET_EVENTS, extra=[("grpc-timeout", "100m")])
        time.sleep(0.3)
        c.send_body(sid, w.grpc_frame(h.pb().GetEventsRequest().SerializeToString()))
        r = c.wait_reply(sid)
        assert r.grpc_status == 4, r
        assert_serves(d.sock)
    assert "GetContainerEvents: stream open" not in d.log


def test_compressed_flag_with_grpc_encoding_identity_is_internal(make_daemon):
    """The compressed flag with grpc-encoding identity names no compression: INTERNAL, saying so."""
    d = make_daemon().start()
    with w.H2Client(d.sock) as c:
        r = c.call(VERSION, w.grpc_frame(b"", compressed=True), extra=[("grpc-encoding", "identity")])
        assert r.grpc_status == 13 and "names no compression" in r.grpc_message, r


def test_request_bytes_held_per_connection_are_bounded(make_daemon):
    """Requests that never end, each just under the largest message allowed (1 MiB here): a connection
    may hold that size plus 16 MiB of them; the call that would pass the bound is RESOURCE_EXHAUSTED, the
    others wait, and the connection serves on."""
    d = make_daemon(config="[crio.api]\ngrpc_max_recv_msg_size = 1048576\n").start()
    body = b"\x00" + (1 << 20).to_bytes(4, "big") + b"x" * 1_000_000  # 1 MiB announced, not all sent
    with w.H2Client(d.sock) as c:
        sids = []
        for _ in range(18):  # 17 fit in 1 MiB + 16 MiB, the 18th does not
            sids.append(c.open_stream(VERSION))
            c.send_body(sids[-1], body, end_stream=False)
        last = c.wait_reply(sids[-1])
        assert last.grpc_status == 8 and "in flight" in last.grpc_message, last
        c.pump(0.2)
        assert all(not c.replies[s].done for s in sids[:-1]), [c.replies[s] for s in sids[:-1]]
        w.assert_version_ok(c.call(VERSION, w.version_body()))
