#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Benchmark pods and containers: crio-c against containerd's CRI plugin, the same calls from the same client.

busybox:latest (tests/images/build.py) is pushed to Debian's docker-registry on 127.0.0.1, with pause:latest
(the same layer, Cmd `sleep`) as containerd's sandbox_image. crio-c (${BUILD:-build}/crio, log level info,
runc, cgroupfs, drop_infra_ctr) and Debian's containerd (1.6, the config of bench_pull.py plus runc v2
with SystemdCgroup=false, restrict_oom_score_adj, a CNI config dir holding a loopback-only conflist for
Debian's plugins in /usr/lib/cni) run side by side on unix sockets in a temporary directory. Both pull
busybox (and containerd pause) first. Then, with the daemons alternating pod by pod:

- `--pods` (50) pods with one container each running `sleep 3600`, PID namespace CONTAINER (the kubelet's
  default) and the masked and read-only /proc and /sys paths a kubelet sends with every container
  (containerd applies only those, while crio-c has defaults when the request names none; runc mounts each
  one): RunPodSandbox, CreateContainer, StartContainer timed at the client, and their sum per pod;
- daemon RSS idle (after the pulls; also split into anonymous and file-backed pages) and with the pods
  running; RSS and PSS sums of the monitors (conmon for crio-c, containerd-shim-runc-v2 for containerd) and
  of containerd's pause processes;
- the round trip of ListContainers, ListPodSandbox, ContainerStatus, PodSandboxStatus, ImageStatus and
  ListImages, each `--reads` times from one client over one channel (the kubelet's polling), alternating
  between the runtimes every 10 calls;
- 9 more containers created (not started) in every pod, so 10 per pod (500 for 50 pods): ListContainers and
  ListPodSandbox latency; the extra containers are then removed;
- StopContainer (timeout 0), RemoveContainer, StopPodSandbox, RemovePodSandbox per pod, and what was left
  behind (processes, mounts, pinned namespaces, daemon RSS and fds).

Pods get their own network namespace (loopback only) when containerd accepts the loopback-only CNI config;
otherwise both runtimes get host-network pods (`--network host` forces that). The output says which.
Where the time goes: `--exec-pods` (10) more pods per runtime while the kernel's process connector (netlink,
no ptrace) reports the children each daemon and its shims exec, with their times; a second crio-c daemon
at log level debug runs `--debug-pods` (10) pods so that the RPC times it logs (server side) can be set
against the client's; and bare `runc create`, `start`, `delete --force` give the floor (`--floor-runs`). The
host line gives the kernel's cost of moving a process into new cgroups after a quiet spell, which both
runtimes pay per container start (see cgroup_migration_ms), so that runs on different hosts compare.
Prints a table and writes JSON to bench/results/pods.json. Everything listens on 127.0.0.1 or unix sockets;
every pod, container, monitor, mount and temporary directory is removed on exit, Ctrl-C and SIGTERM."""

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.dont_write_bytecode = True  # keep the source tree clean

import bench_pull as bp  # noqa: E402 - sets up the environment, crio_helpers and registry
from bench_pull import h, reg  # noqa: E402

import pod_helpers as ph  # noqa: E402 - tests/integration/pod_helpers.py, adds run_pod() & co. to CriClient

REPO = bp.REPO
IMAGE = "busybox:latest"
PAUSE = "pause:latest"
PAUSE_CMD = ["sleep", "2147483647"]
CTR_CMD = ["sleep", "3600"]
LIFECYCLE = ["RunPodSandbox", "CreateContainer", "StartContainer", "StopContainer", "RemoveContainer",
             "StopPodSandbox", "RemovePodSandbox"]
READS = ["ListContainers", "ListPodSandbox", "ContainerStatus", "PodSandboxStatus", "ImageStatus", "ListImages"]
RPC_TIMEOUT = 120.0
# What a kubelet (1.26) puts in every container's security context for the default proc mount.
KUBELET_MASKED_PATHS = ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"]
KUBELET_READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
LOOPBACK_CONFLIST = {"cniVersion": "1.0.0", "name": "bench-loopback", "plugins": [{"type": "loopback"}]}


# ---------------------------------------------------------------------------------------------------------
# The two daemons, set up to run pods


class PodCrio(bp.Crio):
    def crio_conf(self, d):
        return ph.runtime_conf(d, f'[crio.runtime.runtimes.runc]\nruntime_root = "{d / "runc"}"\n')

    def monitors(self):
        return [p for p, argv in processes() if Path(argv[0]).name == "conmon" and str(self.dir) in " ".join(argv)]

    def runc_roots(self):
        return [self.dir / "runc"]


class PodContainerd(bp.Containerd):
    pause_ref = None

    def config(self, d):
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        runc = f"{cri}.containerd.runtimes.runc"
        keys = (f'  sandbox_image = "{self.pause_ref}"\n  restrict_oom_score_adj = true\n'
                "  netns_mounts_under_state_dir = true\n")
        tables = (f'[{runc}]\n  runtime_type = "io.containerd.runc.v2"\n'
                  f'[{runc}.options]\n  BinaryName = "{shutil.which("runc") or "runc"}"\n'
                  f'  Root = "{d / "runc"}"\n  SystemdCgroup = false\n')
        return super().config(d, cri_keys=keys, tables=tables)

    def _start(self, d):
        (d / "cni-conf").mkdir()
        h.write_text(d / "cni-conf" / "10-loopback.conflist", json.dumps(LOOPBACK_CONFLIST))
        (d / "cni-bin").symlink_to("/usr/lib/cni")
        super()._start(d)

    def monitors(self):
        return [p for p, argv in processes()
                if Path(argv[0]).name == "containerd-shim-runc-v2" and str(self.sock) in " ".join(argv)]

    def runc_roots(self):
        return [self.dir / "runc" / "k8s.io", self.dir / "runc"]


def processes():
    """[(pid, argv)] of every process that can be read."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
        except OSError:
            continue
        if argv:
            out.append((int(pid), argv))
    return out


