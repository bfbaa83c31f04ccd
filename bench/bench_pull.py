#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Benchmark cold image pulls: crio-c against containerd's CRI plugin, the same image from the same registry.

Two cases: the test image big:latest (5 gzip layers of ~10 MiB of incompressible data, tests/images/build.py)
and big:single (one gzip layer of ~50 MiB), pushed to Debian's docker-registry on 127.0.0.1 at a free port. Then crio-c (${BUILD:-build}/crio) and Debian's
containerd (1.6, generated config: CRI plugin, overlayfs, the registry as an insecure mirror) are started
on unix sockets in a temporary directory and driven over CRI with the same Python classes: one warm-up
pull + RemoveImage each, then `--runs` cold pulls of each case, alternating between the two daemons, each
PullImage timed from the client (after an untimed sync(2)) and followed by RemoveImage. A run is cold only if
RemoveImage gave the layers back; the warm-up checks that (bytes under the daemon's root), and a daemon
that keeps them is restarted with a fresh root before every run instead (start-up not timed).

Also measured, to show where the time goes: daemon CPU per pull (user and system time from
/proc/PID/stat, all threads), the registry's CPU and, from its log, when the layer GETs started and
ended (so each pull splits into: before the first layer GET, layer GETs, after the last layer byte);
VmRSS (anon/file) and VmHWM after the pulls; a 1-layer image (busybox:latest) for the fixed cost of a
pull; a download-only floor (curl fetching the layers in parallel); a perf profile of one more pull per
daemon (skipped when perf is missing); one crio-c pull with --log-level debug and its log lines.

Prints a table and writes JSON to bench/results/pull.json. Everything listens on 127.0.0.1 or unix
sockets; all processes and temporary directories are removed on exit, Ctrl-C and SIGTERM."""

import argparse
import calendar
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUILD = Path(os.environ.get("BUILD") or "build")
if not BUILD.is_absolute():
    BUILD = REPO / BUILD
os.environ.setdefault("CRIO_BINARY", str(BUILD / "crio"))
os.environ.setdefault("CRIO_PROTO_DIR", str(BUILD / "proto"))
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.dont_write_bytecode = True  # keep the source tree clean

import crio_helpers as h  # noqa: E402 - needs the environment above
import registry as reg  # noqa: E402 - tests/integration/registry.py (imports tests/images/build.py)

BIG = "big:latest"
SINGLE = "big:single"
SMALL = "busybox:latest"
CONTAINERD = os.environ.get("CONTAINERD_BINARY", "/usr/bin/containerd")
CLK_TCK = os.sysconf("SC_CLK_TCK")
MiB = 1 << 20
COLD_SLACK = 4 * MiB  # bytes a root may keep after RemoveImage and still count as cold (metadata DBs)
PULL_TIMEOUT = 120.0


class Interrupted(Exception):
    pass


def _on_signal(signum, _frame):
    raise Interrupted(f"signal {signum}")


# ---------------------------------------------------------------------------------------------------------
# Measurement helpers


def percentile(sorted_values, p):
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def cpu_seconds(pid):
    """utime+stime of a process (all its threads, dead ones too) plus its waited-for children, in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return sum(int(f) for f in fields[11:15]) / CLK_TCK  # fields 14-17 of stat(5)


def proc_status_kib(pid, key):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def dir_bytes(path):
    """Allocated bytes of everything under path, each inode once (layers hold hard links), no symlinks
    followed; files may vanish meanwhile."""
    total, seen = 0, set()
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if st.st_nlink > 1:
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


def wait_socket(path, proc, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before serving")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(1)
                s.connect(str(path))
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not accept connections on {path} within {timeout}s") from None
            time.sleep(0.02)


def mounts_under(path):
    prefix = str(path).rstrip("/") + "/"
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].encode().decode("unicode_escape")
            if mp.startswith(prefix):
                out.append(mp)
    return out


def unmount_under(path):
    """Lazily unmount anything a daemon left mounted below path (deepest first), before it is deleted."""
    for mp in sorted(mounts_under(path), key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], capture_output=True)


# ---------------------------------------------------------------------------------------------------------
# The two daemons


