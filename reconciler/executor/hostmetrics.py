"""One host's resource sample for `PodmanSSHExecutor.metrics`: CPU time and resident memory of
every running managed container, from Podman's stats API where it works (cgroup v2), otherwise
from the container processes' /proc/PID/stat, read with one fixed remote command.

Per host, the first sample tries the stats API; a host that refuses it (rootless on cgroup v1)
is read through /proc from then on (`Collector` remembers the source per host).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.executor import errors, hostsession, loop, observed, sshconn
from reconciler.model import hoststate, metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcEntry:
    """The fields of one /proc/PID/stat line that matter here (CPU in clock ticks)."""

    pid: int
    ppid: int
    ticks: int  # utime + stime + cutime + cstime
    rss_pages: int


@dataclass(frozen=True)
class ProcSample:
    clock_ticks: int
    page_size: int
    uptime: float
    processes: Mapping[int, ProcEntry]


def parse_stat_line(line: str) -> ProcEntry | None:
    """One /proc/PID/stat line; None when it is not one (the command's comm may hold spaces
    and parentheses: fields are counted after the last ')')."""
    head, _, tail = line.rpartition(")")
    pid_text = head.split("(", 1)[0].strip()
    fields = tail.split()
    if not pid_text.isdigit() or len(fields) < 22:
        return None
    try:
        ppid = int(fields[1])
        ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
        rss = int(fields[21])
    except ValueError:
        return None
    return ProcEntry(int(pid_text), ppid, ticks, max(0, rss))


def parse_proc(stdout: str) -> ProcSample:
    """The output of `sshconn.PROC_STATS`: clock ticks, page size, uptime, then stat lines."""
    lines = stdout.splitlines()
    if sshconn.PROC_MARKER in lines:
        lines = lines[lines.index(sshconn.PROC_MARKER) + 1 :]
    if len(lines) < 3:
        raise errors.OperationFailed("read /proc", "the host printed too little")
    try:
        clock_ticks, page_size = int(lines[0]), int(lines[1])
        uptime = float(lines[2].split()[0])
    except (ValueError, IndexError) as exc:
        raise errors.OperationFailed("read /proc", f"unexpected output: {exc}") from exc
    processes: dict[int, ProcEntry] = {}
    for line in lines[3:]:
        entry = parse_stat_line(line)
        if entry is not None:
            processes[entry.pid] = entry
    return ProcSample(max(1, clock_ticks), max(1, page_size), uptime, processes)


def children_of(sample: ProcSample) -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in sample.processes.values():
        children.setdefault(entry.ppid, []).append(entry.pid)
    return children


def tree_usage(
    sample: ProcSample, root: int, children: Mapping[int, list[int]] | None = None
) -> tuple[float, int]:
    """(CPU seconds, resident bytes) of process `root` and all its descendants."""
    tree = children if children is not None else children_of(sample)
    ticks = pages = 0
    todo, seen = [root], set()
    while todo:
        pid = todo.pop()
        found = sample.processes.get(pid)
        if found is None or pid in seen:
            continue
        seen.add(pid)
        ticks += found.ticks
        pages += found.rss_pages
        todo.extend(tree.get(pid, ()))
    return ticks / sample.clock_ticks, pages * sample.page_size


@dataclass(frozen=True)
class Running:
    """A running managed app container, from the container list."""

    namespace: str
    pod: str
    container: str
    podman_id: str
    pid: int


def running(listed: Iterable[Mapping[str, Any]]) -> list[Running]:
    out = []
    for entry in listed:
        labels = entry.get("Labels") or {}
        name = labels.get(hoststate.LABEL_CONTAINER)
        pid = entry.get("Pid")
        if not name or entry.get("State") != "running" or not isinstance(pid, int) or pid <= 0:
            continue
        out.append(Running(str(labels.get(hoststate.LABEL_NAMESPACE, "")),
                           str(labels.get(hoststate.LABEL_NAME, "")), str(name),
                           str(entry.get("Id", "")), pid))  # fmt: skip
    return out


def from_proc(host: str, sample: ProcSample, containers: list[Running]) -> metrics.HostMetrics:
    usages = []
    children = children_of(sample)
    for c in containers:
        if c.pid not in sample.processes:
            continue  # ended between the list and the read
        cpu, memory = tree_usage(sample, c.pid, children)
        usages.append(metrics.ContainerUsage(c.namespace, c.pod, c.container, c.podman_id,
                                             cpu, memory))  # fmt: skip
    return metrics.HostMetrics(host, True, metrics.Source.PROC, sample.uptime, tuple(usages))


def from_stats(
    host: str, stats: Iterable[Mapping[str, Any]], containers: list[Running], now: float
) -> metrics.HostMetrics:
    by_id = {str(s.get("ContainerID", "")): s for s in stats}
    usages = []
    for c in containers:
        found = by_id.get(c.podman_id)
        if found is None:
            continue
        cpu = float(found.get("CPUNano") or 0) / 1e9
        memory = int(found.get("MemUsage") or 0)
        usages.append(metrics.ContainerUsage(c.namespace, c.pod, c.container, c.podman_id,
                                             cpu, memory))  # fmt: skip
    return metrics.HostMetrics(host, True, metrics.Source.PODMAN_STATS, now, tuple(usages))


class Collector:
    """Samples hosts; remembers per host whether Podman's stats API works there."""

    def __init__(self, runner: loop.LoopThread, clock: Any = time.monotonic) -> None:
        self._runner = runner
        self._clock = clock
        self._lock = threading.Lock()
        self._source: dict[str, metrics.Source] = {}

    def source(self, host: str) -> metrics.Source | None:
        with self._lock:
            return self._source.get(host)

    def sample(self, session: hostsession.HostSession) -> metrics.HostMetrics:
        """Raises `HostError` for a lost host, `OperationFailed` when neither source works."""
        host = session.target.name
        listed = running(session.api.list_containers(observed.managed_filter()))
        if self.source(host) is not metrics.Source.PROC:
            try:
                stats = session.api.container_stats()
                with self._lock:
                    self._source[host] = metrics.Source.PODMAN_STATS
                return from_stats(host, stats, listed, self._clock())
            except errors.OperationFailed as exc:
                log.info("host %s: podman stats unavailable (%s): reading /proc", host, exc.detail)
                with self._lock:
                    self._source[host] = metrics.Source.PROC
        text = self._runner.run(session.connection.read_proc_stats())
        session.stats.count_read()
        return from_proc(host, parse_proc(text), listed)
