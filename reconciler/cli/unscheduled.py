"""`describe pod NAME` of a desired pod that no host can take: plans the end state as `diff`
does (no host is changed) and prints the pod with a FailedScheduling event carrying the
scheduler's reasons, kubectl style (`0/3 hosts: 3 didn't match pod anti-affinity rules`).

Called by `describe` when no host runs a pod of that name.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from reconciler.model import hoststate, objects
from reconciler.plan import pipeline


def describe(
    desired: objects.DesiredState,
    observations: Mapping[str, hoststate.HostObservation],
    name: str,
    namespace: str,
) -> bool:
    """Print every unschedulable desired pod called `name` (in `namespace`, if given); True
    when there was one."""
    planned = pipeline.build_plan(desired, observations, revision="")
    found = False
    for pod, message in sorted(planned.unschedulable_messages().items()):
        pod_namespace, _, pod_name = pod.partition("/")
        if pod_name != name or (namespace and pod_namespace != namespace):
            continue
        found = True
        sys.stdout.write(text(pod_namespace, pod_name, message))
    return found


def text(namespace: str, name: str, message: str) -> str:
    return "\n".join([
        f"Name:         {name}",
        f"Namespace:    {namespace}",
        "Host:         <none>",
        "Status:       Pending (unschedulable)",
        "Events:",
        "  Type     Reason            From       Message",
        "  ----     ------            ----       -------",
        f"  Warning  FailedScheduling  scheduler  {message}",
        "",
    ])  # fmt: skip
