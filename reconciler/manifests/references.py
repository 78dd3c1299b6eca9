"""Cross-object checks over the whole repository: duplicate objects (errors), and references to
ConfigMaps, Secrets (and their keys), claims, Deployments and Namespaces that nothing declares.

A missing object is a warning, not an error: the Kubernetes API server accepts an object that
refers to one that does not exist yet, and the pod waits (`CreateContainerConfigError`, or
`Pending` for a claim) until it is declared. Each warning says what waits; `validate --strict`
fails on it. Runs in `loader` after every document was checked on its own.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from reconciler.manifests import checking
from reconciler.model import base
from reconciler.model import diagnostics as dg

IMPLICIT_NAMESPACES = frozenset({base.DEFAULT_NAMESPACE})
"""Namespaces that exist without being declared, as in Kubernetes."""


@dataclass(frozen=True)
class Declared:
    """An object some document declares (valid or not), where, and its data keys if known."""

    key: base.ObjectKey
    file: str
    line: int
    column: int
    path: str
    data_keys: frozenset[str] | None = None


def check(
    declared: Iterable[Declared], references: Iterable[checking.Reference], *, resolve: bool = True
) -> list[dg.Diagnostic]:
    """Duplicates always; references only when `resolve` (every file could be read, so a
    missing object really is missing)."""
    found: list[dg.Diagnostic] = []
    first: dict[base.ObjectKey, Declared] = {}
    for item in declared:
        earlier = first.get(item.key)
        if earlier is None:
            first[item.key] = item
            continue
        found.append(
            dg.Diagnostic(
                item.file,
                item.line,
                item.column,
                item.path,
                f"duplicate {item.key.kind} {_name(item.key)} (first declared at "
                f"{earlier.file}:{earlier.line})",
                "rename one of them or remove the duplicate",
                dg.Code.DUPLICATE_OBJECT,
            )
        )
    if resolve:
        found += [d for ref in references if (d := _resolve(ref, first)) is not None]
    return found


def _resolve(
    ref: checking.Reference, known: dict[base.ObjectKey, Declared]
) -> dg.Diagnostic | None:
    if ref.optional:
        return None
    if ref.kind is base.Kind.NAMESPACE and ref.name in IMPLICIT_NAMESPACES:
        return None
    key = base.ObjectKey(ref.kind, ref.namespace, ref.name)
    target = known.get(key)
    if target is None and ref.key_only:
        return None  # the reference to the object itself says it is missing
    if target is None:
        same_kind = sorted(
            k.name for k in known if k.kind is ref.kind and k.namespace == ref.namespace
        )
        close = difflib.get_close_matches(ref.name, same_kind, n=1)
        where = f" in namespace {ref.namespace}" if ref.namespace else ""
        hint = (
            f'did you mean "{close[0]}"?'
            if close
            else f"declare the {ref.kind}{where}, or fix the name"
        )
        if ref.kind is base.Kind.NAMESPACE:
            hint = f"add a Namespace named {ref.name!r} to the repository" if not close else hint
        return dg.Diagnostic(
            ref.file,
            ref.line,
            ref.column,
            ref.path,
            f"{ref.kind} {_name(key)} does not exist: {consequence(ref)}",
            hint,
            dg.Code.MISSING_REFERENCE,
            dg.Severity.WARNING,
        )
    if ref.key and target.data_keys is not None and ref.key not in target.data_keys:
        keys = ", ".join(sorted(target.data_keys)) or "none"
        return dg.Diagnostic(
            ref.file,
            ref.line,
            ref.column,
            ref.path,
            f"{ref.kind} {_name(key)} has no key {ref.key!r}: "
            + consequence(ref, "the key is added"),
            f"use one of its keys ({keys}), or mark the reference optional",
            dg.Code.MISSING_REFERENCE,
            dg.Severity.WARNING,
        )
    return None


def consequence(ref: checking.Reference, until: str = "it is declared") -> str:
    """What happens on the hosts while the object `ref` names is missing (as in Kubernetes)."""
    if ref.kind is base.Kind.NAMESPACE:
        return "its objects run in it anyway (a Namespace need not be declared here)"
    if ref.kind is base.Kind.DEPLOYMENT:
        return f"the autoscaler does nothing until {until}"
    if ref.kind is base.Kind.PERSISTENT_VOLUME_CLAIM:
        return f"the pods that mount it wait (Pending) until {until}"
    if "imagePullSecrets" in ref.path:
        return "images are pulled without it, as the kubelet does"
    return (
        f"the pods that use it are not created (CreateContainerConfigError) until {until}; "
        "pods already running keep running"
    )


def _name(key: base.ObjectKey) -> str:
    return f"{key.namespace}/{key.name}" if key.namespace else key.name
