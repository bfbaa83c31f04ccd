# SPDX-License-Identifier: Apache-2.0
"""The image store: layers on disk in overlay form, layers fetched once, concurrent pulls, the big image,
pinned images, and images surviving a restart."""

import concurrent.futures
import os
import stat
import time

import grpc
import pytest

import crio_helpers as h
import registry as reg
from registry import ref

images = reg.images


@pytest.fixture
def daemon(image_daemon):
    return image_daemon()


@pytest.fixture
def cri(daemon):
    c = daemon.client()
    yield c
    c.close()


def diff_dirs(daemon):
    return [p / "diff" for p in daemon.layer_dirs() if (p / "diff").is_dir()]


def layer_with(daemon, relpath):
    """The diff directory of the layer that holds `relpath` (lstat succeeds)."""
    found = [d for d in diff_dirs(daemon) if os.path.lexists(d / relpath)]
    assert len(found) == 1, f"{relpath} in {len(found)} layers: {found} (layer dirs {daemon.layer_dirs()})"
    return found[0]


# ---------------------------------------------------------------------------------------------------------
# Layers on disk


@pytest.fixture
def layered(cri, daemon, image_registry, test_images):
    assert cri.pull_image(ref(image_registry, "layered:latest")) == test_images["layered:latest"]["id"]
    return daemon


def test_layered_image_has_one_directory_per_layer(layered, test_images):
    assert len(diff_dirs(layered)) == len(test_images["layered:latest"]["layers"])


def test_whiteouts_are_overlay_char_devices(layered):
    for rel in ("data/remove-me", "data/gone-dir"):
        # The lower layer still holds the original; the layer that deletes it holds the whiteout.
        found = [os.lstat(d / rel) for d in diff_dirs(layered) if os.path.lexists(d / rel)]
        whiteouts = [st for st in found if stat.S_ISCHR(st.st_mode)]
        assert len(found) == 2 and len(whiteouts) == 1, f"{rel}: {[oct(st.st_mode) for st in found]}"
        st = whiteouts[0]
        assert os.major(st.st_rdev) == 0 and os.minor(st.st_rdev) == 0, f"{rel} is not 0:0"
    for d in diff_dirs(layered):
        for dirpath, dirnames, filenames in os.walk(d):
            leftovers = [n for n in dirnames + filenames if n.startswith(".wh.")]
            assert not leftovers, f"whiteout files left in {dirpath}: {leftovers}"


