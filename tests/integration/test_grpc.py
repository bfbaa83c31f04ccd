# SPDX-License-Identifier: Apache-2.0
"""CRI v1 over gRPC: the RPCs that work, the ones that answer UNIMPLEMENTED, and bad requests."""

import json
import threading
import time

import grpc
import pytest

import crio_helpers as h

IMPLEMENTED = {"Version", "Status", "RuntimeConfig", "UpdateRuntimeConfig",
               "RunPodSandbox", "StopPodSandbox", "RemovePodSandbox", "PodSandboxStatus", "ListPodSandbox",
               "CreateContainer", "StartContainer", "StopContainer", "RemoveContainer", "ContainerStatus",
               "ListContainers", "UpdateContainerResources", "ReopenContainerLog", "ExecSync",
               "ContainerStats", "ListContainerStats", "PodSandboxStats", "ListPodSandboxStats",
               "GetContainerEvents", "ListMetricDescriptors", "ListPodSandboxMetrics",
               "StreamContainerStats", "StreamPodSandboxStats", "StreamPodSandboxMetrics",
               "Exec", "Attach", "PortForward",
               "PullImage", "ImageStatus", "ListImages", "RemoveImage", "ImageFsInfo"}


def test_version_names_the_runtime(client):
    v = client.version()
    assert v.version == "0.1.0"
    assert v.runtime_name == "crio-c"
    assert v.runtime_version != ""
    assert v.runtime_api_version == "v1"


def test_version_matches_crio_version_json(client):
    r = h.run_crio("version", "--json")
    assert r.returncode == 0, r.stderr
    assert client.version().runtime_version == json.loads(r.stdout)["version"]


def test_status_runtime_ready_network_not_ready(client):
    s = client.status()
    runtime = h.condition(s, "RuntimeReady")
    assert runtime.status is True
    network = h.condition(s, "NetworkReady")
    assert network.status is False
    assert network.reason == "NetworkPluginNotReady"


def test_status_lists_handlers_and_default_again_unnamed(client):
    names = [rh.name for rh in client.status().runtime_handlers]
    assert sorted(names) == sorted(["runc", "crun", ""]), names


def test_status_verbose_info_config_is_effective_config_json(crio, client):
    s = client.status(verbose=True)
    assert "config" in s.info, dict(s.info)
    config = json.loads(s.info["config"])
    assert isinstance(config, dict)
    assert str(crio.sock) in h.find_key(config, "listen"), s.info["config"][:2000]
    assert str(crio.root) in h.find_key(config, "root")


def test_runtime_config_reports_cgroupfs_by_default(client):
    r = client.runtime_config()
    assert r.HasField("linux")
    assert r.linux.cgroup_driver == h.pb().CGROUPFS


def test_update_runtime_config_accepts_pod_cidr(client):
    r = client.update_runtime_config("10.88.0.0/16")
    assert r.ByteSize() == 0


@pytest.mark.parametrize("cidr", ["10.88.0.0", "10.88.0.0/33", "fd00::/129", "not-a-cidr/8", "/16", "10.1.0.0/"])
def test_update_runtime_config_rejects_a_bad_pod_cidr(client, cidr):
    e = h.rpc_error(client.update_runtime_config, cidr)
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e
    assert "pod_cidr" in e.details()


@pytest.mark.parametrize("method", [
    "CheckpointContainer", "StreamContainers",
    "/runtime.v1.ImageService/StreamImages",
])
def test_rpc_not_written_yet_is_unimplemented(client, method):
    e = h.rpc_error(client.call_raw, method, b"")
    assert e.code() == grpc.StatusCode.UNIMPLEMENTED, e
    assert "not implemented" in e.details().lower()


