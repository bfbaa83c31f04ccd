# SPDX-License-Identifier: Apache-2.0
"""registries.conf: short names and search registries, aliases, prefixes, mirrors, blocked registries,
drop-ins and SIGHUP reloads."""

import signal

import grpc
import pytest

import crio_helpers as h
import registry as reg
from registry import insecure, ref, registries_conf


def pull_error(daemon, name, timeout=30):
    with daemon.client() as c:
        return h.rpc_error(c.pull_image, name, timeout=timeout)


def pull(daemon, name, timeout=60):
    with daemon.client() as c:
        return c.pull_image(name, timeout=timeout)


def tags_of(daemon, image_id):
    with daemon.client() as c:
        img = c.image(image_id)
        assert img is not None, f"image {image_id} not found after its pull"
        return sorted(img.repo_tags)


@pytest.fixture
def partial_registry(test_images):
    """A registry that has the user images but no busybox."""
    f = reg.FakeRegistry(test_images, repos=["user"])
    f.start()
    yield f
    f.stop()


# ---------------------------------------------------------------------------------------------------------
# Short names


def test_short_name_uses_the_search_registry(image_daemon, image_registry, test_images):
    d = image_daemon()  # unqualified-search-registries = [image_registry]
    assert pull(d, "busybox") == test_images["busybox:latest"]["id"]
    assert tags_of(d, test_images["busybox:latest"]["id"]) == [ref(image_registry, "busybox:latest")]
    with d.client() as c:
        img = c.image("busybox")
        assert img is not None and img.id == test_images["busybox:latest"]["id"], "ImageStatus('busybox')"
        assert c.image("busybox:latest").id == img.id


def test_short_name_with_tag(image_daemon, test_images):
    d = image_daemon()
    assert pull(d, "user:numeric") == test_images["user:numeric"]["id"]


@pytest.mark.parametrize("mode", ["enforcing", None])
def test_ambiguous_short_name_fails_when_enforcing(image_daemon, image_registry, fake_registry, mode):
    """Enforcing is the default: two search registries make "busybox" ambiguous; the error lists both."""
    d = image_daemon(registries_conf(unqualified=[image_registry.host, fake_registry.host],
                                     registries=[insecure(image_registry.host), insecure(fake_registry.host)]),
                     short_name_mode=mode)
    mark = image_registry.mark()
    err = pull_error(d, "busybox")
    assert err.code() != grpc.StatusCode.OK
    assert image_registry.host in err.details() and fake_registry.host in err.details(), \
        f"candidates not listed: {err.details()!r}"
    assert not image_registry.blob_gets(since=mark) and not fake_registry.blob_gets(), "an ambiguous name was pulled"


def test_short_name_disabled_takes_the_first_that_works(image_daemon, image_registry, closed_port,
                                                        partial_registry, test_images):
    d = image_daemon(registries_conf(unqualified=[closed_port.host, partial_registry.host, image_registry.host],
                                     registries=[insecure(closed_port.host), insecure(partial_registry.host),
                                                 insecure(image_registry.host)]),
                     short_name_mode="disabled")
    assert pull(d, "busybox") == test_images["busybox:latest"]["id"]
    assert tags_of(d, test_images["busybox:latest"]["id"]) == [ref(image_registry, "busybox:latest")]
    assert partial_registry.manifest_gets("busybox"), "the second search registry was not tried"


def test_short_name_disabled_takes_the_first_registry_that_has_it(image_daemon, image_registry, fake_registry,
                                                                  test_images):
    d = image_daemon(registries_conf(unqualified=[fake_registry.host, image_registry.host],
                                     registries=[insecure(fake_registry.host), insecure(image_registry.host)]),
                     short_name_mode="disabled")
    pull(d, "busybox")
    assert tags_of(d, test_images["busybox:latest"]["id"]) == [ref(fake_registry, "busybox:latest")]


def test_short_name_without_search_registries_fails(image_daemon, image_registry):
    d = image_daemon(registries_conf(registries=[insecure(image_registry.host)]))
    err = pull_error(d, "busybox")
    assert err.code() not in (grpc.StatusCode.OK, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNKNOWN), err
    assert "busybox" in err.details()


def test_short_name_not_found_anywhere(image_daemon, image_registry):
    d = image_daemon(short_name_mode="disabled")
    err = pull_error(d, "nonexistent")
    assert err.code() == grpc.StatusCode.NOT_FOUND, err


