"""The per-host load balancer on the real test hosts (`PodmanSSHExecutor.lb_apply`/`lb_status`):
HAProxy on h1 balancing over web pods on h2 and h3, a drained server out of rotation, a killed
HAProxy started again, seamless reloads under load (new and kept-alive connections) without a
failed request, a stop at the end.

Backends are pods (busybox httpd answering its own name) in a namespace of this test; the
listener ports are in 18800-18899. Everything made is removed (pods, and HAProxy stopped).
"""

from __future__ import annotations

import dataclasses
import http.client
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from reconciler.executor import podman_ssh, protocol
from reconciler.model import base, hoststate
from reconciler.model import loadbalancer as lb
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e

PORT = 18801
EXTRA_PORT = 18802
TCP_PORT = 18803
BUSY_PORT = 18804  # held by another process on h1 (test_refused_start_and_reload_are_errors)
BACKEND_PORT = 18810  # hostPort of the web pods on h2 and h3
LISTENER = "lbtest.web.http"


@dataclasses.dataclass(frozen=True)
class Setup:
    executor: podman_ssh.PodmanSSHExecutor
    h1: hoststate.HostTarget
    servers: tuple[lb.Server, ...]  # web-h2, web-h3


def web_pod(lab: labmod.Lab, namespace: str, host: str) -> hoststate.PodRun:
    name = f"web-{host}"
    script = f"mkdir -p /www && echo {name} > /www/index.html && exec httpd -f -p 8080 -h /www"
    return hoststate.PodRun(
        namespace=namespace,
        name=name,
        host=host,
        spec_hash="v1",
        labels=base.FrozenMap({hoststate.LABEL_REVISION: "rev1", "app": "web"}),
        containers=(
            hoststate.ContainerRun("web", lab.config.image, command=("sh",), args=("-c", script)),
        ),
        ports=(hoststate.PortMapping(BACKEND_PORT, 8080),),
    )


def listener(*servers: lb.Server, ports: tuple[int, ...] = (PORT,)) -> lb.Listener:
    return lb.Listener(LISTENER, "lbtest", "web", "http", ports, lb.Mode.HTTP, servers)


def config(*listeners: lb.Listener) -> dict[str, lb.Config]:
    return {"h1": lb.Config(tuple(sorted(listeners, key=lambda item: item.name)))}


def replace_state(server: lb.Server, state: lb.ServerState) -> lb.Server:
    return dataclasses.replace(server, state=state)


