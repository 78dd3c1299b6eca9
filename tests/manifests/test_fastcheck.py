"""The compiled yes/no schema check agrees with jsonschema on the keywords it supports."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.manifests import fastcheck

SCHEMAS: list[dict[str, Any]] = [
    {"type": "integer"},
    {"type": ["string", "null"]},
    {"type": "number", "minimum": 0, "maximum": 10},
    {"enum": ["a", 1, True, None]},
    {"const": 1},
    {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "additionalProperties": False,
        "required": ["a"],
    },
    {"properties": {"a": {"type": "integer"}}, "additionalProperties": {"type": "boolean"}},
    {"items": {"oneOf": [{"type": "string"}, {"type": "number"}]}},
    {"allOf": [{"type": "array"}, {"items": {"enum": [1, 2]}}]},
    {"anyOf": [{"type": "boolean"}, {"const": "x"}]},
]

VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-3, 12),
        st.floats(-3, 12),
        st.sampled_from(["a", "x", ""]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["a", "b"]), inner, max_size=2)
    ),
    max_leaves=6,
)


@pytest.mark.parametrize("schema", SCHEMAS, ids=",".join)
@given(instance=VALUES)
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # a busy machine is slow
def test_agrees_with_jsonschema(schema: dict[str, Any], instance: Any) -> None:
    expected = jsonschema.Draft202012Validator(schema).is_valid(instance)
    assert fastcheck.compile_schema(schema)(instance) == expected


def test_booleans_are_not_integers_and_whole_floats_are() -> None:
    check = fastcheck.compile_schema({"type": "integer"})
    assert not check(True)
    assert check(3.0)
    assert not check(3.5)


def test_unsupported_keyword_is_refused() -> None:
    with pytest.raises(fastcheck.UnsupportedSchemaError):
        fastcheck.compile_schema({"patternProperties": {"^a": {}}})
