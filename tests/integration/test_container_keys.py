# SPDX-License-Identifier: Apache-2.0
"""crio.conf keys that shape every container a node runs, as a node moving from CRI-O sets them: read_only,
no_pivot, add_inheritable_capabilities, default_mounts_file, timezone, bind_mount_prefix,
device_ownership_from_security_context, pids_limit, the devices.crio.io annotation that a handler's
allowed_annotations and allowed_devices let pods use (default_annotations too), and CDI devices from
cdi_spec_dirs."""

import json
import os
import subprocess
from pathlib import Path

import grpc

import crio_helpers as h
import pod_helpers as ph
from test_pod_recovery import handler_conf, image, node  # noqa: F401 (fixtures)
from test_pods import assert_node_clean, assert_rpc_error, run_busybox, sh

ZONE = "Europe/Paris"


def fails(cri, ctr, script):
    """The shell's exit code and stderr for a script expected to fail."""
    r = cri.exec_sync(ctr, ["sh", "-c", script])
    return r.exit_code, r.stderr.decode()


def monitor_args(ctr):
    monitors = [p for p in ph.processes_with(ctr) if Path(f"/proc/{p}/exe").resolve().name == "conmon"]
    assert len(monitors) == 1
    return Path(f"/proc/{monitors[0]}/cmdline").read_text().split("\0")


def test_read_only_gives_a_read_only_rootfs_with_writable_tmpfs(node, image):
    d, cri = node(runtime_keys="read_only = true\n")
    pod, ctr = run_busybox(cri, image, cri.run_pod(privileged=True))
    code, err = fails(cri, ctr, "touch /newfile")
    assert code != 0 and "Read-only file system" in err
    code, err = fails(cri, ctr, "echo x >> /etc/hosts")
    assert code != 0 and "Read-only file system" in err
    assert sh(cri, ctr, "for d in /tmp /var/tmp /run; do touch $d/f && echo $d; done").split() == [
        "/tmp", "/var/tmp", "/run"]
    mounts = sh(cri, ctr, "cat /proc/self/mounts")
    assert all(f"tmpfs {d} tmpfs" in mounts for d in ("/tmp", "/var/tmp", "/run")), mounts
    _, privileged = run_busybox(cri, image, pod, privileged=True)
    sh(cri, privileged, "touch /newfile")  # privileged containers keep a writable rootfs
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_no_pivot_and_inheritable_capabilities(node, image):
    d, cri = node(runtime_keys="no_pivot = true\nadd_inheritable_capabilities = true\n")
    pod, ctr = run_busybox(cri, image)
    assert "--no-pivot" in monitor_args(ctr)
    status = dict(line.split(":\t") for line in sh(cri, ctr, "cat /proc/self/status").splitlines()
                  if line.startswith("Cap"))
    assert int(status["CapInh"], 16) != 0
    assert status["CapInh"] == status["CapBnd"]
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_capabilities_are_not_inheritable_by_default(node, image):
    d, cri = node()
    pod, ctr = run_busybox(cri, image)
    assert "--no-pivot" not in monitor_args(ctr)
    assert "CapInh:\t0000000000000000" in sh(cri, ctr, "cat /proc/self/status")
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_default_mounts_file_and_timezone(node, image, tmp_path):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "token").write_text("s3cret\n")
    mounts_file = tmp_path / "mounts.conf"
    mounts_file.write_text(f"# node secrets\n{secrets}:/run/secrets\n/nonexistent/crio-c:/run/absent\n")
    d, cri = node(runtime_keys=f'default_mounts_file = "{mounts_file}"\ntimezone = "{ZONE}"\n')
    pod, ctr = run_busybox(cri, image)
    assert sh(cri, ctr, "cat /run/secrets/token") == "s3cret\n"
    code, err = fails(cri, ctr, "echo x > /run/secrets/token")
    assert code != 0 and "Read-only file system" in err
    assert sh(cri, ctr, "test -e /run/absent || echo absent") == "absent\n"
    want = subprocess.run(["date", "+%Z"], env={"TZ": ZONE}, capture_output=True, text=True).stdout
    assert sh(cri, ctr, "date +%Z") == want
    assert sh(cri, ctr, "md5sum < /etc/localtime").split()[0] == \
        subprocess.run(["md5sum"], stdin=open(f"/usr/share/zoneinfo/{ZONE}"), capture_output=True,
                       text=True).stdout.split()[0]
    # An edit that breaks the file later only warns: containers still start, without the mounts.
    mounts_file.write_text("/broken:relative\n")
    _, later = run_busybox(cri, image, pod)
    assert sh(cri, later, "test -e /run/secrets || echo none") == "none\n"
    assert "default_mounts_file" in d.log and "mounts.conf:1" in d.log
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_broken_default_mounts_file_or_unknown_zone_stops_the_daemon(make_daemon, tmp_path):
    mounts_file = tmp_path / "mounts.conf"
    mounts_file.write_text("/etc:/host-etc\n/x:relative\n")
    for keys, want in ((f'default_mounts_file = "{mounts_file}"\n', f"{mounts_file}:2"),
                       ('timezone = "Nowhere/Atlantis"\n', "crio.runtime.timezone")):
        d = make_daemon(config="[crio.runtime]\n" + keys, log_level=None).start(wait_ready=False)
        assert d.wait(5) != 0
        assert want in d.log, d.log_tail()
        assert not d.sock.exists()


