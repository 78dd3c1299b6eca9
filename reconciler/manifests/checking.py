"""The reporting side of the per-object checks: a `Checker` that turns findings at a field path
into positioned diagnostics and collects references, with the checks shared by several kinds
(names, labels, quantities, uniqueness, base64). Used by `checks` and `podchecks`.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reconciler.manifests import positions as pos
from reconciler.manifests import subset, yamldocs
from reconciler.model import base, quantity
from reconciler.model import diagnostics as dg

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
PORT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
LABEL_NAMED_KINDS = (base.Kind.NAMESPACE, base.Kind.SERVICE)

Doc = dict[str, Any]


@dataclass(frozen=True)
class Reference:
    """`source` refers to an object (and maybe one of its keys) that must exist."""

    kind: base.Kind
    namespace: str
    name: str
    key: str
    optional: bool
    file: str
    line: int
    column: int
    path: str
    key_only: bool = False
    """Another reference at the same place names the object: report only a missing key here
    (a volume's `items[].key`), so a missing object is reported once."""


@dataclass
class Result:
    diagnostics: list[dg.Diagnostic] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    warnings: list[dg.Diagnostic] = field(default_factory=list)
    """Findings that do not stop the object from being built (a field accepted and ignored)."""


class Checker:
    def __init__(self, document: yamldocs.Document, namespace: str, redact: bool) -> None:
        self.document = document
        self.doc: Doc = document.value  # type: ignore[assignment]
        self.namespace = namespace
        self.redact = redact
        self.result = Result()

    # --- reporting ---------------------------------------------------------------------------

    def error(
        self, path: pos.Path, code: dg.Code, message: str, hint: str, key: bool = False
    ) -> None:
        line, column = self.document.at(path, key=key)
        self.result.diagnostics.append(
            dg.Diagnostic(
                self.document.file, line, column, pos.format_path(path), message, hint, code
            )
        )

    def warn(self, path: pos.Path, code: dg.Code, message: str, hint: str) -> None:
        line, column = self.document.at(path, key=True)
        self.result.warnings.append(
            dg.Diagnostic(
                self.document.file,
                line,
                column,
                pos.format_path(path),
                message,
                hint,
                code,
                dg.Severity.WARNING,
            )
        )

    def refer(
        self,
        path: pos.Path,
        kind: base.Kind,
        name: str,
        *,
        key: str = "",
        optional: bool = False,
        namespace: str | None = None,
        key_only: bool = False,
    ) -> None:
        line, column = self.document.at(path)
        self.result.references.append(
            Reference(
                kind,
                self.namespace if namespace is None else namespace,
                name,
                key,
                optional,
                self.document.file,
                line,
                column,
                pos.format_path(path),
                key_only,
            )
        )

    # --- shared pieces -----------------------------------------------------------------------

    def name(self, path: pos.Path, value: str, label: bool, what: str = "name") -> None:
        pattern, limit = (DNS_LABEL, 63) if label else (DNS_SUBDOMAIN, 253)
        if len(value) > limit or not pattern.match(value):
            rule = "a DNS-1123 label" if label else "a DNS-1123 subdomain"
            self.error(
                path,
                dg.Code.INVALID_NAME,
                f"{what} {value!r} is not {rule}",
                f"use at most {limit} lowercase letters, digits and '-'"
                + ("" if label else " or '.'")
                + ", starting and ending with a letter "
                "or digit",
            )

    def label_map(
        self,
        path: pos.Path,
        labels: dict[str, Any] | None,
        annotations: bool,
        kind: base.Kind | None = None,
    ) -> None:
        """Keys and values of labels or annotations; `kind` is the object whose metadata holds
        them (None for a Deployment's pod template), for annotations known on some kinds only."""
        for key, value in (labels or {}).items():
            problem = qualified_name_problem(key)
            if problem:
                self.error(
                    (*path, key),
                    dg.Code.INVALID_NAME,
                    f"invalid key {key!r}: {problem}",
                    "keys are [prefix/]name: name of at most 63 letters, digits, "
                    "'-', '_', '.'; prefix a DNS subdomain",
                    key=True,
                )
            elif (
                annotations
                and key.startswith(subset.ANNOTATION_PREFIX)
                and key not in subset.KNOWN_ANNOTATIONS
            ):
                known = ", ".join(sorted(subset.KNOWN_ANNOTATIONS)) or "none yet"
                self.error(
                    (*path, key),
                    dg.Code.UNSUPPORTED_FIELD,
                    f"unknown reconciler annotation {key!r}",
                    f"remove it; known annotations: {known}",
                    key=True,
                )
            elif annotations and key in subset.KNOWN_ANNOTATIONS:
                self._known_annotation(path, key, value, kind)
            if (
                not annotations
                and isinstance(value, str)
                and value
                and (len(value) > 63 or not LABEL_NAME.match(value))
            ):
                self.error(
                    (*path, key),
                    dg.Code.INVALID_VALUE,
                    f"label value {value!r} is not valid",
                    "use at most 63 letters, digits, '-', '_', '.', starting and ending "
                    "with a letter or digit",
                )

    def _known_annotation(
        self, path: pos.Path, key: str, value: Any, kind: base.Kind | None
    ) -> None:
        kinds = subset.KNOWN_ANNOTATIONS[key]
        if kind not in kinds:
            where = " or ".join(f"a {k}'s metadata.annotations" for k in kinds)
            self.error(
                (*path, key),
                dg.Code.UNSUPPORTED_FIELD,
                f"annotation {key!r} is only read on a {' or '.join(kinds)}, not here",
                f"move it to {where}",
                key=True,
            )
            return
        allowed = subset.ANNOTATION_VALUES.get(key)
        if allowed and value not in allowed:
            choices = ", ".join(f'"{v}"' for v in allowed)
            self.error(
                (*path, key),
                dg.Code.INVALID_VALUE,
                f'annotation {key!r} must be one of {choices}, not "{value}"',
                f"write one of {choices}, in quotes",
            )

    def metadata(self, kind: base.Kind) -> None:
        meta = self.doc["metadata"]
        self.name(("metadata", "name"), meta["name"], label=kind in LABEL_NAMED_KINDS)
        if kind.namespaced and meta.get("namespace", "") != "":  # "": default, as kubectl
            self.name(("metadata", "namespace"), meta["namespace"], label=True, what="namespace")
            self.refer(("metadata", "namespace"), base.Kind.NAMESPACE, self.namespace, namespace="")
        self.label_map(("metadata", "labels"), meta.get("labels"), annotations=False)
        self.label_map(
            ("metadata", "annotations"), meta.get("annotations"), annotations=True, kind=kind
        )

    def quantity(self, path: pos.Path, value: Any, parse: Callable[[object], int]) -> int | None:
        try:
            return parse(value)
        except quantity.QuantityError as exc:
            self.error(path, dg.Code.INVALID_QUANTITY, exc.message, exc.hint)
            return None

    def unique(
        self, path: pos.Path, items: list[dict[str, Any]], field_name: str, what: str
    ) -> None:
        seen: dict[Any, int] = {}
        for index, item in enumerate(items):
            value = item.get(field_name)
            if value is None:
                continue
            if value in seen:
                self.error(
                    (*path, index, field_name),
                    dg.Code.DUPLICATE_NAME,
                    f"duplicate {what} {value!r} (also at index {seen[value]})",
                    f"give each {what} a different value",
                )
            else:
                seen[value] = index

    # --- pods ---------------------------------------------------------------------------------

    def ip_address(self, path: pos.Path, value: str) -> None:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            self.error(
                path,
                dg.Code.INVALID_VALUE,
                f"{value!r} is not an IP address",
                "write an IPv4 or IPv6 address",
            )

    def expression_values(self, path: pos.Path, operator: str, values: list[Any]) -> None:
        """A selector expression's values as its operator wants them (`path`: the expression):
        In/NotIn at least one, Exists/DoesNotExist none."""
        if operator in ("In", "NotIn") and not values:
            self.error(
                (*path, "operator"),
                dg.Code.INVALID_VALUE,
                f"operator {operator} needs at least one value",
                "list the label values under values",
            )
        if operator in ("Exists", "DoesNotExist") and values:
            self.error(
                (*path, "values"),
                dg.Code.INVALID_VALUE,
                f"operator {operator} takes no values",
                "remove values, or use operator In",
            )

    def expression_key(self, path: pos.Path, key: str) -> None:
        """A selector expression's label key (`path`: the expression)."""
        problem = qualified_name_problem(key)
        if problem:
            self.error(
                (*path, "key"),
                dg.Code.INVALID_NAME,
                f"invalid label key {key!r}: {problem}",
                "keys are [prefix/]name",
            )

    def data_keys(self, path: pos.Path, data: dict[str, Any] | None) -> None:
        for key in data or {}:
            if len(key) > 253 or not CONFIG_KEY.match(key):
                self.error(
                    (*path, key),
                    dg.Code.INVALID_NAME,
                    f"invalid key {key!r}",
                    "use letters, digits, '-', '_' and '.'",
                    key=True,
                )

    def base64_values(self, path: pos.Path, data: dict[str, Any] | None) -> None:
        for key, value in (data or {}).items():
            if value is None:
                continue
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                self.error(
                    (*path, key),
                    dg.Code.INVALID_VALUE,
                    f"the value of {key!r} is not valid base64",
                    "encode it with `base64 -w0`, or put the plain text under stringData"
                    if self.redact
                    else "encode it with `base64 -w0`",
                )


def qualified_name_problem(key: str) -> str:
    prefix, _, name = key.rpartition("/")
    if "/" in key and not prefix:
        return "empty prefix"
    if prefix and (len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix)):
        return "the prefix is not a DNS subdomain"
    if not name or len(name) > 63 or not LABEL_NAME.match(name):
        return "the name part is not valid"
    return ""