def pause_processes():
    return [p for p, argv in processes() if argv == PAUSE_CMD]


def memory_kib(pids):
    """(RSS sum, PSS sum) in KiB of the processes still there."""
    rss = pss = 0
    for pid in pids:
        try:
            rss += bp.proc_status_kib(pid, "VmRSS") or 0
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            pass
    return rss, pss


def push_pause(registry, catalog):
    """pause:latest: busybox's layer and config with Cmd PAUSE_CMD, for containerd's sandbox_image."""
    e = catalog[IMAGE]
    manifest = catalog.manifest(e["repo"], e["digest"])
    config = json.loads(catalog.blob(e["repo"], manifest["config"]["digest"]))
    config["config"]["Cmd"] = PAUSE_CMD
    blob = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    pusher = registry.pusher()
    for layer in manifest["layers"]:
        pusher.push_blob("pause", layer["digest"], catalog.blob(e["repo"], layer["digest"]))
    pusher.push_blob("pause", digest, blob)
    manifest["config"] = dict(manifest["config"], digest=digest, size=len(blob))
    pusher.push_manifest("pause", "latest", json.dumps(manifest).encode(), manifest["mediaType"])


# ---------------------------------------------------------------------------------------------------------
# Pods


class Node:
    """A runtime's pods and containers, the client's timings of its calls and the ids for clean-up."""

    def __init__(self, rt, image, network):
        self.rt = rt
        self.c = rt.client
        self.image = image
        self.network = network
        self.times = {k: [] for k in LIFECYCLE + ["runp+create+start", "RemoveContainer (created)"]}
        self.pods = []  # [(pod id, pod config, [container ids], running container id)]
        self.windows = []  # [(rpc, wall clock start, end)] of the timed calls, for the exec timeline

    def _timed(self, key, fn, *args):
        t0 = time.perf_counter()
        r = fn(*args)
        if key:
            t1 = time.perf_counter()
            self.times[key].append((t1 - t0) * 1000)
            self.windows.append((key, t0, t1))
        return r

    def pod_config(self, name):
        log_dir = self.rt.dir / "logs" / name
        log_dir.mkdir(parents=True, exist_ok=True)
        return ph.pod_config(name=name, uid=name + "-uid", log_dir=log_dir, pid="CONTAINER",
                             network="NODE" if self.network == "host" else "POD")

    def container_config(self, name, log_path):
        """A `sleep` container, with the security context fields a kubelet always fills in."""
        c = ph.container_config(self.image, name=name, command=CTR_CMD, log_path=log_path)
        c.linux.security_context.masked_paths.extend(KUBELET_MASKED_PATHS)
        c.linux.security_context.readonly_paths.extend(KUBELET_READONLY_PATHS)
        return c

    def run_pod(self, name, timed=True):
        """RunPodSandbox, CreateContainer, StartContainer for one pod with one `sleep` container."""
        cfg = self.pod_config(name)
        t = lambda k: k if timed else None  # noqa: E731
        pod = self._timed(t("RunPodSandbox"), self.c.run_pod, cfg)
        self.pods.append((pod, cfg, [], None))
        ctr = self._timed(t("CreateContainer"), self.c.create_container, pod,
                          self.container_config("main", "main.log"), cfg)
        self.pods[-1][2].append(ctr)
        self._timed(t("StartContainer"), self.c.start_container, ctr)
        self.pods[-1] = (pod, cfg, [ctr], ctr)
        if timed:
            self.times["runp+create+start"].append(sum(self.times[k][-1] for k in LIFECYCLE[:3]))

    def add_created(self, index, count):
        pod, cfg, ctrs, _ = self.pods[index]
        for j in range(count):
            ctrs.append(self.c.create_container(pod, self.container_config(f"extra-{j}", f"extra-{j}.log"), cfg))

    def remove_created(self, index):
        pod, cfg, ctrs, main = self.pods[index]
        for ctr in [x for x in ctrs if x != main]:
            self._timed("RemoveContainer (created)", self.c.remove_container, ctr)
        self.pods[index] = (pod, cfg, [main], main)

    def tear_down(self, index, timed=True):
        pod, _, ctrs, _ = self.pods[index]
        t = lambda k: k if timed else None  # noqa: E731
        for ctr in ctrs:
            self._timed(t("StopContainer"), self.c.stop_container, ctr, 0)
            self._timed(t("RemoveContainer"), self.c.remove_container, ctr)
        self._timed(t("StopPodSandbox"), self.c.stop_pod, pod)
        self._timed(t("RemovePodSandbox"), self.c.remove_pod, pod)

    def readers(self):
        """{rpc: a function making one call} for the read RPCs, each with its request built once."""
        api = h.pb()
        pod, _, _, ctr = self.pods[0]
        calls = {"ListContainers": (h.RUNTIME_SERVICE, api.ListContainersRequest(), api.ListContainersResponse),
                 "ListPodSandbox": (h.RUNTIME_SERVICE, api.ListPodSandboxRequest(), api.ListPodSandboxResponse),
                 "ContainerStatus": (h.RUNTIME_SERVICE, api.ContainerStatusRequest(container_id=ctr),
                                     api.ContainerStatusResponse),
                 "PodSandboxStatus": (h.RUNTIME_SERVICE, api.PodSandboxStatusRequest(pod_sandbox_id=pod),
                                      api.PodSandboxStatusResponse),
                 "ImageStatus": (h.IMAGE_SERVICE, api.ImageStatusRequest(image=api.ImageSpec(image=self.image)),
                                 api.ImageStatusResponse),
                 "ListImages": (h.IMAGE_SERVICE, api.ListImagesRequest(), api.ListImagesResponse)}
        out = {}
        for name, (service, req, resp) in calls.items():
            fn = self.c.channel.unary_unary(service + name, request_serializer=type(req).SerializeToString,
                                            response_deserializer=resp.FromString)
            out[name] = (lambda f, r: lambda: f(r, timeout=10))(fn, req)
        return out

    def response_bytes(self, names):
        """{rpc: size of its serialized response}, to tell parsing cost from serving cost."""
        return {name: self.readers()[name]().ByteSize() for name in names}


