"""Checks and building of a container's `lifecycle` hooks (postStart, preStop): one handler
each, an httpGet port the container declares, what the reconciler cannot run refused with the
reason. Part of the pod spec checks (`podchecks`, through `initchecks.check`); `build` is
called by `manifests.build` for the typed `hooks.Lifecycle`.
"""

from __future__ import annotations

from reconciler.manifests import checking, probechecks
from reconciler.manifests import positions as pos
from reconciler.model import diagnostics as dg
from reconciler.model import hooks

Doc = checking.Doc
HOOKS = (hooks.HookKind.POST_START, hooks.HookKind.PRE_STOP)
ACTIONS = tuple(a.value for a in hooks.HookAction)


def check(checker: checking.Checker, cpath: pos.Path, container: Doc) -> None:
    """The `lifecycle` of one container (`cpath` is the container's path)."""
    lifecycle = container.get("lifecycle")
    if not lifecycle:
        return
    ports: list[Doc] = container.get("ports") or []
    for kind in HOOKS:
        handler = lifecycle.get(kind.value)
        if handler is not None:
            _handler(checker, (*cpath, "lifecycle", kind.value), handler, ports)


def _handler(checker: checking.Checker, path: pos.Path, handler: Doc, ports: list[Doc]) -> None:
    found = [a for a in ACTIONS if handler.get(a) is not None]
    if len(found) != 1:
        what = f"found {', '.join(found)}" if found else "found none"
        checker.error(
            path,
            dg.Code.INVALID_VALUE,
            f"a lifecycle hook needs exactly one of exec, httpGet, sleep ({what})",
            "keep exactly one handler in this hook (tcpSocket is not a hook handler: "
            "Kubernetes deprecated it and never ran it)",
        )
    exec_ = handler.get("exec")
    if exec_ is not None and not exec_["command"]:
        checker.error(
            (*path, "exec", "command"),
            dg.Code.INVALID_VALUE,
            "exec.command is empty",
            'give the program and its arguments, for example ["sh", "-c", "echo started"]',
        )
    http = handler.get("httpGet")
    if http is not None:
        _http_get(checker, (*path, "httpGet"), http, ports)


def _http_get(checker: checking.Checker, path: pos.Path, http: Doc, ports: list[Doc]) -> None:
    if probechecks.resolve_port(ports, http["port"]) is None:
        checker.error(
            (*path, "port"),
            dg.Code.MISSING_REFERENCE,
            f"the hook's port {http['port']!r} is not a TCP port this container declares",
            "add it to this container's ports: the reconciler reaches it where it is "
            "published on the host",
        )
    scheme = http.get("scheme")
    if scheme not in (None, "HTTP"):
        checker.error(
            (*path, "scheme"),
            dg.Code.UNSUPPORTED_FIELD,
            f"scheme {scheme!r} is not supported for hooks (plain HTTP only)",
            'remove scheme or set it to "HTTP", or use an exec hook',
        )
    probechecks.request_fields(checker, path, http)


def build(container: Doc) -> hooks.Lifecycle | None:
    """The typed hooks of a checked container document; None without `lifecycle`."""
    lifecycle = container.get("lifecycle")
    if not lifecycle:
        return None
    ports: list[Doc] = container.get("ports") or []
    built = hooks.Lifecycle(
        post_start=_build_handler(lifecycle.get(hooks.HookKind.POST_START.value), ports),
        pre_stop=_build_handler(lifecycle.get(hooks.HookKind.PRE_STOP.value), ports),
    )
    return built if built.post_start or built.pre_stop else None


def _build_handler(handler: Doc | None, ports: list[Doc]) -> hooks.Handler | None:
    if handler is None:
        return None
    if handler.get("exec") is not None:
        return hooks.Handler(hooks.HookAction.EXEC, tuple(handler["exec"]["command"]))
    if handler.get("sleep") is not None:
        return hooks.Handler(hooks.HookAction.SLEEP, seconds=int(handler["sleep"]["seconds"]))
    http: Doc = handler["httpGet"]
    port = probechecks.resolve_port(ports, http["port"])
    assert port is not None, "the checks require a declared port"
    return hooks.Handler(
        hooks.HookAction.HTTP_GET,
        port=port,
        path=http.get("path") or "/",
        http_headers=tuple((h["name"], h["value"]) for h in http.get("httpHeaders") or []),
    )
