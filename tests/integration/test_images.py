# SPDX-License-Identifier: Apache-2.0
"""ImageService over CRI against images in a local docker-registry: PullImage, ImageStatus, ListImages,
RemoveImage, ImageFsInfo, references and manifest kinds. Other image tests: test_image_registries.py
(registries.conf), test_image_auth.py (credentials, policy.json), test_image_faults.py (broken registries,
cancellation, malicious layers), test_image_store.py (on-disk layers, dedup, pinning), test_image_infra.py
(the test images and registries themselves)."""

import json
import re

import grpc
import pytest

import crio_helpers as h
import registry as reg
from registry import ref


@pytest.fixture
def daemon(image_daemon):
    return image_daemon()


@pytest.fixture
def cri(daemon):
    c = daemon.client()
    yield c
    c.close()


def assert_error(err, codes, *fragments):
    codes = codes if isinstance(codes, (tuple, list, set)) else (codes,)
    assert err.code() in codes, f"expected {[c.name for c in codes]}, got {err.code().name}: {err.details()!r}"
    for f in fragments:
        assert f.lower() in (err.details() or "").lower(), f"{f!r} not in the error message {err.details()!r}"


# ---------------------------------------------------------------------------------------------------------
# PullImage and ImageStatus


def test_pull_returns_the_image_id(cri, image_registry, test_images):
    image_ref = cri.pull_image(ref(image_registry, "busybox:latest"))
    assert re.fullmatch(r"[0-9a-f]{64}", image_ref), image_ref
    assert image_ref == test_images["busybox:latest"]["id"]


@pytest.mark.parametrize("how", ["id", "tag", "digest", "id-prefix"])
def test_image_status_finds_the_image(cri, image_registry, test_images, how):
    e = test_images["busybox:latest"]
    cri.pull_image(ref(image_registry, "busybox:latest"))
    name = {"id": e["id"], "tag": ref(image_registry, "busybox:latest"),
            "digest": reg.repo_digest(image_registry, test_images, "busybox:latest"), "id-prefix": e["id"][:12]}[how]
    r = cri.image_status(name)
    assert r.HasField("image"), f"ImageStatus({name!r}) found nothing"
    img = r.image
    assert img.id == e["id"]
    assert list(img.repo_tags) == [ref(image_registry, "busybox:latest")]
    assert list(img.repo_digests) == [reg.repo_digest(image_registry, test_images, "busybox:latest")]
    assert 0 < img.size < 1 << 30
    assert not img.HasField("uid") and img.username == "", "busybox sets no User"
    assert not img.pinned


def test_image_status_of_an_unknown_image_is_empty(cri, image_registry):
    for name in (ref(image_registry, "busybox:latest"), "0" * 64, "never-pulled:latest"):
        r = cri.image_status(name)
        assert not r.HasField("image"), f"ImageStatus({name!r}) should be empty, got {r.image}"


@pytest.mark.parametrize("tag,uid,username", [("numeric", 1000, ""), ("named", None, "nobody")])
def test_image_status_reports_the_config_user(cri, image_registry, tag, uid, username):
    cri.pull_image(ref(image_registry, f"user:{tag}"))
    img = cri.image(ref(image_registry, f"user:{tag}"))
    if uid is None:
        assert not img.HasField("uid"), f"uid set to {img.uid.value} for a named user"
    else:
        assert img.HasField("uid") and img.uid.value == uid
    assert img.username == username


def test_image_status_verbose_carries_the_config(cri, image_registry):
    cri.pull_image(ref(image_registry, "busybox:latest"))
    r = cri.image_status(ref(image_registry, "busybox:latest"), verbose=True)
    assert "info" in r.info, f"no 'info' key in {dict(r.info)}"
    info = json.loads(r.info["info"])
    text = json.dumps(info)
    assert "org.crio-c.test.image" in text and '"busybox"' in text, f"labels missing from {text[:1000]}"
    assert "PATH=/usr/local/sbin" in text, f"Env missing from {text[:1000]}"
    assert ["sh"] in h.find_key(info, "Cmd") + h.find_key(info, "cmd"), f"Cmd missing from {text[:1000]}"


def test_image_status_not_verbose_has_no_info(cri, image_registry):
    cri.pull_image(ref(image_registry, "busybox:latest"))
    assert not cri.image_status(ref(image_registry, "busybox:latest")).info


def test_pull_by_digest(cri, image_registry, test_images):
    digest_ref = reg.repo_digest(image_registry, test_images, "busybox:latest")
    assert cri.pull_image(digest_ref) == test_images["busybox:latest"]["id"]
    img = cri.image(digest_ref)
    assert digest_ref in img.repo_digests
    assert not img.repo_tags, f"a pull by digest adds no tag, got {list(img.repo_tags)}"


def test_pull_by_tag_and_digest(cri, image_registry, test_images):
    e = test_images["busybox:latest"]
    assert cri.pull_image(ref(image_registry, f"busybox:latest@{e['digest']}")) == e["id"]
    assert cri.image(e["id"]) is not None


