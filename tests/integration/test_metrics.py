# SPDX-License-Identifier: Apache-2.0
"""The Prometheus endpoint: CRI-O's metric names, an exposition that promtool accepts, counters that move
with RPCs, pulls and OOM kills, over HTTP, HTTPS and a unix socket, and metrics_collectors."""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import urllib.request

import grpc
import pytest

import crio_helpers as h
import pod_helpers as ph
import registry as reg

OPS = "container_runtime_crio_operations_total"
# Names kept for CRI-O compatibility that promtool's naming lint flags (docs/metrics.md lists them).
COMPAT_LINTS = ("container_runtime_crio_operations_latency_seconds_total",)


def promtool():
    return os.environ.get("PROMTOOL") or shutil.which("promtool")


def metrics_conf(wd, port, extra=""):
    return ph.runtime_conf(wd) + f"\n[crio.metrics]\nenable_metrics = true\nmetrics_port = {port}\n{extra}"


@pytest.fixture
def metrics_node(image_daemon, tmp_path_factory):
    """A daemon serving metrics on a free loopback port, with busybox pulled."""
    wd = tmp_path_factory.mktemp("node")
    port = reg.free_port()
    d = image_daemon(config=metrics_conf(wd, port, f'metrics_socket = "{wd}/metrics.sock"\n'))
    d.node_dir, d.metrics_url, d.metrics_sock = wd, f"http://127.0.0.1:{port}/metrics", wd / "metrics.sock"
    c = d.client(timeout=60)
    yield d, c
    ph.remove_everything(d, c)


def scrape(url, context=None):
    with urllib.request.urlopen(url, timeout=10, context=context) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return r.read().decode()


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? '
                    r'(-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?|[+-]Inf|NaN)$')


def parse(text):
    """{(name, frozenset(labels)): value} of a text exposition, checking every line's syntax and that each
    sample's family was declared with a TYPE before it."""
    assert text.endswith("\n")
    types, samples = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name not in types, f"{name} declared twice"
            types[name] = kind
            continue
        if line.startswith("# HELP "):
            continue
        m = SAMPLE.match(line)
        assert m, f"malformed sample line {line!r}"
        name = m.group(1)
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, f"{name} has no TYPE"
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        samples[(name, labels)] = float(m.group(3))
    return types, samples


def value(samples, metric_, **labels):
    return samples.get((metric_, frozenset(labels.items())), 0.0)


