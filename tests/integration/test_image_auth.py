# SPDX-License-Identifier: Apache-2.0
"""Registry credentials (token and Basic auth, from AuthConfig, global_auth_file and auth.json) and the
signature policy (policy.json, per-namespace policies)."""

import base64

import grpc
import pytest

import crio_helpers as h
import registry as reg
from registry import insecure, ref, registries_conf

AUTH_ERRORS = (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED)


def conf_for(*registries):
    return registries_conf(registries=[insecure(r.host) for r in registries])


def assert_unauthorized(err):
    assert err.code() in AUTH_ERRORS, f"expected PERMISSION_DENIED/UNAUTHENTICATED, got {err.code().name}: " \
                                      f"{err.details()!r}"
    assert "unauthorized" in err.details().lower(), err.details()


@pytest.fixture
def token_daemon(image_daemon, token_registry):
    return image_daemon(conf_for(token_registry))


# ---------------------------------------------------------------------------------------------------------
# Token auth


def test_token_auth_with_username_and_password(token_daemon, token_registry, test_images):
    n = len(token_registry.tokens.log)
    with token_daemon.client() as c:
        image_id = c.pull_image(ref(token_registry, "busybox:latest"),
                                auth=h.auth_config(username="user", password="s3cret-crio-test"))
    assert image_id == test_images["busybox:latest"]["id"]
    issued = token_registry.tokens.log[n:]
    assert issued and all(r["user"] == "user" for r in issued if r["status"] == 200), issued
    scopes = {s for r in issued for s in r["scopes"]}
    assert "repository:busybox:pull" in scopes, f"scope asked: {scopes}"
    assert not any(s.endswith(("push", "push,pull", "pull,push", "*")) for s in scopes), \
        f"a pull asked for more than pull: {scopes}"


def test_token_auth_with_auth_field(token_daemon, token_registry, test_images):
    auth = base64.b64encode(b"user:s3cret-crio-test").decode()
    with token_daemon.client() as c:
        assert c.pull_image(ref(token_registry, "busybox:latest"), auth=h.auth_config(auth=auth)) == \
            test_images["busybox:latest"]["id"]


def test_token_auth_with_registry_token(token_daemon, token_registry, test_images):
    token = token_registry.token("busybox")
    n = len(token_registry.tokens.log)
    with token_daemon.client() as c:
        assert c.pull_image(ref(token_registry, "busybox:latest"), auth=h.auth_config(registry_token=token)) == \
            test_images["busybox:latest"]["id"]
    assert not [r for r in token_registry.tokens.log[n:] if r["status"] == 200 and r["user"]], \
        "the registry token should be sent as is, without asking the token server"


def test_token_auth_with_identity_token(token_daemon, token_registry, test_images):
    idt = token_registry.tokens.identity_token("user")
    with token_daemon.client() as c:
        assert c.pull_image(ref(token_registry, "busybox:latest"),
                            auth=h.auth_config(username="<token>", identity_token=idt)) == \
            test_images["busybox:latest"]["id"]
    assert any(r["method"] == "POST" and r["status"] == 200 for r in token_registry.tokens.log), \
        "the identity token was not exchanged with an OAuth2 POST"


def test_token_auth_from_global_auth_file(image_daemon, token_registry, test_images):
    d = image_daemon(conf_for(token_registry),
                     auth_file=reg.auth_json({token_registry.host: ("user", "s3cret-crio-test")}))
    with d.client() as c:
        assert c.pull_image(ref(token_registry, "busybox:latest")) == test_images["busybox:latest"]["id"]


def test_auth_config_wins_over_the_auth_file(image_daemon, token_registry, test_images):
    d = image_daemon(conf_for(token_registry), auth_file=reg.auth_json({token_registry.host: ("user", "wrong")}))
    with d.client() as c:
        assert c.pull_image(ref(token_registry, "busybox:latest"),
                            auth=h.auth_config(username="user", password="s3cret-crio-test")) == \
            test_images["busybox:latest"]["id"]


