"""Podman's event log ▶ a pod's `PodEvent`s, on answers captured from Podman 4.3.1."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.executor import podevents
from reconciler.model import hoststate

CASES = Path(__file__).resolve().parent.parent / "cases" / "events"
LIFECYCLE = CASES / "two-containers-one-stopped"
POD = hoststate.ObservedPod("describe-probe", "two", "h1", "c6f1ee6d924c", "v1")
Obj = hoststate.EventObject


def _answer(name: str) -> str:
    return (LIFECYCLE / name).read_text()


def _entries() -> list[dict[str, Any]]:
    return podevents.decode(_answer("pod-events.json")) + podevents.decode(
        _answer("container-events.json")
    )


def test_filters_name_the_podman_pod_and_the_name_label() -> None:
    assert podevents.pod_filter(POD) == {"pod": ["describe-probe_two"]}
    assert podevents.container_filter(POD) == {"label": ["reconciler.dev/name=two"]}


def test_decode_reads_one_object_per_line() -> None:
    entries = podevents.decode(_answer("container-events.json"))
    assert len(entries) == 17
    assert {e["Type"] for e in entries} == {"container"}


def test_decode_reads_concatenated_objects_and_nothing() -> None:
    lines = _answer("pod-events.json").split()
    assert [e["status"] for e in podevents.decode("".join(lines))] == ["create", "start", "remove"]
    assert podevents.decode("") == [] and podevents.decode(" \n") == []


def test_decode_raises_podmans_error_answer() -> None:
    with pytest.raises(ValueError, match="unable to convert since time of garbage"):
        podevents.decode((CASES / "bad-since" / "answer.json").read_text())


@pytest.mark.parametrize("text", ['{"status": "create"', "[1, 2]", "not json"])
def test_decode_refuses_what_is_not_an_event_stream(text: str) -> None:
    with pytest.raises(ValueError):
        podevents.decode(text)


def test_lifecycle_without_housekeeping_or_infra_container_oldest_first() -> None:
    found = podevents.events(POD, _entries())
    assert [(e.action, e.kind, e.name, e.exit_code) for e in found] == [
        ("create", Obj.POD, "two", None),
        ("create", Obj.CONTAINER, "c0", None),
        ("create", Obj.CONTAINER, "c1", None),
        ("start", Obj.CONTAINER, "c1", None),
        ("start", Obj.CONTAINER, "c0", None),
        ("start", Obj.POD, "two", None),
        ("died", Obj.CONTAINER, "c1", 137),  # podman stop: SIGKILL after the timeout
        ("remove", Obj.CONTAINER, "c1", None),
        ("died", Obj.CONTAINER, "c0", 137),
        ("remove", Obj.CONTAINER, "c0", None),
        ("remove", Obj.POD, "two", None),
    ]
    assert found[0].time == pytest.approx(1795452444.825, abs=1e-3)
    assert found[1].image == "198.18.0.1:5000/demo/busybox:latest"
    assert found[0].image == ""


def test_events_of_a_same_named_pod_elsewhere_are_left_out() -> None:
    entries = _entries()
    other = copy.deepcopy(next(e for e in entries if e["Type"] == "container"))
    other["Actor"]["Attributes"]["reconciler.dev/namespace"] = "other"
    other["timeNano"] += 1
    other_pod = {**copy.deepcopy(entries[0]), "Actor": {"Attributes": {"name": "other_two"}}}
    unmanaged = copy.deepcopy(other)
    del unmanaged["Actor"]["Attributes"]["reconciler.dev/managed-by"]
    everything = [*entries, other, other_pod, unmanaged, {"Type": "image", "status": "pull"}]
    assert podevents.events(POD, everything) == podevents.events(POD, entries)


def test_an_entry_with_only_seconds_and_odd_attributes_still_reads() -> None:
    entry = json.loads(_answer("container-events.json").splitlines()[-8])
    assert entry["status"] == "died"
    del entry["timeNano"]
    entry["Actor"]["Attributes"]["containerExitCode"] = "n/a"
    (event,) = podevents.events(POD, [entry])
    assert (event.time, event.exit_code) == (float(entry["time"]), None)
    assert podevents.event(POD, {"Type": "container", "status": "start", "Actor": "x"}) is None
