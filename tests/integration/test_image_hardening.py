# SPDX-License-Identifier: Apache-2.0
"""Issue 9, images hardened: leftovers and schema versions, deep trees, redirects and policy files,
one registry client per pull, bounded inflation, stalled and flaky transfers. Each test failed on the
code before its fix."""

import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path

import grpc
import pytest

import crio_helpers as h
import registry as reg
from registry import insecure, ref, registries_conf

images = reg.images


def fake_daemon(image_daemon, fake, **kw):
    return image_daemon(registries_conf(registries=[insecure(fake.host)]), **kw)


def blob_files(d):
    return sorted(p.name for p in (d.root / "blobs" / "sha256").iterdir())


def small_image(fake, tmp_path, repo="small", tag="latest", files=1):
    tars = [images.Layer().file(f"f{i}", f"{repo} {i}\n".encode()).tarball() for i in range(files)]
    return fake.add_image(repo, tag, tars, tmp_path)


# ---------------------------------------------------------------------------------------------------------
# 5. Leftovers and schema version


def test_config_through_a_second_manifest_writes_no_blob(image_daemon, fake_registry, tmp_path):
    manifest_digest, _, image_id = small_image(fake_registry, tmp_path)
    mt, body = fake_registry.manifests[("small", "latest")]
    other = json.loads(body)
    other["annotations"] = {"second": "manifest"}
    fake_registry.add_manifest("small", "annotated", images.canonical_json(other), mt)
    d = fake_daemon(image_daemon, fake_registry)
    with d.client() as c:
        assert c.pull_image(ref(fake_registry, "small:latest")) == image_id
        assert c.pull_image(ref(fake_registry, "small:annotated")) == image_id
        c.remove_image(image_id)
    assert blob_files(d) == [], "a manifest blob outlived every image"


def test_crash_leftover_blobs_removed_at_start(image_daemon, fake_registry, tmp_path):
    manifest_digest, _, image_id = small_image(fake_registry, tmp_path)
    d = fake_daemon(image_daemon, fake_registry)
    with d.client() as c:
        c.pull_image(ref(fake_registry, "small:latest"))
    kept = blob_files(d)
    assert kept == sorted([image_id, manifest_digest[7:]])
    d.kill()
    blobs = d.root / "blobs" / "sha256"
    (blobs / f"{image_id}.tmp-Xy12Ab").write_bytes(b"half a blob")
    (blobs / ("ab" * 32)).write_bytes(b"{}")
    d.start()
    with d.client() as c:
        assert c.image(image_id) is not None
    assert blob_files(d) == kept


def test_store_has_a_schema_version(image_daemon, fake_registry):
    d = fake_daemon(image_daemon, fake_registry)
    with d.client() as c:  # the socket accepts before the store is open; an answer means it is
        c.version()
    d.kill()
    with sqlite3.connect(d.root / "crio-c.db") as db:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        assert version >= 1
        db.execute(f"PRAGMA user_version = {version + 100}")
    d.start(wait_ready=False)
    assert d.proc.wait(10) != 0, "a store from a newer crio-c was opened"
    assert "newer" in d.log, d.log_tail()


# ---------------------------------------------------------------------------------------------------------
# 6. Robustness


def limited_binary(tmp_path, soft, hard):
    """A wrapper that starts the daemon under RLIMIT_NOFILE soft/hard."""
    w = tmp_path / "crio-limited"
    w.write_text(f"#!/bin/sh\nulimit -Sn {soft} && ulimit -Hn {hard} && exec {reg_binary()} \"$@\"\n")
    w.chmod(0o755)
    return w


def reg_binary():
    return os.environ["CRIO_BINARY"]


def soft_fd_limit(pid):
    for line in open(f"/proc/{pid}/limits"):
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open file limit in /proc/pid/limits")


