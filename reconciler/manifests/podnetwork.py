"""Name resolution in a pod: `hostAliases` (extra /etc/hosts lines) and `dnsPolicy`, checked and
built. Called by `podchecks` and `build`; the lines reach Podman as the pod's `hostadd`
(`plan.podrun` puts them in the `PodRun`, `executor.podmanspec` writes them).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from reconciler.model import diagnostics as dg

if TYPE_CHECKING:  # `checking` imports `subset`, which this module must not need
    from reconciler.manifests import checking
    from reconciler.manifests import positions as pos

Doc = dict[str, Any]
DNS_POLICIES = ("ClusterFirst", "ClusterFirstWithHostNet", "Default")
"""All three mean the same here: other names resolve through the host's resolver (Podman copies
its resolv.conf), Service names through the pod's /etc/hosts lines."""


def check(checker: checking.Checker, path: pos.Path, spec: Doc) -> None:
    policy = spec.get("dnsPolicy")
    if policy is not None and policy not in DNS_POLICIES:
        checker.error(
            (*path, "dnsPolicy"),
            dg.Code.UNSUPPORTED_FIELD,
            f"dnsPolicy {policy} is not supported: it needs dnsConfig, which reconciler does not "
            f"implement (supported: {', '.join(DNS_POLICIES)})",
            "remove dnsPolicy (ClusterFirst, the default), or add hostAliases for fixed names",
        )
    for index, alias in enumerate(spec.get("hostAliases") or []):
        where = (*path, "hostAliases", index)
        try:
            ipaddress.ip_address(alias["ip"])
        except ValueError:
            checker.error(
                (*where, "ip"),
                dg.Code.INVALID_VALUE,
                f"{alias['ip']!r} is not an IP address",
                "write an IPv4 or IPv6 address (an /etc/hosts line needs one)",
            )
        for position, name in enumerate(alias.get("hostnames") or []):
            checker.name((*where, "hostnames", position), name, label=False, what="hostname")


def host_aliases(spec: Doc) -> tuple[tuple[str, str], ...]:
    """(hostname, ip) pairs in manifest order, as Podman's `hostadd` takes them."""
    return tuple(
        (name, alias["ip"])
        for alias in spec.get("hostAliases") or []
        for name in alias.get("hostnames") or []
    )
