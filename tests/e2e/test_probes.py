"""Probes on the real test hosts: a busybox httpd pod WITHOUT hostPort gets loopback-only probe
ports (`probeports.allocate`), read back from its labels; httpGet, tcpSocket and exec probes run
through the host's SSH connection and Podman's exec API; the prober turns them into readiness.

Namespace `probe-e2e` (plus a random suffix), removed at the end: other tests share the hosts.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from reconciler.controllers import prober as probermod
from reconciler.executor import podman_ssh
from reconciler.model import base, hoststate, workloads
from reconciler.plan import probeports
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e

Handler = workloads.ProbeHandler
Kind = hoststate.ProbeKind
HOST = "h1"


def _probe(kind: Kind, handler: Handler, **fields: object) -> hoststate.ContainerProbe:
    return hoststate.ContainerProbe(kind, workloads.Probe(handler, **fields))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def target(lab: labmod.Lab) -> hoststate.HostTarget:
    host = lab.get(HOST)
    return hoststate.HostTarget(host.name, host.address, 22, host.user)


@pytest.fixture(scope="module")
def executor(lab: labmod.Lab) -> Iterator[podman_ssh.PodmanSSHExecutor]:
    with podman_ssh.PodmanSSHExecutor(
        lab.config.known_hosts, lab.config.key_file, connect_timeout=3, stop_timeout=1
    ) as ex:
        yield ex


@pytest.fixture(scope="module")
def web(
    lab: labmod.Lab, executor: podman_ssh.PodmanSSHExecutor, target: hoststate.HostTarget
) -> Iterator[hoststate.ObservedPod]:
    """A running httpd pod (port 8080; 9090 declared, nothing listens) without hostPort."""
    namespace = f"probe-e2e-{uuid.uuid4().hex[:6]}"
    probes = (
        _probe(Kind.READINESS, Handler.HTTP_GET, port=8080, path="/index.html"),
        _probe(Kind.LIVENESS, Handler.TCP_SOCKET, port=9090),
        _probe(Kind.STARTUP, Handler.EXEC, command=("sh", "-c", "test -f /tmp/ok")),
    )
    run = hoststate.PodRun(
        namespace=namespace,
        name="web",
        host=HOST,
        spec_hash="p1",
        labels=base.FrozenMap({"app": "web"}),
        containers=(
            hoststate.ContainerRun(
                "httpd",
                lab.config.image,
                command=("httpd",),
                args=("-f", "-p", "8080", "-h", "/www"),
                probes=probes,
            ),
        ),
    )
    before = executor.observe([target])
    (run,) = probeports.allocate([run], before)
    assert run.probe_ports and all(p.host_ip == "127.0.0.1" for p in run.probe_ports)
    create = hoststate.Action(hoststate.ActionKind.CREATE, HOST, namespace, "web", run=run)
    try:
        (result,) = executor.apply(hoststate.Plan((create,)), [target])
        assert result.outcome is hoststate.Outcome.DONE, result.message
        seen = executor.observe([target])[HOST]
        (pod,) = [p for p in seen.pods if p.namespace == namespace]
        yield pod
    finally:
        lab.ssh(lab.get(HOST), "podman", "pod", "rm", "-f", "-t", "0",
                f"{namespace}_web", check=False)  # fmt: skip


def _until(
    check: Callable[[], hoststate.ProbeResult], seconds: float = 10.0
) -> hoststate.ProbeResult:
    """The first passing result of `check()` within `seconds` (httpd needs a moment to bind),
    else the last one."""
    end = time.monotonic() + seconds
    while True:
        result = check()
        if result.ok or time.monotonic() > end:
            return result
        time.sleep(0.2)


def test_labels_read_back(web: hoststate.ObservedPod) -> None:
    (container,) = web.containers
    assert {p.kind for p in container.probes} == set(Kind)
    ports = dict(web.probe_ports)
    assert set(ports) == {8080, 9090}
    assert all(port in probeports.RANGE for port in ports.values())


def test_http_get_passes_and_missing_path_is_404(
    executor: podman_ssh.PodmanSSHExecutor,
    target: hoststate.HostTarget,
    web: hoststate.ObservedPod,
) -> None:
    (container,) = web.containers
    good = _probe(Kind.READINESS, Handler.HTTP_GET, port=8080, path="/index.html")
    result = _until(lambda: executor.probe(target, web, container, good))
    assert result.ok, result
    assert result.message == "HTTP 200"
    missing = _probe(Kind.READINESS, Handler.HTTP_GET, port=8080, path="/missing")
    result = executor.probe(target, web, container, missing)
    assert not result.ok
    assert result.message == "HTTP 404"


def test_tcp_socket_open_and_closed_port(
    executor: podman_ssh.PodmanSSHExecutor,
    target: hoststate.HostTarget,
    web: hoststate.ObservedPod,
) -> None:
    (container,) = web.containers
    open_port = _probe(Kind.LIVENESS, Handler.TCP_SOCKET, port=8080)
    result = _until(lambda: executor.probe(target, web, container, open_port))
    assert result.ok, result
    closed = _probe(Kind.LIVENESS, Handler.TCP_SOCKET, port=9090)
    result = executor.probe(target, web, container, closed)
    assert not result.ok
    assert "refused" in result.message
    unpublished = _probe(Kind.LIVENESS, Handler.TCP_SOCKET, port=7070)
    result = executor.probe(target, web, container, unpublished)
    assert not result.ok
    assert "not published" in result.message


def test_exec_before_and_after_the_file_exists(
    lab: labmod.Lab,
    executor: podman_ssh.PodmanSSHExecutor,
    target: hoststate.HostTarget,
    web: hoststate.ObservedPod,
) -> None:
    (container,) = web.containers
    check = _probe(Kind.STARTUP, Handler.EXEC, command=("sh", "-c", "test -f /tmp/ok"),
                   timeout_seconds=10)  # a loaded machine: `podman exec` alone can take 1 s
    result = executor.probe(target, web, container, check)
    assert not result.ok
    assert result.message == "exit code 1"
    lab.ssh(lab.get(HOST), "podman", "exec", container.podman_id, "touch", "/tmp/ok")
    result = executor.probe(target, web, container, check)
    assert result.ok, result
    assert result.message == "exit code 0"
    slow = _probe(Kind.STARTUP, Handler.EXEC, command=("sleep", "5"), timeout_seconds=1)
    result = executor.probe(target, web, container, slow)
    assert not result.ok
    assert result.message == "timeout after 1s"
    result = executor.probe(target, web, container, check)  # the connection is still fine
    assert result.ok, result


def test_prober_makes_the_pod_ready(
    lab: labmod.Lab,
    executor: podman_ssh.PodmanSSHExecutor,
    target: hoststate.HostTarget,
    web: hoststate.ObservedPod,
) -> None:
    (container,) = web.containers
    lab.ssh(lab.get(HOST), "podman", "exec", container.podman_id, "touch", "/tmp/ok")
    observation = {HOST: hoststate.HostObservation(HOST, True, (web,))}
    once = probermod.Prober(executor).probe_once(observation, {HOST: target})
    (pod,) = once[HOST].pods
    assert pod.ready is True, pod
    assert pod.containers[0].ready is True
    assert pod.ready_since > 0
