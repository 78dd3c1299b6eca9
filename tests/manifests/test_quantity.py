"""Kubernetes quantities: parsing to exact millicores and bytes, and helpful errors."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.model import quantity


@pytest.mark.parametrize(
    ("text", "millicores"),
    [
        ("500m", 500),
        ("1", 1000),
        (2, 2000),
        (0.5, 500),
        ("1.5", 1500),
        ("2k", 2_000_000),
        ("1e-3", 1),
        ("0", 0),
        ("100000000n", 100),
    ],
)
def test_cpu(text: object, millicores: int) -> None:
    assert quantity.cpu_millicores(text) == millicores


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("128Mi", 128 * 2**20),
        ("1Gi", 2**30),
        ("1G", 10**9),
        ("64", 64),
        ("1.5Ki", 1536),
        ("2e3", 2000),
        (1024, 1024),
        ("1Ei", 2**60),
    ],
)
def test_memory(text: object, size: int) -> None:
    assert quantity.memory_bytes(text) == size


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("100x", "invalid"),
        ("-1", "negative"),
        ("Mi", "invalid"),
        ("", "invalid"),
        ("1e99", "exponent"),
        ("1.2.3", "invalid"),
        (True, "string or a number"),
        ("0.0001", "millicore"),
    ],
)
def test_bad_cpu(text: object, word: str) -> None:
    with pytest.raises(quantity.QuantityError) as caught:
        quantity.cpu_millicores(text)
    assert word in caught.value.message
    assert caught.value.hint


def test_memory_in_milli_suggests_mebibytes() -> None:
    with pytest.raises(quantity.QuantityError) as caught:
        quantity.memory_bytes("512m")
    assert '"512Mi"' in caught.value.hint


@given(st.integers(min_value=0, max_value=2**50))
def test_format_bytes_round_trips(size: int) -> None:
    assert quantity.memory_bytes(quantity.format_bytes(size)) == size


@given(st.integers(min_value=0, max_value=10**9))
def test_format_millicores_round_trips(millicores: int) -> None:
    assert quantity.cpu_millicores(quantity.format_millicores(millicores)) == millicores


@given(st.text(max_size=80))
def test_parse_never_raises_anything_else(text: str) -> None:
    with contextlib.suppress(quantity.QuantityError):
        quantity.parse(text)