def test_opaque_directory_has_the_overlay_xattr(layered):
    l3 = layer_with(layered, "data/opaque/new")
    assert os.getxattr(l3 / "data/opaque", "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(l3 / "data/opaque")) == ["new"]
    l2 = layer_with(layered, "data/opaque/old1")
    with pytest.raises(OSError):
        os.getxattr(l2 / "data/opaque", "trusted.overlay.opaque")


def test_hard_links_share_an_inode(layered):
    l2 = layer_with(layered, "data/hardlink")
    a, b = os.lstat(l2 / "data/file"), os.lstat(l2 / "data/hardlink")
    assert a.st_ino == b.st_ino and a.st_nlink == 2
    base = layer_with(layered, "bin/busybox")
    bb, sh = os.lstat(base / "bin/busybox"), os.lstat(base / "bin/sh")
    assert bb.st_ino == sh.st_ino and bb.st_nlink > 100, "busybox applets are hard links"


def test_special_files_modes_and_owners(layered):
    l2 = layer_with(layered, "data/hardlink")

    def st(rel):
        return os.lstat(l2 / rel)

    assert os.readlink(l2 / "data/symlink") == "file"
    assert os.readlink(l2 / "data/abs-symlink") == "/bin/busybox", "absolute symlink targets are kept as they are"
    assert stat.S_IMODE(st("data/setuid").st_mode) == 0o4755
    assert stat.S_IMODE(st("data/setgid").st_mode) == 0o2755
    assert stat.S_IMODE(st("data/sticky").st_mode) == 0o1777 and stat.S_ISDIR(st("data/sticky").st_mode)
    assert stat.S_ISFIFO(st("data/fifo").st_mode) and stat.S_IMODE(st("data/fifo").st_mode) == 0o600
    null = st("data/null")
    assert stat.S_ISCHR(null.st_mode) and (os.major(null.st_rdev), os.minor(null.st_rdev)) == (1, 3)
    owned = st("data/owned")
    assert (owned.st_uid, owned.st_gid, stat.S_IMODE(owned.st_mode)) == (1000, 1000, 0o640)
    od = st("data/owned-dir")
    assert (od.st_uid, od.st_gid, stat.S_IMODE(od.st_mode)) == (1000, 1000, 0o700)
    assert stat.S_IMODE(st("data/file").st_mode) == 0o640 and st("data/file").st_uid == 0
    assert (l2 / "data/file").read_bytes() == b"hard-linked content\n"
    assert os.getxattr(l2 / "data/xattr", "user.crio-test") == b"hello"


def test_mtimes_are_kept(layered):
    l2 = layer_with(layered, "data/hardlink")
    for rel in ("data/file", "data/owned", "data/owned-dir"):
        assert int(os.lstat(l2 / rel).st_mtime) == images.MTIME, rel
    assert int(os.lstat(l2 / "data/symlink").st_mtime) == images.MTIME, "symlink mtime (lutimes)"


def test_base_layer_contents(layered):
    base = layer_with(layered, "bin/busybox")
    assert (base / "etc/passwd").read_text().startswith("root:x:0:0:")
    assert stat.S_IMODE(os.lstat(base / "tmp").st_mode) == 0o1777
    assert stat.S_IMODE(os.lstat(base / "root").st_mode) == 0o700
    assert (base / "bin/busybox").read_bytes() == images.BUSYBOX.read_bytes()


# ---------------------------------------------------------------------------------------------------------
# Fetching layers once


def test_pulling_twice_does_not_fetch_layers_again(cri, image_registry, test_images):
    e = test_images["layered:latest"]
    mark = image_registry.mark()
    cri.pull_image(ref(image_registry, "layered:latest"))
    first = image_registry.blob_gets("layered", since=mark)
    assert sorted({g.path.rsplit("/", 1)[1] for g in first}) == sorted(set(e["layers"] + [e["config_digest"]]))
    mark = image_registry.mark()
    assert cri.pull_image(ref(image_registry, "layered:latest")) == e["id"]
    layer_gets = [g for g in image_registry.blob_gets("layered", since=mark) if g.path.rsplit("/", 1)[1] in e["layers"]]
    assert not layer_gets, f"layers fetched again: {layer_gets}"


def test_layers_shared_with_another_image_are_not_fetched(cri, daemon, image_registry, test_images):
    cri.pull_image(ref(image_registry, "busybox:latest"))
    base = test_images["busybox:latest"]["layers"][0]
    n_layers = len(daemon.layer_dirs())
    mark = image_registry.mark()
    for name in ("docker:v2", "user:numeric", "layered:latest"):
        cri.pull_image(ref(image_registry, name))
    again = image_registry.blob_gets(digest=base, since=mark)
    assert not again, f"the busybox layer was fetched again: {again}"
    assert len(daemon.layer_dirs()) == n_layers + 3, "only layered's 3 new layers should add directories"


def test_concurrent_pulls_of_one_image(daemon, image_registry, test_images):
    e = test_images["big:latest"]
    mark = image_registry.mark()

    def pull(_):
        with daemon.client() as c:
            return c.pull_image(ref(image_registry, "big:latest"), timeout=120)

    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        ids = list(pool.map(pull, range(5)))
    assert ids == [e["id"]] * 5
    for digest in e["layers"]:
        gets = image_registry.blob_gets("big", digest=digest, since=mark)
        assert len(gets) == 1, f"layer {digest[:19]} fetched {len(gets)} times by 5 concurrent pulls"
    assert len(daemon.layer_dirs()) == 5
    with daemon.client() as c:
        assert [i.id for i in c.list_images()] == [e["id"]]


def test_concurrent_pulls_of_images_sharing_a_layer(daemon, image_registry, test_images):
    names = ["busybox:latest", "user:numeric", "user:named", "docker:v2", "layered:latest", "multiarch:latest"]
    base = test_images["busybox:latest"]["layers"][0]
    mark = image_registry.mark()

    def pull(name):
        with daemon.client() as c:
            return c.pull_image(ref(image_registry, name), timeout=120)

    with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
        ids = list(pool.map(pull, names))
    assert len(set(ids)) == len(names)
    gets = image_registry.blob_gets(digest=base, since=mark)
    assert len(gets) == 1, f"the shared busybox layer was fetched {len(gets)} times"


def test_big_image(cri, daemon, image_registry, test_images):
    e = test_images["big:latest"]
    t0 = time.monotonic()
    assert cri.pull_image(ref(image_registry, "big:latest"), timeout=120) == e["id"]
    took = time.monotonic() - t0
    assert took < 20, f"pulling ~50 MiB from a local registry took {took:.1f}s"
    fs = cri.image_fs_info().image_filesystems[0]
    assert fs.used_bytes.value >= 45 << 20
    assert cri.image(e["id"]).size >= 45 << 20


def test_zstd_big_image(cri, image_registry, test_images):
    assert cri.pull_image(ref(image_registry, "zstd:latest"), timeout=120) == test_images["zstd:latest"]["id"]


# ---------------------------------------------------------------------------------------------------------
# Pinned images


def test_pinned_images(image_daemon, image_registry, test_images):
    host = image_registry.host
    d = image_daemon(pinned=f"{host}/busybox:latest,{host}/user*,*multiarch*")
    expect = {"busybox:latest": True, "user:numeric": True, "user:named": True, "multiarch:latest": True,
              "layered:latest": False, "docker:v2": False}
    with d.client() as c:
        ids = {name: c.pull_image(ref(image_registry, name)) for name in expect}
        for name, pinned in expect.items():
            assert c.image(ids[name]).pinned == pinned, f"{name} pinned should be {pinned}"
        listed = {i.id: i.pinned for i in c.list_images()}
        assert listed == {ids[n]: p for n, p in expect.items()}


def test_pause_image_is_pinned(image_daemon, image_registry, test_images):
    d = image_daemon(args=["--pause-image", ref(image_registry, "user:named")])
    with d.client() as c:
        c.pull_image(ref(image_registry, "user:named"))
        c.pull_image(ref(image_registry, "user:numeric"))
        assert c.image(ref(image_registry, "user:named")).pinned
        assert not c.image(ref(image_registry, "user:numeric")).pinned


# ---------------------------------------------------------------------------------------------------------
# Persistence


def test_images_survive_a_restart(daemon, image_registry, test_images):
    with daemon.client() as c:
        c.pull_image(ref(image_registry, "busybox:latest"))
        c.pull_image(ref(image_registry, "busybox:1.36"))
        c.pull_image(ref(image_registry, "layered:latest"))
        before = sorted((i.id, tuple(sorted(i.repo_tags)), tuple(i.repo_digests), i.size) for i in c.list_images())
    assert daemon.stop() == 0
    daemon.start()
    mark = image_registry.mark()
    with daemon.client() as c:
        after = sorted((i.id, tuple(sorted(i.repo_tags)), tuple(i.repo_digests), i.size) for i in c.list_images())
        assert after == before
        assert c.pull_image(ref(image_registry, "layered:latest")) == test_images["layered:latest"]["id"]
    assert not [g for g in image_registry.blob_gets(since=mark)
                if g.path.rsplit("/", 1)[1] in test_images["layered:latest"]["layers"]], "layers fetched after restart"


def test_interrupted_pull_is_cleaned_up_at_start(image_registry, fake_registry, image_daemon, test_images):
    """A daemon killed mid-pull leaves scratch files; the next start removes them."""
    d = image_daemon(reg.registries_conf(registries=[reg.insecure(fake_registry.host)]))
    fake_registry.stall, fake_registry.stall_after = "|".join(test_images["layered:latest"]["layers"]), 4096
    with d.client() as c:
        before = d.store_snapshot(c)
        fut = c.pull_image_future(ref(fake_registry, "layered:latest"), timeout=30)
        assert fake_registry.stalled.wait(10)
        h.wait_until(d.tmp_entries, 5)
        d.kill()
        with pytest.raises(grpc.RpcError):
            fut.result()
    assert d.tmp_entries(), f"precondition: the killed pull should have left staged layers in {d.root / 'tmp'}"
    fake_registry.release()
    d.start()
    with d.client() as c:
        reg.wait_nothing_left(d, c, before)


# ---------------------------------------------------------------------------------------------------------
# Parallel downloads


def many_layers(fake, tmp_path, n=9):
    tars = [images.Layer().file(f"layer{i}", f"layer {i}\n".encode()).tarball() for i in range(n)]
    return fake.add_image("many", "latest", tars, tmp_path)


@pytest.mark.parametrize("config,expected", [("", 6), ("[crio.image]\nmax_parallel_downloads = 2\n", 2)],
                         ids=["default", "configured"])
def test_layers_download_in_parallel_up_to_the_limit(image_daemon, fake_registry, tmp_path, config, expected):
    _, layers, image_id = many_layers(fake_registry, tmp_path)
    d = image_daemon(reg.registries_conf(registries=[reg.insecure(fake_registry.host)]), config=config)
    fake_registry.stall = "|".join(layers)
    with d.client() as c:
        fut = c.pull_image_future(ref(fake_registry, "many:latest"), timeout=60)
        try:
            reached = h.wait_until(lambda: fake_registry.holding >= expected, 10)
            time.sleep(0.5)  # give it the chance to open more than it should
            assert reached and fake_registry.max_holding == expected, \
                f"{fake_registry.max_holding} layers downloaded at once, expected {expected}"
        finally:
            fake_registry.release()
        assert fut.result().image_ref == image_id
