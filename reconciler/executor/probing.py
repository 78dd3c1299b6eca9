"""One run of one container probe on a host session, as `PodmanSSHExecutor.probe` makes it for
the prober (`controllers.prober`): httpGet and tcpSocket connect to the host's 127.0.0.1 through
the host's SSH connection (nothing is needed in the image); exec runs through Podman's exec API.

Every outcome is a `ProbeResult` with a short message (`HTTP 503`, `connection refused`,
`timeout after 1s`, `exit code 1`); nothing here raises for a failed probe or a lost host.
"""

from __future__ import annotations

import asyncio
import logging
import time

import asyncssh

from reconciler.executor import errors, hostsession, loop, podmanapi, sshconn
from reconciler.model import hoststate, workloads

log = logging.getLogger(__name__)

TCP_SETTLE = 0.5
"""Seconds a tcpSocket probe waits after connecting. A port forwarder (Podman's rootlessport)
accepts on the host even when nothing listens in the container, then closes the connection
(about 0.2s later): a connection closed within this time counts as refused."""
STATUS_LINE_MAX = 8192
EXEC_EXIT_POLLS = 20  # inspects (10 ms apart) waiting for an ended exec session's exit code
USER_AGENT = "reconciler-probe/1"


def _result(ok: bool, message: str, started: float) -> hoststate.ProbeResult:
    return hoststate.ProbeResult(ok, message, round(time.monotonic() - started, 6))


def _timeout_message(probe: workloads.Probe) -> str:
    return f"timeout after {probe.timeout_seconds}s"


def _connection_failed(
    exc: BaseException, probe: workloads.Probe, started: float
) -> hoststate.ProbeResult:
    """The failed result of a probe whose connection failed: timed out, refused by the host
    (the executor's words), or broken below."""
    if isinstance(exc, TimeoutError):
        return _result(False, _timeout_message(probe), started)
    if isinstance(exc, errors.ExecutorError):
        return _result(False, _refusal(exc), started)
    return _result(False, f"connection failed: {exc}", started)


def _refusal(exc: errors.ExecutorError) -> str:
    """The probe message for a failed connection: the host's reason, lower-cased."""
    if isinstance(exc, errors.OperationFailed):
        return exc.detail.lower()
    return str(exc)


async def tcp(
    connection: sshconn.HostConnection, port: int, probe: workloads.Probe
) -> hoststate.ProbeResult:
    """tcpSocket: open a connection to 127.0.0.1:`port` on the host; passed unless refused."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(probe.timeout_seconds):
            reader, writer = await connection.open_loopback(port)
            try:
                settle = min(
                    TCP_SETTLE, max(0.0, started + probe.timeout_seconds - time.monotonic())
                )
                try:
                    data = await asyncio.wait_for(reader.read(1), settle)
                except TimeoutError:
                    return _result(True, "connected", started)
                if not data:
                    return _result(False, "connection refused (closed at once)", started)
                return _result(True, "connected", started)
            finally:
                writer.close()
    except (OSError, asyncssh.Error, errors.ExecutorError) as exc:  # TimeoutError included
        return _connection_failed(exc, probe, started)


def http_request(probe: workloads.Probe, port: int) -> bytes:
    """The GET request of an httpGet probe; ValueError for a path or header that would break
    the request line (control characters)."""
    path = probe.path if probe.path.startswith("/") else f"/{probe.path}"
    headers = {"Host": f"127.0.0.1:{port}", "User-Agent": USER_AGENT, "Accept": "*/*"}
    for name, value in probe.http_headers:
        headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
        headers[name] = value
    headers["Connection"] = "close"
    lines = [f"GET {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    if " " in path:
        raise ValueError(f"invalid path {path!r}: spaces must be written %20")
    for line in lines:
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in line):
            raise ValueError(f"invalid character in the probe's {line.split(' ', 1)[0]!r}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def status_code(line: bytes) -> int | None:
    """The status of an HTTP status line (`HTTP/1.1 200 OK`), None when it is not one."""
    parts = line.decode("latin-1").split(None, 2)
    if len(parts) >= 2 and parts[0].startswith("HTTP/") and parts[1].isdigit():
        return int(parts[1])
    return None


async def _status_line(reader: asyncssh.SSHReader[bytes]) -> bytes:
    """The response's first line (b"" when the connection closed before any byte)."""
    data = b""
    while b"\n" not in data and len(data) < STATUS_LINE_MAX:
        chunk = await reader.read(STATUS_LINE_MAX - len(data))
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0]


async def http_get(
    connection: sshconn.HostConnection, port: int, container_port: int, probe: workloads.Probe
) -> hoststate.ProbeResult:
    """httpGet: GET the probe's path at 127.0.0.1:`port` on the host; passed for a status from
    200 to 399 (Kubernetes' rule; redirects are not followed)."""
    started = time.monotonic()
    try:
        request = http_request(probe, container_port)
    except ValueError as exc:
        return _result(False, str(exc), started)
    try:
        async with asyncio.timeout(probe.timeout_seconds):
            reader, writer = await connection.open_loopback(port)
            try:
                writer.write(request)
                line = await _status_line(reader)
            finally:
                writer.close()
    except (OSError, asyncssh.Error, errors.ExecutorError) as exc:  # TimeoutError included
        return _connection_failed(exc, probe, started)
    if not line:
        return _result(False, "no HTTP response (connection closed)", started)
    code = status_code(line)
    if code is None:
        return _result(False, "not an HTTP response", started)
    return _result(200 <= code < 400, f"HTTP {code}", started)


def exec_command(
    api: podmanapi.PodmanAPI, container_id: str, probe: workloads.Probe
) -> hoststate.ProbeResult:
    """exec: run the probe's command in the container (no shell); passed when it exits 0."""
    started = time.monotonic()
    try:
        exec_id = api.exec_create(container_id, list(probe.command))
        remaining = max(0.1, started + probe.timeout_seconds - time.monotonic())
        if not api.exec_run(exec_id, remaining):
            return _result(False, _timeout_message(probe), started)
        for _ in range(EXEC_EXIT_POLLS):
            state = api.exec_inspect(exec_id)
            if not state.get("Running"):
                code = int(state.get("ExitCode") or 0)
                return _result(code == 0, f"exit code {code}", started)
            time.sleep(0.01)
        return _result(False, _timeout_message(probe), started)
    except errors.OperationFailed as exc:
        if exc.status == 409:
            return _result(False, "container is not running", started)
        if exc.status == 404:
            return _result(False, "container no longer exists", started)
        return _result(False, f"exec failed: {exc.detail}", started)
    except errors.ExecutorError as exc:
        return _result(False, str(exc), started)


def run(
    session: hostsession.HostSession,
    runner: loop.LoopThread,
    pod: hoststate.ObservedPod,
    container: hoststate.ObservedContainer,
    item: hoststate.ContainerProbe,
) -> hoststate.ProbeResult:
    """Run `item` of `container` once on the host of `session` (see the module docstring)."""
    probe = item.probe
    if probe.handler is workloads.ProbeHandler.EXEC:
        return exec_command(session.api, container.podman_id, probe)
    host_port = dict(pod.probe_ports).get(probe.port)
    if host_port is None:
        return hoststate.ProbeResult(
            False, f"container port {probe.port} is not published on the host (no probe port)"
        )
    if probe.handler is workloads.ProbeHandler.HTTP_GET:
        return runner.run(http_get(session.connection, host_port, probe.port, probe))
    return runner.run(tcp(session.connection, host_port, probe))