def test_every_other_rpc_in_the_proto_is_unimplemented(client):
    wrong = []
    for service in h.pb().DESCRIPTOR.services_by_name.values():
        for m in service.methods:
            if m.name in IMPLEMENTED:
                continue
            path = f"/{service.full_name}/{m.name}"
            streaming = _server_streaming(m)
            call = client.call_raw_stream if streaming else client.call_raw
            try:
                call(path, b"")
                wrong.append((path, "succeeded"))
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNIMPLEMENTED or "not implemented" not in (e.details() or "").lower():
                    wrong.append((path, e.code(), e.details()))
    assert wrong == []


def _server_streaming(method_descriptor):
    from google.protobuf import descriptor_pb2
    proto = descriptor_pb2.MethodDescriptorProto()
    method_descriptor.CopyToProto(proto)
    return proto.server_streaming


@pytest.mark.parametrize("path", [
    "/runtime.v1.RuntimeService/Nope",
    "/runtime.v1.NoSuchService/Version",
    "/runtime.v1alpha2.RuntimeService/Version",
])
def test_unknown_method_is_unimplemented(client, path):
    e = h.rpc_error(client.call_raw, path, b"")
    assert e.code() == grpc.StatusCode.UNIMPLEMENTED, e


def test_malformed_request_is_invalid_argument(client):
    e = h.rpc_error(client.call_raw, "Version", b"\xff\xff\xff")
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e
    assert client.version().runtime_name == "crio-c"


def test_malformed_nested_message_is_invalid_argument(client):
    # Field 1 (runtime_config) claims 100 bytes of a nested message but only 2 follow.
    e = h.rpc_error(client.call_raw, "UpdateRuntimeConfig", b"\x0a\x64\x0a\x00")
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e


# Unary methods with a handler are registered with gRPC core, so their request comes with the call; the
# checks below hold for them as they do for the generic path.
REGISTERED = [("ListContainers", "ListContainersRequest"), ("ContainerStatus", "ContainerStatusRequest"),
              ("/runtime.v1.ImageService/ImageStatus", "ImageStatusRequest"),
              ("StopPodSandbox", "StopPodSandboxRequest"),  # runs on the worker pool
              ("/runtime.v1.ImageService/PullImage", "PullImageRequest")]  # on the pull pool


@pytest.mark.parametrize("method,message", REGISTERED)
def test_malformed_request_names_method_and_message(client, method, message):
    e = h.rpc_error(client.call_raw, method, b"\xff\xff\xff")
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e
    assert f"malformed {method.rsplit('/', 1)[-1]} request" in e.details(), e.details()
    assert message in e.details(), e.details()


@pytest.mark.parametrize("method", [m for m, _ in REGISTERED] + ["Version", "GetContainerEvents"])
def test_call_without_request_message_is_invalid_argument(client, method):
    # A client-streaming call with no message half-closes at once: the call reaches the daemon without
    # a request, which a unary client cannot produce.
    fn = client.channel.stream_unary(client.method_path(method), request_serializer=h._identity,
                                     response_deserializer=h._identity)
    e = h.rpc_error(fn, iter([]), timeout=5)
    assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e
    assert e.details() == "missing request message"


def test_burst_of_calls_is_answered(crio):
    """Far more calls at once than requests kept pending, on one channel and on several: every one is
    answered, whichever pool it runs on."""
    api = h.pb()
    reads = {"ListContainers": (api.ListContainersRequest(), api.ListContainersResponse),
             "Version": (api.VersionRequest(), api.VersionResponse),
             "/runtime.v1.ImageService/ImageStatus": (api.ImageStatusRequest(image=api.ImageSpec(image="nope:1")),
                                                      api.ImageStatusResponse),
             "/runtime.v1.ImageService/ImageFsInfo": (api.ImageFsInfoRequest(), api.ImageFsInfoResponse)}
    clients = [crio.client() for _ in range(4)]
    try:
        futures = []
        for i in range(100):
            for method, (req, resp) in reads.items():
                c = clients[i % len(clients)] if i % 2 else clients[0]
                fn = c.channel.unary_unary(c.method_path(method), request_serializer=type(req).SerializeToString,
                                           response_deserializer=resp.FromString)
                futures.append((method, fn.future(req, timeout=30)))
        answers = [(method, f.result()) for method, f in futures]
    finally:
        for c in clients:
            c.close()
    assert len(answers) == 400
    assert all(a.runtime_name == "crio-c" for m, a in answers if m == "Version")
    assert all(not a.HasField("image") for m, a in answers if m.endswith("ImageStatus"))


