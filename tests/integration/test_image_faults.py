# SPDX-License-Identifier: Apache-2.0
"""Pulls that must fail cleanly or survive: corrupt, truncated and missing blobs, digest mismatches, server
errors and resets, stalls with deadlines, client cancellation and pull_progress_timeout, schema 1 and
oversized manifests, and layers that try to write outside their directory. A failed pull leaves no image,
no layer directory and nothing in <root>/tmp."""

import hashlib
import json
import os
import re
import shutil
import time
from pathlib import Path

import grpc
import pytest

import crio_helpers as h
import registry as reg
from registry import insecure, ref, registries_conf

images = reg.images


@pytest.fixture
def daemon(image_daemon, fake_registry):
    return image_daemon(registries_conf(registries=[insecure(fake_registry.host)]))


@pytest.fixture
def cri(daemon):
    c = daemon.client()
    yield c
    c.close()


def layer(test_images, name, i):
    return test_images[name]["layers"][i]


def assert_fails_cleanly(daemon, cri, name, timeout=30, codes=None):
    """Pull `name`; it must fail (not hang) and leave the store as it was. Returns the error."""
    before = daemon.store_snapshot(cri)
    t0 = time.monotonic()
    err = h.rpc_error(cri.pull_image, name, timeout=timeout)
    assert err.code() != grpc.StatusCode.DEADLINE_EXCEEDED or codes and err.code() in codes, \
        f"the pull hung until the client's {timeout}s deadline"
    if codes:
        assert err.code() in codes, f"expected {[c.name for c in codes]}, got {err.code().name}: {err.details()!r}"
    assert time.monotonic() - t0 < timeout
    reg.wait_nothing_left(daemon, cri, before)
    return err


# ---------------------------------------------------------------------------------------------------------
# Corrupt, truncated and missing content


@pytest.mark.parametrize("name,which", [("busybox:latest", 0), ("layered:latest", 2), ("layered:latest", 3),
                                        ("plain:latest", 0), ("sha512:latest", 0)])
def test_blob_with_wrong_digest_fails(daemon, cri, fake_registry, test_images, name, which):
    """The served layer still inflates to the right tar (see registry.corrupt): only the blob digest
    check can catch it."""
    digest = layer(test_images, name, which)
    fake_registry.corrupt = {digest}
    err = assert_fails_cleanly(daemon, cri, ref(fake_registry, name), codes=(grpc.StatusCode.DATA_LOSS,))
    assert fake_registry.blob_gets(digest=digest), "the corrupt blob was never asked for"
    assert "digest" in err.details().lower() or digest in err.details(), \
        f"the error does not say the digest did not match: {err.details()!r}"


def test_pull_by_sha512_manifest_digest(daemon, cri, fake_registry, test_images):
    e = test_images["sha512:latest"]
    assert e["digest"].startswith("sha512:")
    name = reg.repo_digest(fake_registry, test_images, "sha512:latest")
    assert cri.pull_image(name) == e["id"]
    assert name in cri.image(e["id"]).repo_digests


def test_sha512_manifest_with_wrong_digest_fails(daemon, cri, fake_registry, test_images):
    e = test_images["sha512:latest"]
    body = test_images.blob("sha512", e["digest"])
    fake_registry.manifest_override[("sha512", e["digest"])] = (e["media_type"], body + b" ")
    assert_fails_cleanly(daemon, cri, reg.repo_digest(fake_registry, test_images, "sha512:latest"))


def test_config_with_wrong_digest_fails(daemon, cri, fake_registry, test_images):
    fake_registry.corrupt = {test_images["busybox:latest"]["config_digest"]}
    assert_fails_cleanly(daemon, cri, ref(fake_registry, "busybox:latest"))


def test_every_layer_corrupt_fails(daemon, cri, fake_registry):
    fake_registry.corrupt = "layers"
    assert_fails_cleanly(daemon, cri, ref(fake_registry, "big:latest"))


@pytest.mark.parametrize("name,which", [("busybox:latest", 0), ("layered:latest", 3), ("big:latest", 4)])
def test_truncated_blob_fails(daemon, cri, fake_registry, test_images, name, which):
    fake_registry.truncate = {layer(test_images, name, which)}
    assert_fails_cleanly(daemon, cri, ref(fake_registry, name), codes=(grpc.StatusCode.DATA_LOSS,))


def test_missing_blob_fails(daemon, cri, fake_registry, test_images):
    fake_registry.missing = {layer(test_images, "layered:latest", 2)}
    assert_fails_cleanly(daemon, cri, ref(fake_registry, "layered:latest"))


