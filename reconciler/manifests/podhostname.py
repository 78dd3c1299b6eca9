"""A pod's `spec.hostname` and `spec.subdomain`, checked as the Kubernetes API server checks them
(each a DNS-1123 label); a subdomain naming a headless Service that selects the pod makes
`hostname.subdomain.ns.svc.cluster.local` resolve in every pod (`plan.headless`). Called by
`podchecks`; `build` carries both into the `PodSpec`, `executor.podmanspec` gives them to Podman.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # `checking` imports `subset`, which this module must not need
    from reconciler.manifests import checking
    from reconciler.manifests import positions as pos

Doc = dict[str, Any]
CLUSTER_DOMAIN = "cluster.local"  # as `plan.discovery` (manifests sit below plan)


def fqdn(hostname: str, subdomain: str, namespace: str) -> str:
    """The pod's fully qualified name in Kubernetes: `hostname.subdomain.ns.svc.cluster.local`."""
    return f"{hostname}.{subdomain}.{namespace}.svc.{CLUSTER_DOMAIN}"


def check(checker: checking.Checker, path: pos.Path, spec: Doc) -> None:
    hostname = spec.get("hostname")
    if isinstance(hostname, str) and hostname:
        checker.name((*path, "hostname"), hostname, label=True, what="hostname")
    subdomain = spec.get("subdomain")
    if not isinstance(subdomain, str) or not subdomain:
        return
    checker.name((*path, "subdomain"), subdomain, label=True, what="subdomain")
