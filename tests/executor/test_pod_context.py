"""`hostops.pod_context`: a failed Podman call gets the pod's context and a hint that fits it: a
taken name is a name conflict, a taken port (Podman answers 409 for it too) a port conflict."""

from __future__ import annotations

import pytest

from reconciler.executor import errors, hostops


def _raised(detail: str, status: int) -> str:
    with pytest.raises(errors.PodmanRequestFailed) as caught, hostops.pod_context("h2", "ns_p"):
        raise errors.OperationFailed("start pod", detail, status)
    return str(caught.value)


def test_a_taken_port_is_a_port_conflict_not_a_name_conflict() -> None:
    text = _raised("rootlessport listen tcp 0.0.0.0:42002: bind: address already in use", 409)
    assert "a port conflict" in text and "name conflict" not in text


def test_a_taken_name_is_a_name_conflict() -> None:
    text = _raised("the pod name ns_p is already in use by 1234", 409)
    assert "a name conflict" in text


def test_other_failures_carry_no_hint() -> None:
    text = _raised("no such image", 500)
    assert "conflict" not in text and "no such image" in text
