"""The JSON schemas of `schemas/`, loaded once and compiled into validators per kind.

Second stage of `loader`: each document is checked against `schemas/subset/<kind>.json`, which is
`allOf` [upstream Kubernetes strict schema, our restrictions] (or our own Host schema). The `$ref`s
are inlined so validation does no reference lookups. The files are read at load time; each
kind is inlined and compiled on its first use (a repository of Deployments holds no compiled Pod,
Job or CronJob schema, 1.6 MB each). jsonschema (about 7 MB and 0.1 s to import) is compiled per
kind only when `fastcheck` says a document is not valid.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.manifests import fastcheck, subset
from reconciler.model import base

SCHEMAS_ENV = "RECONCILER_SCHEMAS"
"""Overrides where `schemas/` is (default: beside the `reconciler` package, as in a checkout)."""

_DEFINITIONS_REFS = ("/api/_definitions.json#/$defs/", "#/$defs/")
_ANNOTATIONS = frozenset({"$ref", "$schema", "$id", "description", "title", "format", "default"})
"""Keywords dropped when inlining: they assert nothing, and skipping them speeds validation."""
_INTEGER_FORMATS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
"""`format` is not asserted by JSON Schema validators; integer widths become bounds instead."""
_NAMED_SCHEMAS = frozenset({"properties", "patternProperties", "$defs"})
"""Keywords whose keys are names (a property may be called "description"), not keywords."""


class SchemaError(Exception):
    """`schemas/` is missing or broken: an installation problem, not a manifest problem."""


class Validators(Mapping[base.Kind, Any]):
    """Per kind, a jsonschema validator of an inlined schema, compiled on first use."""

    def __init__(self, schemas: Mapping[base.Kind, Any]) -> None:
        self._schemas = schemas
        self._compiled: dict[base.Kind, Any] = {}
        self._lock = threading.Lock()

    def __getitem__(self, kind: base.Kind) -> Any:
        with self._lock:
            if kind not in self._compiled:
                self._compiled[kind] = _compile(self._schemas[kind])
            return self._compiled[kind]

    def __iter__(self) -> Iterator[base.Kind]:
        return iter(self._schemas)

    def __len__(self) -> int:
        return len(self._schemas)

    def __contains__(self, kind: object) -> bool:
        return kind in self._schemas


@dataclass(frozen=True)
class SchemaSet:
    directory: Path
    kubernetes_version: str
    validators: Validators
    """Per kind, a validator of the subset schema (what reconciler accepts)."""
    upstream: Validators
    """Per Kubernetes kind, a validator of the upstream strict schema alone."""
    upstream_kinds: frozenset[tuple[str, str]]
    """Every (apiVersion, kind) of the pinned Kubernetes version."""
    fast: Mapping[base.Kind, fastcheck.Check | None]
    """Per kind, a compiled yes/no check of the subset schema (None: not compilable)."""

    def iter_errors(self, kind: base.Kind, document: object) -> Iterator[Any]:
        """The jsonschema errors of `document` against the subset schema of `kind`."""
        check = self.fast[kind]
        if check is not None and check(document):
            return
        yield from self.validators[kind].iter_errors(document)


def default_directory() -> Path:
    configured = os.environ.get(SCHEMAS_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parent.parent.parent / "schemas"


def load(directory: Path | None = None) -> SchemaSet:
    """Load and compile the schemas of `directory` (default: `default_directory()`), once per
    directory for the life of the process. Raises `SchemaError` when they are missing."""
    return _load(directory or default_directory())


@functools.cache
def _load(root: Path) -> SchemaSet:
    upstream_root = root / "upstream"
    versions = sorted(p.name for p in upstream_root.glob("v*") if p.is_dir())
    if len(versions) != 1:
        raise SchemaError(
            f"expected exactly one pinned Kubernetes version under {upstream_root}, "
            f"found {versions or 'none'}; run scripts/copy_schemas.py"
        )
    version_dir = upstream_root / versions[0]
    definitions_file = version_dir / "_definitions.json"
    files = {kind.kind: root / "subset" / kind.schema_file for kind in subset.KINDS}
    upstream_files = {kind.kind: version_dir / kind.upstream for kind in subset.KINDS
                      if kind.upstream is not None}  # fmt: skip
    for path in [definitions_file, *files.values(), *upstream_files.values()]:
        _read(path)  # a broken installation fails here; read again on the kind's first use
    lock = threading.RLock()

    def inline(kind: base.Kind, path: Path) -> Any:
        return _Inliner(_definitions(definitions_file), files[kind].parent).inline(_read(path))

    inlined = _PerKind(files, lambda kind: inline(kind, files[kind]), lock)
    upstream = _PerKind(upstream_files, lambda kind: inline(kind, upstream_files[kind]), lock)
    fast = _PerKind(files, lambda kind: _fast(inlined[kind]), lock)
    kinds = frozenset((k["apiVersion"], k["kind"]) for k in _read(version_dir / "kinds.json"))
    return SchemaSet(root, versions[0].lstrip("v"), Validators(inlined), Validators(upstream),
                     kinds, fast)  # fmt: skip


class _PerKind(Mapping[base.Kind, Any]):
    """Per kind, `make(kind)` on its first use, kept for the life of the schema set."""

    def __init__(
        self, kinds: Iterable[base.Kind], make: Callable[[base.Kind], Any], lock: threading.RLock
    ) -> None:
        self._kinds = frozenset(kinds)
        self._make = make
        self._lock = lock
        self._made: dict[base.Kind, Any] = {}

    def __getitem__(self, kind: base.Kind) -> Any:
        if kind not in self._kinds:
            raise KeyError(kind)
        with self._lock:
            if kind not in self._made:
                self._made[kind] = self._make(kind)
            return self._made[kind]

    def __iter__(self) -> Iterator[base.Kind]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)

    def __contains__(self, kind: object) -> bool:
        return kind in self._kinds


def _fast(inlined: Any) -> fastcheck.Check | None:
    try:
        return fastcheck.compile_schema(inlined)
    except fastcheck.UnsupportedSchemaError:
        return None


def _compile(schema: Any) -> Any:
    import jsonschema  # type: ignore[import-untyped]  # noqa: PLC0415 (see the docstring)

    return jsonschema.Draft202012Validator(schema)


@functools.cache
def _definitions(path: Path) -> dict[str, Any]:
    """The upstream definitions every kind's schema is inlined from (0.9 MB of Python objects),
    held until `release()`."""
    found: dict[str, Any] = _read(path)["$defs"]
    return found


def release() -> None:
    """Drop the definitions: the kinds inlined so far keep their schemas, a kind first used
    later reads them again (20 ms). The daemon calls it after each sync (`runtime.memory`)."""
    _definitions.cache_clear()


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaError(f"cannot read schema {path}: {exc}") from exc


class _Inliner:
    """Replaces every `$ref` with the schema it names (the definitions have no cycles)."""

    def __init__(self, definitions: dict[str, Any], base_dir: Path) -> None:
        self.definitions = definitions
        self.base_dir = base_dir
        self.cache: dict[str, Any] = {}
        self.active: set[str] = set()

    def inline(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.inline(item) for item in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _ANNOTATIONS or key.startswith("x-"):
                continue
            if key in _NAMED_SCHEMAS and isinstance(value, dict):
                out[key] = {name: self.inline(sub) for name, sub in value.items()}
            else:
                out[key] = self.inline(value)
        bounds = _INTEGER_FORMATS.get(str(node.get("format")))
        if bounds is not None:  # the API server rejects what does not fit, so we do too
            out.setdefault("minimum", bounds[0])
            out.setdefault("maximum", bounds[1])
        ref = node.get("$ref")
        if isinstance(ref, str):
            target = self._resolve(ref)
            out = {**target, **out} if out else target
        return out

    def _resolve(self, ref: str) -> Any:
        if ref in self.cache:
            return self.cache[ref]
        if ref in self.active:
            raise SchemaError(f"cyclic $ref {ref}")
        self.active.add(ref)
        for prefix in _DEFINITIONS_REFS:
            if ref.startswith(prefix):
                name = ref[len(prefix) :]
                if name not in self.definitions:
                    raise SchemaError(f"unknown definition {name}")
                resolved = self.inline(self.definitions[name])
                break
        else:
            resolved = self.inline(_read((self.base_dir / ref).resolve()))
        self.active.discard(ref)
        self.cache[ref] = resolved
        return resolved
