"""POST /v1/diff: the daemon plans a one-shot `reconciler diff` for a client on the same machine,
as the Kubernetes API server's dry run does for `kubectl diff`: the client sends the manifest
files it found (their bytes and repository-relative paths) and its settings; the daemon loads and
validates them as `reconciler validate` would, reads its hosts now over its warm connections and
answers with what the CLI prints (`web.planout`). It changes nothing: the executor it plans with
can only observe (`ReadOnly`), and only hosts the daemon manages, at the same address, are read.

Request (JSON, `Content-Type: application/json`): `version`, `command` ("diff"), `output`
("text"|"json"), `path` (the user's PATH, shown in errors), `revision`, `serviceCidr`,
`pruneGuardPercent`, `allowMassPrune`, `files`: [{`path`, `data` (base64)}]. Answers: 200
`{stdout, stderr, code}`; 400 a request it cannot read; 409 manifests that declare hosts the
daemon does not manage (`unmanaged`), or a SOPS-encrypted Secret its own age key cannot read
(`sops`): the client plans itself; 503 no hosts known yet, or busy.

`command` "get" answers a one-shot `reconciler get pods|deployments` the same way
(`web.getrows`): `resource`, `namespace`, `output` ("table"|"wide"|"json"|"yaml"), `path`,
`files`; the hosts are read with one run of the probes, as GET /v1/observe?readiness=1 does.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.controllers import manager, sync
from reconciler.executor import errors as execerrors
from reconciler.executor import protocol
from reconciler.manifests import loader
from reconciler.model import diagnostics as dg
from reconciler.model import errors, hoststate, loadbalancer, metrics
from reconciler.plan import pruneguard
from reconciler.state import store as storemod
from reconciler.web import getrows, planout
from reconciler.web import metrics as metricsmod

log = logging.getLogger(__name__)

ROUTE = "/v1/diff"
VERSION = 1
MAX_BODY = 16 * 1024 * 1024  # bytes of request (base64 makes files a third larger)
MAX_FILES = 5000
MAX_PATH = 1024  # characters of one relative path
MAX_DEPTH = 32  # folders
MAX_TEXT = 256  # characters of `path` and `revision`
BUSY_WAIT = 60.0  # seconds a request waits for the one before it
SUFFIXES = (".yaml", ".yml")  # as manifests.discovery
Answer = tuple[int, dict[str, Any]]


class BadRequestError(Exception):
    """The request cannot be read; the message says why (no value of the request in it)."""


@dataclass(frozen=True)
class Request:
    output: str
    path: str
    revision: str
    service_cidr: str
    guard: pruneguard.Policy
    files: tuple[tuple[str, bytes], ...]
    command: str = "diff"
    resource: str = ""  # get's: pods or deployments
    namespace: str = ""


def parse(body: bytes) -> Request:
    """The request, checked field by field. Raises BadRequestError."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"the body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise BadRequestError("the body must be a JSON object")
    if document.get("version") != VERSION:
        raise BadRequestError(f"this daemon speaks version {VERSION} of {ROUTE}")
    command = document.get("command", "diff")
    if command == "get":
        return _get_request(document)
    if command != "diff":
        raise BadRequestError("command: diff or get")
    output = document.get("output", "text")
    if output not in planout.OUTPUTS:
        raise BadRequestError(f"output: one of {', '.join(planout.OUTPUTS)}")
    percent = document.get("pruneGuardPercent", pruneguard.DEFAULT_PERCENT)
    if isinstance(percent, bool) or not isinstance(percent, int | float) or not (
        math.isfinite(percent)
    ):
        raise BadRequestError("pruneGuardPercent: a number")
    allowed = document.get("allowMassPrune", False)
    if not isinstance(allowed, bool):
        raise BadRequestError("allowMassPrune: true or false")
    return Request(
        output=output,
        path=_text(document, "path", "."),
        revision=_text(document, "revision", "unversioned"),
        service_cidr=_text(document, "serviceCidr", ""),
        guard=pruneguard.Policy(float(percent), allowed),
        files=_files(document.get("files")),
    )


