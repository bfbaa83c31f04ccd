# SPDX-License-Identifier: Apache-2.0
"""Helpers for driving the real crio daemon: start and stop it, talk CRI over gRPC, HTTP over the socket,
and run the command line. Each helper reads like a step a user takes."""

import http.client
import importlib
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import grpc

REPO = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("CRIO_BINARY") or REPO / "build" / "crio")
PROTO_DIR = Path(os.environ.get("CRIO_PROTO_DIR") or REPO / "build" / "proto")

RUNTIME_SERVICE = "/runtime.v1.RuntimeService/"
IMAGE_SERVICE = "/runtime.v1.ImageService/"

READY_TIMEOUT = 10.0

_pb = None


def pb():
    """The protoc-generated CRI v1 classes (module api_pb2 in CRIO_PROTO_DIR)."""
    global _pb
    if _pb is None:
        if not (PROTO_DIR / "api_pb2.py").exists():
            raise RuntimeError(f"{PROTO_DIR}/api_pb2.py not found: build the project or set CRIO_PROTO_DIR")
        sys.path.insert(0, str(PROTO_DIR))
        _pb = importlib.import_module("api_pb2")
    return _pb


def clean_env(extra=None):
    """The caller's environment without anything that would configure crio behind the test's back."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTAINER_") and k != "NOTIFY_SOCKET"}
    env.update(extra or {})
    return env


# ---------------------------------------------------------------------------------------------------------
# Command line


def run_crio(*args, env=None, timeout=10.0):
    """Run `crio ARGS...` to completion; returns the CompletedProcess with text stdout/stderr."""
    return subprocess.run([str(BINARY), *map(str, args)], env=clean_env(env), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


# ---------------------------------------------------------------------------------------------------------
# gRPC client


def _identity(b):
    return b


class CriClient:
    """A CRI client on one channel to the daemon's socket, without generated stubs."""

    def __init__(self, sock, timeout=5.0):
        self.sock = str(sock)
        self.timeout = timeout
        self.channel = grpc.insecure_channel("unix://" + self.sock, options=[
            ("grpc.max_send_message_length", -1),
            ("grpc.max_receive_message_length", -1),
            ("grpc.enable_retries", 0),
            # Python's grpc shares connections between channels to the same target by default, so a
            # new client made after a daemon restart could inherit a connection to the dead daemon
            # that nothing has read from yet (its first call then fails with "Broken pipe").
            ("grpc.use_local_subchannel_pool", 1),
        ])

    def close(self):
        self.channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @staticmethod
    def method_path(method):
        return method if method.startswith("/") else RUNTIME_SERVICE + method

    def call(self, method, request, response_type, timeout=None):
        """Call a unary RPC with a message; returns the decoded response or raises grpc.RpcError."""
        fn = self.channel.unary_unary(self.method_path(method), request_serializer=type(request).SerializeToString,
                                      response_deserializer=response_type.FromString)
        return fn(request, timeout=timeout or self.timeout)

    def call_raw(self, method, data=b"", timeout=None):
        """Call a unary RPC with raw request bytes; returns the raw response bytes."""
        fn = self.channel.unary_unary(self.method_path(method), request_serializer=_identity,
                                      response_deserializer=_identity)
        return fn(data, timeout=timeout or self.timeout)

    def call_raw_stream(self, method, data=b"", timeout=None):
        """Call a server-streaming RPC with raw bytes; returns the list of raw response messages."""
        fn = self.channel.unary_stream(self.method_path(method), request_serializer=_identity,
                                       response_deserializer=_identity)
        return list(fn(data, timeout=timeout or self.timeout))

    def version(self):
        return self.call("Version", pb().VersionRequest(version="v1"), pb().VersionResponse)

    def status(self, verbose=False):
        return self.call("Status", pb().StatusRequest(verbose=verbose), pb().StatusResponse)

    def runtime_config(self):
        return self.call("RuntimeConfig", pb().RuntimeConfigRequest(), pb().RuntimeConfigResponse)

    def update_runtime_config(self, cidr):
        req = pb().UpdateRuntimeConfigRequest()
        req.runtime_config.network_config.pod_cidr = cidr
        return self.call("UpdateRuntimeConfig", req, pb().UpdateRuntimeConfigResponse)


def rpc_error(fn, *args, **kwargs):
    """Call fn and return the grpc.RpcError it raised; fails if it succeeded."""
    try:
        result = fn(*args, **kwargs)
    except grpc.RpcError as e:
        return e
    raise AssertionError(f"expected an RPC error, got success: {result!r}")


