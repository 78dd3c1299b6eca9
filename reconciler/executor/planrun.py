"""Applying a plan with the real executor: wave by wave, the hosts in parallel (the executor's
fan-out pool), each host's actions on its session's pool; an action's errors become its
`ActionResult` (a lost host SKIPs its remaining actions and its session is dropped), claim
volumes with policy Delete reclaimed last. `podman_ssh.PodmanSSHExecutor.apply` calls `apply`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future

from reconciler.executor import (
    claimvolumes,
    errors,
    hostops,
    hostsession,
    podcreate,
    protocol,
    sessionpool,
)
from reconciler.model import claims as claimsmod
from reconciler.model import hoststate

log = logging.getLogger(__name__)

Indexed = tuple[int, hoststate.Action]


def apply(
    hosts: sessionpool.SessionPool,
    fanout: concurrent.futures.Executor,
    plan: hoststate.Plan,
    targets: Iterable[hoststate.HostTarget],
    progress: protocol.ProgressCallback | None = None,
) -> list[hoststate.ActionResult]:
    """The plan's results in its actions' order (see the module docstring)."""
    return _Run(hosts, fanout).run(plan, targets, progress)


class _Run:
    def __init__(self, hosts: sessionpool.SessionPool, fanout: concurrent.futures.Executor) -> None:
        self._hosts = hosts
        self._fanout = fanout
        self._lock = threading.Lock()  # progress callbacks one at a time

    def run(
        self,
        plan: hoststate.Plan,
        targets: Iterable[hoststate.HostTarget],
        progress: protocol.ProgressCallback | None,
    ) -> list[hoststate.ActionResult]:
        by_name = {target.name: target for target in targets}
        results: list[hoststate.ActionResult | None] = [None] * len(plan.actions)
        for number in sorted({action.wave for action in plan.actions}):  # one wave at a time
            by_host: dict[str, list[Indexed]] = {}
            for index, action in enumerate(plan.actions):
                if action.wave == number:
                    by_host.setdefault(action.host, []).append((index, action))
            jobs = [
                self._fanout.submit(self._apply_host, by_name.get(host), host, actions, progress)
                for host, actions in by_host.items()
            ]
            for job in jobs:
                for index, result in job.result():
                    results[index] = result
        for claim in plan.reclaims:  # after the pods that mounted them are gone
            self._reclaim(by_name.get(claim.host), claim)
        return [r for r in results if r is not None]

    def _reclaim(self, target: hoststate.HostTarget | None, claim: claimsmod.ObservedClaim) -> None:
        """Remove a claim volume whose policy is Delete; a failure is logged (tried again by
        the next plan, which finds the volume still there)."""
        if target is None:
            return
        try:
            message = claimvolumes.remove(self._hosts.live(target), claim)
        except errors.ExecutorError as exc:
            log.warning("host %s: reclaiming volume %s failed: %s", claim.host, claim.volume, exc)
            return
        log.info("host %s: %s (reclaim policy Delete)", claim.host, message)

    def _report(
        self, progress: protocol.ProgressCallback | None, result: hoststate.ActionResult
    ) -> hoststate.ActionResult:
        # DEBUG only: whoever asked reports each result once (apply's progress line, the
        # daemon's log); a warning here printed every failed action twice.
        a = result.action
        log.debug("%s %s/%s on %s: %s: %s", a.kind, a.namespace, a.name, a.host, result.outcome,
                  result.message)  # fmt: skip
        if progress is not None:
            with self._lock:
                progress(result)
        return result

    def _apply_host(
        self,
        target: hoststate.HostTarget | None,
        host: str,
        actions: Sequence[Indexed],
        progress: protocol.ProgressCallback | None,
    ) -> list[tuple[int, hoststate.ActionResult]]:
        def finish_all(
            outcome: hoststate.Outcome, message: str
        ) -> list[tuple[int, hoststate.ActionResult]]:
            return [
                (i, self._report(progress, hoststate.ActionResult(a, outcome, message)))
                for i, a in actions
            ]

        if target is None:
            return finish_all(
                hoststate.Outcome.FAILED,
                f"no Host named {host!r} among the targets: declare it (kind: Host) "
                "or move its pods",
            )
        try:
            session = self._hosts.live(target)
        except errors.HostError as exc:
            return finish_all(hoststate.Outcome.SKIPPED, str(exc))
        host_down: list[errors.HostError] = []
        done: list[tuple[int, hoststate.ActionResult]] = []
        pending: list[tuple[int, hoststate.Action, Future[hoststate.ActionResult] | None]] = []
        for i, a in actions:
            try:
                future = session.submit(self._run_action, session, a, host_down, progress)
            except errors.HostError as exc:  # the session was dropped by another call
                host_down.append(exc)
                future = None
            pending.append((i, a, future))
        for i, a, future in pending:
            result = None
            with contextlib.suppress(concurrent.futures.CancelledError):
                result = future.result() if future is not None else None
            if result is None:
                why = str(host_down[0]) if host_down else f"host {host}: connection closed"
                skipped = hoststate.ActionResult(a, hoststate.Outcome.SKIPPED, why)
                result = self._report(progress, skipped)
            done.append((i, result))
        if host_down:
            self._hosts.drop_if_current(host, session)
        return done

    def _run_action(
        self,
        session: hostsession.HostSession,
        action: hoststate.Action,
        host_down: list[errors.HostError],
        progress: protocol.ProgressCallback | None,
    ) -> hoststate.ActionResult:
        started = time.monotonic()
        if host_down:
            result = hoststate.ActionResult(action, hoststate.Outcome.SKIPPED, str(host_down[0]))
            return self._report(progress, result)
        try:
            message = self._dispatch(session, action)
            outcome = hoststate.Outcome.DONE
        except errors.HostError as exc:
            host_down.append(exc)
            outcome, message = hoststate.Outcome.SKIPPED, str(exc)
        except errors.ExecutorError as exc:
            outcome, message = hoststate.Outcome.FAILED, str(exc)
        seconds = time.monotonic() - started
        return self._report(progress, hoststate.ActionResult(action, outcome, message, seconds))

    @staticmethod
    def _dispatch(session: hostsession.HostSession, action: hoststate.Action) -> str:
        kind = action.kind
        if kind is hoststate.ActionKind.CREATE and action.run is not None:
            return podcreate.create(session, action.run)
        if kind is hoststate.ActionKind.DELETE and action.observed is not None:
            return hostops.delete(session, action.observed)
        if kind is hoststate.ActionKind.REPLACE and action.run and action.observed:
            return podcreate.replace(session, action.run, action.observed)
        if kind is hoststate.ActionKind.RESTART and action.observed and action.container:
            return hostops.restart(session, action.observed, action.container)
        raise errors.PodError(
            action.host,
            f"{action.namespace}/{action.name}",
            f"malformed {kind} action (CREATE needs run, DELETE observed, REPLACE both, "
            "RESTART observed and container)",
        )

