#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Build the test images from Debian's busybox-static, offline and deterministically, as OCI image layouts.

Every image is built the same way each time: tar entries in a fixed order with fixed mtimes, owners and
modes; gzip streams without a name and with mtime 0; JSON with sorted keys. So the digests only change
when this file or /bin/busybox changes. Layouts are cached under $CRIO_TEST_IMAGE_CACHE (default
/tmp/crio-c-test-images) in a directory named after a hash of both, so a second run costs nothing.

Layout of the cache directory <cache>/<key>/:
    layouts/<repo>/           an OCI image layout per repository; its index.json names every tag
                              (annotation org.opencontainers.image.ref.name)
    catalog.json              what the tests need to know: per "repo:tag", the manifest digest and media
                              type, the image ID (config digest hex), layers, diff_ids, platforms...
    extra/                    manifests a real registry refuses to store (Docker schema 1), served by
                              the tests' own fake registry

Images (repository:tag):
    busybox:latest, busybox:1.36  one layer: /bin/busybox + every applet as a hard link, /etc/passwd+group
                                  (root, nobody), Cmd ["sh"], Env PATH, labels
    org/team/busybox:latest       the same image under a nested repository path
    multiarch:latest              OCI index: linux/amd64 + linux/arm64/v8; each has /arch and label
                                  org.crio-c.test.arch naming its architecture
    docker:v2                     Docker schema 2 manifest (docker media types)
    docker:list                   Docker manifest list of two Docker schema 2 manifests (amd64, arm64)
    layered:latest                4 layers: whiteouts, an opaque dir, hard link, symlink, setuid file,
                                  fifo, char device, files owned by 1000:1000, a user xattr
    big:latest                    5 layers of ~10 MiB of incompressible (seeded PRNG) data, gzip
    big:single                    1 layer of ~50 MiB of such data (and the busybox rootfs), gzip
    zstd:latest                   like big (other data), layers zstd-compressed (tar+zstd media type)
    zstd:small                    busybox rootfs as a single zstd layer
    user:numeric, user:named      config User "1000" / "nobody"
    plain:latest                  the busybox rootfs as an uncompressed layer (media type ...tar)
    sha512:latest                 busybox with sha512 digests for manifest, config and layer
    evil:dotdot, evil:symlink, evil:symlink-rel, evil:hardlink, evil:hardlink-write,
                                  evil:absolute
                                  a harmless first layer, then a layer that tries to write outside its
                                  directory (see EVIL_TARGETS)
    evil:etc-special              busybox with /etc/passwd a FIFO and /etc/group a device node (1:3)

Command line:
    build.py                      build (or reuse) and print the cache directory
    build.py --push HOST:PORT     and push every repository there (plain HTTP, our own client)
    build.py --skopeo             push with `skopeo copy --all` instead
    build.py --list               print the catalog
"""

import argparse
import base64
import concurrent.futures
import gzip
import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

BUSYBOX = Path(os.environ.get("CRIO_TEST_BUSYBOX", "/bin/busybox"))
DEFAULT_CACHE = "/tmp/crio-c-test-images"

MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MT_OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MT_DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"
MANIFEST_TYPES = (MT_OCI_MANIFEST, MT_OCI_INDEX, MT_DOCKER_MANIFEST, MT_DOCKER_LIST, MT_DOCKER_SCHEMA1)

MTIME = 1704067200  # 2024-01-01T00:00:00Z
CREATED = "2024-01-01T00:00:00Z"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LABEL = "org.crio-c.test"
ARCH_LABEL = "org.crio-c.test.arch"

# Where the evil layers try to write. A correct extractor never creates these paths.
EVIL_TARGETS = {
    "dotdot": "/tmp/crio-c-evil-dotdot",
    "symlink": "/tmp/crio-c-evil-symlink/pwned",
    "symlink-rel": "/tmp/crio-c-evil-symlink-rel/pwned",
    "hardlink": "/etc/passwd",  # only linked into the layer: never written through, this is the host's
    "hardlink-write": "/tmp/crio-c-evil-hardlink-target",  # linked, then written through the link
    "absolute": "/tmp/crio-c-evil-absolute",
}
_UP = "../" * 24  # more ".." than any store path is deep


def go_arch(machine=None):
    """This machine's architecture in OCI (GOARCH) spelling."""
    machine = machine or platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
            "s390x": "s390x", "riscv64": "riscv64"}.get(machine, machine)