def condition(status_response, cond_type):
    for c in status_response.status.conditions:
        if c.type == cond_type:
            return c
    raise AssertionError(f"no condition {cond_type!r} in {status_response.status}")


def find_key(obj, key):
    """All values stored under `key` anywhere in a nested JSON/TOML structure."""
    found = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == key:
                found.append(v)
            found.extend(find_key(v, key))
    elif isinstance(obj, list):
        for v in obj:
            found.extend(find_key(v, key))
    return found


# ---------------------------------------------------------------------------------------------------------
# HTTP over the unix socket


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, sock_path, timeout=5.0):
        super().__init__("localhost", timeout=timeout)
        self.sock_path = str(sock_path)

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.sock_path)
        self.sock = s


class HttpResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode()

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"HttpResponse({self.status}, {self.body[:200]!r})"


def http_request(sock, method, path, body=None, headers=None, timeout=5.0):
    """One HTTP/1.1 request on a fresh connection; returns an HttpResponse."""
    conn = UnixHTTPConnection(sock, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return HttpResponse(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def http_get(sock, path, timeout=5.0):
    return http_request(sock, "GET", path, timeout=timeout)


def connect_unix(sock, timeout=5.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(str(sock))
    return s


def listener_pid(s):
    """The pid of the process listening on the other end of a connected unix socket."""
    cred = s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", cred)[0]


def answers_http(s):
    """Whether the daemon on a connected socket answers an HTTP request within the socket's timeout."""
    s.sendall(b"GET /info HTTP/1.1\r\nHost: crio\r\nConnection: close\r\n\r\n")
    try:
        return s.recv(16).startswith(b"HTTP/1.")
    except socket.timeout:
        return False


def raw_exchange(sock, data, timeout=5.0):
    """Send raw bytes, then read until the server closes or a full response head arrived.

    Returns (bytes received, closed_by_server). Raises AssertionError if the server neither answers nor
    closes within `timeout` (a hang)."""
    s = connect_unix(sock, timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # The server may close early on bad input; its answer can still be queued for us.
        got = b""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"server neither answered nor closed within {timeout}s (got {got[:200]!r})")
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return got, True
            except socket.timeout:
                continue
            if not chunk:
                return got, True
            got += chunk
            if b"\r\n\r\n" in got:
                return got, False
    finally:
        s.close()


def status_code(response_bytes):
    """The status code of a raw HTTP response, or None if there is no status line."""
    m = re.match(rb"HTTP/1\.[01] (\d{3})", response_bytes)
    return int(m.group(1)) if m else None


def wait_closed(s, timeout):
    """True if the server closes socket s (recv returns EOF or reset) within timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        s.settimeout(left)
        try:
            if not s.recv(4096):
                return True
        except ConnectionResetError:
            return True
        except (socket.timeout, BlockingIOError):
            return False


# ---------------------------------------------------------------------------------------------------------
# The daemon


def write_text(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


class DaemonExited(AssertionError):
    pass


class Daemon:
    """One crio daemon process in its own directory (config, drop-ins, socket, root, runroot, logs).

    Paths are given as CLI flags by default; `via_env=True` passes them as CONTAINER_* variables instead.
    `log_level=None` leaves the log level to the config files."""

    started = []  # every Daemon ever started in this process, for teardown and failure reports

    def __init__(self, workdir, *, config="", dropins=None, listen=None, log_level="debug", args=(), env=None,
                 via_env=False, binary=None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = write_text(self.workdir / "crio.conf", config)
        self.config_dir = self.workdir / "crio.conf.d"
        self.config_dir.mkdir(exist_ok=True)
        for name, text in (dropins or {}).items():
            write_text(self.config_dir / name, text)
        self.config_text = config + "".join((dropins or {}).values())
        self.sock = Path(listen) if listen else self.workdir / "crio.sock"
        self.root = self.workdir / "root"
        self.runroot = self.workdir / "runroot"
        self.log_dir = self.workdir / "logs"
        self.log_level = log_level
        self.extra_args = list(args)
        self.extra_env = dict(env or {})
        self.via_env = via_env
        self.binary = Path(binary) if binary else BINARY
        self.proc = None
        self.stderr_path = None
        self.returncode = None
        self._starts = 0

    # -- command line ------------------------------------------------------------------------------------

    def settings(self):
        # version_file in the runroot: a test that empties the runroot stands for a node restart.
        s = {"config": self.config_path, "config-dir": self.config_dir, "listen": self.sock, "root": self.root,
             "runroot": self.runroot, "log-dir": self.log_dir, "version-file": self.runroot / "version",
             "clean-shutdown-file": self.workdir / "clean.shutdown"}
        # The node's own /var/run/crio stays untouched unless a test's configuration says otherwise.
        for key, default in (("container_exits_dir", "exits"), ("container_attach_socket_dir", "attach")):
            if key not in self.config_text:
                s[key.replace("_", "-")] = self.workdir / default
        if self.log_level is not None:
            s["log-level"] = self.log_level
        return s

    def argv(self):
        argv = [str(self.binary)]
        if not self.via_env:
            for flag, value in self.settings().items():
                argv += [f"--{flag}", str(value)]
        return argv + [str(a) for a in self.extra_args]

    def environ(self):
        env = {}
        if self.via_env:
            for flag, value in self.settings().items():
                env["CONTAINER_" + flag.upper().replace("-", "_")] = str(value)
        env.update(self.extra_env)
        return clean_env(env)

    def run_cli(self, *args, timeout=10.0):
        """Run a crio subcommand with this daemon's config files and settings as global flags."""
        flags = []
        for flag, value in self.settings().items():
            flags += [f"--{flag}", str(value)]
        return run_crio(*flags, *args, timeout=timeout)

    # -- process -----------------------------------------------------------------------------------------

    def start(self, wait_ready=True, timeout=READY_TIMEOUT):
        assert self.proc is None or self.proc.poll() is not None, "daemon already running"
        self._starts += 1
        self.stderr_path = self.workdir / f"daemon-{self._starts}.stderr"
        with open(self.stderr_path, "wb") as err, open(self.workdir / f"daemon-{self._starts}.stdout", "wb") as out:
            # Its own working directory, as under a service manager: nothing it or its children drop in
            # their working directory lands in the test runner's.
            self.proc = subprocess.Popen(self.argv(), env=self.environ(), stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, start_new_session=True, cwd=self.workdir)
        self.returncode = None
        Daemon.started.append(self)
        if wait_ready:
            self.wait_ready(timeout)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Wait until the daemon answers on its socket; fails at once if it exits."""
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self.returncode = rc
                raise DaemonExited(f"crio exited with {rc} before serving; stderr:\n{self.log_tail()}")
            try:
                with connect_unix(self.sock, 1.0) as s:
                    # A daemon killed just before can leave its socket listening for a moment after it
                    # was reaped: only a connection to this daemon's own socket counts. Its socket
                    # listens before the daemon serves (early callers wait in the backlog), so ready
                    # means it answered.
                    if listener_pid(s) == self.proc.pid and answers_http(s):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"crio did not accept connections on {self.sock} within {timeout}s; "
                                     f"stderr:\n{self.log_tail()}")
            time.sleep(0.02)

    def wait(self, timeout=10.0):
        """Wait for the daemon to exit; returns its exit code (negative: killed by that signal)."""
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"crio (pid {self.pid}) still running after {timeout}s; stderr:\n"
                                 f"{self.log_tail()}") from None
        return self.returncode

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Send sig and wait for the exit; returns the exit code. Kills the daemon if it does not exit."""
        if not self.running():
            return self.proc.poll() if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.wait(timeout)
        except AssertionError:
            self.kill()
            raise

    def kill(self):
        if self.running():
            self.proc.kill()
            self.proc.wait(10)
        if self.proc is not None:
            self.returncode = self.proc.poll()

    # -- observation -------------------------------------------------------------------------------------

    @property
    def log(self):
        """Everything the current (or last) daemon process wrote to stderr."""
        if not self.stderr_path or not self.stderr_path.exists():
            return ""
        return self.stderr_path.read_text(errors="replace")

    def log_tail(self, lines=40):
        return "\n".join(self.log.splitlines()[-lines:])

    def log_offset(self):
        return len(self.log)

    def wait_for_log(self, pattern, timeout=5.0, since=0, flags=0):
        """Wait until a stderr line after offset `since` matches regex `pattern`; returns the match."""
        rx = re.compile(pattern, flags)
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log[since:].splitlines():
                m = rx.search(line)
                if m:
                    return m
            if time.monotonic() > deadline:
                raise AssertionError(f"no stderr line matching {pattern!r} within {timeout}s; stderr since "
                                     f"offset {since}:\n{self.log[since:][-4000:]}")
            time.sleep(0.05)

    def rss_kib(self):
        """Resident set size (VmRSS) in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS in /proc status")

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def client(self, timeout=5.0):
        return CriClient(self.sock, timeout)

    def http_get(self, path, timeout=5.0):
        return http_get(self.sock, path, timeout)


def kill_leftover_daemons():
    for d in Daemon.started:
        d.kill()


def wait_until(predicate, timeout, interval=0.05):
    """Poll predicate until it returns a truthy value; returns that value or the last falsy one."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------------------
# ImageService (the image tests' helpers; added as functions bound onto CriClient and Daemon so that the
# classes above stay as they are)

PULL_TIMEOUT = 60.0


def auth_config(username="", password="", auth="", server_address="", identity_token="", registry_token=""):
    """A CRI AuthConfig message."""
    return pb().AuthConfig(username=username, password=password, auth=auth, server_address=server_address,
                           identity_token=identity_token, registry_token=registry_token)


def sandbox_config(namespace="default", name="pod", uid="pod-uid"):
    """A minimal PodSandboxConfig, for pulls made on behalf of a pod in `namespace`."""
    cfg = pb().PodSandboxConfig()
    cfg.metadata.name, cfg.metadata.namespace, cfg.metadata.uid = name, namespace, uid
    return cfg


def _pull_request(ref, auth=None, sandbox=None, annotations=None):
    req = pb().PullImageRequest()
    req.image.image = ref
    for k, v in (annotations or {}).items():
        req.image.annotations[k] = v
    if auth is not None:
        req.auth.CopyFrom(auth)
    if sandbox is not None:
        req.sandbox_config.CopyFrom(sandbox)
    return req


def _cri_pull_image(self, ref, auth=None, sandbox=None, timeout=PULL_TIMEOUT, annotations=None):
    """PullImage; returns image_ref (the image ID)."""
    req = _pull_request(ref, auth, sandbox, annotations)
    return self.call(IMAGE_SERVICE + "PullImage", req, pb().PullImageResponse, timeout=timeout).image_ref


def _cri_pull_image_future(self, ref, auth=None, sandbox=None, timeout=PULL_TIMEOUT):
    """Start a PullImage and return its grpc future (cancel() it to make the client go away)."""
    fn = self.channel.unary_unary(IMAGE_SERVICE + "PullImage", request_serializer=pb().PullImageRequest.SerializeToString,
                                  response_deserializer=pb().PullImageResponse.FromString)
    return fn.future(_pull_request(ref, auth, sandbox), timeout=timeout)


def _cri_image_status(self, ref, verbose=False):
    """ImageStatus; returns the whole response (`.image` is unset for an unknown image)."""
    req = pb().ImageStatusRequest(verbose=verbose)
    req.image.image = ref
    return self.call(IMAGE_SERVICE + "ImageStatus", req, pb().ImageStatusResponse)


def _cri_image(self, ref):
    """The Image message for ref, or None when the daemon does not know it."""
    r = self.image_status(ref)
    return r.image if r.HasField("image") else None


def _cri_list_images(self, filter_ref=None):
    req = pb().ListImagesRequest()
    if filter_ref is not None:
        req.filter.image.image = filter_ref
    return list(self.call(IMAGE_SERVICE + "ListImages", req, pb().ListImagesResponse).images)


def _cri_remove_image(self, ref):
    req = pb().RemoveImageRequest()
    req.image.image = ref
    return self.call(IMAGE_SERVICE + "RemoveImage", req, pb().RemoveImageResponse)


def _cri_image_fs_info(self):
    return self.call(IMAGE_SERVICE + "ImageFsInfo", pb().ImageFsInfoRequest(), pb().ImageFsInfoResponse)


CriClient.pull_image = _cri_pull_image
CriClient.pull_image_future = _cri_pull_image_future
CriClient.image_status = _cri_image_status
CriClient.image = _cri_image
CriClient.list_images = _cri_list_images
CriClient.remove_image = _cri_remove_image
CriClient.image_fs_info = _cri_image_fs_info


def _daemon_layer_dirs(self):
    """The layer directories of the image store (<root>/layers/*)."""
    d = self.root / "layers"
    return sorted(p for p in d.iterdir()) if d.is_dir() else []


def _daemon_tmp_entries(self):
    """What is left in the image store's scratch directory (<root>/tmp)."""
    d = self.root / "tmp"
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


def _daemon_store_snapshot(self, client=None):
    """(image IDs, layer dirs, tmp entries) of the image store, to compare before and after a failed pull."""
    own = client is None
    c = client or self.client()
    try:
        ids = sorted(i.id for i in c.list_images())
    finally:
        if own:
            c.close()
    return ids, [p.name for p in self.layer_dirs()], self.tmp_entries()


Daemon.layer_dirs = _daemon_layer_dirs
Daemon.tmp_entries = _daemon_tmp_entries
Daemon.store_snapshot = _daemon_store_snapshot
