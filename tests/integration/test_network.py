# SPDX-License-Identifier: Apache-2.0
"""Pod networking through CNI with Debian's real plugins (bridge, host-local, loopback, portmap): pod IPs,
pod-to-pod and node-to-pod traffic, host ports, configuration changes, plugin failures and restarts, and
nothing left behind (veths, IPAM allocations, iptables rules, pinned namespaces).

Everything here makes bridges and iptables rules, so it runs only inside the private network namespace
that tests/run-all creates for the integration suite."""

import itertools
import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

import grpc
import pytest

import crio_helpers as h
import pod_helpers as ph

pytestmark = pytest.mark.skipif(
    os.environ.get("CRIO_TEST_NETNS") != "private",
    reason="pod-network tests make bridges and iptables rules: run them through tests/run-all, which gives "
           "the suite a private network namespace")

HTTP_PORT = 8000
_subnets = itertools.count(10)


class CniNet:
    """A test-only CNI network: its own bridge name, subnet and host-local data dir, ipMasq off."""

    def __init__(self, workdir, dual_stack=False, extra_plugins=(), portmap=True):
        n = next(_subnets)
        self.name = f"crioc-test{n}"
        self.bridge = f"crioc-br{n}"
        self.subnet = f"10.199.{n}.0/24"
        self.gateway = f"10.199.{n}.1"
        self.ipam_dir = Path(workdir) / "ipam"
        self.conf_dir = Path(workdir) / "net.d"
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        ranges = [[{"subnet": self.subnet}]]
        if dual_stack:
            ranges.append([{"subnet": f"fd00:c10c:{n}::/64"}])
        plugins = [{"type": "bridge", "bridge": self.bridge, "isGateway": True, "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {"type": "host-local", "dataDir": str(self.ipam_dir), "ranges": ranges,
                             "routes": [{"dst": "0.0.0.0/0"}]}}]
        if portmap:
            plugins.append({"type": "portmap", "capabilities": {"portMappings": True}, "snat": True})
        plugins += list(extra_plugins)
        self.conflist = {"cniVersion": "1.0.0", "name": self.name, "plugins": plugins}

    def install(self, filename="50-test.conflist"):
        path = self.conf_dir / filename
        path.write_text(json.dumps(self.conflist))
        return path

    def allocations(self):
        """IPs host-local holds for pods (its bookkeeping files left out)."""
        d = self.ipam_dir / self.name
        if not d.exists():
            return []
        return sorted(p.name for p in d.iterdir() if p.name != "lock" and not p.name.startswith("last_reserved"))


def veths(bridge=None):
    """Names of veth devices in this network namespace (optionally only those on `bridge`)."""
    argv = ["ip", "-j", "link", "show", "type", "veth"] + (["master", bridge] if bridge else [])
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return [link["ifname"] for link in json.loads(out or "[]")]


def iptables_rules_mentioning(text):
    out = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if text in line and line.startswith("-A")]


