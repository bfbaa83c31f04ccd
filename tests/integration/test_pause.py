# SPDX-License-Identifier: Apache-2.0
"""crio-pause on its own: version, stop signals, and reaping orphans as PID 1 of a PID namespace."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from static_helpers import helper_binary

PAUSE = helper_binary("crio-pause")


@pytest.fixture(scope="module", autouse=True)
def _pause_built():
    if not PAUSE.is_file():
        pytest.fail(f"{PAUSE} not found: build the project or set BUILD", pytrace=False)


def test_pause_version():
    r = subprocess.run([str(PAUSE), "-v"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0
    assert re.fullmatch(r"crio-pause \S+\n", r.stdout), r.stdout
    bad = subprocess.run([str(PAUSE), "--bogus"], capture_output=True, text=True, timeout=10)
    assert bad.returncode == 2 and "Usage" in bad.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_pause_exits_zero_on_stop_signals(sig):
    p = subprocess.Popen([str(PAUSE)], stdin=subprocess.DEVNULL)
    try:
        time.sleep(0.2)
        # Signals it does not handle are blocked: they must not end it.
        for other in (signal.SIGHUP, signal.SIGUSR1, signal.SIGPIPE, signal.SIGALRM):
            p.send_signal(other)
        time.sleep(0.2)
        assert p.poll() is None
        started = time.monotonic()
        p.send_signal(sig)
        assert p.wait(timeout=5) == 0
        assert time.monotonic() - started < 2
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def children_of(pid):
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.skipif(os.geteuid() != 0, reason="a new PID namespace needs root")
def test_pause_as_pid1_reaps_orphans():
    outer = subprocess.Popen(["unshare", "--pid", "--fork", str(PAUSE)], stdin=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: len(children_of(outer.pid)) == 1)
        pause = children_of(outer.pid)[0]
        assert wait_for(lambda: os.readlink(f"/proc/{pause}/exe") == str(PAUSE.resolve()))
        nspid = re.search(r"^NSpid:\s+(.*)$", Path(f"/proc/{pause}/status").read_text(), re.M)
        assert nspid.group(1).split()[-1] == "1"

        # sh exits at once, so its background sleep is orphaned into the namespace's PID 1.
        subprocess.run(["nsenter", f"--target={pause}", "--pid", "--", "sh", "-c", "sleep 1 & exit 0"],
                       check=True, timeout=10)
        assert wait_for(lambda: len(children_of(pause)) == 1, timeout=2)
        orphan = children_of(pause)[0]
        # Reaped: gone from /proc entirely, not left as a zombie.
        assert wait_for(lambda: not Path(f"/proc/{orphan}").exists(), timeout=5), \
            Path(f"/proc/{orphan}/stat").read_text()
        assert outer.poll() is None

        os.kill(pause, signal.SIGTERM)
        assert outer.wait(timeout=5) == 0
    finally:
        if outer.poll() is None:
            outer.kill()
            outer.wait()