def time_reads(nodes, names, iterations, warmup, chunk=100):
    """{runtime: {rpc: [us]}}: each RPC `iterations` times per runtime, in chunks alternating between them."""
    clock = time.perf_counter_ns
    out = {n.rt.name: {} for n in nodes}
    readers = {n.rt.name: n.readers() for n in nodes}
    for name in names:
        for n in nodes:
            fn = readers[n.rt.name][name]
            for _ in range(warmup):
                fn()
            out[n.rt.name][name] = []
        done = 0
        while done < iterations:
            k = min(chunk, iterations - done)
            for n in nodes:
                fn, lat = readers[n.rt.name][name], out[n.rt.name][name]
                for _ in range(k):
                    t0 = clock()
                    fn()
                    lat.append((clock() - t0) / 1000)
            done += k
    return out


def summarize(values, digits=3):
    if not values:
        return None
    s = sorted(values)
    return {"median": round(statistics.median(s), digits), "p95": round(bp.percentile(s, 95), digits),
            "min": round(s[0], digits), "max": round(s[-1], digits), "n": len(s)}


# ---------------------------------------------------------------------------------------------------------
# Clean-up and leftovers


def cri_clean(rt):
    """Stop and remove every container and pod the daemon still knows of; returns how many."""
    n = 0
    with h.CriClient(rt.sock, timeout=60) as c:
        for ctr in c.list_containers():
            c.stop_container(ctr.id, 0)
            c.remove_container(ctr.id)
            n += 1
        for pod in c.list_pods():
            c.stop_pod(pod.id)
            c.remove_pod(pod.id)
            n += 1
    return n


def runc_clean(roots):
    """Delete (SIGKILL first) whatever runc still has under these state roots."""
    for root in roots:
        if not Path(root).is_dir():
            continue
        out = subprocess.run(["runc", "--root", str(root), "list", "-q"], capture_output=True, text=True,
                             timeout=30).stdout.split()
        for cid in out:
            subprocess.run(["runc", "--root", str(root), "delete", "--force", cid], capture_output=True, timeout=30)


def kill_under(workdir):
    """SIGKILL monitors left running with the work directory on their command line."""
    for pid, argv in processes():
        if pid != os.getpid() and str(workdir) in " ".join(argv):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def zombies_of(pid):
    out = []
    for p in os.listdir("/proc"):
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] == "Z" and int(fields[1]) == pid:
            out.append(int(p))
    return out


def leftovers(rt, baseline_mounts):
    """What a runtime left on the node once every pod was removed."""
    left = {"monitors": len(rt.monitors()), "mounts": sorted(set(bp.mounts_under(rt.dir)) - set(baseline_mounts)),
            "zombie_children": len(zombies_of(rt.pid)), "rss_kib": rt.rss_kib(),
            "fds": len(os.listdir(f"/proc/{rt.pid}/fd"))}
    ns_dir = rt.dir / "ns"
    if ns_dir.is_dir():
        left["pinned_namespace_files"] = sum(len(files) for _, _, files in os.walk(ns_dir))
    left["runc_containers"] = sum(
        len(subprocess.run(["runc", "--root", str(r), "list", "-q"], capture_output=True, text=True).stdout.split())
        for r in rt.runc_roots()[:1] if r.is_dir())
    return left


def cgroup_roots():
    return {p for p in Path("/sys/fs/cgroup").glob("*/k8s.io")}


def cgroup_mounts():
    """[(mount point, options)] of the cgroup (v1) and cgroup2 file systems."""
    out = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, where, fstype, opts = line.split()[:4]
        if fstype in ("cgroup", "cgroup2"):
            out.append((where, opts))
    return out


