# SPDX-License-Identifier: Apache-2.0
"""Clients that misbehave on purpose against the daemon's gRPC server (rpc-server.c, rpc-conn.c): each test
names what a hostile or stalled client does and what the server must not do in return (spin, leak, hang
its shutdown)."""

import os
import time

import h2.settings

import crio_helpers as h
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