def get(port: int = PORT, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(f"http://198.18.0.11:{port}/", timeout=timeout) as response:
        return str(response.read().decode()).strip()


def wait_answers(port: int = PORT, deadline: float = 15.0) -> str:
    end = time.monotonic() + deadline
    while True:
        try:
            return get(port, timeout=2)
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


@pytest.fixture(scope="module")
def setup(lab: labmod.Lab) -> Iterator[Setup]:
    hosts = {h.name: h for h in lab.hosts()[:3]}
    targets = [hoststate.HostTarget(h.name, h.address, 22, h.user) for h in hosts.values()]
    namespace = f"lbtest-{uuid.uuid4().hex[:8]}"
    pods = [web_pod(lab, namespace, host) for host in ("h2", "h3")]
    with podman_ssh.PodmanSSHExecutor(
        lab.config.known_hosts, lab.config.key_file, connect_timeout=3, command_timeout=30
    ) as executor:
        try:
            actions = [
                hoststate.Action(hoststate.ActionKind.CREATE, p.host, p.namespace, p.name, run=p)
                for p in pods
            ]
            results = executor.apply(hoststate.Plan(tuple(actions)), targets)
            assert all(r.outcome is hoststate.Outcome.DONE for r in results), results
            servers = tuple(
                lb.Server(p.name, hosts[p.host].address, BACKEND_PORT, host=p.host, pod=p.name)
                for p in pods
            )
            yield Setup(executor, targets[0], servers)
        finally:
            stopped = executor.lb_apply([targets[0]], {})
            assert not stopped["h1"].running, stopped
            for pod in pods:
                lab.ssh(hosts[pod.host], "podman", "pod", "rm", "-f", "-t", "0",
                        pod.podman_name, check=False)  # fmt: skip


def apply(setup: Setup, configs: dict[str, lb.Config]) -> lb.Status:
    status = setup.executor.lb_apply([setup.h1], configs)["h1"]
    assert status.running and not status.error, status
    return status


def test_round_robin_across_hosts_noop_and_drain(setup: Setup) -> None:
    web2, web3 = setup.servers
    status = apply(setup, config(listener(web2, web3)))
    assert {(s.server, s.admin_state) for s in status.servers} == {
        ("web-h2", "ready"),
        ("web-h3", "ready"),
    }
    wait_answers()
    answers = {get() for _ in range(6)}
    assert answers == {"web-h2", "web-h3"}  # one address on h1, pods on h2 and h3

    before = setup.executor.stats.snapshot()
    again = apply(setup, config(listener(web2, web3)))
    assert not again.started and not again.reloaded and again.pid == status.pid
    after = setup.executor.stats.snapshot()
    assert {k: v for k, v in after.items() if k != "reads"} == {
        k: v for k, v in before.items() if k != "reads"
    }  # a no-op apply changes nothing on the host

    web3_drained = dataclasses.replace(web3, state=lb.ServerState.DRAIN)
    drained = apply(setup, config(listener(web2, web3_drained)))
    assert not drained.reloaded and drained.pid == status.pid  # runtime API, no reload
    assert {(s.server, s.admin_state) for s in drained.servers} == {
        ("web-h2", "ready"),
        ("web-h3", "drain"),
    }
    assert {get() for _ in range(6)} == {"web-h2"}
    read = setup.executor.lb_status([setup.h1])["h1"]
    assert read.running and read.sessions(LISTENER, "web-h3") == 0

    removed = apply(setup, config(listener(web2)))
    assert [s.server for s in removed.servers] == ["web-h2"] and removed.pid == status.pid
    added = apply(setup, config(listener(web2, web3)))
    assert [s.server for s in added.servers] == ["web-h2", "web-h3"] and not added.reloaded
    wait_answers()
    assert {get() for _ in range(8)} == {"web-h2", "web-h3"}  # a dynamic server serves


def test_killed_haproxy_is_started_again(lab: labmod.Lab, setup: Setup) -> None:
    running = apply(setup, config(listener(*setup.servers)))
    lab.ssh(lab.get("h1"), "kill", "-9", str(running.pid))
    time.sleep(0.2)
    assert not setup.executor.lb_status([setup.h1])["h1"].running
    again = apply(setup, config(listener(*setup.servers)))
    assert again.started and again.pid != running.pid
    assert wait_answers() in ("web-h2", "web-h3")


def test_tcp_listener_and_listener_changes_reload(setup: Setup) -> None:
    base_status = apply(setup, config(listener(*setup.servers)))
    tcp = lb.Listener("lbtest.web.tcp", "lbtest", "web", "tcp", (TCP_PORT,), lb.Mode.TCP,
                      setup.servers)  # fmt: skip
    both = apply(setup, config(listener(*setup.servers), tcp))
    assert both.reloaded and both.pid != base_status.pid
    assert wait_answers(TCP_PORT) in ("web-h2", "web-h3")
    assert wait_answers(PORT) in ("web-h2", "web-h3")
    apply(setup, config(listener(*setup.servers)))
    with pytest.raises(OSError):
        get(TCP_PORT, timeout=2)


def test_reloads_under_load_drop_no_request(setup: Setup) -> None:
    apply(setup, config(listener(*setup.servers)))
    wait_answers()
    failures: list[str] = []
    done = [0]
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                get(timeout=5)
                done[0] += 1
            except (OSError, urllib.error.URLError) as exc:
                failures.append(repr(exc))

    def keep_alive() -> None:
        """One kept-alive connection, reopened only when HAProxy answers `Connection: close`
        (as a browser does): a reload must never cut it under a request."""
        connection = http.client.HTTPConnection("198.18.0.11", PORT, timeout=5)
        try:
            while not stop.is_set():
                try:
                    connection.request("GET", "/")
                    response = connection.getresponse()
                    response.read()
                    assert response.status == 200, response.status
                    done[0] += 1
                except (OSError, http.client.HTTPException) as exc:
                    failures.append(f"kept-alive: {exc!r}")
                    connection.close()
        finally:
            connection.close()

    workers = [threading.Thread(target=load) for _ in range(3)]
    workers += [threading.Thread(target=keep_alive) for _ in range(3)]
    for worker in workers:
        worker.start()
    reloads = 0
    try:
        for i in range(6):
            ports = (PORT, EXTRA_PORT) if i % 2 == 0 else (PORT,)
            status = apply(setup, config(listener(*setup.servers, ports=ports)))
            reloads += status.reloaded
            time.sleep(0.3)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert reloads == 6
    assert done[0] > 50
    assert failures == []


def test_drained_server_keeps_its_connection_and_counts_it(setup: Setup) -> None:
    """An open connection through a TCP listener stays on its server when that server is
    drained, and `lb_status` counts it until it closes (what a rollout waits for)."""
    web2 = setup.servers[0]
    tcp = lb.Listener("lbtest.web.tcp", "lbtest", "web", "tcp", (TCP_PORT,), lb.Mode.TCP, (web2,))
    apply(setup, config(listener(*setup.servers), tcp))
    wait_answers(TCP_PORT)
    with socket.create_connection(("198.18.0.11", TCP_PORT), timeout=5) as held:
        held.sendall(b"GET / HTTP/1.0\r\n")  # an unfinished request: the server waits
        end = time.monotonic() + 10
        while setup.executor.lb_status([setup.h1])["h1"].sessions(tcp.name, web2.name) != 1:
            assert time.monotonic() < end, "the open connection is not counted"
            time.sleep(0.1)
        drained = dataclasses.replace(tcp, servers=(replace_state(web2, lb.ServerState.DRAIN),))
        status = apply(setup, config(listener(*setup.servers), drained))
        assert not status.reloaded
        (server,) = [s for s in status.servers if s.listener == tcp.name]
        assert server.admin_state == "drain" and server.sessions == 1
        held.sendall(b"\r\n")  # the request completes on the drained server
        assert b"web-h2" in held.recv(4096) + held.recv(4096)
    end = time.monotonic() + 10
    while setup.executor.lb_status([setup.h1])["h1"].sessions(tcp.name, web2.name) != 0:
        assert time.monotonic() < end, "the closed connection is still counted"
        time.sleep(0.1)
    apply(setup, config(listener(*setup.servers)))


@pytest.fixture
def busy_port(lab: labmod.Lab) -> Iterator[int]:
    """A port of h1 held by another user's socket (root's, without SO_REUSEPORT): HAProxy's
    bind of it is refused, as for any port something else on the host already uses."""
    holder = subprocess.Popen(
        ["nsenter", f"--net=/run/netns/{lab.get('h1').netns}", sys.executable, "-c",
         "import socket, time; s = socket.socket(); "
         f"s.bind(('0.0.0.0', {BUSY_PORT})); s.listen(); print('ok', flush=True); "
         "time.sleep(600)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        yield BUSY_PORT
    finally:
        holder.kill()
        holder.wait()


def test_refused_start_and_reload_are_errors(setup: Setup, busy_port: int) -> None:
    """A port in use on the host: a first start fails with HAProxy's words; a reload fails and
    the running process keeps serving its old listeners, and the next good apply needs no
    reload."""
    setup.executor.lb_apply([setup.h1], {})
    taken = listener(*setup.servers, ports=(PORT, busy_port))
    refused = setup.executor.lb_apply([setup.h1], config(taken))["h1"]
    assert not refused.running and "start failed" in refused.error, refused
    assert str(busy_port) in refused.error
    good = apply(setup, config(listener(*setup.servers)))
    assert good.started
    failed = setup.executor.lb_apply([setup.h1], config(taken))["h1"]
    assert failed.running and "reload failed" in failed.error and failed.pid == good.pid
    assert wait_answers() in ("web-h2", "web-h3")
    again = apply(setup, config(listener(*setup.servers)))
    assert not again.reloaded and not again.started and again.pid == good.pid


def test_a_refusing_server_costs_no_request(setup: Setup) -> None:
    """A server whose port refuses (a pod gone, before two checks take it out): every request
    is retried on the other server, in HTTP and in TCP mode."""
    web2 = setup.servers[0]
    dead = lb.Server("gone", web2.address, 18899)
    tcp = lb.Listener("lbtest.web.tcp", "lbtest", "web", "tcp", (TCP_PORT,), lb.Mode.TCP,
                      (dead, web2))  # fmt: skip
    apply(setup, config(listener(web2), tcp))
    wait_answers(TCP_PORT)
    apply(setup, config(listener(dead, web2), tcp))  # `gone` added now: assumed up at first
    answers = [get(PORT) for _ in range(6)] + [get(TCP_PORT) for _ in range(6)]
    assert set(answers) == {"web-h2"}


def test_hostile_value_changes_nothing(setup: Setup) -> None:
    good = apply(setup, config(listener(*setup.servers)))
    bad_server = dataclasses.replace(setup.servers[0], name="x\n    bind :18899")
    status = setup.executor.lb_apply([setup.h1], config(listener(bad_server)))["h1"]
    assert status.running and "not a safe" in status.error and status.pid == good.pid
    assert {s.server for s in status.servers} == {"web-h2", "web-h3"}
    with pytest.raises(OSError):
        get(18899, timeout=2)


def test_unreachable_host_is_a_status(setup: Setup) -> None:
    nowhere = hoststate.HostTarget("h9", "198.18.0.11", 1, setup.h1.user)
    status = setup.executor.lb_apply([nowhere], {"h9": lb.Config()})["h9"]
    assert not status.running and "unreachable" in status.error


def test_stop_when_no_listener_is_left(setup: Setup) -> None:
    apply(setup, config(listener(*setup.servers)))
    before = setup.executor.stats.snapshot().get(str(protocol.Mutation.LB_STOP), 0)
    stopped = setup.executor.lb_apply([setup.h1], {"h1": lb.Config()})["h1"]
    assert not stopped.running and not stopped.error
    assert setup.executor.stats.snapshot()[str(protocol.Mutation.LB_STOP)] == before + 1
    with pytest.raises(OSError):
        get(timeout=2)