# ---------------------------------------------------------------------------------------------------------
# Aliases and prefixes


def test_alias(image_daemon, image_registry, test_images):
    d = image_daemon(registries_conf(registries=[insecure(image_registry.host)],
                                     aliases={"myalias": ref(image_registry, "busybox")}))
    assert pull(d, "myalias") == test_images["busybox:latest"]["id"]
    assert tags_of(d, test_images["busybox:latest"]["id"]) == [ref(image_registry, "busybox:latest")]
    assert pull(d, "myalias:1.36") == test_images["busybox:latest"]["id"]


def test_alias_wins_over_ambiguous_search(image_daemon, image_registry, fake_registry, test_images):
    d = image_daemon(registries_conf(unqualified=[fake_registry.host, image_registry.host],
                                     registries=[insecure(image_registry.host), insecure(fake_registry.host)],
                                     aliases={"busybox": ref(image_registry, "busybox")}),
                     short_name_mode="enforcing")
    pull(d, "busybox")
    assert tags_of(d, test_images["busybox:latest"]["id"]) == [ref(image_registry, "busybox:latest")]


@pytest.mark.parametrize("name", ["docker.io/library/busybox:latest", "docker.io/busybox", "busybox"])
def test_docker_io_names_are_normalised(image_daemon, image_registry, test_images, name):
    """docker.io/busybox and the short name busybox mean docker.io/library/busybox:latest, which a prefix
    entry sends to the local registry; the image keeps the docker.io name."""
    d = image_daemon(registries_conf(unqualified=["docker.io"],
                                     registries=[dict(prefix="docker.io/library/busybox",
                                                      location=ref(image_registry, "busybox"), insecure=True)]))
    assert pull(d, name) == test_images["busybox:latest"]["id"]
    assert tags_of(d, test_images["busybox:latest"]["id"]) == ["docker.io/library/busybox:latest"]
    with d.client() as c:
        assert c.image("busybox") is not None
        assert c.image("docker.io/library/busybox:latest") is not None


def test_prefix_rewrites_a_namespace(image_daemon, image_registry, test_images):
    d = image_daemon(registries_conf(registries=[dict(prefix="example.com/foo",
                                                      location=ref(image_registry, "org/team"), insecure=True)]))
    e = test_images["org/team/busybox:latest"]
    assert pull(d, "example.com/foo/busybox:latest") == e["id"]
    assert tags_of(d, e["id"]) == ["example.com/foo/busybox:latest"]


# ---------------------------------------------------------------------------------------------------------
# Mirrors


def test_mirror_that_is_down_is_skipped(image_daemon, image_registry, closed_port, test_images):
    mirror = dict(location=closed_port.host, insecure=True)
    d = image_daemon(registries_conf(registries=[insecure(image_registry.host, mirrors=[mirror])]))
    assert pull(d, ref(image_registry, "busybox:latest")) == test_images["busybox:latest"]["id"]


def test_mirror_is_used_before_the_location(image_daemon, image_registry, fake_registry, test_images):
    """fake_registry is the location, image_registry its mirror: the mirror serves the pull."""
    mirror = dict(location=image_registry.host, insecure=True)
    d = image_daemon(registries_conf(registries=[insecure(fake_registry.host, mirrors=[mirror])]))
    mark = image_registry.mark()
    e = test_images["busybox:latest"]
    assert pull(d, ref(fake_registry, "busybox:latest")) == e["id"]
    assert image_registry.blob_gets("busybox", since=mark), "nothing was fetched from the mirror"
    assert not fake_registry.requests(path=r"^/v2/busybox/"), \
        f"the location was asked although the mirror works: {fake_registry.entries()}"
    assert tags_of(d, e["id"]) == [ref(fake_registry, "busybox:latest")], "tagged under the mirror's name"


def test_image_only_on_the_mirror(image_daemon, image_registry, closed_port, test_images):
    mirror = dict(location=image_registry.host, insecure=True)
    d = image_daemon(registries_conf(registries=[insecure(closed_port.host, mirrors=[mirror])]))
    e = test_images["busybox:latest"]
    assert pull(d, f"{closed_port.host}/busybox:latest") == e["id"]
    assert tags_of(d, e["id"]) == [f"{closed_port.host}/busybox:latest"]


