"""ConfigMaps and Secrets as one pod's resolution sees them (its namespace only), and the error
that resolution raises. Shared by `env` and `volumes`, which `resolve` calls for each pod.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.model import base, diagnostics, objects


class ResolveError(Exception):
    """A desired pod that cannot become a podman pod. `path` is the field path in the pod spec;
    the message never contains a secret value."""

    def __init__(
        self,
        path: str,
        message: str,
        hint: str = "",
        code: diagnostics.Code = diagnostics.Code.INVALID_VALUE,
    ) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message
        self.hint = hint
        self.code = code


@dataclass(frozen=True)
class Sources:
    """Lookups of the ConfigMaps and Secrets a pod may reference: those of its own namespace."""

    desired: objects.DesiredState
    namespace: str

    def config_map(self, name: str) -> objects.ConfigMap | None:
        found = self.desired.get(base.ObjectKey(base.Kind.CONFIG_MAP, self.namespace, name))
        return found if isinstance(found, objects.ConfigMap) else None

    def secret(self, name: str) -> objects.Secret | None:
        found = self.desired.get(base.ObjectKey(base.Kind.SECRET, self.namespace, name))
        return found if isinstance(found, objects.Secret) else None

    def has_claim(self, name: str) -> bool:
        key = base.ObjectKey(base.Kind.PERSISTENT_VOLUME_CLAIM, self.namespace, name)
        return self.desired.get(key) is not None

    def missing(self, path: str, kind: base.Kind, name: str) -> ResolveError:
        return ResolveError(
            path,
            f"{kind} {name!r} not found in namespace {self.namespace!r}",
            f"declare the {kind} in the repository, or mark the reference `optional: true`",
            diagnostics.Code.MISSING_REFERENCE,
        )

    def missing_key(self, path: str, kind: base.Kind, name: str, key: str) -> ResolveError:
        return ResolveError(
            path,
            f"{kind} {self.namespace}/{name} has no key {key!r}",
            f"add the key to the {kind}, or mark the reference `optional: true`",
            diagnostics.Code.MISSING_REFERENCE,
        )
