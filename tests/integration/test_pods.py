# SPDX-License-Identifier: Apache-2.0
"""Pods and containers: the lifecycle a kubelet drives, on real runc and conmon, with nothing left behind."""

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import grpc
import pytest

import crio_helpers as h
import pod_helpers as ph
import registry as reg


@pytest.fixture
def node(image_daemon, tmp_path_factory):
    """A daemon whose pod directories live in its workdir, with busybox pulled."""
    wd = tmp_path_factory.mktemp("node")
    d = image_daemon(config=ph.runtime_conf(wd))
    d.node_dir = wd
    c = d.client(timeout=60)
    yield d, c
    ph.remove_everything(d, c)


@pytest.fixture
def cri(node):
    return node[1]


@pytest.fixture
def image(cri, image_registry):
    ref = ph.busybox(image_registry)
    cri.pull_image(ref)
    return ref


def test_pod_and_container_lifecycle(node, cri, image, tmp_path):
    d, _ = node
    pod = cri.run_pod(log_dir=tmp_path / "logs", hostname="web-1", labels={"app": "web"})
    st = cri.pod_status(pod).status
    assert st.state == h.pb().SANDBOX_READY and st.metadata.namespace == "default"
    assert dict(st.labels) == {"app": "web"}
    info = json.loads(cri.pod_status(pod, verbose=True).info["info"])
    assert info["runtimeHandler"] == "runc" and Path(info["netNamespacePath"]).exists(), info
    ctr = cri.create_container(pod, ph.container_config(image, name="main", command=["sh", "-c",
                                                                 "echo hello; echo oops >&2; hostname; sleep 300"],
                                                        log_path="main/0.log"))
    assert cri.container_status(ctr).status.state == h.pb().CONTAINER_CREATED
    cri.start_container(ctr)
    st = cri.wait_container_state(ctr, "CONTAINER_RUNNING")
    assert st.started_at > 0 and st.image.image == image
    log = tmp_path / "logs" / "main" / "0.log"
    assert h.wait_until(lambda: log.exists() and b"web-1" in log.read_bytes(), 10), "log never showed the hostname"
    lines = log.read_text().splitlines()
    assert any(" stdout F hello" in line for line in lines), lines
    assert any(" stderr F oops" in line for line in lines), lines
    r = cri.exec_sync(ctr, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (r.stdout, r.stderr, r.exit_code) == (b"out\n", b"err\n", 3)
    cri.stop_container(ctr, timeout=2)
    st = cri.container_status(ctr).status
    assert st.state == h.pb().CONTAINER_EXITED and st.finished_at >= st.started_at
    cri.stop_pod(pod)
    assert cri.pod_status(pod).status.state == h.pb().SANDBOX_NOTREADY
    cri.remove_pod(pod)
    assert cri.list_pods() == [] and cri.list_containers() == []
    assert ph.mounts_under(d.workdir) == [] and ph.mounts_under(d.node_dir) == []
    assert ph.wait_gone(lambda: ph.processes_with(ctr)) == []


def assert_rpc_error(fn, code, *fragments):
    with pytest.raises(grpc.RpcError) as e:
        fn()
    err = e.value
    assert err.code() == code, f"expected {code.name}, got {err.code().name}: {err.details()!r}"
    for f in fragments:
        assert f.lower() in (err.details() or "").lower(), f"{f!r} not in {err.details()!r}"
    return err


def assert_node_clean(d):
    """Nothing of the daemon's pods is left: no mount, pinned namespace, pod dir or container process."""
    assert ph.mounts_under(d.workdir) == []
    assert ph.mounts_under(d.node_dir) == []
    for kind in ("netns", "ipcns", "utsns", "userns"):
        nsdir = d.node_dir / "ns" / kind
        assert not nsdir.exists() or list(nsdir.iterdir()) == [], f"left in {nsdir}: {list(nsdir.iterdir())}"
    assert list((d.runroot / "pods").iterdir()) == []
    assert list((d.runroot / "containers").iterdir()) == []
    # conmon's links to the bundles (cut short when the directory's path is long, as the tests' are)
    attach = d.node_dir / "attach"
    assert not attach.exists() or list(attach.iterdir()) == [], list(attach.iterdir())
    assert ph.wait_gone(lambda: [p for p in ph.processes_with(str(d.runroot)) if p != d.pid]) == []


def run_busybox(cri, image, pod=None, script="sleep 300", **kw):
    pod = pod or cri.run_pod()
    ctr = cri.create_container(pod, ph.container_config(image, command=["sh", "-c", script], **kw))
    cri.start_container(ctr)
    cri.wait_container_state(ctr, "CONTAINER_RUNNING")
    return pod, ctr


def sh(cri, ctr, script):
    r = cri.exec_sync(ctr, ["sh", "-c", script])
    assert r.exit_code == 0, (r.stdout, r.stderr)
    return r.stdout.decode()


# ---------------------------------------------------------------------------------------------------------
# Pod sandboxes


@pytest.mark.parametrize("field", ["name", "namespace", "uid"])
def test_pod_metadata_is_required(cri, field):
    cfg = ph.pod_config()
    setattr(cfg.metadata, field, "")
    assert_rpc_error(lambda: cri.run_pod(cfg), grpc.StatusCode.INVALID_ARGUMENT, f"metadata.{field}")
    assert cri.list_pods() == []


@pytest.mark.parametrize("field", ["name", "namespace", "uid"])
def test_pod_metadata_of_a_megabyte_is_refused_in_a_short_message(cri, field):
    """Longer than any Kubernetes name: refused naming the field, and the answer does not echo the value
    (a megabyte in the status would be refused by the client itself, RESOURCE_EXHAUSTED)."""
    cfg = ph.pod_config()
    setattr(cfg.metadata, field, "x" * (1 << 20))
    err = assert_rpc_error(lambda: cri.run_pod(cfg), grpc.StatusCode.INVALID_ARGUMENT, f"metadata.{field}")
    assert len(err.details()) < 5000
    setattr(cfg.metadata, field, "x" * 253)
    cri.remove_pod(cri.run_pod(cfg))


def test_long_values_in_errors_are_cut(cri, image):
    pod = cri.run_pod()
    cfg = ph.container_config(image)
    cfg.working_dir = "relative/" + "x" * (1 << 20)
    err = assert_rpc_error(lambda: cri.create_container(pod, cfg), grpc.StatusCode.INVALID_ARGUMENT, "working_dir")
    assert len(err.details()) < 5000
    missing = image + "x" * 300000
    err = assert_rpc_error(lambda: cri.pull_image(missing), grpc.StatusCode.INVALID_ARGUMENT)
    assert len(err.details()) <= 4096


def test_unknown_runtime_handler(node, cri):
    assert_rpc_error(lambda: cri.run_pod(handler="nope"), grpc.StatusCode.INVALID_ARGUMENT, "runtime_handler", "nope")
    assert_node_clean(node[0])


def test_pod_name_is_reserved(cri):
    cfg = ph.pod_config()
    pod = cri.run_pod(cfg)
    err = assert_rpc_error(lambda: cri.run_pod(cfg), grpc.StatusCode.ALREADY_EXISTS, "reserved")
    assert pod in err.details()
    cfg.metadata.attempt = 1
    assert cri.run_pod(cfg) != pod


def test_pod_stop_and_remove_are_idempotent(node, cri):
    pod = cri.run_pod()
    cri.stop_pod(pod)
    cri.stop_pod(pod)
    cri.remove_pod(pod)
    cri.remove_pod(pod)
    cri.stop_pod(pod)
    assert_rpc_error(lambda: cri.pod_status(pod), grpc.StatusCode.NOT_FOUND, pod)
    assert_node_clean(node[0])


def test_pod_list_filters(cri):
    a = cri.run_pod(labels={"tier": "web"})
    b = cri.run_pod(labels={"tier": "db"})
    cri.stop_pod(b)
    assert {p.id for p in cri.list_pods()} == {a, b}
    assert [p.id for p in cri.list_pods(label_selector={"tier": "db"})] == [b]
    assert [p.id for p in cri.list_pods(id=a[:12])] == [a]
    ready = h.pb().PodSandboxStateValue(state=h.pb().SANDBOX_NOTREADY)
    assert [p.id for p in cri.list_pods(state=ready)] == [b]


def test_pod_namespaces_hostname_and_dns(cri, image):
    pod = cri.run_pod(hostname="h1", dns={"servers": ["10.0.0.10"], "searches": ["svc.local", "local"],
                                          "options": ["ndots:5"]},
                      sysctls={"net.ipv4.ip_unprivileged_port_start": "80", "kernel.shm_rmid_forced": "1"})
    _, a = run_busybox(cri, image, pod)
    _, b = run_busybox(cri, image, pod)
    assert sh(cri, a, "hostname").strip() == "h1"
    resolv = sh(cri, a, "cat /etc/resolv.conf")
    assert "nameserver 10.0.0.10" in resolv and "search svc.local local" in resolv and "options ndots:5" in resolv
    assert "localhost" in sh(cri, a, "cat /etc/hosts")
    assert sh(cri, a, "cat /proc/sys/net/ipv4/ip_unprivileged_port_start").strip() == "80"
    assert sh(cri, a, "cat /proc/sys/kernel/shm_rmid_forced").strip() == "1"
    # Both containers share the pod's network and IPC namespaces but not the node's.
    for ns in ("net", "ipc", "uts"):
        assert sh(cri, a, f"readlink /proc/self/ns/{ns}") == sh(cri, b, f"readlink /proc/self/ns/{ns}")
        assert sh(cri, a, f"readlink /proc/self/ns/{ns}").strip() != os.readlink(f"/proc/self/ns/{ns}")
    assert sh(cri, a, "ip -o link show | wc -l").strip() == "1"  # loopback only
    assert "UP" in sh(cri, a, "ip -o link show lo")


def test_non_namespaced_sysctl_is_refused(node, cri):
    assert_rpc_error(lambda: cri.run_pod(sysctls={"kernel.panic": "1"}), grpc.StatusCode.INVALID_ARGUMENT,
                     "sysctls", "kernel.panic")
    assert_node_clean(node[0])


def test_shared_pid_namespace_runs_the_infra_process(node, cri, image):
    pod = cri.run_pod(pid="POD")
    _, ctr = run_busybox(cri, image, pod)
    assert sh(cri, ctr, "cat /proc/1/cmdline").startswith("/pause")
    _, other = run_busybox(cri, image, pod)
    assert sh(cri, other, "readlink /proc/self/ns/pid") == sh(cri, ctr, "readlink /proc/self/ns/pid")
    cri.stop_pod(pod)
    cri.remove_pod(pod)
    assert_node_clean(node[0])


def test_host_network_pod(cri, image):
    pod = cri.run_pod(network="NODE", privileged=True)
    _, ctr = run_busybox(cri, image, pod)
    assert sh(cri, ctr, "readlink /proc/self/ns/net").strip() == os.readlink("/proc/self/ns/net")
    # A read-only sysfs of its own: none of the node's mounts below /sys (tracefs on these machines) comes
    # along, as a recursive bind of the node's /sys would bring them.
    sys_mounts = {f[1]: (f[2], f[3].split(",")) for f in map(str.split, sh(cri, ctr, "cat /proc/mounts").splitlines())
                  if f[1] == "/sys" or f[1].startswith("/sys/")}
    assert sys_mounts["/sys"][0] == "sysfs" and "ro" in sys_mounts["/sys"][1]
    assert not [m for m in sys_mounts if m.startswith("/sys/kernel")], sys_mounts
    # A privileged container on the node's network (a node agent) sees the node's /sys, as on CRI-O.
    _, agent = run_busybox(cri, image, pod, privileged=True)
    node_kernel = {f.split()[1] for f in open("/proc/mounts") if f.split()[1].startswith("/sys/kernel")}
    inside = {f.split()[1] for f in sh(cri, agent, "cat /proc/mounts").splitlines()}
    assert node_kernel <= inside, node_kernel - inside


# ---------------------------------------------------------------------------------------------------------
# Containers


def test_create_in_unknown_pod(cri, image):
    assert_rpc_error(lambda: cri.create_container("f" * 64, ph.container_config(image)), grpc.StatusCode.NOT_FOUND,
                     "pod_sandbox_id")


def test_image_must_be_present(node, cri, image_registry):
    pod = cri.run_pod()
    missing = ph.busybox(image_registry).replace("busybox", "never-pulled")
    assert_rpc_error(lambda: cri.create_container(pod, ph.container_config(missing)), grpc.StatusCode.NOT_FOUND,
                     "image", "never-pulled")
    assert cri.list_containers() == []
    assert list((node[0].runroot / "containers").iterdir()) == []


@pytest.mark.parametrize("log_path", ["/abs.log", "../escape.log", "a/../../b.log"])
def test_log_path_must_stay_in_the_pod_log_dir(cri, image, tmp_path, log_path):
    pod = cri.run_pod(log_dir=tmp_path)
    assert_rpc_error(lambda: cri.create_container(pod, ph.container_config(image, log_path=log_path)),
                     grpc.StatusCode.INVALID_ARGUMENT, "log_path")


def _mount(container_path):
    return lambda cfg: cfg.mounts.add(container_path=container_path, host_path="/tmp")


def _env(key):
    return lambda cfg: cfg.envs.add(key=key)


def _res(field, value):
    return lambda cfg: setattr(cfg.linux.resources, field, value)


BAD_CONTAINER_CONFIGS = {
    "uid-negative": (lambda c: setattr(c.linux.security_context.run_as_user, "value", -5), "run_as_user: -5"),
    "uid-too-big": (lambda c: setattr(c.linux.security_context.run_as_user, "value", 2**32), "run_as_user"),
    "gid-negative": (lambda c: (setattr(c.linux.security_context.run_as_user, "value", 0),
                                setattr(c.linux.security_context.run_as_group, "value", -7)), "run_as_group: -7"),
    "supplemental-negative": (lambda c: c.linux.security_context.supplemental_groups.append(-1),
                              "supplemental_groups"),
    "seccomp-type": (lambda c: setattr(c.linux.security_context.seccomp, "profile_type", 9), "profile_type"),
    "propagation": (lambda c: setattr(c.mounts.add(container_path="/m", host_path="/tmp"), "propagation", 7),
                    "mounts[0].propagation"),
    "pid-mode": (lambda c: setattr(c.linux.security_context.namespace_options, "pid", 9), "namespace_options"),
    "target-without-id": (lambda c: setattr(c.linux.security_context.namespace_options, "pid", 3), "target_id"),
    "relative-cwd": (lambda c: setattr(c, "working_dir", "relative"), "working_dir"),
    "empty-env-key": (_env(""), "envs[0].key"),
    "mount-over-root": (_mount("/"), "mounts[0].container_path"),
    "mount-over-root-dot": (_mount("/./"), "mounts[0].container_path"),
    "mount-climbing": (_mount("/a/.."), "mounts[0].container_path"),
    "log-path-dot": (lambda c: setattr(c, "log_path", "."), "log_path"),
    "log-path-dir": (lambda c: setattr(c, "log_path", "dir/"), "log_path"),
    "cpu-shares": (_res("cpu_shares", 2**62), "cpu_shares"),
    "cpu-period": (_res("cpu_period", 1), "cpu_period"),
    "cpu-quota": (_res("cpu_quota", 2**62), "cpu_quota"),
    "oom-score-adj": (_res("oom_score_adj", 2**40), "oom_score_adj"),
    "cpuset-cpus": (_res("cpuset_cpus", "a\nb"), "cpuset_cpus"),
    "cpuset-mems": (_res("cpuset_mems", "-1"), "cpuset_mems"),
    "hugepage-size": (lambda c: c.linux.resources.hugepage_limits.add(page_size="../../x", limit=1 << 21),
                      "hugepage_limits[0].page_size"),
}


@pytest.mark.parametrize("name", sorted(BAD_CONTAINER_CONFIGS))
def test_bad_container_config_is_invalid_argument_naming_the_field(node, cri, image, name):
    """What the runtime would refuse (or, worse, read as root or no confinement) is refused at once, naming
    the field, and leaves nothing behind."""
    d, _ = node
    change, field = BAD_CONTAINER_CONFIGS[name]
    pod = cri.run_pod()
    cfg = ph.container_config(image, command=["sleep", "60"])
    change(cfg)
    assert_rpc_error(lambda: cri.create_container(pod, cfg), grpc.StatusCode.INVALID_ARGUMENT, field)
    assert cri.list_containers() == [] and list((d.runroot / "containers").iterdir()) == []


@pytest.mark.parametrize("change,field", [
    (lambda ns: setattr(ns, "pid", 3), "namespace_options.pid"),
    (lambda ns: setattr(ns, "network", 1), "namespace_options"),
    (lambda ns: setattr(ns, "ipc", 9), "namespace_options"),
], ids=["pid-target", "network-container", "ipc-unknown"])
def test_pod_namespace_modes_are_checked(node, cri, change, field):
    cfg = ph.pod_config()
    change(cfg.linux.security_context.namespace_options)
    assert_rpc_error(lambda: cri.run_pod(config=cfg), grpc.StatusCode.INVALID_ARGUMENT, field)
    assert cri.list_pods() == []


def test_update_with_bad_resources_is_invalid_argument(cri, image):
    pod, ctr = run_busybox(cri, image)
    for field, value in (("cpu_period", 1), ("cpuset_cpus", "../../x"), ("cpu_quota", 2**62)):
        res = h.pb().LinuxContainerResources()
        setattr(res, field, value)
        req = h.pb().UpdateContainerResourcesRequest(container_id=ctr, linux=res)
        assert_rpc_error(lambda: cri.call("UpdateContainerResources", req, h.pb().UpdateContainerResourcesResponse),
                         grpc.StatusCode.INVALID_ARGUMENT, field)


def test_container_name_is_reserved(cri, image):
    pod = cri.run_pod()
    cfg = ph.container_config(image, name="same", command=["sleep", "60"])
    first = cri.create_container(pod, cfg)
    err = assert_rpc_error(lambda: cri.create_container(pod, cfg), grpc.StatusCode.ALREADY_EXISTS, "reserved")
    assert first in err.details()


def test_container_stop_and_remove_are_idempotent(node, cri, image):
    pod, ctr = run_busybox(cri, image)
    cri.stop_container(ctr)
    cri.stop_container(ctr)
    cri.remove_container(ctr)
    cri.remove_container(ctr)
    cri.stop_container(ctr)
    assert_rpc_error(lambda: cri.container_status(ctr), grpc.StatusCode.NOT_FOUND, ctr)
    cri.remove_pod(pod)
    assert_node_clean(node[0])


def test_removed_container_files_go_after_the_answer(node, cri, image):
    """RemoveContainer answers before the rootfs is unmounted and the directories deleted; they go at
    once after, and removing the pod (or the image) waits for them."""
    d = node[0]
    pod, first = run_busybox(cri, image)
    _, second = run_busybox(cri, image, pod)
    for ctr in (first, second):
        cri.stop_container(ctr, timeout=0)
    cri.remove_container(first)
    assert [c.id for c in cri.list_containers()] == [second]
    assert h.wait_until(lambda: not (d.runroot / "containers" / first).exists(), 10)
    assert h.wait_until(lambda: not (d.root / "containers" / first).exists(), 10)
    assert [m for m in ph.mounts_under(d.runroot) if first in m] == []
    cri.remove_container(second)
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_created_container_removed_leaves_nothing(node, cri, image):
    """A container only created has nothing in the runtime yet (it is created there when it starts): its
    one process is its monitor, waiting for the start. Removed, the monitor is killed before the answer,
    its rootfs unmounted and its directories deleted right after, and the pod goes without a trace."""
    d = node[0]
    pod = cri.run_pod()
    ctr = cri.create_container(pod, ph.container_config(image, command=["sleep", "300"]))
    waiting = ph.processes_with(ctr)
    assert [Path(f"/proc/{p}/comm").read_text() for p in waiting] == ["conmon\n"]
    assert not (d.runroot / "containers" / ctr / "pidfile").exists()
    assert not Path(f"/run/runc/{ctr}").exists()
    assert [m for m in ph.mounts_under(d.runroot) if ctr in m] != []
    cri.remove_container(ctr)
    assert not Path(f"/proc/{waiting[0]}").exists()
    assert_rpc_error(lambda: cri.container_status(ctr), grpc.StatusCode.NOT_FOUND, ctr)
    assert h.wait_until(lambda: [m for m in ph.mounts_under(d.runroot) if ctr in m] == [], 10)
    assert h.wait_until(lambda: not (d.root / "containers" / ctr).exists(), 10)
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_started_container_is_running_for_the_runtime_too(node, cri, image):
    """The daemon starts a runc container through its exec FIFO, as `runc start` does: the FIFO is gone
    and runc itself reports the container running."""
    _, ctr = run_busybox(cri, image)
    assert not Path(f"/run/runc/{ctr}/exec.fifo").exists()
    state = json.loads(subprocess.run(["runc", "--root", "/run/runc", "state", ctr], capture_output=True,
                                      check=True, text=True).stdout)
    assert state["status"] == "running"
    assert state["pid"] == json.loads(cri.container_status(ctr, verbose=True).info["info"])["pid"]


def test_created_container_stopped_ends_without_running(node, cri, image):
    """Stopping a container that never started ends it at once, as a killed created container ends
    (137, Error); it never ran, so it has no start time, and it cannot be started afterwards."""
    d = node[0]
    pod = cri.run_pod()
    ctr = cri.create_container(pod, ph.container_config(image, command=["sleep", "300"]))
    cri.stop_container(ctr, timeout=30)
    assert ph.processes_with(ctr) == []  # its waiting monitor went with the stop
    st = cri.container_status(ctr).status
    assert (st.state, st.exit_code, st.reason, st.started_at) == (h.pb().CONTAINER_EXITED, 137, "Error", 0)
    assert st.finished_at > 0
    assert [m for m in ph.mounts_under(d.runroot) if ctr in m] == []  # a stop unmounts the rootfs
    assert_rpc_error(lambda: cri.start_container(ctr), grpc.StatusCode.FAILED_PRECONDITION, "created state")
    cri.stop_pod(pod)
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_unfiltered_lists_follow_every_change(node, cri, image, tmp_path):
    """Unfiltered lists are answered from packed bytes kept until something listed changes: each
    change shows in the next call, also one the container makes itself by exiting."""
    pb = h.pb()

    def ctrs():
        cri.list_containers()  # the second call of each pair is the one answered from the cache
        return {c.id: c.state for c in cri.list_containers()}

    def pods():
        cri.list_pods()
        return {p.id: p.state for p in cri.list_pods()}

    assert ctrs() == {} and pods() == {}
    pod = cri.run_pod()
    assert pods() == {pod: pb.SANDBOX_READY}
    ctr = cri.create_container(pod, ph.container_config(image, command=["sh", "-c", "sleep 1; exit 2"]))
    assert ctrs() == {ctr: pb.CONTAINER_CREATED}
    cri.start_container(ctr)
    assert ctrs() == {ctr: pb.CONTAINER_RUNNING}
    assert h.wait_until(lambda: ctrs() == {ctr: pb.CONTAINER_EXITED}, 20), ctrs()
    assert [c.id for c in cri.list_containers(state=pb.ContainerStateValue(state=pb.CONTAINER_EXITED))] == [ctr]
    cri.remove_container(ctr)
    assert ctrs() == {}
    cri.stop_pod(pod)
    assert pods() == {pod: pb.SANDBOX_NOTREADY}
    cri.remove_pod(pod)
    assert pods() == {}
    assert_node_clean(node[0])


def test_a_stopped_container_keeps_nothing_in_the_runtime(node, cri, image):
    pod, ctr = run_busybox(cri, image)
    cgroups = list(Path("/sys/fs/cgroup").glob(f"*/crio-c/crio-{ctr}"))
    assert cgroups
    assert subprocess.run(["runc", "state", ctr], capture_output=True).returncode == 0
    assert any(ctr in m for m in ph.mounts_under(node[0].runroot))
    cri.stop_container(ctr, timeout=1)
    # runc's state, the cgroup and the rootfs mount go at once, not when the kubelet removes the
    # container later.
    assert subprocess.run(["runc", "state", ctr], capture_output=True).returncode != 0
    assert [c for c in cgroups if c.exists()] == []
    assert [m for m in ph.mounts_under(node[0].runroot) if ctr in m] == []
    st = cri.container_status(ctr).status
    assert (st.state, st.exit_code) == (h.pb().CONTAINER_EXITED, 137)
    d = node[0]
    d.kill()
    d.start()
    cri = d.client(timeout=60)
    assert cri.container_status(ctr).status.state == h.pb().CONTAINER_EXITED
    cri.remove_container(ctr)
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_a_container_that_exits_on_its_own_is_released_from_the_runtime(node, cri, image):
    pod, ctr = run_busybox(cri, image, script="sleep 1; exit 3")
    cgroups = list(Path("/sys/fs/cgroup").glob(f"*/crio-c/crio-{ctr}"))
    assert cgroups
    cri.wait_container_state(ctr, "CONTAINER_EXITED")
    assert h.wait_until(lambda: subprocess.run(["runc", "state", ctr], capture_output=True).returncode != 0, 10)
    assert [c for c in cgroups if c.exists()] == []
    assert cri.container_status(ctr).status.exit_code == 3
    cri.remove_container(ctr)
    cri.remove_pod(pod)
    assert_node_clean(node[0])


def test_exit_code_and_reason(cri, image):
    pod = cri.run_pod()
    ok = cri.create_container(pod, ph.container_config(image, command=["true"]))
    bad = cri.create_container(pod, ph.container_config(image, command=["sh", "-c", "exit 7"]))
    cri.start_container(ok)
    cri.start_container(bad)
    st = cri.wait_container_state(ok, "CONTAINER_EXITED")
    assert (st.exit_code, st.reason) == (0, "Completed")
    st = cri.wait_container_state(bad, "CONTAINER_EXITED")
    assert (st.exit_code, st.reason) == (7, "Error")
    assert st.finished_at >= st.started_at > st.created_at > 0


def test_stop_signal_then_kill(cri, image):
    # The shell ignores SIGTERM, so stop must fall back to SIGKILL after the timeout.
    pod, ctr = run_busybox(cri, image, script="trap '' TERM; while true; do sleep 1; done")
    cri.stop_container(ctr, timeout=1)
    st = cri.container_status(ctr).status
    assert st.state == h.pb().CONTAINER_EXITED and st.exit_code == 137


def test_command_args_env_and_workdir(cri, image):
    pod = cri.run_pod()
    script = "echo $FOO > /tmp/out; pwd >> /tmp/out; exec sleep 300"
    ctr = cri.create_container(pod, ph.container_config(image, command=["sh", "-c"], args=[script],
                                                        env={"FOO": "bar"}, workdir="/tmp"))
    cri.start_container(ctr)
    cri.wait_container_state(ctr, "CONTAINER_RUNNING")
    # Polled until written: `cat` of a file not there yet fails, which is no answer yet.
    assert h.wait_until(lambda: cri.exec_sync(ctr, ["cat", "/tmp/out"]).stdout == b"bar\n/tmp\n", 5)
    assert sh(cri, ctr, "echo $FOO $PATH").startswith("bar /")


def test_image_cmd_is_the_default(cri, image):
    pod = cri.run_pod()
    ctr = cri.create_container(pod, ph.container_config(image, args=["sleep", "300"]))
    cri.start_container(ctr)
    cri.wait_container_state(ctr, "CONTAINER_RUNNING")
    assert sh(cri, ctr, "cat /proc/1/cmdline | tr '\\0' ' '") == "sleep 300 "


def test_users(cri, image, image_registry):
    pod = cri.run_pod()
    _, by_uid = run_busybox(cri, image, pod, run_as_user=1000)
    assert sh(cri, by_uid, "id -u; id -g").split() == ["1000", "0"]
    _, by_name = run_busybox(cri, image, pod, run_as_username="nobody")
    assert sh(cri, by_name, "id -u; id -g").split() == ["65534", "65534"]
    named = reg.ref(image_registry, "user:named")
    cri.pull_image(named)
    _, img_user = run_busybox(cri, named, pod)
    assert sh(cri, img_user, "id -u").strip() == "65534"
    st = cri.container_status(img_user).status
    assert st.user.linux.uid == 65534 and st.user.linux.gid == 65534
    assert_rpc_error(lambda: cri.create_container(pod, ph.container_config(image, run_as_username="nosuch")),
                     grpc.StatusCode.INVALID_ARGUMENT, "nosuch")


def test_capabilities_and_readonly_rootfs(cri, image):
    pod = cri.run_pod()
    _, ctr = run_busybox(cri, image, pod, cap_drop=["ALL"], readonly_rootfs=True)
    assert "CapEff:\t0000000000000000" in sh(cri, ctr, "cat /proc/self/status")
    r = cri.exec_sync(ctr, ["touch", "/x"])
    assert r.exit_code != 0 and b"Read-only" in r.stderr
    _, added = run_busybox(cri, image, pod, cap_add=["NET_ADMIN"])
    eff = int(sh(cri, added, "grep CapEff /proc/self/status").split()[1], 16)
    assert eff & (1 << 12) and not eff & (1 << 21)  # NET_ADMIN, not SYS_ADMIN
    assert_rpc_error(lambda: cri.create_container(pod, ph.container_config(image, cap_add=["NOT_A_CAP"])),
                     grpc.StatusCode.INVALID_ARGUMENT, "NOT_A_CAP")


def test_masked_paths_and_default_seccomp(cri, image):
    pod = cri.run_pod()
    _, ctr = run_busybox(cri, image, pod, seccomp="RuntimeDefault")
    assert sh(cri, ctr, "cat /proc/kcore | wc -c").strip() == "0"
    assert "Seccomp:\t2" in sh(cri, ctr, "cat /proc/self/status")
    _, unconfined = run_busybox(cri, image, pod, seccomp="Unconfined")
    assert "Seccomp:\t0" in sh(cri, unconfined, "cat /proc/self/status")
    assert_rpc_error(lambda: cri.create_container(pod, ph.container_config(image, seccomp="Localhost:/no/such.json")),
                     grpc.StatusCode.NOT_FOUND, "seccomp")


def test_default_seccomp_denies_namespaces_without_sys_admin(cri, image):
    """A user namespace needs no capability, and hands its creator a CAP_SYS_ADMIN that reaches the kernel's
    mount and netfilter code: RuntimeDefault denies it (as Docker's and containerd's profiles do) unless the
    container has CAP_SYS_ADMIN anyway. Unconfined shows the kernel would have allowed it."""
    pod = cri.run_pod()
    _, confined = run_busybox(cri, image, pod, seccomp="RuntimeDefault")
    r = cri.exec_sync(confined, ["unshare", "-U", "true"])
    assert r.exit_code != 0 and b"Operation not permitted" in r.stderr, (r.exit_code, r.stderr)
    _, unconfined = run_busybox(cri, image, pod, seccomp="Unconfined")
    assert cri.exec_sync(unconfined, ["unshare", "-U", "true"]).exit_code == 0
    _, admin = run_busybox(cri, image, pod, seccomp="RuntimeDefault", cap_add=["SYS_ADMIN"])
    r = cri.exec_sync(admin, ["unshare", "-U", "true"])
    assert r.exit_code == 0, r.stderr
    # Forking is not creating namespaces.
    assert sh(cri, confined, "echo $(echo forked)") == "forked\n"


def test_bind_mounts(cri, image, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "f").write_text("hi")
    pod = cri.run_pod()
    _, ctr = run_busybox(cri, image, pod, mounts=[("/data", tmp_path / "data", True), ("/new", tmp_path / "made")])
    assert sh(cri, ctr, "cat /data/f") == "hi"
    assert cri.exec_sync(ctr, ["touch", "/data/g"]).exit_code != 0
    assert (tmp_path / "made").is_dir()
    st = cri.container_status(ctr).status
    assert {(m.container_path, m.readonly) for m in st.mounts} == {("/data", True), ("/new", False)}


@pytest.mark.parametrize("timeout", [2**62, 2**63 - 1])
def test_exec_sync_with_the_largest_timeouts(cri, image, timeout):
    """The CRI allows any int64 timeout: one that overflows in nanoseconds is no deadline (it killed the
    daemon once)."""
    pod, ctr = run_busybox(cri, image)
    req = h.pb().ExecSyncRequest(container_id=ctr, cmd=["echo", "ok"], timeout=timeout)
    r = cri.call("ExecSync", req, h.pb().ExecSyncResponse, timeout=30)
    assert (r.exit_code, r.stdout) == (0, b"ok\n")


def test_exec_sync_timeout_kills_the_command(cri, image):
    pod, ctr = run_busybox(cri, image)
    err = assert_rpc_error(lambda: cri.exec_sync(ctr, ["sh", "-c", "sleep 100 & sleep 101"], timeout=1),
                           grpc.StatusCode.DEADLINE_EXCEEDED, "timed out")
    assert err
    assert h.wait_until(lambda: "sleep 10" not in sh(cri, ctr, "ps -o args"), 5), sh(cri, ctr, "ps -o args")


def test_exec_sync_returns_when_the_command_exits(cri, image):
    """A background child that keeps stdout open must not hold the answer until it exits."""
    pod, ctr = run_busybox(cri, image)
    r = cri.exec_sync(ctr, ["sh", "-c", "sleep 300 & echo started"], rpc_timeout=20)
    assert (r.stdout, r.exit_code) == (b"started\n", 0)


def test_exec_sync_on_a_stopped_container(cri, image):
    pod, ctr = run_busybox(cri, image)
    cri.stop_container(ctr)
    assert_rpc_error(lambda: cri.exec_sync(ctr, ["true"]), grpc.StatusCode.FAILED_PRECONDITION, "not running")


IDENTITY_FIELDS = ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs",
                   "Seccomp", "Seccomp_filters")
