# SPDX-License-Identifier: Apache-2.0
"""Issue 9, images hardened: leftovers and schema versions, deep trees, redirects and policy files,
one registry client per pull, bounded inflation, stalled and flaky transfers. Each test failed on the
code before its fix."""

import json
import os
import sqlite3

import pytest

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
