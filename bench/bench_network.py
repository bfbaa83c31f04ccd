#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Benchmark the network share of RunPodSandbox: crio-c against containerd's CRI plugin, the same conflist.

Both daemons (set up as in bench_pods.py) get one CNI configuration directory holding the same bridge
conflist (test bridge, host-local on a private /16, ipMasq off, portmap), with Debian's plugins from
/usr/lib/cni. Alternating between the daemons, `--pods` pods each are run and removed with

- host network (no network namespace, no CNI): the rest of RunPodSandbox;
- their own network namespace on the bridge network (with a host port, so that portmap works too).

The network share is the difference of the two medians. Beside it: the plugins' own time, ADD of the
same chain run directly from this process into a fresh namespace (once per pod round), less this
process's own cost of spawning a program (timed with /bin/true), with DEL timed likewise. The goal is a
crio-c share of at most the plugins' time plus 2 ms.

Everything runs in a private network namespace that the script enters first (unshare), so the bridge,
veths and iptables rules never touch the machine's network; servers listen on 127.0.0.1 or unix
sockets. Prints a table and writes JSON to bench/results/network.json."""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if os.environ.get("CRIO_BENCH_NETNS") != "private":
    os.environ["CRIO_BENCH_NETNS"] = "private"
    argv = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "bench-netns",
            sys.executable, *sys.argv]
    os.execvp("unshare", argv)

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.dont_write_bytecode = True

import bench_pods as bpods  # noqa: E402
from bench_pull import h, reg  # noqa: E402
import bench_pull as bp  # noqa: E402

import pod_helpers as ph  # noqa: E402

REPO = bp.REPO
SUBNET = "10.197.0.0/16"
PLUGIN_DIR = "/usr/lib/cni"


def conflist(ipam_dir):
    return {"cniVersion": "1.0.0", "name": "bench-bridge", "plugins": [
        {"type": "bridge", "bridge": "crioc-bench0", "isGateway": True, "ipMasq": False, "hairpinMode": True,
         "ipam": {"type": "host-local", "dataDir": str(ipam_dir), "ranges": [[{"subnet": SUBNET}]],
                  "routes": [{"dst": "0.0.0.0/0"}]}},
        {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True}]}


class NetCrio(bpods.PodCrio):
    def crio_conf(self, d):
        net_dir = d / "net.d"
        net_dir.mkdir(exist_ok=True)
        (net_dir / "10-bench.conflist").write_text(json.dumps(conflist(d / "ipam")))
        return ph.runtime_conf(d, f'[crio.runtime.runtimes.runc]\nruntime_root = "{d / "runc"}"\n',
                               network_dir=net_dir)


class NetContainerd(bpods.PodContainerd):
    def _start(self, d):
        (d / "cni-conf").mkdir()
        h.write_text(d / "cni-conf" / "10-bench.conflist", json.dumps(conflist(d / "ipam")))
        (d / "cni-bin").symlink_to(PLUGIN_DIR)
        bp.Containerd._start(self, d)


def timed(fn, *args):
    t0 = time.perf_counter()
    r = fn(*args)
    return (time.perf_counter() - t0) * 1000, r


def run_pods(rt, host_network, count, port_base):
    """RunPodSandbox times (ms) of `count` pods, each removed right after."""
    times = []
    for i in range(count):
        name = f"{'host' if host_network else 'net'}-{i}"
        cfg = ph.pod_config(name=name, uid=name + "-uid", pid="CONTAINER",
                            network="NODE" if host_network else "POD",
                            ports=() if host_network else [(port_base + i, 80)])
        ms, pod = timed(rt.client.run_pod, cfg)
        times.append(ms)
        rt.client.stop_pod(pod)
        rt.client.remove_pod(pod)
    return times


def plugin_env(command, netns, container_id):
    return dict(h.clean_env(), CNI_COMMAND=command, CNI_CONTAINERID=container_id, CNI_NETNS=netns,
                CNI_IFNAME="eth0", CNI_PATH=PLUGIN_DIR,
                CNI_ARGS=f"IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME={container_id};"
                         f"K8S_POD_INFRA_CONTAINER_ID={container_id};K8S_POD_UID={container_id}")


def run_plugin(ptype, command, conf, netns, container_id):
    t0 = time.perf_counter()
    r = subprocess.run([f"{PLUGIN_DIR}/{ptype}"], input=json.dumps(conf).encode(), capture_output=True,
                       env=plugin_env(command, netns, container_id))
    ms = (time.perf_counter() - t0) * 1000
    if r.returncode != 0:
        raise RuntimeError(f"{ptype} {command}: {r.stdout.decode()} {r.stderr.decode()}")
    return ms, json.loads(r.stdout) if r.stdout.strip() else None


def plugin_chain_times(workdir, runs, first=0):
    """(ADD ms, DEL ms, spawn overhead ms) per run: the chain run directly into a fresh namespace."""
    net = conflist(workdir / "direct-ipam")
    adds, dels, spawns = [], [], []
    for i in range(first, first + runs):
        ns = workdir / f"direct-ns-{i}"
        ns.touch()
        subprocess.run(["unshare", f"--net={ns}", "true"], check=True)
        cid = f"direct{i:04d}"
        try:
            prev, add_ms = None, 0.0
            for p in net["plugins"]:
                conf = dict(p, name=net["name"], cniVersion=net["cniVersion"])
                if prev:
                    conf["prevResult"] = prev
                if p["type"] == "portmap":
                    conf["runtimeConfig"] = {"portMappings": [{"hostPort": 30000 + i, "containerPort": 80,
                                                               "protocol": "tcp"}]}
                ms, prev = run_plugin(p["type"], "ADD", conf, str(ns), cid)
                add_ms += ms
            del_ms = 0.0
            for p in reversed(net["plugins"]):
                conf = dict(p, name=net["name"], cniVersion=net["cniVersion"], prevResult=prev)
                ms, _ = run_plugin(p["type"], "DEL", conf, str(ns), cid)
                del_ms += ms
        finally:
            subprocess.run(["umount", str(ns)], check=False)
            ns.unlink()
        t0 = time.perf_counter()
        subprocess.run(["/bin/true"], capture_output=True, input=b"{}")
        spawns.append((time.perf_counter() - t0) * 1000)
        adds.append(add_ms)
        dels.append(del_ms)
    return adds, dels, spawns


def summary(values):
    s = sorted(values)
    return {"median": round(statistics.median(s), 3), "p95": round(bp.percentile(s, 95), 3), "n": len(s)}


def measure(args, workdir, cleanup):
    catalog = reg.images.ensure_built()
    registry = reg.Registry(workdir / "registry")
    cleanup.append(registry.stop)
    registry.start()
    registry.push(catalog, repos=["busybox"])
    bpods.push_pause(registry, catalog)
    bpods.PodContainerd.pause_ref = f"{registry.host}/{bpods.PAUSE}"
    runtimes = [NetCrio(workdir, registry, log_level="debug")]  # its log has the ADD times
    if args.containerd and Path(bp.CONTAINERD).is_file():
        runtimes.append(NetContainerd(workdir, registry))
    for rt in runtimes:
        cleanup.append(lambda rt=rt: bpods.runc_clean(rt.runc_roots()))
        cleanup.append(rt.kill)
        cleanup.append(rt.stop)
        cleanup.append(lambda rt=rt: rt.client and bpods.cri_clean(rt))
        rt.start()
        if isinstance(rt, bpods.PodContainerd):
            rt.pull(bpods.PodContainerd.pause_ref)
        run_pods(rt, False, 2, 20000)  # warm-up: plugin binaries and page cache
        run_pods(rt, True, 2, 0)
    times = {rt.name: {"host": [], "cni": []} for rt in runtimes}
    adds, dels, spawns = [], [], []
    # Alternate runtimes and modes pod by pod, with a direct run of the chain in between: iptables'
    # speed drifts over a run, and everything should see the same drift.
    for i in range(args.pods):
        for rt in (runtimes if i % 2 == 0 else runtimes[::-1]):
            times[rt.name]["host"] += run_pods(rt, True, 1, 0)
            times[rt.name]["cni"] += run_pods(rt, False, 1, 21000 + i)
        a, d, sp = plugin_chain_times(workdir, 1, i)
        adds, dels, spawns = adds + a, dels + d, spawns + sp
    result = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "pods": args.pods, "conflist": conflist("IPAM"),
              "plugins_direct": {"add_ms": summary(adds), "del_ms": summary(dels),
                                 "spawn_overhead_ms_per_plugin": summary(spawns),
                                 "add_ms_less_spawn": round(statistics.median(adds) - 2 * statistics.median(spawns),
                                                            3)},
              "runtimes": {}}
    crio_add = [float(m) for m in re.findall(r"attached to CNI network bench-bridge in ([0-9.]+) ms",
                                             Path(runtimes[0].log_path).read_text())][-args.pods:]
    result["crio_c_add_in_daemon_ms"] = summary(crio_add)
    for name, t in times.items():
        share = statistics.median(t["cni"]) - statistics.median(t["host"])
        result["runtimes"][name] = {"runp_host_network_ms": summary(t["host"]), "runp_cni_ms": summary(t["cni"]),
                                    "network_share_ms": round(share, 3)}
    return result


def print_report(r):
    print(f"\nRunPodSandbox network share, {r['pods']} pods per mode per runtime (ms, client side)")
    print(f"{'':28}{'host network':>22}{'bridge CNI':>22}{'share':>10}")
    for name, v in r["runtimes"].items():
        hn, cn = v["runp_host_network_ms"], v["runp_cni_ms"]
        print(f"{name:28}{hn['median']:>10.2f} p95 {hn['p95']:>7.2f}{cn['median']:>10.2f} p95 {cn['p95']:>7.2f}"
              f"{v['network_share_ms']:>10.2f}")
    d = r["plugins_direct"]
    print(f"plugins run directly: ADD chain {d['add_ms']['median']:.2f} ms (p95 {d['add_ms']['p95']:.2f}), "
          f"DEL chain {d['del_ms']['median']:.2f} ms; spawn overhead {d['spawn_overhead_ms_per_plugin']['median']:.2f}"
          f" ms per plugin; ADD less spawn {d['add_ms_less_spawn']:.2f} ms")
    add = r["crio_c_add_in_daemon_ms"]
    print(f"crio-c's ADD chain as its debug log times it (record writes, spawns, plugins, result parsing): "
          f"{add['median']:.2f} ms (p95 {add['p95']:.2f})")
    budget = d["add_ms_less_spawn"] + 2
    print(f"goal: crio-c ADD {add['median']:.2f} ms <= plugins' own ADD + 2 ms = {budget:.2f} ms: "
          f"{'met' if add['median'] <= budget else 'NOT met'}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=40, help="pods per mode per runtime (default 40)")
    parser.add_argument("--no-containerd", dest="containerd", action="store_false", help="measure crio-c only")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "network.json")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="crio-bench-net-"))
    cleanup = []
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, bp._on_signal)
    try:
        result = measure(args, workdir, cleanup)
    except (KeyboardInterrupt, bp.Interrupted) as e:
        sys.exit(f"bench_network: interrupted ({str(e) or 'SIGINT'}); cleaned up")
    finally:
        for fn in reversed(cleanup):
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - clean up the rest regardless
                print(f"bench_network: clean-up: {e}", file=sys.stderr)
        bpods.kill_under(workdir)
        bp.unmount_under(workdir)
        shutil.rmtree(workdir, ignore_errors=True)
    print_report(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
