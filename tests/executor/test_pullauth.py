"""Pulls with registry logins: the `X-Registry-Auth` header, the logins tried in turn, the header
on the real API client's request, and no password in any error text or log record."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
from typing import Any, cast

import pytest

from reconciler.executor import errors, hostsession, podcreate, podmanapi, protocol, pullauth
from reconciler.model import registryauth
from tests.executor.test_podmanspec import make_run

PASSWORD = "hunter2-very-secret"
IMAGE = "198.18.0.1:5001/private/busybox:v1"


def _login(secret: str = "pull", password: str = PASSWORD) -> registryauth.RegistryCredential:
    return registryauth.RegistryCredential("198.18.0.1:5001", secret, "puller", password)


def _decoded(header: str) -> dict[str, str]:
    return dict(json.loads(base64.urlsafe_b64decode(header)))


class FakeApi:
    """Answers pulls as a registry that knows one login; errors echo the header (as a careless
    server might) so that scrubbing is tested."""

    def __init__(self, good: str = PASSWORD, anonymous_ok: bool = False) -> None:
        self.good = good
        self.anonymous_ok = anonymous_ok
        self.calls: list[tuple[str, str]] = []

    def pull(self, image: str, registry_auth: str = "") -> str:
        self.calls.append((image, registry_auth))
        if registry_auth and _decoded(registry_auth)["password"] == self.good:
            return "image-id"
        if not registry_auth and self.anonymous_ok:
            return "image-id"
        sent = _decoded(registry_auth)["password"] if registry_auth else ""
        raise errors.OperationFailed(
            "pull", f"reading manifest: unauthorized: authentication required {sent}"
        )


def test_header_is_url_safe_base64_json_of_the_login() -> None:
    body = _decoded(pullauth.header(_login()))
    assert body == {"username": "puller", "password": PASSWORD, "serveraddress": "198.18.0.1:5001"}


def test_without_matching_logins_the_pull_is_anonymous() -> None:
    api = FakeApi(anonymous_ok=True)
    other = dataclasses.replace(_login(), registry="quay.io")
    assert pullauth.pull(api, IMAGE, (other,)) == "image-id"
    assert api.calls == [(IMAGE, "")]


def test_logins_are_tried_in_turn_until_one_works() -> None:
    api = FakeApi()
    logins = (_login("stale", "old-password-1"), _login("pull"))
    assert pullauth.pull(api, IMAGE, logins) == "image-id"
    assert [_decoded(h)["password"] for _, h in api.calls] == ["old-password-1", PASSWORD]


def test_refused_logins_name_registry_and_secrets_never_the_password() -> None:
    api = FakeApi(good="something-else")
    with pytest.raises(errors.OperationFailed) as caught:
        pullauth.pull(api, IMAGE, (_login("pull"),))
    text = str(caught.value)
    assert "registry 198.18.0.1:5001 refused" in text and "Secret 'pull'" in text
    assert "unauthorized" in text
    assert PASSWORD not in text and caught.value.__cause__ is None


def test_an_anonymous_refusal_says_to_add_a_pull_secret() -> None:
    detail = pullauth.without_login(IMAGE, "unauthorized: authentication required")
    assert "imagePullSecrets" in detail and "198.18.0.1:5001" in detail
    assert pullauth.without_login(IMAGE, "manifest unknown") == "manifest unknown"


class _Session:
    def __init__(self, api: FakeApi) -> None:
        self.api = api


def test_a_failed_pull_logs_and_raises_no_password(caplog: pytest.LogCaptureFixture) -> None:
    run = dataclasses.replace(make_run(), pull_credentials=(_login(),))
    run = dataclasses.replace(
        run, containers=tuple(dataclasses.replace(c, image=IMAGE, pull_policy="Always")
                              for c in run.containers),
    )  # fmt: skip
    session = cast(hostsession.HostSession, _Session(FakeApi(good="not-this")))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(errors.ImagePullError) as caught:
        podcreate.pull_images(session, run)
    logging.getLogger("test").warning("failed: %s %r %r", caught.value, run, caught.value.args)
    assert str(caught.value).startswith(f"pod {run.podman_name} on host {run.host}: ErrImagePull:")
    everything = str(caught.value) + repr(run) + caplog.text
    assert PASSWORD not in everything
    assert base64.b64encode(f"puller:{PASSWORD}".encode()).decode() not in everything


class _Response:
    status_code = 200

    def iter_lines(self) -> list[bytes]:
        return [b'{"stream": "Trying to pull"}', b'{"id": "abc123", "images": ["abc123"]}']

    def close(self) -> None:
        pass


def test_the_api_client_sends_the_header_and_nothing_else_carries_the_login() -> None:
    api = podmanapi.PodmanAPI(
        "h1", "/nonexistent.sock", protocol.ExecutorStats(),
        transport_error=lambda op, exc, started: errors.HostError("h1", op),
        timeout=5, pull_timeout=5, ping_timeout=5, pool_size=1,
    )  # fmt: skip
    seen: list[tuple[str, dict[str, Any]]] = []

    class Client:
        def post(self, path: str, **kwargs: Any) -> _Response:
            seen.append((path, kwargs))
            return _Response()

    api._api = cast(Any, Client())  # the HTTP client, replaced for the test
    header = pullauth.header(_login())
    assert api.pull(IMAGE, header) == "abc123"
    assert api.pull(IMAGE) == "abc123"
    (path, with_login), (_, without) = seen
    assert path == "/images/pull" and with_login["headers"] == {"X-Registry-Auth": header}
    assert PASSWORD not in json.dumps(with_login["params"])
    assert "headers" not in without
    api.close()