def test_mirrors_are_tried_in_order(image_daemon, image_registry, closed_port, partial_registry, test_images):
    mirrors = [dict(location=r.host, insecure=True) for r in (closed_port, partial_registry, image_registry)]
    d = image_daemon(registries_conf(registries=[insecure(closed_port.host, mirrors=mirrors)]))
    mark = image_registry.mark()
    assert pull(d, f"{closed_port.host}/busybox:latest") == test_images["busybox:latest"]["id"]
    assert partial_registry.manifest_gets("busybox"), "the second mirror was skipped"
    assert image_registry.manifest_gets("busybox", since=mark)


def test_mirror_with_a_namespace(image_daemon, image_registry, closed_port, test_images):
    """A mirror location may carry a repository prefix, as the [[registry]] location does."""
    d = image_daemon(registries_conf(registries=[dict(
        prefix=f"{closed_port.host}/foo", location=f"{closed_port.host}/foo", insecure=True,
        mirrors=[dict(location=ref(image_registry, "org/team"), insecure=True)])]))
    e = test_images["org/team/busybox:latest"]
    assert pull(d, f"{closed_port.host}/foo/busybox:latest") == e["id"]


# ---------------------------------------------------------------------------------------------------------
# Blocked registries


def test_blocked_registry_is_permission_denied(image_daemon, image_registry):
    d = image_daemon(registries_conf(registries=[insecure(image_registry.host, blocked=True)]))
    mark = image_registry.mark()
    err = pull_error(d, ref(image_registry, "busybox:latest"))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED, err
    assert image_registry.host in err.details(), err.details()
    assert not image_registry.requests(path=r"^/v2/busybox/", since=mark), "a blocked registry was contacted"


def test_blocked_prefix_only_blocks_that_prefix(image_daemon, image_registry, test_images):
    d = image_daemon(registries_conf(registries=[insecure(image_registry.host),
                                                 dict(prefix=ref(image_registry, "user"),
                                                      location=ref(image_registry, "user"), insecure=True,
                                                      blocked=True)]))
    assert pull_error(d, ref(image_registry, "user:numeric")).code() == grpc.StatusCode.PERMISSION_DENIED
    assert pull(d, ref(image_registry, "busybox:latest")) == test_images["busybox:latest"]["id"]


def test_blocked_search_registry_is_not_used_for_short_names(image_daemon, image_registry, fake_registry,
                                                               test_images):
    d = image_daemon(registries_conf(unqualified=[fake_registry.host, image_registry.host],
                                     registries=[insecure(fake_registry.host, blocked=True),
                                                 insecure(image_registry.host)]),
                     short_name_mode="disabled")
    pull(d, "busybox")
    assert tags_of(d, test_images["busybox:latest"]["id"]) == [ref(image_registry, "busybox:latest")]
    assert not fake_registry.requests(path=r"^/v2/busybox/")


# ---------------------------------------------------------------------------------------------------------
# Drop-ins and reload


def test_registries_conf_d_drop_in(image_daemon, image_registry, test_images):
    d = image_daemon(registries_conf(), dropins={
        "50-test.conf": registries_conf(unqualified=[image_registry.host], registries=[insecure(image_registry.host)])})
    assert pull(d, "busybox") == test_images["busybox:latest"]["id"]


def test_drop_in_overrides_the_main_file(image_daemon, image_registry, test_images):
    d = image_daemon(registries_conf(registries=[insecure(image_registry.host, blocked=True)]),
                     dropins={"50-unblock.conf": registries_conf(registries=[insecure(image_registry.host)])})
    assert pull(d, ref(image_registry, "busybox:latest")) == test_images["busybox:latest"]["id"]


def test_sighup_rereads_registries_conf(image_daemon, image_registry, test_images):
    d = image_daemon(registries_conf(registries=[insecure(image_registry.host, blocked=True)]))
    assert pull_error(d, ref(image_registry, "busybox:latest")).code() == grpc.StatusCode.PERMISSION_DENIED
    h.write_text(d.files["registries-conf"], registries_conf(registries=[insecure(image_registry.host)]))
    d.send_signal(signal.SIGHUP)

    def pulled():
        try:
            return pull(d, ref(image_registry, "busybox:latest"))
        except grpc.RpcError:
            return None

    assert h.wait_until(pulled, 5, 0.2) == test_images["busybox:latest"]["id"], "SIGHUP did not reload"
    assert d.running()


def _pulled(d, name):
    try:
        return pull(d, name)
    except grpc.RpcError:
        return None