def test_bind_mount_prefix_is_added_to_host_paths(node, image, tmp_path):
    prefix = tmp_path / "host"
    (prefix / "data").mkdir(parents=True)
    (prefix / "data" / "f").write_text("from the prefix\n")
    for sub in ("var", "run"):
        (prefix / sub).mkdir()
    (prefix / "var" / "run").symlink_to("/run")  # as on the node: /var/run -> /run
    d, cri = node(runtime_keys=f'bind_mount_prefix = "{prefix}"\n')
    pod, ctr = run_busybox(cri, image, mounts=[("/data", "/data"), ("/made", "/crio-c-test-made"),
                                                ("/via-link", "/var/run/crio-c-test-link")])
    assert sh(cri, ctr, "cat /data/f") == "from the prefix\n"
    assert (prefix / "crio-c-test-made").is_dir()  # a missing host path is created behind the prefix
    assert not Path("/crio-c-test-made").exists()
    # The node's symlink leads to the node's /run behind the prefix, not to the daemon's own /run.
    assert (prefix / "run" / "crio-c-test-link").is_dir() and not Path("/run/crio-c-test-link").exists()
    escape = ph.container_config(image, command=["true"], mounts=[("/x", "/../etc")])
    assert_rpc_error(lambda: cri.create_container(pod, escape), grpc.StatusCode.INVALID_ARGUMENT,
                     "mounts[0].host_path", "..")
    got = {m.container_path: m.host_path for m in cri.container_status(ctr).status.mounts}
    assert got["/data"] == "/data"  # the status reports what the kubelet asked for
    cri.remove_pod(pod)
    assert_node_clean(d)


def device_owner(cri, image, pod, **security):
    cfg = ph.container_config(image, command=["sh", "-c", "sleep 300"], **security)
    dev = cfg.devices.add()
    dev.host_path, dev.container_path, dev.permissions = "/dev/null", "/dev/mine", "rw"
    if "run_as_user" in security:
        cfg.linux.security_context.run_as_group.value = 2000
    ctr = cri.create_container(pod, cfg)
    cri.start_container(ctr)
    return sh(cri, ctr, "stat -c %u:%g /dev/mine").strip()


