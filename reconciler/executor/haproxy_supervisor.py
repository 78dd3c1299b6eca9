"""Keeps one host's HAProxy running with its `loadbalancer.Config` (on the executor's loop, over
the host's SSH connection); `PodmanSSHExecutor.lb_apply`/`lb_status` call `apply`/`status`.

HAProxy is the distribution's binary run as the host's user, as a plain daemon (`-D`) with its
files in `~/.local/share/reconciler/lb/`. Alive means: its admin socket answers. A dead one is
started; a change of listeners is a seamless reload (`-x admin.sock -sf OLDPID`: the new process
takes the listening sockets over, the old one finishes its connections); a change of servers only
goes through the runtime API (`haproxy_runtime`). No listeners: HAProxy is stopped (soft stop).

A pass that wants what was last verified on this connection asks nothing for PID_EVERY seconds,
then only HAProxy's pid (one runtime API call): the same pid means the same process with what it
was given. The config file and the servers are read again (a hand edit, a server changed by
hand) once VERIFY_EVERY seconds passed since the last full check, and at once after a new pid,
an error or any change.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from reconciler.executor import (
    errors,
    haproxy_config,
    haproxy_runtime,
    hostsfile,
    lbports,
    protocol,
    sshconn,
)
from reconciler.model import hoststate, loadbalancer

log = logging.getLogger(__name__)

BINARY = "/usr/sbin/haproxy"
ERROR_LINES = 3  # lines of HAProxy's stderr kept in an error message
VERIFY_EVERY = 30.0
"""Seconds a full check (config file, servers) of a host's HAProxy stands for: meanwhile a pass
that wants the same config checks only the pid (1 round trip instead of 4)."""
RUNTIME_COMMANDS_MAX = 30
"""More server changes than this on one host are one seamless reload instead: each runtime API
command is a round trip of its own (100 pods joining a Service were 300 a host, 15,000 at 50
hosts, minutes)."""
PID_EVERY = 15.0
"""Seconds a pid check stands for: a pass within them that wants the verified config makes no
call at all. A killed HAProxy is started again by the first pass after them (at a 10 s resync,
the next one or the one after)."""


class StartFailed(errors.ExecutorError):
    """HAProxy refused to start or reload (bad configuration, a port in use, no binary)."""

    def __init__(self, host: str, what: str, detail: str) -> None:
        super().__init__(f"host {host}: haproxy {what} failed: {detail}")


HOST_LB_ERRORS = (
    errors.OperationFailed,
    StartFailed,
    haproxy_runtime.RuntimeCommandError,
    haproxy_runtime.NotRunning,
    loadbalancer.UnsafeTokenError,
    TimeoutError,
)
"""Problems of the host's HAProxy (not of the host): reported in the status' `error`."""


class HostLink(Protocol):
    """What the supervisor uses of a host's connection (`sshconn.HostConnection`; a fake in
    tests): the admin socket, one fixed command, files below the state dir."""

    target: hoststate.HostTarget
    settings: sshconn.SSHSettings
    state_dir: str

    async def open_unix(self, path: str) -> haproxy_runtime.Streams: ...

    async def run_argv(self, argv: Sequence[str], timeout: float) -> tuple[int, str]: ...

    async def read_file(self, relative: str) -> bytes | None: ...

    async def write_files(self, files: Sequence[hoststate.HostFile]) -> int: ...

    async def overwrite_file(self, relative: str, content: bytes) -> bool: ...


@dataclass(frozen=True)
class Context:
    """What `apply`/`status` need of one host: its connection and where to count changes."""

    connection: HostLink
    stats: protocol.ExecutorStats
    binary: str = BINARY
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    @property
    def host(self) -> str:
        return self.connection.target.name

    @property
    def paths(self) -> haproxy_config.Paths:
        return haproxy_config.Paths.below(self.connection.state_dir)

    @property
    def timeout(self) -> float:
        return self.connection.settings.command_timeout

    def api(self) -> haproxy_runtime.RuntimeAPI:
        socket = self.paths.socket

        async def opener() -> haproxy_runtime.Streams:
            return await self.connection.open_unix(socket)

        return haproxy_runtime.RuntimeAPI(opener, min(10.0, self.timeout))


async def status(ctx: Context) -> loadbalancer.Status:
    """What the host's HAProxy reports (read-only). Raises a `HostError` for a lost host."""
    api = ctx.api()
    pid = await api.pid()
    ctx.stats.count_read()
    _forget_other(ctx, pid)
    if pid is None:
        return loadbalancer.Status(ctx.host, running=False)
    try:
        found = await api.servers()
    except haproxy_runtime.NotRunning:  # it stopped between the two reads
        return loadbalancer.Status(ctx.host, running=False)
    ctx.stats.count_read(2)
    return loadbalancer.Status(ctx.host, running=True, servers=found, pid=pid)


