"""The in-memory load balancers of `FakeExecutor` (`lb_apply`/`lb_status` without hosts): the
same decisions as `haproxy_supervisor` (start a dead one, reload on a listener change, runtime
API commands for a server change, stop with no listener), the same counters and statuses.

Tests steer it: `kill` a host's HAProxy, `set_sessions` and `set_check` of a server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reconciler.executor import errors, haproxy_config, haproxy_runtime, protocol
from reconciler.model import hoststate, loadbalancer

FAKE_PATHS = haproxy_config.Paths("/fake/lb/haproxy.cfg", "/fake/lb/haproxy.pid", "/fake/lb/a")
ServerKey = tuple[str, str, str]  # host, listener, server


class FakeBalancers:
    """One fake HAProxy per host: `configs[host]` is what it serves (absent: not running)."""

    def __init__(self, stats: protocol.ExecutorStats) -> None:
        self._stats = stats
        self._pids = iter(range(1000, 1 << 30))
        self.configs: dict[str, loadbalancer.Config] = {}
        self.pids: dict[str, int] = {}
        self.sessions: dict[ServerKey, int] = {}
        self.checks: dict[ServerKey, str] = {}
        self.calls: list[str] = []  # "start h1", "reload h1", "stop h1", "runtime h1 <command>"

    # ----- steering (tests) --------------------------------------------------------------------

    def kill(self, host: str) -> None:
        """The host's HAProxy dies (the next `lb_apply` starts it again)."""
        self.configs.pop(host, None)
        self.pids.pop(host, None)

    def set_sessions(self, host: str, listener: str, server: str, sessions: int) -> None:
        self.sessions[(host, listener, server)] = sessions

    def set_check(self, host: str, listener: str, server: str, check: str) -> None:
        """HAProxy's check status column for that server ("UP" unless set, e.g. "DOWN")."""
        self.checks[(host, listener, server)] = check

    # ----- the executor's calls (under the executor's lock) ------------------------------------

    def apply(
        self,
        targets: Sequence[hoststate.HostTarget],
        configs: Mapping[str, loadbalancer.Config],
        unreachable: Mapping[str, str],
    ) -> dict[str, loadbalancer.Status]:
        out: dict[str, loadbalancer.Status] = {}
        for target in targets:
            why = unreachable.get(target.name)
            if why is not None:
                out[target.name] = _down(target.name, why)
                continue
            out[target.name] = self._apply(target.name, configs.get(target.name))
        return out

    def status(
        self, targets: Sequence[hoststate.HostTarget], unreachable: Mapping[str, str]
    ) -> dict[str, loadbalancer.Status]:
        out: dict[str, loadbalancer.Status] = {}
        for target in targets:
            why = unreachable.get(target.name)
            if why is None:  # as the real one: `show info`, then the two server reads
                self._stats.count_read(3 if target.name in self.configs else 1)
            out[target.name] = _down(target.name, why) if why else self._status(target.name)
        return out

    def _apply(self, host: str, config: loadbalancer.Config | None) -> loadbalancer.Status:
        config = config or loadbalancer.Config()
        try:
            haproxy_config.render(config, FAKE_PATHS)
        except loadbalancer.UnsafeTokenError as exc:
            return self._status(host, error=str(exc))
        running = self.configs.get(host)
        self._stats.count_read(3)
        if not config.listeners:
            if running is not None:
                self.calls.append(f"stop {host}")
                self._stats.count(protocol.Mutation.LB_STOP)
                self.kill(host)
            return self._status(host)
        started = reloaded = False
        if running is None:
            self.calls.append(f"start {host}")
            self._stats.count(protocol.Mutation.LB_START)
            self.pids[host] = next(self._pids)
            started = True
        elif haproxy_config.listeners_digest(running) != haproxy_config.listeners_digest(config):
            self.calls.append(f"reload {host}")
            self._stats.count(protocol.Mutation.LB_RELOAD)
            self.pids[host] = next(self._pids)
            reloaded = True
        else:
            now = self._servers(host, running)
            for item in config.listeners:
                for command in haproxy_runtime.commands_for(item, now):
                    self.calls.append(f"runtime {host} {command}")
                    self._stats.count(protocol.Mutation.LB_SERVER_CHANGE)
        self.configs[host] = config
        return self._status(host, started=started, reloaded=reloaded)

    def _servers(
        self, host: str, config: loadbalancer.Config
    ) -> tuple[loadbalancer.ServerStatus, ...]:
        return tuple(
            loadbalancer.ServerStatus(
                listener=item.name,
                server=server.name,
                address=server.address,
                port=server.port,
                admin_state=str(server.state),
                check=self.checks.get((host, item.name, server.name), "UP"),
                sessions=self.sessions.get((host, item.name, server.name), 0),
            )
            for item in config.listeners
            for server in item.servers
        )

    def _status(
        self, host: str, *, error: str = "", started: bool = False, reloaded: bool = False
    ) -> loadbalancer.Status:
        config = self.configs.get(host)
        if config is None:
            return loadbalancer.Status(host, running=False, error=error)
        return loadbalancer.Status(
            host,
            running=True,
            error=error,
            servers=self._servers(host, config),
            started=started,
            reloaded=reloaded,
            pid=self.pids.get(host, 0),
        )


def _down(host: str, why: str) -> loadbalancer.Status:
    error = str(errors.HostUnreachable(host, host, why))
    return loadbalancer.Status(host, running=False, error=error)
