"""A pod's `spec.hostname` and `spec.subdomain`, checked as the Kubernetes API server checks them
(each a DNS-1123 label), with a warning for what subdomain cannot give here. Called by
`podchecks`; `build` carries both into the `PodSpec`, `executor.podmanspec` gives them to Podman.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reconciler.model import diagnostics as dg

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
    shown = hostname if isinstance(hostname, str) and hostname else "NAME"
    name = fqdn(shown, subdomain, checker.namespace or "default")
    checker.warn(
        (*path, "subdomain"),
        dg.Code.NOT_BUILT,
        f"{name} is the pod's own name only (its /etc/hosts line, what `hostname -f` "
        "prints inside the pod); no other pod resolves it: there is no cluster DNS and no "
        "headless Service here",
        "reach the pod through a Service (its name resolves in every pod of the namespace)",
    )