def test_pull_by_tag_and_wrong_digest_fails(cri, image_registry, test_images):
    other = test_images["user:numeric"]["digest"]
    err = h.rpc_error(cri.pull_image, ref(image_registry, f"busybox:latest@{other}"))
    assert err.code() != grpc.StatusCode.OK


def test_pull_nested_repository(cri, image_registry, test_images):
    assert cri.pull_image(ref(image_registry, "org/team/busybox:latest")) == \
        test_images["org/team/busybox:latest"]["id"]
    assert list(cri.image(ref(image_registry, "org/team/busybox:latest")).repo_tags) == \
        [ref(image_registry, "org/team/busybox:latest")]


def test_pull_without_tag_means_latest(cri, image_registry, test_images):
    assert cri.pull_image(ref(image_registry, "busybox")) == test_images["busybox:latest"]["id"]
    assert list(cri.image(ref(image_registry, "busybox:latest")).repo_tags) == \
        [ref(image_registry, "busybox:latest")]


def test_second_tag_of_the_same_image(cri, image_registry, test_images):
    a = cri.pull_image(ref(image_registry, "busybox:latest"))
    b = cri.pull_image(ref(image_registry, "busybox:1.36"))
    assert a == b
    img = cri.image(a)
    assert sorted(img.repo_tags) == sorted([ref(image_registry, "busybox:latest"), ref(image_registry, "busybox:1.36")])
    assert list(img.repo_digests) == [reg.repo_digest(image_registry, test_images, "busybox:latest")]
    assert len(cri.list_images()) == 1


# ---------------------------------------------------------------------------------------------------------
# Manifest kinds


def test_pull_docker_schema2(cri, image_registry, test_images):
    e = test_images["docker:v2"]
    assert cri.pull_image(ref(image_registry, "docker:v2")) == e["id"]
    assert list(cri.image(e["id"]).repo_digests) == [reg.repo_digest(image_registry, test_images, "docker:v2")]


@pytest.mark.parametrize("name", ["multiarch:latest", "docker:list"])
def test_pull_index_picks_this_architecture(cri, image_registry, test_images, name):
    arch = reg.images.go_arch()
    platforms = test_images[name]["platforms"]
    mine = next(p for key, p in platforms.items() if key.split("/")[0] == arch)
    assert cri.pull_image(ref(image_registry, name)) == mine["id"], f"not the {arch} image of {name}"
    info = json.loads(cri.image_status(mine["id"], verbose=True).info["info"])
    assert arch in h.find_key(info, reg.images.ARCH_LABEL), f"label {reg.images.ARCH_LABEL} != {arch}"
    assert ref(image_registry, name) in cri.image(mine["id"]).repo_tags


def test_pull_zstd_layers(cri, image_registry, test_images):
    assert cri.pull_image(ref(image_registry, "zstd:small")) == test_images["zstd:small"]["id"]


def test_pull_sha512_image(cri, image_registry, test_images):
    """Config and layer named by sha512 digests; the ID is still the config digest's hex."""
    e = test_images["sha512:latest"]
    assert cri.pull_image(ref(image_registry, "sha512:latest")) == e["id"]
    assert cri.image(ref(image_registry, "sha512:latest")).id == e["id"]


def test_pull_uncompressed_layers(cri, image_registry, test_images):
    assert cri.pull_image(ref(image_registry, "plain:latest")) == test_images["plain:latest"]["id"]


# ---------------------------------------------------------------------------------------------------------
# ListImages


def test_list_images(cri, image_registry, test_images):
    assert cri.list_images() == []
    cri.pull_image(ref(image_registry, "busybox:latest"))
    cri.pull_image(ref(image_registry, "user:numeric"))
    images = {i.id: i for i in cri.list_images()}
    assert set(images) == {test_images["busybox:latest"]["id"], test_images["user:numeric"]["id"]}
    numeric = images[test_images["user:numeric"]["id"]]
    assert list(numeric.repo_tags) == [ref(image_registry, "user:numeric")]
    assert numeric.uid.value == 1000 and numeric.size > 0


@pytest.mark.parametrize("by", ["name", "id"])
def test_list_images_with_a_filter(cri, image_registry, test_images, by):
    cri.pull_image(ref(image_registry, "busybox:latest"))
    cri.pull_image(ref(image_registry, "user:numeric"))
    name = ref(image_registry, "user:numeric") if by == "name" else test_images["user:numeric"]["id"]
    assert [i.id for i in cri.list_images(name)] == [test_images["user:numeric"]["id"]], f"filter {name!r}"


def test_list_images_with_a_filter_matching_nothing(cri, image_registry):
    cri.pull_image(ref(image_registry, "busybox:latest"))
    assert cri.list_images(ref(image_registry, "user:named")) == []


# ---------------------------------------------------------------------------------------------------------
# RemoveImage


