# SPDX-License-Identifier: Apache-2.0
"""OCI hooks (oci-hooks(5)) from hooks_dir: the hooks whose conditions match a container are written into
its config.json, and the runtime runs them at their stages; the others are not."""

import json

import crio_helpers as h
import pod_helpers as ph
from test_pod_recovery import image, node  # noqa: F401 - fixtures
from test_pods import assert_node_clean


def write_hook(hooks_dir, name, program, arg, when, stages):
    hook = {"version": "1.0.0", "hook": {"path": str(program), "args": ["record-hook", arg]},
            "when": when, "stages": stages}
    (hooks_dir / name).write_text(json.dumps(hook))


def runs(out):
    """[(hook argument, container id)] in the order the hooks ran; the runtime passes the state on stdin."""
    if not out.exists():
        return []
    return [(line.split(" ", 1)[0], json.loads(line.split(" ", 1)[1])["id"]) for line in out.read_text().splitlines()]


def test_matching_hooks_run_at_their_stages(node, image, tmp_path):  # noqa: F811 - fixtures
    hooks, out = tmp_path / "hooks.d", tmp_path / "ran"
    hooks.mkdir()
    program = tmp_path / "record-hook"
    program.write_text(f'#!/bin/sh\nprintf "%s %s\\n" "$1" "$(cat | tr -d "\\n")" >> {out}\n')
    program.chmod(0o755)
    write_hook(hooks, "10-always.json", program, "always", {"always": True}, ["createRuntime", "poststop"])
    write_hook(hooks, "20-gpu.json", program, "gpu", {"annotations": {"^example\\.com/gpu$": "^yes$"}},
               ["createRuntime"])
    write_hook(hooks, "30-python.json", program, "python", {"commands": ["python"]}, ["createRuntime"])
    (hooks / "40-broken.json").write_text('{"version": "1.0.0", "hook": {}}')  # logged and skipped
    d, cri = node(runtime_keys=f'hooks_dir = ["/nonexistent/hooks.d", "{hooks}"]\n')
    pod = cri.run_pod()

    cfg = ph.container_config(image, command=["sleep", "300"])
    cfg.annotations["example.com/gpu"] = "yes"
    gpu = cri.create_container(pod, cfg)
    spec = json.loads(cri.container_status(gpu, verbose=True).info["info"])["runtimeSpec"]
    assert [x["args"][1] for x in spec["hooks"]["createRuntime"]] == ["always", "gpu"]
    assert runs(out) == []  # the runtime creates the container when it starts
    cri.start_container(gpu)
    assert runs(out) == [("always", gpu), ("gpu", gpu)]

    plain = cri.create_container(pod, ph.container_config(image, name="plain", command=["sleep", "300"]))
    cri.start_container(plain)
    assert runs(out)[2:] == [("always", plain)]
    for ctr in (gpu, plain):
        cri.stop_container(ctr, timeout=0)
    assert sorted(runs(out)[3:]) == sorted([("always", gpu), ("always", plain)])  # poststop, at the stop
    assert "40-broken.json" in d.log
    cri.remove_pod(pod)
    assert_node_clean(d)