def cgroup_migration_ms(runs=7, idle_s=0.1):
    """Median ms to move a process into a new cgroup in every hierarchy, as `runc create` does, after
    `idle_s` without migrations. The kernel's first migration after a quiet spell may wait for an RCU grace
    period (the cgroup threadgroup rwsem switching to its write side: several ms on these VMs, once per
    container start for both runtimes); with the `favordynmods` mount option (or the per-threadgroup rwsem
    it turns on, which stays on until reboot) it does not. Reported so that runs on different hosts compare."""
    mounts = [where for where, _ in cgroup_mounts()]
    times = []
    for i in range(runs):
        proc = subprocess.Popen(["sleep", "30"])
        made = []
        try:
            time.sleep(idle_s)
            t0 = time.perf_counter()
            for where in mounts:
                d = Path(where) / f"crio-bench-probe-{os.getpid()}-{i}"
                d.mkdir()
                made.append(d)
                for f in ("cpuset.cpus", "cpuset.mems"):  # a v1 cpuset takes no task until both are set
                    if (d / f).exists():
                        (d / f).write_text((Path(where) / f).read_text())
                (d / "cgroup.procs").write_text(str(proc.pid))
            times.append((time.perf_counter() - t0) * 1000)
        finally:
            proc.kill()
            proc.wait()
            for d in made:
                for _ in range(100):  # the killed task leaves its cgroups a moment after wait()
                    try:
                        d.rmdir()
                        break
                    except OSError:
                        time.sleep(0.01)
    return summarize(times)


# ---------------------------------------------------------------------------------------------------------
# The benchmark