IDENTITY_SCRIPT = """
for f in %s; do grep "^$f:" /proc/self/status; grep "^$f:" /proc/1/status; done
for n in mnt net ipc uts pid cgroup user; do readlink /proc/self/ns/$n; readlink /proc/1/ns/$n; done
cat /proc/self/cgroup; echo =; cat /proc/1/cgroup; echo =
cat /proc/self/limits; echo =; cat /proc/1/limits; echo =
echo "$FOO $HOME $(pwd)"
""" % " ".join(IDENTITY_FIELDS)


def assert_exec_has_the_identity_of_pid_1(cri, ctr, expect_env):
    """What an exec'd process is (ids, capabilities, seccomp, namespaces, cgroups, limits) equals the
    container's own process, PID 1 of its PID namespace; env, HOME and cwd come from the container's."""
    out = sh(cri, ctr, IDENTITY_SCRIPT).splitlines()
    pairs = out[:2 * len(IDENTITY_FIELDS)]
    for mine, init in zip(pairs[::2], pairs[1::2]):
        assert mine == init, (mine, init)
    links = out[2 * len(IDENTITY_FIELDS):2 * len(IDENTITY_FIELDS) + 14]
    assert links[::2] == links[1::2], links
    rest = "\n".join(out[2 * len(IDENTITY_FIELDS) + 14:]).split("\n=\n")
    assert rest[0] == rest[1], "cgroups differ"
    assert rest[2] == rest[3], "limits differ"
    assert rest[4].strip() == expect_env
    return dict(line.split(":\t", 1) for line in pairs[::2])


