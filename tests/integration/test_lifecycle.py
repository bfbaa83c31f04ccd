# SPDX-License-Identifier: Apache-2.0
"""The daemon's life: its socket, signals, reload, readiness notification and resource hygiene."""

import os
import signal
import socket
import stat
import subprocess
import sys
import time
import tomllib

import pytest

import crio_helpers as h


def test_socket_is_a_socket_with_mode_0660(crio):
    st = os.stat(crio.sock)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660, oct(stat.S_IMODE(st.st_mode))


def test_missing_socket_directory_is_created(make_daemon, workdir):
    sock = workdir / "new" / "sub" / "crio.sock"
    d = make_daemon(listen=sock).start()
    assert stat.S_ISSOCK(os.stat(sock).st_mode)
    with d.client() as c:
        assert c.version().runtime_name == "crio-c"


def test_stale_socket_file_is_replaced(make_daemon, workdir):
    sock = workdir / "crio.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(sock))
    s.close()  # the file stays behind with nobody listening
    d = make_daemon(workdir=workdir).start()
    with d.client() as c:
        assert c.version().runtime_name == "crio-c"


def test_restart_after_sigkill_reuses_socket(make_daemon):
    d = make_daemon().start()
    d.send_signal(signal.SIGKILL)
    d.wait(5)
    assert d.sock.exists()
    d.start()
    with d.client() as c:
        assert c.version().runtime_name == "crio-c"


def test_restart_after_clean_stop(make_daemon):
    d = make_daemon().start()
    assert d.stop() == 0
    d.start()
    with d.client() as c:
        assert c.version().runtime_name == "crio-c"


def test_second_daemon_on_same_socket_refuses_and_first_keeps_serving(make_daemon):
    first = make_daemon().start()
    second = make_daemon(listen=first.sock).start(wait_ready=False)
    assert second.wait(5) != 0
    assert "already" in second.log.lower(), second.log_tail()
    assert first.running()
    assert first.sock.exists()
    with first.client() as c:
        assert c.version().runtime_name == "crio-c"


# Listens on argv[1], hands the socket to a child that keeps it open, and exits: what a daemon that was
# just killed leaves for a moment while the kernel finishes closing its files.
ORPHANED_LISTENER = """
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(8)
if os.fork() == 0:
    time.sleep(60)
print(flush=True)
"""


