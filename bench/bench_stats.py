#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Benchmark the stats RPCs: crio-c against containerd's CRI plugin with `--pods` (50) running pods each.

The set-up is bench_pods.py's (busybox and pause from Debian's docker-registry on 127.0.0.1, runc, cgroupfs,
unix sockets in a temporary directory, host-network pods unless both runtimes take a loopback-only pod
network). With the pods running:

- every pod has a cgroup parent of its own (as a kubelet's pods have), removed at the end;
- the round trip of ListContainerStats, ListPodSandboxStats, ContainerStats and PodSandboxStats, `--reads`
  times each, alternating between the runtimes in chunks (median, p95, in ms); an RPC a runtime does not
  implement is reported as such;
- each daemon's CPU time over `--window` seconds (60) idle, and while a poller calls ListPodSandboxStats and
  ListContainerStats every 10 s as a kubelet does, reported per minute;
- the same two windows for a crio-c daemon with `[crio.stats] collection_period = 10` and its own 50 pods.

Prints a table and writes JSON to bench/results/stats.json. Everything is removed on exit, Ctrl-C and
SIGTERM (bench_pods.py's clean-up)."""

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.dont_write_bytecode = True

import bench_pods as bpo  # noqa: E402
from bench_pull import h, reg  # noqa: E402
import bench_pull as bp  # noqa: E402

STATS = ["ListContainerStats", "ListPodSandboxStats", "ContainerStats", "PodSandboxStats"]
POLL_PERIOD_S = 10
# Every pod gets a cgroup parent of its own below this, as a kubelet's pods do (containerd's pod stats need one).
CGROUP_PARENT = "/crio-bench-stats"


class StatsNode(bpo.Node):
    def pod_config(self, name):
        cfg = super().pod_config(name)
        cfg.linux.cgroup_parent = f"{CGROUP_PARENT}/{self.rt.name}/{name}"
        return cfg


def remove_cgroup_parents():
    """The pods' parents, deepest first (the runtimes remove only their containers' cgroups)."""
    for top in Path("/sys/fs/cgroup").glob("*" + CGROUP_PARENT):
        for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)) + [top]:
            try:
                d.rmdir()
            except OSError:
                pass


class SampledCrio(bpo.PodCrio):
    name = "crio-c-sampled"

    def crio_conf(self, d):
        return super().crio_conf(d) + "\n[crio.stats]\ncollection_period = 10\n"


def stats_readers(node):
    """{rpc: one call}, None for RPCs the runtime answers UNIMPLEMENTED."""
    api = h.pb()
    pod, _, _, ctr = node.pods[0]
    calls = {"ListContainerStats": (api.ListContainerStatsRequest(), api.ListContainerStatsResponse),
             "ListPodSandboxStats": (api.ListPodSandboxStatsRequest(), api.ListPodSandboxStatsResponse),
             "ContainerStats": (api.ContainerStatsRequest(container_id=ctr), api.ContainerStatsResponse),
             "PodSandboxStats": (api.PodSandboxStatsRequest(pod_sandbox_id=pod), api.PodSandboxStatsResponse)}
    out = {}
    for name, (req, resp) in calls.items():
        fn = node.c.channel.unary_unary(h.RUNTIME_SERVICE + name, request_serializer=type(req).SerializeToString,
                                        response_deserializer=resp.FromString)
        call = (lambda f, r: lambda: f(r, timeout=30))(fn, req)
        try:
            call()
            out[name] = call
        except h.grpc.RpcError as e:
            out[name] = f"{e.code().name}: {(e.details() or '')[:120]}"
    return out


def time_stats(nodes, reads, chunk=20):
    """{runtime: {rpc: summary in ms or "unimplemented"}}, the runtimes alternating chunk by chunk."""
    readers = {n.rt.name: stats_readers(n) for n in nodes}
    lat = {n.rt.name: {k: [] for k in STATS} for n in nodes}
    for name in STATS:
        done = 0
        while done < reads:
            k = min(chunk, reads - done)
            for n in nodes:
                fn = readers[n.rt.name][name]
                for _ in range(k if callable(fn) else 0):
                    t0 = time.perf_counter()
                    fn()
                    lat[n.rt.name][name].append((time.perf_counter() - t0) * 1000)
            done += k
    return {rt: {k: bpo.summarize(v) if callable(readers[rt][k]) else readers[rt][k] for k, v in per.items()}
            for rt, per in lat.items()}


def cpu_per_minute(rt, window, poll):
    """The daemon's CPU seconds per minute over `window` s, optionally polled like a kubelet."""
    api = h.pb()
    calls = []
    if poll:
        for name, req, resp in (("ListPodSandboxStats", api.ListPodSandboxStatsRequest(),
                                 api.ListPodSandboxStatsResponse),
                                ("ListContainerStats", api.ListContainerStatsRequest(),
                                 api.ListContainerStatsResponse)):
            fn = rt.client.channel.unary_unary(h.RUNTIME_SERVICE + name, request_serializer=type(req).SerializeToString,
                                               response_deserializer=resp.FromString)
            calls.append((fn, req))
    start = bp.cpu_seconds(rt.pid)
    t0 = time.monotonic()
    while time.monotonic() - t0 < window:
        for fn, req in calls:
            try:
                fn(req, timeout=30)
            except h.grpc.RpcError:
                pass
        time.sleep(min(POLL_PERIOD_S, max(0.0, window - (time.monotonic() - t0))))
    return round((bp.cpu_seconds(rt.pid) - start) * 60 / (time.monotonic() - t0), 3)