def _forget_other(ctx: Context, pid: int | None) -> None:
    """A read that finds another HAProxy process than the one verified (or none): the next
    `apply` checks fully at once, not only after PID_EVERY (a killed or restarted HAProxy that
    a status read saw is started or checked by the next pass)."""
    verified = _VERIFIED.get(ctx.connection)
    if verified is not None and verified.pid != pid:
        del _VERIFIED[ctx.connection]


async def apply(ctx: Context, config: loadbalancer.Config) -> loadbalancer.Status:
    """Make the host's HAProxy serve `config` and return its status read back. Problems of
    HAProxy itself (a refused start, a bad value) are in the status' `error`; a `HostError`
    (the host is lost) is raised."""
    started = time.monotonic()
    # the pods' /etc/hosts files (not HAProxy's), whatever HAProxy does: `hostsfile`
    await hostsfile.update(ctx.connection, config.hosts_files, ctx.stats)
    try:
        config, refused = await lbports.bindable(ctx.connection, config, ctx.timeout)
        _report(ctx.host, refused)
        changed, known = await _converge(ctx, config)
    except HOST_LB_ERRORS as exc:
        _VERIFIED.pop(ctx.connection, None)
        log.warning("load balancer on %s: %s", ctx.host, exc)
        current = await _status_or_down(ctx)
        error = str(exc) or type(exc).__name__
        return loadbalancer.Status(
            ctx.host, current.running, error, current.servers, pid=current.pid
        )
    current = known or await status(ctx)  # read back unless nothing changed
    log.debug("load balancer on %s: %s in %.3fs", ctx.host, changed, time.monotonic() - started)
    return loadbalancer.Status(
        ctx.host,
        current.running,
        "; ".join(refused),
        servers=current.servers,
        started=changed == "started",
        reloaded=changed == "reloaded",
        pid=current.pid,
    )


@dataclass(frozen=True)
class _Verified:
    """What a full check of one connection's HAProxy found right: it runs `config` as `pid`
    (the config kept, not its text: an unchanged pass neither renders nor reads it)."""

    config: loadbalancer.Config
    pid: int
    servers: tuple[loadbalancer.ServerStatus, ...]
    at: float  # ctx.clock() of the full check
    pid_at: float  # ctx.clock() of the last pid check (the full check's, or a later one)


_VERIFIED: weakref.WeakKeyDictionary[HostLink, _Verified] = weakref.WeakKeyDictionary()
"""Per connection (a new connection checks fully): the last full check that changed nothing."""


_REPORTED: dict[str, tuple[str, ...]] = {}
"""The ports each host last could not bind: logged when that changes, not every pass."""


def _report(host: str, refused: tuple[str, ...]) -> None:
    if _REPORTED.get(host, ()) != refused:
        for sentence in refused:
            log.warning("load balancer on %s: %s", host, sentence)
        _REPORTED[host] = refused


async def _status_or_down(ctx: Context) -> loadbalancer.Status:
    try:
        return await status(ctx)
    except HOST_LB_ERRORS:
        return loadbalancer.Status(ctx.host, running=False)


async def _converge(
    ctx: Context, config: loadbalancer.Config
) -> tuple[str, loadbalancer.Status | None]:
    """"started", "reloaded", "stopped", "updated" (runtime API) or "unchanged", and the status
    when "unchanged" (what was read is still true) or "stopped" (not read back)."""
    api = ctx.api()
    verified = _VERIFIED.pop(ctx.connection, None)
    pid: int | None = None
    now = ctx.clock()
    if config.listeners and verified is not None and (
        verified.config is config or verified.config == config
    ) and now - verified.at < VERIFY_EVERY:
        if now - verified.pid_at >= PID_EVERY:
            pid = await api.pid()  # the same process runs what was verified: nothing to read
            ctx.stats.count_read()
            verified = dataclasses.replace(verified, pid_at=now)
        else:
            pid = verified.pid
        if pid is not None and pid == verified.pid:
            _VERIFIED[ctx.connection] = verified
            return "unchanged", loadbalancer.Status(
                ctx.host, True, servers=verified.servers, pid=pid
            )
    text = haproxy_config.render(config, ctx.paths)  # before any change: a bad value, no change
    if not config.listeners:
        pid = await api.pid()
        ctx.stats.count_read()
        if pid is None:
            return "unchanged", loadbalancer.Status(ctx.host, running=False)
        await _run(ctx, ["kill", "-USR1", str(pid)], "stop")
        ctx.stats.count(protocol.Mutation.LB_STOP)
        # not read back: a soft-stopping HAProxy may still answer `show info` and then close
        # its socket before `show stat`
        return "stopped", loadbalancer.Status(ctx.host, running=False)
    if verified is not None and pid is not None:  # asked above: another process
        old = await ctx.connection.read_file(haproxy_config.CONFIG_FILE)
    else:
        pid, old = await asyncio.gather(
            api.pid(), ctx.connection.read_file(haproxy_config.CONFIG_FILE)
        )
    ctx.stats.count_read()
    old_text = old.decode(errors="replace") if old is not None else ""
    changed = "unchanged"
    if pid is None:
        await _write(ctx, text)
        await _start(ctx, None)
        changed = "started"
    elif haproxy_config.digest_of(old_text) != haproxy_config.listeners_digest(config):
        await _reload(ctx, text, old_text, pid)
        changed = "reloaded"
    done, running = await _runtime(ctx, api, config)
    if changed == "unchanged":
        changed = done or changed
        if old_text != text:
            await _write(ctx, text)  # what a later start or reload loads
    if changed == "unchanged" and pid is not None:
        _VERIFIED[ctx.connection] = _Verified(config, pid, running, now, now)
        return changed, loadbalancer.Status(ctx.host, True, servers=running, pid=pid)
    return changed, None