@pytest.mark.parametrize("no_new_privs", [True, False])
def test_exec_has_the_identity_of_the_container(cri, image, no_new_privs):
    """Both orders of loading seccomp: after dropping capabilities (no_new_privs), and before."""
    pod = cri.run_pod()
    cfg = ph.container_config(image, command=["sh", "-c", "sleep 300"], run_as_user=1000, cap_add=["NET_ADMIN"],
                              cap_drop=["CHOWN"], seccomp="RuntimeDefault", env={"FOO": "bar"}, workdir="/tmp")
    cfg.linux.security_context.no_new_privs = no_new_privs
    cfg.linux.security_context.supplemental_groups.extend([4242])
    ctr = cri.create_container(pod, cfg)
    cri.start_container(ctr)
    cri.wait_container_state(ctr, "CONTAINER_RUNNING")
    me = assert_exec_has_the_identity_of_pid_1(cri, ctr, "bar / /tmp")
    assert me["Uid"].split()[0] == "1000" and "4242" in me["Groups"].split()
    assert me["Seccomp"] == "2" and me["NoNewPrivs"] == ("1" if no_new_privs else "0")
    # A non-root user gets no capabilities, but the bounding set is the container's.
    assert int(me["CapEff"], 16) == 0 and int(me["CapBnd"], 16) & (1 << 12) and not int(me["CapBnd"], 16) & 1