def test_device_ownership_from_security_context(node, image):
    d, cri = node(runtime_keys="device_ownership_from_security_context = true\n")
    pod = cri.run_pod()
    assert device_owner(cri, image, pod, run_as_user=1000) == "1000:2000"
    assert device_owner(cri, image, pod) == "0:0"  # no runAsUser: the node's owner
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_devices_keep_the_node_owner_by_default(node, image):
    d, cri = node()
    pod = cri.run_pod()
    assert device_owner(cri, image, pod, run_as_user=1000) == "0:0"
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_pids_limit_caps_each_container(node, image):
    d, cri = node(runtime_keys="pids_limit = 40\n")
    pod, ctr = run_busybox(cri, image, memory_limit=64 << 20)
    read_limit = "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max"
    assert sh(cri, ctr, read_limit).strip() == "40"
    req = h.pb().UpdateContainerResourcesRequest(container_id=ctr)
    req.linux.memory_limit_in_bytes = 128 << 20
    cri.call("UpdateContainerResources", req, h.pb().UpdateContainerResourcesResponse)
    assert sh(cri, ctr, read_limit).strip() == "40"  # an update of other resources keeps it
    assert '"pids":{"limit":40}' in cri.container_status(ctr, verbose=True).info["info"].replace(" ", "")
    code, _ = fails(cri, ctr, "for i in $(seq 60); do sleep 31 & done; wait")
    assert code != 0  # the 41st process cannot start (the stop below ends the 40)
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_devices_annotation_gated_by_handler_and_allowed_devices(node, image):
    d, cri = node('[crio.runtime.runtimes.runc]\nallowed_annotations = ["devices.crio.io"]\n'
                  + handler_conf("plain", "/usr/sbin/runc")
                  + handler_conf("dflt", "/usr/sbin/runc") + 'allowed_annotations = ["io.kubernetes.cri-o.Devices"]\n'
                  + 'default_annotations = { "devices.crio.io" = "/dev/zero:/dev/default-zero:r" }\n',
                  runtime_keys='allowed_devices = ["/dev/zero"]\n')
    asked = {"devices.crio.io": "/dev/zero:/dev/asked-zero:rw"}
    pod, ctr = run_busybox(cri, image, cri.run_pod(annotations=asked))
    assert sh(cri, ctr, "head -c 3 /dev/asked-zero | od -An -tx1").split() == ["00", "00", "00"]
    # A device that allowed_devices does not list fails the create, naming the annotation; nothing is left.
    bad = cri.run_pod(annotations={"devices.crio.io": "/dev/null"})
    assert_rpc_error(lambda: cri.create_container(bad, ph.container_config(image, command=["true"])),
                     grpc.StatusCode.INVALID_ARGUMENT, "devices.crio.io", "/dev/null", "allowed_devices")
    assert [c.pod_sandbox_id for c in cri.list_containers()] == [pod]
    # A handler that does not allow the annotation ignores it, as CRI-O does.
    plain, ignored = run_busybox(cri, image, cri.run_pod(handler="plain", annotations=asked))
    assert sh(cri, ignored, "test -e /dev/asked-zero || echo absent") == "absent\n"
    # A handler's default_annotations reach pods that do not set them.
    dflt, defaulted = run_busybox(cri, image, cri.run_pod(handler="dflt"))
    assert sh(cri, defaulted, "test -c /dev/default-zero && echo yes") == "yes\n"
    assert cri.pod_status(dflt).status.annotations["devices.crio.io"] == "/dev/zero:/dev/default-zero:r"
    for p in (pod, bad, plain, dflt):
        cri.remove_pod(p)
    assert_node_clean(d)


def write_cdi_specs(tmp_path):
    """A JSON spec (a card with a node, env, a read-only library mount and a hook) in one directory and a
    YAML spec (a NIC) in a second one; returns the directories and the file the hook appends to."""
    first, second, lib = tmp_path / "cdi-etc", tmp_path / "cdi-run", tmp_path / "vendor-lib"
    for p in (first, second, lib):
        p.mkdir()
    (lib / "libvendor.so").write_text("vendor library\n")
    marker = tmp_path / "hook-ran"
    hook = tmp_path / "hook.sh"
    hook.write_text(f'#!/bin/sh\necho "$1" >> {marker}\n')
    hook.chmod(0o755)
    (first / "card.json").write_text(json.dumps({
        "cdiVersion": "0.6.0", "kind": "example.com/card",
        "containerEdits": {"env": ["CARD_COMMON=1"],
                           "mounts": [{"hostPath": str(lib), "containerPath": "/opt/vendor", "options": ["ro", "rbind"]}]},
        "devices": [{"name": "0", "containerEdits": {
            "env": ["CARD=0"],
            "deviceNodes": [{"path": "/dev/card0", "hostPath": "/dev/zero"}],
            "hooks": [{"hookName": "createRuntime", "path": str(hook), "args": ["hook.sh", "card0"]}]}}]}))
    (second / "nic.yaml").write_text("cdiVersion: 0.5.0\nkind: example.com/nic\ndevices:\n- name: eth\n"
                                     "  containerEdits:\n    env: [NIC=eth]\n    deviceNodes:\n"
                                     "    - path: /dev/nic\n      hostPath: /dev/null\n      permissions: rw\n")
    return first, second, marker


