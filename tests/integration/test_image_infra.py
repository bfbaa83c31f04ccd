# SPDX-License-Identifier: Apache-2.0
"""The image tests' own machinery, without the daemon: the built images, docker-registry with and without
auth, the token server, the fake registry's faults. If these fail, the image tests' failures say nothing
about crio."""

import base64
import gzip
import http.client
import io
import json
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.request

import pytest

import registry as reg

images = reg.images
OCI_ACCEPT = ", ".join([images.MT_OCI_MANIFEST, images.MT_OCI_INDEX, images.MT_DOCKER_MANIFEST, images.MT_DOCKER_LIST])


def get(url, headers=None, timeout=5):
    """(status, headers, body) of a GET; HTTP errors are returned, not raised."""
    req = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def skopeo(*args, timeout=60):
    if not shutil.which("skopeo"):
        pytest.skip("skopeo is not installed")
    return subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------------------------------------------------
# The images


def test_catalog_has_every_image(test_images):
    want = {"busybox:latest", "busybox:1.36", "org/team/busybox:latest", "multiarch:latest", "docker:v2",
            "docker:list", "layered:latest", "big:latest", "user:numeric", "user:named", "evil:dotdot",
            "evil:symlink", "evil:symlink-rel", "evil:hardlink", "evil:hardlink-write", "evil:absolute",
            "schema1:latest", "plain:latest", "sha512:latest"}
    if shutil.which("zstd"):
        want |= {"zstd:latest", "zstd:small"}
    assert want <= set(test_images.images)


def test_blobs_match_their_digests(test_images):
    for repo in test_images.repos():
        for tag, desc in test_images.tags(repo):
            for digest, _ in test_images.blobs_of(repo, desc["digest"]):
                data = test_images.blob(repo, digest)
                assert images.digest_of(data, digest.split(":")[0]) == digest, f"{repo}:{tag} blob {digest}"


def test_image_ids_are_config_digests(test_images):
    for name, e in test_images.images.items():
        if "config_digest" in e:
            cfg = json.loads(test_images.blob(e["repo"], e["config_digest"]))
            assert e["id"] == e["config_digest"].split(":")[1]
            assert cfg["rootfs"]["diff_ids"] == e["diff_ids"], name
            assert cfg["config"]["Labels"][images.ARCH_LABEL] == e["arch"]


def test_diff_ids_match_the_uncompressed_layers(test_images):
    e = test_images["layered:latest"]
    for digest, diff_id in zip(e["layers"], e["diff_ids"]):
        assert images.sha256_digest(gzip.decompress(test_images.blob("layered", digest))) == diff_id
    if "zstd:small" in test_images:
        z = test_images["zstd:small"]
        tar = subprocess.run(["zstd", "-dc"], input=test_images.blob("zstd", z["layers"][0]), capture_output=True,
                             check=True).stdout
        assert images.sha256_digest(tar) == z["diff_ids"][0] == test_images["busybox:latest"]["diff_ids"][0]


def layer_members(test_images, name, i):
    e = test_images[name]
    data = gzip.decompress(test_images.blob(e["repo"], e["layers"][i]))
    return {m.name: m for m in tarfile.open(fileobj=io.BytesIO(data))}


def test_busybox_layer(test_images):
    m = layer_members(test_images, "busybox:latest", 0)
    assert m["bin/busybox"].isfile() and m["bin/busybox"].mode == 0o755
    assert m["bin/sh"].islnk() and m["bin/sh"].linkname == "bin/busybox"
    for applet in ("ls", "cat", "echo", "sleep", "true", "id", "env"):
        assert m["bin/" + applet].islnk()
    assert b"nobody" in tarfile.open(fileobj=io.BytesIO(gzip.decompress(test_images.blob(
        "busybox", test_images["busybox:latest"]["layers"][0])))).extractfile("etc/passwd").read()
    assert all(x.mtime == images.MTIME and x.uname == "" for x in m.values())
    cfg = json.loads(test_images.blob("busybox", test_images["busybox:latest"]["config_digest"]))
    assert cfg["config"]["Cmd"] == ["sh"] and cfg["config"]["Env"][0].startswith("PATH=")


