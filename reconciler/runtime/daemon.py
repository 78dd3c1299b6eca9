"""`reconciler daemon`: wires the source (watch, poll, webhook), the reconcile loop, the state
store, the HTTP endpoints and systemd notification together, and runs until SIGTERM.

The loop is level-triggered: it reconciles at start, on every trigger (coalesced while a
reconcile runs) and every resync interval; it pings the systemd watchdog from the loop itself.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any

from reconciler import __version__
from reconciler.controllers import autoscale, cronrun, hosthealth, jobrun, manager, probestate
from reconciler.executor import podman_ssh, protocol
from reconciler.plan import pruneguard
from reconciler.runtime import config as configmod
from reconciler.runtime import memory, notify, reconcile, wake
from reconciler.source import git, signatures, watch, webhook
from reconciler.state import conditions as cond
from reconciler.state import rolloutstore
from reconciler.state import status as statusmod
from reconciler.state import store as storemod
from reconciler.web import metrics as metricsmod
from reconciler.web import observe as observemod
from reconciler.web import server as servermod
from reconciler.web.ui import auth as uiauth
from reconciler.web.ui import snapshot as uisnapshot

if TYPE_CHECKING:  # built on their first request (`Daemon._on_demand`): see runtime.memory
    from reconciler.web import dryrun as dryrunmod
    from reconciler.web.ui import app as uiapp

log = logging.getLogger(__name__)
BACKOFF_MAX = 60.0


def make_source(cfg: configmod.DaemonConfig) -> git.LocalRepoSource | git.RemoteSource:
    return git.make_source(
        cfg.repository, cfg.branch, cfg.state_dir, cfg.git_timeout,
        ssh_key=cfg.ssh_key if cfg.is_remote else None,
        known_hosts=cfg.known_hosts if cfg.is_remote else None,
    )  # fmt: skip


@dataclass
class Daemon:
    cfg: configmod.DaemonConfig
    executor: protocol.HostExecutor
    source: git.LocalRepoSource | git.RemoteSource
    store: storemod.Store
    wakeup: wake.Wakeup = field(default_factory=wake.Wakeup)
    registry: metricsmod.Registry = field(default_factory=metricsmod.Registry)
    ready: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.metrics = metricsmod.ReconcilerMetrics(self.registry, __version__)
        self.reconciler = reconcile.Reconciler(self.source, self.executor, self.store, self.metrics)
        self.reconciler.age_key_file = self.cfg.age_key_file
        self.reconciler.service_cidr = self.cfg.service_cidr
        self.reconciler.prune_guard = pruneguard.Policy(
            self.cfg.prune_guard_percent, self.cfg.allow_mass_prune
        )
        remote = self.cfg.is_remote  # a new revision found by any pass was pushed or polled
        self.reconciler.source_trigger = str(cond.Trigger.POLL if remote else cond.Trigger.PUSH)
        if self.cfg.verify_commits is not None:  # only signed commits deploy
            verifier = signatures.Verifier(
                self.cfg.verify_commits, self.cfg.state_dir / "gnupg", self.cfg.git_timeout
            )
            git_dir = self.source.git_dir
            self.reconciler.verify_commit = lambda sha: verifier.verify(git_dir, sha)
        self.reconciler.controllers = manager.start(
            self.executor,
            rolloutstore.RolloutStore(self.store),
            self.reconciler.template_at,
            wake=lambda: self.wakeup.request(str(cond.Trigger.HOST_EVENT)),
            restart_records=self.store,
            probe_events=self._probe_event,
            hosts=hosthealth.Monitor(
                self.executor, self.cfg.host_grace_seconds,
                wake=lambda: self.wakeup.request(str(cond.Trigger.HOST_EVENT)),
                save=self.store.save_host_conditions, saved=self.store.host_conditions(),
            ),
        )
        self.reconciler.controllers.jobs = jobrun.Jobs(
            self.store, writable=True, events=self.store.record_event
        )  # finished Jobs are never run again, even after a restart
        self.reconciler.controllers.cron = cronrun.Crons(
            self.store, writable=True, events=self.store.record_event
        )  # CronJobs run by this daemon's clock
        self.reconciler.controllers.autoscaling = autoscale.Autoscaling(
            self.store, active=True, period=self.cfg.autoscale_period,
            events=self.store.record_event,
        )  # fmt: skip
        self.webhook_secret = self.cfg.webhook_secret()
        self.access = uiauth.Access(self.cfg.http_token(), self.cfg.metrics_require_token)
        self.snapshots = uisnapshot.Holder()  # the dashboard's view of the last applied sync
        self.reconciler.on_synced = self.snapshots.record

    def _probe_event(self, event: probestate.ProbeEvent) -> None:
        """A failed probe, recorded as Kubernetes' `Unhealthy` event (from a prober thread)."""
        pod = f"Pod/{event.namespace}/{event.pod}"
        message = f"{event.container}: {event.message}"
        self.store.record_event(cond.EventKind.WARNING, pod, cond.Reason.UNHEALTHY, message)

    # ----- triggers ----------------------------------------------------------------------

    def on_webhook(self, headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
        """A push webhook (GitHub or GitLab): verified, then a fetch at once; never raises."""
        if self.webhook_secret is None:
            return 404, "no webhook configured (set webhook_secret_file)"
        result = webhook.verify(headers, body, self.webhook_secret, branch=self.cfg.branch)
        if not result.ok:
            log.warning("webhook refused (%d): %s", result.status, result.reason)
        elif result.fetch:
            if result.sha:  # compared with the fetched head by the sync it wakes
                self.reconciler.announced = result.sha
            self.wakeup.request(str(cond.Trigger.WEBHOOK))
        return result.status, result.reason

    def _start_watch(self) -> watch.Trigger:
        trigger = cond.Trigger.POLL if self.cfg.is_remote else cond.Trigger.PUSH
        watcher = watch.trigger_for(
            self.source, lambda: self.wakeup.request(str(trigger)), self.cfg.poll_interval
        )
        watcher.start()
        return watcher

    def _observer(self) -> observemod.Observer:
        """GET /v1/observe: the hosts of the last reconcile read now, for a one-shot diff/get."""
        monitor = self.reconciler.controllers.hosts
        return observemod.Observer(
            self.executor, monitor.targets if monitor is not None else tuple,
            self.store.applied_revision, self.registry,
        )  # fmt: skip

    def _dry_run(self) -> dryrunmod.DryRun:
        """POST /v1/diff: a one-shot diff's manifests planned here, on the hosts of the last
        reconcile read now; changes nothing."""
        from reconciler.web import dryrun as dryrunmod  # noqa: PLC0415 (see _on_demand)

        monitor = self.reconciler.controllers.hosts
        return dryrunmod.DryRun(
            self.executor, monitor.targets if monitor is not None else tuple,
            self.cfg.age_key_file, self.registry, storemod.path_in(self.cfg.state_dir),
        )  # fmt: skip

    def _dashboard(self) -> uiapp.Dashboard:
        """The read-only pages under /ui/ (docs/dashboard.md)."""
        from reconciler.web.ui import app as uiapp  # noqa: PLC0415 (see _on_demand)
        from reconciler.web.ui import view as uiview  # noqa: PLC0415

        return uiapp.Dashboard(
            lambda: statusmod.document(self.store), self.store, self.snapshots.get,
            uiview.Describer(self.source.describe), self.access,
        )  # fmt: skip

    @staticmethod
    def _on_demand(build: Callable[[], Callable[..., Any]]) -> Callable[..., Any]:
        """The handler `build()` returns, built on the first request: a daemon nobody browses or
        asks for a dry run never imports the dashboard and `web.dryrun` (nor what only they use)."""
        built: list[Callable[..., Any]] = []
        lock = threading.Lock()

        def answer(*args: Any) -> Any:
            with lock:
                if not built:
                    built.append(build())
            return built[0](*args)

        return answer

    # ----- the loop ----------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        server = servermod.HttpServer(
            self.cfg.listen,
            lambda: statusmod.document(self.store),
            self.registry,
            self.ready.is_set,
            self.on_webhook,
            dashboard=self._on_demand(lambda: self._dashboard().respond),
            access=self.access,
            observe=self._observer().answer,
            dryrun=self._on_demand(lambda: self._dry_run().answer),
        )
        server.start()
        watcher = self._start_watch()
        pinger = notify.watchdog_interval()
        notify.ready(f"watching {self.cfg.repository} ({self.cfg.branch})")
        log.info("daemon started: repository %s, branch %s, state %s, resync every %.0fs",
                 self.cfg.repository, self.cfg.branch, self.cfg.state_dir,
                 self.cfg.resync_interval)  # fmt: skip
        triggers = [str(cond.Trigger.STARTUP)]
        failures = 0
        next_resync = 0.0
        settler = memory.Settler()  # what a sync freed goes back to the system
        try:
            while not stop.is_set():
                if triggers or time.monotonic() >= next_resync:
                    result = self.reconciler.run(triggers or [str(cond.Trigger.RESYNC)])
                    settler.settle()
                    self.ready.set()
                    notify.watchdog()
                    notify.status(f"last sync {result}")
                    failures = failures + 1 if result is cond.SyncResult.FAILED else 0
                    delay = self.cfg.resync_interval
                    retry = self.reconciler.requeue_after  # a rollout, back-off or retry waits
                    if failures and retry is not None:  # transient: retry, backing off
                        delay = min(BACKOFF_MAX, delay, max(retry, 2.0**failures))
                    elif not failures and retry is not None:  # 0: the next rollout step now
                        delay = min(delay, max(0.0, retry))
                    next_resync = time.monotonic() + delay
                wait = max(0.0, next_resync - time.monotonic())
                if pinger is not None:
                    wait = min(wait, pinger)
                triggers = self.wakeup.wait(wait)
                notify.watchdog()
        finally:
            notify.stopping()
            log.info("daemon stopping")
            manager.stop(self.reconciler.controllers)
            watcher.stop()
            server.stop()


def run(cfg: configmod.DaemonConfig) -> int:
    """Build everything from the config and run until SIGTERM/SIGINT; the exit code."""
    memory.limit_arenas()  # before any thread: see runtime.memory
    stop = threading.Event()
    daemon: Daemon | None = None

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: finishing the current step, then exiting",
                 signal.Signals(signum).name)  # fmt: skip
        stop.set()
        if daemon is not None:
            daemon.wakeup.close()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    store = storemod.Store(storemod.path_in(cfg.state_dir))
    executor = podman_ssh.PodmanSSHExecutor(
        known_hosts=cfg.known_hosts, key_file=cfg.ssh_key,
        connect_timeout=cfg.connect_timeout, command_timeout=cfg.command_timeout,
    )  # fmt: skip
    try:
        daemon = Daemon(cfg, executor, make_source(cfg), store)
        daemon.run(stop)
    finally:
        executor.close()
        store.close()
    return 0