def canonical_json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def sha256_digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def digest_of(data, algo="sha256"):
    return f"{algo}:{hashlib.new(algo, data).hexdigest()}"


# ---------------------------------------------------------------------------------------------------------
# Tar layers


class Layer:
    """A tar stream under construction: entries are written in the order they are added."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)

    def _info(self, name, type_, mode, uid, gid, **kw):
        ti = tarfile.TarInfo(name)
        ti.type = type_
        ti.mode = mode
        ti.uid, ti.gid = uid, gid
        ti.uname = ti.gname = ""
        ti.mtime = MTIME
        for k, v in kw.items():
            setattr(ti, k, v)
        return ti

    def dir(self, name, mode=0o755, uid=0, gid=0):
        self.tar.addfile(self._info(name, tarfile.DIRTYPE, mode, uid, gid))
        return self

    def file(self, name, data=b"", mode=0o644, uid=0, gid=0, xattrs=None):
        ti = self._info(name, tarfile.REGTYPE, mode, uid, gid, size=len(data))
        if xattrs:
            ti.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in xattrs.items()}
        self.tar.addfile(ti, io.BytesIO(data))
        return self

    def hardlink(self, name, target, mode=0o644, uid=0, gid=0):
        self.tar.addfile(self._info(name, tarfile.LNKTYPE, mode, uid, gid, linkname=target))
        return self

    def symlink(self, name, target):
        self.tar.addfile(self._info(name, tarfile.SYMTYPE, 0o777, 0, 0, linkname=target))
        return self

    def fifo(self, name, mode=0o600, uid=0, gid=0):
        self.tar.addfile(self._info(name, tarfile.FIFOTYPE, mode, uid, gid))
        return self

    def chardev(self, name, major, minor, mode=0o666):
        self.tar.addfile(self._info(name, tarfile.CHRTYPE, mode, 0, 0, devmajor=major, devminor=minor))
        return self

    def whiteout(self, path):
        d, _, base = path.rpartition("/")
        return self.file((d + "/" if d else "") + ".wh." + base)

    def opaque(self, dirpath):
        return self.file(dirpath.rstrip("/") + "/.wh..wh..opq")

    def tarball(self):
        self.tar.close()
        return self.buf.getvalue()


def compress(tar, compression):
    if compression == "gzip":
        out = io.BytesIO()
        # Incompressible data gains nothing from a higher level; keep the big image quick to build.
        level = 1 if len(tar) > 4 << 20 else 6
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=level) as gz:
            gz.write(tar)
        return out.getvalue()
    if compression == "zstd":
        return subprocess.run(["zstd", "-q", "-3", "-c", "--no-check"], input=tar, capture_output=True,
                              check=True).stdout
    if compression == "none":
        return tar
    raise ValueError(compression)


def busybox_rootfs(layer, busybox_bytes, applets, arch_marker=None):
    """The base root filesystem: FHS dirs, busybox with hard-linked applets, passwd and group."""
    for d, mode in (("bin", 0o755), ("dev", 0o755), ("etc", 0o755), ("home", 0o755), ("proc", 0o555),
                    ("root", 0o700), ("sys", 0o555), ("tmp", 0o1777), ("usr", 0o755), ("usr/bin", 0o755),
                    ("usr/sbin", 0o755), ("var", 0o755), ("var/tmp", 0o1777)):
        layer.dir(d, mode)
    layer.file("bin/busybox", busybox_bytes, mode=0o755)
    for a in applets:
        layer.hardlink("bin/" + a, "bin/busybox", mode=0o755)
    layer.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"
                             b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    layer.file("etc/group", b"root:x:0:\nnogroup:x:65534:\n")
    layer.file("etc/hostname", b"busybox\n")
    if arch_marker:
        layer.file("arch", arch_marker.encode() + b"\n")
    return layer


# ---------------------------------------------------------------------------------------------------------
# OCI layouts


class LayoutWriter:
    """One OCI image layout (a repository): blobs plus index.json with one entry per tag."""

    def __init__(self, root):
        self.root = Path(root)
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (self.root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        self.tags = []  # (tag, descriptor)

    def blob(self, data, media_type, algo="sha256"):
        digest = digest_of(data, algo)
        (self.root / "blobs" / algo).mkdir(exist_ok=True)
        path = self.root / "blobs" / algo / digest.split(":")[1]
        if not path.exists():
            path.write_bytes(data)
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def tag(self, tag, descriptor):
        d = dict(descriptor)
        d["annotations"] = {"org.opencontainers.image.ref.name": tag}
        self.tags.append(d)

    def finish(self):
        index = {"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": self.tags}
        (self.root / "index.json").write_bytes(canonical_json(index))


class Builder:
    def __init__(self, outdir):
        self.outdir = Path(outdir)
        self.layouts = {}
        self.catalog = {}
        self.busybox = BUSYBOX.read_bytes()
        listed = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True).stdout
        self.applets = sorted(a for a in listed.split() if a not in ("busybox", "") and "/" not in a)
        self.arch = go_arch()
        self._layer_cache = {}

    def layout(self, repo):
        if repo not in self.layouts:
            self.layouts[repo] = LayoutWriter(self.outdir / "layouts" / repo)
        return self.layouts[repo]

    def layer_blob(self, key, make_tar, compression="gzip"):
        """(compressed bytes, diff_id) of a layer, built once per key."""
        if (key, compression) not in self._layer_cache:
            tar = make_tar()
            self._layer_cache[(key, compression)] = (compress(tar, compression), sha256_digest(tar))
        return self._layer_cache[(key, compression)]

    def base_layer(self, compression="gzip"):
        return self.layer_blob("busybox", lambda: busybox_rootfs(Layer(), self.busybox, self.applets).tarball(),
                               compression)

    def image(self, repo, tags, layers, *, arch=None, variant=None, docker=False, config=None, labels=None,
              user=None, compression="gzip", tag=True, algo="sha256"):
        """Write config and manifest of a single-platform image; returns its catalog entry.

        layers: list of (compressed bytes, diff_id)."""
        lw = self.layout(repo)
        arch = arch or self.arch
        cfg = {"Cmd": ["sh"], "Env": [PATH_ENV], "WorkingDir": "/",
               "Labels": {LABEL: f"{repo}:{tags[0] if tags else ''}", ARCH_LABEL: arch, **(labels or {})}}
        if user is not None:
            cfg["User"] = user
        cfg.update(config or {})
        image_config = {
            "created": CREATED, "architecture": arch, "os": "linux", "config": cfg,
            "rootfs": {"type": "layers", "diff_ids": [diff_id for _, diff_id in layers]},
            "history": [{"created": CREATED, "created_by": f"tests/images/build.py layer {i}"}
                        for i in range(len(layers))],
        }
        if variant:
            image_config["variant"] = variant
        layer_mt = {"gzip": MT_OCI_LAYER_GZIP, "zstd": MT_OCI_LAYER_ZSTD, "none": MT_OCI_LAYER_TAR}[compression]
        if docker:
            assert compression == "gzip"
            layer_mt = MT_DOCKER_LAYER_GZIP
        config_desc = lw.blob(canonical_json(image_config), MT_DOCKER_CONFIG if docker else MT_OCI_CONFIG, algo)
        layer_descs = [lw.blob(blob, layer_mt, algo) for blob, _ in layers]
        manifest = {"schemaVersion": 2, "mediaType": MT_DOCKER_MANIFEST if docker else MT_OCI_MANIFEST,
                    "config": config_desc, "layers": layer_descs}
        mdesc = lw.blob(canonical_json(manifest), manifest["mediaType"], algo)
        entry = {
            "repo": repo, "media_type": manifest["mediaType"], "digest": mdesc["digest"], "size": mdesc["size"],
            "config_digest": config_desc["digest"], "id": config_desc["digest"].split(":")[1],
            "layers": [d["digest"] for d in layer_descs], "layer_sizes": [d["size"] for d in layer_descs],
            "diff_ids": [diff_id for _, diff_id in layers], "arch": arch, "os": "linux", "user": user,
            "labels": cfg["Labels"], "compression": compression,
        }
        if variant:
            entry["variant"] = variant
        if tag:
            for t in tags:
                lw.tag(t, mdesc)
                self.catalog[f"{repo}:{t}"] = dict(entry, tag=t)
        entry["descriptor"] = mdesc
        return entry

    def index(self, repo, tag, children, docker=False):
        """An OCI index (or Docker manifest list) over single-platform catalog entries."""
        lw = self.layout(repo)
        mt = MT_DOCKER_LIST if docker else MT_OCI_INDEX
        manifests = []
        for child in children:
            d = dict(child["descriptor"])
            d["platform"] = {"architecture": child["arch"], "os": "linux"}
            if child.get("variant"):
                d["platform"]["variant"] = child["variant"]
            manifests.append(d)
        desc = lw.blob(canonical_json({"schemaVersion": 2, "mediaType": mt, "manifests": manifests}), mt)
        lw.tag(tag, desc)
        self.catalog[f"{repo}:{tag}"] = {
            "repo": repo, "tag": tag, "media_type": mt, "digest": desc["digest"], "size": desc["size"],
            "platforms": {c["arch"] + (("/" + c["variant"]) if c.get("variant") else ""):
                          {k: v for k, v in c.items() if k != "descriptor"} for c in children},
        }

    # -- the images ------------------------------------------------------------------------------------

    GROUPS = ("basic", "multiarch", "layered", "big", "evil", "schema1")

    def build_all(self, groups=GROUPS):
        """Build the images of the named groups (all by default) and write the layouts' index.json."""
        for g in groups:
            getattr(self, "build_" + g)()
        for lw in self.layouts.values():
            lw.finish()

    def build_basic(self):
        base = self.base_layer()
        self.image("busybox", ["latest", "1.36"], [base], labels={"org.crio-c.test.image": "busybox"})
        self.image("org/team/busybox", ["latest"], [base], labels={"org.crio-c.test.image": "busybox"})
        self.image("user", ["numeric"], [base], user="1000")
        self.image("user", ["named"], [base], user="nobody")
        self.image("plain", ["latest"], [self.base_layer("none")], compression="none",
                   labels={"org.crio-c.test.image": "plain"})
        self.image("sha512", ["latest"], [base], algo="sha512", labels={"org.crio-c.test.image": "sha512"})

    def arch_layer(self, arch):
        return self.layer_blob("arch-" + arch, lambda: Layer().file("arch", arch.encode() + b"\n").tarball())

    def build_multiarch(self):
        base = self.base_layer()
        amd = self.image("multiarch", [], [base, self.arch_layer("amd64")], arch="amd64", tag=False)
        arm = self.image("multiarch", [], [base, self.arch_layer("arm64")], arch="arm64", variant="v8", tag=False)
        self.index("multiarch", "latest", [amd, arm])
        self.image("docker", ["v2"], [base], docker=True, labels={"org.crio-c.test.image": "docker"})
        damd = self.image("docker", [], [base, self.arch_layer("amd64")], arch="amd64", docker=True, tag=False)
        darm = self.image("docker", [], [base, self.arch_layer("arm64")], arch="arm64", variant="v8",
                          docker=True, tag=False)
        self.index("docker", "list", [damd, darm], docker=True)

    def build_layered(self):
        l2 = (Layer()
              .dir("data")
              .file("data/keep", b"layer 2\n")
              .file("data/remove-me", b"removed by layer 3\n")
              .dir("data/gone-dir").file("data/gone-dir/inside", b"removed with its dir by layer 4\n")
              .dir("data/opaque").file("data/opaque/old1", b"hidden by the opaque dir\n")
              .file("data/opaque/old2", b"hidden by the opaque dir\n")
              .file("data/file", b"hard-linked content\n", mode=0o640)
              .hardlink("data/hardlink", "data/file", mode=0o640)
              .symlink("data/symlink", "file")
              .symlink("data/abs-symlink", "/bin/busybox")
              .file("data/setuid", b"#!/bin/sh\necho setuid\n", mode=0o4755)
              .file("data/setgid", b"#!/bin/sh\necho setgid\n", mode=0o2755)
              .fifo("data/fifo", mode=0o600)
              .chardev("data/null", 1, 3, mode=0o666)
              .file("data/owned", b"owned by 1000:1000\n", mode=0o640, uid=1000, gid=1000)
              .dir("data/owned-dir", mode=0o700, uid=1000, gid=1000)
              .file("data/owned-dir/f", b"x\n", mode=0o600, uid=1000, gid=1000)
              .file("data/xattr", b"has a user xattr\n", xattrs={"user.crio-test": "hello"})
              .dir("data/sticky", mode=0o1777)
              .tarball())
        l3 = (Layer()
              .dir("data")
              .whiteout("data/remove-me")
              .file("data/keep", b"layer 3\n")
              .dir("data/opaque").opaque("data/opaque")
              .file("data/opaque/new", b"only file visible in the opaque dir\n")
              .tarball())
        l4 = (Layer()
              .dir("data")
              .whiteout("data/gone-dir")
              .file("data/layer4", b"layer 4\n")
              .tarball())
        layers = [self.base_layer()] + [self.layer_blob(f"layered-{i}", lambda t=t: t)
                                        for i, t in ((2, l2), (3, l3), (4, l4))]
        self.image("layered", ["latest"], layers, labels={"org.crio-c.test.image": "layered"})

    def random_layer(self, seed, size, files, with_base=False):
        """A layer of `files` files of incompressible bytes (SHAKE-256 of the seed: fast and deterministic)."""
        def make():
            layer = busybox_rootfs(Layer(), self.busybox, self.applets) if with_base else Layer()
            layer.dir("big")
            layer.dir(f"big/{seed}")
            per = size // files
            for i in range(files):
                layer.file(f"big/{seed}/f{i:02d}", hashlib.shake_256(f"{seed}/{i}".encode()).digest(per))
            return layer.tarball()
        return make

    def build_big(self):
        """big:latest and zstd:latest, 5 layers of ~10 MiB each (the first also holds the busybox rootfs,
        so the image can run), and big:single, one layer of ~50 MiB (the pull benchmark's second case).
        Layers are compressed in parallel: zlib and zstd run outside the GIL."""
        jobs = [("big", i, "gzip") for i in range(5)] + [("single", 0, "gzip")]
        if shutil.which("zstd"):
            jobs += [("zstd", i, "zstd") for i in range(5)]

        def one(job):
            name, i, compression = job
            size, files = (50 << 20, 50) if name == "single" else ((8 << 20) if i == 0 else (10 << 20), 10)
            return self.layer_blob(f"{name}-{i}", self.random_layer(f"{name}-{i}", size, files, i == 0),
                                   compression)

        self.base_layer()
        self.base_layer("zstd") if shutil.which("zstd") else None
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            blobs = dict(zip(jobs, pool.map(one, jobs)))
        self.image("big", ["latest"], [blobs[("big", i, "gzip")] for i in range(5)],
                   labels={"org.crio-c.test.image": "big"})
        self.image("big", ["single"], [blobs[("single", 0, "gzip")]], labels={"org.crio-c.test.image": "big-single"})
        if shutil.which("zstd"):
            self.image("zstd", ["latest"], [blobs[("zstd", i, "zstd")] for i in range(5)], compression="zstd",
                       labels={"org.crio-c.test.image": "zstd"})
            self.image("zstd", ["small"], [self.base_layer("zstd")], compression="zstd",
                       labels={"org.crio-c.test.image": "zstd-small"})

    def build_evil(self):
        harmless = self.layer_blob("evil-base", lambda: Layer().dir("ok").file("ok/file", b"harmless\n").tarball())
        evil = {
            "dotdot": Layer().file(_UP + EVIL_TARGETS["dotdot"].lstrip("/"), b"escaped via ..\n"),
            "absolute": Layer().file(EVIL_TARGETS["absolute"], b"absolute path\n"),
            "symlink": (Layer().symlink("escape", os.path.dirname(EVIL_TARGETS["symlink"]))
                        .file("escape/pwned", b"escaped through an absolute symlink\n")),
            "symlink-rel": (Layer().symlink("escape", _UP + os.path.dirname(EVIL_TARGETS["symlink-rel"]).lstrip("/"))
                            .file("escape/pwned", b"escaped through a relative symlink\n")),
            "hardlink": Layer().dir("etc").hardlink("etc/host-passwd", _UP + "etc/passwd"),
            # The test creates the target first; a naive extractor opens the link and truncates it.
            "hardlink-write": (Layer().hardlink("target", _UP + EVIL_TARGETS["hardlink-write"].lstrip("/"))
                               .file("target", b"written through a hard link\n")),
        }
        for tag, layer in evil.items():
            blob = self.layer_blob("evil-" + tag, lambda layer=layer: layer.tarball())
            self.image("evil", [tag], [harmless, blob], labels={"org.crio-c.test.image": "evil-" + tag})
        # Runnable, with files the daemon reads at create that are not regular: a FIFO and a device node.
        special = self.layer_blob("evil-etc-special", lambda: (Layer().dir("etc").fifo("etc/passwd", mode=0o644)
                                                              .chardev("etc/group", 1, 3, mode=0o644).tarball()))
        self.image("evil", ["etc-special"], [self.base_layer(), special],
                   labels={"org.crio-c.test.image": "evil-etc-special"})

    def build_schema1(self):
        """A Docker schema 1 manifest (unsigned form), for the fake registry to serve: daemons must refuse."""
        base, diff_id = self.base_layer()
        body = canonical_json({
            "schemaVersion": 1, "name": "schema1", "tag": "latest", "architecture": self.arch,
            "fsLayers": [{"blobSum": sha256_digest(base)}],
            "history": [{"v1Compatibility": json.dumps({"id": hashlib.sha256(b"schema1").hexdigest(),
                                                        "created": CREATED, "architecture": self.arch,
                                                        "os": "linux", "config": {"Cmd": ["sh"]}})}],
        })
        extra = self.outdir / "extra"
        extra.mkdir(parents=True, exist_ok=True)
        (extra / "schema1.json").write_bytes(body)
        self.catalog["schema1:latest"] = {"repo": "schema1", "tag": "latest", "media_type": MT_DOCKER_SCHEMA1,
                                          "digest": sha256_digest(body), "size": len(body), "extra": "schema1.json",
                                          "layers": [sha256_digest(base)], "blob_repo": "busybox"}