@pytest.mark.parametrize("how", ["id", "tag", "digest"])
def test_remove_image(cri, daemon, image_registry, test_images, how):
    e = test_images["busybox:latest"]
    cri.pull_image(ref(image_registry, "busybox:latest"))
    name = {"id": e["id"], "tag": ref(image_registry, "busybox:latest"),
            "digest": reg.repo_digest(image_registry, test_images, "busybox:latest")}[how]
    cri.remove_image(name)
    assert cri.image(e["id"]) is None
    assert cri.list_images() == []
    assert h.wait_until(lambda: daemon.layer_dirs() == [], 5), f"layers left: {daemon.layer_dirs()}"


def test_remove_one_of_two_tags_only_untags(cri, image_registry, test_images):
    image_id = cri.pull_image(ref(image_registry, "busybox:latest"))
    cri.pull_image(ref(image_registry, "busybox:1.36"))
    cri.remove_image(ref(image_registry, "busybox:1.36"))
    img = cri.image(image_id)
    assert img is not None, "removing one tag removed the image"
    assert list(img.repo_tags) == [ref(image_registry, "busybox:latest")]
    assert cri.image(ref(image_registry, "busybox:1.36")) is None
    cri.remove_image(ref(image_registry, "busybox:latest"))
    assert cri.image(image_id) is None


def test_remove_keeps_layers_shared_with_other_images(cri, daemon, image_registry, test_images):
    cri.pull_image(ref(image_registry, "busybox:latest"))
    cri.pull_image(ref(image_registry, "user:numeric"))  # same single layer
    layers = daemon.layer_dirs()
    cri.remove_image(ref(image_registry, "busybox:latest"))
    assert daemon.layer_dirs() == layers
    assert cri.image(ref(image_registry, "user:numeric")) is not None


def test_remove_unknown_image_is_ok(cri, image_registry):
    cri.remove_image(ref(image_registry, "busybox:latest"))
    cri.remove_image("f" * 64)


def test_pull_after_remove(cri, image_registry, test_images):
    cri.pull_image(ref(image_registry, "busybox:latest"))
    cri.remove_image(ref(image_registry, "busybox:latest"))
    assert cri.pull_image(ref(image_registry, "busybox:latest")) == test_images["busybox:latest"]["id"]
    assert cri.image(ref(image_registry, "busybox:latest")) is not None


# ---------------------------------------------------------------------------------------------------------
# ImageFsInfo


def test_image_fs_info(cri, daemon, image_registry):
    empty = cri.image_fs_info()
    cri.pull_image(ref(image_registry, "busybox:latest"))
    r = cri.image_fs_info()
    assert len(r.image_filesystems) >= 1
    fs = r.image_filesystems[0]
    root = str(daemon.root.resolve())
    assert fs.fs_id.mountpoint.startswith(root), f"mountpoint {fs.fs_id.mountpoint!r} not under {root}"
    assert fs.used_bytes.value > 0 and fs.inodes_used.value > 0
    assert fs.timestamp > 0
    assert fs.used_bytes.value >= empty.image_filesystems[0].used_bytes.value + 1_000_000, \
        "used_bytes did not grow by at least the size of busybox"
    assert fs.inodes_used.value > empty.image_filesystems[0].inodes_used.value
    assert len(r.container_filesystems) >= 1


# ---------------------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize("name", ["Busybox:Latest", "a@sha256:zz", "busybox:", "127.0.0.1:5000/Name",
                                  "busybox:" + "t" * 129, "a//b", "busybox@sha256:" + "0" * 63, ":latest"],
                         ids=["uppercase", "bad-digest", "empty-tag", "uppercase-path", "long-tag", "empty-component",
                              "short-digest", "no-name"])
def test_bad_reference_is_invalid_argument(cri, name):
    err = h.rpc_error(cri.pull_image, name)
    assert_error(err, grpc.StatusCode.INVALID_ARGUMENT, name)


def test_empty_reference_is_invalid_argument(cri):
    assert_error(h.rpc_error(cri.pull_image, ""), grpc.StatusCode.INVALID_ARGUMENT)


@pytest.mark.parametrize("name", ["nonexistent:latest", "busybox:no-such-tag",
                                  "busybox@sha256:" + "1" * 64])
def test_image_not_in_registry_is_not_found(cri, daemon, image_registry, name):
    before = daemon.store_snapshot(cri)
    err = h.rpc_error(cri.pull_image, ref(image_registry, name))
    assert_error(err, grpc.StatusCode.NOT_FOUND)
    reg.wait_nothing_left(daemon, cri, before)


def test_unreachable_registry_fails(cri, closed_port):
    err = h.rpc_error(cri.pull_image, f"{closed_port.host}/busybox:latest", timeout=30)
    assert err.code() not in (grpc.StatusCode.OK, grpc.StatusCode.DEADLINE_EXCEEDED), err
    assert closed_port.host in err.details(), err.details()


def test_plain_http_registry_needs_insecure(image_daemon, image_registry):
    """Without insecure=true the daemon speaks TLS and a plain HTTP registry cannot answer."""
    d = image_daemon(registries=reg.registries_conf())
    with d.client() as c:
        err = h.rpc_error(c.pull_image, ref(image_registry, "busybox:latest"), timeout=30)
        assert err.code() != grpc.StatusCode.DEADLINE_EXCEEDED, "the TLS failure should not hang"
        assert c.list_images() == []
