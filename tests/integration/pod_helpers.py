# SPDX-License-Identifier: Apache-2.0
"""Pods and containers over CRI, as a kubelet drives them: helpers that read like the steps a user takes,
plus the checks for what a runtime may leave behind on the node (mounts, pinned namespaces, processes)."""

import os
import time
import uuid
from pathlib import Path

import crio_helpers as h
import registry as reg

LIFECYCLE_TIMEOUT = 60.0


LOOPBACK_NETWORK = '{"cniVersion": "1.0.0", "name": "test-lo", "plugins": [{"type": "loopback"}]}\n'


def runtime_conf(workdir, extra_keys="", network_dir=None, network_keys=""):
    """crio.conf text that keeps every per-node directory of a test daemon inside its workdir; extra_keys are
    more lines of the [crio.runtime] table. Pods get a CNI network of loopback only (the network tests bring
    their own in network_dir, and more [crio.network] lines in network_keys)."""
    w = Path(workdir)
    if network_dir is None:
        network_dir = w / "net.d"
        network_dir.mkdir(parents=True, exist_ok=True)
        (network_dir / "10-loopback.conflist").write_text(LOOPBACK_NETWORK)
    return (f'[crio.network]\nnetwork_dir = "{network_dir}"\n{network_keys}'
            f'[crio.runtime]\nnamespaces_dir = "{w}/ns"\ncontainer_exits_dir = "{w}/exits"\n'
            f'container_attach_socket_dir = "{w}/attach"\n{extra_keys}')


def pod_config(name=None, namespace="default", uid=None, attempt=0, log_dir=None, hostname=None, labels=None,
               annotations=None, pid="CONTAINER", network="POD", ipc="POD", sysctls=None, dns=None, ports=(),
               userns=None, privileged=False):
    """ports: (host_port, container_port[, protocol[, host_ip]]) tuples, as CRI PortMappings.
    userns: (container_id, host_id, length) tuples, for both uids and gids of a pod user namespace."""
    api = h.pb()
    c = api.PodSandboxConfig()
    c.metadata.name = name or "pod-" + uuid.uuid4().hex[:8]
    c.metadata.namespace = namespace
    c.metadata.uid = uid if uid is not None else uuid.uuid4().hex
    c.metadata.attempt = attempt
    if hostname is not None:
        c.hostname = hostname
    if log_dir is not None:
        c.log_directory = str(log_dir)
    for k, v in (labels or {}).items():
        c.labels[k] = v
    for k, v in (annotations or {}).items():
        c.annotations[k] = v
    c.linux.security_context.privileged = privileged
    ns = c.linux.security_context.namespace_options
    ns.pid = api.NamespaceMode.Value(pid)
    ns.network = api.NamespaceMode.Value(network)
    ns.ipc = api.NamespaceMode.Value(ipc)
    if userns is not None:
        ns.userns_options.mode = api.POD
        for container_id, host_id, length in userns:
            ns.userns_options.uids.add(container_id=container_id, host_id=host_id, length=length)
            ns.userns_options.gids.add(container_id=container_id, host_id=host_id, length=length)
    for k, v in (sysctls or {}).items():
        c.linux.sysctls[k] = v
    if dns:
        c.dns_config.servers.extend(dns.get("servers", []))
        c.dns_config.searches.extend(dns.get("searches", []))
        c.dns_config.options.extend(dns.get("options", []))
    for host_port, container_port, *rest in ports:
        m = c.port_mappings.add(host_port=host_port, container_port=container_port)
        m.protocol = api.Protocol.Value(rest[0]) if rest else api.TCP
        m.host_ip = rest[1] if len(rest) > 1 else ""
    return c


def container_config(image, name=None, command=None, args=None, env=None, log_path=None, labels=None,
                     annotations=None, mounts=(), tty=False, stdin=False, workdir=None, run_as_user=None,
                     run_as_username=None, readonly_rootfs=False, privileged=False, cap_add=(), cap_drop=(),
                     seccomp=None, memory_limit=None, memory_swap_limit=None):
    api = h.pb()
    c = api.ContainerConfig()
    c.metadata.name = name or "ctr-" + uuid.uuid4().hex[:8]
    c.image.image = image
    c.command.extend(command or [])
    c.args.extend(args or [])
    for k, v in (env or {}).items():
        kv = c.envs.add()
        kv.key = k
        kv.value = v.encode() if isinstance(getattr(kv, "value"), bytes) else v
    if log_path is not None:
        c.log_path = log_path
    for k, v in (labels or {}).items():
        c.labels[k] = v
    for k, v in (annotations or {}).items():
        c.annotations[k] = v
    for m in mounts:
        mm = c.mounts.add()
        mm.container_path, mm.host_path = m[0], str(m[1])
        mm.readonly = len(m) > 2 and m[2]
    c.tty, c.stdin = tty, stdin
    if workdir:
        c.working_dir = workdir
    sc = c.linux.security_context
    if run_as_user is not None:
        sc.run_as_user.value = run_as_user
    if run_as_username:
        sc.run_as_username = run_as_username
    sc.readonly_rootfs = readonly_rootfs
    sc.privileged = privileged
    sc.capabilities.add_capabilities.extend(cap_add)
    sc.capabilities.drop_capabilities.extend(cap_drop)
    if seccomp is not None:
        kind, _, path = seccomp.partition(":")
        sc.seccomp.profile_type = api.SecurityProfile.ProfileType.Value(kind)
        sc.seccomp.localhost_ref = path
    if memory_limit:
        c.linux.resources.memory_limit_in_bytes = memory_limit
    if memory_swap_limit:
        c.linux.resources.memory_swap_limit_in_bytes = memory_swap_limit
    return c


