"""A pod's `imagePullSecrets` read into registry logins for its `PodRun`: each Secret of type
`kubernetes.io/dockerconfigjson` (`{"auths": {...}}`) or `kubernetes.io/dockercfg` (the map
itself), from the pod's namespace. Called by `resolve`; the executor picks the login per image
(`model.registryauth.candidates`). Errors name the field, the Secret and the key, never a value.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from reconciler.model import objects, registryauth
from reconciler.plan import refs

DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
DOCKER_CFG = "kubernetes.io/dockercfg"
KEYS = {DOCKER_CONFIG_JSON: ".dockerconfigjson", DOCKER_CFG: ".dockercfg"}
"""The Secret types a pull Secret may have, and the key holding the JSON."""


def credentials(
    names: tuple[str, ...], sources: refs.Sources, prefix: str
) -> tuple[registryauth.RegistryCredential, ...]:
    """Every login of the named Secrets, in their order; a Secret that does not exist is left
    out, as the kubelet pulls without it (`validate` warns). Raises `refs.ResolveError` at
    `{prefix}.imagePullSecrets[i]` for a wrong type or unreadable content."""
    found: list[registryauth.RegistryCredential] = []
    for index, name in enumerate(names):
        path = f"{prefix}.imagePullSecrets[{index}]"
        secret = sources.secret(name)
        if secret is None:
            continue
        found.extend(secret_credentials(secret, path))
    return tuple(found)


def secret_credentials(
    secret: objects.Secret, path: str
) -> tuple[registryauth.RegistryCredential, ...]:
    """The logins of one pull Secret, in the order of its `auths` keys."""
    name = secret.meta.name
    key = KEYS.get(secret.type)
    if key is None:
        raise refs.ResolveError(
            f"{path}.name",
            f"Secret {name!r} has type {secret.type}; a pull Secret needs type "
            f"{DOCKER_CONFIG_JSON} (or {DOCKER_CFG})",
            "create it with `kubectl create secret docker-registry --dry-run=client -o yaml`",
        )
    auths = _auths(secret, key, path)
    found = []
    for registry, entry in auths.items():
        login = _login(entry) if isinstance(entry, dict) else None
        if login is None:
            raise refs.ResolveError(
                f"{path}.name",
                f"Secret {name!r}: the entry for registry {registry!r} in {key} has no "
                "username/password or readable `auth`",
                "give the entry `username` and `password`, or `auth`: base64 of USER:PASSWORD",
            )
        username, password, token = login
        if username or password or token:
            found.append(
                registryauth.RegistryCredential(str(registry), name, username, password, token)
            )
    return tuple(found)


def _auths(secret: objects.Secret, key: str, path: str) -> dict[str, Any]:
    raw = secret.data.get(key, b"")
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        document = None
    wrapped = key == KEYS[DOCKER_CONFIG_JSON]
    auths = document.get("auths") if wrapped and isinstance(document, dict) else document
    if not isinstance(auths, dict):
        shape = '{"auths": {REGISTRY: {...}}}' if wrapped else "{REGISTRY: {...}}"
        raise refs.ResolveError(
            f"{path}.name",
            f"Secret {secret.meta.name!r}: {key} is not JSON of the form {shape}",
            "put the content of a docker/podman auth.json file there",
        )
    return auths


def _login(entry: dict[str, Any]) -> tuple[str, str, str] | None:
    """(username, password, identity token); `auth` (base64 of USER:PASSWORD) wins over the
    separate fields, as in the kubelet. None when `auth` cannot be read."""
    token = str(entry.get("identitytoken") or "")
    auth = entry.get("auth")
    if auth:
        try:
            text = base64.b64decode(str(auth), validate=True).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return None
        username, colon, password = text.partition(":")
        if not colon:
            return None
        return username, password, token
    return str(entry.get("username") or ""), str(entry.get("password") or ""), token


def sensitive_values(secret: objects.Secret) -> tuple[str, ...]:
    """The passwords, tokens and `auth` strings inside a pull Secret, for the log redactor
    (the Secret's whole value is registered anyway; these are its parts). () for other types
    or unreadable content."""
    key = KEYS.get(secret.type)
    if key is None:
        return ()
    try:
        auths = _auths(secret, key, "")
    except refs.ResolveError:
        return ()
    values: list[str] = []
    for entry in auths.values():
        if not isinstance(entry, dict):
            continue
        values += [str(entry[k]) for k in ("auth", "password", "identitytoken") if entry.get(k)]
        login = _login(entry)
        if login is not None:
            values += [login[1], login[2], _basic(login[0], login[1])]
    return tuple(v for v in values if v)


def _basic(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode()