def test_exec_sync_of_a_command_that_cannot_start(cri, image):
    pod, ctr = run_busybox(cri, image)
    r = cri.exec_sync(ctr, ["no-such-command"])
    assert r.exit_code == 127 and b"not found" in r.stderr, r
    r = cri.exec_sync(ctr, ["/etc/passwd"])
    assert r.exit_code == 126 and b"ermission denied" in r.stderr, r
    assert sh(cri, ctr, "echo still running") == "still running\n"


def test_exec_cwd_cannot_lead_out_of_the_container(cri, image):
    """A working directory the container turned into a link to /proc/1/root (the node's root in a
    host-PID pod) must not become the exec's cwd: the exec fails instead (runc's CVE-2024-21626)."""
    pod = cri.run_pod(pid="NODE")
    _, ctr = run_busybox(cri, image, pod, workdir="/w")
    sh(cri, ctr, "cd / && rmdir /w && ln -s /proc/1/root /w")
    r = cri.exec_sync(ctr, ["sh", "-c", "pwd; ls /"])
    assert r.exit_code != 0 and b"cwd" in r.stderr, r
    assert b"proc" not in r.stdout


def test_exec_stdio_belongs_to_the_user(cri, image):
    """A non-root command can reopen its own stdout and stderr (they are handed to its user, as by runc)."""
    _, ctr = run_busybox(cri, image, run_as_user=1000)
    r = cri.exec_sync(ctr, ["sh", "-c", "echo out > /dev/stdout; echo err > /dev/stderr"])
    assert (r.exit_code, r.stdout, r.stderr) == (0, b"out\n", b"err\n"), r