def test_cdi_devices_from_annotations_and_the_cri_field(node, image, tmp_path):
    first, second, marker = write_cdi_specs(tmp_path)
    d, cri = node(runtime_keys=f'cdi_spec_dirs = ["{first}", "{second}"]\n')
    pod = cri.run_pod()
    cfg = ph.container_config(image, command=["sh", "-c", "sleep 300"],
                              annotations={"cdi.k8s.io/card-plugin_0": "example.com/card=0"})
    cfg.CDI_devices.add().name = "example.com/nic=eth"
    ctr = cri.create_container(pod, cfg)
    cri.start_container(ctr)
    env = sh(cri, ctr, "env").splitlines()
    assert {"CARD=0", "CARD_COMMON=1", "NIC=eth"} <= set(env)
    assert sh(cri, ctr, "test -c /dev/card0 && test -c /dev/nic && cat /opt/vendor/libvendor.so") == "vendor library\n"
    assert sh(cri, ctr, "head -c 2 /dev/card0 | od -An -tx1").split() == ["00", "00"]
    code, err = fails(cri, ctr, "echo x > /opt/vendor/libvendor.so")
    assert code != 0 and "Read-only file system" in err
    assert marker.read_text() == "card0\n"  # the spec's createRuntime hook ran once
    # A device no spec defines is NOT_FOUND naming it; a malformed name INVALID_ARGUMENT naming the annotation.
    missing = ph.container_config(image, command=["true"], annotations={"cdi.k8s.io/x": "example.com/card=9"})
    assert_rpc_error(lambda: cri.create_container(pod, missing), grpc.StatusCode.NOT_FOUND, "example.com/card=9")
    malformed = ph.container_config(image, command=["true"], annotations={"cdi.k8s.io/x": "card0"})
    assert_rpc_error(lambda: cri.create_container(pod, malformed), grpc.StatusCode.INVALID_ARGUMENT,
                     "cdi.k8s.io/x", "card0")
    assert [c.id for c in cri.list_containers()] == [ctr]
    # A spec written after the daemon started is read at the next create, with no reload.
    (second / "late.json").write_text(json.dumps({"cdiVersion": "0.6.0", "kind": "example.com/late", "devices": [
        {"name": "x", "containerEdits": {"env": ["LATE=1"]}}]}))
    late = ph.container_config(image, command=["sh", "-c", "sleep 300"], annotations={"cdi.k8s.io/l": "example.com/late=x"})
    late_ctr = cri.create_container(pod, late)
    cri.start_container(late_ctr)
    assert "LATE=1" in sh(cri, late_ctr, "env").splitlines()
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_infra_ctr_cpuset_pins_the_infra_process_only(node, image):
    d, cri = node(runtime_keys='infra_ctr_cpuset = "0"\n')
    pod = cri.run_pod(pid="POD")  # a shared PID namespace: the pod has an infra process
    _, ctr = run_busybox(cri, image, pod)
    assert sh(cri, ctr, "cat /proc/1/cmdline").startswith("/pause")
    assert "Cpus_allowed_list:\t0\n" in sh(cri, ctr, "cat /proc/1/status")
    own = sh(cri, ctr, "grep Cpus_allowed_list /proc/self/status").split()[1]
    assert own == f"0-{os.cpu_count() - 1}" if os.cpu_count() > 1 else own == "0"
    cri.remove_pod(pod)
    assert_node_clean(d)


def cgroup_dirs_named(name):
    """Every directory called `name` in any cgroup hierarchy of the node."""
    found = []
    for root in {line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
                 if " - cgroup " in line or " - cgroup2 " in line}:
        found += [str(p) for p in Path(root).rglob(name)]
    return found


def test_monitor_cgroup_pod_charges_the_pod_for_its_monitors(node, image):
    d, cri = node("[crio.runtime.runtimes.runc]\nmonitor_cgroup = \"pod\"\n")
    pod, ctr = run_busybox(cri, image)
    monitors = [p for p in ph.processes_with(ctr) if Path(f"/proc/{p}/exe").resolve().name == "conmon"]
    assert len(monitors) == 1
    lines = Path(f"/proc/{monitors[0]}/cgroup").read_text().splitlines()
    assert lines and all(line.endswith(f"/crio-conmon-{ctr}") for line in lines), lines
    assert cgroup_dirs_named(f"crio-conmon-{ctr}")
    cri.remove_pod(pod)
    assert_node_clean(d)
    assert cgroup_dirs_named(f"crio-conmon-{ctr}") == []  # removed with the container, in every hierarchy


def test_monitor_cgroup_other_than_pod_needs_systemd(make_daemon):
    d = make_daemon(config='[crio.runtime.runtimes.runc]\nmonitor_cgroup = "system.slice"\n',
                    log_level=None).start(wait_ready=False)
    assert d.wait(5) != 0
    assert "crio.runtime.runtimes.runc.monitor_cgroup" in d.log and "systemd" in d.log, d.log_tail()


def test_handler_inheriting_the_default_runtime_allows_devices(node, image):
    """The way CRI-O nodes offer /dev/fuse to build pods: a handler that is the default runtime plus an
    allowed annotation, with no runtime_path of its own (there is no binary called "fuse")."""
    d, cri = node('[crio.runtime.runtimes.fuse]\ninherit_default_runtime = true\n'
                  'allowed_annotations = ["devices.crio.io"]\n',
                  runtime_keys='allowed_devices = ["/dev/zero"]\n')
    pod = cri.run_pod(handler="fuse", annotations={"devices.crio.io": "/dev/zero:/dev/fuse-like"})
    _, ctr = run_busybox(cri, image, pod)
    assert sh(cri, ctr, "test -c /dev/fuse-like && echo yes") == "yes\n"
    assert cri.pod_status(pod).status.runtime_handler == "fuse"
    cri.remove_pod(pod)
    assert_node_clean(d)