def test_auth_file_entry_scoped_to_a_repository(image_daemon, token_registry, test_images):
    """auth.json keys may name a repository (HOST/REPO); the most specific entry wins."""
    d = image_daemon(conf_for(token_registry), auth_file=reg.auth_json({
        token_registry.host: ("user", "wrong"), ref(token_registry, "busybox"): ("user", "s3cret-crio-test")}))
    with d.client() as c:
        assert c.pull_image(ref(token_registry, "busybox:latest")) == test_images["busybox:latest"]["id"]
        assert_unauthorized(h.rpc_error(c.pull_image, ref(token_registry, "user:numeric")))


def test_auth_file_entry_for_another_registry_is_not_used(image_daemon, token_registry):
    d = image_daemon(conf_for(token_registry), auth_file=reg.auth_json({"127.0.0.1:1": ("user", "s3cret-crio-test")}))
    with d.client() as c:
        assert_unauthorized(h.rpc_error(c.pull_image, ref(token_registry, "busybox:latest")))


def test_token_auth_from_xdg_runtime_dir_auth_json(image_daemon, token_registry, test_images, tmp_path):
    """With no credentials in the request or global_auth_file, $XDG_RUNTIME_DIR/containers/auth.json."""
    h.write_text(tmp_path / "containers" / "auth.json",
                 reg.auth_json({token_registry.host: ("user", "s3cret-crio-test")}))
    d = image_daemon(conf_for(token_registry), env={"XDG_RUNTIME_DIR": str(tmp_path)})
    with d.client() as c:
        assert c.pull_image(ref(token_registry, "busybox:latest")) == test_images["busybox:latest"]["id"]


def test_anonymous_pull_from_token_registry_fails(token_daemon, token_registry):
    with token_daemon.client() as c:
        before = token_daemon.store_snapshot(c)
        assert_unauthorized(h.rpc_error(c.pull_image, ref(token_registry, "busybox:latest")))
        reg.wait_nothing_left(token_daemon, c, before)


@pytest.mark.parametrize("auth", [dict(username="user", password="wrong"), dict(username="nobody", password="x"),
                                  dict(auth=base64.b64encode(b"user:wrong").decode())])
def test_wrong_credentials_fail(token_daemon, token_registry, auth):
    with token_daemon.client() as c:
        assert_unauthorized(h.rpc_error(c.pull_image, ref(token_registry, "busybox:latest"),
                                        auth=h.auth_config(**auth)))


def test_malformed_auth_field_is_rejected(token_daemon, token_registry):
    with token_daemon.client() as c:
        err = h.rpc_error(c.pull_image, ref(token_registry, "busybox:latest"),
                          auth=h.auth_config(auth="not base64!"))
    assert err.code() in AUTH_ERRORS + (grpc.StatusCode.INVALID_ARGUMENT,), err


def test_credentials_are_not_logged(token_daemon, token_registry):
    with token_daemon.client() as c:
        c.pull_image(ref(token_registry, "busybox:latest"),
                     auth=h.auth_config(username="user", password="s3cret-crio-test"))
        h.rpc_error(c.pull_image, ref(token_registry, "user:numeric"),
                    auth=h.auth_config(auth=base64.b64encode(b"user:an0ther-s3cret").decode()))
    log = token_daemon.log
    for secret in ("s3cret-crio-test", "an0ther-s3cret", base64.b64encode(b"user:s3cret-crio-test").decode()):
        assert secret not in log, f"{secret!r} appears in the daemon's log"


# ---------------------------------------------------------------------------------------------------------
# Basic auth


def test_basic_auth(image_daemon, basic_registry, test_images):
    d = image_daemon(conf_for(basic_registry))
    with d.client() as c:
        assert c.pull_image(ref(basic_registry, "busybox:latest"),
                            auth=h.auth_config(username="user", password="s3cret-crio-test")) == \
            test_images["busybox:latest"]["id"]