class Runtime:
    """A CRI daemon that can be (re)started on a fresh root under `workdir`."""

    name = "?"

    def __init__(self, workdir, registry):
        self.workdir = Path(workdir)
        self.registry = registry
        self.starts = 0
        self.client = None
        self.dir = None
        self.cold_by_restart = False

    # Subclasses define _start(dir), which sets pid, sock, storage_root and log_path, _stop() and kill().
    def start(self):
        self.starts += 1
        self.dir = self.workdir / f"{self.name}-{self.starts}"
        self.dir.mkdir(parents=True)
        self._start(self.dir)
        self.client = h.CriClient(self.sock, timeout=PULL_TIMEOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.runtime_version = self.client.call("Version", h.pb().VersionRequest(version="v1"),
                                                        h.pb().VersionResponse, timeout=10).runtime_version
                return self
            except h.grpc.RpcError as e:
                # containerd answers before its CRI plugin is up ("server is not initialized yet").
                if "not initialized" in (e.details() or "") and time.monotonic() < deadline:
                    time.sleep(0.1)
                    continue
                raise RuntimeError(f"{self.name} does not answer CRI Version ({e.code().name}: {e.details()}); "
                                   f"log:\n{self.log_problems()}") from None

    def log_problems(self, lines=15):
        try:
            text = Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""
        bad = [line for line in text.splitlines() if re.search(r"level=(warning|error|fatal)", line)]
        return "\n".join(line[:300] for line in bad[-lines:])

    def stop(self):
        if self.client:
            self.client.close()
            self.client = None
        self._stop()

    def restart_fresh(self):
        """Stop, delete the old root, start on a new one (used when removal does not free the layers)."""
        old = self.dir
        self.stop()
        unmount_under(old)
        shutil.rmtree(old, ignore_errors=True)
        self.start()

    def cpu(self):
        return cpu_seconds(self.pid)

    def rss_kib(self):
        return proc_status_kib(self.pid, "VmRSS")

    def hwm_kib(self):
        return proc_status_kib(self.pid, "VmHWM")

    def stored_bytes(self):
        return dir_bytes(self.storage_root)

    def image_fs_used(self):
        r = self.client.image_fs_info()
        return sum(u.used_bytes.value for u in r.image_filesystems)

    def pull(self, ref):
        return self.client.pull_image(ref, timeout=PULL_TIMEOUT)

    def remove(self, ref):
        self.client.remove_image(ref)


class Crio(Runtime):
    name = "crio-c"

    def __init__(self, workdir, registry, log_level="info"):
        super().__init__(workdir, registry)
        self.log_level = log_level
        self.daemon = None

    def _start(self, d):
        host = self.registry.host
        regconf = h.write_text(d / "registries.conf",
                               reg.registries_conf(unqualified=[host], registries=[reg.insecure(host)]))
        policy = h.write_text(d / "policy.json", reg.policy_json())
        (d / "registries.conf.d").mkdir()
        args = ["--registries-conf", regconf, "--registries-conf-dir", d / "registries.conf.d",
                "--signature-policy", policy, "--signature-policy-dir", d / "policies",
                "--version-file", d / "run" / "version", "--clean-shutdown-file", d / "clean.shutdown",
                "--container-exits-dir", d / "run" / "exits", "--container-attach-socket-dir", d / "run"]
        self.daemon = h.Daemon(d, log_level=self.log_level, args=args, config=self.crio_conf(d))
        self.daemon.start()
        self.sock = self.daemon.sock
        self.pid = self.daemon.pid
        self.storage_root = self.daemon.root
        self.log_path = self.daemon.stderr_path

    def crio_conf(self, d):
        """crio.conf text for a daemon in directory d (none: built-in defaults); bench_pods.py adds keys."""
        return ""

    def _stop(self):
        if self.daemon:
            try:
                if self.daemon.running():
                    self.daemon.stop(signal.SIGTERM, timeout=10)
            except AssertionError:
                pass
            finally:
                self.daemon.kill()

    def kill(self):
        if self.daemon:
            self.daemon.kill()


class Containerd(Runtime):
    name = "containerd"

    def config(self, d, cri_keys="", tables=""):
        """The config.toml text; cri_keys are more lines of the CRI plugin's table, tables more tables."""
        host = self.registry.host
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        # Everything the CRI plugin does not need: the other snapshotters and tracing. (The v1 runtime must
        # stay: in 1.6 the tasks service, which the CRI plugin requires, fails to load without it.)
        disabled = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.native", "io.containerd.internal.v1.tracing",
                    "io.containerd.tracing.processor.v1.otlp"]
        return f"""version = 2
root = "{d / 'root'}"
state = "{d / 'state'}"
disabled_plugins = {json.dumps(disabled)}

[grpc]
  address = "{self.sock}"
[ttrpc]
  address = "{self.sock}.ttrpc"
[debug]
  address = ""
  level = "info"
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{d / 'opt'}"
[{cri}]
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
{cri_keys}  [{cri}.containerd]
    snapshotter = "overlayfs"
  [{cri}.cni]
    bin_dir = "{d / 'cni-bin'}"
    conf_dir = "{d / 'cni-conf'}"
  [{cri}.registry.mirrors."{host}"]
    endpoint = ["http://{host}"]
  [{cri}.registry.configs."{host}".tls]
    insecure_skip_verify = true
{tables}"""

    def _start(self, d):
        self.sock = d / "containerd.sock"
        self.storage_root = d / "root"
        cfg = h.write_text(d / "config.toml", self.config(d))
        self.log_path = d / "containerd.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([CONTAINERD, "--config", str(cfg)], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                         env=h.clean_env())
        self.pid = self.proc.pid
        wait_socket(self.sock, self.proc, 15, "containerd")

    def _stop(self):
        p = getattr(self, "proc", None)
        if p and p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)

    def kill(self):
        p = getattr(self, "proc", None)
        if p and p.poll() is None:
            p.kill()
            p.wait(5)