def test_layered_layers(test_images):
    l2 = layer_members(test_images, "layered:latest", 1)
    assert l2["data/hardlink"].islnk() and l2["data/symlink"].issym() and l2["data/fifo"].isfifo()
    assert l2["data/setuid"].mode == 0o4755 and (l2["data/owned"].uid, l2["data/owned"].gid) == (1000, 1000)
    assert l2["data/xattr"].pax_headers.get("SCHILY.xattr.user.crio-test") == "hello"
    l3 = layer_members(test_images, "layered:latest", 2)
    assert "data/.wh.remove-me" in l3 and "data/opaque/.wh..wh..opq" in l3
    assert "data/.wh.gone-dir" in layer_members(test_images, "layered:latest", 3)


def test_evil_layers_point_outside(test_images):
    for tag in images.EVIL_TARGETS:
        e = test_images[f"evil:{tag}"]
        data = gzip.decompress(test_images.blob("evil", e["layers"][1]))
        members = tarfile.open(fileobj=io.BytesIO(data)).getmembers()
        assert any(x.name.startswith(("../", "/")) or x.linkname.startswith(("../", "/")) for x in members), tag


def test_big_image_is_about_50_mib_and_incompressible(test_images):
    e = test_images["big:latest"]
    assert len(e["layers"]) == 5
    assert 45 << 20 <= sum(e["layer_sizes"]) <= 60 << 20


def test_multiarch_index(test_images):
    e = test_images["multiarch:latest"]
    assert e["media_type"] == images.MT_OCI_INDEX
    assert set(e["platforms"]) == {"amd64", "arm64/v8"}
    assert len({p["id"] for p in e["platforms"].values()}) == 2
    assert test_images["docker:list"]["media_type"] == images.MT_DOCKER_LIST
    assert test_images["docker:v2"]["media_type"] == images.MT_DOCKER_MANIFEST


def test_build_is_deterministic(test_images, tmp_path):
    """A fresh build yields the same digests (all but the big images, to stay quick)."""
    b = images.Builder(tmp_path)
    b.build_all([g for g in images.Builder.GROUPS if g != "big"])
    assert len(b.catalog) > 10
    assert {k: v["digest"] for k, v in b.catalog.items()} == \
        {k: test_images[k]["digest"] for k in b.catalog}


# ---------------------------------------------------------------------------------------------------------
# docker-registry


def test_registry_serves_the_images(image_registry, test_images):
    for name in ("busybox:latest", "multiarch:latest", "docker:v2", "docker:list", "zstd:small", "evil:dotdot"):
        if name not in test_images:
            continue
        e = test_images[name]
        repo, tag = name.rsplit(":", 1)
        status, headers, body = get(f"{image_registry.url}/v2/{repo}/manifests/{tag}", {"Accept": OCI_ACCEPT})
        assert status == 200, name
        assert headers["Docker-Content-Digest"] == e["digest"] and headers["Content-Type"] == e["media_type"], name
    e = test_images["busybox:latest"]
    status, _, body = get(f"{image_registry.url}/v2/busybox/blobs/{e['layers'][0]}")
    assert status == 200 and images.sha256_digest(body) == e["layers"][0]


def test_skopeo_inspects_the_registry(image_registry, test_images):
    r = skopeo("inspect", "--tls-verify=false", f"docker://{image_registry.host}/busybox:latest")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["Digest"] == test_images["busybox:latest"]["digest"]
    assert sorted(info["RepoTags"]) == ["1.36", "latest"]
    r = skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{image_registry.host}/multiarch:latest")
    assert r.returncode == 0 and images.sha256_digest(r.stdout.encode()) == test_images["multiarch:latest"]["digest"]


