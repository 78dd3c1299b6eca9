"""Registry logins from pull Secrets (`imagePullSecrets`) and which of them an image's pull uses.
`plan.pullsecrets` reads the Secrets into `RegistryCredential`s on the `PodRun`; the executor asks
`candidates(credentials, image)` before each pull. Matching follows the kubelet's keyring: Docker
Hub aliases, `host:port` compared exactly, `*.domain` globs per label, path prefixes.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
HUB_ALIASES = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)
"""Names the kubelet (and Podman) treat as Docker Hub, where an image without registry lives."""


@dataclass(frozen=True, repr=False)
class RegistryCredential:
    """One login: `registry` is the Secret's `auths` key, normalised (`host[:port][/path]`,
    no scheme); `secret` names the Secret, for messages. Never shown by repr."""

    registry: str
    secret: str
    username: str
    password: str
    identity_token: str = ""

    def __repr__(self) -> str:
        return f"RegistryCredential({self.registry!r}, secret={self.secret!r}, <redacted>)"


@dataclass(frozen=True)
class Location:
    """Where an image lives: `host` (lower case, `:port` kept) and the repository `path`."""

    host: str
    path: str

    def __str__(self) -> str:
        return f"{self.host}/{self.path}"


def image_location(image: str) -> Location:
    """The registry and repository of an image reference, as Docker and the kubelet read it: the
    first component is a registry if it has a `.` or `:` or is `localhost`; otherwise the image
    is on Docker Hub (`busybox` is `docker.io/library/busybox`). Tag and digest are dropped."""
    name = image.partition("@")[0]
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        host, path = first.lower(), rest
    else:
        host, path = DOCKER_HUB, name if slash else f"library/{name}"
    head, _, last = path.rpartition("/")
    last = last.partition(":")[0]
    path = f"{head}/{last}" if head else last
    return Location(_hub(host), path)


def registry_key(key: str) -> Location:
    """An `auths` key (`https://index.docker.io/v1/`, `registry:5000`, `reg.io/team`) as a
    location: scheme, the `/v1/` or `/v2/` API prefix and trailing slashes dropped."""
    text = key.strip()
    for scheme in ("https://", "http://"):
        if text.lower().startswith(scheme):
            text = text[len(scheme) :]
    host, _, path = text.partition("/")
    path = path.strip("/")
    if path in ("v1", "v2") or path.startswith(("v1/", "v2/")):
        path = path[3:]
    return Location(_hub(host.lower()), path)


def _hub(host: str) -> str:
    return DOCKER_HUB if host in HUB_ALIASES else host


def matches(key: Location, image: Location) -> bool:
    """The kubelet's `URLsMatch`: same number of host labels, each matching (globs allowed in
    the key), ports equal (both absent or the same), the key's path a prefix of the image's
    path by whole components."""
    key_host, _, key_port = key.host.partition(":")
    image_host, _, image_port = image.host.partition(":")
    if key_port != image_port:
        return False
    key_labels, image_labels = key_host.split("."), image_host.split(".")
    if len(key_labels) != len(image_labels):
        return False
    if not all(fnmatch.fnmatchcase(i, k) for k, i in zip(key_labels, image_labels, strict=True)):
        return False
    return not key.path or image.path == key.path or image.path.startswith(f"{key.path}/")


def candidates(
    credentials: tuple[RegistryCredential, ...], image: str
) -> tuple[RegistryCredential, ...]:
    """The logins to try for `image`, most specific key first (the kubelet sorts keys in
    reverse order: a longer path before its prefix); among equal keys, in the pod's order of
    `imagePullSecrets`. Empty: pull without credentials."""
    where = image_location(image)
    found = [c for c in credentials if matches(registry_key(c.registry), where)]
    ordered = sorted(enumerate(found), key=lambda item: _specificity(item[1], item[0]))
    return tuple(credential for _, credential in ordered)


def _specificity(credential: RegistryCredential, index: int) -> tuple[int, int, int]:
    key = registry_key(credential.registry)
    path_parts = len(key.path.split("/")) if key.path else 0
    return (-path_parts, int("*" in key.host), index)
