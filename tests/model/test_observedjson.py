"""The observation's JSON (GET /v1/observe) reads back equal to what was written, every field of
every observed value included; a broken document is a FormatError naming where."""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from typing import Any

import pytest

from reconciler.model import base, hoststate, observedjson, workloads

PROBE = hoststate.ContainerProbe(
    hoststate.ProbeKind.READINESS,
    workloads.Probe(workloads.ProbeHandler.HTTP_GET, port=8080, path="/ready",
                    http_headers=(("X-A", "b"),), period_seconds=3, failure_threshold=5),
)  # fmt: skip
CONTAINER = hoststate.ObservedContainer(
    name="web", podman_id="c1", image="img:1", state="exited", exit_code=3, restart_count=2,
    started_at="2026-11-29T10:00:00Z", probes=(PROBE,), ready=False,
    finished_at="2026-11-29T10:01:00Z",
)  # fmt: skip
POD = hoststate.ObservedPod(
    namespace="shop", name="web-1", host="h1", podman_id="p1", spec_hash="abc",
    owner="Deployment/web", revision="r1",
    labels=base.FrozenMap([("z", "1"), (hoststate.LABEL_TEMPLATE_HASH, "t1"), ("a", "2")]),
    phase=hoststate.PodPhase.FAILED, containers=(CONTAINER,),
    created_at="2026-11-29T09:00:00Z", probe_ports=((8080, 40001),), ready=True,
    ready_since=1764400000.5,
)  # fmt: skip
SEEN = hoststate.HostObservation("h1", reachable=False, pods=(POD,), error="host h1: x",
                                 empty=True)  # fmt: skip
TARGET = hoststate.HostTarget("h1", "198.18.0.11", 2222, "rc-h1")


def test_round_trip_through_json_text_is_exact() -> None:
    second = hoststate.HostObservation("h2", reachable=True)
    targets = {"h1": TARGET, "h2": hoststate.HostTarget("h2", "198.18.0.12")}
    text = json.dumps(observedjson.encode({"h1": SEEN, "h2": second}, targets))
    back = observedjson.decode(json.loads(text))
    assert back == [(TARGET, SEEN), (targets["h2"], second)]
    pod = back[0][1].pods[0]
    assert list(pod.labels) == ["z", hoststate.LABEL_TEMPLATE_HASH, "a"]  # order kept
    assert pod.template_hash == "t1" and pod.containers[0].probes == (PROBE,)
    assert type(pod.phase) is hoststate.PodPhase and type(pod.ready_since) is float


def test_unknown_restart_counts_and_readiness_stay_unknown() -> None:
    container = dataclasses.replace(CONTAINER, restart_count=None, ready=None, probes=())
    seen = dataclasses.replace(SEEN, pods=(dataclasses.replace(POD, containers=(container,),
                                                               ready=None),))  # fmt: skip
    back = observedjson.decode(observedjson.encode({"h1": seen}, {"h1": TARGET}))
    assert back == [(TARGET, seen)]


def _types_in(hint: Any, seen: set[Any]) -> None:
    """Every type reachable from `hint` through dataclass fields, tuples and maps."""
    if hint in seen:
        return
    seen.add(hint)
    for arg in typing.get_args(hint):
        if arg is not Ellipsis:
            _types_in(arg, seen)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        for field_hint in typing.get_type_hints(hint).values():
            _types_in(field_hint, seen)


def test_every_type_an_observation_holds_is_one_the_codec_reads() -> None:
    """A field of a new kind (a set, a dict, a datetime) added to the observed values fails
    here, not in a user's `diff` through the daemon."""
    found: set[Any] = set()
    _types_in(hoststate.HostObservation, found)
    _types_in(hoststate.HostTarget, found)
    for hint in found:
        origin = typing.get_origin(hint)
        ok = (
            hint in observedjson.SCALARS or hint is type(None)
            or origin in (tuple, base.FrozenMap, typing.Union, types.UnionType)
            or (isinstance(hint, type) and (dataclasses.is_dataclass(hint)
                                            or issubclass(hint, enum.Enum)))
        )  # fmt: skip
        assert ok, f"observedjson cannot carry {hint!r}"


def _doc() -> list[dict[str, Any]]:
    return observedjson.encode({"h1": SEEN}, {"h1": TARGET})


@pytest.mark.parametrize(
    ("breaks", "says"),
    [
        (lambda d: d[0]["observation"]["pods"][0].pop("spec_hash"), "missing 'spec_hash'"),
        (lambda d: d[0]["observation"].update(reachable="yes"), "reachable: expected bool"),
        (lambda d: d[0]["target"].update(port=True), "port: expected int, got bool"),
        (lambda d: d[0]["observation"]["pods"][0].update(phase="Dancing"), "Dancing"),
        (lambda d: d[0]["observation"].update(host="h9"), "its observation is of 'h9'"),
        (
            lambda d: d[0]["observation"]["pods"][0]["containers"][0].update(restart_count="2"),
            "restart_count: expected int",
        ),
        (lambda d: d[0]["observation"]["pods"][0].update(labels={"a": "b"}), "pairs"),
        (lambda d: d.append(7), "not an object"),
    ],
)
def test_a_broken_document_is_a_format_error_saying_where(breaks: Any, says: str) -> None:
    document = _doc()
    breaks(document)
    with pytest.raises(observedjson.FormatError, match=says):
        observedjson.decode(document)


def test_not_a_list_is_a_format_error() -> None:
    with pytest.raises(observedjson.FormatError, match="not a list"):
        observedjson.decode({"hosts": []})