def test_calls_past_their_deadline_leave_nothing_behind(make_daemon):
    """Calls that end at their deadline while queued or being answered, on registered and generic
    methods, are all freed: the daemon still answers, and stops without waiting for any."""
    d = make_daemon().start()
    outcomes = set()
    with d.client() as c:
        for method in ("ListContainers", "/runtime.v1.ImageService/ImageFsInfo", "GetContainerEvents", "Nope"):
            fn = c.channel.unary_unary(c.method_path(method), request_serializer=h._identity,
                                       response_deserializer=h._identity)
            # Deadlines of 0.5 to 5 ms end some calls before they are sent, some on the way and
            # some after the answer.
            futures = [fn.future(b"", timeout=0.0005 * (1 + i % 10)) for i in range(200)]
            for f in futures:
                e = f.exception()
                outcomes.add(e.code() if e else grpc.StatusCode.OK)
        assert c.version().runtime_name == "crio-c"
    assert grpc.StatusCode.DEADLINE_EXCEEDED in outcomes, outcomes
    assert outcomes <= {grpc.StatusCode.OK, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNIMPLEMENTED,
                        grpc.StatusCode.CANCELLED}, outcomes
    t0 = time.monotonic()
    assert d.stop() == 0
    assert time.monotonic() - t0 < 4, "a call was still in flight at shutdown"
    assert "still running" not in d.log


def test_message_under_default_limit_is_accepted(client):
    # The default receive limit is 80 MiB, far above gRPC's usual 4 MiB.
    try:
        client.update_runtime_config("1" * (6 << 20))
    except grpc.RpcError as e:
        assert e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED, e


def test_message_over_configured_limit_is_resource_exhausted(make_daemon):
    d = make_daemon(config="[crio.api]\ngrpc_max_recv_msg_size = 1048576\n").start()
    with d.client() as c:
        e = h.rpc_error(c.update_runtime_config, "1" * (2 << 20))
        assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, e
        assert c.update_runtime_config("10.88.0.0/16").ByteSize() == 0


def test_request_with_deadline_gets_answer(client):
    assert client.call("Version", h.pb().VersionRequest(), h.pb().VersionResponse, timeout=2).version == "0.1.0"


def test_many_clients_at_once(crio):
    errors = []

    def worker():
        try:
            with crio.client() as c:
                for _ in range(50):
                    assert c.version().runtime_name == "crio-c"
                    assert h.condition(c.status(), "RuntimeReady").status
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []


def test_many_short_lived_connections(crio):
    for _ in range(30):
        with crio.client() as c:
            assert c.version().version == "0.1.0"


def test_answer_over_configured_send_limit_is_resource_exhausted(make_daemon):
    """An answer past grpc_max_send_msg_size is not sent: the call is RESOURCE_EXHAUSTED, naming both
    sizes; smaller answers go out."""
    d = make_daemon(config="[crio.api]\ngrpc_max_send_msg_size = 100\n").start()
    with d.client() as c:
        e = h.rpc_error(c.status, True)
        assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, e
        assert "larger than max" in e.details() and "vs. 100)" in e.details(), e.details()
        assert c.version().runtime_name == "crio-c"


def test_finished_requests_do_not_count_against_the_connection(make_daemon):
    """The bound on a connection's unfinished request bytes (grpc_max_recv_msg_size + 16 MiB) counts only
    requests still held: twenty 1 MB requests one after another on one channel are all read."""
    d = make_daemon(config="[crio.api]\ngrpc_max_recv_msg_size = 1048576\n").start()
    with d.client() as c:
        for _ in range(20):
            e = h.rpc_error(c.update_runtime_config, "1" * 1_000_000)
            assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e
