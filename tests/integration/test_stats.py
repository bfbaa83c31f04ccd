# SPDX-License-Identifier: Apache-2.0
"""Stats a kubelet reads for `kubectl top` and eviction: pod and container CPU, memory, processes, the
pod's network counters and the writable layer, on demand and from the background sampler."""

import glob
import os

import grpc
import pytest

import crio_helpers as h
import pod_helpers as ph


def make_node(image_daemon, tmp_path_factory, stats_conf=""):
    wd = tmp_path_factory.mktemp("node")
    d = image_daemon(config=ph.runtime_conf(wd) + stats_conf)
    d.node_dir = wd
    return d, d.client(timeout=60)


def clean(c):
    for ctr in c.list_containers():
        c.remove_container(ctr.id)
    for pod in c.list_pods():
        c.remove_pod(pod.id)
    c.close()


@pytest.fixture
def node(image_daemon, tmp_path_factory):
    d, c = make_node(image_daemon, tmp_path_factory)
    yield d, c
    clean(c)


@pytest.fixture
def cri(node):
    return node[1]


@pytest.fixture
def image(cri, image_registry):
    ref = ph.busybox(image_registry)
    cri.pull_image(ref)
    return ref


def start(cri, image, pod, script, **kw):
    ctr = cri.create_container(pod, ph.container_config(image, command=["sh", "-c", script], **kw))
    cri.start_container(ctr)
    cri.wait_container_state(ctr, "CONTAINER_RUNNING")
    return ctr


def pod_stats(cri, pod):
    return cri.call("PodSandboxStats", h.pb().PodSandboxStatsRequest(pod_sandbox_id=pod),
                    h.pb().PodSandboxStatsResponse).stats


def list_pod_stats(cri, **filt):
    req = h.pb().ListPodSandboxStatsRequest()
    for k, v in filt.items():
        if k == "labels":
            req.filter.label_selector.update(v)
        else:
            setattr(req.filter, k, v)
    return list(cri.call("ListPodSandboxStats", req, h.pb().ListPodSandboxStatsResponse).stats)


def container_stats(cri, ctr):
    return cri.call("ContainerStats", h.pb().ContainerStatsRequest(container_id=ctr),
                    h.pb().ContainerStatsResponse).stats


def interfaces(stats):
    return {i.name: i for i in stats.linux.network.interfaces}


def exec_ok(cri, ctr, script):
    r = cri.exec_sync(ctr, ["sh", "-c", script])
    assert r.exit_code == 0, (r.stdout, r.stderr)
    return r.stdout.decode()


def file_size(cri, ctr, path):
    """The size of a file the container is writing, "" while it does not exist yet: for polling."""
    return cri.exec_sync(ctr, ["sh", "-c", f"wc -c < {path}"]).stdout.decode().strip()


def test_pod_stats_follow_cpu_memory_processes_and_network(cri, image):
    pod = cri.run_pod(labels={"app": "stats"})
    busy = start(cri, image, pod, "while true; do :; done", cap_add=["NET_ADMIN"])
    mem = start(cri, image, pod, "head -c 20971520 /dev/zero > /dev/shm/blob; sleep 300")
    assert h.wait_until(lambda: file_size(cri, mem, "/dev/shm/blob") == "20971520", 20)
    first = pod_stats(cri, pod)
    assert first.attributes.id == pod and dict(first.attributes.labels) == {"app": "stats"}
    assert first.attributes.metadata.name == cri.pod_status(pod).status.metadata.name
    assert sorted(c.attributes.id for c in first.linux.containers) == sorted([busy, mem])
    assert first.linux.cpu.usage_core_nano_seconds.value > 0
    assert first.linux.memory.working_set_bytes.value >= 20 << 20  # the tmpfs blob is the pod's memory
    assert first.linux.memory.usage_bytes.value >= first.linux.memory.working_set_bytes.value
    assert first.linux.process.process_count.value >= 2
    assert "lo" in interfaces(first)
    lo_before = interfaces(first)["lo"]
    # A refused connection on the pod's loopback is traffic in its network namespace only (without a
    # CNI loopback plugin its lo is down: the container may bring it up).
    exec_ok(cri, busy, "ip link set lo up")
    assert cri.exec_sync(busy, ["nc", "127.0.0.1", "1"]).exit_code != 0  # connection refused
    second = pod_stats(cri, pod)
    assert second.linux.cpu.usage_core_nano_seconds.value > first.linux.cpu.usage_core_nano_seconds.value
    assert second.linux.cpu.usage_nano_cores.value > 0
    lo_after = interfaces(second)["lo"]
    assert lo_after.rx_bytes.value > lo_before.rx_bytes.value
    assert lo_after.tx_bytes.value > lo_before.tx_bytes.value
    by_id = {c.attributes.id: c for c in second.linux.containers}
    assert by_id[mem].memory.working_set_bytes.value >= 20 << 20

    def cpu():
        return {c.attributes.id: c.cpu.usage_core_nano_seconds.value for c in pod_stats(cri, pod).linux.containers}

    # Writing its 20 MiB cost `mem` CPU too; the spinning container soon has more, and keeps gaining.
    assert h.wait_until(lambda: (lambda ns: ns[busy] > ns[mem])(cpu()), 10), cpu()


