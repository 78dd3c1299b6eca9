"""Typed Secrets (`kubernetes.io/tls`, `basic-auth`, `ssh-auth`, `dockerconfigjson`, ...): the
keys each type requires, checked as the Kubernetes API server checks them.

Called by `checks` for every Secret; messages name keys and the type, never a value.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any

from reconciler.model import diagnostics as dg

if TYPE_CHECKING:  # `subset` reads TYPES and `checking` imports `subset`
    from reconciler.manifests import checking

OPAQUE = "Opaque"
TLS = "kubernetes.io/tls"
BASIC_AUTH = "kubernetes.io/basic-auth"
SSH_AUTH = "kubernetes.io/ssh-auth"
DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
DOCKER_CFG = "kubernetes.io/dockercfg"

REQUIRED: dict[str, tuple[str, ...]] = {
    OPAQUE: (),
    TLS: ("tls.crt", "tls.key"),
    BASIC_AUTH: (),  # username or password, checked below
    SSH_AUTH: ("ssh-privatekey",),
    DOCKER_CONFIG_JSON: (".dockerconfigjson",),
    DOCKER_CFG: (".dockercfg",),
}
"""Every Secret type accepted here, with the keys it must hold (in `data` or `stringData`)."""

TYPES: tuple[str, ...] = tuple(REQUIRED)

REFUSED: dict[str, str] = {
    "kubernetes.io/service-account-token": "its token is made by Kubernetes' token controller, "
    "which does not exist here",
    "bootstrap.kubernetes.io/token": "it joins nodes to a Kubernetes cluster, which does not "
    "exist here",
}
"""Types Kubernetes fills in or acts on itself. Every other type (`kubernetes.io/rbd`,
`example.com/custom`) is accepted and used like Opaque, as the API server stores it unchecked."""

_JSON_KEYS = {DOCKER_CONFIG_JSON: ".dockerconfigjson", DOCKER_CFG: ".dockercfg"}


def check(checker: checking.Checker, doc: dict[str, Any]) -> None:
    """Required keys of the Secret's type; JSON content of the registry-credential types."""
    kind = doc.get("type") or OPAQUE
    if kind in REFUSED:
        checker.error(
            ("type",),
            dg.Code.INVALID_VALUE,
            f"Secret type {kind} is refused: {REFUSED[kind]}",
            "use type Opaque and put the token under data",
        )
        return
    data: dict[str, Any] = doc.get("data") or {}
    plain: dict[str, Any] = doc.get("stringData") or {}
    keys = set(data) | set(plain)
    missing = [key for key in REQUIRED.get(kind, ()) if key not in keys]
    if kind == BASIC_AUTH and not keys & {"username", "password"}:
        missing = ["username or password"]
    if missing:
        checker.error(
            ("type",),
            dg.Code.REQUIRED_FIELD,
            f"a Secret of type {kind} needs the key(s) {', '.join(missing)}",
            "add them under data (base64) or stringData (plain text)",
        )
        return
    json_key = _JSON_KEYS.get(kind)
    if json_key is None:
        return
    where = "stringData" if json_key in plain else "data"
    if not _is_json_object(plain[json_key] if where == "stringData" else data[json_key], where):
        checker.error(
            (where, json_key),
            dg.Code.INVALID_VALUE,
            f"the value of {json_key!r} is not a JSON object (type {kind})",
            "put the content of a docker/podman auth.json file there",
        )


def _is_json_object(value: object, where: str) -> bool:
    if not isinstance(value, str):
        return False
    if where == "data":
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return True  # reported as invalid base64 already
    else:
        raw = value.encode()
    try:
        return isinstance(json.loads(raw), dict)
    except (ValueError, UnicodeDecodeError):
        return False