def http_get(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def wait_http(url, timeout=15.0):
    """The body at url once it answers (a pod's httpd takes a moment to start)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return http_get(url, timeout=2.0)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def network_condition(cri):
    return h.condition(cri.status(), "NetworkReady")


@pytest.fixture
def net_node(image_daemon, image_registry, tmp_path_factory):
    """Factory: a daemon whose default CNI network is a fresh CniNet; busybox pulled."""
    made = []

    def factory(net=None, network_keys="", runtime_keys="", **net_kw):
        wd = tmp_path_factory.mktemp("netnode")
        net = net or CniNet(wd, **net_kw)
        net.install()
        d = image_daemon(config=ph.runtime_conf(wd, runtime_keys, network_dir=net.conf_dir,
                                                network_keys=network_keys))
        d.node_dir = wd
        c = d.client(timeout=60)
        c.pull_image(ph.busybox(image_registry))
        made.append((d, c))
        return d, c, net

    yield factory
    for d, c in made:
        ph.remove_everything(d, c)


@pytest.fixture
def image(image_registry):
    return ph.busybox(image_registry)


def web_pod(cri, image, text, ports=(), **kw):
    """A pod whose busybox httpd answers `text` on HTTP_PORT; (pod id, container id, pod IP)."""
    pod = cri.run_pod(ports=ports, **kw)
    script = (f"mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p {HTTP_PORT} -h /www")
    ctr = cri.create_container(pod, ph.container_config(image, command=["sh", "-c", script]))
    cri.start_container(ctr)
    cri.wait_container_state(ctr, "CONTAINER_RUNNING")
    return pod, ctr, cri.pod_status(pod).status.network.ip


def test_network_ready_and_pod_ips(net_node):
    _, cri, net = net_node()
    cond = network_condition(cri)
    assert cond.status is True, cond
    a, b = cri.run_pod(), cri.run_pod()
    ip_a, ip_b = (cri.pod_status(p).status.network.ip for p in (a, b))
    prefix = net.subnet.rsplit(".", 1)[0] + "."
    assert ip_a.startswith(prefix) and ip_b.startswith(prefix), (ip_a, ip_b)
    assert ip_a != ip_b
    assert sorted(net.allocations()) == sorted([ip_a, ip_b])
    assert len(veths(net.bridge)) == 2


def test_pods_reach_each_other_and_the_node_reaches_them(net_node, image):
    _, cri, net = net_node()
    _, _, ip_a = web_pod(cri, image, "hello-from-a")
    pod_b = cri.run_pod(hostname="client-b")
    ctr_b = cri.create_container(pod_b, ph.container_config(image, command=["sleep", "300"]))
    cri.start_container(ctr_b)
    cri.wait_container_state(ctr_b, "CONTAINER_RUNNING")
    url = f"http://{ip_a}:{HTTP_PORT}/index.html"
    wait_http(url)
    r = cri.exec_sync(ctr_b, ["wget", "-q", "-O", "-", url], timeout=20)
    assert (r.exit_code, r.stdout) == (0, b"hello-from-a\n"), r.stderr
    assert http_get(url) == "hello-from-a\n"
    # The pod's /etc/hosts names its own IP with its hostname.
    ip_b = cri.pod_status(pod_b).status.network.ip
    hosts = cri.exec_sync(ctr_b, ["cat", "/etc/hosts"]).stdout.decode()
    assert f"{ip_b}\tclient-b" in hosts, hosts


def test_host_port_on_loopback_and_bridge_address(net_node, image):
    _, cri, net = net_node()
    pod, _, ip = web_pod(cri, image, "via-host-port", ports=[(18080, HTTP_PORT)])
    wait_http(f"http://{ip}:{HTTP_PORT}/")
    assert wait_http("http://127.0.0.1:18080/") == "via-host-port\n"
    assert http_get(f"http://{net.gateway}:18080/") == "via-host-port\n"
    cri.stop_pod(pod)
    with pytest.raises(OSError):
        http_get("http://127.0.0.1:18080/", timeout=2.0)
    cri.remove_pod(pod)
    assert iptables_rules_mentioning(pod) == []


def test_disable_hostport_mapping(net_node, image):
    _, cri, _ = net_node(runtime_keys="disable_hostport_mapping = true\n")
    pod = cri.run_pod(ports=[(18081, HTTP_PORT)])
    assert iptables_rules_mentioning("18081") == []
    assert iptables_rules_mentioning(pod) == []


def test_dual_stack_pod_has_both_families(net_node):
    _, cri, net = net_node(dual_stack=True)
    st = cri.pod_status(cri.run_pod()).status.network
    assert st.ip.startswith(net.subnet.rsplit(".", 1)[0] + "."), st
    assert [ip.ip.startswith("fd00:c10c:") for ip in st.additional_ips] == [True], st


def test_broken_config_reported_then_fixed_without_restart(net_node, tmp_path):
    d, cri, net = net_node()
    good = net.conf_dir / "50-test.conflist"
    good.unlink()
    assert h.wait_until(lambda: network_condition(cri).status is False, 10)
    broken = net.conf_dir / "40-broken.conflist"
    broken.write_text('{"cniVersion": "1.0.0", "name": "half-written", "plugins": [')
    assert h.wait_until(lambda: "40-broken.conflist" in network_condition(cri).message, 10), \
        network_condition(cri)
    cond = network_condition(cri)
    assert (cond.status, cond.reason) == (False, "NetworkPluginNotReady")
    with pytest.raises(grpc.RpcError) as e:
        cri.run_pod()
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION, e.value.details()
    assert "40-broken.conflist" in d.log_tail()
    # Fixing the file in place (a config naming a plugin that does not exist is still unusable).
    bad_plugin = dict(net.conflist, plugins=[{"type": "no-such-plugin"}])
    broken.write_text(json.dumps(bad_plugin))
    assert h.wait_until(lambda: "no-such-plugin" in network_condition(cri).message, 10), network_condition(cri)
    broken.write_text(json.dumps(net.conflist))
    assert h.wait_until(lambda: network_condition(cri).status is True, 10), network_condition(cri)
    assert cri.pod_status(cri.run_pod()).status.network.ip


def test_default_network_selected_by_name(net_node, tmp_path):
    wd = tmp_path / "two"
    first, second = CniNet(wd), CniNet(wd)
    first.install("10-first.conflist")
    _, cri, _ = net_node(net=second, network_keys=f'cni_default_network = "{second.name}"\n')
    ip = cri.pod_status(cri.run_pod()).status.network.ip
    assert ip.startswith(second.subnet.rsplit(".", 1)[0] + "."), ip


def write_plugin(directory, name, body):
    """A test plugin (a Python script) in `directory`, for the failures real plugins do not make on cue."""
    path = Path(directory) / name
    path.write_text("#!/usr/bin/python3\nimport json, os, sys, time\n" + body)
    path.chmod(0o755)
    return path


RECORDER = """
cmd = os.environ["CNI_COMMAND"]
conf = json.load(sys.stdin)
with open(conf.get("logFile", os.devnull), "a") as f:
    f.write(json.dumps({"cmd": cmd, "args": os.environ.get("CNI_ARGS"), "netns": os.environ.get("CNI_NETNS"),
                        "ifname": os.environ.get("CNI_IFNAME"), "conf": conf}) + "\\n")
if cmd == "VERSION":
    print(json.dumps({"cniVersion": "1.0.0", "supportedVersions": ["0.4.0", "1.0.0"]}))
elif cmd == "ADD":
    print(json.dumps(conf["prevResult"]))
"""

FAILER = """
cmd = os.environ["CNI_COMMAND"]
if cmd == "VERSION":
    print(json.dumps({"cniVersion": "1.0.0", "supportedVersions": ["1.0.0"]}))
elif cmd == "ADD":
    print(json.dumps({"cniVersion": "1.0.0", "code": 999, "msg": "test plugin refuses", "details": "on purpose"}))
    sys.exit(1)
"""

HANGER = """
cmd = os.environ["CNI_COMMAND"]
if cmd == "VERSION":
    print(json.dumps({"cniVersion": "1.0.0", "supportedVersions": ["1.0.0"]}))
elif cmd == "ADD":
    time.sleep(300)  # crio-c-test-hanging-plugin
"""


def plugin_dirs_conf(directory):
    return f'plugin_dirs = ["{directory}", "/usr/lib/cni"]\ncni_plugin_timeout = "2s"\n'


def recording_node(net_node, tmp_path, capabilities):
    """A node whose network ends with the recorder plugin (declaring `capabilities`); also its log file."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    write_plugin(plugins, "recorder", RECORDER)
    log = tmp_path / "recorder.log"
    recorder = {"type": "recorder", "logFile": str(log), "capabilities": {c: True for c in capabilities}}
    return net_node(extra_plugins=[recorder], network_keys=plugin_dirs_conf(plugins)) + (log,)


def test_plugin_chain_gets_args_prev_result_and_capabilities(net_node, tmp_path):
    d, cri, net, log = recording_node(net_node, tmp_path, ["portMappings", "dns"])
    config = ph.pod_config(name="web", namespace="shop", uid="uid-123", ports=[(18082, 80, "UDP"), (0, 81)],
                           dns={"servers": ["10.0.0.10"], "searches": ["shop.svc"]})
    pod = cri.run_pod(config=config)
    calls = [json.loads(line) for line in log.read_text().splitlines() if '"cmd": "VERSION"' not in line]
    add = calls[-1]
    assert add["cmd"] == "ADD" and add["ifname"] == "eth0" and add["netns"].endswith(pod), add
    assert add["args"] == ("IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web;"
                           f"K8S_POD_INFRA_CONTAINER_ID={pod};K8S_POD_UID=uid-123")
    conf = add["conf"]
    assert (conf["name"], conf["cniVersion"]) == (net.name, "1.0.0")
    ip = cri.pod_status(pod).status.network.ip
    assert any(a["address"].startswith(ip + "/") for a in conf["prevResult"]["ips"]), conf["prevResult"]
    # Only the mapping with a host port, and only the capabilities this plugin declared.
    assert conf["runtimeConfig"] == {
        "portMappings": [{"hostPort": 18082, "containerPort": 80, "protocol": "udp"}],
        "dns": {"servers": ["10.0.0.10"], "searches": ["shop.svc"], "options": []}}
    cri.stop_pod(pod)
    dels = [json.loads(line) for line in log.read_text().splitlines() if '"cmd": "DEL"' in line]
    assert len(dels) == 1 and dels[0]["conf"]["prevResult"] == conf["prevResult"]
    # Stop is idempotent: no second DEL.
    cri.stop_pod(pod)
    cri.remove_pod(pod)
    assert log.read_text().count('"cmd": "DEL"') == 1


def assert_nothing_left(d, net):
    assert veths(net.bridge) == []
    assert net.allocations() == []
    assert [p for p in (d.node_dir / "ns").rglob("*") if not p.is_dir()] == []
    assert list((d.root / "cni-results").glob("*.json")) == []


def test_failing_plugin_leaves_nothing(net_node, tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    write_plugin(plugins, "failer", FAILER)
    d, cri, net = net_node(extra_plugins=[{"type": "failer"}], network_keys=plugin_dirs_conf(plugins))
    with pytest.raises(grpc.RpcError) as e:
        cri.run_pod()
    assert "test plugin refuses" in e.value.details() and "on purpose" in e.value.details(), e.value.details()
    assert "code 999" in e.value.details()
    assert cri.list_pods() == []
    assert_nothing_left(d, net)


def test_hanging_plugin_is_killed(net_node, tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    write_plugin(plugins, "hanger", HANGER)
    d, cri, net = net_node(extra_plugins=[{"type": "hanger"}], network_keys=plugin_dirs_conf(plugins))
    with pytest.raises(grpc.RpcError) as e:
        cri.run_pod()
    assert "timed out" in e.value.details(), e.value.details()
    assert ph.processes_with(str(plugins / "hanger")) == []
    assert cri.list_pods() == []
    assert_nothing_left(d, net)


def test_restart_keeps_ips_and_del_still_works(net_node, image):
    d, cri, net = net_node()
    pod, _, ip = web_pod(cri, image, "survives-restart")
    wait_http(f"http://{ip}:{HTTP_PORT}/")
    d.kill()
    d.start()
    cri = d.client(timeout=60)
    assert cri.pod_status(pod).status.network.ip == ip
    assert http_get(f"http://{ip}:{HTTP_PORT}/") == "survives-restart\n"
    cri.stop_pod(pod)
    assert net.allocations() == []
    cri.remove_pod(pod)
    assert_nothing_left(d, net)


def test_stop_with_namespace_gone_and_remove_are_idempotent(net_node):
    d, cri, net = net_node()
    pod = cri.run_pod()
    cri.stop_pod(pod)
    cri.stop_pod(pod)
    cri.remove_pod(pod)
    cri.remove_pod(pod)
    assert_nothing_left(d, net)


def test_fifty_pods_leave_nothing_behind(net_node):
    d, cri, net = net_node()
    pods = [cri.run_pod(ports=[(19000 + i, HTTP_PORT)]) for i in range(50)]
    ips = {cri.pod_status(p).status.network.ip for p in pods}
    assert len(ips) == 50
    assert len(veths(net.bridge)) == 50
    for p in pods:
        cri.remove_pod(p)
    assert_nothing_left(d, net)
    for p in pods:
        assert iptables_rules_mentioning(p) == []
    assert [r for r in iptables_rules_mentioning("CNI-DN-")] == []


def test_daemon_killed_during_add_is_undone_at_restart(net_node, tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    hanger = write_plugin(plugins, "hanger", HANGER)
    keys = f'plugin_dirs = ["{plugins}", "/usr/lib/cni"]\ncni_plugin_timeout = "60s"\n'
    d, cri, net = net_node(extra_plugins=[{"type": "hanger"}], network_keys=keys)
    with pytest.raises(grpc.RpcError):
        cri.run_pod(timeout=3)  # the bridge plugin has run; the hanger holds RunPodSandbox
    assert len(veths(net.bridge)) == 1 and len(net.allocations()) == 1
    d.kill()
    for pid in ph.processes_with(str(hanger)):  # orphaned by the kill; no daemon can know it any more
        os.kill(pid, 9)
    # At restart the half-made pod is undone, its network with DEL from what was recorded before ADD.
    d.start()
    cri = d.client(timeout=60)
    assert cri.list_pods() == []
    assert_nothing_left(d, net)


def test_shipped_default_network_is_usable(image_daemon, tmp_path):
    """contrib/cni's bridge conflist (what `make run` installs) loads, and its plugins are found."""
    conf_dir = tmp_path / "net.d"
    conf_dir.mkdir()
    shipped = Path(__file__).resolve().parents[2] / "contrib" / "cni" / "10-crio-c-bridge.conflist"
    (conf_dir / shipped.name).write_text(shipped.read_text())
    d = image_daemon(config=ph.runtime_conf(tmp_path, network_dir=conf_dir))
    cond = network_condition(d.client())
    assert cond.status is True, cond
    assert 'CNI default network is \\"crio\\"' in d.log_tail()


def test_restart_checks_pod_networks(net_node):
    d, cri, net = net_node()
    intact, broken = cri.run_pod(), cri.run_pod()
    broken_ip = cri.pod_status(broken).status.network.ip
    d.kill()
    # Someone removes the broken pod's interface while the daemon is down (its veth pair goes with it).
    subprocess.run(["nsenter", f"--net={d.node_dir / 'ns' / 'netns' / broken}", "ip", "link", "del", "eth0"],
                   check=True)
    d.start()
    cri = d.client(timeout=60)
    assert h.wait_until(lambda: f"pod {broken}: its network failed CHECK" in d.log_tail(200), 20), d.log_tail()
    assert h.wait_until(lambda: f"pod {intact}: CNI CHECK passed" in d.log_tail(200), 20)
    # The broken pod still stops and goes; its address is released.
    cri.remove_pod(broken)
    assert broken_ip not in net.allocations()


def test_bandwidth_and_pod_cidr_reach_plugins_that_ask(net_node, tmp_path):
    d, cri, net, log = recording_node(net_node, tmp_path, ["bandwidth", "ipRanges"])
    req = h.pb().UpdateRuntimeConfigRequest()
    req.runtime_config.network_config.pod_cidr = "10.244.3.0/24"
    cri.call("UpdateRuntimeConfig", req, h.pb().UpdateRuntimeConfigResponse)
    pod = cri.run_pod(annotations={"kubernetes.io/ingress-bandwidth": "10M",
                                   "kubernetes.io/egress-bandwidth": "1.5Mi"})
    add = [json.loads(line) for line in log.read_text().splitlines() if '"cmd": "ADD"' in line][-1]
    rc = add["conf"]["runtimeConfig"]
    assert rc["bandwidth"]["ingressRate"] == 10_000_000 and rc["bandwidth"]["egressRate"] == 1572864, rc
    assert rc["ipRanges"] == [[{"subnet": "10.244.3.0/24"}]], rc
    assert "portMappings" not in rc
    cri.remove_pod(pod)
    with pytest.raises(grpc.RpcError) as e:
        cri.run_pod(annotations={"kubernetes.io/ingress-bandwidth": "lots"})
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "kubernetes.io/ingress-bandwidth" in e.value.details()
    assert_nothing_left(d, net)


@pytest.mark.parametrize("version", ["0.2.0", "0.3.1", "0.4.0"])
def test_older_spec_versions(net_node, version, tmp_path):
    """Debian's plugins speak every version down to 0.1.0; results before 0.3.0 have another shape."""
    net = CniNet(tmp_path / "old", portmap=version != "0.2.0")
    net.conflist["cniVersion"] = version
    d, cri, _ = net_node(net=net)
    assert network_condition(cri).status is True, network_condition(cri)
    pod = cri.run_pod()
    ip = cri.pod_status(pod).status.network.ip
    assert ip.startswith(net.subnet.rsplit(".", 1)[0] + "."), ip
    assert net.allocations() == [ip]
    cri.remove_pod(pod)
    assert_nothing_left(d, net)


def test_unwatchable_network_dir_still_starts(image_daemon, tmp_path):
    """A network_dir that cannot even be made (here under /proc) leaves the daemon up, network not ready."""
    d = image_daemon(config=ph.runtime_conf(tmp_path, network_dir="/proc/crio-c-no-such-dir/net.d"))
    cri = d.client()
    cond = network_condition(cri)
    assert (cond.status, cond.reason) == (False, "NetworkPluginNotReady"), cond
    assert "/proc/crio-c-no-such-dir/net.d" in cond.message
    with pytest.raises(grpc.RpcError) as e:
        cri.run_pod()
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert cri.list_pods() == []


def test_network_dir_created_later_is_picked_up(image_daemon, tmp_path):
    conf_dir = tmp_path / "later" / "net.d"
    d = image_daemon(config=ph.runtime_conf(tmp_path, network_dir=conf_dir))
    cri = d.client()
    assert network_condition(cri).status is False
    assert not conf_dir.exists(), "the daemon created network_dir itself"
    net = CniNet(tmp_path / "net")
    conf_dir.mkdir(parents=True)
    (conf_dir / "10-late.conflist").write_text(json.dumps(net.conflist))
    assert h.wait_until(lambda: network_condition(cri).status is True, 15), network_condition(cri)
    # From now on it is watched: while a network is ready nothing but the watch looks at the directory,
    # so only the watch can notice the removal.
    (conf_dir / "10-late.conflist").unlink()
    assert h.wait_until(lambda: network_condition(cri).status is False, 15), network_condition(cri)
