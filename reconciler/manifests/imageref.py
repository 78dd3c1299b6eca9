"""Image references of containers and init containers, checked by Docker's reference grammar
(`distribution/reference`, which Podman and the kubelet use) when the manifests are loaded, so a
reference Podman would refuse (a space, upper case, an empty tag) is a `file:line` error.

Called by `podchecks` and `initchecks` for every container's `image`.
"""

from __future__ import annotations

import re

from reconciler.manifests import checking
from reconciler.manifests import positions as pos
from reconciler.model import diagnostics as dg

_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_PATH = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
_DOMAIN_RE = re.compile(_DOMAIN)
_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
NAME_LIMIT = 255
"""Docker's limit on the repository name (registry and path, without tag and digest)."""
EXAMPLE = "for example registry.example:5000/team/app:1.0 or busybox@sha256:<64 hex digits>"


def problem(image: str) -> str:
    """Why `image` is not a valid reference, or "" when it is one."""
    if image != image.strip() or any(c.isspace() for c in image):
        return "contains white space"
    rest, at, digest = image.partition("@")
    if at and not _DIGEST.fullmatch(digest):
        return f"digest {digest!r} is not ALGORITHM:HEX (at least 32 hex digits)"
    name, tag = rest, ""
    slash, colon = rest.rfind("/"), rest.rfind(":")
    if colon > slash:
        name, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG.fullmatch(tag):
            return (
                f"tag {tag!r} is not 1-128 letters, digits, '_', '.' or '-' "
                "(not starting with '.' or '-')"
            )
    if not name:
        return "has no repository name"
    if len(name) > NAME_LIMIT:
        return f"repository name is longer than {NAME_LIMIT} characters"
    first, sep, remainder = name.partition("/")
    is_domain = bool(sep) and (
        any(c in first for c in ".:") or first == "localhost" or first != first.lower()
    )
    if is_domain and not _DOMAIN_RE.fullmatch(first):
        return f"registry {first!r} is not a host name or address with an optional :port"
    path = remainder if is_domain else name
    if path != path.lower():
        return "repository names are lower case"
    if not _PATH.fullmatch(path):
        return (
            f"repository {path!r} is not lower-case letters and digits in '/'-separated parts "
            "joined by '.', '_', '__' or '-'"
        )
    return ""


def check(checker: checking.Checker, path: pos.Path, image: str) -> None:
    """Report an empty or malformed `image` at `path`."""
    if not image.strip():
        checker.error(
            path,
            dg.Code.INVALID_VALUE,
            "image is empty",
            "name an image, for example registry.example:5000/app:1.0",
        )
        return
    reason = problem(image)
    if reason:
        checker.error(
            path,
            dg.Code.INVALID_VALUE,
            f"invalid image reference {image!r}: {reason}",
            f"write [REGISTRY[:PORT]/]REPOSITORY[:TAG][@DIGEST], {EXAMPLE}",
        )