def test_exec_through_the_runtime_when_the_helper_is_missing(image_daemon, image_registry, tmp_path_factory,
                                                             tmp_path):
    """A crio binary installed without crio-nsexec still execs, through `runc exec`, with the same answers."""
    build = Path(os.environ.get("CRIO_BINARY", "build/crio")).resolve().parent
    for name in ("crio", "crio-pinns", "crio-pause"):
        shutil.copy2(build / name, tmp_path / name)
    path = "/usr/sbin:/usr/bin:/sbin:/bin"
    if shutil.which("crio-nsexec", path=path):
        pytest.skip("crio-nsexec is installed on PATH")
    wd = tmp_path_factory.mktemp("node")
    d = image_daemon(config=ph.runtime_conf(wd), start=False, env={"PATH": path})
    d.node_dir = wd
    argv = d.argv()
    d.argv = lambda: [str(tmp_path / "crio"), *argv[1:]]
    d.start()
    cri = d.client(timeout=60)
    try:
        image = ph.busybox(image_registry)
        cri.pull_image(image)
        _, ctr = run_busybox(cri, image, env={"FOO": "bar"}, workdir="/tmp")
        assert_exec_has_the_identity_of_pid_1(cri, ctr, "bar /root /tmp")
        assert "through the runtime: crio-nsexec" in d.log
        r = cri.exec_sync(ctr, ["sh", "-c", "echo out; echo err >&2; exit 3"])
        assert (r.stdout, r.stderr, r.exit_code) == (b"out\n", b"err\n", 3)
    finally:
        ph.remove_everything(d, cri)


