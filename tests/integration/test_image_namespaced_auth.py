# SPDX-License-Identifier: Apache-2.0
"""Credentials a credential provider left for one namespace and image (namespaced_auth_dir)."""
import hashlib

import grpc

import crio_helpers as h
import registry as reg
from registry import insecure, ref, registries_conf


def namespaced_file(directory, namespace, image):
    return directory / f"{namespace}-{hashlib.sha256(image.encode()).hexdigest()}.json"


def test_namespace_credentials_are_used_for_that_namespace_only(image_daemon, token_registry, test_images,
                                                                tmp_path):
    auth_dir = tmp_path / "auth"
    auth_dir.mkdir()
    image = ref(token_registry, "busybox:latest")
    namespaced_file(auth_dir, "team-a", image).write_text(
        reg.auth_json({token_registry.host: ("user", "s3cret-crio-test")}))
    d = image_daemon(registries_conf(registries=[insecure(token_registry.host)]),
                     args=["--namespaced-auth-dir", str(auth_dir)])
    with d.client() as c:
        assert c.pull_image(image, sandbox=h.sandbox_config("team-a")) == test_images["busybox:latest"]["id"]
        c.remove_image(image)
        # Another namespace gets nothing from team-a's file.
        err = h.rpc_error(c.pull_image, image, sandbox=h.sandbox_config("team-b"))
        assert err.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED), err
        assert "unauthorized" in err.details().lower()