# ---------------------------------------------------------------------------------------------------------
# The benchmark


class RegistryLog:
    """The registry's CPU time and its log of completed requests (nanosecond timestamps and durations)."""

    def __init__(self, registry):
        self.registry = registry

    def cpu(self):
        return cpu_seconds(self.registry.proc.pid)

    def offset(self):
        try:
            return self.registry.stderr_path.stat().st_size
        except OSError:
            return 0

    _FIELD = re.compile(r'([\w.]+)=("(?:[^"\\]|\\.)*"|\S+)')
    _SCALE = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}

    def requests(self, since):
        """[{method, uri, start, end}] (epoch seconds) of the requests completed after log offset `since`."""
        with open(self.registry.stderr_path, "rb") as f:
            f.seek(since)
            text = f.read().decode(errors="replace")
        out = []
        for line in text.splitlines():
            if "response completed" not in line:
                continue
            fields = {k: v.strip('"') for k, v in self._FIELD.findall(line)}
            try:
                end = parse_time(fields["time"])
                m = re.fullmatch(r"([0-9.]+)(ns|µs|us|ms|s|m)", fields["http.response.duration"])
                dur = float(m.group(1)) * self._SCALE[m.group(2)]
                out.append({"method": fields["http.request.method"], "uri": fields["http.request.uri"],
                            "start": end - dur, "end": end})
            except (KeyError, AttributeError, ValueError):
                continue
        return out


