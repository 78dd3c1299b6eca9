"""Pure reading of Podman's event log into a pod's `PodEvent`s, for `describe`.

`hostops.events` asks the libpod API twice: for the pod's own events (`pod_filter`) and for its
containers' (`container_filter`), and hands both answers here. Podman 4.3 ORs the values of one
filter key and ANDs the keys, and pod events carry no labels: hence two calls, with the
container events checked here against the pod's namespace as well as its name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.executor import podmanspec
from reconciler.model import hoststate

HIDDEN = frozenset({"init", "cleanup", "mount", "unmount", "sync", "attach"})
"""Podman's own housekeeping around every start and stop: not shown."""

_DECODER = json.JSONDecoder()


def pod_filter(pod: hoststate.ObservedPod) -> dict[str, list[str]]:
    """Events of the podman pod by name (earlier pods of the same name included)."""
    return {"pod": [podmanspec.pod_name(pod.namespace, pod.name)]}


def container_filter(pod: hoststate.ObservedPod) -> dict[str, list[str]]:
    """Events of containers labelled with the pod's name (any namespace: see `events`)."""
    return {"label": [f"{hoststate.LABEL_NAME}={pod.name}"]}


def decode(text: str) -> list[dict[str, Any]]:
    """The JSON objects of a non-streamed events answer (concatenated or one per line).

    Podman reports a failure (a bad filter, an unreadable log) inside a 200 answer as an
    object with `message` and `response`: that, or anything but objects, is a ValueError.
    """
    found: list[dict[str, Any]] = []
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index == len(text):
            return found
        item, index = _DECODER.raw_decode(text, index)
        if not isinstance(item, dict):
            raise ValueError(f"expected an event object, got {type(item).__name__}")
        if "Type" not in item and "message" in item:
            raise ValueError(str(item["message"]))
        found.append(item)


def _attributes(entry: Mapping[str, Any]) -> dict[str, str]:
    actor = entry.get("Actor")
    raw = actor.get("Attributes") if isinstance(actor, dict) else None
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def _exit_code(action: str, attributes: Mapping[str, str]) -> int | None:
    raw = attributes.get("containerExitCode", "")
    if action != "died" or not raw.lstrip("-").isdigit():
        return None
    return int(raw)


def _time(entry: Mapping[str, Any]) -> float:
    nanos = entry.get("timeNano")
    if isinstance(nanos, int) and nanos > 0:
        return nanos / 1e9
    seconds = entry.get("time")
    return float(seconds) if isinstance(seconds, int | float) else 0.0


def event(pod: hoststate.ObservedPod, entry: Mapping[str, Any]) -> hoststate.PodEvent | None:
    """One log entry as an event of `pod`; None for another pod's, an infra container's or
    housekeeping."""
    action = str(entry.get("status") or entry.get("Action") or "")
    attributes = _attributes(entry)
    kind = str(entry.get("Type", ""))
    if not action or action in HIDDEN:
        return None
    if kind == hoststate.EventObject.POD:
        if attributes.get("name") != podmanspec.pod_name(pod.namespace, pod.name):
            return None
        return hoststate.PodEvent(_time(entry), action, hoststate.EventObject.POD, pod.name)
    container = attributes.get(hoststate.LABEL_CONTAINER, "")
    if (
        kind != hoststate.EventObject.CONTAINER
        or not container  # the infra container has the pod's labels but no container label
        or attributes.get(hoststate.MANAGED_BY) != hoststate.MANAGER
        or attributes.get(hoststate.LABEL_NAMESPACE) != pod.namespace
        or attributes.get(hoststate.LABEL_NAME) != pod.name
    ):
        return None
    return hoststate.PodEvent(
        _time(entry),
        action,
        hoststate.EventObject.CONTAINER,
        container,
        exit_code=_exit_code(action, attributes),
        image=attributes.get("image", ""),
    )


def events(
    pod: hoststate.ObservedPod, entries: Iterable[Mapping[str, Any]]
) -> list[hoststate.PodEvent]:
    """The pod's events among `entries`, oldest first."""
    found = [e for e in (event(pod, entry) for entry in entries) if e is not None]
    return sorted(found, key=lambda e: (e.time, e.kind, e.name, e.action))
