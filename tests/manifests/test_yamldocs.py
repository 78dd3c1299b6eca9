"""The YAML reader: positions, YAML 1.1 ambiguities, duplicate keys, tags, aliases, nulls."""

from __future__ import annotations

import pytest

from reconciler.manifests import yamldocs
from reconciler.model import diagnostics as dg


def _parse(text: str) -> yamldocs.ParsedFile:
    return yamldocs.parse_text(text, "f.yaml")


def test_positions_of_values_and_keys() -> None:
    parsed = _parse("a:\n  b:\n    - x\n    - {c: 2}\n")
    document = parsed.documents[0]
    assert document.value == {"a": {"b": ["x", {"c": 2}]}}
    assert document.at(("a", "b", 1, "c")) == (4, 11)
    assert document.at(("a", "b", 1, "c"), key=True) == (4, 8)
    assert document.at(("a", "b", 0)) == (3, 7)
    # a path that leaves the document falls back to the nearest known ancestor
    assert document.at(("a", "b", 7, "zz")) == (3, 5)  # where the list under b starts


@pytest.mark.parametrize("newline", ["\x85", "\u2028", "\u2029"])
def test_unicode_line_breaks_do_not_shift_lines(newline: str) -> None:
    """YAML counts NEL and the Unicode separators as line breaks; editors do not, so positions
    are counted in '\n' lines (a fuzzed file once got an error on a line past its end)."""
    parsed = _parse(f"# x{newline}\na: 1\nb: {{c: 2}}\n")
    assert parsed.documents[0].at(("b", "c")) == (3, 8)
    broken = _parse(f"{newline}# x\na: 1\nb: [\n")
    (error,) = broken.diagnostics
    assert (error.line, error.column) == (4, 1)  # the end of the file: line 4 of 3 + 1


def test_multi_document_files_skip_empty_documents() -> None:
    parsed = _parse("---\na: 1\n---\n# nothing\n---\nb: 2\n...\n")
    assert [d.value for d in parsed.documents] == [{"a": 1}, {"b": 2}]
    assert [d.line for d in parsed.documents] == [2, 6]
    assert not parsed.diagnostics


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1),
        ("-3", -3),
        ("0", 0),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("0x1F", 31),
        ("true", True),
        ("False", False),
        ("~", None),
        ("null", None),
        ("abc", "abc"),
        ("'yes'", "yes"),
        ('"010"', "010"),
        ("500m", "500m"),
        ("1.2.3", "1.2.3"),
    ],
)
def test_scalars_resolve_like_json(text: str, value: object) -> None:
    parsed = _parse(f"v: {text}\nk: 1\n")
    assert not parsed.diagnostics
    assert parsed.documents[0].value.get("v") == value  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "text", ["yes", "No", "ON", "off", "y", "n", "010", "0644", "0o17", "0b101", "1_000", "1:30"]
)
def test_yaml11_ambiguous_scalars_are_flagged(text: str) -> None:
    parsed = _parse(f"value: {text}\n")
    [diagnostic] = parsed.diagnostics
    assert diagnostic.code is dg.Code.YAML_AMBIGUOUS
    assert (diagnostic.line, diagnostic.column) == (1, 8)
    assert diagnostic.path == "value"
    assert "YAML 1.1" in diagnostic.message
    assert f'"{text}"' in diagnostic.hint


def test_ambiguous_key_is_flagged() -> None:
    parsed = _parse("on: push\n")
    assert [d.code for d in parsed.diagnostics] == [dg.Code.YAML_AMBIGUOUS]


def test_quoted_ambiguous_scalars_are_fine() -> None:
    parsed = _parse("a: 'yes'\nb: \"0644\"\nc: |\n  on\n")
    assert not parsed.diagnostics
    assert parsed.documents[0].value == {"a": "yes", "b": "0644", "c": "on\n"}


def test_duplicate_key_keeps_first_and_reports_second() -> None:
    parsed = _parse("a: 1\nb: 2\na: 3\n")
    [diagnostic] = parsed.diagnostics
    assert diagnostic.code is dg.Code.YAML_DUPLICATE_KEY
    assert (diagnostic.line, diagnostic.column) == (3, 1)
    assert "line 1" in diagnostic.message
    assert parsed.documents[0].value == {"a": 1, "b": 2}


def test_null_values_mean_unset() -> None:
    parsed = _parse("a: null\nb:\nc: 1\n")
    assert parsed.documents[0].value == {"c": 1}
    assert parsed.documents[0].at(("b",)) == (2, 3)


def test_aliases_share_values() -> None:
    parsed = _parse("a: &x {k: v}\nb: *x\n")
    value = parsed.documents[0].value
    assert value == {"a": {"k": "v"}, "b": {"k": "v"}}