# ---------------------------------------------------------------------------------------------------------
# Cache


def cache_key():
    h = hashlib.sha256()
    h.update(Path(__file__).read_bytes())
    h.update(BUSYBOX.read_bytes())
    h.update(b"zstd" if shutil.which("zstd") else b"no-zstd")
    return h.hexdigest()[:16]


def cache_root():
    return Path(os.environ.get("CRIO_TEST_IMAGE_CACHE") or DEFAULT_CACHE)


def ensure_built(cache=None):
    """Build the images unless the cache holds them; returns a Catalog. Safe against concurrent callers."""
    cache = Path(cache) if cache else cache_root()
    out = cache / cache_key()
    if not (out / "catalog.json").exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=cache))
        try:
            b = Builder(tmp)
            b.build_all()
            (tmp / "catalog.json").write_text(json.dumps(b.catalog, indent=1, sort_keys=True))
            try:
                tmp.rename(out)
            except OSError:
                if not (out / "catalog.json").exists():  # not another builder winning the race
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        prune(cache, keep=out)
    return Catalog(out)


def prune(cache, keep, keep_others=2):
    """Remove builds of older versions of this file (~110 MiB each) but the `keep_others` most recent,
    and scratch directories of builds that died over an hour ago."""
    others = sorted((p for p in cache.iterdir() if p.is_dir() and p != keep and not p.name.startswith(".")),
                    key=lambda p: p.stat().st_mtime, reverse=True)
    stale = [p for p in cache.glob(".build-*") if p.stat().st_mtime < time.time() - 3600]
    for p in others[keep_others:] + stale:
        shutil.rmtree(p, ignore_errors=True)