def _get_request(document: Mapping[str, Any]) -> Request:
    resource, output = document.get("resource"), document.get("output", "table")
    if resource not in getrows.RESOURCES:
        raise BadRequestError(f"resource: one of {', '.join(getrows.RESOURCES)}")
    if output not in getrows.OUTPUTS:
        raise BadRequestError(f"output: one of {', '.join(getrows.OUTPUTS)}")
    return Request(
        output=output, path=_text(document, "path", "."), revision="", service_cidr="",
        guard=pruneguard.Policy(pruneguard.DEFAULT_PERCENT, False),
        files=_files(document.get("files")), command="get", resource=str(resource),
        namespace=_text(document, "namespace", ""),
    )  # fmt: skip


def _text(document: Mapping[str, Any], name: str, default: str) -> str:
    value = document.get(name, default)
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise BadRequestError(f"{name}: a string of at most {MAX_TEXT} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise BadRequestError(f"{name}: no control characters")
    return value


def _files(given: object) -> tuple[tuple[str, bytes], ...]:
    if not isinstance(given, list):
        raise BadRequestError("files: a list of {path, data}")
    if len(given) > MAX_FILES:
        raise BadRequestError(f"files: at most {MAX_FILES}")
    found: dict[str, bytes] = {}
    for number, item in enumerate(given):
        if not isinstance(item, dict):
            raise BadRequestError(f"files[{number}]: an object with path and data")
        rel, data = item.get("path"), item.get("data")
        check_path(rel, number)
        assert isinstance(rel, str)
        if rel in found:
            raise BadRequestError(f"files[{number}]: the same path twice")
        if not isinstance(data, str):
            raise BadRequestError(f"files[{number}].data: base64 text")
        try:
            found[rel] = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequestError(f"files[{number}].data: not base64") from None
    folders = {"/".join(rel.split("/")[:i]) for rel in found for i in range(1, rel.count("/") + 1)}
    clash = sorted(folders & set(found))
    if clash:
        raise BadRequestError(f"files: {clash[0]!r} is both a file and a folder")
    return tuple(sorted(found.items()))


def check_path(rel: object, number: int) -> None:
    """A path as `manifests.discovery` gives it: relative, `/`-separated, no empty, `.`, `..` or
    dot-named part (discovery skips those), ending in .yaml or .yml. Raises BadRequestError."""
    where = f"files[{number}].path"
    if not isinstance(rel, str) or not rel or len(rel) > MAX_PATH:
        raise BadRequestError(f"{where}: a relative path of at most {MAX_PATH} characters")
    parts = rel.split("/")
    if len(parts) > MAX_DEPTH + 1:
        raise BadRequestError(f"{where}: more than {MAX_DEPTH} folders deep")
    for part in parts:
        if not part or part.startswith(".") or "\\" in part or "\0" in part:
            raise BadRequestError(f"{where}: each part named, not hidden, no '\\' (no absolute, "
                             "'.' or '..' paths)")  # fmt: skip
        if any(ord(c) < 32 for c in part) or len(part.encode("utf-8", "replace")) > 255:
            raise BadRequestError(f"{where}: a part with a control character or too long")
    if not rel.endswith(SUFFIXES):
        raise BadRequestError(f"{where}: a manifest file ends in .yaml or .yml")


def stage(files: Iterable[tuple[str, bytes]], root: Path) -> None:
    """Write `files` under `root` (a new private folder), never through a link."""
    for rel, data in files:
        target = root.joinpath(*rel.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        descriptor = os.open(target, flags, 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)


class ReadOnly:
    """A `HostExecutor` that only observes: the dry run's. Anything that could change a host
    raises ExecutorConfigError (a dry run never calls it; this makes sure). With `probes`, it
    also runs probes (`get`'s readiness, as GET /v1/observe?readiness=1)."""

    def __init__(self, executor: protocol.HostExecutor, *, probes: bool = False) -> None:
        self._executor = executor
        self._probes = probes
        self._stats = protocol.ExecutorStats()

    @property
    def stats(self) -> protocol.ExecutorStats:
        return self._stats

    def observe(
        self, targets: Iterable[hoststate.HostTarget], *, detail: bool = False
    ) -> dict[str, hoststate.HostObservation]:
        return self._executor.observe(targets, detail=detail)

    def answer_age(self, host: str) -> float | None:
        return self._executor.answer_age(host)

    def _refuse(self, what: str) -> execerrors.ExecutorConfigError:
        return execerrors.ExecutorConfigError(f"a dry run does not {what}")

    def ping(self, target: hoststate.HostTarget) -> str | None:
        raise self._refuse("ping hosts")

    def apply(self, plan: hoststate.Plan, targets: Iterable[hoststate.HostTarget],
              progress: protocol.ProgressCallback | None = None,
              ) -> list[hoststate.ActionResult]:  # fmt: skip
        raise self._refuse("apply a plan")

    def events(self, target: hoststate.HostTarget, pod: hoststate.ObservedPod,
               since_seconds: int) -> list[hoststate.PodEvent]:  # fmt: skip
        raise self._refuse("read events")

    def probe(self, target: hoststate.HostTarget, pod: hoststate.ObservedPod,
              container: hoststate.ObservedContainer, probe: hoststate.ContainerProbe,
              ) -> hoststate.ProbeResult:  # fmt: skip
        if self._probes:
            return self._executor.probe(target, pod, container, probe)
        raise self._refuse("run probes")

    def metrics(self, targets: Iterable[hoststate.HostTarget]) -> dict[str, metrics.HostMetrics]:
        raise self._refuse("read metrics")

    def watch_exits(self, targets: Iterable[hoststate.HostTarget],
                    on_exit: protocol.ExitCallback) -> None:  # fmt: skip
        raise self._refuse("watch containers")

    def lb_apply(self, targets: Sequence[hoststate.HostTarget],
                 configs: Mapping[str, loadbalancer.Config],
                 ) -> dict[str, loadbalancer.Status]:  # fmt: skip
        raise self._refuse("configure load balancers")

    def lb_status(self, targets: Sequence[hoststate.HostTarget]) -> dict[str, loadbalancer.Status]:
        raise self._refuse("read load balancers")

    def close(self) -> None:
        """The daemon's executor is the daemon's to close."""


class DryRun:
    """Answers POST /v1/diff for a daemon: `targets()` gives the hosts it manages, `age_key_file`
    decrypts SOPS-encrypted Secrets (the daemon's own). One plan at a time; thread-safe."""

    def __init__(
        self,
        executor: protocol.HostExecutor,
        targets: Callable[[], Sequence[hoststate.HostTarget]],
        age_key_file: Path | None = None,
        registry: metricsmod.Registry | None = None,
        state_file: Path | None = None,
    ) -> None:
        self._executor = ReadOnly(executor)
        self._prober = ReadOnly(executor, probes=True)
        self._state_file = state_file  # the records `get pods` shows; None: the default place
        self._targets = targets
        self._age_key_file = age_key_file
        self._one = threading.Semaphore(1)
        self._lock = threading.Lock()
        self.served = 0
        self._counter = None if registry is None else registry.counter(
            "reconciler_dry_runs_served_total",
            "Plans made for a one-shot `reconciler diff` on POST /v1/diff",
        )  # fmt: skip

    def answer(self, body: bytes) -> Answer:
        """The HTTP status and the JSON document; never raises."""
        try:
            request = parse(body)
        except BadRequestError as exc:
            return 400, {"error": str(exc)}
        if not self._one.acquire(timeout=BUSY_WAIT):
            return 503, {"error": "busy with another dry run"}
        try:
            return self._plan(request)
        except loader.RepositoryError as exc:  # the service CIDR
            return 400, {"error": str(exc)}
        except errors.ReconcilerError as exc:
            log.warning("%s: cannot plan: %s", ROUTE, exc)
            return 503, {"error": f"cannot plan now: {exc}"}
        except Exception as exc:  # a bug: logged here, never a traceback to the client
            log.exception("planning for %s failed", ROUTE)
            return 500, {"error": f"internal error: {type(exc).__name__}"}
        finally:
            self._one.release()

    def _plan(self, request: Request) -> Answer:
        known = {t.name: t for t in self._targets()}
        if not known:
            return 503, {"error": "no hosts known yet: the first sync has not read the repository"}
        loaded = self._load(request)
        if isinstance(loaded, tuple):
            return loaded
        if request.command == "get":
            return self._get(request, loaded, known)
        if not loaded.ok:
            return self._served(planout.invalid(loaded, "diff", request.path))
        unmanaged = self._unmanaged(loaded, known)
        if unmanaged is not None:
            return unmanaged
        records = self._state_file.parent if self._state_file is not None else None
        prepared = sync.prepare_loaded(loaded, self._executor, request.revision,
                                       guard=request.guard, state_dir=records)  # fmt: skip
        return self._served(planout.diff(prepared, request.output))

    def _load(self, request: Request) -> loader.LoadResult | Answer:
        """The request's manifests loaded, or the answer that they cannot be here."""
        with tempfile.TemporaryDirectory(prefix="reconciler-dryrun-") as folder:
            root = Path(folder)
            try:
                stage(request.files, root)
            except OSError as exc:
                return 400, {"error": f"files: cannot be laid out: {exc.strerror}"}
            loaded = loader.load_repository(
                root, age_key_file=self._age_key_file, service_cidr=request.service_cidr or None
            )
        if not loaded.ok and any(d.code is dg.Code.SOPS for d in loaded.errors):  # our key's fault?
            return 409, {"error": "a SOPS-encrypted Secret cannot be read with the daemon's "
                                      "age key: plan with your own", "sops": True}  # fmt: skip
        return loaded

    def _unmanaged(self, loaded: loader.LoadResult,
                   known: Mapping[str, hoststate.HostTarget]) -> Answer | None:  # fmt: skip
        unmanaged = sorted(t.name for t in sync.targets_of(loaded.state)
                           if known.get(t.name) != t)  # fmt: skip
        if not unmanaged:
            return None
        return 409, {"error": "the manifests declare hosts this daemon does not manage at "
                              "that address: " + ", ".join(unmanaged),
                     "unmanaged": unmanaged}  # fmt: skip

    def _get(self, request: Request, loaded: loader.LoadResult,
             known: Mapping[str, hoststate.HostTarget]) -> Answer:  # fmt: skip
        """`get pods|deployments`: the hosts read now with one run of the probes, the rows as
        `cli.get` makes them (`getrows.view`)."""
        unmanaged = self._unmanaged(loaded, known)
        if unmanaged is not None:
            return unmanaged
        targets = sync.targets_of(loaded.state)
        seen = self._prober.observe(targets, detail=request.resource == "pods")
        seen = manager.readiness_once(self._prober, seen, {t.name: t for t in targets})
        state = self._state_file or storemod.path_in(storemod.default_state_dir())
        try:
            made = getrows.view(request.resource, loaded, seen, request.namespace,
                                request.output, state=state)  # fmt: skip
        except getrows.InvalidError:
            made = planout.invalid(loaded, "get", request.path)
        return self._served(made)

    def _served(self, output: planout.Output) -> Answer:
        with self._lock:
            self.served += 1
            served = self.served
        if self._counter is not None:
            self._counter.inc()
        log.info("served a dry run (exit %d)", output.code,
                 extra={"code": output.code, "served": served})  # fmt: skip
        return 200, {"version": VERSION, "served": served, **output.as_json()}
