# SPDX-License-Identifier: Apache-2.0
"""Fixtures: one shared daemon for read-only tests, a factory for tests that need their own daemon, and
daemon stderr attached to the report of every failed test."""

import atexit
import signal
from pathlib import Path

import pytest

import crio_helpers as h

atexit.register(h.kill_leftover_daemons)

_shared = []  # the session daemon, once started


def pytest_sessionfinish(session, exitstatus):
    """Daemons killed at the end of their tests never remove the default pod cgroup parent, which runc
    leaves (the daemon removes it on a clean stop; test_pod_recovery checks that): remove what is empty."""
    root = Path("/sys/fs/cgroup")
    for parent in [root / "crio-c", *root.glob("*/crio-c")]:
        try:
            parent.rmdir()
        except OSError:
            pass  # absent, or still holding a container


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
    workdir = tmp_path_factory.mktemp("shared")
    # An empty CNI directory of its own: the node's /etc/cni/net.d must not decide what tests see.
    (workdir / "net.d").mkdir()
    d = h.Daemon(workdir, config=f'[crio.network]\nnetwork_dir = "{workdir / "net.d"}"\n')
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


# ---------------------------------------------------------------------------------------------------------
# Images and registries (tests/images/build.py, registry.py)

import shutil  # noqa: E402

import registry as reg  # noqa: E402


@pytest.fixture(scope="session")
def test_images():
    """The test images as OCI layouts (built once, cached across sessions): a registry.images.Catalog."""
    return reg.images.ensure_built()


@pytest.fixture(scope="session")
def image_registry(test_images, tmp_path_factory):
    """docker-registry on 127.0.0.1 holding every test image (plain HTTP, no auth)."""
    r = reg.Registry(tmp_path_factory.mktemp("registry"))
    r.start()
    try:
        r.push(test_images)
        yield r
    finally:
        r.stop()
        r.remove_data()


@pytest.fixture(scope="session")
def token_registry(test_images, tmp_path_factory):
    """docker-registry with token auth (TokenServer: user "user", password "s3cret-crio-test") holding
    busybox, user and layered; anonymous callers get tokens without access."""
    r = reg.TokenAuthRegistry(tmp_path_factory.mktemp("token-registry"), users={"user": "s3cret-crio-test"})
    r.start()
    try:
        r.push(test_images, repos=["busybox", "user", "layered"])
        yield r
    finally:
        r.stop()
        r.remove_data()


@pytest.fixture(scope="session")
def basic_registry(test_images, tmp_path_factory):
    """docker-registry with htpasswd Basic auth (user "user", password "s3cret-crio-test") holding busybox."""
    if reg.bcrypt_hash("x") is None:
        pytest.skip("no bcrypt support in crypt(): cannot write an htpasswd file")
    r = reg.BasicAuthRegistry(tmp_path_factory.mktemp("basic-registry"), users={"user": "s3cret-crio-test"})
    r.start()
    try:
        r.push(test_images, repos=["busybox"])
        yield r
    finally:
        r.stop()
        r.remove_data()


@pytest.fixture
def fake_registry(test_images):
    """A FakeRegistry serving every test image, with faults to switch on."""
    f = reg.FakeRegistry(test_images)
    f.start()
    yield f
    f.stop()


@pytest.fixture
def closed_port():
    """A 127.0.0.1 address where nothing listens."""
    p = reg.ClosedPort()
    yield p
    p.close()


@pytest.fixture
def image_daemon(make_daemon, tmp_path_factory, image_registry):
    """Factory: a started daemon set up for pulls.

    image_daemon(registries=TEXT, policy=TEXT, policy_dir={ns: TEXT}, auth_file=TEXT, dropins={name: TEXT},
                 short_name_mode=..., progress_timeout="2s", pinned="a,b*", args=[...], env={...},
                 config=CRIO_CONF_TEXT, start=True)
    registries defaults to a registries.conf with image_registry as the only (insecure) search registry;
    policy to insecureAcceptAnything. The files are written in the daemon's directory and passed with
    --registries-conf, --registries-conf-dir, --signature-policy (and --signature-policy-dir,
    --global-auth-file when given)."""

    def factory(registries=None, *, policy=None, policy_dir=None, auth_file=None, dropins=None,
                short_name_mode=None, progress_timeout=None, pinned=None, args=(), env=None, config="",
                start=True):
        wd = tmp_path_factory.mktemp("img")
        if registries is None:
            registries = reg.registries_conf(unqualified=[image_registry.host],
                                             registries=[reg.insecure(image_registry.host)])
        files = {"registries-conf": h.write_text(wd / "registries.conf", registries),
                 "signature-policy": h.write_text(wd / "policy.json", policy or reg.policy_json())}
        conf_d = wd / "registries.conf.d"
        conf_d.mkdir()
        for name, text in (dropins or {}).items():
            h.write_text(conf_d / name, text)
        files["registries-conf-dir"] = conf_d
        if policy_dir is not None:
            pd = wd / "policies"
            pd.mkdir()
            for ns, text in policy_dir.items():
                h.write_text(pd / f"{ns}.json", text)
            files["signature-policy-dir"] = pd
        if auth_file is not None:
            files["global-auth-file"] = h.write_text(wd / "auth.json", auth_file)
        if short_name_mode:
            files["short-name-mode"] = short_name_mode
        if progress_timeout:
            files["pull-progress-timeout"] = progress_timeout
        if pinned is not None:
            files["pinned-images"] = pinned
        argv = [a for k, v in files.items() for a in (f"--{k}", str(v))] + list(args)
        d = make_daemon(workdir=wd, args=argv, env=env, config=config)
        d.files = files
        made.append(d)
        if start:
            d.start()
        return d

    made = []
    yield factory
    for d in made:  # the image stores hold up to ~100 MiB each; the logs stay for failure reports
        d.kill()
        shutil.rmtree(d.root, ignore_errors=True)


@pytest.fixture(scope="session")
def test_pki(tmp_path_factory):
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate (registry.TestPKI)."""
    return reg.TestPKI(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def tls_registry(test_images, test_pki, tmp_path_factory):
    """docker-registry over HTTPS with a certificate from test_pki's CA, holding busybox."""
    r = reg.Registry(tmp_path_factory.mktemp("tls-registry"), tls=(test_pki.server_cert, test_pki.server_key))
    r.start()
    try:
        r.push(test_images, repos=["busybox"])
        yield r
    finally:
        r.stop()
        r.remove_data()


@pytest.fixture(scope="session")
def mtls_registry(test_images, test_pki, tmp_path_factory):
    """docker-registry over HTTPS that also requires a client certificate signed by test_pki's CA."""
    r = reg.Registry(tmp_path_factory.mktemp("mtls-registry"), tls=(test_pki.server_cert, test_pki.server_key),
                     client_ca=test_pki.ca_cert)
    r.client_cert = (test_pki.client_cert, test_pki.client_key)
    r.start()
    try:
        r.push(test_images, repos=["busybox"])
        yield r
    finally:
        r.stop()
        r.remove_data()
