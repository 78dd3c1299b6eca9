"""Unschedulable messages: Kubernetes wording, counts sorted by count then wording."""

from __future__ import annotations

from reconciler.scheduler.result import FILTER_ORDER, Reason, Unschedulable


def test_message_sorts_by_count_then_wording_and_drops_zeros() -> None:
    entry = Unschedulable.from_counts(
        "ns/p",
        5,
        {
            Reason.UNTOLERATED_TAINT: 1,
            Reason.INSUFFICIENT_MEMORY: 2,
            Reason.HOST_NOT_READY: 0,
            Reason.HOST_PORT_CONFLICT: 1,
            Reason.INSUFFICIENT_CPU: 1,
        },
    )
    assert entry.message == (
        "0/5 hosts: 2 insufficient memory, 1 host port conflict, 1 insufficient cpu, "
        "1 untolerated taint"
    )


def test_message_matches_the_spec_example() -> None:
    entry = Unschedulable.from_counts(
        "ns/p", 3, {Reason.UNTOLERATED_TAINT: 1, Reason.INSUFFICIENT_MEMORY: 2}
    )
    assert entry.message == "0/3 hosts: 2 insufficient memory, 1 untolerated taint"


def test_no_hosts_message() -> None:
    assert Unschedulable.from_counts("ns/p", 0, {}).message == "0/0 hosts: no hosts"


def test_filter_order_is_host_properties_then_occupancy() -> None:
    assert FILTER_ORDER == (
        Reason.HOST_NOT_READY,
        Reason.UNTOLERATED_TAINT,
        Reason.NODE_SELECTOR_MISMATCH,
        Reason.HOST_PORT_CONFLICT,
        Reason.INSUFFICIENT_CPU,
        Reason.INSUFFICIENT_MEMORY,
        Reason.INSUFFICIENT_EPHEMERAL_STORAGE,
        Reason.INSUFFICIENT_POD_PORTS,
        Reason.SPREAD_MISSING_LABEL,
        Reason.SPREAD_SKEW,
        Reason.POD_AFFINITY,
        Reason.POD_ANTI_AFFINITY,
        Reason.EXISTING_ANTI_AFFINITY,
    )
    assert [reason.value for reason in FILTER_ORDER] == [
        "host not ready",
        "untolerated taint",
        "didn't match Pod's node affinity/selector",
        "host port conflict",
        "insufficient cpu",
        "insufficient memory",
        "insufficient ephemeral-storage",
        "insufficient pod ports",
        "didn't match pod topology spread constraints (missing required label)",
        "didn't match pod topology spread constraints",
        "didn't match pod affinity rules",
        "didn't match pod anti-affinity rules",
        "didn't satisfy existing pods anti-affinity rules",
    ]
