#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Benchmark streaming: crio-c against containerd's CRI plugin, driven by the same client.

Both runtimes are set up as in bench_pods.py (busybox from Debian's docker-registry on 127.0.0.1, runc,
cgroupfs, unix sockets in a temporary directory; containerd's streaming server on 127.0.0.1). Each runs one
pod whose container serves a file of `--mib` MiB with busybox httpd. Then, runtimes alternating:

- exec round trip: the Exec RPC, the SPDY upgrade on the returned URL, `echo hi` run to its exit code
  (remotecommand v4, stdout and stderr), `--execs` times: median and p95 in ms;
- port-forward throughput: one portforward.k8s.io session per run, an HTTP GET of the file through a
  data stream, bytes received over the time from the request to the last byte, `--transfers` runs:
  median MiB/s.

The client is tests/integration/stream_client.py (Python), the same for both: its own cost is in both
numbers. Prints a table and writes JSON to bench/results/stream.json. Everything listens on 127.0.0.1 or
unix sockets; pods, containers, monitors, mounts and the temporary directory are removed on exit."""

import argparse
import json
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.dont_write_bytecode = True

import bench_pods as bpods  # noqa: E402 - the runtimes and pods of the pods benchmark
from bench_pull import h, reg  # noqa: E402

import pod_helpers as ph  # noqa: E402
import stream_client as sc  # noqa: E402

bp = bpods.bp
BASE_PORT = 18080


def serve_file(node, mib, port):
    """A pod whose container serves /www/big (mib MiB) with httpd on 127.0.0.1:port; returns (pod, container)."""
    cfg = node.pod_config("stream-bench")
    pod = node.c.run_pod(cfg)
    node.pods.append((pod, cfg, [], None))
    script = (f"mkdir -p /tmp/www && dd if=/dev/zero of=/tmp/www/big bs=1048576 count={mib} 2>/dev/null && "
              f"touch /tmp/www/ready && exec httpd -f -p 127.0.0.1:{port} -h /tmp/www")
    ctr = node.c.create_container(pod, ph.container_config(node.image, name="web", command=["sh", "-c", script],
                                                           log_path="web.log"), cfg)
    node.pods[-1] = (pod, cfg, [ctr], ctr)
    node.c.start_container(ctr)
    ok = h.wait_until(lambda: node.c.exec_sync(ctr, ["test", "-f", "/tmp/www/ready"]).exit_code == 0, 60)
    if not ok:
        raise RuntimeError(f"{node.rt.name}: the web server did not start")
    return pod, ctr


def exec_once(node, ctr):
    t0 = time.perf_counter()
    req = h.pb().ExecRequest(container_id=ctr, cmd=["echo", "hi"], stdout=True, stderr=True)
    url = node.c.call("Exec", req, h.pb().ExecResponse).url
    r = sc.spdy_exec(url)
    dt = (time.perf_counter() - t0) * 1000
    if r.stdout != b"hi\n" or r.exit_code != 0:
        raise RuntimeError(f"{node.rt.name}: exec gave {r.stdout!r}, {r.error!r}")
    return dt


def transfer_once(node, pod, mib, port):
    url = node.c.call("PortForward", h.pb().PortForwardRequest(pod_sandbox_id=pod, port=[port]),
                      h.pb().PortForwardResponse).url
    conn = sc.SpdyConnection(url, protocols=("portforward.k8s.io",))
    try:
        conn.open_stream([("streamtype", "error"), ("port", str(port)), ("requestid", "0")])
        data = conn.open_stream([("streamtype", "data"), ("port", str(port)), ("requestid", "0")])
        t0 = time.perf_counter()
        conn.send(data, b"GET /big HTTP/1.0\r\n\r\n")
        conn.wait(lambda: data in conn.fin or data in conn.reset)
        dt = time.perf_counter() - t0
        got = len(conn.data.get(data, b""))
    finally:
        conn.close()
    if got < mib << 20:
        raise RuntimeError(f"{node.rt.name}: port-forward delivered {got} bytes of {mib} MiB")
    return got / (1 << 20) / dt


def summarize(values):
    s = sorted(values)
    return {"median": round(statistics.median(s), 3), "p95": round(bp.percentile(s, 95), 3),
            "min": round(s[0], 3), "n": len(s)}


def run(args, workdir, cleanup):
    catalog = reg.images.ensure_built()
    registry = reg.Registry(workdir / "registry")
    cleanup.append(registry.stop)
    registry.start()
    registry.push(catalog, repos=["busybox"])
    bpods.push_pause(registry, catalog)
    ref = f"{registry.host}/{bpods.IMAGE}"
    bpods.PodContainerd.pause_ref = f"{registry.host}/{bpods.PAUSE}"
    runtimes = [bpods.PodCrio(workdir, registry)]
    if args.containerd and Path(bp.CONTAINERD).is_file():
        runtimes.append(bpods.PodContainerd(workdir, registry))
    for rt in runtimes:
        cleanup.append(lambda rt=rt: bpods.runc_clean(rt.runc_roots()))
        cleanup.append(rt.kill)
        cleanup.append(rt.stop)
        cleanup.append(lambda rt=rt: rt.client and bpods.cri_clean(rt))
    nodes = []
    for rt in runtimes:
        rt.start()
        rt.pull(ref)
        if isinstance(rt, bpods.PodContainerd):
            rt.pull(bpods.PodContainerd.pause_ref)
        nodes.append(bpods.Node(rt, ref, "auto"))
    # Pod network namespaces when both runtimes can make them, else host network (as bench_pods.py does);
    # each runtime's server gets its own port either way.
    errors = [e for e in (bpods.try_pod_network(n) for n in nodes) if e]
    for n in nodes:
        n.network = "host" if errors else "pod"
    ports = [BASE_PORT + i for i in range(len(nodes))]
    targets = [(*serve_file(n, args.mib, p), p) for n, p in zip(nodes, ports)]
    result = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "execs": args.execs,
              "network": "host network for both (containerd's pod network failed)" if errors else "pod network",
              "transfers": args.transfers, "mib": args.mib, "runtimes": {}}
    times = {n.rt.name: {"exec_ms": [], "mib_s": []} for n in nodes}
    pairs = list(zip(nodes, targets))
    for n, (pod, ctr, port) in pairs:  # warm-up
        exec_once(n, ctr)
        transfer_once(n, pod, args.mib, port)
    for i in range(args.execs):
        for n, (pod, ctr, port) in (pairs if i % 2 == 0 else pairs[::-1]):
            times[n.rt.name]["exec_ms"].append(exec_once(n, ctr))
    for i in range(args.transfers):
        for n, (pod, ctr, port) in (pairs if i % 2 == 0 else pairs[::-1]):
            times[n.rt.name]["mib_s"].append(transfer_once(n, pod, args.mib, port))
    for n in nodes:
        t = times[n.rt.name]
        result["runtimes"][n.rt.name] = {"runtime_version": n.rt.runtime_version,
                                         "exec_round_trip_ms": summarize(t["exec_ms"]),
                                         "port_forward_mib_s": summarize(t["mib_s"]),
                                         "rss_kib": n.rt.rss_kib()}
    for i in range(len(nodes)):
        for j in range(len(nodes[i].pods)):
            nodes[i].tear_down(j, timed=False)
    return result


def print_report(r):
    print(f"streaming benchmark: {r['execs']} execs, {r['transfers']} transfers of {r['mib']} MiB")
    print(f"{'runtime':<12} {'exec median ms':>15} {'exec p95 ms':>12} {'pf median MiB/s':>16} {'pf min MiB/s':>13}")
    for name, x in r["runtimes"].items():
        e, p = x["exec_round_trip_ms"], x["port_forward_mib_s"]
        print(f"{name:<12} {e['median']:>15.2f} {e['p95']:>12.2f} {p['median']:>16.1f} {p['min']:>13.1f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--execs", type=int, default=100, help="exec round trips per runtime (default 100)")
    parser.add_argument("--transfers", type=int, default=10, help="port-forward transfers per runtime")
    parser.add_argument("--mib", type=int, default=64, help="MiB per port-forward transfer (default 64)")
    parser.add_argument("--no-containerd", dest="containerd", action="store_false", help="measure crio-c only")
    parser.add_argument("--output", type=Path, default=bp.REPO / "bench" / "results" / "stream.json")
    args = parser.parse_args(argv)
    if not h.BINARY.is_file():
        sys.exit(f"bench_stream: {h.BINARY} not found; build first or set BUILD")
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, bp._on_signal)
    workdir = Path(tempfile.mkdtemp(prefix="crio-bench-stream-"))
    run_containerd_before = Path("/run/containerd").exists()
    cgroups_before = bpods.cgroup_roots()
    cleanup = []
    try:
        result = run(args, workdir, cleanup)
    except (KeyboardInterrupt, bp.Interrupted) as e:
        sys.exit(f"bench_stream: interrupted ({str(e) or 'SIGINT'}); cleaned up")
    finally:
        for fn in reversed(cleanup):
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - clean up the rest regardless
                print(f"bench_stream: clean-up: {e}", file=sys.stderr)
        bpods.kill_under(workdir)
        bp.unmount_under(workdir)
        for cg in bpods.cgroup_roots() - cgroups_before:
            try:
                cg.rmdir()
            except OSError:
                pass
        if not run_containerd_before:
            for d in (Path("/run/containerd/s"), Path("/run/containerd")):
                try:
                    d.rmdir()
                except OSError:
                    pass
        shutil.rmtree(workdir, ignore_errors=True)
    print_report(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
