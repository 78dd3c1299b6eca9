"""What the scheduler returns: where each pod goes, and why the rest could go nowhere.

`Placement` is the output of `placement.schedule()` (and of the reference implementation);
the reconcile loop turns its bindings into desired pods and its `Unschedulable` entries into status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Reason(StrEnum):
    """Why a host was filtered out, worded like kube-scheduler.

    Declaration order is the fixed filter order: a host that fails several filters is counted
    under the first. Properties of the host itself come first (it could never take this pod),
    then what other pods occupy (ports, then cpu, then memory), as in kube-scheduler's plugin
    order (NodeUnschedulable, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit).
    """

    HOST_NOT_READY = "host not ready"
    UNTOLERATED_TAINT = "untolerated taint"
    NODE_SELECTOR_MISMATCH = "didn't match Pod's node affinity/selector"  # either of the two
    HOST_PORT_CONFLICT = "host port conflict"
    INSUFFICIENT_CPU = "insufficient cpu"
    INSUFFICIENT_MEMORY = "insufficient memory"
    INSUFFICIENT_EPHEMERAL_STORAGE = "insufficient ephemeral-storage"  # a Host that declares it
    INSUFFICIENT_POD_PORTS = "insufficient pod ports"  # the host's range to publish ports is full
    # Then PodTopologySpread and InterPodAffinity, in kube-scheduler's order and words; within
    # spreading the first failing constraint gives the reason (see `interpod`).
    SPREAD_MISSING_LABEL = "didn't match pod topology spread constraints (missing required label)"
    SPREAD_SKEW = "didn't match pod topology spread constraints"
    POD_AFFINITY = "didn't match pod affinity rules"
    POD_ANTI_AFFINITY = "didn't match pod anti-affinity rules"
    EXISTING_ANTI_AFFINITY = "didn't satisfy existing pods anti-affinity rules"


FILTER_ORDER: tuple[Reason, ...] = tuple(Reason)


@dataclass(frozen=True)
class Unschedulable:
    """A pod no host could take, with how many hosts failed for each reason."""

    pod: str
    hosts: int
    reasons: tuple[tuple[Reason, int], ...]

    @classmethod
    def from_counts(cls, pod: str, hosts: int, counts: Mapping[Reason, int]) -> Unschedulable:
        """Keep the non-zero counts, most frequent first, then by wording."""
        ranked = sorted(
            ((reason, n) for reason, n in counts.items() if n > 0),
            key=lambda item: (-item[1], item[0].value),
        )
        return cls(pod=pod, hosts=hosts, reasons=tuple(ranked))

    @property
    def message(self) -> str:
        """Kubernetes style: `0/3 hosts: 2 insufficient memory, 1 untolerated taint`."""
        if self.hosts == 0:
            return "0/0 hosts: no hosts"
        detail = ", ".join(f"{n} {reason.value}" for reason, n in self.reasons)
        return f"0/{self.hosts} hosts: {detail}"


@dataclass(frozen=True)
class Placement:
    """The scheduler's answer for one reconcile.

    `bindings` maps every placed pod key ("namespace/name") to its host name: pods kept on their
    ready host as well as newly placed or moved ones. `unschedulable` lists the others, sorted by
    pod key. Every input pod appears in exactly one of the two.
    """

    bindings: Mapping[str, str]
    unschedulable: tuple[Unschedulable, ...]

    def host_of(self, pod: str) -> str | None:
        return self.bindings.get(pod)

    def messages(self) -> dict[str, str]:
        """Pod key -> unschedulable message, for status and the CLI."""
        return {entry.pod: entry.message for entry in self.unschedulable}
