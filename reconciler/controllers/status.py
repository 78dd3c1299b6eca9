"""Status from one reconcile: conditions (with the reason vocabulary of `state.conditions`) for
hosts, pods and Deployments, and the event each applied action is recorded as. Pure; the daemon
writes them to the store, so the CLI, `/status`, metrics and logs share the words.
"""

from __future__ import annotations

from reconciler.controllers import jobrun, lifecycle, sync
from reconciler.model import hoststate
from reconciler.plan import configwait
from reconciler.state import conditions as cond


def back_off_events(prepared: sync.Prepared) -> list[tuple[cond.EventKind, str, str, str]]:
    """A Warning `BackOff` event per container waiting out a restart back-off."""
    return [
        (cond.EventKind.WARNING, f"Pod/{w.key[0]}/{w.key[1]}", str(cond.Reason.BACK_OFF),
         w.message)
        for w in prepared.waiting
    ]  # fmt: skip


def wait_events(prepared: sync.Prepared) -> list[tuple[cond.EventKind, str, str, str]]:
    """A Warning event per object whose pods wait for a ConfigMap, Secret or claim nothing
    declares: `CreateContainerConfigError`, or `FailedScheduling` for a claim (the kubelet's and
    the scheduler's reasons)."""
    out = []
    for obj, path, message in prepared.result.waits:
        claim = configwait.CLAIM_FIELD in path
        reason = "FailedScheduling" if claim else configwait.CONFIG_ERROR
        out.append((cond.EventKind.WARNING, obj, reason, f"{path}: {message}"))
    return out


def event(action: hoststate.Action, drift: bool) -> tuple[cond.EventKind, str, str, str]:
    """(kind, object, reason, message) of a done action: drift restored, pods created,
    replaced, pruned, containers restarted."""
    if action.kind is hoststate.ActionKind.DELETE:
        reason = str(cond.Reason.PRUNED) if action.reason == "not desired" else "Deleted"
    elif drift:
        reason = cond.Reason.DRIFT_RESTORED
    else:
        reason = "Created" if action.kind is hoststate.ActionKind.CREATE else "Replaced"
    if action.kind is hoststate.ActionKind.RESTART:
        liveness = lifecycle.LIVENESS_CAUSE in action.reason  # not a container named liveness
        reason = cond.Reason.KILLING if liveness else cond.Reason.STARTED
    obj = f"Pod/{action.namespace}/{action.name}"
    why = action.reason
    if drift and action.kind is hoststate.ActionKind.CREATE and why == "not running":
        why = "pod missing"  # it ran at this revision: removed outside the reconciler
    message = f"{action.kind} on {action.host}: {why}"
    return cond.EventKind.NORMAL, obj, str(reason), message


def conditions(prepared: sync.Prepared, done: sync.Converged) -> list[cond.Condition]:
    out: list[cond.Condition] = []
    true, false = cond.ConditionStatus.TRUE, cond.ConditionStatus.FALSE
    ready = cond.ConditionType.READY
    for host, seen in sorted(prepared.observations.items()):
        if seen.reachable:
            out.append(cond.Condition("Host", "", host, ready, true, cond.Reason.HOST_READY))
        else:
            out.append(cond.Condition("Host", "", host, ready, false,
                                      cond.Reason.HOST_UNREACHABLE, seen.error))  # fmt: skip
    failed = {
        (r.action.namespace, r.action.name): r
        for r in done.results
        if r.outcome is not hoststate.Outcome.DONE
    }
    unschedulable = {u.pod: u.message for u in prepared.result.unschedulable}
    unreachable = {o.host for o in prepared.unreachable}
    backing_off = {w.key: w.message for w in prepared.waiting}
    observed = {
        copy.key: copy
        for seen in prepared.observations.values()
        for copy in seen.pods
        if copy.host == prepared.result.placements.get(f"{copy.namespace}/{copy.name}")
    }
    for run in prepared.result.runs:
        key = (run.namespace, run.name)
        if key in failed:
            r = failed[key]
            reason = (
                cond.Reason.HOST_UNREACHABLE if r.outcome is hoststate.Outcome.SKIPPED
                else cond.Reason.APPLY_FAILED
            )  # fmt: skip
            out.append(cond.Condition("Pod", run.namespace, run.name, ready, false, reason,
                                      r.message))  # fmt: skip
        elif run.host in unreachable:
            out.append(cond.Condition("Pod", run.namespace, run.name, ready, false,
                                      cond.Reason.HOST_UNREACHABLE, f"on {run.host}"))  # fmt: skip
        elif key in backing_off:
            crash = cond.Reason.CRASH_LOOP_BACK_OFF
            out.append(cond.Condition("Pod", run.namespace, run.name, ready, false, crash,
                                      backing_off[key]))  # fmt: skip
        elif (copy := observed.get(key)) is not None and copy.ready is False:
            out.append(cond.Condition("Pod", run.namespace, run.name, ready, false,
                                      cond.Reason.NOT_READY, f"on {run.host}"))  # fmt: skip
        else:
            out.append(cond.Condition("Pod", run.namespace, run.name, ready, true,
                                      cond.Reason.SYNCED, f"on {run.host}"))  # fmt: skip
    for pod, message in sorted(unschedulable.items()):
        namespace, _, name = pod.partition("/")
        out.append(cond.Condition("Pod", namespace, name, ready, false,
                                  cond.Reason.UNSCHEDULABLE, message))  # fmt: skip
    for deployment in prepared.deployments:
        out.extend(deployment.conditions)
    if prepared.controllers is not None:
        out.extend(prepared.controllers.balancers.conditions(prepared.load.state))
    out.extend(jobrun.conditions(prepared.controllers, prepared.load.state))
    return out