def check_with_promtool(text):
    tool = promtool()
    if not tool:
        return
    r = subprocess.run([tool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    problems = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()
                and not any(name in line for name in COMPAT_LINTS)]
    assert not problems, problems


def test_exposition_is_valid_and_counters_move_with_rpcs(metrics_node, image_registry):
    d, cri = metrics_node
    _, before = parse(scrape(d.metrics_url))
    for _ in range(3):
        cri.version()
    with pytest.raises(grpc.RpcError):
        cri.container_status("0" * 64)
    cri.pull_image(ph.busybox(image_registry))
    cri.pull_image(reg.ref(image_registry, "user:numeric"))  # busybox's layer again, with another config
    with pytest.raises(grpc.RpcError):
        cri.pull_image(f"{image_registry.host}/no-such-image:latest")
    text = scrape(d.metrics_url)
    check_with_promtool(text)
    types, after = parse(text)
    assert types[OPS] == "counter"
    assert types["container_runtime_crio_operations_duration_seconds"] == "histogram"
    assert value(after, OPS, operation="Version") - value(before, OPS, operation="Version") == 3
    errors = "container_runtime_crio_operations_errors_total"
    assert value(after, errors, operation="ContainerStatus") - value(before, errors, operation="ContainerStatus") == 1
    assert value(after, errors, operation="Version") == 0
    hist = "container_runtime_crio_operations_duration_seconds"
    assert value(after, hist + "_count", operation="Version") == value(after, OPS, operation="Version")
    assert value(after, hist + "_bucket", operation="Version", le="+Inf") == value(after, OPS, operation="Version")
    assert value(after, "container_runtime_crio_operations_latency_seconds", operation="Version") > 0
    assert value(after, "container_runtime_crio_image_pulls_success_total") == 2
    # The first pull fetched busybox's one layer; the second found it present.
    pulled = {k: v for k, v in after.items() if k[0] == "container_runtime_crio_image_pulls_bytes_total"}
    assert len(pulled) == 1 and list(pulled.values())[0] > 0
    labels = dict(list(pulled)[0][1])
    assert labels["mediatype"].startswith("application/vnd.") and labels["size"].startswith("<")
    assert value(after, "container_runtime_crio_image_pulls_layer_size_count") == 1
    assert value(after, "container_runtime_crio_image_pulls_layer_size_sum") == list(pulled.values())[0]
    assert value(after, "container_runtime_crio_image_pulls_skipped_bytes_total", size=labels["size"]) \
        == list(pulled.values())[0]
    assert sum(v for k, v in after.items() if k[0] == "container_runtime_crio_image_layer_reuse_total") == 1
    stages = "container_runtime_crio_image_pull_stage_seconds_count"
    assert value(after, stages, stage="fetch_extract") == value(after, stages, stage="layer_commit") == 1
    assert value(after, stages, stage="image_commit") == 2
    assert value(after, "container_runtime_crio_image_pulls_failure_total", error="NOT_FOUND") == 1
    assert value(after, "container_runtime_crio_default_runtime", runtime="runc") == 1
    assert ("container_runtime_crio_processes_defunct", frozenset()) in after
    # The unix socket serves the same page.
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(str(d.metrics_sock))
    s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    got = b""
    while chunk := s.recv(65536):
        got += chunk
    s.close()
    assert re.match(rb"HTTP/1\.[01] 200 ", got) and OPS.encode() in got
    assert reg.http_status(d.metrics_url.replace("/metrics", "/nope")) == 404


def test_oom_killed_container_is_counted(metrics_node, image_registry):
    d, cri = metrics_node
    image = ph.busybox(image_registry)
    cri.pull_image(image)
    pod = cri.run_pod()
    ctr = cri.create_container(pod, ph.container_config(
        image, name="hog", command=["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
        memory_limit=16 << 20))
    cri.start_container(ctr)
    st = cri.wait_container_state(ctr, "CONTAINER_EXITED")
    assert st.reason == "OOMKilled", (st.reason, st.exit_code)
    _, after = parse(scrape(d.metrics_url))
    assert value(after, "container_runtime_crio_containers_oom_total") == 1
    assert value(after, "container_runtime_crio_containers_oom_count_total", name="hog") == 1
    # conmon marks an OOM kill with an `oom` file in its working directory: the bundle, never the daemon's.
    assert not (d.workdir / "oom").exists()


def test_collectors_select_families_and_https(make_daemon, tmp_path_factory, test_pki):
    wd = tmp_path_factory.mktemp("node")
    port = reg.free_port()
    d = make_daemon(workdir=wd, config=metrics_conf(
        wd, port, f'metrics_collectors = ["crio_operations_total", "container_runtime_crio_default_runtime"]\n'
                  f'metrics_cert = "{test_pki.server_cert}"\nmetrics_key = "{test_pki.server_key}"\n'))
    d.start()
    with d.client() as c:
        c.version()
    ctx = ssl.create_default_context(cafile=str(test_pki.ca_cert))
    types, samples = parse(scrape(f"https://127.0.0.1:{port}/metrics", context=ctx))
    assert set(types) == {OPS, "container_runtime_crio_default_runtime"}
    assert value(samples, OPS, operation="Version") == 1
    with pytest.raises(Exception):
        scrape(f"http://127.0.0.1:{port}/metrics")  # plain HTTP on the HTTPS port


def tls12_handshake(port, ca):
    """Whether a client that speaks at most TLS 1.2 gets through the handshake."""
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1"):
                return True
    except ssl.SSLError:
        return False


@pytest.mark.parametrize("min_version,tls12_ok", [("VersionTLS12", True), ("VersionTLS13", False)])
def test_tls_min_version_of_metrics_and_streaming(make_daemon, tmp_path_factory, test_pki, min_version, tls12_ok):
    wd = tmp_path_factory.mktemp("node")
    port, stream_port = reg.free_port(), reg.free_port()
    tls = f'metrics_cert = "{test_pki.server_cert}"\nmetrics_key = "{test_pki.server_key}"\n'
    api = (f'[crio.api]\ntls_min_version = "{min_version}"\nstream_enable_tls = true\n'
           f'stream_port = "{stream_port}"\nstream_tls_cert = "{test_pki.server_cert}"\n'
           f'stream_tls_key = "{test_pki.server_key}"\n')
    d = make_daemon(workdir=wd, config=metrics_conf(wd, port, tls) + api).start()
    with d.client() as c:
        c.version()
    ctx = ssl.create_default_context(cafile=str(test_pki.ca_cert))  # TLS 1.3 always gets through
    assert OPS in parse(scrape(f"https://127.0.0.1:{port}/metrics", context=ctx))[0]
    assert tls12_handshake(port, test_pki.ca_cert) == tls12_ok
    assert tls12_handshake(stream_port, test_pki.ca_cert) == tls12_ok


def test_metrics_off_by_default_and_bad_settings_refused(make_daemon, tmp_path_factory, test_pki):
    wd = tmp_path_factory.mktemp("node")
    port = reg.free_port()
    d = make_daemon(workdir=wd, config=ph.runtime_conf(wd) + f"\n[crio.metrics]\nmetrics_port = {port}\n")
    d.start()
    with pytest.raises(OSError):
        scrape(f"http://127.0.0.1:{port}/metrics")
    d.stop()
    bad = make_daemon(workdir=tmp_path_factory.mktemp("bad"), config=metrics_conf(
        wd, port, f'metrics_cert = "{test_pki.server_cert}"\n'))
    bad.start(wait_ready=False)
    assert bad.wait(timeout=10) != 0
    assert "metrics_key" in bad.log


def test_a_lost_monitor_is_counted(metrics_node, image_registry):
    """conmon killed: the container's exit cannot be recorded; stopping it says so and counts it."""
    d, cri = metrics_node
    image = ph.busybox(image_registry)
    cri.pull_image(image)
    pod = cri.run_pod()
    ctr = cri.create_container(pod, ph.container_config(image, name="orphan", command=["sleep", "300"]))
    cri.start_container(ctr)
    cri.wait_container_state(ctr, "CONTAINER_RUNNING")
    conmon = int((d.runroot / "containers" / ctr / "conmon-pidfile").read_text())
    os.kill(conmon, signal.SIGKILL)
    cri.stop_container(ctr)  # the daemon reaps the orphaned container: no exit file comes
    st = cri.container_status(ctr).status
    assert st.state == h.pb().CONTAINER_EXITED and "monitor" in st.message
    _, after = parse(scrape(d.metrics_url))
    assert value(after, "container_runtime_crio_containers_stopped_monitor_count", name="orphan") == 1
