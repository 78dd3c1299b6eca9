"""The one-shot `diff` and `get` ask a daemon running on this machine to read the hosts for them
(GET /v1/observe, `web.observe`), as kubectl asks the API server: the daemon's SSH connections
are warm and this process never imports the SSH stack. The plan is made here, from the
manifests the user names, so the output is the same as when the hosts are read directly. (`diff`
first asks the daemon to plan it all, `dryrunclient`; this is its way when the daemon cannot.)

Where the daemon listens: `--daemon ADDRESS`, $RECONCILER_DAEMON, the config file's `listen`
(the file `settings` reads), else 127.0.0.1:9400; its bearer token: $RECONCILER_HTTP_TOKEN, else
the first line of the config file's `http_token_file` (when this user can read it). When
nobody answers there within 0.5 s the hosts are read directly (`--direct` or
$RECONCILER_DAEMON=none always do; `--daemon` never falls back); hosts the daemon does not
manage at the same address, user and port are read directly too.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from reconciler.cli import lightsettings, settings
from reconciler.controllers import manager
from reconciler.executor import errors, protocol
from reconciler.model import hoststate, loadbalancer, metrics, observedjson

CONNECT_TIMEOUT = 0.5  # seconds: a daemon on this machine answers a connect at once
ROUTE = "/v1/observe"
Endpoint = lightsettings.Endpoint


class DaemonUnavailable(errors.ExecutorConfigError):
    """The daemon could not give an observation; `answered`: something listens there (an error
    status, a document it cannot read), else nothing answered at all."""

    def __init__(self, message: str, *, answered: bool) -> None:
        super().__init__(message)
        self.answered = answered


def add_arguments(parser: argparse.ArgumentParser) -> None:
    lightsettings.add_daemon_arguments(parser)


def parse_address(address: str) -> tuple[str, int]:
    """As `lightsettings.parse_address`, raising settings.SettingsError."""
    try:
        return lightsettings.parse_address(address)
    except lightsettings.AddressError as exc:
        raise settings.SettingsError(str(exc)) from None


def endpoint(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Endpoint | None:
    """Where to ask, or None with `--direct`. Raises settings.SettingsError for a bad address
    or an unreadable config file."""
    env = os.environ if env is None else env
    if getattr(args, "direct", False) or env.get(lightsettings.ENV_ADDRESS, "").lower() in (
        lightsettings.OFF
    ):
        return None
    path = lightsettings.config_file(getattr(args, "config", None), env)  # the settings' own file
    from_file = settings._read_config(path) if path is not None and path.exists() else {}
    forced = getattr(args, "daemon", None)
    address = (forced or env.get(lightsettings.ENV_ADDRESS)
               or str(from_file.get("listen") or lightsettings.DEFAULT_ADDRESS))  # fmt: skip
    token = env.get(lightsettings.ENV_TOKEN) or lightsettings.token_in(
        from_file.get("http_token_file"))  # fmt: skip
    host, port = parse_address(address)
    return Endpoint(host, port, token or None, forced=bool(forced))


@dataclass(frozen=True)
class Answer:
    revision: str  # the revision the daemon applies ("" before its first sync)
    served: int  # the daemon's count of observations served, this one included
    hosts: tuple[tuple[hoststate.HostTarget, hoststate.HostObservation], ...]


def fetch(
    where: Endpoint, hosts: Sequence[str], *, detail: bool, readiness: bool, timeout: float
) -> Answer:
    """One GET /v1/observe. Raises DaemonUnavailable."""
    query = [("host", name) for name in hosts]
    query += [(flag, "1") for flag, on in (("detail", detail), ("readiness", readiness)) if on]
    headers = {"Accept": "application/json"}
    if where.token:
        headers["Authorization"] = f"Bearer {where.token}"
    connection = http.client.HTTPConnection(where.host, where.port, timeout=CONNECT_TIMEOUT)
    try:
        try:
            connection.connect()
        except OSError as exc:
            raise DaemonUnavailable(f"no daemon answers at {where.url}: {exc}",
                                    answered=False) from exc  # fmt: skip
        try:
            if connection.sock is not None:
                connection.sock.settimeout(timeout)  # observing every host takes a while
            connection.request("GET", f"{ROUTE}?{urlencode(query)}", headers=headers)
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise DaemonUnavailable(f"the daemon at {where.url} did not answer: {exc}",
                                    answered=True) from exc  # fmt: skip
    finally:
        connection.close()
    return _read(where, response.status, body)


def _read(where: Endpoint, status: int, body: bytes) -> Answer:
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if status != 200 or not isinstance(document, dict):
        said = document.get("error", "") if isinstance(document, dict) else ""
        said = said or body[:200].decode("utf-8", "replace").strip()
        raise DaemonUnavailable(f"the daemon at {where.url} answered {ROUTE} with HTTP {status}: "
                                f"{said}", answered=True)  # fmt: skip
    if document.get("version") != observedjson.VERSION:
        raise DaemonUnavailable(f"the daemon at {where.url} speaks observation version "
                                f"{document.get('version')!r}, this reconciler "
                                f"{observedjson.VERSION}", answered=True)  # fmt: skip
    try:
        hosts = observedjson.decode(document.get("hosts"))
    except observedjson.FormatError as exc:
        raise DaemonUnavailable(f"the daemon at {where.url} sent an unreadable observation: "
                                f"{exc}", answered=True) from exc  # fmt: skip
    served = document.get("served")
    return Answer(str(document.get("revision") or ""), served if isinstance(served, int) else 0,
                  tuple(hosts))  # fmt: skip


class DaemonExecutor:
    """A `HostExecutor` whose `observe` asks the daemon. Everything else (`apply`, `probe`,
    `lb_status`, ...) and the hosts the daemon did not read go to the direct executor, made by
    `direct()` on first need (never, when the daemon reads every host)."""

    def __init__(
        self,
        where: Endpoint,
        direct: Callable[[], protocol.HostExecutor],
        *,
        timeout: float,
        command: str = "",
    ) -> None:
        self.where = where
        self._make_direct = direct
        self._direct: protocol.HostExecutor | None = None
        self._timeout = timeout
        self._command = command
        self._usable = True
        self._stats = protocol.ExecutorStats()
        self.answers: list[Answer] = []  # what the daemon answered (for tests and -v output)

    @property
    def stats(self) -> protocol.ExecutorStats:
        return self._direct.stats if self._direct is not None else self._stats

    def direct(self) -> protocol.HostExecutor:
        if self._direct is None:
            self._direct = self._make_direct()
        return self._direct

    def observe(
        self, targets: Iterable[hoststate.HostTarget], *, detail: bool = False,
        readiness: bool = False,
    ) -> dict[str, hoststate.HostObservation]:  # fmt: skip
        """As `HostExecutor.observe`; with `readiness`, also one run of the probes (as
        `manager.readiness_once`), made by the daemon for the hosts it reads."""
        wanted = list(targets)
        found = self._from_daemon(wanted, detail, readiness) if wanted else {}
        missing = [t for t in wanted if t.name not in found]
        if missing:
            direct = self.direct()
            seen = direct.observe(missing, detail=detail)
            if readiness:
                seen = manager.readiness_once(direct, seen, {t.name: t for t in missing})
            found.update(seen)
        return {t.name: found[t.name] for t in wanted}

    def _from_daemon(self, wanted: Sequence[hoststate.HostTarget], detail: bool,
                     readiness: bool) -> dict[str, hoststate.HostObservation]:  # fmt: skip
        if not self._usable:
            return {}
        try:
            answer = fetch(self.where, [t.name for t in wanted], detail=detail,
                           readiness=readiness, timeout=self._timeout)  # fmt: skip
        except DaemonUnavailable as exc:
            if self.where.forced:
                raise
            self._usable = False
            if exc.answered:  # something is there but did not help: say why hosts are dialled
                print(f"reconciler {self._command}: {exc}; reading the hosts directly",
                      file=sys.stderr)  # fmt: skip
            return {}
        self.answers.append(answer)
        wanted_by_name = {t.name: t for t in wanted}
        return {seen.host: seen for target, seen in answer.hosts
                if wanted_by_name.get(target.name) == target}  # fmt: skip

    # ----- everything else: the direct executor ------------------------------------------

    def apply(self, plan: hoststate.Plan, targets: Iterable[hoststate.HostTarget],
              progress: protocol.ProgressCallback | None = None,
              ) -> list[hoststate.ActionResult]:  # fmt: skip
        return self.direct().apply(plan, targets, progress)

    def ping(self, target: hoststate.HostTarget) -> str | None:
        return self.direct().ping(target)

    def answer_age(self, host: str) -> float | None:
        return self._direct.answer_age(host) if self._direct is not None else None

    def events(self, target: hoststate.HostTarget, pod: hoststate.ObservedPod,
               since_seconds: int) -> list[hoststate.PodEvent]:  # fmt: skip
        return self.direct().events(target, pod, since_seconds)

    def probe(self, target: hoststate.HostTarget, pod: hoststate.ObservedPod,
              container: hoststate.ObservedContainer, probe: hoststate.ContainerProbe,
              ) -> hoststate.ProbeResult:  # fmt: skip
        return self.direct().probe(target, pod, container, probe)

    def metrics(self, targets: Iterable[hoststate.HostTarget]) -> dict[str, metrics.HostMetrics]:
        return self.direct().metrics(targets)

    def watch_exits(self, targets: Iterable[hoststate.HostTarget],
                    on_exit: protocol.ExitCallback) -> None:  # fmt: skip
        self.direct().watch_exits(targets, on_exit)

    def lb_apply(self, targets: Sequence[hoststate.HostTarget],
                 configs: Mapping[str, loadbalancer.Config],
                 ) -> dict[str, loadbalancer.Status]:  # fmt: skip
        return self.direct().lb_apply(targets, configs)

    def lb_status(self, targets: Sequence[hoststate.HostTarget]) -> dict[str, loadbalancer.Status]:
        return self.direct().lb_status(targets)

    def close(self) -> None:
        """Nothing of its own to close: `direct()`'s executor is closed by whoever made it."""


def observe(
    executor: protocol.HostExecutor, targets: Sequence[hoststate.HostTarget], *, detail: bool,
    readiness: bool,
) -> dict[str, hoststate.HostObservation]:  # fmt: skip
    """What runs on `targets`, with readiness from one run of the probes when asked: through
    the daemon when `executor` asks one (it probes too), else read and probed here."""
    if isinstance(executor, DaemonExecutor):
        return executor.observe(targets, detail=detail, readiness=readiness)
    seen = executor.observe(targets, detail=detail)
    if readiness:
        seen = manager.readiness_once(executor, seen, {t.name: t for t in targets})
    return seen