def _call(self, method, req, resp_name, timeout=LIFECYCLE_TIMEOUT):
    return self.call(method, req, getattr(h.pb(), resp_name), timeout=timeout)


def run_pod(self, config=None, handler="", timeout=LIFECYCLE_TIMEOUT, **kw):
    req = h.pb().RunPodSandboxRequest(config=config or pod_config(**kw), runtime_handler=handler)
    return _call(self, "RunPodSandbox", req, "RunPodSandboxResponse", timeout).pod_sandbox_id


def stop_pod(self, pod_id):
    _call(self, "StopPodSandbox", h.pb().StopPodSandboxRequest(pod_sandbox_id=pod_id), "StopPodSandboxResponse")


def remove_pod(self, pod_id):
    _call(self, "RemovePodSandbox", h.pb().RemovePodSandboxRequest(pod_sandbox_id=pod_id),
          "RemovePodSandboxResponse")


def pod_status(self, pod_id, verbose=False):
    return _call(self, "PodSandboxStatus", h.pb().PodSandboxStatusRequest(pod_sandbox_id=pod_id, verbose=verbose),
                 "PodSandboxStatusResponse")


def list_pods(self, **filt):
    req = h.pb().ListPodSandboxRequest()
    if filt:
        req.filter.CopyFrom(h.pb().PodSandboxFilter(**filt))
    return list(_call(self, "ListPodSandbox", req, "ListPodSandboxResponse").items)


def create_container(self, pod_id, config, pod_config_=None, timeout=LIFECYCLE_TIMEOUT):
    req = h.pb().CreateContainerRequest(pod_sandbox_id=pod_id, config=config)
    if pod_config_ is not None:
        req.sandbox_config.CopyFrom(pod_config_)
    return _call(self, "CreateContainer", req, "CreateContainerResponse", timeout).container_id


def start_container(self, ctr_id):
    _call(self, "StartContainer", h.pb().StartContainerRequest(container_id=ctr_id), "StartContainerResponse")


def stop_container(self, ctr_id, timeout=0):
    _call(self, "StopContainer", h.pb().StopContainerRequest(container_id=ctr_id, timeout=timeout),
          "StopContainerResponse", timeout=LIFECYCLE_TIMEOUT + timeout)


def remove_container(self, ctr_id):
    _call(self, "RemoveContainer", h.pb().RemoveContainerRequest(container_id=ctr_id), "RemoveContainerResponse")


def container_status(self, ctr_id, verbose=False):
    return _call(self, "ContainerStatus", h.pb().ContainerStatusRequest(container_id=ctr_id, verbose=verbose),
                 "ContainerStatusResponse")


def list_containers(self, **filt):
    req = h.pb().ListContainersRequest()
    if filt:
        req.filter.CopyFrom(h.pb().ContainerFilter(**filt))
    return list(_call(self, "ListContainers", req, "ListContainersResponse").containers)


def exec_sync(self, ctr_id, cmd, timeout=0, rpc_timeout=LIFECYCLE_TIMEOUT):
    req = h.pb().ExecSyncRequest(container_id=ctr_id, cmd=cmd, timeout=timeout)
    return _call(self, "ExecSync", req, "ExecSyncResponse", rpc_timeout + timeout)


def wait_container_state(self, ctr_id, state, timeout=20.0):
    want = h.pb().ContainerState.Value(state)
    st = h.wait_until(lambda: self.container_status(ctr_id).status.state == want, timeout)
    assert st, f"container {ctr_id} not {state}: {self.container_status(ctr_id).status}"
    return self.container_status(ctr_id).status


for _f in (run_pod, stop_pod, remove_pod, pod_status, list_pods, create_container, start_container, stop_container,
           remove_container, container_status, list_containers, exec_sync, wait_container_state):
    setattr(h.CriClient, _f.__name__, _f)


def remove_everything(daemon, client):
    """A test node's clean-up: (re)start the daemon if a test left it down, remove every container and pod,
    close the client."""
    if not daemon.running():
        daemon.start()
    for ctr in client.list_containers():
        client.remove_container(ctr.id)
    for pod in client.list_pods():
        client.remove_pod(pod.id)
    client.close()


def busybox(image_registry):
    return reg.ref(image_registry, "busybox:latest")


def mounts_under(path):
    """Mount points at or below `path`, from this process's mount table."""
    p = str(path)
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mp = line.split()[4]
        if mp == p or mp.startswith(p.rstrip("/") + "/"):
            out.append(mp)
    return out


def processes_with(text):
    """PIDs whose command line contains `text` (a container ID, a test directory)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            found.append(int(pid))
    return found


def wait_gone(predicate, timeout=10.0):
    """Wait until predicate() is empty; returns what is left."""
    deadline = time.monotonic() + timeout
    while True:
        left = predicate()
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)
