"""Property: randomly mutated valid manifests (text edits and structural edits) never make the
loader raise; every problem comes back as a diagnostic with a position inside the file."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.manifests import loader, yamldocs
from reconciler.model import diagnostics as dg
from tests.manifests.conftest import EXAMPLES

_FILES = {
    p.relative_to(EXAMPLES).as_posix(): p.read_text() for p in sorted(EXAMPLES.rglob("*.yaml"))
}
_SNIPPETS = [
    "\t",
    ": ",
    "- ",
    "&a ",
    "*a",
    "!!",
    "yes",
    "010",
    "{",
    "]",
    "'",
    '"',
    "#",
    "---\n",
    "\n  ",
    "<<: ",
    "? ",
    "|\n",
    "~",
    "\x00",
    "\x85",
    "\ufeff",
    "é",
    "1:2",
    "0x",
    "%",
]


def _load(files: dict[str, str]) -> loader.LoadResult:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text, encoding="utf-8", errors="surrogateescape")
        return loader.load_repository(root)


def _assert_well_formed(result: loader.LoadResult, files: dict[str, str]) -> None:
    for diagnostic in result.diagnostics:
        assert isinstance(diagnostic, dg.Diagnostic)
        assert diagnostic.file in files
        assert diagnostic.message
        lines = files[diagnostic.file].count("\n") + 2
        assert 0 <= diagnostic.line <= lines


@st.composite
def _text_edits(draw: st.DrawFn) -> dict[str, str]:
    files = dict(_FILES)
    for _ in range(draw(st.integers(1, 4))):
        rel = draw(st.sampled_from(sorted(files)))
        text = files[rel]
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "duplicate-line", "truncate"]))
        if action == "insert":
            piece = draw(st.one_of(st.sampled_from(_SNIPPETS), st.text(max_size=4)))
            text = text[:at] + piece + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        elif action == "duplicate-line" and text:
            lines = text.splitlines(keepends=True)
            index = draw(st.integers(0, len(lines) - 1))
            lines.insert(index, lines[index])
            text = "".join(lines)
        elif action == "truncate":
            text = text[:at]
        files[rel] = text
    return files


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_text_edits())
def test_text_mutations_never_raise(files: dict[str, str]) -> None:
    _assert_well_formed(_load(files), files)


_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True),
    st.text(max_size=10),
    st.just([]),
    st.just({}),
    st.sampled_from(["500m", "128Mi", "-1", "1e400", "http", "shop", "web"]),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@st.composite
def _structural_edits(draw: st.DrawFn) -> dict[str, str]:
    files = dict(_FILES)
    rel = draw(st.sampled_from(sorted(files)))
    parsed = yamldocs.parse_text(files[rel], rel)
    documents = [d.value for d in parsed.documents]
    for _ in range(draw(st.integers(1, 3))):
        document = draw(st.sampled_from(documents))
        path = draw(st.sampled_from(_paths(document)[1:]))
        parent = document
        for segment in path[:-1]:
            parent = parent[segment]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(_LEAVES)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(["foo", "status", "hostNetwork", "x.y/z"]))] = draw(_LEAVES)
        else:
            parent.append(draw(_LEAVES))
    # JSON is YAML: the edited documents are written back as a multi-document file
    files[rel] = "".join(f"---\n{json.dumps(d)}\n" for d in documents)
    return files


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_structural_edits())
def test_structural_mutations_never_raise(files: dict[str, str]) -> None:
    _assert_well_formed(_load(files), files)