def test_manifest_with_wrong_digest_fails(daemon, cri, fake_registry, test_images):
    """Pulling by digest, the registry answers with another manifest."""
    e, other = test_images["busybox:latest"], test_images["user:numeric"]
    fake_registry.manifest_override[("busybox", e["digest"])] = (
        other["media_type"], test_images.blob("user", other["digest"]))
    assert_fails_cleanly(daemon, cri, reg.repo_digest(fake_registry, test_images, "busybox:latest"))


def test_index_child_with_wrong_digest_fails(daemon, cri, fake_registry, test_images):
    platforms = test_images["multiarch:latest"]["platforms"]
    mine = next(p for k, p in platforms.items() if k.split("/")[0] == images.go_arch())
    other = next(p for k, p in platforms.items() if k.split("/")[0] != images.go_arch())
    fake_registry.manifest_override[("multiarch", mine["digest"])] = (
        mine["media_type"], test_images.blob("multiarch", other["digest"]))
    assert_fails_cleanly(daemon, cri, ref(fake_registry, "multiarch:latest"))


def test_layer_with_wrong_diff_id_fails(daemon, cri, fake_registry, test_images, tmp_path):
    """A manifest and config that are self-consistent by digest, but the config's diff_id does not match
    the uncompressed layer."""
    e = test_images["busybox:latest"]
    cfg = json.loads(test_images.blob("busybox", e["config_digest"]))
    cfg["rootfs"]["diff_ids"] = ["sha256:" + "ab" * 32]
    add_image(fake_registry, tmp_path, "busybox", "bad-diff-id", cfg, test_images.manifest("busybox", e["digest"]))
    assert_fails_cleanly(daemon, cri, ref(fake_registry, "busybox:bad-diff-id"))


def add_image(fake, tmp_path, repo, tag, config, manifest):
    """Serve `config` (a dict, or raw bytes) as the config of a copy of `manifest` under repo:tag."""
    data = config if isinstance(config, bytes) else images.canonical_json(config)
    digest = images.sha256_digest(data)
    p = tmp_path / digest.split(":")[1]
    p.write_bytes(data)
    fake.add_blob(repo, digest, p)
    m = dict(manifest, config=dict(manifest["config"], digest=digest, size=len(data)))
    fake.add_manifest(repo, tag, images.canonical_json(m), m["mediaType"])


# ---------------------------------------------------------------------------------------------------------
# Manifest kinds and sizes that are refused


def test_schema1_is_refused(daemon, cri, fake_registry):
    fake_registry.add_schema1()
    err = assert_fails_cleanly(daemon, cri, ref(fake_registry, "schema1:latest"),
                               codes=(grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNIMPLEMENTED))
    assert "schema 1" in err.details().lower(), err.details()
    assert not fake_registry.blob_gets(), "blobs of a schema 1 image were fetched"


def test_oversized_manifest_is_refused(daemon, cri, fake_registry, test_images):
    e = test_images["busybox:latest"]
    body = test_images.blob("busybox", e["digest"])
    huge = body[:-1] + b" " * (20 << 20) + body[-1:]  # still valid JSON, 20 MiB
    fake_registry.add_manifest("busybox", "huge", huge, e["media_type"])
    assert_fails_cleanly(daemon, cri, ref(fake_registry, "busybox:huge"))
    assert daemon.running()


def test_oversized_config_is_refused(daemon, cri, fake_registry, test_images, tmp_path):
    e = test_images["busybox:latest"]
    cfg = json.loads(test_images.blob("busybox", e["config_digest"]))
    cfg["config"]["Labels"]["padding"] = "x" * (20 << 20)
    add_image(fake_registry, tmp_path, "busybox", "huge-config", cfg, test_images.manifest("busybox", e["digest"]))
    assert_fails_cleanly(daemon, cri, ref(fake_registry, "busybox:huge-config"))
    assert daemon.running()


@pytest.mark.parametrize("body", [b"", b"{", b"null", b'{"schemaVersion": 2}', b'{"schemaVersion": 2, "layers": 5}',
                                  b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",'
                                  b' "config": {"digest": "sha256:zz", "size": 1}, "layers": []}'],
                         ids=["empty", "truncated", "null", "no-config", "layers-not-a-list", "bad-digest"])
def test_malformed_manifest_fails(daemon, cri, fake_registry, body):
    fake_registry.add_manifest("busybox", "malformed", body, images.MT_OCI_MANIFEST)
    assert_fails_cleanly(daemon, cri, ref(fake_registry, "busybox:malformed"))
    assert daemon.running()


# ---------------------------------------------------------------------------------------------------------
# Server errors and resets


