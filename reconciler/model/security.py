"""Security settings of a container (Kubernetes `securityContext`, pod- and container-level) and
the effective settings podman runs it with. Built by `manifests.securitycontext`; merged per
container by `plan.resolve`; mapped to the container create body by `executor.podmanspec`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SecurityContext:
    """The fields of a `securityContext` this project implements; None/() when unset. The pod's
    context holds only the pod-level fields (user, group, non-root)."""

    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    read_only_root_filesystem: bool | None = None
    allow_privilege_escalation: bool | None = None
    capabilities_add: tuple[str, ...] = ()
    capabilities_drop: tuple[str, ...] = ()
    fs_group: int | None = None
    """Pod only: a supplementary group of every container, owning the pod's writable volumes."""
    supplemental_groups: tuple[int, ...] = ()
    """Pod only: more supplementary groups of every container."""


@dataclass(frozen=True)
class Effective:
    """What podman is asked for, for one container: `user` is `uid` or `uid:gid` ("" keeps the
    image's USER; validation refuses a group without a user); capabilities are `CAP_*` names or
    `ALL`."""

    user: str = ""
    read_only_root: bool = False
    no_new_privileges: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    groups: tuple[int, ...] = ()
    """Supplementary groups (`groups` of the SpecGenerator): the pod's fsGroup, then its
    supplementalGroups, each once."""
    verify_non_root: bool = False
    """runAsNonRoot without a user: the image's USER is checked on the host before the create
    (as the kubelet does; `executor.nonroot.check`)."""


def effective(pod: SecurityContext | None, container: SecurityContext | None) -> Effective:
    """The container's fields win over the pod's, as in Kubernetes."""
    pod = pod or SecurityContext()
    own = container or SecurityContext()
    uid = own.run_as_user if own.run_as_user is not None else pod.run_as_user
    gid = own.run_as_group if own.run_as_group is not None else pod.run_as_group
    user = ""
    if uid is not None:
        user = f"{uid}:{gid}" if gid is not None else str(uid)
    non_root = own.run_as_non_root if own.run_as_non_root is not None else pod.run_as_non_root
    return Effective(
        user=user,
        verify_non_root=bool(non_root) and uid is None,
        read_only_root=bool(own.read_only_root_filesystem),
        no_new_privileges=own.allow_privilege_escalation is False,
        cap_add=tuple(_cap(name) for name in own.capabilities_add),
        cap_drop=tuple(_cap(name) for name in own.capabilities_drop),
        groups=groups(pod),
    )


def groups(pod: SecurityContext | None) -> tuple[int, ...]:
    """The pod's supplementary groups: fsGroup first, then supplementalGroups, without repeats."""
    if pod is None:
        return ()
    listed = (pod.fs_group,) if pod.fs_group is not None else ()
    return tuple(dict.fromkeys((*listed, *pod.supplemental_groups)))


def _cap(name: str) -> str:
    upper = name.upper()
    if upper == "ALL" or upper.startswith("CAP_"):
        return upper
    return f"CAP_{upper}"
