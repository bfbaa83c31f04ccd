# SPDX-License-Identifier: Apache-2.0
"""The HTTP API's observability pages: /containers/ID for sandboxes too (CRI-O's fields, read by
cAdvisor), `crio status containers --id`, and the C daemon's /debug/goroutines and /debug/heap."""

import json
import os
import threading

import pytest

import crio_helpers as h
import pod_helpers as ph


@pytest.fixture
def node(image_daemon, tmp_path_factory, image_registry):
    wd = tmp_path_factory.mktemp("node")
    d = image_daemon(config=ph.runtime_conf(wd))
    c = d.client(timeout=60)
    ref = ph.busybox(image_registry)
    c.pull_image(ref)
    yield d, c, ref
    for ctr in c.list_containers():
        c.remove_container(ctr.id)
    for pod in c.list_pods():
        c.remove_pod(pod.id)
    c.close()


def start(cri, image, pod, command):
    ctr = cri.create_container(pod, ph.container_config(image, command=command))
    cri.start_container(ctr)
    cri.wait_container_state(ctr, "CONTAINER_RUNNING")
    return ctr


def test_sandbox_id_answers_like_an_infra_container(node):
    d, cri, image = node
    pod = cri.run_pod(name="web", namespace="shop", labels={"app": "web"}, annotations={"a": "b"})
    ctr = start(cri, image, pod, ["sleep", "300"])
    info = d.http_get(f"/containers/{pod}").json()
    md = cri.pod_status(pod).status.metadata
    assert info["name"] == f"k8s_POD_web_shop_{md.uid}_0"
    assert info["sandbox"] == pod and info["labels"] == {"app": "web"} and info["annotations"] == {"a": "b"}
    assert info["pid"] == d.http_get(f"/containers/{ctr}").json()["pid"] > 0
    assert info["host_network"] is False
    assert d.http_get(f"/containers/{ctr}").json()["host_network"] is False
    host = cri.run_pod(network="NODE")
    assert d.http_get(f"/containers/{host}").json()["host_network"] is True
    assert d.http_get(f"/containers/{host}").json()["pid"] == 0  # nothing runs in it
    r = h.run_crio("status", "--socket", d.sock, "containers", "--id", pod, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["sandbox"] == pod
    r = h.run_crio("status", "--socket", d.sock, "containers", "--id", ctr)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert f"sandbox: {pod}" in lines and f"image: {image}" in lines and "host network: false" in lines


def test_sandbox_with_an_infra_process_answers_its_pid(node):
    d, cri, image = node
    pod = cri.run_pod(pid="POD")  # one PID namespace for the pod: held by crio-pause
    ctr = start(cri, image, pod, ["sleep", "300"])
    pid = d.http_get(f"/containers/{pod}").json()["pid"]
    assert pid > 0 and pid != d.http_get(f"/containers/{ctr}").json()["pid"]
    assert open(f"/proc/{pid}/comm").read() == "pause\n"  # crio-pause, run as /pause in its rootfs
    cri.stop_pod(pod)
    assert d.http_get(f"/containers/{pod}").json()["pid"] == 0


def test_goroutines_name_the_threads_and_the_rpc_they_serve(node):
    d, cri, image = node
    ctr = start(cri, image, cri.run_pod(), ["sleep", "300"])

    def threads():
        return d.http_get("/debug/goroutines").text

    # A worker takes its idle name back just after its answer is on its way: polled, not read once.
    assert "[grpc server]" in threads()
    assert h.wait_until(lambda: "[worker idle]" in threads(), 5), threads()
    busy = threading.Thread(target=cri.exec_sync, args=(ctr, ["sleep", "3"]))
    busy.start()
    try:
        assert h.wait_until(lambda: "[rpc ExecSync]: sleeping" in threads(), 10)
    finally:
        busy.join()
    assert h.wait_until(lambda: "[rpc ExecSync]" not in threads(), 5), threads()


def test_heap_shows_the_allocator_statistics(node):
    d, _, _ = node
    r = d.http_get("/debug/heap")
    assert r.status == 200
    fields = dict(line.split(" ", 1) for line in r.text.split("\n\n")[0].splitlines())
    assert set(fields) >= {"arena_bytes", "in_use_bytes", "free_bytes", "mmapped_bytes"}
    if not os.environ.get("CRIO_SANITIZED"):  # ASan's allocator is not glibc's: its statistics read 0
        assert int(fields["in_use_bytes"]) > 0
    assert "<malloc version=" in r.text