def parse_time(stamp):
    """Epoch seconds of an RFC 3339 UTC timestamp with up to nanoseconds ("2026-01-01T08:55:16.262085546Z")."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z", stamp)
    base = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
    return base + float("0" + (m.group(2) or ""))


def phases(t0, t_end, reqs, layer_digests):
    """Split one pull into what the registry saw, in ms since the client sent PullImage: until the first
    layer GET starts (manifest, config, set-up), the layer GETs (first start to last end), and the tail
    after the last layer byte was served until the client got the answer (unpacking, commit)."""
    layers = [r for r in reqs if r["method"] == "GET" and r["uri"].rsplit("/", 1)[-1] in layer_digests]
    if not layers:
        return None
    first = min(r["start"] for r in layers)
    last = max(r["end"] for r in layers)
    return {"before_layers_ms": round((first - t0) * 1000, 1),
            "layer_gets_ms": round((last - first) * 1000, 1),
            "after_layers_ms": round((t_end - last) * 1000, 1),
            "slowest_layer_get_ms": round(max(r["end"] - r["start"] for r in layers) * 1000, 1),
            "requests": len(reqs)}


def cpu_split(pid):
    stat = Path(f"/proc/{pid}/stat").read_text()
    f = stat[stat.rindex(")") + 2:].split()
    return (int(f[11]) + int(f[13])) / CLK_TCK, (int(f[12]) + int(f[14])) / CLK_TCK  # user, system


def timed_pull(rt, ref, reglog, layer_digests):
    """One timed PullImage of ref then RemoveImage; returns a dict of what was measured. Dirty pages of
    earlier runs are written back first (untimed) so that their writeback does not land in this run."""
    os.sync()
    (u0, s0), rcpu0, off = cpu_split(rt.pid), reglog.cpu(), reglog.offset()
    w0 = time.time()
    t0 = time.perf_counter()
    image_id = rt.pull(ref)
    wall = time.perf_counter() - t0
    w1 = time.time()
    (u1, s1), rcpu1 = cpu_split(rt.pid), reglog.cpu()
    stored = rt.stored_bytes()
    fs_used = rt.image_fs_used()
    rss = rt.rss_kib()
    rt.remove(ref)
    return {"seconds": round(wall, 4), "daemon_user_s": round(u1 - u0, 3), "daemon_sys_s": round(s1 - s0, 3),
            "daemon_cpu_s": round(u1 - u0 + s1 - s0, 3), "registry_cpu_s": round(rcpu1 - rcpu0, 3),
            "image_id": image_id, "stored_bytes_after_pull": stored, "imagefs_used_after_pull": fs_used,
            "rss_kib_after_pull": rss, "registry_view": phases(w0, w1, reglog.requests(off), layer_digests),
            "started_at": w0}


def check_cold(rt, baseline_bytes, ref, what):
    """After RemoveImage: did the daemon give the layers back? Polls a moment (removal may finish late)."""
    left = None
    for _ in range(20):
        left = rt.stored_bytes() - baseline_bytes
        if left < COLD_SLACK:
            return True, left
        time.sleep(0.05)
    print(f"bench_pull: {rt.name}: {left / MiB:.1f} MiB stay under its root after removing {ref} ({what}); "
          f"cold runs restart it on a fresh root", file=sys.stderr)
    return False, left


def warm_up(rt, ref, small_ref, single_ref):
    """Untimed pull + remove of the small, the single-layer and the big image; decides how runs are made
    cold."""
    baseline = rt.stored_bytes()
    for r in (small_ref, single_ref):
        rt.pull(r)
        rt.remove(r)
    rt.pull(ref)
    pulled = rt.stored_bytes() - baseline
    rt.remove(ref)
    cold, left = check_cold(rt, baseline, ref, "warm-up")
    rt.cold_by_restart = not cold
    rt.baseline_bytes = baseline
    return {"stored_bytes_of_pull": pulled, "bytes_left_after_remove": left,
            "cold_method": "RemoveImage frees the layers" if cold else "fresh root per run (restart, not timed)"}


def prepare_cold(rt, small_ref):
    if rt.cold_by_restart:
        rt.restart_fresh()
        rt.pull(small_ref)  # warm the new process's client paths, then give the bytes back
        rt.remove(small_ref)
        rt.baseline_bytes = rt.stored_bytes()


def download_floor(registry, catalog, runs, parallel):
    """The transfer cost alone: curl GETs the big image's layers from the registry into /dev/null,
    `parallel` at a time, after fetching the manifest and config. Returns per run (seconds from the first
    curl's start to the last one's end, processes included; and curl's own time for the layer batch)."""
    e = catalog[BIG]
    m = catalog.manifest(e["repo"], e["digest"])
    base = f"http://{registry.host}/v2/{e['repo']}"
    quiet = dict(stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=60)
    walls, layer_times = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(["curl", "-sf", "-H", "Accept: " + e["media_type"], "-o", "/dev/null",
                        f"{base}/manifests/latest", "-o", "/dev/null", f"{base}/blobs/{m['config']['digest']}"],
                       stdout=subprocess.DEVNULL, **quiet)
        args = ["curl", "-sf", "--no-progress-meter", "--parallel", "--parallel-immediate", "--parallel-max",
                str(parallel), "-w", "%{time_total}\\n"]
        for layer in m["layers"]:
            args += ["-o", "/dev/null", f"{base}/blobs/{layer['digest']}"]
        out = subprocess.run(args, stdout=subprocess.PIPE, text=True, **quiet).stdout
        walls.append(time.perf_counter() - t0)
        layer_times.append(max(float(x) for x in out.split()))
    return walls, layer_times


_LOG_LINE = re.compile(r'^time="([^"]+)" level=(\w+) msg=(".*")$')


def debug_pull(workdir, registry, ref, reglog, layer_digests):
    """One cold pull on a fresh crio-c with --log-level debug: its log lines with times relative to the
    client sending the request, the registry's view of the same pull, and the client-observed total."""
    rt = Crio(workdir, registry, log_level="debug")
    rt.name = "crio-c-debug"
    try:
        rt.start()
        rt.pull(f"{registry.host}/{SMALL}")
        rt.remove(f"{registry.host}/{SMALL}")
        offset = rt.log_path.stat().st_size
        sample = timed_pull(rt, ref, reglog, layer_digests)
        with open(rt.log_path, "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
        lines = []
        for line in text.splitlines():
            m = _LOG_LINE.match(line)
            if m:
                lines.append({"at": parse_time(m.group(1)), "level": m.group(2), "msg": json.loads(m.group(3))})
        w0 = sample["started_at"]
        w1 = w0 + sample["seconds"] + 0.001
        return {"client_ms": round(sample["seconds"] * 1000, 1), "registry_view": sample["registry_view"],
                "daemon_cpu_s": sample["daemon_cpu_s"],
                "log": [{"ms": round((x["at"] - w0) * 1000, 1), "level": x["level"], "msg": x["msg"]}
                        for x in lines if x["at"] <= w1]}
    finally:
        rt.stop()


def profile_pull(rt, ref, workdir, cleanup):
    """perf record (cpu-clock samples, all threads of the daemon) over one cold pull; returns the share of
    samples per shared object and the top symbols, or None when perf is not usable here."""
    if not shutil.which("perf"):
        return None
    data = workdir / f"perf-{rt.name}.data"
    os.sync()
    perf = subprocess.Popen(["perf", "record", "-q", "-F", "2999", "-p", str(rt.pid), "-o", str(data)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    cleanup.append(lambda: perf.poll() is None and perf.kill())
    time.sleep(0.5)  # let it attach to every thread
    if perf.poll() is not None:
        return {"error": perf.stderr.read().decode(errors="replace").strip()[:300]}
    t0 = time.perf_counter()
    rt.pull(ref)
    wall = time.perf_counter() - t0
    perf.send_signal(signal.SIGINT)
    try:
        perf.wait(15)
    except subprocess.TimeoutExpired:
        perf.kill()
        perf.wait(5)
    rt.remove(ref)

    def report(sort, limit):
        out = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "--no-children", "-q", "--sort", sort,
                              "--percent-limit", str(limit)], capture_output=True, text=True, timeout=60).stdout
        rows = []
        for line in out.splitlines():
            m = re.match(r"\s*([0-9.]+)%\s+(.*\S)", line)
            if m:
                rows.append([float(m.group(1))] + re.split(r"\s{2,}", m.group(2)))
        return rows

    samples = subprocess.run(["perf", "script", "-i", str(data), "-F", "tid"], capture_output=True, text=True,
                             timeout=60).stdout.split()
    # Symbols perf cannot name (stripped libraries: libcrypto's SHA-256 code) are summed per library.
    symbols = {}
    for pct, *rest in report("dso,sym", 0.1):
        dso, sym = (rest + ["", ""])[:2]
        if re.fullmatch(r"\[\.\] 0x[0-9a-f]+", sym):
            sym = "[.] (unnamed addresses)"
        symbols[(dso, sym)] = symbols.get((dso, sym), 0.0) + pct
    top = sorted(([round(v, 2), d, s_] for (d, s_), v in symbols.items()), reverse=True)[:15]
    return {"pull_seconds": round(wall, 4), "samples": len(samples), "threads_sampled": len(set(samples)),
            "sample_hz": 2999, "by_dso": report("dso", 0.5)[:12], "top_symbols": top}


def summarize(samples):
    s = sorted(samples)
    return {"median": round(statistics.median(s), 4), "p95": round(percentile(s, 95), 4),
            "min": round(s[0], 4), "max": round(s[-1], 4)}


def median_of(samples, key):
    vals = [x[key] for x in samples if x is not None and x.get(key) is not None]
    return round(statistics.median(vals), 3) if vals else None


def run(args, workdir, cleanup):
    load_start = os.getloadavg()
    t_start = time.monotonic()
    catalog = reg.images.ensure_built()
    registry = reg.Registry(workdir / "registry")
    cleanup.append(registry.stop)
    registry.start()
    t0 = time.monotonic()
    registry.push(catalog, repos=["big", "busybox"])
    push_s = time.monotonic() - t0
    ref, small_ref, single_ref = (f"{registry.host}/{x}" for x in (BIG, SMALL, SINGLE))
    big = catalog[BIG]
    manifest = catalog.manifest(big["repo"], big["digest"])
    big_layers = {layer["digest"] for layer in manifest["layers"]}
    layer_bytes = sum(layer["size"] for layer in manifest["layers"])
    single_manifest = catalog.manifest(catalog[SINGLE]["repo"], catalog[SINGLE]["digest"])
    single_layers = {layer["digest"] for layer in single_manifest["layers"]}
    single_bytes = sum(layer["size"] for layer in single_manifest["layers"])
    reglog = RegistryLog(registry)

    runtimes = [Crio(workdir, registry)]
    if args.containerd:
        if Path(CONTAINERD).is_file():
            runtimes.append(Containerd(workdir, registry))
        else:
            print(f"bench_pull: {CONTAINERD} not found; containerd not measured", file=sys.stderr)
    for rt in runtimes:
        cleanup.append(rt.kill)
        cleanup.append(rt.stop)

    result = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "image": {"ref": BIG, "layers": len(manifest["layers"]), "compressed_layer_bytes": layer_bytes,
                        "manifest_digest": big["digest"]},
              "single_image": {"ref": SINGLE, "layers": len(single_manifest["layers"]),
                               "compressed_layer_bytes": single_bytes, "manifest_digest": catalog[SINGLE]["digest"]},
              "registry": {"binary": reg.DOCKER_REGISTRY, "push_seconds": round(push_s, 2)},
              "runs": args.runs,
              "settings": {"crio-c": "defaults (max_parallel_downloads 6)",
                           "containerd": "CRI plugin defaults (max_concurrent_downloads 3), overlayfs"},
              "runtimes": {}}
    per = {}
    for rt in runtimes:
        rt.start()
        per[rt.name] = {"binary": str(h.BINARY) if isinstance(rt, Crio) else CONTAINERD,
                        "runtime_version": rt.runtime_version, "idle_rss_kib": rt.rss_kib(),
                        "warm_up": warm_up(rt, ref, small_ref, single_ref), "pulls": [], "single_pulls": [],
                        "small_pulls": []}
        if args.fresh_roots and not rt.cold_by_restart:
            rt.cold_by_restart = True
            per[rt.name]["warm_up"]["cold_method"] = "fresh root per run (restart, not timed; --fresh-roots)"

    # Alternate the daemons so that changes in background load hit both alike.
    cases = ((ref, big_layers, "pulls"), (single_ref, single_layers, "single_pulls"))
    for i in range(args.runs):
        for rt in (runtimes if i % 2 == 0 else runtimes[::-1]):
            for case_ref, case_layers, key in cases:
                prepare_cold(rt, small_ref)
                before = rt.stored_bytes()
                sample = timed_pull(rt, case_ref, reglog, case_layers)
                cold, left = check_cold(rt, before, case_ref, f"run {i + 1}")
                sample["bytes_left_after_remove"] = left
                if not cold and not rt.cold_by_restart:
                    rt.cold_by_restart = True
                    per[rt.name]["warm_up"]["cold_method"] += f"; switched to fresh roots after run {i + 1}"
                per[rt.name][key].append(sample)
    for rt in runtimes:
        per[rt.name]["rss_kib_after_pulls"] = rt.rss_kib()
        per[rt.name]["hwm_kib_after_pulls"] = rt.hwm_kib()
        per[rt.name]["rss_split_kib_after_pulls"] = {k: proc_status_kib(rt.pid, k) for k in
                                                     ("RssAnon", "RssFile", "RssShmem")}
        per[rt.name]["threads_after_pulls"] = proc_status_kib(rt.pid, "Threads")
    # The fixed cost of a pull: a 1-layer image of ~1 MiB.
    for i in range(args.runs):
        for rt in runtimes:
            if rt.cold_by_restart:
                prepare_cold(rt, small_ref)
            per[rt.name]["small_pulls"].append(timed_pull(rt, small_ref, reglog, set()))
    if args.perf:
        for rt in runtimes:
            if rt.cold_by_restart:
                prepare_cold(rt, small_ref)
            per[rt.name]["perf_profile_of_one_pull"] = profile_pull(rt, ref, workdir, cleanup)
    for rt in runtimes:
        per[rt.name]["daemon_starts"] = rt.starts
        rt.stop()

    for name, p in per.items():
        pulls = p["pulls"]
        p["pull_seconds"] = summarize([x["seconds"] for x in pulls])
        p["single_pull_seconds"] = summarize([x["seconds"] for x in p["single_pulls"]])
        p["single_throughput_mib_s"] = round(single_bytes / MiB / p["single_pull_seconds"]["median"], 1)
        p["small_pull_seconds"] = summarize([x["seconds"] for x in p["small_pulls"]])
        p["median_per_pull"] = {k: median_of(pulls, k) for k in
                                ("daemon_cpu_s", "daemon_user_s", "daemon_sys_s", "registry_cpu_s")}
        p["median_per_pull"].update({k: median_of([x["registry_view"] for x in pulls], k) for k in
                                     ("before_layers_ms", "layer_gets_ms", "after_layers_ms",
                                      "slowest_layer_get_ms")})
        p["throughput_mib_s"] = round(layer_bytes / MiB / p["pull_seconds"]["median"], 1)
        result["runtimes"][name] = p
    if "containerd" in per:
        result["ratio_crio_c_to_containerd"] = round(per["crio-c"]["pull_seconds"]["median"] /
                                                     per["containerd"]["pull_seconds"]["median"], 3)
        result["ratio_crio_c_to_containerd_single"] = round(per["crio-c"]["single_pull_seconds"]["median"] /
                                                            per["containerd"]["single_pull_seconds"]["median"], 3)
    walls, layer_times = download_floor(registry, catalog, args.runs, 6)
    result["download_floor"] = {"what": "curl: manifest+config, then 5 layers 6 at a time to /dev/null",
                                "seconds": summarize(walls), "layers_only_seconds": summarize(layer_times)}
    if args.debug_pull:
        result["crio_c_debug_pull"] = debug_pull(workdir, registry, ref, reglog, big_layers)
    load_end = os.getloadavg()
    fstype = subprocess.run(["findmnt", "-no", "FSTYPE", "-T", str(workdir)], capture_output=True,
                            text=True).stdout.strip()
    result["host"] = {"machine": platform.machine(), "cpus": os.cpu_count(), "kernel": platform.release(),
                      "loadavg_start": [round(x, 2) for x in load_start],
                      "loadavg_end": [round(x, 2) for x in load_end], "storage_fs": fstype}
    result["bench_seconds"] = round(time.monotonic() - t_start, 1)
    return result


def print_report(r):
    cr = r["runtimes"]["crio-c"]
    ct = r["runtimes"].get("containerd")
    hst = r["host"]
    print(f"Cold pulls of {r['image']['ref']} ({r['image']['layers']} gzip layers, "
          f"{r['image']['compressed_layer_bytes'] / MiB:.1f} MiB) from docker-registry on 127.0.0.1: "
          f"{r['runs']} per daemon after 1 warm-up, daemons alternating")
    print(f"load average (1m) {hst['loadavg_start'][0]} at start, {hst['loadavg_end'][0]} at end, "
          f"{hst['cpus']} CPUs; storage on {hst['storage_fs']}; {r['bench_seconds']} s in all")
    rows = [("", "crio-c", "containerd")]
    ms = lambda v: "-" if v is None else f"{v * 1000:.0f}"  # noqa: E731
    num = lambda v, fmt: "-" if v is None else format(v, fmt)  # noqa: E731

    def row(label, fn):
        rows.append((label, fn(cr), fn(ct) if ct else "-"))

    row("pull median (ms)", lambda p: ms(p["pull_seconds"]["median"]))
    row("pull p95 (ms)", lambda p: ms(p["pull_seconds"]["p95"]))
    row("pull min / max (ms)", lambda p: f"{ms(p['pull_seconds']['min'])} / {ms(p['pull_seconds']['max'])}")
    row("throughput (MiB/s)", lambda p: f"{p['throughput_mib_s']:.0f}")
    si = r["single_image"]
    rows.append((f"{si['ref']} ({si['compressed_layer_bytes'] / MiB:.0f} MiB, 1 layer):", "", ""))
    row("  pull median (ms)", lambda p: ms(p["single_pull_seconds"]["median"]))
    row("  pull p95 (ms)", lambda p: ms(p["single_pull_seconds"]["p95"]))
    row("  pull min / max (ms)",
        lambda p: f"{ms(p['single_pull_seconds']['min'])} / {ms(p['single_pull_seconds']['max'])}")
    row("  throughput (MiB/s)", lambda p: f"{p['single_throughput_mib_s']:.0f}")
    row("daemon CPU per pull (s)", lambda p: num(p["median_per_pull"]["daemon_cpu_s"], ".2f"))
    row("  user / sys (s)", lambda p: f"{num(p['median_per_pull']['daemon_user_s'], '.2f')} / "
                                       f"{num(p['median_per_pull']['daemon_sys_s'], '.2f')}")
    row("registry CPU per pull (s)", lambda p: num(p["median_per_pull"]["registry_cpu_s"], ".2f"))
    row("until 1st layer GET (ms)", lambda p: num(p["median_per_pull"]["before_layers_ms"], ".0f"))
    row("layer GETs (ms)", lambda p: num(p["median_per_pull"]["layer_gets_ms"], ".0f"))
    row("after last layer byte (ms)", lambda p: num(p["median_per_pull"]["after_layers_ms"], ".0f"))
    row("1-layer busybox pull (ms)", lambda p: ms(p["small_pull_seconds"]["median"]))
    row("RSS idle (MiB)", lambda p: f"{p['idle_rss_kib'] / 1024:.1f}")
    row("RSS after pulls (MiB)", lambda p: f"{p['rss_kib_after_pulls'] / 1024:.1f}")
    row("  anon / file (MiB)", lambda p: f"{p['rss_split_kib_after_pulls']['RssAnon'] / 1024:.1f} / "
                                          f"{p['rss_split_kib_after_pulls']['RssFile'] / 1024:.1f}")
    row("peak RSS, VmHWM (MiB)", lambda p: f"{p['hwm_kib_after_pulls'] / 1024:.1f}")
    row("threads after pulls", lambda p: str(p["threads_after_pulls"]))
    row("runs made cold by", lambda p: "restart" if p["daemon_starts"] > 1 else "RemoveImage")
    w = [max(len(x[i]) for x in rows) for i in range(3)]
    for a, b, c in rows:
        print(f"  {a:<{w[0]}}  {b:>{w[1]}}  {c:>{w[2]}}")
    print(f"  crio-c runs (ms):     {', '.join(ms(x['seconds']) for x in cr['pulls'])}")
    print(f"  crio-c runs, 1 layer (ms):     {', '.join(ms(x['seconds']) for x in cr['single_pulls'])}")
    if ct:
        print(f"  containerd runs (ms): {', '.join(ms(x['seconds']) for x in ct['pulls'])}")
        print(f"  containerd runs, 1 layer (ms): {', '.join(ms(x['seconds']) for x in ct['single_pulls'])}")
        print(f"  crio-c / containerd, medians: {r['ratio_crio_c_to_containerd']:.2f} on {r['image']['ref']} "
              f"(goal <= 0.25), {r['ratio_crio_c_to_containerd_single']:.2f} on {si['ref']} (goal <= 0.35)")
    print(f"  crio-c RSS after pulls: {cr['rss_kib_after_pulls'] / 1024:.1f} MiB  (goal < 20 MB)")
    f = r["download_floor"]
    print(f"  download floor (curl to /dev/null, 6 parallel): {ms(f['seconds']['median'])} ms with manifest and "
          f"config and process start-up, {ms(f['layers_only_seconds']['median'])} ms for the layers alone (medians)")
    for name, p in r["runtimes"].items():
        prof = p.get("perf_profile_of_one_pull")
        if not prof or "by_dso" not in prof:
            continue
        print(f"  perf profile of one {name} pull ({prof['pull_seconds'] * 1000:.0f} ms, {prof['samples']} samples "
              f"at {prof['sample_hz']} Hz = {prof['samples'] / prof['sample_hz']:.2f} CPU-s, "
              f"{prof['threads_sampled']} threads):")
        print("    by object: " + ", ".join(f"{row[1]} {row[0]:.0f}%" for row in prof["by_dso"][:6]))
        print("    top: " + "; ".join(f"{row[2].replace('[k] ', '').replace('[.] ', '')} ({row[1]}) {row[0]:.0f}%"
                                      for row in prof["top_symbols"][:5]))
    d = r.get("crio_c_debug_pull")
    if d:
        rv = d["registry_view"] or {}
        print(f"  one crio-c pull with --log-level debug: {d['client_ms']:.0f} ms at the client; registry: first "
              f"layer GET at {rv.get('before_layers_ms')} ms, layers served by "
              f"{(rv.get('before_layers_ms') or 0) + (rv.get('layer_gets_ms') or 0):.1f} ms; daemon log:")
        for line in d["log"]:
            print(f"    {line['ms']:8.1f} ms  {line['level']:5}  {line['msg'][:100]}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="cold pulls per daemon (default 5)")
    parser.add_argument("--no-containerd", dest="containerd", action="store_false",
                        help="measure crio-c only")
    parser.add_argument("--no-debug-pull", dest="debug_pull", action="store_false",
                        help="skip the extra crio-c pull with --log-level debug")
    parser.add_argument("--no-perf", dest="perf", action="store_false",
                        help="skip the perf profile of one more pull per daemon")
    parser.add_argument("--fresh-roots", action="store_true",
                        help="restart each daemon on a fresh root before every cold run (start-up not timed), "
                             "even when RemoveImage frees the layers")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "pull.json")
    args = parser.parse_args(argv)
    if not h.BINARY.is_file():
        sys.exit(f"bench_pull: {h.BINARY} not found; build first or set BUILD")
    if not Path(reg.DOCKER_REGISTRY).is_file():
        sys.exit(f"bench_pull: {reg.DOCKER_REGISTRY} not found (Debian package docker-registry)")

    old_handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    workdir = Path(tempfile.mkdtemp(prefix="crio-bench-pull-"))
    cleanup = []
    try:
        result = run(args, workdir, cleanup)
    except (KeyboardInterrupt, Interrupted) as e:
        sys.exit(f"bench_pull: interrupted ({str(e) or 'SIGINT'}); cleaned up")
    finally:
        for sig in old_handlers:  # finish cleaning up even on a second Ctrl-C
            signal.signal(sig, signal.SIG_IGN)
        for fn in reversed(cleanup):
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - clean up the rest regardless
                print(f"bench_pull: clean-up: {e}", file=sys.stderr)
        unmount_under(workdir)
        if args.keep:
            print(f"bench_pull: kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        for sig, old in old_handlers.items():
            signal.signal(sig, old)
    print_report(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