def test_undefined_alias_drops_the_document() -> None:
    parsed = _parse("a: *nope\n---\nb: 1\n")
    assert [d.code for d in parsed.diagnostics] == [dg.Code.YAML_ALIAS]
    assert [d.value for d in parsed.documents] == [{"b": 1}]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("a: !!binary aGk=\n", dg.Code.YAML_TAG),
        ("a: !!int x\n", dg.Code.YAML_TAG),
        ("a: !mine {}\n", dg.Code.YAML_TAG),
        ("<<: {a: 1}\n", dg.Code.YAML_KEY),
        ("? [a]\n: 1\n", dg.Code.YAML_KEY),
        ("null: 1\n", dg.Code.YAML_KEY),
    ],
)
def test_unsupported_yaml_features(text: str, code: dg.Code) -> None:
    parsed = _parse(text)
    assert [d.code for d in parsed.diagnostics] == [code]


def test_explicit_standard_tags() -> None:
    parsed = _parse("a: !!str 5\nb: !!float 1\nc: !!int '7'\n")
    assert parsed.documents[0].value == {"a": "5", "b": 1.0, "c": 7}


def test_secret_values_are_not_quoted_in_yaml_diagnostics() -> None:
    parsed = _parse("kind: Secret\nstringData:\n  token: yes\n")
    [diagnostic] = parsed.diagnostics
    assert "yes" not in diagnostic.message + diagnostic.hint


def test_errors_per_file_are_capped() -> None:
    text = "".join(f"k{i}: yes\n" for i in range(200))
    parsed = yamldocs.parse_text(text, "f.yaml", yamldocs.Limits(max_errors_per_file=10))
    assert len(parsed.diagnostics) == 11
    assert parsed.diagnostics[-1].code is dg.Code.TOO_MANY_ERRORS


_DEEP = """\
spec:
  template:
    spec:
      containers:
        - name: a
        - name: b
          env:
            - name: X
              value: {value}
"""
_DEEP_PATH = "spec.template.spec.containers[1].env[0].value"


@pytest.mark.parametrize(
    ("value", "code", "path"),
    [
        ("yes", dg.Code.YAML_AMBIGUOUS, _DEEP_PATH),
        ("1:30", dg.Code.YAML_AMBIGUOUS, _DEEP_PATH),
        ("!!binary aGk=", dg.Code.YAML_TAG, _DEEP_PATH),
        ("!!int abc", dg.Code.YAML_TAG, _DEEP_PATH),
        ("!custom {a: 1}", dg.Code.YAML_TAG, _DEEP_PATH),
        ("{a: 1, a: 2}", dg.Code.YAML_DUPLICATE_KEY, _DEEP_PATH + ".a"),
        ("{<<: {a: 1}}", dg.Code.YAML_KEY, _DEEP_PATH + '["<<"]'),
        ("{yes: 1}", dg.Code.YAML_AMBIGUOUS, _DEEP_PATH + ".yes"),
        ("{true: 1}", dg.Code.YAML_KEY, _DEEP_PATH + ".true"),
        ("{010: 1}", dg.Code.YAML_AMBIGUOUS, _DEEP_PATH + '["010"]'),
        ("{!!str a: 1, !custom b: 2}", dg.Code.YAML_TAG, _DEEP_PATH + ".b"),
        ("{[a]: 1}", dg.Code.YAML_KEY, _DEEP_PATH),
        ("*nowhere", dg.Code.YAML_ALIAS, _DEEP_PATH),
        ("[ok, yes]", dg.Code.YAML_AMBIGUOUS, _DEEP_PATH + "[1]"),
        ("[[x], [y, on]]", dg.Code.YAML_AMBIGUOUS, _DEEP_PATH + "[1][1]"),
    ],
)
def test_yaml_level_errors_carry_the_full_field_path(value: str, code: dg.Code, path: str) -> None:
    """Each YAML-level finding names the field it is in, with every parent key and the right list
    indexes (parents were dropped and indexes one too high when a finding sat inside a nested
    container)."""
    parsed = _parse(_DEEP.format(value=value))
    found = [(d.code, d.path) for d in parsed.diagnostics]
    assert (code, path) in found, found
    assert all(d.line == 9 for d in parsed.diagnostics)


def test_yaml_level_error_after_a_discarded_key_keeps_its_path() -> None:
    parsed = _parse("a:\n  b: 1\n  b:\n    c: yes\n")
    assert [(d.code, d.path) for d in parsed.diagnostics] == [
        (dg.Code.YAML_DUPLICATE_KEY, "a.b"),
        (dg.Code.YAML_AMBIGUOUS, "a.b.c"),
    ]
