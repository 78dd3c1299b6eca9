"""The event a done RESTART is recorded as (controllers/status): Killing for a liveness restart,
Started for a crashed container, whatever the container is called."""

from __future__ import annotations

from reconciler.controllers import lifecycle, status
from reconciler.model import hoststate
from reconciler.state import conditions as cond


def _restart(container: str, cause: str) -> hoststate.Action:
    reason = f"container {container} {cause}: restart 1 (back-off 0s)"
    return hoststate.Action(hoststate.ActionKind.RESTART, "h1", "shop", "web-0",
                            reason=reason, container=container)  # fmt: skip


def test_a_liveness_restart_is_killing() -> None:
    action = _restart("httpd", f"{lifecycle.LIVENESS_CAUSE} (HTTP 404)")
    kind, obj, reason, message = status.event(action, drift=False)
    assert (kind, obj, reason) == (cond.EventKind.NORMAL, "Pod/shop/web-0", "Killing")
    assert "failed its liveness probe (HTTP 404)" in message


def test_a_crash_restart_is_started_even_for_a_container_named_liveness() -> None:
    action = _restart("liveness", "exited with code 1")
    assert status.event(action, drift=False)[2] == "Started"
