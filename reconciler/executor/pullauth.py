"""Pulls with registry logins: the `X-Registry-Auth` header Podman's `POST /images/pull` reads,
and the pull of one image trying the pod's matching logins in turn. Called by
`podcreate.pull_images`; the login travels only in that header (never a file on the host, an
argument or a message), and a failure names the registry and the Secret, never a value.
"""

from __future__ import annotations

import base64
import json
from typing import Protocol

from reconciler.executor import errors
from reconciler.model import registryauth


class Puller(Protocol):
    def pull(self, image: str, registry_auth: str = "") -> str: ...


def header(credential: registryauth.RegistryCredential) -> str:
    """Podman's `X-Registry-Auth` value: URL-safe base64 of the JSON login (as podman-py and
    the Docker client send it). Podman 4 reads `username`, `password` and `identitytoken`."""
    body: dict[str, str] = {"username": credential.username, "password": credential.password}
    if credential.identity_token:
        body["identitytoken"] = credential.identity_token
    if credential.registry:
        body["serveraddress"] = registryauth.registry_key(credential.registry).host
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode()


def pull(
    api: Puller, image: str, credentials: tuple[registryauth.RegistryCredential, ...]
) -> str:
    """Pull `image` with the first of the pod's logins for its registry that works (none: an
    anonymous pull); returns the image id. Raises `OperationFailed` whose detail names the
    registry and the Secrets tried, with Podman's reason scrubbed of every login value."""
    logins = registryauth.candidates(credentials, image)
    if not logins:
        return api.pull(image)
    failures: list[str] = []
    for login in logins:
        try:
            return api.pull(image, header(login))
        except errors.OperationFailed as exc:
            failures.append(f"with Secret {login.secret!r}: {scrub(exc.detail, login)}")
            last = exc
    where = registryauth.image_location(image).host
    raise errors.OperationFailed(
        last.operation,
        f"registry {where} refused the login(s) of the pod's imagePullSecrets "
        f"({'; '.join(failures)})",
        last.status,
    ) from None


def without_login(image: str, detail: str) -> str:
    """Podman's reason for an anonymous pull that failed, with a hint when the registry asked
    for a login (the pod names no pull Secret for it)."""
    lowered = detail.lower()
    if "unauthorized" in lowered or "authentication required" in lowered or "401" in lowered:
        where = registryauth.image_location(image).host
        return (
            f"{detail} (registry {where} wants a login: add a Secret of type "
            "kubernetes.io/dockerconfigjson for it to the pod's imagePullSecrets)"
        )
    return detail


def scrub(text: str, credential: registryauth.RegistryCredential) -> str:
    """`text` with every value of the login (and its header) replaced by `<redacted>`."""
    basic = f"{credential.username}:{credential.password}".encode()
    values = {credential.password, credential.identity_token, header(credential),
              base64.b64encode(basic).decode()}  # fmt: skip
    for value in sorted((v for v in values if len(v) >= 4), key=len, reverse=True):
        text = text.replace(value, "<redacted>")
    return text