class ProcEvents:
    """fork, exec and exit of every process on the host, from the kernel's process connector (netlink), with
    CLOCK_MONOTONIC timestamps: the children of a daemon timed without tracing or slowing it."""

    def __init__(self):
        import socket
        import threading
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 11)  # NETLINK_CONNECTOR
        self.sock.bind((0, 1))  # CN_IDX_PROC
        self._listen(1)  # PROC_CN_MCAST_LISTEN
        self.sock.settimeout(0.2)
        self.events = []  # (what, seconds, pid or parent tgid, tgid, exec'd argv)
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _listen(self, op):
        import struct
        cn = struct.pack("=IIIIHHI", 1, 1, 0, 0, 4, 0, op)  # cb_id {CN_IDX_PROC, CN_VAL_PROC}, seq, ack, len
        self.sock.send(struct.pack("=IHHII", 16 + len(cn), 3, 0, 0, 0) + cn)  # NLMSG_DONE

    def _loop(self):
        import struct
        while self.running:
            try:
                data = self.sock.recv(65536)
            except OSError:
                continue
            what, _, ns = struct.unpack_from("=IIQ", data, 36)
            if what == 1:  # PROC_EVENT_FORK: parent pid/tgid, child pid/tgid
                _, ptgid, cpid, ctgid = struct.unpack_from("=IIII", data, 52)
                if cpid == ctgid:
                    self.events.append(("fork", ns / 1e9, ptgid, ctgid, None))
            elif what == 2:  # PROC_EVENT_EXEC
                pid, tgid = struct.unpack_from("=II", data, 52)
                try:
                    argv = Path(f"/proc/{tgid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
                except OSError:
                    argv = ["?"]
                self.events.append(("exec", ns / 1e9, pid, tgid, argv))
            elif what == 0x80000000:  # PROC_EVENT_EXIT
                pid, tgid = struct.unpack_from("=II", data, 52)
                if pid == tgid:
                    self.events.append(("exit", ns / 1e9, pid, tgid, None))

    def close(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()

    def execs_under(self, root_pid):
        """[(pid, exec time, label, end time)] of the execs in root_pid's descendants; a process ends at its
        next exec or its exit."""
        family, execs, ends = {root_pid}, [], {}
        for what, t, a, b, argv in self.events:
            if what == "fork" and a in family:
                family.add(b)
            elif what == "exec" and b in family:
                execs.append([b, t, exec_label(argv), None])
            elif what == "exit" and b in family:
                ends.setdefault(b, t)
        for i, e in enumerate(execs):
            later = [x[1] for x in execs[i + 1:] if x[0] == e[0]]
            e[3] = later[0] if later else ends.get(e[0])
        return [tuple(e) for e in execs]


RUNC_VERBS = ("create", "start", "kill", "delete", "state", "exec", "update", "init")


def exec_label(argv):
    """runc and its subcommand, the shim with `start`/`delete` when given, else the program's name ("?": the
    process was gone before its command line could be read)."""
    name = Path(argv[0]).name if argv else "?"
    if name == "runc":
        return f"runc {next((a for a in argv[1:] if a in RUNC_VERBS), '')}".strip()
    if name.startswith("containerd-shim"):
        return "shim " + next((a for a in argv[1:] if a in ("start", "delete")), "daemon")
    return name


def exec_timeline(execs, windows):
    """For each timed call, the children exec'd during it: (offset ms from the call's start, label, ms it ran
    for or None if it outlived the trace)."""
    out = []
    for rpc, t0, t1 in windows:
        kids = [(round((t - t0) * 1000, 1), label, round((end - t) * 1000, 1) if end else None)
                for _, t, label, end in execs if t0 <= t <= t1]
        out.append({"rpc": rpc, "ms": round((t1 - t0) * 1000, 1), "execs": kids})
    return out


def debug_run(workdir, registry, ref, pods, network):
    """A crio-c daemon at log level debug runs `pods` pods: the server-side RPC times it logs (ms) against the
    client's."""
    rt = PodCrio(workdir, registry, log_level="debug")
    rt.name = "crio-c-debug"
    try:
        rt.start()
        rt.pull(ref)
        node = Node(rt, ref, network)
        start = Path(rt.log_path).stat().st_size
        for i in range(pods):
            node.run_pod(f"dbg-{i}")
        for i in range(pods):
            node.tear_down(i)
        with open(rt.log_path, "rb") as f:
            f.seek(start)
            text = f.read().decode(errors="replace")
        server = {}
        for m in re.finditer(r"msg=\"(\w+): OK in ([0-9.]+) ms", text):
            server.setdefault(m.group(1), []).append(float(m.group(2)))
        return {name: {"server_ms": summarize(server.get(name, [])), "client_ms": summarize(node.times[name])}
                for name in LIFECYCLE}
    finally:
        try:
            if rt.client:
                cri_clean(rt)
        except Exception:  # noqa: BLE001 - the daemon may be gone; runc_clean below
            pass
        rt.stop()
        runc_clean(rt.runc_roots())


def exec_run(rt, ref, network, pods):
    """`pods` more pods on a runtime while the process connector reports every fork, exec and exit: the
    children the daemon (or its shims) exec'd per call, and the timeline of the last pod's calls. None when
    the connector is not available."""
    try:
        events = ProcEvents()
    except OSError as e:
        print(f"bench_pods: no process events ({e}); no exec timeline", file=sys.stderr)
        return None
    node = Node(rt, ref, network)
    try:
        for i in range(pods):
            node.run_pod(f"exec-{i}")
        for i in range(pods):
            node.tear_down(i)
        time.sleep(0.2)
    finally:
        events.close()
    execs = events.execs_under(rt.pid)
    per_rpc, before, after = {}, {}, {}
    for w in exec_timeline(execs, node.windows):
        per_rpc.setdefault(w["rpc"], []).append(len(w["execs"]))
        if w["execs"]:
            before.setdefault(w["rpc"], []).append(w["execs"][0][0])
            ends = [o + d for o, _, d in w["execs"] if d is not None and o + d <= w["ms"]]
            if ends:
                after.setdefault(w["rpc"], []).append(w["ms"] - max(ends))
    last = node.windows[3 * (pods - 1):3 * pods] + node.windows[-4:]
    return {"pods": pods, "execs_per_call_median": {k: statistics.median(v) for k, v in per_rpc.items()},
            "ms_before_first_exec_median": {k: round(statistics.median(v), 1) for k, v in before.items()},
            "ms_after_last_child_exit_median": {k: round(statistics.median(v), 1) for k, v in after.items()},
            "client_ms": {k: summarize(v) for k, v in node.times.items() if v},
            "timeline_last_pod": exec_timeline(execs, last)}


def runc_floor(workdir, catalog, runs):
    """Bare runc, no monitor, no daemon: create, start and delete --force of a busybox `sleep` container (ms)."""
    import tarfile
    e = catalog[IMAGE]
    manifest = catalog.manifest(e["repo"], e["digest"])
    bundle = workdir / "runc-floor"
    rootfs = bundle / "rootfs"
    rootfs.mkdir(parents=True)
    for layer in manifest["layers"]:
        with tarfile.open(catalog.blob_path(e["repo"], layer["digest"])) as t:
            t.extractall(rootfs)
    subprocess.run(["runc", "spec", "--bundle", str(bundle)], check=True)
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"].update(args=CTR_CMD, terminal=False)
    spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"] if n["type"] != "network"]
    root = workdir / "runc-floor-state"
    times = {"runc create": [], "runc start": [], "runc delete --force": []}
    try:
        for i in range(runs):
            cid = f"crio-bench-floor-{os.getpid()}-{i}"
            spec["linux"]["cgroupsPath"] = f"/crio-bench-floor/{cid}"
            (bundle / "config.json").write_text(json.dumps(spec))
            for verb, argv in (("runc create", ["create", "--bundle", str(bundle), cid]),
                               ("runc start", ["start", cid]), ("runc delete --force", ["delete", "--force", cid])):
                t0 = time.perf_counter()
                subprocess.run(["runc", "--root", str(root), *argv], check=True, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                times[verb].append((time.perf_counter() - t0) * 1000)
    finally:
        runc_clean([root])
        for cg in Path("/sys/fs/cgroup").glob("*/crio-bench-floor"):
            try:
                cg.rmdir()
            except OSError:
                pass
    return {k: summarize(v) for k, v in times.items()}


def try_pod_network(node):
    """Run and remove one pod with its own network namespace; None if that works, else the error."""
    try:
        node.run_pod("probe-net", timed=False)
    except h.grpc.RpcError as e:
        for i in range(len(node.pods)):
            node.tear_down(i, timed=False)
        node.pods.clear()
        return f"{e.code().name}: {e.details()}"
    node.tear_down(len(node.pods) - 1, timed=False)
    node.pods.pop()
    return None


def run(args, workdir, cleanup):
    load_start = os.getloadavg()
    t_start = time.monotonic()
    catalog = reg.images.ensure_built()
    registry = reg.Registry(workdir / "registry")
    cleanup.append(registry.stop)
    registry.start()
    registry.push(catalog, repos=["busybox"])
    push_pause(registry, catalog)
    ref = f"{registry.host}/{IMAGE}"
    PodContainerd.pause_ref = f"{registry.host}/{PAUSE}"

    runtimes = [PodCrio(workdir, registry)]
    if args.containerd:
        if Path(bp.CONTAINERD).is_file():
            runtimes.append(PodContainerd(workdir, registry))
        else:
            print(f"bench_pods: {bp.CONTAINERD} not found; containerd not measured", file=sys.stderr)
    for rt in runtimes:
        cleanup.append(lambda rt=rt: runc_clean(rt.runc_roots()))
        cleanup.append(rt.kill)
        cleanup.append(rt.stop)
        cleanup.append(lambda rt=rt: rt.client and cri_clean(rt))

    result = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "pods": args.pods,
              "containers_per_pod_for_lists": args.containers_per_pod, "reads": args.reads,
              "image": ref, "container_command": CTR_CMD, "pid_namespace": "CONTAINER", "runtimes": {}}
    per, nodes = {}, []
    for rt in runtimes:
        rt.start()
        rt.pull(ref)
        if isinstance(rt, PodContainerd):
            rt.pull(PodContainerd.pause_ref)
        nodes.append(Node(rt, ref, args.network))
        per[rt.name] = {"binary": str(h.BINARY) if isinstance(rt, PodCrio) else bp.CONTAINERD,
                        "runtime_version": rt.runtime_version, "baseline_mounts": bp.mounts_under(rt.dir)}

    # Pod networking: a loopback-only network namespace if containerd takes it, else host network for both.
    network_note = "host network for both (--network host)"
    if args.network == "auto":
        errors = {n.rt.name: try_pod_network(n) for n in nodes}
        failed = {k: v for k, v in errors.items() if v}
        if failed:
            network_note = "host network for both: pod network failed on " + "; ".join(
                f"{k} ({v[:200]})" for k, v in failed.items())
            for n in nodes:
                n.network = "host"
        else:
            network_note = ("pod network namespaces, loopback only (crio-c: its own netns with lo up; "
                            "containerd: CNI loopback conflist, /usr/lib/cni)")
    result["network"] = network_note
    print(f"bench_pods: {network_note}", file=sys.stderr)

    time.sleep(1)
    for n in nodes:
        per[n.rt.name]["idle_rss_kib"] = n.rt.rss_kib()
        per[n.rt.name]["idle_rss_split_kib"] = {k: bp.proc_status_kib(n.rt.pid, k) for k in ("RssAnon", "RssFile")}
    for n in nodes:  # warm-up: one untimed pod each, run and torn down
        n.run_pod("warm-up", timed=False)
        n.tear_down(0, timed=False)
        n.pods.clear()

    for i in range(args.pods):
        for n in (nodes if i % 2 == 0 else nodes[::-1]):
            n.run_pod(f"bench-{i}")
    time.sleep(2)
    for n in nodes:
        p = per[n.rt.name]
        mons = n.rt.monitors()
        rss, pss = memory_kib(mons)
        p["rss_kib_with_pods"] = n.rt.rss_kib()
        p["threads_with_pods"] = bp.proc_status_kib(n.rt.pid, "Threads")
        p["monitors"] = {"count": len(mons), "rss_kib_sum": rss, "pss_kib_sum": pss}
        if isinstance(n.rt, PodContainerd):
            pause = pause_processes()
            prss, ppss = memory_kib(pause)
            p["pause_processes"] = {"count": len(pause), "rss_kib_sum": prss, "pss_kib_sum": ppss}

    # Chunks of 10 calls: on a shared machine a burst of someone else's load then falls on both runtimes
    # alike rather than on one runtime's chunk of 100 (~40 ms).
    reads = time_reads(nodes, READS, args.reads, 20, chunk=10)
    for name, r in reads.items():
        per[name]["reads_us"] = {k: summarize(v, 1) for k, v in r.items()}
    for n in nodes:
        per[n.rt.name]["read_response_bytes"] = n.response_bytes(READS)

    t0 = time.monotonic()
    for i in range(args.pods):
        for n in (nodes if i % 2 == 0 else nodes[::-1]):
            n.add_created(i, args.containers_per_pod - 1)
    create_s = time.monotonic() - t0
    for n in nodes:
        with h.CriClient(n.rt.sock) as c:
            per[n.rt.name]["containers_listed"] = len(c.list_containers())
        per[n.rt.name]["rss_kib_with_all_containers"] = n.rt.rss_kib()
    lists = time_reads(nodes, ["ListContainers", "ListPodSandbox"], args.list_reads, 5, chunk=20)
    for name, r in lists.items():
        per[name]["lists_full_us"] = {k: summarize(v, 1) for k, v in r.items()}
    for n in nodes:
        per[n.rt.name]["lists_full_response_bytes"] = n.response_bytes(["ListContainers", "ListPodSandbox"])
    for i in range(args.pods):
        for n in (nodes if i % 2 == 0 else nodes[::-1]):
            n.remove_created(i)

    for i in range(args.pods):
        for n in (nodes if i % 2 == 0 else nodes[::-1]):
            n.tear_down(i)
    if nodes[0].network == "host":  # what crio-c's own network namespace (loopback up) adds to RunPodSandbox
        own = Node(nodes[0].rt, ref, "pod")
        for i in range(5):
            own.run_pod(f"netns-{i}")
            own.tear_down(0)
            own.pods.clear()
        per["crio-c"]["own_netns_ms"] = {k: summarize(own.times[k]) for k in ("RunPodSandbox", "StopPodSandbox",
                                                                               "RemovePodSandbox")}
    if args.exec_pods:
        for n in nodes:
            per[n.rt.name]["execs"] = exec_run(n.rt, ref, n.network, args.exec_pods)
    time.sleep(1)
    for n in nodes:
        per[n.rt.name]["left_after_teardown"] = leftovers(n.rt, per[n.rt.name].pop("baseline_mounts"))
        n.rt.client.close()
        n.rt.client = None
        per[n.rt.name]["ms"] = {k: summarize(v) for k, v in n.times.items()}
        n.rt.stop()
    for n in nodes:
        result["runtimes"][n.rt.name] = per[n.rt.name]
    result["extra_containers_create_seconds_both"] = round(create_s, 1)
    if args.debug_pods:
        result["crio_c_debug"] = debug_run(workdir, registry, ref, args.debug_pods, nodes[0].network)
    if args.floor_runs:
        result["runc_floor_ms"] = runc_floor(workdir, catalog, args.floor_runs)
    load_end = os.getloadavg()
    result["host"] = {"machine": platform.machine(), "cpus": os.cpu_count(), "kernel": platform.release(),
                      "cgroup_mounts": cgroup_mounts(), "cgroup_migration_ms": cgroup_migration_ms(),
                      "loadavg_start": [round(x, 2) for x in load_start],
                      "loadavg_end": [round(x, 2) for x in load_end]}
    result["bench_seconds"] = round(time.monotonic() - t_start, 1)
    # The read round trips include the client's decoding: the same classes for both daemons.
    from google.protobuf.internal import api_implementation
    result["client"] = {"protobuf_implementation": api_implementation.Type(), "grpcio": h.grpc.__version__}
    return result


# ---------------------------------------------------------------------------------------------------------
# Report


def print_report(r):
    cr = r["runtimes"]["crio-c"]
    ct = r["runtimes"].get("containerd")
    hst = r["host"]
    print(f"Pods and containers: {r['pods']} pods x 1 container ({' '.join(r['container_command'])}, PID namespace "
          f"CONTAINER), busybox from docker-registry on 127.0.0.1; {r['network']}")
    print(f"load average (1m) {hst['loadavg_start'][0]} at start, {hst['loadavg_end'][0]} at end, {hst['cpus']} "
          f"CPUs; {r['bench_seconds']} s in all")
    if "cgroup_migration_ms" in hst:
        dyn = [where for where, opts in hst["cgroup_mounts"] if "favordynmods" in opts.split(",")]
        print(f"kernel {hst['kernel']}: a move into new cgroups in all {len(hst['cgroup_mounts'])} hierarchies "
              f"after 100 ms idle takes {hst['cgroup_migration_ms']['median']:.1f} ms (median); favordynmods "
              f"mounted: {', '.join(dyn) or 'none'}")
    if "client" in r:
        print(f"client: python3-grpcio {r['client']['grpcio']}, protobuf implementation "
              f"{r['client']['protobuf_implementation']} (read round trips include decoding the answer)")
    rows = [("", "crio-c", "containerd", "ratio")]

    def row(label, fn, fmt=".1f"):
        a = fn(cr)
        b = fn(ct) if ct else None
        ratio = f"{a / b:.2f}" if a is not None and b else "-"
        rows.append((label, "-" if a is None else format(a, fmt), "-" if b is None else format(b, fmt), ratio))

    for key in ["runp+create+start"] + LIFECYCLE + ["RemoveContainer (created)"]:
        for stat in ("median", "p95"):
            row(f"{key} {stat} (ms)", lambda p, k=key, s=stat: p["ms"][k] and p["ms"][k][s])
    n_list = cr["containers_listed"]
    for key in ("ListContainers", "ListPodSandbox"):
        for stat in ("median", "p95"):
            row(f"{key}, {n_list} ctrs, {stat} (ms)", lambda p, k=key, s=stat: p["lists_full_us"][k][s] / 1e3, ".2f")
    for key in READS:
        for stat in ("median", "p95"):
            row(f"{key} round trip {stat} (us)", lambda p, k=key, s=stat: p["reads_us"][k][s], ".0f")
    mib = lambda v: v / 1024  # noqa: E731
    row("daemon RSS idle (MiB)", lambda p: mib(p["idle_rss_kib"]))
    row("  of it anonymous (MiB)", lambda p: mib(p["idle_rss_split_kib"]["RssAnon"]), ".2f")
    row("  of it file-backed (MiB)", lambda p: mib(p["idle_rss_split_kib"]["RssFile"]), ".2f")
    row(f"daemon RSS, {r['pods']} pods running (MiB)", lambda p: mib(p["rss_kib_with_pods"]))
    row(f"daemon RSS, {n_list} containers (MiB)", lambda p: mib(p["rss_kib_with_all_containers"]))
    row("monitors (count)", lambda p: p["monitors"]["count"], "d")
    row("monitor RSS per pod (MiB)", lambda p: mib(p["monitors"]["rss_kib_sum"]) / r["pods"], ".2f")
    row("monitor PSS per pod (MiB)", lambda p: mib(p["monitors"]["pss_kib_sum"]) / r["pods"], ".2f")
    row("pause processes RSS per pod (MiB)",
        lambda p: mib(p["pause_processes"]["rss_kib_sum"]) / r["pods"] if "pause_processes" in p else 0.0, ".2f")
    row("daemon RSS after teardown (MiB)", lambda p: mib(p["left_after_teardown"]["rss_kib"]))
    row("daemon threads with pods", lambda p: p["threads_with_pods"], "d")
    w = [max(len(x[i]) for x in rows) for i in range(4)]
    for a, b, c, d in rows:
        print(f"  {a:<{w[0]}}  {b:>{w[1]}}  {c:>{w[2]}}  {d:>{w[3]}}")
    for name, p in r["runtimes"].items():
        print(f"  left by {name} after teardown: {json.dumps(p['left_after_teardown'])}")
    own = cr.get("own_netns_ms")
    if own:
        print("  crio-c pods with their own network namespace (loopback up), 5 pods, medians: " +
              ", ".join(f"{k} {v['median']:.1f} ms" for k, v in own.items()))
    floor = r.get("runc_floor_ms")
    if floor:
        print("  bare runc floor (no monitor, no daemon), medians: " +
              ", ".join(f"{k} {v['median']:.1f} ms" for k, v in floor.items()))
    dbg = r.get("crio_c_debug")
    if dbg:
        print("  crio-c at log level debug, server time from its log vs the client's (medians, ms):")
        for name, v in dbg.items():
            s, c = v["server_ms"], v["client_ms"]
            print(f"    {name:<17} server {s['median'] if s else '-':>8}  client {c['median'] if c else '-':>8}")
    for name, p in r["runtimes"].items():
        ex = p.get("execs")
        if not ex:
            continue
        print(f"  {name}: children exec'd per call (median of {ex['pods']} pods) and during the last pod's calls "
              "(+start offset ms, program, ms until it exited or exec'd again):")
        for w in ex["timeline_last_pod"]:
            kids = ", ".join(f"+{o} {label} {'-' if d is None else d}" for o, label, d in w["execs"])
            print(f"    {w['rpc']:<17} {w['ms']:6.1f} ms, {ex['execs_per_call_median'].get(w['rpc'], 0):g} execs: "
                  f"{kids or '-'}")
        pre, post = ex["ms_before_first_exec_median"], ex["ms_after_last_child_exit_median"]
        print("    medians over all pods, ms before the first exec / after the last child exited in the call: " +
              ", ".join(f"{k} {pre[k]} / {post.get(k, '-')}" for k in LIFECYCLE if k in pre))
    sizes = [(name, p.get("read_response_bytes"), p.get("lists_full_response_bytes"))
             for name, p in r["runtimes"].items()]
    print("  response bytes (reads with the pods running; lists with all containers): " +
          "; ".join(f"{name} {json.dumps(a)} {json.dumps(b)}" for name, a, b in sizes))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=50, help="pods per runtime (default 50)")
    parser.add_argument("--containers-per-pod", type=int, default=10,
                        help="containers per pod for the list latencies (default 10: 500 for 50 pods)")
    parser.add_argument("--reads", type=int, default=2000, help="calls per read RPC per runtime (default 2000)")
    parser.add_argument("--list-reads", type=int, default=200,
                        help="calls of each list with all containers created (default 200)")
    parser.add_argument("--network", choices=("auto", "host"), default="auto",
                        help="auto: pod network namespaces if containerd accepts its loopback CNI config")
    parser.add_argument("--debug-pods", type=int, default=10,
                        help="pods for the crio-c run at log level debug (0: skip)")
    parser.add_argument("--exec-pods", type=int, default=10,
                        help="pods per runtime run while recording the children's execs (0: skip)")
    parser.add_argument("--floor-runs", type=int, default=10,
                        help="bare runc create/start/delete runs for the floor (0: skip)")
    parser.add_argument("--no-containerd", dest="containerd", action="store_false", help="measure crio-c only")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "pods.json")
    args = parser.parse_args(argv)
    if not h.BINARY.is_file():
        sys.exit(f"bench_pods: {h.BINARY} not found; build first or set BUILD")
    if not Path(reg.DOCKER_REGISTRY).is_file():
        sys.exit(f"bench_pods: {reg.DOCKER_REGISTRY} not found (Debian package docker-registry)")

    old_handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, bp._on_signal)
    workdir = Path(tempfile.mkdtemp(prefix="crio-bench-pods-"))
    cgroups_before = cgroup_roots()
    run_containerd_before = Path("/run/containerd").exists()
    cleanup = []
    try:
        result = run(args, workdir, cleanup)
    except (KeyboardInterrupt, bp.Interrupted) as e:
        sys.exit(f"bench_pods: interrupted ({str(e) or 'SIGINT'}); cleaned up")
    finally:
        for sig in old_handlers:  # finish cleaning up even on a second Ctrl-C
            signal.signal(sig, signal.SIG_IGN)
        for fn in reversed(cleanup):
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - clean up the rest regardless
                print(f"bench_pods: clean-up: {e}", file=sys.stderr)
        kill_under(workdir)
        bp.unmount_under(workdir)
        for cg in cgroup_roots() - cgroups_before:  # containerd's empty per-namespace cgroup parents
            try:
                cg.rmdir()
            except OSError:
                pass
        if not run_containerd_before:  # the shims' socket directory, made by our containerd
            for d in (Path("/run/containerd/s"), Path("/run/containerd")):
                try:
                    d.rmdir()
                except OSError:
                    pass
        if args.keep:
            print(f"bench_pods: kept {workdir}", file=sys.stderr)
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