class Catalog:
    """The built images: catalog entries ("repo:tag" -> dict) and access to layouts and blobs."""

    def __init__(self, root):
        self.root = Path(root)
        self.images = json.loads((self.root / "catalog.json").read_text())

    def __getitem__(self, name):
        return self.images[name]

    def __contains__(self, name):
        return name in self.images

    def layout(self, repo):
        return self.root / "layouts" / repo

    def repos(self):
        return sorted(str(p.relative_to(self.root / "layouts").parent)
                      for p in (self.root / "layouts").rglob("oci-layout"))

    def blob_path(self, repo, digest):
        algo, hexd = digest.split(":", 1)
        return self.layout(repo) / "blobs" / algo / hexd

    def blob(self, repo, digest):
        return self.blob_path(repo, digest).read_bytes()

    def extra(self, name):
        return (self.root / "extra" / name).read_bytes()

    def tags(self, repo):
        """[(tag, descriptor)] from the layout's index.json."""
        index = json.loads((self.layout(repo) / "index.json").read_text())
        return [(d["annotations"]["org.opencontainers.image.ref.name"], d) for d in index["manifests"]]

    def manifest(self, repo, digest):
        return json.loads(self.blob(repo, digest))

    def blobs_of(self, repo, digest):
        """Every blob digest reachable from a manifest or index, children first, then `digest` itself:
        the order to push in. Returns [(digest, media type)]."""
        body = self.manifest(repo, digest)
        mt = body.get("mediaType")
        out = []
        if mt in (MT_OCI_INDEX, MT_DOCKER_LIST):
            for child in body["manifests"]:
                out += self.blobs_of(repo, child["digest"])
        else:
            out.append((body["config"]["digest"], body["config"]["mediaType"]))
            out += [(layer["digest"], layer["mediaType"]) for layer in body["layers"]]
        out.append((digest, mt))
        return out


