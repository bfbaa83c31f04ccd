# SPDX-License-Identifier: Apache-2.0
"""Pods and containers: the lifecycle a kubelet drives, on real runc and conmon, with nothing left behind."""

import grpc
import pytest

import crio_helpers as h
import pod_helpers as ph


@pytest.fixture
def node(image_daemon, tmp_path_factory):
    """A daemon whose pod directories live in its workdir, with busybox pulled."""
    wd = tmp_path_factory.mktemp("node")
    d = image_daemon(config=ph.runtime_conf(wd))
    d.node_dir = wd
    c = d.client(timeout=60)
    yield d, c
    for ctr in c.list_containers():
        c.remove_container(ctr.id)
    for pod in c.list_pods():
        c.remove_pod(pod.id)
    c.close()


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