def test_basic_auth_anonymous_and_wrong_fail(image_daemon, basic_registry):
    d = image_daemon(conf_for(basic_registry))
    with d.client() as c:
        assert_unauthorized(h.rpc_error(c.pull_image, ref(basic_registry, "busybox:latest")))
        assert_unauthorized(h.rpc_error(c.pull_image, ref(basic_registry, "busybox:latest"),
                                        auth=h.auth_config(username="user", password="wrong")))


# ---------------------------------------------------------------------------------------------------------
# Signature policy


def test_reject_policy_is_permission_denied(image_daemon, image_registry):
    d = image_daemon(policy=reg.policy_json("reject"))
    mark = image_registry.mark()
    with d.client() as c:
        before = d.store_snapshot(c)
        err = h.rpc_error(c.pull_image, ref(image_registry, "busybox:latest"))
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED, err
        reg.wait_nothing_left(d, c, before)
    assert not image_registry.blob_gets(since=mark), "layers of a rejected image were downloaded"


def test_policy_scopes(image_daemon, image_registry, test_images):
    """Per-repository and per-registry scopes of the docker transport override the default."""
    d = image_daemon(policy=reg.policy_json("insecureAcceptAnything", docker={
        ref(image_registry, "user"): "reject",
        ref(image_registry, "busybox"): "insecureAcceptAnything",
    }))
    with d.client() as c:
        assert c.pull_image(ref(image_registry, "busybox:latest")) == test_images["busybox:latest"]["id"]
        assert h.rpc_error(c.pull_image, ref(image_registry, "user:numeric")).code() == \
            grpc.StatusCode.PERMISSION_DENIED
    d2 = image_daemon(policy=reg.policy_json("insecureAcceptAnything", docker={image_registry.host: "reject"}))
    with d2.client() as c:
        assert h.rpc_error(c.pull_image, ref(image_registry, "busybox:latest")).code() == \
            grpc.StatusCode.PERMISSION_DENIED


def test_reject_by_default_accept_one_repository(image_daemon, image_registry, test_images):
    accept_busybox = {ref(image_registry, "busybox"): "insecureAcceptAnything"}
    d = image_daemon(policy=reg.policy_json("reject", docker=accept_busybox))
    with d.client() as c:
        assert c.pull_image(ref(image_registry, "busybox:latest")) == test_images["busybox:latest"]["id"]
        assert h.rpc_error(c.pull_image, ref(image_registry, "user:named")).code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize("requirement", [reg.SIGNED_BY, reg.SIGSTORE_SIGNED], ids=["signedBy", "sigstoreSigned"])
def test_unverified_signature_kinds_fail_clearly(image_daemon, image_registry, requirement):
    d = image_daemon(policy=reg.policy_json([requirement]))
    with d.client() as c:
        before = d.store_snapshot(c)
        err = h.rpc_error(c.pull_image, ref(image_registry, "busybox:latest"))
        assert err.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.UNIMPLEMENTED), err
        assert "not supported" in err.details().lower(), err.details()
        reg.wait_nothing_left(d, c, before)


def test_per_namespace_policy(image_daemon, image_registry, test_images):
    d = image_daemon(policy_dir={"locked": reg.policy_json("reject")})
    with d.client() as c:
        err = h.rpc_error(c.pull_image, ref(image_registry, "busybox:latest"), sandbox=h.sandbox_config("locked"))
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED, err
        assert c.pull_image(ref(image_registry, "busybox:latest"), sandbox=h.sandbox_config("open")) == \
            test_images["busybox:latest"]["id"]
        assert c.pull_image(ref(image_registry, "user:numeric")) == test_images["user:numeric"]["id"]


