"""`securityContext` of pods and containers: the supported fields (for `subset`), their checks
(`privileged: true` and what rootless Podman cannot honour are refused with the reason), and
their model (`security.SecurityContext`). Called by `podchecks` and `build`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from reconciler.model import diagnostics as dg
from reconciler.model import security

if TYPE_CHECKING:  # `subset` reads the field lists below and `checking` imports `subset`
    from reconciler.manifests import checking
    from reconciler.manifests import positions as pos

CAPABILITY = re.compile(r"^(?:CAP_)?[A-Z][A-Z_]*[A-Z]$|^ALL$")

Doc = dict[str, Any]


def check(
    checker: checking.Checker, path: pos.Path, context: Doc | None, pod: Doc | None
) -> None:
    """One container's `securityContext` at `path` (None: unset), with its pod's context."""
    own = context or {}
    pod = pod or {}
    if own.get("privileged") is True:
        checker.error(
            (*path, "privileged"),
            dg.Code.UNSUPPORTED_FIELD,
            "privileged: true is refused: a rootless Podman container cannot get the host's "
            "devices and privileges, and running it anyway would hide that",
            "remove privileged, or add only the capabilities it needs (capabilities.add)",
        )
    uid = own.get("runAsUser", pod.get("runAsUser"))
    gid = own.get("runAsGroup", pod.get("runAsGroup"))
    non_root = own.get("runAsNonRoot", pod.get("runAsNonRoot"))
    if gid is not None and uid is None:
        where = (*path, "runAsGroup") if "runAsGroup" in own else path
        checker.error(
            where,
            dg.Code.INVALID_VALUE,
            "runAsGroup needs runAsUser here: Podman sets the group only together with a user",
            "add runAsUser (in the container's or the pod's securityContext)",
        )
    if non_root is True and uid == 0:
        checker.error(
            (*path, "runAsUser") if "runAsUser" in own else path,
            dg.Code.INVALID_VALUE,
            "runAsUser 0 (root) contradicts runAsNonRoot: true",
            "use a non-zero uid",
        )
    capabilities = own.get("capabilities") or {}
    for field in ("add", "drop"):
        for index, name in enumerate(capabilities.get(field) or []):
            if not CAPABILITY.match(name.upper()):  # any case, as containerd and Podman read it
                checker.error(
                    (*path, "capabilities", field, index),
                    dg.Code.INVALID_VALUE,
                    f"{name!r} is not a capability name",
                    "write it as Linux names it, in capitals without CAP_: NET_BIND_SERVICE",
                )
    profile = (own.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
    if profile not in (None, "RuntimeDefault"):
        checker.error(
            (*path, "seccompProfile", "type") if "seccompProfile" in own else path,
            dg.Code.UNSUPPORTED_FIELD,
            f"seccompProfile {profile} is not supported: only RuntimeDefault (Podman's default "
            "profile)",
            "use type: RuntimeDefault, or remove seccompProfile",
        )


def build(context: Doc | None) -> security.SecurityContext | None:
    if not context:
        return None
    capabilities = context.get("capabilities") or {}
    return security.SecurityContext(
        run_as_user=context.get("runAsUser"),
        run_as_group=context.get("runAsGroup"),
        run_as_non_root=context.get("runAsNonRoot"),
        read_only_root_filesystem=context.get("readOnlyRootFilesystem"),
        allow_privilege_escalation=context.get("allowPrivilegeEscalation"),
        capabilities_add=tuple(capabilities.get("add") or ()),
        capabilities_drop=tuple(capabilities.get("drop") or ()),
        fs_group=context.get("fsGroup"),  # pod only (`podgroups`)
        supplemental_groups=tuple(context.get("supplementalGroups") or ()),
    )