def test_pod_without_processes_reads_its_pinned_namespace(cri, image):
    """No container runs: the counters come from the pinned netns file, entered by a thread."""
    pod = cri.run_pod()
    s = pod_stats(cri, pod)
    assert set(interfaces(s)) == {"lo"}
    assert s.linux.network.timestamp > 0
    assert not s.linux.HasField("cpu") and list(s.linux.containers) == []
    ctr = start(cri, image, pod, "sleep 300")
    cri.stop_container(ctr)
    s = pod_stats(cri, pod)
    assert set(interfaces(s)) == {"lo"}
    assert [c.attributes.id for c in s.linux.containers] == [ctr]
    assert not s.linux.containers[0].HasField("cpu")  # an exited container has no cgroup


def test_host_network_pod_has_no_pod_network_stats(cri, image):
    pod = cri.run_pod(network="NODE")
    start(cri, image, pod, "sleep 300")
    s = pod_stats(cri, pod)
    assert not s.linux.HasField("network")
    assert s.linux.cpu.usage_core_nano_seconds.value > 0


def test_list_pod_stats_filters_and_errors(cri, image):
    a = cri.run_pod(labels={"tier": "web"})
    b = cri.run_pod(labels={"tier": "db"})
    start(cri, image, a, "sleep 300")
    assert {s.attributes.id for s in list_pod_stats(cri)} == {a, b}
    assert [s.attributes.id for s in list_pod_stats(cri, labels={"tier": "db"})] == [b]
    assert [s.attributes.id for s in list_pod_stats(cri, id=a[:12])] == [a]
    assert list_pod_stats(cri, id=a, labels={"tier": "db"}) == []
    with pytest.raises(grpc.RpcError) as e:
        pod_stats(cri, "f" * 64)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND and "f" * 64 in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        pod_stats(cri, "")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "pod_sandbox_id" in e.value.details()


@pytest.fixture
def sampled_node(image_daemon, tmp_path_factory):
    d, c = make_node(image_daemon, tmp_path_factory, "\n[crio.stats]\ncollection_period = 3600\n")
    yield d, c
    clean(c)


def test_collection_period_answers_from_the_latest_sample(sampled_node, image_registry):
    _, cri = sampled_node
    ref = ph.busybox(image_registry)
    cri.pull_image(ref)
    pod = cri.run_pod()
    ctr = start(cri, ref, pod, "head -c 1048576 /dev/zero > /one; while true; do :; done")
    assert h.wait_until(lambda: file_size(cri, ctr, "/one") == "1048576", 20)
    first = container_stats(cri, ctr)  # nothing sampled this container yet: sampled now
    assert first.cpu.usage_core_nano_seconds.value > 0
    assert first.writable_layer.used_bytes.value >= 1 << 20
    exec_ok(cri, ctr, "head -c 4194304 /dev/zero > /two")
    second = container_stats(cri, ctr)
    # The busy loop ran on, but until the next collection the answer is the kept sample.
    assert second.cpu.timestamp == first.cpu.timestamp
    assert second.cpu.usage_core_nano_seconds.value == first.cpu.usage_core_nano_seconds.value
    # Nor is the writable layer walked again: the new file is not counted yet.
    assert second.writable_layer.used_bytes.value == first.writable_layer.used_bytes.value
    assert second.writable_layer.timestamp == first.writable_layer.timestamp
    p1, p2 = pod_stats(cri, pod), pod_stats(cri, pod)
    assert p1.linux.cpu.usage_core_nano_seconds.value == p2.linux.cpu.usage_core_nano_seconds.value > 0


def descriptors(cri):
    return list(cri.call("ListMetricDescriptors", h.pb().ListMetricDescriptorsRequest(),
                         h.pb().ListMetricDescriptorsResponse).descriptors)


def pod_metrics(cri):
    return list(cri.call("ListPodSandboxMetrics", h.pb().ListPodSandboxMetricsRequest(),
                         h.pb().ListPodSandboxMetricsResponse).pod_metrics)


