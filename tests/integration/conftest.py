# SPDX-License-Identifier: Apache-2.0
"""Fixtures: one shared daemon for read-only tests, a factory for tests that need their own daemon, and
daemon stderr attached to the report of every failed test."""

import atexit
import signal

import pytest

import crio_helpers as h

atexit.register(h.kill_leftover_daemons)

_shared = []  # the session daemon, once started


def pytest_report_header(config):
    return [f"crio binary: {h.BINARY}", f"crio proto dir: {h.PROTO_DIR}"]


@pytest.fixture(scope="session")
def crio_binary():
    if not h.BINARY.is_file():
        pytest.fail(f"crio binary {h.BINARY} not found: build the project or set CRIO_BINARY", pytrace=False)
    try:
        h.pb()
    except Exception as e:  # noqa: BLE001 - any import problem is a setup failure
        pytest.fail(f"cannot load the CRI Python classes: {e}", pytrace=False)
    return h.BINARY


@pytest.fixture(scope="session")
def _session_daemon(crio_binary, tmp_path_factory):
    d = h.Daemon(tmp_path_factory.mktemp("shared"))
    d.start()
    _shared.append(d)
    yield d
    if d.running():
        rc = d.stop(signal.SIGTERM)
        assert rc == 0, f"shared daemon exited with {rc} on SIGTERM; stderr:\n{d.log_tail()}"


@pytest.fixture
def crio(_session_daemon):
    """The shared daemon (started once per session, with --log-level debug). The test fails if the
    daemon is no longer running after it."""
    if not _session_daemon.running():
        pytest.fail(f"shared daemon died in an earlier test (exit {_session_daemon.proc.poll()})", pytrace=False)
    yield _session_daemon
    assert _session_daemon.running(), (f"shared daemon died during this test (exit {_session_daemon.proc.poll()}); "
                                       f"stderr:\n{_session_daemon.log_tail()}")


@pytest.fixture
def client(crio):
    c = crio.client()
    yield c
    c.close()


@pytest.fixture
def workdir(tmp_path_factory):
    """A fresh directory with a short path (unix socket paths are limited to 107 bytes)."""
    return tmp_path_factory.mktemp("w")


@pytest.fixture
def make_daemon(crio_binary, tmp_path_factory):
    """Factory: make_daemon(**Daemon kwargs) -> an unstarted Daemon in a fresh directory. Every daemon it
    made is stopped after the test."""
    made = []

    def factory(workdir=None, **kwargs):
        d = h.Daemon(workdir or tmp_path_factory.mktemp("d"), **kwargs)
        made.append(d)
        return d

    yield factory
    for d in made:
        d.kill()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    item._crio_first_daemon = len(h.Daemon.started)
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    first = getattr(item, "_crio_first_daemon", len(h.Daemon.started))
    for d in dict.fromkeys(h.Daemon.started[first:]):
        if d not in _shared:
            report.sections.append((f"crio stderr ({d.workdir})", d.log_tail(60)))
    if "crio" in item.fixturenames and _shared:
        report.sections.append(("crio stderr (shared daemon, last lines)", _shared[0].log_tail(30)))