def test_access_log_records_requests(image_registry, test_images):
    mark = image_registry.mark()
    digest = test_images["busybox:latest"]["layers"][0]
    get(f"{image_registry.url}/v2/busybox/blobs/{digest}")
    deadline = time.monotonic() + 2
    while not image_registry.blob_gets("busybox", digest, since=mark) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [e.status for e in image_registry.blob_gets("busybox", digest, since=mark)] == [200]


def test_skopeo_pushes_the_layouts_with_their_digests(test_images, tmp_path):
    """The layouts are valid OCI layouts: skopeo copies them (and the index with --all) unchanged."""
    with reg.Registry(tmp_path / "r") as r:
        images.skopeo_push_all(test_images, r.host, repos=["busybox", "multiarch", "docker"])  # docker: our client
        for name in ("busybox:latest", "multiarch:latest", "docker:v2", "docker:list"):
            repo, tag = name.rsplit(":", 1)
            status, headers, _ = get(f"{r.url}/v2/{repo}/manifests/{tag}", {"Accept": OCI_ACCEPT})
            assert status == 200 and headers["Docker-Content-Digest"] == test_images[name]["digest"], name


def test_token_registry_accepts_the_token_servers_tokens(token_registry):
    url = f"{token_registry.url}/v2/busybox/manifests/latest"
    status, headers, _ = get(url, {"Accept": OCI_ACCEPT})
    assert status == 401 and headers["Www-Authenticate"].startswith('Bearer realm="http://127.0.0.1:')
    assert 'scope="repository:busybox:pull"' in headers["Www-Authenticate"]
    ok = token_registry.token("busybox")
    assert get(url, {"Accept": OCI_ACCEPT, "Authorization": "Bearer " + ok})[0] == 200
    other = token_registry.token("user")
    assert get(url, {"Accept": OCI_ACCEPT, "Authorization": "Bearer " + other})[0] == 401
    anon, _ = token_registry.tokens.issue(None, ["repository:busybox:pull"])
    assert get(url, {"Accept": OCI_ACCEPT, "Authorization": "Bearer " + anon})[0] == 401


def test_token_server_checks_credentials(token_registry):
    realm = token_registry.tokens.realm
    q = "?service=crio-c-test-registry&scope=repository:busybox:pull"
    good = base64.b64encode(b"user:s3cret-crio-test").decode()
    bad = base64.b64encode(b"user:wrong").decode()
    status, _, body = get(realm + q, {"Authorization": "Basic " + good})
    assert status == 200 and json.loads(body)["token"].count(".") == 2
    assert get(realm + q, {"Authorization": "Basic " + bad})[0] == 401
    form = urllib.parse.urlencode({"grant_type": "password", "username": "user", "password": "s3cret-crio-test",
                                   "service": "crio-c-test-registry", "scope": "repository:busybox:pull",
                                   "access_type": "offline", "client_id": "test"}).encode()
    with urllib.request.urlopen(realm, data=form, timeout=5) as r:
        body = json.loads(r.read())
    assert body["refresh_token"]
    form = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": body["refresh_token"],
                                   "service": "crio-c-test-registry", "scope": "repository:busybox:pull"}).encode()
    with urllib.request.urlopen(realm, data=form, timeout=5) as r:
        tok = json.loads(r.read())["access_token"]
    assert get(f"{token_registry.url}/v2/busybox/manifests/latest",
               {"Accept": OCI_ACCEPT, "Authorization": "Bearer " + tok})[0] == 200


def test_skopeo_pulls_through_token_auth(token_registry):
    ok = skopeo("inspect", "--tls-verify=false", "--creds", "user:s3cret-crio-test",
                f"docker://{token_registry.host}/busybox:latest")
    assert ok.returncode == 0, ok.stderr
    bad = skopeo("inspect", "--tls-verify=false", "--creds", "user:wrong",
                 f"docker://{token_registry.host}/busybox:latest")
    assert bad.returncode != 0 and "unauthorized" in bad.stderr.lower()


