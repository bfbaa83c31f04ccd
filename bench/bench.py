#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Benchmark the crio daemon: idle RSS, then sequential Version calls from one client on one channel
(median and p95 latency, calls per second) and RSS after the run.

Uses the daemon in ${BUILD:-build} (or CRIO_BINARY / CRIO_PROTO_DIR), temporary directories and
log level info. Prints a table and writes JSON to bench/results/latest.json."""

import argparse
import json
import math
import os
import platform
import shutil
import signal
import statistics
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


def percentile(sorted_values, p):
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def time_version_calls(sock, calls, warmup):
    """Latencies in microseconds of `calls` sequential Version calls, after `warmup` untimed ones, and the
    wall time of the timed part."""
    pb = h.pb()
    with h.CriClient(sock) as client:
        version = client.channel.unary_unary(h.RUNTIME_SERVICE + "Version",
                                             request_serializer=pb.VersionRequest.SerializeToString,
                                             response_deserializer=pb.VersionResponse.FromString)
        request = pb.VersionRequest(version="v1")
        for _ in range(warmup):
            version(request, timeout=5)
        latencies = []
        clock = time.perf_counter_ns
        started = clock()
        for _ in range(calls):
            t0 = clock()
            version(request, timeout=5)
            latencies.append((clock() - t0) / 1000)
        wall = (clock() - started) / 1e9
    return latencies, wall


def run(args):
    workdir = Path(tempfile.mkdtemp(prefix="crio-bench-"))
    daemon = h.Daemon(workdir, log_level="info")
    try:
        daemon.start()
        time.sleep(1)
        idle_rss = daemon.rss_kib()
        latencies, wall = time_version_calls(daemon.sock, args.calls, args.warmup)
        rss_after = daemon.rss_kib()
        with daemon.client() as c:
            runtime_version = c.version().runtime_version
        exit_code = daemon.stop(signal.SIGTERM)
    finally:
        daemon.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    latencies.sort()
    return {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "binary": str(daemon.binary),
        "runtime_version": runtime_version,
        "host": {"machine": platform.machine(), "cpus": os.cpu_count(), "kernel": platform.release(),
                 "loadavg_1m": round(os.getloadavg()[0], 2)},
        "rpc": "Version",
        "calls": args.calls,
        "warmup_calls": args.warmup,
        "idle_rss_kib": idle_rss,
        "version_median_us": round(statistics.median(latencies), 1),
        "version_p95_us": round(percentile(latencies, 95), 1),
        "version_calls_per_s": round(args.calls / wall, 1),
        "rss_after_kib": rss_after,
        "sigterm_exit_code": exit_code,
    }


def print_table(r):
    rows = [
        ("idle RSS", f"{r['idle_rss_kib'] / 1024:.1f}", "MiB"),
        ("Version median", f"{r['version_median_us']:.0f}", "us"),
        ("Version p95", f"{r['version_p95_us']:.0f}", "us"),
        ("Version calls/s", f"{r['version_calls_per_s']:.0f}", "1/s"),
        (f"RSS after {r['calls']} calls", f"{r['rss_after_kib'] / 1024:.1f}", "MiB"),
    ]
    print(f"crio-c {r['runtime_version']} ({r['binary']}), {r['calls']} sequential Version calls, 1 client, "
          f"load average {r['host']['loadavg_1m']} on {r['host']['cpus']} CPUs")
    width = max(len(name) for name, _, _ in rows)
    vwidth = max(len(value) for _, value, _ in rows)
    for name, value, unit in rows:
        print(f"  {name:<{width}}  {value:>{vwidth}} {unit}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "latest.json")
    args = parser.parse_args()
    if not h.BINARY.is_file():
        sys.exit(f"bench: {h.BINARY} not found; build first or set BUILD")
    result = run(args)
    print_table(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")
    if result["sigterm_exit_code"] != 0:
        sys.exit(f"bench: daemon exited with {result['sigterm_exit_code']} on SIGTERM")


if __name__ == "__main__":
    main()
