"""schemas/: reproducible from the copy script, valid JSON Schemas, and the subset never accepts
what upstream Kubernetes' strict schema refuses (property test over generated manifests)."""

from __future__ import annotations

import filecmp
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.manifests import schemas, sops, subset, yamldocs
from reconciler.model import base
from tests.manifests.conftest import EXAMPLES, ROOT, UpstreamCheck


def test_copy_script_reproduces_schemas_and_docs(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "copy_schemas.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    comparison = filecmp.dircmp(ROOT / "schemas", tmp_path / "schemas")
    differences: list[str] = []

    def collect(cmp: filecmp.dircmp[str], prefix: str) -> None:
        differences.extend(
            f"{prefix}{name}" for name in cmp.diff_files + cmp.left_only + cmp.right_only
        )
        for name, sub in cmp.subdirs.items():
            collect(sub, f"{prefix}{name}/")

    collect(comparison, "schemas/")
    assert differences == [], "run scripts/copy_schemas.py and commit the result"
    generated = (tmp_path / "docs" / "manifests.md").read_text()
    assert generated == (ROOT / "docs" / "manifests.md").read_text(), (
        "the field table in docs/manifests.md is stale: run scripts/copy_schemas.py"
    )


def test_schema_files_are_valid_json_schemas() -> None:
    files = sorted((ROOT / "schemas").rglob("*.json"))
    assert len(files) == 25
    for path in files:
        document = json.loads(path.read_text())
        if path.name != "kinds.json":
            jsonschema.Draft202012Validator.check_schema(document)


def test_subset_schemas_layer_on_upstream() -> None:
    for kind in subset.KINDS:
        document = json.loads((ROOT / "schemas" / "subset" / kind.schema_file).read_text())
        if kind.upstream is None:
            assert document["properties"]["apiVersion"]["const"] == "reconciler.dev/v1alpha1"
            continue
        upstream_ref, restrictions = document["allOf"]
        assert upstream_ref == {"$ref": f"../upstream/v1.37.0/{kind.upstream}"}
        assert restrictions["additionalProperties"] is False


def test_docs_table_lists_every_supported_field() -> None:
    docs = (ROOT / "docs" / "manifests.md").read_text()
    for kind in subset.KINDS:
        for path, _ in subset.walk(kind.fields):
            if path not in ("apiVersion", "kind"):
                assert f"| {kind.kind} | `{path}` |" in docs


def test_example_repository_passes_upstream_strict(upstream_errors: UpstreamCheck) -> None:
    checked = 0
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        values = [d.value for d in yamldocs.read_file(path, path.name).documents]
        if sops.is_encrypted(values[0]):  # checked as it is applied: decrypted
            sops.decrypt_file(values, sops.load_identities(sops.key_file(None)))
        for value in values:
            assert isinstance(value, dict)
            if value["kind"] != "Host":
                assert upstream_errors(value) == [], path
                checked += 1
    assert checked == 8


# --- property: subset accepts => upstream strict accepts -------------------------------------

_NAMES = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)
_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(_NAMES, _NAMES, max_size=2),
)


def _value(field: subset.F, depth: int = 0) -> st.SearchStrategy[Any]:
    """Mostly well-typed values for a supported field, sometimes anything at all."""
    typed: st.SearchStrategy[Any]
    if field.enum:
        typed = st.sampled_from(field.enum)
    elif field.type is subset.T.STRING:
        typed = _NAMES if field.name in ("name", "key", "secretName") else st.text(max_size=8)
    elif field.type is subset.T.INTEGER:
        low = field.minimum if field.minimum is not None else -3
        high = field.maximum if field.maximum is not None else 100
        typed = st.integers(low - 1, high + 1)
    elif field.type is subset.T.BOOLEAN:
        typed = st.booleans()
    elif field.type is subset.T.MAP:
        typed = st.dictionaries(_NAMES, _NAMES, max_size=2)
    elif field.type is subset.T.QUANTITY:
        typed = st.one_of(st.sampled_from(["100m", "1", "64Mi", "1.5Gi"]), st.integers(0, 4))
    elif field.type is subset.T.INT_OR_STRING:
        typed = st.one_of(st.integers(0, 3), st.sampled_from(["25%", "http"]))
    elif field.type is subset.T.OBJECT:
        typed = _object(field.fields, depth + 1)
    elif field.fields:
        typed = st.lists(_object(field.fields, depth + 1), min_size=1, max_size=2)
    else:
        typed = st.lists(st.text(max_size=5), max_size=3)
    return st.one_of(typed, _ANY) if depth > 1 else typed


def _object(fields: tuple[subset.F, ...], depth: int) -> st.SearchStrategy[dict[str, Any]]:
    required = {f.name: _value(f, depth) for f in fields if f.required}
    optional = {f.name: _value(f, depth) for f in fields if not f.required}
    extra = st.dictionaries(
        st.sampled_from(["affinity", "hostNetwork", "foo", "status"]), _ANY, max_size=1
    )
    return st.builds(
        lambda base_, more: {**more, **base_},
        st.fixed_dictionaries(required, optional=optional),
        st.one_of(st.just({}), st.just({}), extra),
    )


def _document(kind: subset.KindSubset) -> st.SearchStrategy[dict[str, Any]]:
    fields = tuple(f for f in kind.fields if f.name not in ("apiVersion", "kind"))
    return _object(fields, 0).map(
        lambda body: {**body, "apiVersion": kind.kind.api_version, "kind": str(kind.kind)}
    )


_KUBERNETES_KINDS = [k for k in subset.KINDS if k.upstream is not None]
_accepted: dict[str, int] = {}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_KUBERNETES_KINDS).flatmap(_document))
def test_subset_accepts_only_what_upstream_accepts(
    upstream_errors: UpstreamCheck, document: dict[str, Any]
) -> None:
    schema_set = schemas.load()
    kind = base.Kind(document["kind"])
    if list(schema_set.iter_errors(kind, document)):
        return
    _accepted[document["kind"]] = _accepted.get(document["kind"], 0) + 1
    assert upstream_errors(document) == []


def test_property_test_reaches_accepted_documents() -> None:
    """Guards the property above against vacuity: its generator does produce accepted input."""
    schema_set = schemas.load()
    strategy = st.sampled_from(_KUBERNETES_KINDS).flatmap(_document)
    accepted = 0

    @settings(max_examples=60, deadline=None, database=None)
    @given(strategy)
    def count(document: dict[str, Any]) -> None:
        nonlocal accepted
        if not list(schema_set.iter_errors(base.Kind(document["kind"]), document)):
            accepted += 1

    count()
    assert accepted >= 5


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(list(subset.KINDS)).flatmap(_document))
def test_fast_check_agrees_with_jsonschema(document: dict[str, Any]) -> None:
    schema_set = schemas.load()
    kind = base.Kind(document["kind"])
    fast = schema_set.fast[kind]
    assert fast is not None
    assert fast(document) == (not list(schema_set.validators[kind].iter_errors(document)))
