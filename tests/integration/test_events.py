# SPDX-License-Identifier: Apache-2.0
"""GetContainerEvents (evented PLEG): lifecycle events of sandboxes and containers, in order, to every
subscriber, each with the pod's and its containers' statuses; subscribers come and go freely."""

import os
import queue
import signal
import threading
import urllib.request

import grpc
import pytest

import crio_helpers as h
import pod_helpers as ph
import registry as reg

WAIT = 30.0  # seconds a subscriber waits for an expected event before the test fails


class Subscriber:
    """A GetContainerEvents stream read by a thread into a queue."""

    def __init__(self, cri):
        api = h.pb()
        fn = cri.channel.unary_stream(h.RUNTIME_SERVICE + "GetContainerEvents",
                                      request_serializer=api.GetEventsRequest.SerializeToString,
                                      response_deserializer=api.ContainerEventResponse.FromString)
        self.call = fn(api.GetEventsRequest())
        self.call.initial_metadata()  # the daemon sends it once the subscription is in place
        self.events = queue.Queue()
        self.error = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for ev in self.call:
                self.events.put(ev)
        except grpc.RpcError as e:
            self.error = e

    def take(self, n):
        got = []
        for _ in range(n):
            try:
                got.append(self.events.get(timeout=WAIT))
            except queue.Empty:
                raise AssertionError(f"{len(got)} of {n} events, then none for {WAIT} s; stream error: "
                                     f"{self.error!r}") from None
        return got

    def close(self):
        self.call.cancel()
        self.thread.join(WAIT)


@pytest.fixture
def node(image_daemon, tmp_path_factory):
    wd = tmp_path_factory.mktemp("node")
    d = image_daemon(config=ph.runtime_conf(wd, "enable_pod_events = true\n"))
    c = d.client(timeout=60)
    yield d, c
    ph.remove_everything(d, c)


def kind(ev):
    return h.pb().ContainerEventType.Name(ev.container_event_type)


def test_a_whole_lifecycle_in_order_to_two_subscribers(node, image_registry):
    d, cri = node
    image = ph.busybox(image_registry)
    cri.pull_image(image)
    subs = [Subscriber(cri), Subscriber(cri)]
    pod = cri.run_pod(labels={"app": "events"})
    ctr = cri.create_container(pod, ph.container_config(image, name="main", command=["sleep", "300"]))
    cri.start_container(ctr)
    cri.stop_container(ctr)
    cri.remove_container(ctr)
    cri.stop_pod(pod)
    cri.remove_pod(pod)
    expected = [(pod, "CONTAINER_CREATED_EVENT"), (pod, "CONTAINER_STARTED_EVENT"),
                (ctr, "CONTAINER_CREATED_EVENT"), (ctr, "CONTAINER_STARTED_EVENT"),
                (ctr, "CONTAINER_STOPPED_EVENT"), (ctr, "CONTAINER_DELETED_EVENT"),
                (pod, "CONTAINER_STOPPED_EVENT"), (pod, "CONTAINER_DELETED_EVENT")]
    for s in subs:
        got = s.take(len(expected))
        assert [(e.container_id, kind(e)) for e in got] == expected
        assert all(e.pod_sandbox_status.id == pod for e in got)
        assert dict(got[0].pod_sandbox_status.labels) == {"app": "events"}
        assert [e.created_at for e in got] == sorted(e.created_at for e in got)
        started = got[3]
        assert [(c.id, h.pb().ContainerState.Name(c.state)) for c in started.containers_statuses] \
            == [(ctr, "CONTAINER_RUNNING")]
        assert started.containers_statuses[0].metadata.name == "main"
        stopped = got[4]
        assert h.pb().ContainerState.Name(stopped.containers_statuses[0].state) == "CONTAINER_EXITED"
        assert got[6].pod_sandbox_status.state == h.pb().SANDBOX_NOTREADY
        assert list(got[7].containers_statuses) == []
        assert s.events.empty()
    for s in subs:
        s.close()


def test_a_subscriber_that_leaves_does_not_stop_the_others(node, image_registry):
    d, cri = node
    leaving, staying = Subscriber(cri), Subscriber(cri)
    leaving.close()
    pod = cri.run_pod()
    got = staying.take(2)
    assert [(e.container_id, kind(e)) for e in got] == [(pod, "CONTAINER_CREATED_EVENT"),
                                                         (pod, "CONTAINER_STARTED_EVENT")]
    assert leaving.events.empty()
    staying.close()
    # Subscribing again after both left works, and the daemon stops promptly with a subscriber open.
    again = Subscriber(cri)
    cri.stop_pod(pod)
    assert kind(again.take(1)[0]) == "CONTAINER_STOPPED_EVENT"
    d.stop()
    again.thread.join(WAIT)
    assert again.error is not None and again.error.code() == grpc.StatusCode.UNAVAILABLE
    d.start()  # for the fixture's clean-up
    grpc.channel_ready_future(cri.channel).result(timeout=60)


