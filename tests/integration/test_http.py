# SPDX-License-Identifier: Apache-2.0
"""The HTTP/1.1 status API served on the CRI socket, and how the socket copes with bad or idle clients."""

import re
import socket
import time
import tomllib

import pytest

import crio_helpers as h


def test_info_describes_storage_and_cgroups(crio):
    r = crio.http_get("/info")
    assert r.status == 200, r
    assert "json" in r.headers.get("content-type", ""), r.headers
    info = r.json()
    for key in ("storage_driver", "storage_root", "storage_image", "cgroup_driver", "default_id_mappings"):
        assert key in info, info
    assert info["storage_root"] == str(crio.root)
    assert info["storage_driver"] == "overlay"
    assert info["cgroup_driver"].lower() == "cgroupfs"


def test_info_default_id_mappings_cover_all_ids(crio):
    mappings = crio.http_get("/info").json()["default_id_mappings"]
    for kind in ("uids", "gids"):
        assert isinstance(mappings[kind], list) and mappings[kind], mappings
        for m in mappings[kind]:
            assert set(m) >= {"container_id", "host_id", "size"}, m
            assert all(isinstance(m[k], int) for k in ("container_id", "host_id", "size")), m
        assert mappings[kind][0]["container_id"] == 0 and mappings[kind][0]["host_id"] == 0


def test_config_is_effective_toml(crio):
    r = crio.http_get("/config")
    assert r.status == 200, r
    config = tomllib.loads(r.text)
    assert config["crio"]["api"]["listen"] == str(crio.sock)
    assert config["crio"]["root"] == str(crio.root)
    assert config["crio"]["runtime"]["log_level"] == "debug"


def test_unknown_container_is_404_with_json_message(crio):
    r = crio.http_get("/containers/abc")
    assert r.status == 404, r
    body = r.json()
    assert isinstance(body.get("message"), str) and body["message"], body


def test_unknown_path_is_404(crio):
    assert crio.http_get("/nope").status == 404


@pytest.mark.parametrize("request_bytes", [
    b"POST /info HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
    b"DELETE /config HTTP/1.1\r\nHost: x\r\n\r\n",
], ids=["POST /info", "DELETE /config"])
def test_other_methods_are_405_with_allow(crio, request_bytes):
    data, _ = h.raw_exchange(crio.sock, request_bytes)
    assert h.status_code(data) == 405, data[:200]
    assert re.search(rb"^Allow:.*GET", data, re.M | re.I), data[:300]


def test_keep_alive_serves_several_requests_on_one_connection(crio):
    conn = h.UnixHTTPConnection(crio.sock)
    try:
        for path in ("/info", "/config", "/info"):
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            assert r.status == 200, path
    finally:
        conn.close()


def test_http_1_0_request_is_answered(crio):
    data, _ = h.raw_exchange(crio.sock, b"GET /info HTTP/1.0\r\n\r\n")
    assert h.status_code(data) == 200, data[:200]


@pytest.mark.parametrize("garbage,codes", [
    (b"\x01\x02 junk\r\n\r\n", {400}),
    (b"GET\r\n\r\n", {400}),
    (b"\x00" * 64 + b"\r\n\r\n", {400}),
    (b"GET /info HTTP/9.9\r\n\r\n", {400, 505}),
], ids=["binary junk", "request line without path", "NUL bytes", "HTTP/9.9"])
def test_garbage_request_is_rejected_and_daemon_survives(crio, client, garbage, codes):
    # Rejected at once: well before the 5 s read timeout that drops idle clients.
    data, closed = h.raw_exchange(crio.sock, garbage, timeout=3)
    code = h.status_code(data)
    assert code in codes or (code is None and closed and data == b""), data[:200]
    assert client.version().runtime_name == "crio-c"


def test_oversized_header_block_is_rejected(crio, client):
    request = b"GET /info HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * (70 * 1024) + b"\r\n\r\n"
    data, closed = h.raw_exchange(crio.sock, request)
    assert h.status_code(data) in (400, 413, 431), (data[:200], closed)
    assert client.version().runtime_name == "crio-c"


def test_many_small_headers_over_64k_are_rejected(crio, client):
    request = b"GET /info HTTP/1.1\r\n" + b"".join(b"X-H%05d: %s\r\n" % (i, b"v" * 40) for i in range(2000)) + b"\r\n"
    assert len(request) > 64 * 1024
    data, closed = h.raw_exchange(crio.sock, request)
    assert h.status_code(data) in (400, 413, 431), (data[:200], closed)
    assert client.version().runtime_name == "crio-c"


def test_idle_and_partial_clients_are_dropped_without_blocking_others(crio, client):
    idle = {
        "silent": b"",
        "half an HTTP/2 preface": b"PRI * HTTP/2.0\r\n",
        "half an HTTP request": b"GET /info HTTP/1.1\r\nHost: x\r\n",
    }
    socks = {}
    try:
        for name, data in idle.items():
            s = h.connect_unix(crio.sock)
            if data:
                s.sendall(data)
            socks[name] = s
        started = time.monotonic()
        for _ in range(5):
            assert client.version().runtime_name == "crio-c"
        assert crio.http_get("/info", timeout=3).status == 200
        assert time.monotonic() - started < 3, "idle clients delayed other clients"
        deadline = started + 20
        kept = [name for name, s in socks.items() if not h.wait_closed(s, max(0.1, deadline - time.monotonic()))]
        assert kept == [], f"still connected after 20s: {kept}"
    finally:
        for s in socks.values():
            s.close()


def test_client_closing_mid_request_does_not_hurt(crio, client):
    for data in (b"GET /info HTTP/1.1\r\nHo", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00", b"P"):
        s = h.connect_unix(crio.sock)
        s.sendall(data)
        s.shutdown(socket.SHUT_RDWR)
        s.close()
    assert client.version().runtime_name == "crio-c"
    assert crio.http_get("/info").status == 200