def test_update_container_resources(cri, image):
    pod, ctr = run_busybox(cri, image, memory_limit=64 << 20)
    pid = cri.container_status(ctr, verbose=True).info["info"]
    assert '"pid"' in pid
    req = h.pb().UpdateContainerResourcesRequest(container_id=ctr)
    req.linux.memory_limit_in_bytes = 128 << 20
    cri.call("UpdateContainerResources", req, h.pb().UpdateContainerResourcesResponse)
    limit = sh(cri, ctr, "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max")
    assert limit.strip() == str(128 << 20)
    assert cri.container_status(ctr).status.resources.linux.memory_limit_in_bytes == 128 << 20


def test_reopen_container_log(cri, image, tmp_path):
    pod = cri.run_pod(log_dir=tmp_path)
    _, ctr = run_busybox(cri, image, pod, script="while true; do echo tick; sleep 0.2; done", log_path="c.log")
    log = tmp_path / "c.log"
    assert h.wait_until(lambda: log.exists() and b"tick" in log.read_bytes(), 10)
    log.rename(tmp_path / "c.log.1")
    cri.call("ReopenContainerLog", h.pb().ReopenContainerLogRequest(container_id=ctr),
             h.pb().ReopenContainerLogResponse)
    assert log.exists(), "the new log file must be in place when ReopenContainerLog answers"
    assert h.wait_until(lambda: b"tick" in log.read_bytes(), 10)


def test_remove_image_in_use(cri, image):
    pod, ctr = run_busybox(cri, image)
    assert_rpc_error(lambda: cri.remove_image(image), grpc.StatusCode.FAILED_PRECONDITION, "in use")
    cri.remove_container(ctr)
    cri.remove_image(image)


def test_http_container_info(node, cri, image):
    d, _ = node
    pod, ctr = run_busybox(cri, image, labels={"k": "v"}, annotations={"a": "b"})
    r = d.http_get(f"/containers/{ctr}")
    assert r.status == 200
    info = r.json()
    assert info["sandbox"] == pod and info["labels"] == {"k": "v"} and info["annotations"] == {"a": "b"}
    assert info["pid"] > 0 and info["image"] == image
    assert d.http_get("/containers/" + "0" * 64).status == 404


def test_http_pause_and_unpause(node, cri, image):
    d, _ = node
    pod, ctr = run_busybox(cri, image)
    pid = cri.container_status(ctr, verbose=True).info["info"]
    assert '"pid"' in pid
    state = Path(f"/sys/fs/cgroup/freezer/crio-c/crio-{ctr}/freezer.state")
    assert d.http_get(f"/pause/{ctr}").status == 200
    if state.exists():  # cgroup v1 freezer, as on these hosts
        assert h.wait_until(lambda: state.read_text().strip() == "FROZEN", 5)
    # An exec would freeze with the container: it is refused at once instead.
    r = cri.exec_sync(ctr, ["true"], rpc_timeout=10)
    assert r.exit_code != 0 and b"paused" in r.stderr, r
    assert d.http_get(f"/pause/{ctr}").status == 409  # already paused: a conflict, not a server error
    assert d.http_get(f"/unpause/{ctr}").status == 200
    assert d.http_get(f"/unpause/{ctr}").status == 409
    assert sh(cri, ctr, "echo thawed") == "thawed\n"
    # HEAD must not act (nobody reads its answer); a NUL escaped into the path names no container.
    r = h.http_request(d.sock, "HEAD", f"/pause/{ctr}")
    assert r.status == 405 and r.headers.get("allow") == "GET"
    assert sh(cri, ctr, "echo still running") == "still running\n"
    assert d.http_get(f"/containers/{ctr}%00junk").status == 404
    assert d.http_get(f"/containers/{ctr[:12]}%41").status == 404
    assert d.http_get("/pause/" + "0" * 64).status == 404
    cri.stop_container(ctr)
    assert d.http_get(f"/pause/{ctr}").status == 409


def test_default_hostname_is_the_nodes_everywhere(cri, image):
    pod, ctr = run_busybox(cri, image)
    node_name = socket.gethostname()
    assert sh(cri, ctr, "hostname").strip() == node_name
    assert sh(cri, ctr, "cat /etc/hostname").strip() == node_name
    assert_rpc_error(lambda: cri.run_pod(hostname="h" * 65), grpc.StatusCode.INVALID_ARGUMENT, "hostname")
    assert_rpc_error(lambda: cri.run_pod(hostname="web\n10.0.0.1 evil"), grpc.StatusCode.INVALID_ARGUMENT, "hostname")


@pytest.mark.parametrize("dns,field", [
    ({"servers": ["10.0.0.10\nnameserver 6.6.6.6"]}, "dns_config.servers[0]"),
    ({"searches": ["svc.local", "a b"]}, "dns_config.searches[1]"),
    ({"options": ["ndots:5\rnameserver 6.6.6.6"]}, "dns_config.options[0]"),
    ({"options": [""]}, "dns_config.options[0]"),
    ({"servers": ["10.0.0.10", "dns.example"]}, "dns_config.servers[1]: 'dns.example' is not an IP address"),
    ({"servers": ["fe80::1%"]}, "dns_config.servers[0]"),
], ids=["server-newline", "search-blank", "option-return", "option-empty", "server-name", "server-empty-zone"])
def test_dns_config_cannot_add_lines_to_resolv_conf(node, cri, dns, field):
    d, _ = node
    assert_rpc_error(lambda: cri.run_pod(dns=dns), grpc.StatusCode.INVALID_ARGUMENT, field)
    assert cri.list_pods() == [] and not list((d.runroot / "pods").iterdir())


def target_pid_config(image, target):
    cfg = ph.container_config(image, command=["sh", "-c", "sleep 300"])
    ns = cfg.linux.security_context.namespace_options
    ns.pid, ns.target_id = h.pb().TARGET, target
    return cfg