# ---------------------------------------------------------------------------------------------------------
# Push


class PushError(Exception):
    pass


class Pusher:
    """A minimal distribution-API client: blob uploads (monolithic PUT) and manifest PUTs over plain HTTP,
    with Basic or Bearer (token flow) authentication when credentials are given."""

    def __init__(self, host, username=None, password=None, scheme="http", context=None):
        self.base = f"{scheme}://{host}"
        self.creds = (username, password) if username is not None else None
        self.context = context
        self.tokens = {}

    def _auth_header(self, challenge, scope):
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            if not self.creds:
                raise PushError("registry wants Basic credentials")
            return "Basic " + base64.b64encode(f"{self.creds[0]}:{self.creds[1]}".encode()).decode()
        fields = dict(p.split("=", 1) for p in _split_challenge(params))
        fields = {k: v.strip('"') for k, v in fields.items()}
        query = {"service": fields.get("service", ""), "scope": scope}
        req = urllib.request.Request(fields["realm"] + "?" + urllib.parse.urlencode(query))
        if self.creds:
            req.add_header("Authorization", "Basic " + base64.b64encode(
                f"{self.creds[0]}:{self.creds[1]}".encode()).decode())
        with urllib.request.urlopen(req, timeout=30, context=self.context) as r:
            body = json.loads(r.read())
        return "Bearer " + (body.get("token") or body["access_token"])

    def request(self, method, url, data=None, headers=None, scope=None):
        if not url.startswith("http"):
            url = self.base + url
        for attempt in range(2):
            req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
            if scope in self.tokens:
                req.add_header("Authorization", self.tokens[scope])
            try:
                with urllib.request.urlopen(req, timeout=60, context=self.context) as r:
                    return r.status, dict(r.headers), r.read()
            except urllib.error.HTTPError as e:
                if e.code == 401 and attempt == 0 and "WWW-Authenticate" in e.headers:
                    self.tokens[scope] = self._auth_header(e.headers["WWW-Authenticate"], scope)
                    continue
                if method == "HEAD" and e.code == 404:
                    return 404, dict(e.headers), b""
                raise PushError(f"{method} {url}: HTTP {e.code}: {e.read()[:300]!r}") from None
        raise PushError(f"{method} {url}: still unauthorized")

    def push_blob(self, repo, digest, data):
        scope = f"repository:{repo}:pull,push"
        status, _, _ = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", scope=scope)
        if status == 200:
            return
        _, headers, _ = self.request("POST", f"/v2/{repo}/blobs/uploads/", data=b"", scope=scope)
        loc = headers["Location"]
        if not loc.startswith("http"):
            loc = self.base + loc
        sep = "&" if "?" in loc else "?"
        self.request("PUT", f"{loc}{sep}digest={urllib.parse.quote(digest)}", data=data, scope=scope,
                     headers={"Content-Type": "application/octet-stream"})

    def push_manifest(self, repo, ref, data, media_type):
        self.request("PUT", f"/v2/{repo}/manifests/{ref}", data=data, headers={"Content-Type": media_type},
                     scope=f"repository:{repo}:pull,push")

    def push_repo(self, catalog, repo, as_repo=None, tags=None):
        """Push a layout's tags (all, or those named) to repository `as_repo` (default: the same name)."""
        dest = as_repo or repo
        for tag, desc in catalog.tags(repo):
            if tags is not None and tag not in tags:
                continue
            for digest, mt in catalog.blobs_of(repo, desc["digest"]):
                data = catalog.blob(repo, digest)
                if mt in MANIFEST_TYPES:
                    # docker-registry names manifests by their sha256 only: others go up by tag alone.
                    if digest.startswith("sha256:"):
                        self.push_manifest(dest, digest, data, mt)
                else:
                    self.push_blob(dest, digest, data)
            self.push_manifest(dest, tag, catalog.blob(repo, desc["digest"]), desc["mediaType"])