def test_pod_metrics_by_default_only_say_last_seen(cri, image):
    assert [d.name for d in descriptors(cri)] == ["container_last_seen"]
    pod = cri.run_pod()
    ctr = start(cri, image, pod, "sleep 300")
    (m,) = pod_metrics(cri)
    assert m.pod_sandbox_id == pod
    assert [c.container_id for c in m.container_metrics] == [ctr]
    assert {x.name for c in m.container_metrics for x in c.metrics} == {"container_last_seen"}


@pytest.fixture
def metrics_node(image_daemon, tmp_path_factory):
    d, c = make_node(image_daemon, tmp_path_factory,
                     '\n[crio.stats]\nincluded_pod_metrics = ["cpu", "memory", "network", "process", "spec"]\n')
    yield d, c
    clean(c)


def test_included_pod_metrics_with_cadvisor_names(metrics_node, image_registry):
    _, cri = metrics_node
    ref = ph.busybox(image_registry)
    cri.pull_image(ref)
    names = {d.name: list(d.label_keys) for d in descriptors(cri)}
    assert names["container_memory_working_set_bytes"] == ["container", "id", "image", "name", "namespace", "pod"]
    assert names["container_network_receive_bytes_total"][-1] == "interface"
    assert "container_fs_usage_bytes" not in names  # the disk group was not asked for
    pod = cri.run_pod(name="metered")
    ctr = start(cri, ref, pod, "head -c 10485760 /dev/zero > /dev/shm/blob; sleep 300", name="app",
                memory_limit=256 << 20)
    assert h.wait_until(lambda: file_size(cri, ctr, "/dev/shm/blob") == "10485760", 20)
    (m,) = pod_metrics(cri)
    by_name = {(x.name, x.label_values[-1]): x for x in m.metrics}
    lo = by_name[("container_network_receive_bytes_total", "lo")]
    assert lo.metric_type == h.pb().COUNTER and list(lo.label_values)[:6] == ["POD", pod, "", pod, "default",
                                                                                "metered"]
    (c,) = m.container_metrics
    got = {x.name: x for x in c.metrics}
    assert got["container_memory_working_set_bytes"].value.value >= 10 << 20
    assert got["container_memory_working_set_bytes"].metric_type == h.pb().GAUGE
    assert got["container_processes"].value.value >= 1
    assert got["container_spec_memory_limit_bytes"].value.value == 256 << 20
    assert "container_spec_cpu_quota" not in got  # no CPU limit set: left out, as cAdvisor does
    assert list(got["container_cpu_usage_seconds_total"].label_values) == ["app", ctr, ref, ctr, "default", "metered"]
    for x in c.metrics:
        assert len(x.label_values) == len(names[x.name])


def test_unknown_pod_metric_group_is_refused(make_daemon, tmp_path_factory):
    d = make_daemon(workdir=tmp_path_factory.mktemp("bad"),
                    config='[crio.stats]\nincluded_pod_metrics = ["cpu", "gpu"]\n')
    d.start(wait_ready=False)
    assert d.wait(timeout=10) != 0
    assert "included_pod_metrics" in d.log and "gpu" in d.log


def stream(cri, method, req, resp_type):
    fn = cri.channel.unary_stream(h.RUNTIME_SERVICE + method, request_serializer=type(req).SerializeToString,
                                  response_deserializer=resp_type.FromString)
    return list(fn(req, timeout=30))


def test_streamed_lists_match_the_unary_ones(cri, image):
    api = h.pb()
    a = cri.run_pod(labels={"tier": "web"})
    b = cri.run_pod()
    ca = start(cri, image, a, "sleep 300", labels={"k": "v"})
    cb = start(cri, image, b, "sleep 300")
    msgs = stream(cri, "StreamPodSandboxStats", api.StreamPodSandboxStatsRequest(), api.StreamPodSandboxStatsResponse)
    assert sorted(s.attributes.id for m in msgs for s in m.pod_sandbox_stats) == sorted([a, b])
    req = api.StreamPodSandboxStatsRequest()
    req.filter.label_selector["tier"] = "web"
    msgs = stream(cri, "StreamPodSandboxStats", req, api.StreamPodSandboxStatsResponse)
    assert [s.attributes.id for m in msgs for s in m.pod_sandbox_stats] == [a]
    req = api.StreamContainerStatsRequest()
    req.filter.pod_sandbox_id = b
    msgs = stream(cri, "StreamContainerStats", req, api.StreamContainerStatsResponse)
    assert [s.attributes.id for m in msgs for s in m.container_stats] == [cb]
    assert msgs[0].container_stats[0].cpu.usage_core_nano_seconds.value > 0
    msgs = stream(cri, "StreamContainerStats", api.StreamContainerStatsRequest(), api.StreamContainerStatsResponse)
    assert sorted(s.attributes.id for m in msgs for s in m.container_stats) == sorted([ca, cb])
    msgs = stream(cri, "StreamPodSandboxMetrics", api.StreamPodSandboxMetricsRequest(),
                  api.StreamPodSandboxMetricsResponse)
    assert sorted(m.pod_sandbox_id for x in msgs for m in x.pod_sandbox_metrics) == sorted([a, b])
    for p in (a, b):
        cri.stop_pod(p)
        cri.remove_pod(p)
    assert stream(cri, "StreamPodSandboxStats", api.StreamPodSandboxStatsRequest(),
                  api.StreamPodSandboxStatsResponse) == []


