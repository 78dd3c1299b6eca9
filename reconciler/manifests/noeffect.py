"""Fields the Kubernetes API accepts that have no effect here, accepted with a warning that says
why (as a `status` block is): a pod's service account (no API server: no token is mounted), a
container's termination message (nothing reads it), a Deployment's revision history (no
ReplicaSets are kept). Called by `podchecks` (pod specs) and `checks` (Deployments).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reconciler.model import diagnostics as dg

if TYPE_CHECKING:  # `checking` imports `subset`; this module is called from the checks only
    from reconciler.manifests import checking
    from reconciler.manifests import positions as pos

Doc = dict[str, Any]


@dataclass(frozen=True)
class NoEffect:
    """A field accepted without effect: why it does nothing here, and what to do instead."""

    field: str
    why: str
    hint: str
    honoured: object = None
    """A value that does here what it asks for (no warning), or None."""


_NO_API = (
    "reconciler runs no Kubernetes API server, so no service account token is mounted in the "
    "pod (/var/run/secrets/kubernetes.io/serviceaccount does not exist)"
)
_API_HINT = (
    "remove it; a program that calls the Kubernetes API from inside the pod will not find one"
)
POD: tuple[NoEffect, ...] = (
    NoEffect("serviceAccountName", _NO_API, _API_HINT),
    NoEffect("serviceAccount", _NO_API, _API_HINT),
    NoEffect(
        "automountServiceAccountToken",
        _NO_API,
        "remove it, or set it to false (which is what happens here)",
        honoured=False,
    ),
)
_NO_MESSAGE = (
    "no termination message is read: `get pods` and `describe pod` show a container's exit code "
    "and reason, not the file it writes"
)
CONTAINER: tuple[NoEffect, ...] = (
    NoEffect("terminationMessagePath", _NO_MESSAGE, "remove it; read the container's logs"),
    NoEffect("terminationMessagePolicy", _NO_MESSAGE, "remove it; read the container's logs"),
)
DEPLOYMENT: tuple[NoEffect, ...] = (
    NoEffect(
        "revisionHistoryLimit",
        "no old ReplicaSets are kept here (there is no `rollout undo`): a Deployment's history "
        "is its repository's",
        "remove it; to roll back, revert the commit (or annotate the Deployment "
        '`reconciler.dev/rollback-on-failure: "true"`)',
    ),
)


def warn(checker: checking.Checker, path: pos.Path, doc: Doc, fields: tuple[NoEffect, ...]) -> None:
    """A warning for each of `fields` present in the object `doc` at `path`."""
    for item in fields:
        if item.field not in doc:
            continue
        if item.honoured is not None and doc[item.field] == item.honoured:
            continue
        checker.warn(
            (*path, item.field),
            dg.Code.IGNORED_FIELD,
            f"{item.field} has no effect: {item.why}",
            item.hint,
        )


POD_SECURITY: tuple[NoEffect, ...] = (
    NoEffect(
        "fsGroupChangePolicy",
        "whatever it says, only a volume's top directory is given to the fsGroup here (files "
        "created there inherit the group; files already in a claim keep theirs)",
        "remove it",
    ),
)


def pod_spec(checker: checking.Checker, path: pos.Path, spec: Doc) -> None:
    """The pod spec at `path` and its containers and init containers."""
    warn(checker, path, spec, POD)
    context = spec.get("securityContext")
    if isinstance(context, dict):
        warn(checker, (*path, "securityContext"), context, POD_SECURITY)
    for group in ("initContainers", "containers"):
        for index, container in enumerate(spec.get(group) or []):
            if isinstance(container, dict):
                warn(checker, (*path, group, index), container, CONTAINER)


def deployment(checker: checking.Checker, spec: Doc) -> None:
    """A Deployment's `spec`."""
    warn(checker, ("spec",), spec, DEPLOYMENT)