def test_pid_namespace_of_a_target_container(cri, image):
    """PID mode TARGET (ephemeral debug containers): the target's PID namespace, and only a running
    target of the same pod."""
    pod, target = run_busybox(cri, image, script="exec sleep 301")
    joined = cri.create_container(pod, target_pid_config(image, target))
    cri.start_container(joined)
    assert "sleep 301" in sh(cri, joined, "ps -o args")
    other_pod = cri.run_pod(name="other")
    assert_rpc_error(lambda: cri.create_container(other_pod, target_pid_config(image, target)),
                     grpc.StatusCode.INVALID_ARGUMENT, "target_id")
    cri.stop_container(target)
    assert_rpc_error(lambda: cri.create_container(pod, target_pid_config(image, target)),
                     grpc.StatusCode.INVALID_ARGUMENT, "not running")
    assert_rpc_error(lambda: cri.create_container(pod, target_pid_config(image, "f" * 64)),
                     grpc.StatusCode.NOT_FOUND, "target_id")


def test_image_etc_files_that_are_not_regular_are_refused(node, cri, image_registry):
    """An image whose /etc/passwd is a FIFO would block the create that opens it for ever (the daemon's,
    then the runtime's when it sets the user up), each kubelet retry another stuck worker; one whose
    /etc/group is a device node would have it opened on the node. Refused at once, naming the file."""
    d, _ = node
    image = reg.ref(image_registry, "evil:etc-special")
    cri.pull_image(image)
    pod = cri.run_pod()
    assert_rpc_error(lambda: cri.create_container(pod, ph.container_config(image, run_as_user=0), timeout=20),
                     grpc.StatusCode.INVALID_ARGUMENT, "/etc/passwd is a FIFO")
    assert cri.list_containers() == [] and not list((d.runroot / "containers").iterdir())


def test_dns_servers_as_a_node_resolv_conf_may_name_them(cri, image):
    """The kubelet copies the node's nameservers for host-network and Default-policy pods: an IPv6
    link-local server names its interface."""
    pod, ctr = run_busybox(cri, image, cri.run_pod(dns={"servers": ["10.0.0.10", "fe80::1%eth0", "fd00::53"],
                                                         "options": ["ndots:5", "single-request-reopen"]}))
    conf = sh(cri, ctr, "cat /etc/resolv.conf")
    assert "nameserver fe80::1%eth0" in conf and "options ndots:5 single-request-reopen" in conf


@pytest.mark.parametrize("parent", ["/../../../../tmp/escape", "kubepods/../../escape", "/kubepods/a b",
                                    "/kubepods/./x"])
def test_cgroup_parent_cannot_leave_the_cgroup_tree(node, cri, parent, tmp_path):
    """linux.cgroup_parent becomes a directory under every cgroup mount: '..' would make the daemon create
    directories anywhere on the node (the monitor's cgroup is made next to the pod's)."""
    d, _ = node
    cfg = ph.pod_config()
    cfg.linux.cgroup_parent = parent
    assert_rpc_error(lambda: cri.run_pod(config=cfg), grpc.StatusCode.INVALID_ARGUMENT, "linux.cgroup_parent")
    assert not Path("/tmp/escape").exists() and not list((d.runroot / "pods").iterdir())


def test_run_as_group_needs_a_user(cri, image):
    pod = cri.run_pod()
    cfg = ph.container_config(image)
    cfg.linux.security_context.run_as_group.value = 10
    assert_rpc_error(lambda: cri.create_container(pod, cfg), grpc.StatusCode.INVALID_ARGUMENT, "run_as_group")


@pytest.mark.parametrize("path, ok", [("/tmp/profile.json", False), ("unconfined", True),
                                      ("runtime/default", True), ("bogus", False)])
def test_deprecated_seccomp_profile_path(cri, image, path, ok):
    pod = cri.run_pod()
    cfg = ph.container_config(image, command=["true"])
    cfg.linux.security_context.seccomp_profile_path = path
    if ok:
        assert cri.create_container(pod, cfg)
    else:
        assert_rpc_error(lambda: cri.create_container(pod, cfg), grpc.StatusCode.INVALID_ARGUMENT,
                         "seccomp_profile_path")


def test_mount_propagation_from_host(cri, image, tmp_path):
    """A HOST_TO_CONTAINER mount sees what the node mounts below it after the container started."""
    src = tmp_path / "shared"
    src.mkdir()
    subprocess.run(["mount", "--bind", str(src), str(src)], check=True)
    try:
        subprocess.run(["mount", "--make-shared", str(src)], check=True)
        pod = cri.run_pod()
        cfg = ph.container_config(image, command=["sleep", "300"])
        m = cfg.mounts.add()
        m.container_path, m.host_path = "/shared", str(src)
        m.propagation = h.pb().PROPAGATION_HOST_TO_CONTAINER
        ctr = cri.create_container(pod, cfg)
        cri.start_container(ctr)
        cri.wait_container_state(ctr, "CONTAINER_RUNNING")
        info = json.loads(cri.container_status(ctr, verbose=True).info["info"])
        assert info["runtimeSpec"]["linux"]["rootfsPropagation"] == "rslave"
        (src / "late").mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "late", str(src / "late")], check=True)
        subprocess.run(["touch", str(src / "late" / "seen")], check=True)
        assert h.wait_until(lambda: "seen" in sh(cri, ctr, "ls /shared/late"), 5)
        cri.remove_container(ctr)
    finally:
        subprocess.run(["umount", "-R", str(src)], check=False)


def test_container_stats(cri, image):
    pod, ctr = run_busybox(cri, image, labels={"role": "stats"},
                           script="dd if=/dev/zero of=/written bs=1M count=5 2>/dev/null; "
                                  "while true; do :; done")
    assert h.wait_until(lambda: sh(cri, ctr, "ls -l /written | awk '{print $5}'").strip() == str(5 << 20), 10)
    first = cri.call("ContainerStats", h.pb().ContainerStatsRequest(container_id=ctr),
                     h.pb().ContainerStatsResponse).stats
    assert first.attributes.id == ctr and dict(first.attributes.labels) == {"role": "stats"}
    assert first.cpu.usage_core_nano_seconds.value > 0
    assert first.memory.working_set_bytes.value > 0 and first.memory.usage_bytes.value > 0
    assert first.writable_layer.used_bytes.value >= 5 << 20 and first.writable_layer.inodes_used.value >= 1
    time.sleep(0.5)  # the busy loop burns CPU between the two samples
    second = cri.call("ContainerStats", h.pb().ContainerStatsRequest(container_id=ctr),
                      h.pb().ContainerStatsResponse).stats
    assert second.cpu.usage_core_nano_seconds.value > first.cpu.usage_core_nano_seconds.value
    assert second.cpu.usage_nano_cores.value > 0
    other_pod, other = run_busybox(cri, image)
    req = h.pb().ListContainerStatsRequest()
    assert {s.attributes.id for s in cri.call("ListContainerStats", req, h.pb().ListContainerStatsResponse).stats} \
        == {ctr, other}
    req.filter.label_selector["role"] = "stats"
    assert [s.attributes.id for s in cri.call("ListContainerStats", req, h.pb().ListContainerStatsResponse).stats] \
        == [ctr]
    req = h.pb().ListContainerStatsRequest()
    req.filter.pod_sandbox_id = other_pod
    assert [s.attributes.id for s in cri.call("ListContainerStats", req, h.pb().ListContainerStatsResponse).stats] \
        == [other]
    assert_rpc_error(lambda: cri.call("ContainerStats", h.pb().ContainerStatsRequest(container_id="nope"),
                                      h.pb().ContainerStatsResponse), grpc.StatusCode.NOT_FOUND, "nope")