def test_missing_policy_file_fails_the_pull(image_daemon, image_registry):
    """A signature_policy that does not exist must not mean "accept anything": either the daemon refuses
    to start or the pull fails."""
    d = image_daemon(args=["--signature-policy", "/nonexistent/crio-c-policy.json"], start=False)
    try:
        d.start()
    except h.DaemonExited:
        return
    with d.client() as c:
        err = h.rpc_error(c.pull_image, ref(image_registry, "busybox:latest"))
    assert err.code() != grpc.StatusCode.OK


# ---------------------------------------------------------------------------------------------------------
# TLS: /etc/containers/certs.d/HOST/ (ca.crt, client.cert + client.key), insecure registries


def tls_conf(r, insecure=False):
    return registries_conf(registries=[dict(location=r.host, insecure=insecure)])


def test_tls_registry_with_an_untrusted_certificate_fails(image_daemon, tls_registry):
    d = image_daemon(tls_conf(tls_registry))
    with d.client() as c:
        err = h.rpc_error(c.pull_image, ref(tls_registry, "busybox:latest"), timeout=30)
        assert err.code() not in (grpc.StatusCode.OK, grpc.StatusCode.DEADLINE_EXCEEDED), err
        assert tls_registry.host in err.details(), err.details()
        assert c.list_images() == []


def test_tls_registry_with_its_ca_in_certs_d(image_daemon, tls_registry, test_pki, test_images):
    with reg.certs_d(tls_registry.host, ca=test_pki.ca_cert):
        d = image_daemon(tls_conf(tls_registry))
        with d.client() as c:
            assert c.pull_image(ref(tls_registry, "busybox:latest")) == test_images["busybox:latest"]["id"]


def test_insecure_tls_registry_skips_verification(image_daemon, tls_registry, test_images):
    """As in CRI-O (containers/image): insecure = true accepts a certificate nobody vouches for."""
    d = image_daemon(tls_conf(tls_registry, insecure=True))
    with d.client() as c:
        assert c.pull_image(ref(tls_registry, "busybox:latest")) == test_images["busybox:latest"]["id"]


@pytest.mark.parametrize("entry", ["host", "127.0.0.0/8"])
def test_insecure_registries_key_skips_verification(image_daemon, tls_registry, test_images, entry):
    """crio.conf's insecure_registries (CRI-O's older way) does what insecure = true does, for a registry
    named exactly or an address in a CIDR."""
    listed = tls_registry.host if entry == "host" else entry
    d = image_daemon(tls_conf(tls_registry), config=f'[crio.image]\ninsecure_registries = ["{listed}"]\n')
    with d.client() as c:
        assert c.pull_image(ref(tls_registry, "busybox:latest")) == test_images["busybox:latest"]["id"]


def test_insecure_registries_key_with_a_url_stops_the_daemon(image_daemon, tls_registry):
    d = image_daemon(tls_conf(tls_registry), start=False,
                     config=f'[crio.image]\ninsecure_registries = ["https://{tls_registry.host}"]\n')
    with pytest.raises(h.DaemonExited):
        d.start()
    assert f"crio.image.insecure_registries: 'https://{tls_registry.host}' is neither a registry" in d.log


def test_client_certificate_from_certs_d(image_daemon, mtls_registry, test_pki, test_images):
    with reg.certs_d(mtls_registry.host, ca=test_pki.ca_cert):
        d = image_daemon(tls_conf(mtls_registry))
        with d.client() as c:
            err = h.rpc_error(c.pull_image, ref(mtls_registry, "busybox:latest"), timeout=30)
            assert err.code() not in (grpc.StatusCode.OK, grpc.StatusCode.DEADLINE_EXCEEDED), err
    with reg.certs_d(mtls_registry.host, ca=test_pki.ca_cert, client=(test_pki.client_cert, test_pki.client_key)):
        d = image_daemon(tls_conf(mtls_registry))
        with d.client() as c:
            assert c.pull_image(ref(mtls_registry, "busybox:latest")) == test_images["busybox:latest"]["id"]
