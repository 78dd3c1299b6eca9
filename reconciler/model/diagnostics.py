"""Diagnostics as data: what is wrong in a manifest, where (file:line:column and field path),
and what to do about it. Produced by `reconciler.manifests`; shown by `reconciler validate`, the
daemon's status and its logs. Messages never contain Secret values.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Code(enum.StrEnum):
    """A stable name for each kind of mistake, for machines (`-o json`) and tests."""

    IO_ERROR = "io-error"
    FILE_TOO_LARGE = "file-too-large"
    BINARY_FILE = "binary-file"
    NOT_UTF8 = "not-utf8"
    SYMLINK_OUTSIDE = "symlink-outside-repository"
    NOT_A_FILE = "not-a-regular-file"
    EMPTY_FILE = "empty-file"
    YAML_SYNTAX = "yaml-syntax"
    YAML_TAB = "yaml-tab-indentation"
    YAML_DUPLICATE_KEY = "yaml-duplicate-key"
    YAML_AMBIGUOUS = "yaml-ambiguous-scalar"
    YAML_TAG = "yaml-unsupported-tag"
    YAML_ALIAS = "yaml-alias"
    YAML_TOO_DEEP = "yaml-too-deep"
    YAML_TOO_LARGE = "yaml-too-many-nodes"
    YAML_KEY = "yaml-invalid-key"
    NOT_A_MAPPING = "document-not-a-mapping"
    MISSING_TYPE = "missing-kind-or-apiversion"
    UNKNOWN_KIND = "unknown-kind"
    UNSUPPORTED_KIND = "unsupported-kind"
    UNKNOWN_FIELD = "unknown-field"
    UNSUPPORTED_FIELD = "unsupported-field"
    REQUIRED_FIELD = "required-field"
    WRONG_TYPE = "wrong-type"
    INVALID_VALUE = "invalid-value"
    INVALID_NAME = "invalid-name"
    INVALID_QUANTITY = "invalid-quantity"
    DUPLICATE_OBJECT = "duplicate-object"
    SELECTOR_MISMATCH = "selector-mismatch"
    MISSING_REFERENCE = "missing-reference"
    HOST_PORT_CLASH = "host-port-clash"
    DUPLICATE_NAME = "duplicate-name"
    TOO_MANY_ERRORS = "too-many-errors"
    SOPS = "sops-decryption-failed"  # an encrypted Secret that cannot be decrypted or verified
    NOT_BUILT = "not-built-yet"  # a warning: accepted, but has no effect on hosts yet
    IGNORED_FIELD = "ignored-field"  # a warning: accepted and ignored (as Kubernetes does)
    IMMUTABLE_FIELD = "immutable-field"  # a warning: a change here has no effect once applied
    PRIVILEGED_PORT = "privileged-port"  # a warning: bound only where the host allows it
    SHARED_PORT = "shared-service-port"  # a warning: bound on each cluster IP only


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One finding. `file` is relative to the repository root; line and column are 1-based
    (1:1 when the finding concerns the whole file); `path` is the field path, "" if none."""

    file: str
    line: int
    column: int
    path: str
    message: str
    hint: str = ""
    code: Code = Code.INVALID_VALUE
    severity: Severity = Severity.ERROR

    def location(self, prefix: str = "") -> str:
        name = f"{prefix.rstrip('/')}/{self.file}" if prefix and prefix != "." else self.file
        if self.line <= 0:
            return name
        return f"{name}:{self.line}:{self.column}"

    def format(self, prefix: str = "") -> str:
        """One compiler-style line: `file:line:col: error: field: message`."""
        where = f"{self.path}: " if self.path else ""
        return f"{self.location(prefix)}: {self.severity}: {where}{self.message}"

    def as_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "severity": str(self.severity),
            "code": str(self.code),
            "message": self.message,
            "hint": self.hint,
        }