def test_socket_left_listening_by_a_dead_daemon_is_replaced(make_daemon, tmp_path):
    d = make_daemon()
    d.sock.parent.mkdir(parents=True, exist_ok=True)
    creator = subprocess.Popen([sys.executable, "-c", ORPHANED_LISTENER, str(d.sock)], stdout=subprocess.PIPE,
                               start_new_session=True)
    try:
        creator.stdout.readline()
        assert creator.wait(10) == 0
        h.connect_unix(d.sock).close()  # still accepting, though the process that listened is gone
        d.start()
        with d.client() as c:
            assert c.version().runtime_name == "crio-c"
    finally:
        os.killpg(creator.pid, signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_signal_exits_0_and_removes_socket(make_daemon, sig):
    d = make_daemon().start()
    with d.client() as c:
        c.version()
    started = time.monotonic()
    assert d.stop(sig, timeout=5) == 0
    assert time.monotonic() - started < 5
    assert not d.sock.exists()


def _grpc_client(d):
    c = d.client()
    c.version()
    return c


def _idle_socket(d):
    return h.connect_unix(d.sock)


def _half_http_request(d):
    s = h.connect_unix(d.sock)
    s.sendall(b"GET /info HTTP/1.1\r\nHost: x\r\n")
    return s


@pytest.mark.parametrize("connect", [_grpc_client, _idle_socket, _half_http_request],
                         ids=["idle gRPC channel", "silent connection", "half HTTP request"])
def test_sigterm_is_prompt_with_clients_connected(make_daemon, connect):
    # A kubelet keeps its channel open all the time; it must not delay the daemon's stop.
    d = make_daemon().start()
    client = connect(d)
    try:
        started = time.monotonic()
        assert d.stop(signal.SIGTERM, timeout=10) == 0
        elapsed = time.monotonic() - started
        assert elapsed < 3, f"SIGTERM took {elapsed:.1f}s with a client connected"
        assert not d.sock.exists()
    finally:
        client.close()


def test_sighup_reloads_log_level(make_daemon):
    d = make_daemon(config='[crio.runtime]\nlog_level = "info"\n', log_level=None).start()
    c = d.client()
    try:
        since = d.log_offset()
        c.version()
        time.sleep(0.3)
        assert "Version" not in d.log[since:], "RPCs logged at info level"

        h.write_text(d.config_path, '[crio.runtime]\nlog_level = "debug"\n')
        since = d.log_offset()
        d.send_signal(signal.SIGHUP)
        d.wait_for_log(r"log_level.*debug|debug.*log_level", since=since)
        assert d.running()

        since = d.log_offset()
        c.version()
        d.wait_for_log("Version", since=since)
        assert tomllib.loads(d.http_get("/config").text)["crio"]["runtime"]["log_level"] == "debug"
    finally:
        c.close()


def test_sighup_reads_drop_ins_too(make_daemon):
    d = make_daemon(log_level=None).start()
    h.write_text(d.config_dir / "50-debug.conf", '[crio.runtime]\nlog_level = "debug"\n')
    since = d.log_offset()
    d.send_signal(signal.SIGHUP)
    d.wait_for_log(r"log_level.*debug|debug.*log_level", since=since)
    assert tomllib.loads(d.http_get("/config").text)["crio"]["runtime"]["log_level"] == "debug"


def test_sighup_with_broken_config_keeps_old_config(make_daemon):
    d = make_daemon(config='[crio.runtime]\nlog_level = "info"\n', log_level=None).start()
    h.write_text(d.config_path, '[crio.runtime]\nlog_level = = "debug"\n')
    d.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert d.running(), d.log_tail()
    with d.client() as c:
        assert c.version().runtime_name == "crio-c"
    assert tomllib.loads(d.http_get("/config").text)["crio"]["runtime"]["log_level"] == "info"


def test_notify_socket_gets_ready_once_serving(make_daemon, workdir):
    notify_path = workdir / "notify.sock"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify.settimeout(10)
    try:
        d = make_daemon(env={"NOTIFY_SOCKET": str(notify_path)}).start(wait_ready=False)
        messages = []
        deadline = time.monotonic() + 10
        while not any(b"READY=1" in m for m in messages):
            notify.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                messages.append(notify.recv(4096))
            except socket.timeout:
                raise AssertionError(f"no READY=1 within 10s; got {messages}; stderr:\n{d.log_tail()}") from None
        h.connect_unix(d.sock, 1).close()  # READY=1 means the socket is serving already
        with d.client() as c:
            assert c.version().runtime_name == "crio-c"
    finally:
        notify.close()


def test_no_fd_leak_after_many_connections(make_daemon):
    d = make_daemon(log_level="info").start()

    def churn(n):
        for _ in range(n):
            assert d.http_get("/info").status == 200
            with d.client() as c:
                c.version()
            h.raw_exchange(d.sock, b"\x01\x02 junk\r\n\r\n")
            h.connect_unix(d.sock).close()

    churn(3)
    time.sleep(0.5)
    baseline = d.fd_count()
    churn(40)
    settled = h.wait_until(lambda: d.fd_count() <= baseline + 3, timeout=5)
    assert settled, f"fds grew from {baseline} to {d.fd_count()}: {sorted(os.listdir(f'/proc/{d.pid}/fd'))}"


@pytest.mark.skipif(bool(os.environ.get("CRIO_SANITIZED")),
                    reason="ASan's quarantine keeps freed memory resident; LeakSanitizer checks leaks instead")
def test_memory_does_not_grow_with_calls(make_daemon):
    d = make_daemon(log_level="info").start()
    with d.client() as c:
        for _ in range(500):
            c.version()
        before = d.rss_kib()
        for _ in range(3000):
            c.version()
            c.status()
    grown = d.rss_kib() - before
    assert grown < 4096, f"RSS grew by {grown} KiB over 6000 calls"