USERNS = [(0, 200000, 65536)]


def host_ids(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return [v for line in status.splitlines() if line.startswith(("Uid:", "Gid:")) for v in line.split()[1:]]


def searchable_by_all(path):
    """Let a pod's mapped root reach the daemon's directories: pytest makes its base directory 0700."""
    for p in [path, *path.parents]:
        p.chmod(p.stat().st_mode | 0o111)


def test_user_namespace_pod(node, cri, image):
    d, _ = node
    searchable_by_all(d.runroot)
    pod = cri.run_pod(userns=USERNS, hostname="inside", sysctls={"net.ipv4.ip_unprivileged_port_start": "80"})
    u = cri.pod_status(pod).status.linux.namespaces.options.userns_options
    assert u.mode == h.pb().POD
    assert [(m.container_id, m.host_id, m.length) for m in list(u.uids) + list(u.gids)] == USERNS * 2
    _, ctr = run_busybox(cri, image, pod)
    assert sh(cri, ctr, "cat /proc/self/uid_map /proc/self/gid_map").split() == ["0", "200000", "65536"] * 2
    # The pod's root alone (with the node's) enters the pod's and the container's directories.
    for private in (d.runroot / "pods" / pod, d.runroot / "containers" / ctr):
        st = private.stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (200000, 200000, 0o700), private
    # Root in the pod is an unprivileged ID on the node.
    assert host_ids(d.http_get(f"/containers/{ctr}").json()["pid"]) == ["200000"] * 8
    # The image's files keep the owners it gave them (the layers are mounted idmapped) ...
    assert sh(cri, ctr, "id -u; stat -c %u:%g / /bin/busybox /etc/passwd").split() == ["0"] + ["0:0"] * 3
    # ... and what the container writes is its own, stored under the mapped IDs on the node.
    assert sh(cri, ctr, "echo hi > /made && chown 1000:1000 /made && stat -c %u:%g /made") == "1000:1000\n"
    made = list(d.workdir.rglob("upper/made"))
    assert len(made) == 1 and (made[0].stat().st_uid, made[0].stat().st_gid) == (201000, 201000)
    assert sh(cri, ctr, "hostname; cat /proc/sys/net/ipv4/ip_unprivileged_port_start") == "inside\n80\n"
    # A second container joins the same namespace.
    _, second = run_busybox(cri, image, pod, run_as_user=1000)
    assert sh(cri, second, "id -u; cat /proc/self/uid_map").split() == ["1000", "0", "200000", "65536"]
    cri.stop_pod(pod)
    cri.remove_pod(pod)
    assert_node_clean(d)


def as_nobody(*argv):
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", *map(str, argv)],
                          capture_output=True, text=True, timeout=10)


def test_node_users_cannot_enter_pod_or_container_dirs(node, cri, image):
    """A container's root filesystem holds the image's setuid programs and device nodes, and the pod's
    directory its /dev/shm: a user of the node who learns the IDs (they are in /proc/self/mountinfo) must
    not reach them, even where the run root itself is open to all."""
    d, _ = node
    searchable_by_all(d.runroot)
    pod, ctr = run_busybox(cri, image)
    bundle, pod_dir = d.runroot / "containers" / ctr, d.runroot / "pods" / pod
    for path in (bundle / "rootfs" / "bin" / "busybox", pod_dir / "shm", pod_dir / "hostname"):
        r = as_nobody("stat", path)
        assert r.returncode != 0 and "Permission denied" in r.stderr, (path, r.stdout)
    assert as_nobody("stat", bundle.parent).returncode == 0  # the way itself is open
    assert {oct(p.stat().st_mode & 0o777) for p in (bundle, pod_dir, d.root / "containers" / ctr)} == {"0o700"}


def test_user_namespace_pod_from_a_daemon_started_under_umask_077(image_daemon, image_registry,
                                                                  tmp_path_factory):
    wd = tmp_path_factory.mktemp("node")
    d = image_daemon(config=ph.runtime_conf(wd), start=False)
    d.node_dir = wd
    argv = d.argv()
    d.argv = lambda: ["sh", "-c", 'umask 077; exec "$0" "$@"', *argv]
    d.start()
    cri = d.client(timeout=60)
    try:
        image = ph.busybox(image_registry)
        cri.pull_image(image)
        searchable_by_all(d.runroot)
        pod = cri.run_pod(userns=USERNS)
        _, ctr = run_busybox(cri, image, pod)
        assert sh(cri, ctr, "id -u") == "0\n"
        cri.remove_pod(pod)
        assert_node_clean(d)
    finally:
        ph.remove_everything(d, cri)


def test_user_namespace_needs_a_reachable_run_root(node, cri):
    d, _ = node
    searchable_by_all(d.runroot)
    mode = d.runroot.stat().st_mode
    d.runroot.chmod(0o700)
    try:
        assert_rpc_error(lambda: cri.run_pod(userns=USERNS), grpc.StatusCode.FAILED_PRECONDITION,
                         f"{d.runroot} (mode 0700) is not searchable")
    finally:
        d.runroot.chmod(mode)
    assert_node_clean(d)


@pytest.mark.parametrize("change,fragment", [
    (lambda u: u.ClearField("uids"), "uids: a pod user namespace needs mappings"),
    (lambda u: u.gids.add(container_id=70000, host_id=300000, length=0), "gids[1]"),
    (lambda u: u.uids.add(container_id=1000, host_id=300000, length=10), "uids[1]: container IDs overlap"),
    (lambda u: u.uids.add(container_id=4294967000, host_id=0, length=1000), "uids[1]"),
    (lambda u: setattr(u, "mode", h.pb().CONTAINER), "userns_options.mode"),
], ids=["no-mappings", "zero-length", "overlap", "overflow", "container-mode"])
def test_user_namespace_mappings_are_checked(node, cri, change, fragment):
    cfg = ph.pod_config(userns=USERNS)
    change(cfg.linux.security_context.namespace_options.userns_options)
    assert_rpc_error(lambda: cri.run_pod(cfg), grpc.StatusCode.INVALID_ARGUMENT, fragment)
    assert_node_clean(node[0])


def test_privileged_container_sees_host_devices(cri, image):
    _, ctr = run_busybox(cri, image, cri.run_pod(privileged=True), privileged=True)
    pod = cri.run_pod()
    assert_rpc_error(lambda: cri.create_container(pod, ph.container_config(image, privileged=True)),
                     grpc.StatusCode.INVALID_ARGUMENT, "is not privileged")
    assert "CapEff:\t0000000000000000" not in sh(cri, ctr, "cat /proc/self/status")
    host_devices = {d for d in os.listdir("/dev") if os.path.exists(f"/dev/{d}") and
                    (stat_is_device(f"/dev/{d}"))} - {"console"}
    inside = set(sh(cri, ctr, "ls /dev").split())
    assert host_devices <= inside, host_devices - inside
    _, plain = run_busybox(cri, image, pod)
    assert "loop-control" not in sh(cri, plain, "ls /dev")


def stat_is_device(path):
    import stat
    mode = os.lstat(path).st_mode
    return stat.S_ISCHR(mode) or stat.S_ISBLK(mode)


@pytest.mark.parametrize("mapping,field", [
    ((70000, 80), "host_port"),
    ((8080, 0), "container_port"),
    ((8080, 80, "TCP", "not-an-ip"), "host_ip"),
    ((8080, 80, "TCP", "1" * 100000), "host_ip"),
])
def test_bad_port_mapping_is_invalid_argument(cri, mapping, field):
    with pytest.raises(grpc.RpcError) as e:
        cri.run_pod(ports=[mapping])
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value
    assert f"port_mappings[0].{field}" in e.value.details()
    assert cri.list_pods() == []