def test_events_are_off_unless_enabled(make_daemon, tmp_path_factory):
    d = make_daemon(workdir=tmp_path_factory.mktemp("off"))
    d.start()
    with d.client() as c:
        with pytest.raises(grpc.RpcError) as e:
            list(c.channel.unary_stream(h.RUNTIME_SERVICE + "GetContainerEvents")(b"", timeout=10))
        assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert "enable_pod_events" in e.value.details()


def answers(cri):
    try:
        cri.version()
        return True
    except grpc.RpcError:
        return False


def test_exits_while_the_daemon_was_down_reach_the_first_subscriber(node, image_registry):
    d, cri = node
    image = ph.busybox(image_registry)
    cri.pull_image(image)
    pod = cri.run_pod()
    ctr = cri.create_container(pod, ph.container_config(image, command=["sleep", "300"]))
    cri.start_container(ctr)
    pid = d.http_get(f"/containers/{ctr}").json()["pid"]
    d.stop()
    os.kill(pid, signal.SIGKILL)  # its monitor records the exit while no daemon runs
    d.start()
    # The fixture's channel still holds its connection to the stopped daemon until a call fails on it
    # ("Broken pipe"), then reconnects after a backoff: the subscription must start on a connection
    # to the new daemon.
    assert h.wait_until(lambda: answers(cri), 20), "the restarted daemon never answered Version"
    first = Subscriber(cri)
    (ev,) = first.take(1)
    assert (ev.container_id, kind(ev)) == (ctr, "CONTAINER_STOPPED_EVENT")
    assert h.pb().ContainerState.Name(ev.containers_statuses[0].state) == "CONTAINER_EXITED"
    assert ev.containers_statuses[0].exit_code == 137
    second = Subscriber(cri)
    cri.remove_container(ctr)
    assert [kind(e) for e in second.take(1)] == ["CONTAINER_DELETED_EVENT"]
    assert [kind(e) for e in first.take(1)] == ["CONTAINER_DELETED_EVENT"]
    first.close()
    second.close()


def test_a_subscriber_that_never_reads_loses_events_not_memory(image_daemon, tmp_path_factory):
    """The stalled stream's queue is bounded (1000 messages): later events are dropped and counted,
    while a subscriber that reads gets every event and the lifecycle calls never wait."""
    wd = tmp_path_factory.mktemp("node")
    port = reg.free_port()
    d = image_daemon(config=ph.runtime_conf(wd, "enable_pod_events = true\n") +
                     f"\n[crio.metrics]\nenable_metrics = true\nmetrics_port = {port}\n")
    cri = d.client(timeout=60)
    api = h.pb()
    # Its own channel with a small flow-control window, so that the transport buffers little for it.
    stalled_channel = grpc.insecure_channel("unix://" + str(d.sock), options=[
        ("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 16384)])
    stalled = stalled_channel.unary_stream(h.RUNTIME_SERVICE + "GetContainerEvents",
                                       request_serializer=api.GetEventsRequest.SerializeToString,
                                       response_deserializer=api.ContainerEventResponse.FromString)(
        api.GetEventsRequest())
    stalled.initial_metadata()  # subscribed; never read from here on
    reader = Subscriber(cri)
    cycles = 400  # 4 events each: well beyond the queue and what the transport buffers
    for i in range(cycles):
        pod = cri.run_pod(name=f"churn-{i}")
        cri.stop_pod(pod)
        cri.remove_pod(pod)
    got = reader.take(4 * cycles)
    assert [kind(e) for e in got[:4]] == ["CONTAINER_CREATED_EVENT", "CONTAINER_STARTED_EVENT",
                                         "CONTAINER_STOPPED_EVENT", "CONTAINER_DELETED_EVENT"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    dropped = [line for line in text.splitlines()
               if line.startswith("container_runtime_crio_containers_events_dropped_total ")]
    assert dropped and float(dropped[0].split()[1]) > 0, dropped
    stalled.cancel()
    stalled_channel.close()
    reader.close()
    cri.close()
