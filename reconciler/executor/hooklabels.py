"""The container labels that let the executor run hooks and init containers from what Podman
lists alone: `LABEL_HOOKS` (a container's postStart/preStop handlers as JSON, with the host port
an httpGet reaches and the pod's grace period) and `LABEL_INIT` (an init container's position).
`podmanspec` writes them at create time; `hookrun`, `initrun` and `observed` read them back,
leniently (a bad label means no hooks).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from reconciler.model import hooks, hoststate

log = logging.getLogger(__name__)

LABEL_HOOKS = f"{hoststate.LABEL_PREFIX}hooks"
LABEL_INIT = f"{hoststate.LABEL_PREFIX}init-container"
"""An init container's position among the pod's init containers (0, 1, ...)."""
LOOPBACK_IPS = frozenset({"", "0.0.0.0", "127.0.0.1"})  # noqa: S104 (compared, never bound)
DEFAULT_GRACE = 30


@dataclass(frozen=True)
class Hook:
    """One hook as the executor runs it: the handler, and where its httpGet port answers on
    the host's 127.0.0.1 (None: not published there)."""

    handler: hooks.Handler
    host_port: int | None = None


@dataclass(frozen=True)
class ContainerHooks:
    post_start: Hook | None = None
    pre_stop: Hook | None = None
    grace_seconds: int = DEFAULT_GRACE


def host_port(run: hoststate.PodRun, container_port: int) -> int | None:
    """Where `container_port` (TCP) answers on the host's 127.0.0.1: its hostPort or the port
    the planner published it on (`PodRun.published_ports`), if any."""
    for port in (*run.ports, *run.published_ports, *run.probe_ports):
        if (
            port.container_port == container_port
            and port.protocol.lower() == "tcp"
            and port.host_ip in LOOPBACK_IPS
        ):
            return port.host_port
    return None


def _handler_data(handler: hooks.Handler, run: hoststate.PodRun) -> dict[str, Any]:
    data: dict[str, Any] = {"action": handler.action.value}
    if handler.action is hooks.HookAction.EXEC:
        data["command"] = list(handler.command)
    elif handler.action is hooks.HookAction.SLEEP:
        data["seconds"] = handler.seconds
    else:
        data.update(port=handler.port, path=handler.path)
        if handler.http_headers:
            data["http_headers"] = [list(pair) for pair in handler.http_headers]
        published = host_port(run, handler.port)
        if published is not None:
            data["host_port"] = published
    return data


def encode(run: hoststate.PodRun, container: hoststate.ContainerRun) -> str:
    """The LABEL_HOOKS value of a container with hooks; "" without any."""
    lifecycle = container.lifecycle
    if lifecycle is None or (lifecycle.post_start is None and lifecycle.pre_stop is None):
        return ""
    data: dict[str, Any] = {"grace": _grace(run)}
    if lifecycle.post_start is not None:
        data[hooks.HookKind.POST_START.value] = _handler_data(lifecycle.post_start, run)
    if lifecycle.pre_stop is not None:
        data[hooks.HookKind.PRE_STOP.value] = _handler_data(lifecycle.pre_stop, run)
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def _grace(run: hoststate.PodRun) -> int:
    grace = run.termination_grace_seconds
    return DEFAULT_GRACE if grace is None else grace


def of_run(run: hoststate.PodRun, container: hoststate.ContainerRun) -> ContainerHooks:
    """The hooks of a container about to be created (the same values as its label)."""
    return decode(encode(run, container), container.name)


def _count(data: dict[str, Any], name: str) -> int:
    value = data.get(name, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} is not a count")
    return value


def _hook(data: Any) -> Hook:
    if not isinstance(data, dict):
        raise ValueError("a hook is not an object")
    action = hooks.HookAction(data["action"])
    handler = hooks.Handler(
        action,
        command=tuple(str(arg) for arg in data.get("command") or ()),
        port=_count(data, "port"),
        path=str(data.get("path", "/")),
        http_headers=tuple((str(k), str(v)) for k, v in data.get("http_headers") or ()),
        seconds=_count(data, "seconds"),
    )
    published = data.get("host_port")
    return Hook(handler, published if isinstance(published, int) and published > 0 else None)


def decode(label: str, container: str) -> ContainerHooks:
    """The hooks of a LABEL_HOOKS value; none for "" or a label not understood (logged)."""
    if not label:
        return ContainerHooks()
    try:
        data = json.loads(label)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        post = data.get(hooks.HookKind.POST_START.value)
        pre = data.get(hooks.HookKind.PRE_STOP.value)
        return ContainerHooks(
            post_start=None if post is None else _hook(post),
            pre_stop=None if pre is None else _hook(pre),
            grace_seconds=_count(data, "grace") if "grace" in data else DEFAULT_GRACE,
        )
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("container %s: hooks label not understood (%s); no hooks run", container, exc)
        return ContainerHooks()


def init_index(labels: dict[str, str]) -> int | None:
    """An init container's position from its labels; None for an app container."""
    raw = labels.get(LABEL_INIT, "")
    return int(raw) if raw.isdigit() else None