def test_deep_tree_removed_and_fd_limit_raised(image_daemon, fake_registry, tmp_path):
    depth = 2000
    layer = images.Layer()
    path = ""
    for _ in range(depth):
        path += "d/"
        layer.dir(path.rstrip("/"))
    layer.file(path + "leaf", b"bottom\n")
    _, _, image_id = fake_registry.add_image("deep", "latest", [layer.tarball()], tmp_path)
    d = fake_daemon(image_daemon, fake_registry, start=False)
    d.binary = limited_binary(tmp_path, 256, 1024)
    d.start()
    assert soft_fd_limit(d.pid) == 1024, "the soft open file limit was not raised to the hard limit"
    # About 0.2 s on a quiet machine; this test is about what is removed, so a loaded one gets time.
    with d.client(timeout=60) as c:
        assert c.pull_image(ref(fake_registry, "deep:latest"), timeout=60) == image_id
        assert len(d.layer_dirs()) == 1
        c.remove_image(image_id)
        assert c.image(image_id) is None
    assert d.layer_dirs() == [], "the deep layer was left on disk"
    assert list((d.root / "tmp").iterdir()) == []


@pytest.mark.parametrize("insecure", [False, True], ids=["secure", "insecure"])
def test_https_registry_redirect_to_plain_http(image_daemon, test_images, test_pki, insecure):
    """A blob redirect from an https registry to http is a downgrade: only an insecure registry may."""
    plain = reg.FakeRegistry(test_images).start()
    secure = reg.FakeRegistry(test_images, tls=(test_pki.server_cert, test_pki.server_key)).start()
    secure.redirect_blobs = f"http://{plain.host}"
    try:
        with reg.certs_d(secure.host, ca=test_pki.ca_cert):
            d = image_daemon(registries_conf(registries=[dict(location=secure.host, insecure=insecure)]))
            with d.client() as c:
                name = ref(secure, "busybox:latest")
                if insecure:
                    assert c.pull_image(name, timeout=30) == test_images["busybox:latest"]["id"]
                    assert plain.blob_gets(), "the redirect was not followed"
                    return
                err = h.rpc_error(c.pull_image, name, timeout=30)
                assert err.code() == grpc.StatusCode.PERMISSION_DENIED, err
                assert "insecure" in err.details(), err.details()
                assert not plain.blob_gets(), "a blob was fetched over plain http"
                assert c.list_images() == []
    finally:
        secure.stop()
        plain.stop()


def without_etc_containers(tmp_path):
    """A wrapper that runs the daemon in a mount namespace where /etc/containers is empty."""
    w = tmp_path / "crio-no-policy"
    w.write_text("#!/bin/sh\nexec unshare -m sh -c 'mount -t tmpfs tmpfs /etc/containers && exec \"$0\" \"$@\"' "
                 f"{reg_binary()} \"$@\"\n")
    w.chmod(0o755)
    return w


def test_missing_default_policy_is_an_error(image_daemon, fake_registry, tmp_path):
    small_image(fake_registry, tmp_path)
    d = image_daemon(registries_conf(registries=[insecure(fake_registry.host)]),
                     args=["--signature-policy", ""], start=False)
    d.binary = without_etc_containers(tmp_path)
    d.start()
    with d.client() as c:
        err = h.rpc_error(c.pull_image, ref(fake_registry, "small:latest"), timeout=30)
        assert "/etc/containers/policy.json" in err.details(), err.details()
        assert c.list_images() == []