@pytest.mark.parametrize("status", [500, 502, 503])
def test_transient_server_errors_are_retried(daemon, cri, fake_registry, test_images, status):
    fake_registry.fail_first, fake_registry.fail_status = 2, status
    assert cri.pull_image(ref(fake_registry, "busybox:latest")) == test_images["busybox:latest"]["id"]
    assert len(fake_registry.requests(status=status)) == 2


def test_persistent_server_errors_fail(daemon, cri, fake_registry):
    fake_registry.fail_first = 10_000
    assert_fails_cleanly(daemon, cri, ref(fake_registry, "busybox:latest"), codes=(grpc.StatusCode.UNAVAILABLE,))
    assert len(fake_registry.entries()) < 50, "retried without bound"


def test_connection_reset_is_retried(daemon, cri, fake_registry, test_images):
    fake_registry.reset_first = 1
    assert cri.pull_image(ref(fake_registry, "busybox:latest")) == test_images["busybox:latest"]["id"]


@pytest.mark.parametrize("what", ["blobs", "manifests"])
def test_reset_on_a_download_is_retried(daemon, cri, fake_registry, test_images, what):
    fake_registry.fault_path, fake_registry.reset_first = f"/{what}/", 2
    assert cri.pull_image(ref(fake_registry, "layered:latest")) == test_images["layered:latest"]["id"]
    assert len(fake_registry.requests(status=-1)) == 2, "the resets did not happen"


def test_server_error_on_a_blob_is_retried(daemon, cri, fake_registry, test_images):
    fake_registry.fault_path, fake_registry.fail_first = r"/blobs/", 2
    assert cri.pull_image(ref(fake_registry, "layered:latest")) == test_images["layered:latest"]["id"]


# ---------------------------------------------------------------------------------------------------------
# Deadlines, cancellation, progress timeout


def assert_gave_up(fake, daemon, cri, before, timeout=5):
    """The daemon hung up on the stalled registry, and after the registry is released nothing appears."""
    assert fake.disconnected.wait(timeout), "the daemon kept the stalled registry connection open"
    fake.release()
    time.sleep(1.0)  # a pull that went on in the background would finish now
    reg.wait_nothing_left(daemon, cri, before)


def stall_last_layer(fake, test_images, name="layered:latest", after=0):
    """Hold the download of the image's top layer (after `after` bytes); the others go through, so a
    cancelled pull has staged layers to clean up."""
    fake.stall, fake.stall_after = re.escape(test_images[name]["layers"][-1]), after


@pytest.mark.parametrize("stall_after", [0, 4096], ids=["before-headers", "mid-body"])
def test_deadline_cancels_a_stalled_pull(daemon, cri, fake_registry, test_images, stall_after):
    stall_last_layer(fake_registry, test_images, "big:latest", stall_after)
    before = daemon.store_snapshot(cri)
    t0 = time.monotonic()
    err = h.rpc_error(cri.pull_image, ref(fake_registry, "big:latest"), timeout=1.5)
    assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED, err
    assert time.monotonic() - t0 < 3.5
    assert_gave_up(fake_registry, daemon, cri, before)


def test_client_going_away_cancels_the_pull(daemon, cri, fake_registry, test_images):
    stall_last_layer(fake_registry, test_images)
    before = daemon.store_snapshot(cri)
    fut = cri.pull_image_future(ref(fake_registry, "layered:latest"), timeout=60)
    assert fake_registry.stalled.wait(10), "the pull never reached the stalled blob"
    staged = h.wait_until(daemon.tmp_entries, 5)
    assert staged, f"precondition: the other layers should be staged in {daemon.root / 'tmp'}"
    fut.cancel()
    assert_gave_up(fake_registry, daemon, cri, before)


def test_manifest_stall_with_deadline(daemon, cri, fake_registry):
    fake_registry.stall = r"/manifests/"
    before = daemon.store_snapshot(cri)
    err = h.rpc_error(cri.pull_image, ref(fake_registry, "busybox:latest"), timeout=1.0)
    assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED, err
    assert_gave_up(fake_registry, daemon, cri, before)


@pytest.mark.parametrize("stall_after", [0, 4096], ids=["before-headers", "mid-body"])
def test_pull_progress_timeout(image_daemon, fake_registry, test_images, stall_after):
    d = image_daemon(registries_conf(registries=[insecure(fake_registry.host)]), progress_timeout="2s")
    stall_last_layer(fake_registry, test_images, after=stall_after)
    with d.client() as c:
        before = d.store_snapshot(c)
        t0 = time.monotonic()
        err = h.rpc_error(c.pull_image, ref(fake_registry, "layered:latest"), timeout=30)
        took = time.monotonic() - t0
        assert err.code() != grpc.StatusCode.OK
        assert 1.5 < took < 15, f"pull_progress_timeout=2s, but the pull failed after {took:.1f}s ({err})"
        assert fake_registry.disconnected.wait(3), "the stalled connection was not closed"
        fake_registry.release()
        reg.wait_nothing_left(d, c, before)


