# SPDX-License-Identifier: Apache-2.0
"""Pods and containers across daemon restarts and failures: a daemon killed with SIGKILL comes back with
its containers running and their exits recorded; a failure or a kill in the middle of creating leaves
nothing behind."""

import json
import os
import signal
import sqlite3
import stat
import subprocess
import threading
import time
from pathlib import Path

import grpc
import pytest

import crio_helpers as h
import pod_helpers as ph
from test_pods import USERNS, assert_node_clean, assert_rpc_error, run_busybox, searchable_by_all, sh


def write_runtime_wrapper(path, before_create):
    """An OCI runtime that runs `before_create` (shell) when asked to create, then behaves as runc."""
    path.write_text("#!/bin/sh\n"
                    'for a in "$@"; do [ "$a" = create ] && { ' + before_create + "; }; done\n"
                    'exec runc "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def restart(d, kill=True):
    """SIGKILL (or stop) the daemon, start it again, and return a client that has had one answer."""
    d.kill() if kill else d.stop()
    d.start()
    cri = d.client(timeout=60)
    assert h.wait_until(lambda: _answers(cri), 20), "the restarted daemon does not answer"
    return cri


def _answers(cri):
    try:
        cri.version()
        return True
    except grpc.RpcError:
        return False


def handler_conf(name, runtime_path):
    return f'[crio.runtime.runtimes.{name}]\nruntime_path = "{runtime_path}"\nruntime_root = "/run/runc"\n'


@pytest.fixture
def node(image_daemon, image_registry, tmp_path_factory):
    """Factory: a daemon with per-test node directories and extra crio.conf text, busybox pulled."""
    made = []

    def factory(extra_conf="", runtime_keys="", network_dir=None, network_keys=""):
        wd = tmp_path_factory.mktemp("node")
        d = image_daemon(config=ph.runtime_conf(wd, runtime_keys, network_dir, network_keys) + extra_conf)
        d.node_dir = wd
        c = d.client(timeout=60)
        c.pull_image(ph.busybox(image_registry))
        made.append((d, c))
        return d, c

    yield factory
    for d, c in made:
        ph.remove_everything(d, c)


@pytest.fixture
def image(image_registry):
    return ph.busybox(image_registry)


def test_sigkill_and_restart_keeps_containers(node, image):
    d, cri = node()
    pod = cri.run_pod()
    _, running = run_busybox(cri, image, pod)
    _, exited = run_busybox(cri, image, pod, script="sleep 0.1; exit 3")
    cri.wait_container_state(exited, "CONTAINER_EXITED")
    _, dies_meanwhile = run_busybox(cri, image, pod, script="sleep 1; exit 5")
    pid = cri.container_status(running, verbose=True)
    d.kill()
    time.sleep(2)  # dies_meanwhile exits while the daemon is down
    cri = restart(d, kill=False)
    st = cri.container_status(running).status
    assert st.state == h.pb().CONTAINER_RUNNING
    assert sh(cri, running, "echo alive") == "alive\n"
    assert cri.container_status(exited).status.exit_code == 3
    st = cri.container_status(dies_meanwhile).status
    assert (st.state, st.exit_code, st.reason) == (h.pb().CONTAINER_EXITED, 5, "Error")
    assert st.finished_at > st.started_at
    assert cri.pod_status(pod).status.state == h.pb().SANDBOX_READY
    assert {c.id for c in cri.list_containers()} == {running, exited, dies_meanwhile}
    assert pid
    cri.stop_container(running, timeout=1)
    cri.stop_pod(pod)
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_restart_with_infra_process(node, image):
    d, cri = node()
    pod = cri.run_pod(pid="POD")
    _, ctr = run_busybox(cri, image, pod)
    cri = restart(d)
    assert sh(cri, ctr, "cat /proc/1/cmdline").startswith("/pause")
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_failing_runtime_fails_the_start_and_leaves_nothing(node, image, tmp_path):
    """The runtime creates the container when it starts: its error answers StartContainer, and the
    container exits with StartError and the runtime's words (as on containerd), nothing left running
    or mounted; a created container has not needed the runtime yet."""
    script = write_runtime_wrapper(tmp_path / "broken-runtime", "echo 'runtime exploded' >&2; exit 1")
    d, cri = node(handler_conf("broken", script))
    pod = cri.run_pod(handler="broken")  # no infra process: nothing runs until the container
    ctr = cri.create_container(pod, ph.container_config(image, command=["true"]))
    assert_rpc_error(lambda: cri.start_container(ctr), grpc.StatusCode.INTERNAL, "runtime exploded")
    st = cri.container_status(ctr).status
    assert (st.state, st.exit_code, st.reason) == (h.pb().CONTAINER_EXITED, 128, "StartError")
    assert "runtime exploded" in st.message and st.started_at == 0 and st.finished_at > 0
    assert ph.wait_gone(lambda: ph.processes_with(ctr)) == []
    assert [m for m in ph.mounts_under(d.runroot) if ctr in m] == []
    cri.remove_container(ctr)
    assert cri.list_containers() == []
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_runtime_that_hangs_in_create_fails_the_start_and_leaves_nothing(node, image, tmp_path):
    """container_create_timeout (30 s, the floor) bounds how long StartContainer waits for the runtime to
    create the container."""
    script = write_runtime_wrapper(tmp_path / "stuck-runtime", "exec sleep 6071")
    d, cri = node(handler_conf("stuck", script) + "container_create_timeout = 10\n")
    pod = cri.run_pod(handler="stuck")
    ctr = cri.create_container(pod, ph.container_config(image, command=["true"]))
    t0 = time.monotonic()
    assert_rpc_error(lambda: cri.start_container(ctr), grpc.StatusCode.DEADLINE_EXCEEDED,
                     "container_create_timeout")
    assert 29 < time.monotonic() - t0 < 60  # 10 is raised to CRI-O's floor of 30 s
    assert cri.container_status(ctr).status.reason == "StartError"
    assert ph.wait_gone(lambda: ph.processes_with("sleep 6071")) == []  # the stuck runtime is killed too
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_memory_limit_under_the_handlers_minimum_is_refused(node, image):
    d, cri = node('[crio.runtime.runtimes.runc]\ncontainer_min_memory = "16MiB"\n')
    pod = cri.run_pod()
    err = assert_rpc_error(lambda: cri.create_container(pod, ph.container_config(image, memory_limit=8 << 20)),
                           grpc.StatusCode.INVALID_ARGUMENT, "linux.resources.memory_limit_in_bytes")
    assert "container_min_memory" in err.details()
    assert cri.list_containers() == []
    _, ctr = run_busybox(cri, image, pod, memory_limit=16 << 20)  # the minimum itself is fine
    req = h.pb().UpdateContainerResourcesRequest(container_id=ctr)
    req.linux.memory_limit_in_bytes = 4 << 20
    assert_rpc_error(lambda: cri.call("UpdateContainerResources", req, h.pb().UpdateContainerResourcesResponse),
                     grpc.StatusCode.INVALID_ARGUMENT, "linux.memory_limit_in_bytes")
    st = cri.container_status(ctr).status
    assert st.resources.linux.memory_limit_in_bytes == 16 << 20
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_additional_devices_and_privileged_without_host_devices(node, image):
    d, cri = node(handler_conf("nodev", "/usr/sbin/runc") + "privileged_without_host_devices = true\n",
                  runtime_keys='additional_devices = ["/dev/null:/dev/extra-null:rw"]\n')
    pod = cri.run_pod(privileged=True)
    _, plain = run_busybox(cri, image, pod)
    assert sh(cri, plain, "test -c /dev/extra-null && echo x > /dev/extra-null && echo written") == "written\n"
    _, privileged = run_busybox(cri, image, pod, privileged=True)
    assert "loop-control" in sh(cri, privileged, "ls /dev")  # the node's devices, on the default handler
    nodev_pod = cri.run_pod(handler="nodev", privileged=True)
    _, no_host = run_busybox(cri, image, nodev_pod, privileged=True)
    seen = sh(cri, no_host, "ls /dev").split()
    assert "loop-control" not in seen and "extra-null" in seen
    for p in (pod, nodev_pod):
        cri.remove_pod(p)
    assert_node_clean(d)


def test_no_sync_log_reaches_the_monitor(node, image):
    d, cri = node("[crio.runtime.runtimes.runc]\nno_sync_log = true\n")
    pod, ctr = run_busybox(cri, image)
    monitors = [p for p in ph.processes_with(ctr) if Path(f"/proc/{p}/exe").resolve().name == "conmon"]
    assert len(monitors) == 1
    assert "--no-sync-log" in Path(f"/proc/{monitors[0]}/cmdline").read_text().split("\0")
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_exited_container_whose_handler_is_gone_can_be_stopped_and_removed(node, image, tmp_path):
    script = tmp_path / "runtime"
    script.write_text('#!/bin/sh\nfor a in "$@"; do [ "$a" = delete ] && exit 1; done\nexec runc "$@"\n')
    script.chmod(0o755)
    d, cri = node(handler_conf("going", script))
    pod = cri.run_pod(handler="going")
    ctr = cri.create_container(pod, ph.container_config(image, command=["true"]))
    try:
        cri.start_container(ctr)
        cri.wait_container_state(ctr, "CONTAINER_EXITED")  # not released: the runtime's delete fails
        # The operator drops the handler from the configuration and restarts the daemon.
        d.stop()
        d.config_path.write_text(d.config_path.read_text().replace(handler_conf("going", script), ""))
        d.start()
        cri = d.client(timeout=60)
        cri.stop_container(ctr)
        assert "not released from its runtime" in d.log  # the path this test is about was taken
        cri.remove_container(ctr)
        assert cri.list_containers() == []
    finally:
        subprocess.run(["runc", "delete", "--force", ctr], capture_output=True)
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_failing_infra_start_undoes_the_pod(node, image, tmp_path):
    script = write_runtime_wrapper(tmp_path / "broken-runtime", "exit 1")
    d, cri = node(handler_conf("broken", script))
    with pytest.raises(grpc.RpcError):
        cri.run_pod(handler="broken", pid="POD")
    assert cri.list_pods() == []
    assert_node_clean(d)


def test_bad_mount_source_is_rejected(node, image, tmp_path):
    missing = tmp_path / "must-exist"
    d, cri = node(runtime_keys=f'absent_mount_sources_to_reject = ["{missing}"]\n')
    pod = cri.run_pod()
    assert_rpc_error(lambda: cri.create_container(pod, ph.container_config(image, mounts=[("/m", missing)])),
                     grpc.StatusCode.INVALID_ARGUMENT, "host_path", str(missing))
    assert not missing.exists()
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_kill_while_the_runtime_creates_at_start_is_undone_at_restart(node, image, tmp_path):
    """SIGKILL while StartContainer waits for the runtime to create the container: after the restart the
    monitor, the runtime's call and its state are gone, the container is CREATED again with its rootfs,
    and a new start runs it."""
    marker = tmp_path / "creating"
    script = write_runtime_wrapper(tmp_path / "slow-runtime", f"touch {marker}; sleep 30")
    d, cri = node(handler_conf("slow", script))
    pod = cri.run_pod(handler="slow")
    ctr = cri.create_container(pod, ph.container_config(image, command=["sleep", "300"]))
    t = threading.Thread(target=lambda: rpc_error_of(lambda: cri.start_container(ctr)))
    t.start()
    assert h.wait_until(marker.exists, 20), "the runtime was never asked to create"
    d.kill()
    t.join(10)
    cri = restart(d, kill=False)
    assert ph.wait_gone(lambda: ph.processes_with(ctr)) == []
    assert ph.wait_gone(lambda: ph.processes_with(str(script))) == []
    assert not Path(f"/run/runc/{ctr}").exists()
    assert cri.container_status(ctr).status.state == h.pb().CONTAINER_CREATED
    assert [m for m in ph.mounts_under(d.runroot) if ctr in m] != []
    script.write_text('#!/bin/sh\nexec runc "$@"\n')
    cri.start_container(ctr)
    assert sh(cri, ctr, "echo alive") == "alive\n"
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_files_of_a_container_removed_before_a_kill_go_at_restart(node, image):
    """A daemon killed after RemoveContainer answered but before its files went (the row is already
    gone) removes them when it starts again: the rootfs mount, the bundle and the writable layer."""
    d, cri = node()
    pod, ctr = run_busybox(cri, image)
    cri.stop_container(ctr, timeout=0)
    # The stop unmounted the rootfs; a mount there stands for one a created container's removal left.
    rootfs = d.runroot / "containers" / ctr / "rootfs"
    subprocess.run(["mount", "-t", "tmpfs", "leftover", str(rootfs)], check=True)
    assert ph.mounts_under(rootfs) == [str(rootfs)]
    d.kill()
    # What the answered RemoveContainer leaves if its queued teardown never ran.
    with sqlite3.connect(d.root / "crio-c.db") as db:
        db.execute("DELETE FROM containers WHERE id = ?", (ctr,))
    db.close()
    cri = restart(d, kill=False)
    assert cri.list_containers() == []
    assert [m for m in ph.mounts_under(d.runroot) if ctr in m] == []
    assert not (d.runroot / "containers" / ctr).exists() and not (d.root / "containers" / ctr).exists()
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_monitor_that_dies_marks_the_container_exited(node, image):
    d, cri = node()
    pod, ctr = run_busybox(cri, image)
    conmon = [p for p in ph.processes_with(ctr) if open(f"/proc/{p}/comm").read().strip() == "conmon"]
    assert len(conmon) == 1
    os.kill(conmon[0], signal.SIGKILL)
    cri.stop_container(ctr, timeout=1)
    st = cri.container_status(ctr).status
    assert st.state == h.pb().CONTAINER_EXITED
    cri.remove_pod(pod)
    assert_node_clean(d)


@pytest.mark.parametrize("code,reason", [(7, "Error"), (0, "Completed")])
def test_container_outliving_its_monitor_gets_its_exit_recorded(node, image, code, reason):
    """conmon dies first; the container runs on, re-parented to the daemon, which reaps it when it ends
    and records the exit code conmon would have: the kubelet sees the exit instead of a running
    container forever."""
    d, cri = node()
    pod, ctr = run_busybox(cri, image, script=f"trap 'exit {code}' TERM; while :; do sleep 0.1; done")
    conmon = [p for p in ph.processes_with(ctr) if open(f"/proc/{p}/comm").read().strip() == "conmon"]
    os.kill(conmon[0], signal.SIGKILL)
    assert ph.wait_gone(lambda: [p for p in conmon if _running(p)]) == []
    assert cri.container_status(ctr).status.state == h.pb().CONTAINER_RUNNING
    os.kill(d.http_get(f"/containers/{ctr}").json()["pid"], signal.SIGTERM)
    cri.wait_container_state(ctr, "CONTAINER_EXITED")
    st = cri.container_status(ctr).status
    assert (st.exit_code, st.reason) == (code, reason)
    assert "monitor died before it" in st.message
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_stop_with_a_grace_period_ends_when_a_monitorless_container_does(node, image):
    """conmon dies first; StopContainer with a long grace period returns once SIGTERM ended the
    container, not when the grace period runs out."""
    d, cri = node()
    pod, ctr = run_busybox(cri, image, script="trap 'exit 7' TERM; while :; do sleep 0.1; done")
    conmon = [p for p in ph.processes_with(ctr) if open(f"/proc/{p}/comm").read().strip() == "conmon"]
    os.kill(conmon[0], signal.SIGKILL)
    assert ph.wait_gone(lambda: [p for p in conmon if _running(p)]) == []
    ph._call(cri, "StopContainer", h.pb().StopContainerRequest(container_id=ctr, timeout=120),
             "StopContainerResponse", timeout=30)
    assert cri.container_status(ctr).status.exit_code == 7
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_stop_with_the_largest_timeout_a_client_can_send(node, image):
    """The CRI's timeout is any int64: 2^63-1 seconds must not overflow into an already passed deadline
    (or undefined behaviour, which the sanitized build would stop on)."""
    d, cri = node()
    pod, ctr = run_busybox(cri, image, script="trap 'exit 7' TERM; while :; do sleep 0.1; done")
    ph._call(cri, "StopContainer", h.pb().StopContainerRequest(container_id=ctr, timeout=2**63 - 1),
             "StopContainerResponse", timeout=30)
    assert cri.container_status(ctr).status.exit_code == 7  # SIGTERM did it, not a SIGKILL at once
    cri.remove_pod(pod)
    assert_node_clean(d)


IGNORES_TERM = "trap '' TERM; while :; do sleep 0.1; done"


def slow_start_handler(tmp_path):
    """A runtime whose `start` works, then hangs (a slow runtime, or one the daemon is killed during)."""
    marker = tmp_path / "started"
    wrapper = tmp_path / "slow-start-runc"
    wrapper.write_text("#!/bin/sh\n"
                       'for a in "$@"; do [ "$a" = start ] && { runc "$@" || exit $?; touch ' + str(marker) +
                       "; exec sleep 20; }; done\n"
                       'exec runc "$@"\n')
    wrapper.chmod(0o755)
    return handler_conf("slowstart", wrapper), marker, wrapper


def kill_while_starting(d, cri, marker, wrapper, call):
    """Run `call` in a thread, SIGKILL the daemon once the runtime has started the container, and
    restart it; the hanging wrapper goes too."""
    t = threading.Thread(target=lambda: rpc_error_of(call))
    t.start()
    assert h.wait_until(marker.exists, 20), "the runtime never started the container"
    cri = restart(d)
    subprocess.run(["pkill", "-f", str(wrapper)])
    t.join(30)
    return cri


def test_a_start_the_daemon_did_not_see_finish_is_running_after_a_restart(node, image, tmp_path):
    """SIGKILL while the runtime starts the container: after the restart it is RUNNING with a start time
    (it stayed CREATED for ever, and could be neither started nor reported)."""
    conf, marker, wrapper = slow_start_handler(tmp_path)
    d, cri = node(conf)
    pod = cri.run_pod(handler="slowstart")
    ctr = cri.create_container(pod, ph.container_config(image, command=["sleep", "300"]))
    cri = kill_while_starting(d, cri, marker, wrapper, lambda: cri.start_container(ctr))
    st = cri.container_status(ctr).status
    assert st.state == h.pb().CONTAINER_RUNNING and st.started_at > st.created_at
    assert sh(cri, ctr, "echo alive") == "alive\n"
    cri.remove_pod(pod)
    assert_node_clean(d)


@pytest.mark.parametrize("kill", [False, True], ids=["stopped", "killed"])
def test_a_created_container_starts_after_a_restart(node, image, kill):
    """A created container's monitor waits for its start in the daemon that created it. A daemon that
    stops kills it; one killed leaves it to go on and have the runtime create the container, which the
    restarted daemon undoes. Either way nothing of the container runs after the restart, it is still
    created, and it starts."""
    d, cri = node()
    pod = cri.run_pod()
    ctr = cri.create_container(pod, ph.container_config(image, command=["sleep", "300"]))
    assert ph.processes_with(ctr) != []
    cri = restart(d, kill=kill)
    assert ph.wait_gone(lambda: ph.processes_with(ctr)) == []
    assert not Path(f"/run/runc/{ctr}").exists()
    assert cri.container_status(ctr).status.state == h.pb().CONTAINER_CREATED
    cri.start_container(ctr)
    assert sh(cri, ctr, "echo alive") == "alive\n"
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_a_start_cut_short_after_the_runtime_created_the_container_can_be_started_again(node, image, tmp_path):
    """SIGKILL after the runtime created the container but before it started it: after the restart the
    container is CREATED with its waiting init, and a StartContainer runs it without creating it anew."""
    marker = tmp_path / "starting"
    wrapper = tmp_path / "hold-start-runc"
    wrapper.write_text("#!/bin/sh\n"
                       f'for a in "$@"; do [ "$a" = start ] && [ ! -e {tmp_path}/go ] && {{ touch {marker}; '
                       "exec sleep 20; }; done\n"
                       'exec runc "$@"\n')
    wrapper.chmod(0o755)
    d, cri = node(handler_conf("holdstart", wrapper))
    pod = cri.run_pod(handler="holdstart")
    ctr = cri.create_container(pod, ph.container_config(image, command=["sleep", "300"]))
    cri = kill_while_starting(d, cri, marker, wrapper, lambda: cri.start_container(ctr))
    assert cri.container_status(ctr).status.state == h.pb().CONTAINER_CREATED
    init = int((d.runroot / "containers" / ctr / "pidfile").read_text())  # written by the monitor
    assert "init" in Path(f"/proc/{init}/cmdline").read_text().split("\0")  # `runc init`, waiting
    (tmp_path / "go").touch()
    cri.start_container(ctr)
    assert sh(cri, ctr, "cat /proc/1/cmdline") == "sleep\x00300\x00"
    assert json.loads(cri.container_status(ctr, verbose=True).info["info"])["pid"] == init
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_a_pod_whose_infra_start_was_cut_short_is_gone_with_its_infra(node, image, tmp_path):
    """SIGKILL while RunPodSandbox starts the infra process of a shared-PID pod: after the restart the
    half-made pod is removed with its infra container, and the kubelet's retry of the same pod works
    (the infra kept the name reserved until a second restart)."""
    conf, marker, wrapper = slow_start_handler(tmp_path)
    d, cri = node(conf)
    cfg = ph.pod_config(pid="POD")
    cri = kill_while_starting(d, cri, marker, wrapper, lambda: ph.run_pod(cri, config=cfg, handler="slowstart"))
    assert cri.list_pods() == []
    assert_node_clean(d)
    marker.unlink()
    wrapper.write_text("#!/bin/sh\nexec runc \"$@\"\n")
    pod = cri.run_pod(config=cfg, handler="slowstart")
    cri.remove_pod(pod)
    assert_node_clean(d)


def stop_in_background(cri, ctr, timeout):
    """StopContainer in a thread; returns (thread, outcome list: the call's error or None)."""
    outcome = []

    def stop():
        try:
            ph._call(cri, "StopContainer", h.pb().StopContainerRequest(container_id=ctr, timeout=timeout),
                     "StopContainerResponse", timeout=700)
            outcome.append(None)
        except grpc.RpcError as e:
            outcome.append(e)
    t = threading.Thread(target=stop)
    t.start()
    return t, outcome


@pytest.mark.parametrize("second", ["stop", "remove"])
def test_a_shorter_stop_or_a_removal_cuts_a_grace_period_short(node, image, second):
    """The kubelet's force kill: a stop waiting out 600 s of grace for a container that ignores SIGTERM
    ends as soon as a stop with timeout 0 (or a removal) comes; both answer, the container is killed."""
    d, cri = node()
    pod, ctr = run_busybox(cri, image, script=IGNORES_TERM)
    t, outcome = stop_in_background(cri, ctr, 600)
    time.sleep(1)
    started = time.monotonic()
    if second == "stop":
        ph._call(cri, "StopContainer", h.pb().StopContainerRequest(container_id=ctr, timeout=0),
                 "StopContainerResponse", timeout=30)
        assert cri.container_status(ctr).status.exit_code == 137
    else:
        cri.remove_container(ctr)
        assert cri.list_containers() == []
    t.join(30)
    assert not t.is_alive() and outcome == [None]
    assert time.monotonic() - started < 20
    cri.remove_pod(pod)
    assert_node_clean(d)


@pytest.mark.parametrize("call", ["stop", "exec", "exec-closing-its-output"])
def test_shutdown_is_not_held_by_a_clients_timeout(node, image, call):
    """SIGTERM while a StopContainer waits out 600 s of grace, or an ExecSync runs a 600 s command: the
    daemon still stops after its grace for calls in flight. The container keeps running (the stop was
    not done; the kubelet asks again) and the exec'd command is killed."""
    d, cri = node()
    pod, ctr = run_busybox(cri, image, script=IGNORES_TERM)
    if call == "stop":
        t, outcome = stop_in_background(cri, ctr, 600)
    else:
        command = ["sleep", "600"] if call == "exec" else ["sh", "-c", "exec >&- 2>&-; exec sleep 600"]
        t = threading.Thread(target=lambda: rpc_error_of(lambda: cri.exec_sync(ctr, command, rpc_timeout=700)))
        t.start()
    time.sleep(1)
    started = time.monotonic()
    d.stop(timeout=30)
    assert time.monotonic() - started < 15
    t.join(10)
    d.start()
    cri = d.client(timeout=60)
    assert cri.container_status(ctr).status.state == h.pb().CONTAINER_RUNNING
    assert "sleep 600" not in sh(cri, ctr, "ps -o args")
    cri.remove_pod(pod)
    assert_node_clean(d)


def rpc_error_of(fn):
    try:
        fn()
    except grpc.RpcError as e:
        return e
    return None


def test_container_whose_earlier_monitor_dies_after_a_restart_is_exited(node, image):
    """After a daemon restart the monitors are not the daemon's children: one dying with its container
    is noticed by the daemon's sweep (the exit code is unknown then)."""
    d, cri = node()
    pod, ctr = run_busybox(cri, image)
    cri = restart(d)
    procs = [p for p in ph.processes_with(ctr) if open(f"/proc/{p}/comm").read().strip() == "conmon"]
    procs += [int(pid) for cg in Path("/sys/fs/cgroup").glob(f"*/crio-c/crio-{ctr}")
              for pid in (cg / "cgroup.procs").read_text().split()]
    for pid in procs:
        os.kill(pid, signal.SIGKILL)
    cri.wait_container_state(ctr, "CONTAINER_EXITED")
    st = cri.container_status(ctr).status
    assert st.exit_code == 255 and "started by an earlier crio-c" in st.message
    cri.remove_pod(pod)
    assert_node_clean(d)


@pytest.mark.parametrize("while_down", [False, True])
def test_pod_whose_infra_process_dies_is_not_ready(node, image, while_down):
    """The infra process holds the pod's PID namespace: once it is gone the sandbox is not ready (as on
    CRI-O and containerd), so the kubelet replaces the pod; noticed live or at a restart."""
    d, cri = node()
    pod = cri.run_pod(ph.pod_config(pid="POD"))
    _, ctr = run_busybox(cri, image, pod)
    # The infra process is the pause program that is PID 1 of the container's PID namespace.
    pidns = os.readlink(f"/proc/{d.http_get(f'/containers/{ctr}').json()['pid']}/ns/pid")
    infra = [p for p in ph.processes_with("/pause") if os.readlink(f"/proc/{p}/ns/pid") == pidns]
    assert len(infra) == 1
    infra_pid = infra[0]
    if while_down:
        d.kill()
    os.kill(infra_pid, signal.SIGKILL)
    if while_down:
        assert ph.wait_gone(lambda: [infra_pid] if _running(infra_pid) else []) == []
        cri = restart(d, kill=False)
    assert h.wait_until(lambda: cri.pod_status(pod).status.state == h.pb().SANDBOX_NOTREADY, 10, 0.05)
    not_ready = h.pb().PodSandboxStateValue(state=h.pb().SANDBOX_NOTREADY)
    assert [p.id for p in cri.list_pods(state=not_ready)] == [pod]
    cri.stop_pod(pod)
    assert cri.container_status(ctr).status.state == h.pb().CONTAINER_EXITED
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_lifecycle_cycles_leak_nothing(node, image):
    d, cri = node()
    pod = cri.run_pod()

    def cycle():
        ctr = cri.create_container(pod, ph.container_config(image, command=["sleep", "60"]))
        cri.start_container(ctr)
        cri.stop_container(ctr)
        cri.remove_container(ctr)

    def settled():
        """A removed container's files go right after RemoveContainer answered (the teardown thread
        holds directory fds meanwhile): wait for them before counting."""
        assert h.wait_until(lambda: ph.mounts_under(d.root) == [], 10), ph.mounts_under(d.root)
        for sub in (d.runroot / "containers", d.root / "containers"):
            assert h.wait_until(lambda: list(sub.iterdir()) == [], 10), list(sub.iterdir())

    for _ in range(5):  # warm up allocator pools and caches
        cycle()
    settled()
    fds, rss = d.fd_count(), d.rss_kib()
    for _ in range(100):
        cycle()
    settled()
    assert d.fd_count() <= fds + 2
    if not os.environ.get("CRIO_SANITIZED"):  # ASan's quarantine holds freed memory on purpose
        assert d.rss_kib() < rss + 4096, (rss, d.rss_kib())
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_retry_after_the_client_gave_up_gets_the_pod(node, image, tmp_path):
    script = write_runtime_wrapper(tmp_path / "slow-runtime", "sleep 3")
    d, cri = node(handler_conf("slow", script))
    cfg = ph.pod_config(pid="POD")  # the infra process makes RunPodSandbox wait for the slow runtime
    req = h.pb().RunPodSandboxRequest(config=cfg, runtime_handler="slow")
    assert_rpc_error(lambda: cri.call("RunPodSandbox", req, h.pb().RunPodSandboxResponse, timeout=1),
                     grpc.StatusCode.DEADLINE_EXCEEDED)
    # The kubelet retries with the same config: the first pod is handed over, not refused.
    pod = cri.call("RunPodSandbox", req, h.pb().RunPodSandboxResponse, timeout=60).pod_sandbox_id
    assert [p.id for p in cri.list_pods()] == [pod]
    assert cri.pod_status(pod).status.state == h.pb().SANDBOX_READY
    # Once handed over, the name is reserved again.
    assert_rpc_error(lambda: cri.call("RunPodSandbox", req, h.pb().RunPodSandboxResponse, timeout=60),
                     grpc.StatusCode.ALREADY_EXISTS, "reserved")
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_crun_on_a_host_it_refuses(node, image):
    """crun 1.8 refuses cgroup v1 hybrid hosts like these; the failure is clear and leaves nothing."""
    d, cri = node()
    if os.path.isdir("/sys/fs/cgroup/unified") and os.path.isdir("/sys/fs/cgroup/memory"):
        with pytest.raises(grpc.RpcError) as e:
            cri.run_pod(handler="crun", pid="POD")
        assert "crun" in e.value.details() or "runtime" in e.value.details()
        assert cri.list_pods() == []
    else:
        pod = cri.run_pod(handler="crun", pid="POD")
        cri.remove_pod(pod)
    assert_node_clean(d)


def test_kill_during_run_pod_sandbox_is_cleaned_up_at_restart(node, image, tmp_path):
    marker = tmp_path / "creating"
    script = write_runtime_wrapper(tmp_path / "slow-runtime", f"touch {marker}; sleep 30")
    d, cri = node(handler_conf("slow", script))
    # PID mode POD: the pod's infra process is being created by the slow runtime when the daemon dies,
    # after the namespaces were pinned and /dev/shm mounted.
    t = threading.Thread(target=lambda: pytest.raises(grpc.RpcError, cri.run_pod, handler="slow", pid="POD"))
    t.start()
    assert h.wait_until(marker.exists, 20), "the runtime was never asked to create the infra process"
    assert list((d.node_dir / "ns" / "netns").iterdir()), "the pod's namespaces should be pinned by now"
    d.kill()
    t.join(10)
    cri = restart(d, kill=False)
    assert cri.list_pods() == []
    assert ph.wait_gone(lambda: ph.processes_with(str(script))) == []
    assert_node_clean(d)


def default_parent_cgroups():
    root = Path("/sys/fs/cgroup")
    return [p for p in [root / "crio-c", *root.glob("*/crio-c")] if p.is_dir()]


def test_default_cgroup_parent_goes_with_the_last_container(node, image):
    d, cri = node()
    _, ctr = run_busybox(cri, image)
    # A pod without cgroup_parent gets the daemon's default parent, one per hierarchy runc uses.
    assert any((p / f"crio-{ctr}").is_dir() for p in default_parent_cgroups()), default_parent_cgroups()
    d.kill()
    cri = restart(d)  # a start-up with a container left keeps the parent
    assert any((p / f"crio-{ctr}").is_dir() for p in default_parent_cgroups())
    for pod in cri.list_pods():
        cri.stop_pod(pod.id)
        cri.remove_pod(pod.id)
    assert d.stop() == 0
    assert default_parent_cgroups() == []


def test_user_namespace_pod_across_a_restart(node, image):
    d, cri = node()
    searchable_by_all(d.runroot)
    pod = cri.run_pod(userns=USERNS)
    _, before = run_busybox(cri, image, pod)
    cri = restart(d)
    # The pod keeps its mappings: a container created after the restart joins the same namespace.
    _, after = run_busybox(cri, image, pod)
    for ctr in (before, after):
        assert sh(cri, ctr, "cat /proc/self/uid_map; stat -c %u /bin/busybox").split() == ["0", "200000", "65536", "0"]
    cri.remove_pod(pod)
    assert_node_clean(d)


def power_cycle(d):
    """What a node's reboot does under a daemon: every monitor and container process is gone, and with
    them the mounts, the tmpfs directories (runroot, pinned namespaces, exit files, attach sockets,
    runc's state) and the cgroups. The state database under root stays."""
    ctrs = [b.name for b in (d.runroot / "containers").iterdir()]  # infra containers too
    d.kill()
    killed = ph.processes_with(str(d.runroot)) + ph.processes_with(str(d.node_dir))
    for ctr in ctrs:
        for cg in Path("/sys/fs/cgroup").glob(f"*/crio-c/crio-{ctr}"):
            killed += [int(pid) for pid in (cg / "cgroup.procs").read_text().split()]
    for pid in killed:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert ph.wait_gone(lambda: [p for p in killed if _running(p)]) == []
    for mp in reversed(ph.mounts_under(d.workdir) + ph.mounts_under(d.node_dir)):
        subprocess.run(["umount", "-l", mp], check=True)
    for ctr in ctrs:
        assert ph.wait_gone(lambda: [c for c in Path("/sys/fs/cgroup").glob(f"*/crio-c/crio-{ctr}")
                                     if not _rmdir(c)]) == []
        subprocess.run(["rm", "-rf", f"/run/runc/{ctr}"], check=True)
    for gone in (d.runroot, d.node_dir / "ns", d.node_dir / "exits", d.node_dir / "attach"):
        subprocess.run(["rm", "-rf", str(gone)], check=True)


def _running(pid):
    """Not gone and not a zombie (an orphan killed here waits for the machine's init to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except (OSError, IndexError):
        return False


def _rmdir(path):
    try:
        path.rmdir()
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


def two_pods_across_a_node_restart(d, cri, image):
    """A pod with a running container, another with an infra process too; the node restarts and the
    daemon starts again. Returns the new client, the pods and their containers."""
    pod = cri.run_pod(ph.pod_config(name="web", uid="web-uid"))
    _, ctr = run_busybox(cri, image, pod)
    infra_pod = cri.run_pod(ph.pod_config(name="shared", uid="shared-uid", pid="POD"))
    _, infra_ctr = run_busybox(cri, image, infra_pod)
    power_cycle(d)
    return restart(d, kill=False), (pod, infra_pod), (ctr, infra_ctr)


def test_node_restart_wipes_the_previous_boots_pods(node, image):
    """After a reboot (version_file gone with the tmpfs) the previous boot's pods and containers are
    removed at start, as CRI-O's internal_wipe does: the kubelet finds none and runs its pods again."""
    d, cri = node()
    cri, _, _ = two_pods_across_a_node_restart(d, cri, image)
    assert cri.list_pods() == [] and cri.list_containers() == []
    assert "removed 2 pod sandboxes of the previous boot" in d.log
    assert (d.runroot / "version").read_text().strip() == cri.version().runtime_version
    layers = d.root / "containers"
    assert not layers.exists() or list(layers.iterdir()) == []
    again = cri.run_pod(ph.pod_config(name="web", uid="web-uid", attempt=1))
    _, ctr = run_busybox(cri, image, again)
    assert sh(cri, ctr, "echo back") == "back\n"
    cri.remove_pod(again)
    assert_node_clean(d)


def test_node_restart_without_internal_wipe_reports_everything_gone(node, image):
    """internal_wipe = false keeps the previous boot's objects, as they are now: pods not ready and
    containers exited with an unknown status, so the kubelet replaces them and can remove them fast."""
    d, cri = node("[crio]\ninternal_wipe = false\n")
    cri, (pod, infra_pod), (ctr, infra_ctr) = two_pods_across_a_node_restart(d, cri, image)
    for p in (pod, infra_pod):
        assert cri.pod_status(p).status.state == h.pb().SANDBOX_NOTREADY
    for c in (ctr, infra_ctr):
        st = cri.container_status(c).status
        assert (st.state, st.exit_code, st.reason) == (h.pb().CONTAINER_EXITED, 255, "Error")
        assert "node may have restarted" in st.message
    for p in (pod, infra_pod):
        cri.stop_pod(p)
        cri.remove_pod(p)
    assert cri.list_pods() == [] and cri.list_containers() == []
    assert_node_clean(d)


def test_container_whose_processes_died_while_the_daemon_was_down_is_exited(node, image):
    """No reboot: a monitor killed with its container while no daemon ran leaves no exit file. The
    restarted daemon reports the container exited, and the pod, whose namespaces are intact, ready."""
    d, cri = node()
    pod, ctr = run_busybox(cri, image)
    _, alive = run_busybox(cri, image, pod)
    d.kill()
    monitor = [p for p in ph.processes_with(ctr) if Path(f"/proc/{p}/comm").read_text().strip() == "conmon"]
    assert len(monitor) == 1
    os.kill(monitor[0], signal.SIGKILL)
    procs = [int(pid) for cg in Path("/sys/fs/cgroup").glob(f"*/crio-c/crio-{ctr}")
             for pid in (cg / "cgroup.procs").read_text().split()]
    for pid in procs:
        os.kill(pid, signal.SIGKILL)
    assert ph.wait_gone(lambda: [p for p in procs if _running(p)]) == []
    cri = restart(d, kill=False)
    st = cri.container_status(ctr).status
    assert (st.state, st.exit_code) == (h.pb().CONTAINER_EXITED, 255)
    assert cri.container_status(alive).status.state == h.pb().CONTAINER_RUNNING
    assert cri.pod_status(pod).status.state == h.pb().SANDBOX_READY
    assert "removed" not in d.log.split("serving CRI")[-1]
    cri.remove_pod(pod)
    assert_node_clean(d)


def test_second_daemon_on_the_same_root_is_refused(node, tmp_path):
    d, _ = node()
    other = h.Daemon(tmp_path / "other", config=d.config_path.read_text())
    other.root = d.root
    with pytest.raises(h.DaemonExited):
        other.start()
    assert f"root {d.root} is in use by another crio-c (pid {d.pid})" in other.log


def test_crio_wipe_after_a_node_restart(node, image):
    """With internal_wipe = false, `crio wipe` before the daemon starts removes what the restart left."""
    d, cri = node("[crio]\ninternal_wipe = false\n")
    refused = d.run_cli("wipe")
    assert refused.returncode == 1
    assert f"stop the daemon first: root {d.root} is in use by another crio-c (pid {d.pid})" in refused.stderr
    pod, ctr = run_busybox(cri, image)
    power_cycle(d)
    wiped = d.run_cli("wipe", timeout=60)
    assert wiped.returncode == 0, wiped.stderr
    assert f"removed pod sandbox {pod} (default/" in wiped.stdout
    assert "wiped 1 pod sandboxes, 1 containers and 0 images" in wiped.stdout
    again = d.run_cli("wipe")
    assert again.returncode == 0 and "nothing to wipe" in again.stdout
    cri = restart(d, kill=False)
    assert cri.list_pods() == [] and cri.list_containers() == []
    assert [i.id for i in cri.list_images()] != []
    assert_node_clean(d)


def test_crio_wipe_force_removes_running_pods_and_images(node, image):
    d, cri = node()
    pod, ctr = run_busybox(cri, image)
    d.stop()
    wiped = d.run_cli("wipe", "--force", timeout=60)
    assert wiped.returncode == 0, wiped.stderr
    assert "wiped 1 pod sandboxes, 1 containers and 1 images" in wiped.stdout
    assert ph.wait_gone(lambda: ph.processes_with(ctr)) == []
    cri = restart(d, kill=False)
    assert cri.list_pods() == [] and cri.list_images() == []
    assert_node_clean(d)


def test_clean_shutdown_file_tells_a_stop_from_a_crash(node):
    d, _ = node()
    marker = d.workdir / "clean.shutdown"
    assert not marker.exists()
    d.stop()
    assert marker.exists()
    restart(d, kill=False)
    assert not marker.exists() and "did not stop cleanly" not in d.log
    restart(d, kill=True)
    assert not marker.exists()
    assert f"{marker} is absent: the daemon did not stop cleanly last time" in d.log


DEL_FAILER = """#!/usr/bin/python3
import json, os, sys
cmd, conf = os.environ["CNI_COMMAND"], json.load(sys.stdin)
if cmd == "VERSION":
    print(json.dumps({"cniVersion": "1.0.0", "supportedVersions": ["1.0.0"]}))
elif cmd == "ADD":
    print(json.dumps(conf["prevResult"]))
elif cmd == "DEL" and os.path.exists(conf["marker"]):
    print(json.dumps({"cniVersion": "1.0.0", "code": 999, "msg": "DEL refused on purpose"}))
    sys.exit(1)
"""


def test_crio_wipe_that_fails_halfway_can_be_run_again(node, image, tmp_path):
    """A pod whose removal fails (its network plugin refuses DEL) does not stop the others, the wipe
    fails, version_file stays absent, and a second wipe finishes the job."""
    plugins, net = tmp_path / "plugins", tmp_path / "net.d"
    plugins.mkdir()
    net.mkdir()
    (plugins / "delfail").write_text(DEL_FAILER)
    (plugins / "delfail").chmod(0o755)
    marker = tmp_path / "refuse-del"
    (net / "10-test.conflist").write_text(json.dumps({"cniVersion": "1.0.0", "name": "wipe-test", "plugins": [
        {"type": "loopback"}, {"type": "delfail", "marker": str(marker)}]}))
    d, cri = node("[crio]\ninternal_wipe = false\n", network_dir=net,
                  network_keys=f'plugin_dirs = ["{plugins}", "/usr/lib/cni"]\n')
    cri.run_pod(ph.pod_config(name="net", uid="net-uid"))
    host = cri.run_pod(ph.pod_config(name="host", uid="host-uid", network="NODE"))
    power_cycle(d)
    marker.touch()
    failed = d.run_cli("wipe", timeout=60)
    assert failed.returncode == 1 and "1 pod sandboxes could not be removed" in failed.stderr, failed.stderr
    assert f"removed pod sandbox {host}" in failed.stdout
    assert not (d.runroot / "version").exists()
    marker.unlink()
    wiped = d.run_cli("wipe", timeout=60)
    assert wiped.returncode == 0 and "wiped 1 pod sandboxes" in wiped.stdout, wiped.stderr
    assert (d.runroot / "version").exists()
    cri = restart(d, kill=False)
    assert cri.list_pods() == []
    assert_node_clean(d)
