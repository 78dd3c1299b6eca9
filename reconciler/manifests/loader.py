"""Load a repository's manifests into the typed desired state, with every problem as a diagnostic.

The entry point of `reconciler.manifests`: `load_repository(path)`. Stages: discovery ->
yamldocs (parse) -> kind dispatch -> schemas (+ schema_errors) -> checks -> build -> references.
The daemon applies a revision only when `LoadResult.ok`; `reconciler validate` prints the rest.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.manifests import autoscalers as hpadocs
from reconciler.manifests import (
    build,
    checking,
    checks,
    claimchecks,
    discovery,
    loadcache,
    placementchecks,
    references,
    schema_errors,
    schemas,
    servicechecks,
    sops,
    sopsformat,
    toolfiles,
    yamldocs,
)
from reconciler.model import base, clusterips, errors, objects
from reconciler.model import diagnostics as dg

Limits = yamldocs.Limits
SERVICE_CIDR_ENV = "RECONCILER_SERVICE_CIDR"  # the CLI sets it from its settings
DEFAULT_LIMITS = yamldocs.DEFAULT_LIMITS


class RepositoryError(errors.StalledError):
    """The repository path cannot be used at all (missing, not a directory): a usage error."""


@dataclass(frozen=True)
class LoadResult:
    root: Path
    state: objects.DesiredState
    """The objects of every document that is valid on its own; use it only when `ok`."""
    diagnostics: tuple[dg.Diagnostic, ...]
    files: tuple[str, ...]
    documents: int

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> tuple[dg.Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity is dg.Severity.ERROR)


def load_repository(
    root: Path | str,
    *,
    limits: yamldocs.Limits = DEFAULT_LIMITS,
    schema_set: schemas.SchemaSet | None = None,
    age_key_file: Path | None = None,
    service_cidr: str | None = None,
    cache: loadcache.LoadCache | None = None,
) -> LoadResult:
    """Load and validate every manifest under `root`. Problems in the manifests are returned as
    diagnostics, never raised; only an unusable `root` raises `RepositoryError`. SOPS-encrypted
    Secrets are decrypted with `age_key_file`, else $SOPS_AGE_KEY_FILE (read when first needed).
    Services get their cluster IPs from `service_cidr`, else $RECONCILER_SERVICE_CIDR, else
    `clusterips.DEFAULT_CIDR` (a bad CIDR raises RepositoryError). With a `cache`, a file
    the last load read with the same path and content is not read again (the same result)."""
    given = Path(root)
    if not given.exists():
        raise RepositoryError(f"{given}: no such directory")
    if not given.is_dir():
        raise RepositoryError(f"{given}: not a directory")
    try:
        cidr = clusterips.network(
            service_cidr or os.environ.get(SERVICE_CIDR_ENV) or clusterips.DEFAULT_CIDR
        )
    except clusterips.CidrError as exc:
        raise RepositoryError(str(exc)) from exc
    run = _Run(given.resolve(), limits, schema_set or schemas.load(), cidr, cache=cache)
    run.age_key_file = sops.key_file(age_key_file)
    if cache is not None:
        cache.begin(run.limits, run.schemas)
    loaded = run.load()
    if cache is not None:
        cache.end()
    return loaded


@dataclass
class _Run:
    root: Path
    limits: yamldocs.Limits
    schemas: schemas.SchemaSet
    cidr: clusterips.Network
    diagnostics: list[dg.Diagnostic] = field(default_factory=list)
    objects: list[objects.Object] = field(default_factory=list)
    declared: list[references.Declared] = field(default_factory=list)
    references: list[checking.Reference] = field(default_factory=list)
    placed: list[servicechecks.Placed] = field(default_factory=list)
    documents: int = 0
    age_key_file: Path | None = None
    _age_keys: sops.Identities | None = None
    cache: loadcache.LoadCache | None = None
    _encrypted: bool = False  # the file being read is SOPS-encrypted (never cached)

    def load(self) -> LoadResult:
        files, problems = discovery.find(self.root)
        self.diagnostics += problems
        complete = not problems
        for manifest in files:
            complete = self._cached_file(manifest) and complete
        self.diagnostics += references.check(self.declared, self.references, resolve=complete)
        self.diagnostics += hpadocs.across(self.objects)
        self.diagnostics += claimchecks.across(self.objects)
        if complete:
            self.diagnostics += servicechecks.check(self.placed, self.cidr)
            self.diagnostics += placementchecks.across(self.placed)
        self.diagnostics.sort(key=lambda d: (d.file, d.line, d.column, d.path, d.message))
        return LoadResult(
            root=self.root,
            state=objects.DesiredState.of(clusterips.assign(self.objects, self.cidr)),
            diagnostics=tuple(self.diagnostics),
            files=tuple(f.rel for f in files),
            documents=self.documents,
        )

    def _cached_file(self, manifest: discovery.ManifestFile) -> bool:
        """`_file`, or what it gave the last load for the same path and content."""
        if self.cache is None:
            return self._file(manifest)
        key = loadcache.key_of(manifest.path, manifest.rel, self.limits)
        if (part := self.cache.get(key)) is not None:
            self.documents += part.documents
            for name in loadcache.PARTS:
                getattr(self, name).extend(getattr(part, name))
            return part.complete
        documents, marks = self.documents, {n: len(getattr(self, n)) for n in loadcache.PARTS}
        self._encrypted = False
        complete = self._file(manifest)  # sets `_encrypted` for a SOPS-encrypted file
        if not self._encrypted:
            lists = [tuple(getattr(self, n)[m:]) for n, m in marks.items()]
            self.cache.put(key, loadcache.FilePart(complete, self.documents - documents, *lists))
        return complete

    def _file(self, manifest: discovery.ManifestFile) -> bool:
        """Read, parse and check one file; False when it cannot be parsed at all."""
        parsed = yamldocs.read_file(manifest.path, manifest.rel, self.limits)
        self.diagnostics += parsed.diagnostics
        if parsed.fatal:
            return False
        yaml_marks = {(d.line, d.column) for d in parsed.diagnostics}
        start = len(self.diagnostics)
        if not self._decrypt(parsed.documents):
            self.documents += len(parsed.documents)
            return True
        for document in parsed.documents:
            self.documents += 1
            self._document(document, yaml_marks)
        self._cap(start, manifest.rel)
        return True

    def _document(self, document: yamldocs.Document, yaml_marks: set[tuple[int, int]]) -> None:
        value = document.value
        if not isinstance(value, dict):
            shape = "a list" if isinstance(value, list) else "a single value"
            self._error(
                document,
                (),
                dg.Code.NOT_A_MAPPING,
                f"a manifest must be a mapping with apiVersion and kind, found {shape}",
                "write one object per YAML document, separated by ---",
            )
            return
        kind = self._kind(document, value)
        if kind is None:
            return
        redact = kind is base.Kind.SECRET
        found = schema_errors.translate(
            self.schemas.iter_errors(kind, value),
            document,
            has_upstream=kind in self.schemas.upstream,
            redact=redact,
        )
        namespace = _namespace(kind, value)
        if found:
            # a value the YAML reader already flagged (e.g. ambiguous `yes`) is reported once
            self.diagnostics += [d for d in found if (d.line, d.column) not in yaml_marks]
            self._declare(kind, document, value, namespace)
            return
        result = checks.check(kind, document, namespace)
        self.references += result.references
        self.diagnostics += result.warnings  # shown next to errors too
        if result.diagnostics:
            self.diagnostics += result.diagnostics
            self._declare(kind, document, value, namespace)
            return
        source = base.SourceRef(document.file, document.line)
        obj = build.build(kind, value, namespace, source)
        self.objects.append(obj)
        self.placed.append((obj, document))
        if kind in NOT_BUILT:
            line, column = document.at(("kind",))
            self.diagnostics.append(dg.Diagnostic(
                document.file, line, column, "kind", NOT_BUILT[kind],
                "keep it for when it is built, or remove it", dg.Code.NOT_BUILT,
                dg.Severity.WARNING,
            ))  # fmt: skip
        data_keys = obj.keys() if isinstance(obj, objects.ConfigMap | objects.Secret) else None
        self._declare(kind, document, value, namespace, data_keys)

    def _decrypt(self, documents: list[yamldocs.Document]) -> bool:
        """Decrypt a SOPS-encrypted file in place (see `sops`); False when it cannot be, with the
        error reported and its objects declared (so references to them add no noise)."""
        values = [d.value for d in documents]
        self._encrypted = any(sops.is_encrypted(v) for v in values)
        if not self._encrypted:
            unreadable = False
            for document in documents:
                found = _ciphertext_in_secret(document.value)
                if found is not None:
                    unreadable = True
                    line, column = document.at(found, key=True)
                    self.diagnostics.append(dg.Diagnostic(
                        document.file, line, column, ".".join(str(p) for p in found),
                        f"this value of the Secret at line {document.line} looks sops-encrypted "
                        "(ENC[...]) but the file has no sops block",
                        "encrypt the whole file with sops; never copy encrypted values between "
                        "files", dg.Code.SOPS,
                    ))  # fmt: skip
            if unreadable:
                for document in documents:
                    self._declare_unread(document)
            return not unreadable
        if self._age_keys is None:
            self._age_keys = sops.load_identities(self.age_key_file)
        try:
            sops.decrypt_file(values, self._age_keys)
        except sopsformat.FormatError as exc:
            document = documents[min(exc.document, len(documents) - 1)]
            line, column = document.at(exc.path, key=True)
            self.diagnostics.append(dg.Diagnostic(
                document.file, line, column, ".".join(str(p) for p in exc.path),
                f"encrypted Secret (document at line {document.line}) refused: {exc.message}",
                exc.hint, dg.Code.SOPS,
            ))  # fmt: skip
            for document in documents:
                self._declare_unread(document)
            return False
        return True

    def _declare_unread(self, document: yamldocs.Document) -> None:
        value = document.value
        if not isinstance(value, dict):
            return
        api_version, kind_name = value.get("apiVersion"), value.get("kind")
        if isinstance(api_version, str) and isinstance(kind_name, str):
            kind = base.Kind.lookup(api_version, kind_name)
            if kind is not None:
                self._declare(kind, document, value, _namespace(kind, value))

    def _cap(self, start: int, rel: str) -> None:
        """Keep at most `max_errors_per_file` diagnostics per file (compilers stop too)."""
        cap = self.limits.max_errors_per_file
        if len(self.diagnostics) - start <= cap:
            return
        shown = self.diagnostics[start:]
        shown.sort(key=lambda d: (d.line, d.column))
        hidden = len(shown) - cap
        del self.diagnostics[start:]
        self.diagnostics += shown[:cap]
        self.diagnostics.append(
            dg.Diagnostic(
                rel,
                shown[cap].line,
                shown[cap].column,
                "",
                f"too many errors in this file; {hidden} more are not shown",
                "fix the errors above first",
                dg.Code.TOO_MANY_ERRORS,
            )
        )

    def _kind(self, document: yamldocs.Document, value: dict[str, Any]) -> base.Kind | None:
        api_version, kind_name = value.get("apiVersion"), value.get("kind")
        for name, given in (("apiVersion", api_version), ("kind", kind_name)):
            if not isinstance(given, str) or not given:
                self._error(
                    document,
                    (name,) if name in value else (),
                    dg.Code.MISSING_TYPE,
                    f"{name} is missing" if given is None else f"{name} must be a string",
                    toolfiles.hint(document.file, value)
                    or "every manifest starts with apiVersion and kind, for example "
                    "apiVersion: v1 and kind: ConfigMap",
                )
                return None
        assert isinstance(api_version, str) and isinstance(kind_name, str)
        kind = base.Kind.lookup(api_version, kind_name)
        if kind is not None:
            return kind
        supported = ", ".join(f"{k.api_version} {k}" for k in base.Kind)
        if kind_name in base.Kind.__members__.values():
            right = base.Kind(kind_name).api_version
            self._error(
                document,
                ("apiVersion",),
                dg.Code.UNKNOWN_KIND,
                f"{kind_name} is served by apiVersion {right}, not {api_version}",
                f"write apiVersion: {right}",
            )
        elif (api_version, kind_name) in self.schemas.upstream_kinds:
            self._error(
                document,
                ("kind",),
                dg.Code.UNSUPPORTED_KIND,
                f"kind {kind_name} ({api_version}) is not supported by reconciler",
                f"supported kinds: {supported}",
            )
        else:
            close = difflib.get_close_matches(kind_name, [str(k) for k in base.Kind], n=1)
            hint = toolfiles.hint(document.file, value) or (
                f'did you mean "{close[0]}"?' if close else f"supported kinds: {supported}"
            )
            self._error(
                document,
                ("kind",),
                dg.Code.UNKNOWN_KIND,
                f"unknown kind {kind_name} in apiVersion {api_version}",
                hint,
            )
        return None

    def _declare(
        self,
        kind: base.Kind,
        document: yamldocs.Document,
        value: dict[str, Any],
        namespace: str,
        data_keys: frozenset[str] | None = None,
    ) -> None:
        """Record a declared object; `data_keys` None (an invalid ConfigMap or Secret) skips
        the key checks of references to it."""
        meta = value.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        if not isinstance(name, str) or not name:
            return
        line, column = document.at(("metadata", "name"))
        self.declared.append(
            references.Declared(
                base.ObjectKey(kind, namespace, name),
                document.file,
                line,
                column,
                "metadata.name",
                data_keys,
            )
        )

    def _error(
        self,
        document: yamldocs.Document,
        path: tuple[str, ...],
        code: dg.Code,
        message: str,
        hint: str,
    ) -> None:
        line, column = document.at(path)
        self.diagnostics.append(
            dg.Diagnostic(document.file, line, column, ".".join(path), message, hint, code)
        )


NOT_BUILT: dict[base.Kind, str] = {}
"""Kinds that validate (the same files must pass upstream Kubernetes) but have no effect on the
hosts yet: each one gets a warning, never silence."""


def _ciphertext_in_secret(value: object) -> tuple[str | int, ...] | None:
    if not isinstance(value, dict) or value.get("kind") != "Secret":
        return None
    for field_name in [f for f in value if f in ("data", "stringData")]:  # in the file's order
        found = sopsformat.looks_encrypted(value.get(field_name), (field_name,))
        if found is not None:
            return found
    return None


def _namespace(kind: base.Kind, value: dict[str, Any]) -> str:
    if not kind.namespaced:
        return ""
    meta = value.get("metadata")
    namespace = meta.get("namespace") if isinstance(meta, dict) else None
    return namespace if isinstance(namespace, str) and namespace else base.DEFAULT_NAMESPACE