def start_node(rt, ref, network, pods, cleanup):
    cleanup.append(lambda: bpo.runc_clean(rt.runc_roots()))
    cleanup.append(rt.kill)
    cleanup.append(rt.stop)
    cleanup.append(lambda: rt.client and bpo.cri_clean(rt))
    rt.start()
    rt.pull(ref)
    if isinstance(rt, bpo.PodContainerd):
        rt.pull(bpo.PodContainerd.pause_ref)
    return StatsNode(rt, ref, network)


def run(args, workdir, cleanup):
    catalog = reg.images.ensure_built()
    registry = reg.Registry(workdir / "registry")
    cleanup.append(registry.stop)
    registry.start()
    registry.push(catalog, repos=["busybox"])
    bpo.push_pause(registry, catalog)
    ref = f"{registry.host}/{bpo.IMAGE}"
    bpo.PodContainerd.pause_ref = f"{registry.host}/{bpo.PAUSE}"
    runtimes = [bpo.PodCrio(workdir, registry)]
    if args.containerd and Path(bp.CONTAINERD).is_file():
        runtimes.append(bpo.PodContainerd(workdir, registry))
    nodes = [start_node(rt, ref, args.network, args.pods, cleanup) for rt in runtimes]
    network = "host"
    if args.network == "auto" and not any(bpo.try_pod_network(n) for n in nodes):
        network = "pod"
    for n in nodes:
        n.network = network
    for i in range(args.pods):
        for n in (nodes if i % 2 == 0 else nodes[::-1]):
            n.run_pod(f"stats-{i}", timed=False)
    time.sleep(2)
    result = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "pods": args.pods, "reads": args.reads,
              "window_s": args.window, "network": network, "loadavg_start": os.getloadavg()[0],
              "latency_ms": time_stats(nodes, args.reads), "cpu_s_per_min": {}}
    for n in nodes:
        result["cpu_s_per_min"][n.rt.name + " (on demand)"] = {
            "idle": cpu_per_minute(n.rt, args.window, False), "polled": cpu_per_minute(n.rt, args.window, True)}
    for n in nodes:
        for i in range(len(n.pods)):
            n.tear_down(i, timed=False)
        n.rt.stop()
    sampled = start_node(SampledCrio(workdir, registry), ref, network, args.pods, cleanup)
    for i in range(args.pods):
        sampled.run_pod(f"sampled-{i}", timed=False)
    time.sleep(2)
    result["cpu_s_per_min"]["crio-c (collection_period 10)"] = {
        "idle": cpu_per_minute(sampled.rt, args.window, False),
        "polled": cpu_per_minute(sampled.rt, args.window, True)}
    result["latency_ms_sampled"] = time_stats([sampled], args.reads)["crio-c-sampled"]
    for i in range(len(sampled.pods)):
        sampled.tear_down(i, timed=False)
    sampled.rt.stop()
    result["loadavg_end"] = os.getloadavg()[0]
    return result


def print_report(r):
    lat = r["latency_ms"]
    names = list(lat)
    print(f"Stats RPCs: {r['pods']} running pods per runtime, {r['reads']} calls each, {r['network']} network; "
          f"load average {r['loadavg_start']:.2f} -> {r['loadavg_end']:.2f}")
    print(f"  {'':<32}" + "".join(f"{n:>22}" for n in names) + f"{'crio-c period 10':>22}")
    for rpc in STATS:
        for stat in ("median", "p95"):
            cells = []
            for v in [lat[n][rpc] for n in names] + [r["latency_ms_sampled"][rpc]]:
                cells.append(v.split(":")[0] if isinstance(v, str) else f"{v[stat]:.2f}")
            print(f"  {rpc + ' ' + stat + ' (ms)':<32}" + "".join(f"{c:>22}" for c in cells))
    for n in names:
        for rpc in STATS:
            if isinstance(lat[n][rpc], str):
                print(f"  {n} {rpc}: {lat[n][rpc]}")
    print(f"  daemon CPU seconds per minute (window {r['window_s']} s; polled = both list RPCs every "
          f"{POLL_PERIOD_S} s):")
    for name, v in r["cpu_s_per_min"].items():
        print(f"    {name:<34} idle {v['idle']:.3f}  polled {v['polled']:.3f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=50)
    parser.add_argument("--reads", type=int, default=200, help="calls per stats RPC per runtime")
    parser.add_argument("--window", type=float, default=60.0, help="seconds per CPU measurement")
    parser.add_argument("--network", choices=["auto", "host"], default="auto")
    parser.add_argument("--no-containerd", dest="containerd", action="store_false")
    parser.add_argument("--output", type=Path, default=bp.REPO / "bench" / "results" / "stats.json")
    args = parser.parse_args(argv)
    if not h.BINARY.is_file():
        sys.exit(f"bench_stats: {h.BINARY} not found; build first or set BUILD")
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, bp._on_signal)
    workdir = Path(tempfile.mkdtemp(prefix="crio-bench-stats-"))
    cgroups_before = bpo.cgroup_roots()
    cleanup = []
    try:
        result = run(args, workdir, cleanup)
    except (KeyboardInterrupt, bp.Interrupted) as e:
        sys.exit(f"bench_stats: interrupted ({str(e) or 'SIGINT'}); cleaned up")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        for fn in reversed(cleanup):
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - clean up the rest regardless
                print(f"bench_stats: clean-up: {e}", file=sys.stderr)
        bpo.kill_under(workdir)
        bp.unmount_under(workdir)
        remove_cgroup_parents()
        for cg in bpo.cgroup_roots() - cgroups_before:
            try:
                cg.rmdir()
            except OSError:
                pass
        shutil.rmtree(workdir, ignore_errors=True)
    print_report(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