def test_auto_reload_follows_edits_of_registries_conf_and_its_drop_ins(image_daemon, image_registry, test_images):
    """auto_reload_registries: no SIGHUP. An editor's write-and-rename of the main file, a new drop-in, a
    broken edit (the last good configuration stays) and a drop-in removed all take effect on their own."""
    d = image_daemon(registries_conf(registries=[insecure(image_registry.host, blocked=True)]),
                     config="[crio.image]\nauto_reload_registries = true\n")
    name, want = ref(image_registry, "busybox:latest"), test_images["busybox:latest"]["id"]
    assert pull_error(d, name).code() == grpc.StatusCode.PERMISSION_DENIED
    main = d.files["registries-conf"]
    h.write_text(main.with_name("registries.conf.new"), registries_conf(registries=[insecure(image_registry.host)]))
    main.with_name("registries.conf.new").rename(main)
    assert h.wait_until(lambda: _pulled(d, name), 10, 0.2) == want, "the edit of registries.conf was missed"
    assert "registries configuration changed: reloaded" in d.log

    h.write_text(main, "this is not TOML [")
    assert h.wait_until(lambda: "changed but cannot be used" in d.log, 10, 0.1)
    assert _pulled(d, name) == want  # the last good configuration stays

    h.write_text(main, registries_conf(registries=[insecure(image_registry.host)]))
    assert h.wait_until(lambda: d.log.count("registries configuration changed: reloaded") == 2, 10, 0.1)
    block = d.files["registries-conf-dir"] / "90-block.conf"
    h.write_text(block, registries_conf(registries=[insecure(image_registry.host, blocked=True)]))
    assert h.wait_until(lambda: _pulled(d, name) is None, 10, 0.2), "the new drop-in was missed"
    block.unlink()
    assert h.wait_until(lambda: _pulled(d, name), 10, 0.2) == want, "the removed drop-in was missed"
    assert d.running()


def test_sighup_with_a_bad_insecure_registries_entry_keeps_everything(image_daemon, image_registry, test_images):
    """A reload whose crio.conf is invalid is refused as a whole: the old insecure_registries stays in
    force and in the daemon's configuration, and later registries.conf changes still apply."""
    d = image_daemon(registries_conf(registries=[insecure(image_registry.host, blocked=True)]),
                     config="[crio.image]\nauto_reload_registries = true\n")
    d.config_path.write_text(d.config_path.read_text() + 'insecure_registries = ["https://bad"]\n')
    d.send_signal(signal.SIGHUP)
    assert h.wait_until(lambda: "reload failed, keeping the current configuration" in d.log, 10, 0.1)
    assert "'https://bad' is neither a registry" in d.log
    assert "https://bad" not in d.http_get("/config").text
    h.write_text(d.files["registries-conf"], registries_conf(registries=[insecure(image_registry.host)]))
    name = ref(image_registry, "busybox:latest")
    assert h.wait_until(lambda: _pulled(d, name), 10, 0.2) == test_images["busybox:latest"]["id"]


def test_auto_reload_sees_a_drop_in_directory_made_after_the_start(image_daemon, image_registry, test_images):
    d = image_daemon(registries_conf(registries=[insecure(image_registry.host)]), start=False,
                     config="[crio.image]\nauto_reload_registries = true\n")
    conf_d = d.files["registries-conf-dir"]
    conf_d.rmdir()
    d.start()
    name = ref(image_registry, "busybox:latest")
    assert _pulled(d, name) == test_images["busybox:latest"]["id"]
    staging = conf_d.with_name("staging.d")
    staging.mkdir()
    h.write_text(staging / "90-block.conf", registries_conf(registries=[insecure(image_registry.host, blocked=True)]))
    staging.rename(conf_d)  # the directory appears with its drop-in in it
    assert h.wait_until(lambda: _pulled(d, name) is None, 10, 0.2), "the new drop-in directory was missed"
    (conf_d / "90-block.conf").unlink()  # and is watched from then on
    assert h.wait_until(lambda: _pulled(d, name), 10, 0.2) == test_images["busybox:latest"]["id"]
    staging.mkdir()
    h.write_text(staging / "90-block.conf", registries_conf(registries=[insecure(image_registry.host, blocked=True)]))
    staging.rename(conf_d)  # renamed over the (empty) watched directory: the new one is followed
    assert h.wait_until(lambda: _pulled(d, name) is None, 10, 0.2), "the replaced drop-in directory was missed"
    (conf_d / "90-block.conf").unlink()
    assert h.wait_until(lambda: _pulled(d, name), 10, 0.2) == test_images["busybox:latest"]["id"]