async def _runtime(
    ctx: Context, api: haproxy_runtime.RuntimeAPI, config: loadbalancer.Config
) -> tuple[str, tuple[loadbalancer.ServerStatus, ...]]:
    """Converge the servers through the runtime API: "updated" when a command was needed,
    "reloaded" when it fell back to a reload, "" when nothing was to do (with the servers
    read before). A command HAProxy refuses (e.g. deleting a server it still holds connections
    to), or more than RUNTIME_COMMANDS_MAX of them, is a seamless reload instead, after which
    the configuration is right by construction."""
    running = await api.servers()
    ctx.stats.count_read(2)
    commands = [c for item in config.listeners for c in haproxy_runtime.commands_for(item, running)]
    if len(commands) > RUNTIME_COMMANDS_MAX:
        log.info("load balancer on %s: %d server changes; reloading instead", ctx.host,
                 len(commands))  # fmt: skip
        return "reloaded", await _reload_instead(ctx, api, config)
    for command in commands:
        try:
            await api.run(command)
        except haproxy_runtime.RuntimeCommandError as exc:
            log.info("load balancer on %s: %s; reloading instead", ctx.host, exc)
            return "reloaded", await _reload_instead(ctx, api, config)
        ctx.stats.count(protocol.Mutation.LB_SERVER_CHANGE)
    return ("updated" if commands else ""), running


async def _reload_instead(
    ctx: Context, api: haproxy_runtime.RuntimeAPI, config: loadbalancer.Config
) -> tuple[loadbalancer.ServerStatus, ...]:
    """A seamless reload with `config`; the servers read back (only the drain states of its
    `disabled` servers are then set through the runtime API)."""
    pid = await api.pid()
    if pid is None:
        raise haproxy_runtime.NotRunning("haproxy stopped while its servers were changed")
    await _reload(ctx, haproxy_config.render(config, ctx.paths), None, pid)
    running = await api.servers()
    for item in config.listeners:
        for again in haproxy_runtime.commands_for(item, running):
            await api.run(again)
    return running


async def _write(ctx: Context, text: str) -> None:
    file = hoststate.HostFile(haproxy_config.CONFIG_FILE, text.encode(), mode=0o600)
    ctx.stats.count(protocol.Mutation.FILE_WRITE, await ctx.connection.write_files([file]))


async def _start(ctx: Context, old_pid: int | None) -> None:
    """Start HAProxy as a daemon; with `old_pid`, as a seamless reload of that process."""
    paths = ctx.paths
    argv = [ctx.binary, "-D", "-f", paths.config, "-p", paths.pidfile]
    if old_pid is not None:
        argv += ["-x", paths.socket, "-sf", str(int(old_pid))]
    await _run(ctx, argv, "reload" if old_pid is not None else "start")
    kind = protocol.Mutation.LB_RELOAD if old_pid is not None else protocol.Mutation.LB_START
    ctx.stats.count(kind)


async def _reload(ctx: Context, text: str, old_text: str | None, pid: int) -> None:
    """Write `text` and reload; when HAProxy refuses it, the old process keeps serving and the
    file goes back to what that process runs (so the next apply tries again)."""
    await _write(ctx, text)
    try:
        await _start(ctx, pid)
    except StartFailed:
        if old_text:
            await _write(ctx, old_text)
        raise


async def _run(ctx: Context, argv: list[str], what: str) -> None:
    status, stderr = await ctx.connection.run_argv(argv, ctx.timeout)
    if status != 0:
        lines = [line for line in stderr.splitlines() if "[ALERT]" in line] or stderr.splitlines()
        detail = " / ".join(line.strip() for line in lines[-ERROR_LINES:]) or f"exit {status}"
        raise StartFailed(ctx.host, what, detail)