def test_make_install_policy_only_where_none_exists(tmp_path):
    repo = Path(__file__).resolve().parents[2]
    run = subprocess.run(["make", "-s", "-C", str(repo), "install-policy", f"DESTDIR={tmp_path}"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    installed = tmp_path / "etc/containers/policy.json"
    assert json.loads(installed.read_text())["default"] == [{"type": "insecureAcceptAnything"}]
    installed.write_text('{"default": [{"type": "reject"}]}')
    run = subprocess.run(["make", "-s", "-C", str(repo), "install-policy", f"DESTDIR={tmp_path}"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "reject" in installed.read_text(), "an existing policy was replaced"


# ---------------------------------------------------------------------------------------------------------
# 7. One registry client per source per pull


@pytest.mark.parametrize("via", ["auth_config", "auth_file"])
def test_one_token_round_trip_per_pull(image_daemon, token_registry, test_images, via):
    """The layer threads share the pull's client: one credentials lookup and one token, not one per layer."""
    creds = ("user", "s3cret-crio-test")
    auth_file = reg.auth_json({token_registry.host: creds}) if via == "auth_file" else None
    d = image_daemon(registries_conf(registries=[insecure(token_registry.host)]), auth_file=auth_file)
    entry = test_images["layered:latest"]
    assert len(entry["layers"]) >= 3
    n = len(token_registry.tokens.log)
    auth = h.auth_config(username=creds[0], password=creds[1]) if via == "auth_config" else None
    with d.client() as c:
        assert c.pull_image(ref(token_registry, "layered:latest"), auth=auth, timeout=60) == entry["id"]
    issued = [r for r in token_registry.tokens.log[n:] if r["status"] == 200]
    assert len(issued) == 1, f"{len(issued)} tokens fetched for one pull of {len(entry['layers'])} layers"


# ---------------------------------------------------------------------------------------------------------
# 2. Bounded inflation


def add_blob_image(fake, repo, tag, blob, diff_id, workdir, media_type=images.MT_OCI_LAYER_GZIP):
    """Serve an image of one layer given as its (compressed) blob and the diff_id of its tar stream."""
    workdir = Path(workdir)
    digest = images.sha256_digest(blob)
    (workdir / digest[7:]).write_bytes(blob)
    fake.add_blob(repo, digest, workdir / digest[7:])
    config = images.canonical_json({"architecture": images.go_arch(), "os": "linux", "config": {},
                                    "rootfs": {"type": "layers", "diff_ids": [diff_id]}})
    cdigest = images.sha256_digest(config)
    (workdir / cdigest[7:]).write_bytes(config)
    fake.add_blob(repo, cdigest, workdir / cdigest[7:])
    manifest = images.canonical_json({
        "schemaVersion": 2, "mediaType": images.MT_OCI_MANIFEST,
        "config": {"mediaType": images.MT_OCI_CONFIG, "digest": cdigest, "size": len(config)},
        "layers": [{"mediaType": media_type, "digest": digest, "size": len(blob)}]})
    fake.add_manifest(repo, tag, manifest, images.MT_OCI_MANIFEST)
    return cdigest[7:]


def zero_bomb(size):
    """A valid gzip layer: one file of `size` zero bytes, as concatenated gzip members of 16 MiB of zeros
    (about 1,000:1 each). Returns (blob, diff_id)."""
    import gzip
    import hashlib
    import tarfile
    header = tarfile.TarInfo("zeros")
    header.size = size
    header.mtime = 0
    head = header.tobuf(format=tarfile.GNU_FORMAT)
    chunk = 16 << 20
    zeros = bytes(chunk)
    zeros_gz = gzip.compress(zeros, compresslevel=9, mtime=0)
    tail = size + 1024 - (size + 1024) // chunk * chunk  # data, then the end-of-archive blocks
    h = hashlib.sha256(head)
    for _ in range((size + 1024) // chunk):
        h.update(zeros)
    h.update(bytes(tail))
    blob = gzip.compress(head, mtime=0) + zeros_gz * ((size + 1024) // chunk) + gzip.compress(bytes(tail), mtime=0)
    return blob, "sha256:" + h.hexdigest()


def assert_pull_refused(d, fake, name, key, code=grpc.StatusCode.RESOURCE_EXHAUSTED):
    with d.client() as c:
        before = d.store_snapshot(c)
        err = h.rpc_error(c.pull_image, ref(fake, name), timeout=60)
        assert err.code() == code, f"{err.code().name}: {err.details()}"
        assert key in err.details(), err.details()
        reg.wait_nothing_left(d, c, before)


def test_small_layer_inflating_to_2_gib_is_refused(image_daemon, fake_registry, tmp_path):
    """Neither CRI-O nor containerd refuses a 2 MiB layer that inflates to 2 GiB; the defaults do."""
    blob, diff_id = zero_bomb(2 << 30)
    assert len(blob) < 3 << 20
    add_blob_image(fake_registry, "bomb", "latest", blob, diff_id, tmp_path)
    d = fake_daemon(image_daemon, fake_registry)
    assert_pull_refused(d, fake_registry, "bomb:latest", "max_layer_inflation_ratio")
    assert d.layer_dirs() == []


def test_layer_with_too_many_entries_is_refused(image_daemon, fake_registry, tmp_path):
    layer = images.Layer()
    for i in range(60):
        layer.file(f"f{i}", b"x")
    fake_registry.add_image("many-files", "latest", [layer.tarball()], tmp_path)
    d = fake_daemon(image_daemon, fake_registry, config="[crio.image]\nmax_layer_entries = 50\n")
    assert_pull_refused(d, fake_registry, "many-files:latest", "max_layer_entries")


def test_pull_refused_when_the_store_would_run_short_of_space(image_daemon, fake_registry, tmp_path):
    small_image(fake_registry, tmp_path)
    d = fake_daemon(image_daemon, fake_registry, config=f"[crio.image]\nmin_free_space = {1 << 60}\n")
    assert_pull_refused(d, fake_registry, "small:latest", "min_free_space")


LIMIT_KEYS = ("max_layer_size", "max_layer_inflation_ratio", "max_layer_entries", "min_free_space")


def test_inflation_limits_are_documented(crio_binary):
    """docs/images.md names every limit key with its default, as `crio config --default` prints it."""
    import tomllib
    out = subprocess.run([str(crio_binary), "config", "--default"], capture_output=True, text=True, check=True)
    image = tomllib.loads(out.stdout)["crio"]["image"]
    doc = (Path(__file__).resolve().parents[2] / "docs" / "images.md").read_text()
    for key in LIMIT_KEYS:
        assert f"`{key}` (default {image[key]}" in doc, \
            f"docs/images.md does not give {key} with its default {image[key]}"


# ---------------------------------------------------------------------------------------------------------
# 1. A stalled pull never blocks another


def two_registries(image_daemon, fake, image_registry, config=""):
    return image_daemon(registries_conf(registries=[insecure(fake.host), insecure(image_registry.host)]),
                        config=config)


def test_stalled_layer_does_not_hold_up_a_pull_sharing_the_base(image_daemon, image_registry, test_images):
    """layered:latest stalls in its last layer; busybox, from a healthy registry, shares its base layer."""
    lay, busybox = test_images["layered:latest"], test_images["busybox:latest"]
    assert busybox["layers"][0] in lay["layers"]
    fake = reg.FakeRegistry(test_images)
    fake.stall = lay["layers"][-1].split(":")[1]
    fake.start()
    try:
        d = two_registries(image_daemon, fake, image_registry)
        with d.client() as c:
            stuck = c.pull_image_future(ref(fake, "layered:latest"), timeout=60)
            assert fake.stalled.wait(20)
            assert c.pull_image(ref(image_registry, "busybox:latest"), timeout=15) == busybox["id"]
            fake.release()
            assert stuck.result().image_ref == lay["id"]
    finally:
        fake.stop()


def test_eight_pulls_sharing_a_stalled_pulls_base_leave_the_pool_free(image_daemon, image_registry, test_images):
    """Eight pulls as many as the pull pool has threads, all sharing the base of a stalled pull, then an
    unrelated pull: none of them waits for the stalled one."""
    lay, busybox, other = test_images["layered:latest"], test_images["busybox:latest"], test_images["user:numeric"]
    fake = reg.FakeRegistry(test_images)
    fake.stall = lay["layers"][-1].split(":")[1]
    fake.start()
    try:
        d = two_registries(image_daemon, fake, image_registry)
        with d.client() as c:
            stuck = c.pull_image_future(ref(fake, "layered:latest"), timeout=60)
            assert fake.stalled.wait(20)
            sharing = [c.pull_image_future(ref(image_registry, "busybox:latest"), timeout=20) for _ in range(8)]
            assert c.pull_image(ref(image_registry, "user:numeric"), timeout=20) == other["id"]
            assert {f.result().image_ref for f in sharing} == {busybox["id"]}
            fake.release()
            assert stuck.result().image_ref == lay["id"]
    finally:
        fake.stop()


def test_pull_of_a_layer_another_pull_is_stuck_on_finishes(image_daemon, image_registry, test_images):
    """The base layer itself stalls in one pull: a pull of it from elsewhere takes over and the stuck pull
    ends at the stall limit instead of hanging."""
    busybox = test_images["busybox:latest"]
    fake = reg.FakeRegistry(test_images)
    fake.stall = busybox["layers"][0].split(":")[1]
    fake.start()
    try:
        d = two_registries(image_daemon, fake, image_registry, config='[crio.image]\npull_stall_timeout = "3s"\n')
        with d.client() as c:
            stuck = c.pull_image_future(ref(fake, "busybox:latest"), timeout=60)
            assert fake.stalled.wait(20)
            t0 = time.monotonic()
            assert c.pull_image(ref(image_registry, "busybox:latest"), timeout=30) == busybox["id"]
            assert time.monotonic() - t0 < 15
            with pytest.raises(grpc.RpcError) as e:
                stuck.result()
            assert e.value.code() != grpc.StatusCode.DEADLINE_EXCEEDED or "no data" in e.value.details(), \
                e.value.details()
    finally:
        fake.stop()


def config_gets(fake, image):
    """How many pulls of the image got as far as its config (fetched just before the layers)."""
    return len(fake.blob_gets(digest="sha256:" + image["id"]))


def test_pulls_parked_on_a_stalled_layer_leave_the_pool_free(image_daemon, test_images, tmp_path):
    """A pull stalls in busybox's one layer; eight more pulls of busybox (as many as the pull pool has
    threads) need that layer and park on it. A pull of an unrelated image still runs, and the parked
    pulls finish once the stalled layer does."""
    busybox = test_images["busybox:latest"]
    assert len(busybox["layers"]) == 1
    fake = reg.FakeRegistry(test_images)
    fake.stall = busybox["layers"][0].split(":")[1]
    _, _, other_id = small_image(fake, tmp_path, repo="unrelated")
    fake.start()
    try:
        d = fake_daemon(image_daemon, fake)
        with d.client() as c:
            stuck = c.pull_image_future(ref(fake, "busybox:latest"), timeout=120)
            assert fake.stalled.wait(20)
            parked = [c.pull_image_future(ref(fake, "busybox:latest"), timeout=120) for _ in range(8)]
            h.wait_until(lambda: config_gets(fake, busybox) >= 9, 15)
            assert c.pull_image(ref(fake, "unrelated:latest"), timeout=20) == other_id
            assert not stuck.done() and not any(f.done() for f in parked), "a pull ended before its layer"
            fake.release()
            assert stuck.result().image_ref == busybox["id"]
            assert {f.result().image_ref for f in parked} == {busybox["id"]}
    finally:
        fake.stop()


def test_parked_pull_ends_at_its_deadline(image_daemon, test_images, tmp_path):
    """A pull parked on another pull's stalled layer ends with DEADLINE_EXCEEDED at its client's deadline,
    a parked pull whose client leaves is dropped, and the stalled pull still completes afterwards."""
    busybox = test_images["busybox:latest"]
    fake = reg.FakeRegistry(test_images)
    fake.stall = busybox["layers"][0].split(":")[1]
    fake.start()
    try:
        d = fake_daemon(image_daemon, fake)
        with d.client() as c:
            stuck = c.pull_image_future(ref(fake, "busybox:latest"), timeout=120)
            assert fake.stalled.wait(20)
            leaving = c.pull_image_future(ref(fake, "busybox:latest"), timeout=120)
            h.wait_until(lambda: config_gets(fake, busybox) >= 2, 15)
            since = d.log_offset()
            leaving.cancel()
            d.wait_for_log(r"PullImage: CANCELLED", timeout=10, since=since)
            err = h.rpc_error(c.pull_image, ref(fake, "busybox:latest"), timeout=3)
            assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED, err
            assert not stuck.done()
            fake.release()
            assert stuck.result().image_ref == busybox["id"]
            assert c.pull_image(ref(fake, "busybox:latest"), timeout=20) == busybox["id"]
    finally:
        fake.stop()


# ---------------------------------------------------------------------------------------------------------
# 3. Flaky networks


@pytest.mark.parametrize("mode", ["reset", "truncate"])
def test_blob_cut_midway_resumes_with_a_range_request(image_daemon, fake_registry, test_images, mode):
    e = test_images["busybox:latest"]
    digest = e["layers"][0]
    size = len(test_images.blob("busybox", digest))
    fake_registry.fault_path = digest
    fake_registry.cut_first, fake_registry.cut_mode = 1, mode
    d = fake_daemon(image_daemon, fake_registry)
    with d.client() as c:
        assert c.pull_image(ref(fake_registry, "busybox:latest"), timeout=60) == e["id"]
    starts = [start for path, start in fake_registry.ranges if digest in path]
    assert len(starts) == 1 and 0 < starts[0] <= size // 2, f"no resume with a Range request: {fake_registry.ranges}"
    if mode == "truncate":  # everything sent arrived: the resume starts right after it
        assert starts == [size // 2]
    assert len(fake_registry.blob_gets(digest=digest)) == 2
    assert fake_registry.served[digest] == size // 2 + size - starts[0], "the blob was downloaded again"


def test_failure_in_the_last_layer_keeps_the_others(image_daemon, fake_registry, test_images):
    e = test_images["layered:latest"]
    last = e["layers"][-1]
    fake_registry.corrupt = {last}
    d = fake_daemon(image_daemon, fake_registry)
    with d.client() as c:
        err = h.rpc_error(c.pull_image, ref(fake_registry, "layered:latest"), timeout=60)
        assert err.code() == grpc.StatusCode.DATA_LOSS, err.details()
        assert len(d.layer_dirs()) == len(e["layers"]) - 1, "finished layers were thrown away"
        fake_registry.corrupt = set()
        mark = fake_registry.mark()
        assert c.pull_image(ref(fake_registry, "layered:latest"), timeout=60) == e["id"]
    fetched = [x for x in fake_registry.blob_gets(since=mark) if any(l in x.path for l in e["layers"])]
    assert [x.path.rsplit("/", 1)[1] for x in fetched] == [last], f"the retry fetched {fetched}"


def test_finished_layers_of_a_failed_pull_go_at_start_up(image_daemon, fake_registry, test_images):
    e = test_images["layered:latest"]
    fake_registry.corrupt = {e["layers"][-1]}
    d = fake_daemon(image_daemon, fake_registry)
    with d.client() as c:
        h.rpc_error(c.pull_image, ref(fake_registry, "layered:latest"), timeout=60)
    assert d.layer_dirs()
    d.stop()
    d.start()
    with d.client() as c:
        assert c.list_images() == []
    assert d.layer_dirs() == []


def test_connection_resets_that_persist_are_unavailable(image_daemon, fake_registry, test_images):
    e = test_images["busybox:latest"]
    fake_registry.fault_path = e["layers"][0]
    fake_registry.reset_first = 100
    d = fake_daemon(image_daemon, fake_registry)
    with d.client() as c:
        err = h.rpc_error(c.pull_image, ref(fake_registry, "busybox:latest"), timeout=60)
    assert err.code() == grpc.StatusCode.UNAVAILABLE, f"{err.code().name}: {err.details()}"