def _split_challenge(params):
    """Split `a="x,y",b=z` on commas outside quotes."""
    out, cur, quoted = [], "", False
    for ch in params:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def push_all(catalog, host, username=None, password=None, repos=None):
    p = Pusher(host, username, password)
    for repo in repos or catalog.repos():
        p.push_repo(catalog, repo)


def skopeo_push_all(catalog, host, repos=None):
    """Push with skopeo. Its oci: transport (1.9) only reads OCI media types, so tags whose manifest uses
    Docker media types go through our own client."""
    for repo in repos or catalog.repos():
        for tag, desc in catalog.tags(repo):
            if desc["mediaType"] not in (MT_OCI_MANIFEST, MT_OCI_INDEX):
                Pusher(host).push_repo(catalog, repo, tags=[tag])
                continue
            subprocess.run(["skopeo", "copy", "--quiet", "--all", "--preserve-digests", "--dest-tls-verify=false",
                            f"oci:{catalog.layout(repo)}:{tag}", f"docker://{host}/{repo}:{tag}"],
                           check=True, capture_output=True, timeout=120)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", help=f"cache directory (default $CRIO_TEST_IMAGE_CACHE or {DEFAULT_CACHE})")
    ap.add_argument("--push", metavar="HOST:PORT", help="push every repository to this plain-HTTP registry")
    ap.add_argument("--skopeo", action="store_true", help="push with skopeo copy --all instead of our client")
    ap.add_argument("--list", action="store_true", help="print the catalog")
    args = ap.parse_args()
    t0 = time.monotonic()
    cat = ensure_built(args.cache)
    print(f"images in {cat.root} ({time.monotonic() - t0:.1f}s)", file=sys.stderr)
    if args.push:
        t0 = time.monotonic()
        (skopeo_push_all if args.skopeo else push_all)(cat, args.push)
        print(f"pushed to {args.push} ({time.monotonic() - t0:.1f}s)", file=sys.stderr)
    if args.list:
        for name, e in sorted(cat.images.items()):
            print(f"{name:24} {e['media_type']:55} {e['digest']}")
    else:
        print(cat.root)


if __name__ == "__main__":
    main()