def test_container_stats_swap_io_and_pressure(cri, image):
    """Swap from memory.memsw (v1) or memory.swap (v2); PSI from the unified tree, where runc places each
    container on v2 and on v1 hybrid hosts alike. Fields the host cannot give stay absent."""
    pod = cri.run_pod()
    # Three busy loops on a two-core machine: some of them always wait for a CPU.
    ctr = start(cri, image, pod, "for i in 1 2 3; do (while true; do :; done) & done; sleep 300")
    has_memsw = os.path.exists("/sys/fs/cgroup/memory/memory.memsw.usage_in_bytes") or \
        os.path.exists("/sys/fs/cgroup/memory.swap.current")
    unified = "/sys/fs/cgroup/unified" if os.path.isdir("/sys/fs/cgroup/memory") else "/sys/fs/cgroup"
    has_psi = os.path.exists(unified + "/cpu.pressure")

    def waited():
        s = container_stats(cri, ctr)
        return s if s.cpu.psi.Some.Total > 0 else None

    s = h.wait_until(waited, 20) if has_psi else container_stats(cri, ctr)
    assert s, "no CPU pressure seen in 20 s of three busy loops"
    assert s.swap.HasField("swap_usage_bytes") == has_memsw
    if has_memsw:
        assert s.swap.timestamp > 0
        assert not s.swap.HasField("swap_available_bytes")  # no memory limit: no swap limit either
    if not has_psi:
        assert not s.cpu.HasField("psi") and not s.HasField("io")
        return
    assert s.cpu.psi.Some.Total > 0 and s.cpu.psi.Some.Avg300 >= 0  # the proto's capitalised names
    assert s.memory.HasField("psi") and s.memory.psi.HasField("Some") and s.memory.psi.HasField("Full")
    assert s.io.timestamp == s.cpu.timestamp and s.io.psi.HasField("Some")
    # The pod has no cgroup of its own under cgroupfs: no pod-level PSI.
    p = pod_stats(cri, pod)
    assert not p.linux.cpu.HasField("psi") and not p.linux.HasField("io")


def test_container_with_memory_limit_reports_swap_available(cri, image):
    if not os.path.exists("/sys/fs/cgroup/memory/memory.memsw.usage_in_bytes"):
        pytest.skip("v1 swap accounting (memory.memsw.*) is off on this host")
    pod = cri.run_pod()
    # 64 MiB of memory and 96 MiB of memory and swap together: 32 MiB of swap allowed.
    ctr = start(cri, image, pod, "sleep 300", memory_limit=64 << 20, memory_swap_limit=96 << 20)
    with open(f"/sys/fs/cgroup/memory/crio-c/crio-{ctr}/memory.memsw.limit_in_bytes") as f:
        assert int(f.read()) == 96 << 20
    s = container_stats(cri, ctr)
    assert s.swap.swap_available_bytes.value == (32 << 20) - s.swap.swap_usage_bytes.value
    # Only a memory limit: runc leaves memsw unlimited, so there is no swap limit to subtract from.
    other = start(cri, image, pod, "sleep 300", memory_limit=64 << 20)
    s = container_stats(cri, other)
    assert s.swap.HasField("swap_usage_bytes") and not s.swap.HasField("swap_available_bytes")


@pytest.fixture
def extra_metrics_node(image_daemon, tmp_path_factory):
    d, c = make_node(image_daemon, tmp_path_factory,
                     '\n[crio.stats]\nincluded_pod_metrics = ["hugetlb", "oom", "diskIO", "pressure"]\n')
    yield d, c
    clean(c)


def container_metrics(cri, ctr):
    return [x for m in pod_metrics(cri) for c in m.container_metrics if c.container_id == ctr for x in c.metrics]