def test_basic_registry(basic_registry):
    url = f"{basic_registry.url}/v2/busybox/manifests/latest"
    assert get(url, {"Accept": OCI_ACCEPT})[0] == 401
    good = base64.b64encode(b"user:s3cret-crio-test").decode()
    assert get(url, {"Accept": OCI_ACCEPT, "Authorization": "Basic " + good})[0] == 200
    bad = base64.b64encode(b"user:wrong").decode()
    assert get(url, {"Accept": OCI_ACCEPT, "Authorization": "Basic " + bad})[0] == 401


# ---------------------------------------------------------------------------------------------------------
# The fake registry and the closed port


def test_fake_registry_serves_images(fake_registry, test_images):
    r = skopeo("inspect", "--tls-verify=false", f"docker://{fake_registry.host}/layered:latest")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Digest"] == test_images["layered:latest"]["digest"]


def test_fake_registry_faults(fake_registry, test_images):
    digest = test_images["busybox:latest"]["layers"][0]
    url = f"http://{fake_registry.host}/v2/busybox/blobs/{digest}"
    fake_registry.corrupt = {digest}
    status, _, body = get(url)
    assert status == 200 and images.sha256_digest(body) != digest
    assert len(body) == test_images["busybox:latest"]["layer_sizes"][0]
    assert gzip.decompress(body) == gzip.decompress(test_images.blob("busybox", digest)), "not only the digest"
    fake_registry.corrupt = set()
    fake_registry.truncate = "layers"
    with pytest.raises(http.client.IncompleteRead):
        get(url)
    fake_registry.truncate = set()
    fake_registry.fail_first = 2
    assert [get(url)[0] for _ in range(3)] == [503, 503, 200]
    fake_registry.reset_first = 1
    with pytest.raises((urllib.error.URLError, http.client.RemoteDisconnected, ConnectionError)):
        get(url)
    fake_registry.missing = {digest}
    assert get(url)[0] == 404
    fake_registry.add_schema1()
    status, headers, _ = get(f"http://{fake_registry.host}/v2/schema1/manifests/latest")
    assert status == 200 and headers["Content-Type"] == images.MT_DOCKER_SCHEMA1


def test_fake_registry_stall_notices_the_client_leaving(fake_registry, test_images):
    fake_registry.stall = r"/blobs/"
    digest = test_images["busybox:latest"]["layers"][0]
    s = socket.create_connection(("127.0.0.1", int(fake_registry.host.rsplit(":", 1)[1])))
    s.sendall(f"GET /v2/busybox/blobs/{digest} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert fake_registry.stalled.wait(5)
    s.settimeout(0.3)
    with pytest.raises(socket.timeout):
        s.recv(1)
    s.close()
    assert fake_registry.disconnected.wait(3)
    fake_registry.stall_after = 100
    got = []

    def fetch():
        got.append(get(f"http://{fake_registry.host}/v2/busybox/blobs/{digest}", timeout=10)[2])

    t = threading.Thread(target=fetch)
    t.start()
    time.sleep(0.3)
    assert t.is_alive(), "the body did not stall"
    fake_registry.release()
    t.join(10)
    assert not t.is_alive() and got == [test_images.blob("busybox", digest)], "not served in full after release"


def test_closed_port_refuses(closed_port):
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", closed_port.port), timeout=2)


def test_tls_registries(tls_registry, mtls_registry, test_pki):
    for r in (tls_registry, mtls_registry):
        url = f"https://{r.host}/v2/busybox/manifests/latest"
        plain = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url], capture_output=True,
                               text=True)
        assert plain.returncode != 0, "an untrusted certificate was accepted"
        args = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", str(test_pki.ca_cert),
                "-H", "Accept: " + OCI_ACCEPT, url]
        if r is mtls_registry:
            denied = subprocess.run(args, capture_output=True, text=True)
            assert denied.stdout != "200", "no client certificate, yet served"
            args += ["--cert", str(test_pki.client_cert), "--key", str(test_pki.client_key)]
        ok = subprocess.run(args, capture_output=True, text=True)
        assert ok.stdout == "200", (r.host, ok.stdout, ok.stderr)
