# SPDX-License-Identifier: Apache-2.0
"""Regressions found in review: mirror fallback after a layer failure, untagging by short name, a pull
racing a removal of an image that shares its layers, and tag@digest names."""
import signal
import socket
import threading
import time

import grpc
import pytest

import registry as reg
from registry import insecure, ref, registries_conf


def test_mirror_layer_failure_falls_back(image_daemon, image_registry, test_images):
    bad = reg.FakeRegistry(test_images)
    bad.corrupt = "layers"
    bad.start()
    try:
        mirror = dict(location=bad.host, insecure=True)
        d = image_daemon(registries_conf(registries=[insecure(image_registry.host, mirrors=[mirror])]))
        with d.client() as c:
            try:
                assert c.pull_image(ref(image_registry, "busybox:latest"), timeout=60) == \
                    test_images["busybox:latest"]["id"]
            except grpc.RpcError as e:
                pytest.fail(f"no fallback to location after mirror layer failure: {e.code()} {e.details()}")
    finally:
        bad.stop()


def test_rmi_short_name_removes_only_that_tag(image_daemon, image_registry, test_images):
    fake = reg.FakeRegistry(test_images, repos=[])
    fake.add_repo("busybox", as_repo="library/busybox")
    fake.manifests[("library/busybox", "v1")] = fake.manifests[("library/busybox", "latest")]
    fake.start()
    try:
        conf = registries_conf(unqualified=["docker.io"],
                               registries=[dict(location="docker.io", mirrors=[dict(location=fake.host, insecure=True)])])
        d = image_daemon(conf)
        with d.client() as c:
            a = c.pull_image("docker.io/library/busybox:latest", timeout=60)
            b = c.pull_image("docker.io/library/busybox:v1", timeout=60)
            assert a == b
            c.remove_image("busybox:v1")
            img = c.image(a)
            assert img is not None, "rmi busybox:v1 removed the whole image (busybox:latest too)"
    finally:
        fake.stop()


def test_pull_vs_remove_shared_layer(image_daemon, image_registry, test_images):
    fake = reg.FakeRegistry(test_images)
    lay = test_images["layered:latest"]
    base = test_images["busybox:latest"]["layers"][0]
    new = [l for l in lay["layers"] if l != base]
    fake.stall = new[-1].split(":")[1]
    fake.start()
    try:
        d = image_daemon(registries_conf(registries=[insecure(fake.host)]))
        with d.client() as c:
            c.pull_image(ref(fake, "busybox:latest"), timeout=60)
        res = {}
        def pull():
            with d.client() as c2:
                try:
                    res["id"] = c2.pull_image(ref(fake, "layered:latest"), timeout=60)
                except grpc.RpcError as e:
                    res["err"] = (e.code(), e.details())
        t = threading.Thread(target=pull); t.start()
        assert fake.stalled.wait(20)
        with d.client() as c:
            c.remove_image(ref(fake, "busybox:latest"))
        fake.release()
        t.join(60)
        assert "id" in res, f"pull failed after concurrent remove of an image sharing its layer: {res}"
    finally:
        fake.stop()


def test_status_tag_and_digest(image_daemon, image_registry, test_images):
    d = image_daemon()
    e = test_images["busybox:latest"]
    name = ref(image_registry, "busybox:latest") + "@" + e["digest"]
    with d.client() as c:
        got = c.pull_image(name, timeout=60)
        assert got == e["id"]
        st = c.image_status(name)
        assert st.HasField("image"), "ImageStatus(tag@digest) empty right after PullImage(tag@digest)"


def test_sigterm_during_a_stuck_pull_exits_cleanly(make_daemon):
    """A registry that accepts connections and never answers: SIGTERM must still end in exit 0 (the
    pull is cancelled after the grace period), not in an abort inside gRPC."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held = []
    threading.Thread(target=lambda: [held.append(srv.accept()[0]) for _ in iter(int, 1)], daemon=True).start()
    d = make_daemon().start()
    errors = []

    def pull():
        try:
            with d.client() as c:
                c.pull_image(f"127.0.0.1:{srv.getsockname()[1]}/stuck:latest", timeout=60)
        except grpc.RpcError as e:
            errors.append(e)

    t = threading.Thread(target=pull, daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:
        time.sleep(0.05)
    assert held, "the daemon never connected to the registry"
    assert d.stop(signal.SIGTERM, timeout=30) == 0, d.log_tail()
    t.join(10)
    assert errors and errors[0].code() != grpc.StatusCode.OK
    srv.close()