def count_blkio_v1(ctr, dev):
    """On Linux 6.18 (this host), v1 blkio.throttle.* counts only the devices that have a throttle rule
    in the cgroup: give the container's cgroup one that limits nothing (1 TiB/s), as an operator's rule
    would."""
    cg = f"/sys/fs/cgroup/blkio/crio-c/crio-{ctr}"
    if not os.path.isdir(cg):
        return
    for f in ("read_bps_device", "write_bps_device"):
        with open(f"{cg}/blkio.throttle.{f}", "w") as out:
            out.write(f"{os.major(dev)}:{os.minor(dev)} {1 << 40}\n")


def test_disk_io_oom_and_pressure_metrics(extra_metrics_node, image_registry):
    d, cri = extra_metrics_node
    ref = ph.busybox(image_registry)
    cri.pull_image(ref)
    names = {d.name: list(d.label_keys) for d in descriptors(cri)}
    assert names["container_blkio_device_usage_total"][6:] == ["device", "major", "minor", "operation"]
    assert names["container_fs_writes_bytes_total"][6:] == ["device"]
    assert names["container_hugetlb_usage_bytes"][6:] == ["pagesize"]
    assert names["container_oom_events_total"][6:] == []
    assert "container_pressure_io_waiting_seconds_total" in names
    pod = cri.run_pod()
    ctr = start(cri, ref, pod, "sleep 300", memory_limit=32 << 20)
    disk = os.stat(d.root).st_dev  # the writable layer's device
    count_blkio_v1(ctr, disk)
    # Direct I/O: v1's blkio counts the bios a cgroup issues itself, not the kernel's later writeback.
    exec_ok(cri, ctr, "dd if=/dev/zero of=/data bs=4096 count=512 oflag=direct 2>/dev/null && "
                      "dd if=/data of=/dev/null bs=4096 iflag=direct 2>/dev/null")
    # A 64 MiB buffer in a 32 MiB container: the kernel kills dd, the container runs on.
    assert cri.exec_sync(ctr, ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]).exit_code != 0
    assert cri.container_status(ctr).status.state == h.pb().CONTAINER_RUNNING
    got = container_metrics(cri, ctr)
    by = {}
    for x in got:
        assert len(x.label_values) == len(names[x.name]), x.name
        by.setdefault(x.name, []).append(x)
    assert [x.value.value for x in by["container_oom_events_total"]] == [1]
    assert by["container_oom_events_total"][0].metric_type == h.pb().COUNTER
    writes = {x.label_values[6]: x.value.value for x in by["container_fs_writes_bytes_total"]}
    reads = {x.label_values[6]: x.value.value for x in by["container_fs_reads_bytes_total"]}
    assert max(writes.values()) >= 2 << 20 and max(reads.values()) >= 2 << 20, (writes, reads)
    dev = max(writes, key=writes.get)
    assert dev.startswith("/dev/") and os.stat(dev).st_rdev == disk
    usage = {x.label_values[9]: x for x in by["container_blkio_device_usage_total"] if x.label_values[6] == dev}
    assert usage["Write"].value.value == writes[dev] and usage["Read"].value.value == reads[dev]
    assert usage["Write"].label_values[7:9] == [str(os.major(disk)), str(os.minor(disk))]
    assert {x.label_values[6]: x.value.value for x in by["container_fs_writes_total"]}[dev] >= 512
    assert {x.label_values[6]: x.value.value for x in by["container_fs_reads_total"]}[dev] >= 1
    unified = "/sys/fs/cgroup/unified" if os.path.isdir("/sys/fs/cgroup/memory") else "/sys/fs/cgroup"
    psi = [n for n in names if n.startswith("container_pressure_")]
    assert len(psi) == 6
    if os.path.exists(unified + "/cpu.pressure"):
        assert set(psi) <= set(by)  # whole seconds: present, usually 0 for a short test
    else:
        assert not set(psi) & set(by)
    # Huge pages are reported only where the container's cgroup has hugetlb files (not on this kind of
    # host: no v1 hugetlb controller, and the unified tree does not delegate it).
    hugetlb_files = glob.glob("/sys/fs/cgroup/hugetlb/crio-c/crio-" + ctr + "/hugetlb.*.usage_in_bytes") + \
        glob.glob(unified + "/crio-c/crio-" + ctr + "/hugetlb.*.current")
    assert ("container_hugetlb_usage_bytes" in by) == bool(hugetlb_files)
    if hugetlb_files:
        assert {x.label_values[6] for x in by["container_hugetlb_usage_bytes"]} <= \
            {p.split("/")[-1].split(".")[1] for p in hugetlb_files}