def test_pull_progress_timeout_does_not_cut_a_working_pull(image_daemon, image_registry, test_images):
    d = image_daemon(progress_timeout="1s")
    with d.client() as c:
        assert c.pull_image(ref(image_registry, "big:latest")) == test_images["big:latest"]["id"]


def test_daemon_serves_other_calls_during_a_stalled_pull(daemon, cri, fake_registry, test_images, image_registry):
    stall_last_layer(fake_registry, test_images)
    fut = cri.pull_image_future(ref(fake_registry, "layered:latest"), timeout=30)
    assert fake_registry.stalled.wait(5), "the pull never reached the stalled blob"
    try:
        with daemon.client(timeout=2) as c2:
            c2.version()
            c2.list_images()
            c2.image_fs_info()
            assert c2.image(ref(fake_registry, "layered:latest")) is None, "an image is visible mid-pull"
    finally:
        fut.cancel()


# ---------------------------------------------------------------------------------------------------------
# Layers that try to escape


EVIL_FRAGMENTS = {
    "dotdot": ["crio-c-evil-dotdot", ".."],
    "absolute": ["crio-c-evil-absolute"],
    "symlink": ["escape"],
    "symlink-rel": ["escape"],
    "hardlink": ["host-passwd", "etc/passwd"],
    "hardlink-write": ["target", "crio-c-evil-hardlink-target"],
}


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _inodes_under(root):
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for n in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, n))
            except OSError:
                continue
            out.add((st.st_dev, st.st_ino))
    return out


@pytest.fixture
def evil_targets():
    """Make the evil images' targets testable: directories the symlinks point to exist, the hard-link
    target exists with known content, and nothing is left from an earlier run."""
    t = images.EVIL_TARGETS
    for k in ("dotdot", "absolute"):
        with_missing_ok(os.unlink, t[k])
    for k in ("symlink", "symlink-rel"):
        shutil.rmtree(os.path.dirname(t[k]), ignore_errors=True)
        os.makedirs(os.path.dirname(t[k]))
    Path(t["hardlink-write"]).write_text("original\n")
    yield t
    for k in ("dotdot", "absolute", "hardlink-write"):
        with_missing_ok(os.unlink, t[k])
    for k in ("symlink", "symlink-rel"):
        shutil.rmtree(os.path.dirname(t[k]), ignore_errors=True)


def with_missing_ok(fn, *args):
    try:
        fn(*args)
    except FileNotFoundError:
        pass


@pytest.mark.parametrize("tag", sorted(images.EVIL_TARGETS))
def test_layer_escaping_its_directory_fails(image_daemon, image_registry, evil_targets, tag):
    d = image_daemon()
    passwd = _sha("/etc/passwd")
    with d.client() as c:
        before = d.store_snapshot(c)
        err = h.rpc_error(c.pull_image, ref(image_registry, f"evil:{tag}"))
        assert err.code() != grpc.StatusCode.OK
        msg = err.details()
        assert "escape" in msg.lower() or any(f in msg for f in EVIL_FRAGMENTS[tag]), \
            f"the error does not say what escaped: {msg!r}"
        reg.wait_nothing_left(d, c, before)
    t = evil_targets
    assert not os.path.exists(t["dotdot"]) and not os.path.exists(t["absolute"])
    assert not os.path.exists(t["symlink"]) and not os.path.exists(t["symlink-rel"])
    assert Path(t["hardlink-write"]).read_text() == "original\n", "written through a hard link"
    assert _sha("/etc/passwd") == passwd
    st_p, st_t = os.stat("/etc/passwd"), os.stat(t["hardlink-write"])
    assert st_t.st_nlink == 1, "the hard-link target gained a link"
    linked = {(st_p.st_dev, st_p.st_ino), (st_t.st_dev, st_t.st_ino)} & _inodes_under(d.root)
    assert not linked, "a host file is hard-linked into the store"


def test_escape_attempt_leaves_the_daemon_usable(image_daemon, image_registry, evil_targets, test_images):
    d = image_daemon()
    with d.client() as c:
        h.rpc_error(c.pull_image, ref(image_registry, "evil:symlink"))
        assert c.pull_image(ref(image_registry, "busybox:latest")) == test_images["busybox:latest"]["id"]
