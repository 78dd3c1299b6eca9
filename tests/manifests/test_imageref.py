"""Image references: what Docker's reference grammar (and so Podman) accepts is accepted, a
reference it refuses is an error at load time (before, a space or an empty tag reached `apply`)."""

from __future__ import annotations

import pytest

from reconciler.manifests import imageref

VALID = (
    "busybox",
    "busybox:1.36",
    "library/busybox:latest",
    "198.18.0.1:5000/demo/busybox:latest",
    "localhost/app",
    "Registry.Example.COM/team/app:V1_2",
    "[fd00::1]:5000/a/b",
    "ghcr.io/org/app.v2__x-y---z:1.0-rc.1",
    "nginx@sha256:" + "0" * 64,
    "quay.io/a/b:tag@sha256:" + "ab" * 32,
)
INVALID = (
    ("198.18.0.1:5000/demo/busy box:latest", "white space"),
    (" busybox", "white space"),
    ("busybox\n", "white space"),
    ("busybox:", "tag ''"),
    ("busybox:.x", "tag '.x'"),
    ("registry.example/Team/app", "lower case"),
    ("Busybox", "lower case"),
    ("a//b", "repository 'a//b'"),
    ("eu.gcr.io/org//backend:1", "repository 'org//backend'"),
    ("app-:1", "repository 'app-'"),
    ("busybox@sha256:abc", "digest"),
    ("-v/x", "repository '-v/x'"),
    (":latest", "no repository name"),
    ("reg_istry.io:5000/app", "registry 'reg_istry.io:5000'"),
    ("a" * 256, "longer than 255"),
)


@pytest.mark.parametrize("image", VALID)
def test_valid_references(image: str) -> None:
    assert imageref.problem(image) == ""


@pytest.mark.parametrize(("image", "reason"), INVALID)
def test_invalid_references(image: str, reason: str) -> None:
    assert reason in imageref.problem(image)
