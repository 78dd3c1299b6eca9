"""GET /v1/observe: the daemon reads the hosts it manages now (each request a new read, counted),
only those, and answers with the observation's JSON; before its first sync it says it cannot."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.executor import fake
from reconciler.model import base, hoststate, observedjson
from reconciler.web import metrics, observe, server

TARGETS = (hoststate.HostTarget("h1", "10.0.0.1", 22, "u1"),
           hoststate.HostTarget("h2", "10.0.0.2", 22, "u2"))  # fmt: skip


@pytest.fixture
def executor() -> fake.FakeExecutor:
    return fake.FakeExecutor(["h1", "h2"])


@pytest.fixture
def served(
    executor: fake.FakeExecutor,
) -> Iterator[tuple[str, observe.Observer, list[tuple[hoststate.HostTarget, ...]]]]:
    hosts: list[tuple[hoststate.HostTarget, ...]] = [TARGETS]
    registry = metrics.Registry()
    observer = observe.Observer(executor, lambda: hosts[0], lambda: "abc123", registry)
    http = server.HttpServer("127.0.0.1:0", dict, registry, lambda: True,
                             observe=observer.answer)  # fmt: skip
    http.start()
    try:
        yield http.url, observer, hosts
    finally:
        http.stop()


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _pod(name: str, host: str) -> hoststate.ObservedPod:
    container = hoststate.ObservedContainer("main", f"c-{name}", "img", "running")
    labels = {hoststate.MANAGED_BY: hoststate.MANAGER, hoststate.LABEL_NAMESPACE: "ns",
              hoststate.LABEL_NAME: name, hoststate.LABEL_SPEC_HASH: "hash"}  # fmt: skip
    return hoststate.ObservedPod("ns", name, host, f"p-{name}", "hash", containers=(container,),
                                 labels=base.FrozenMap(labels),
                                 phase=hoststate.PodPhase.RUNNING)  # fmt: skip


def test_each_request_reads_the_hosts_now_and_is_counted(
    served: tuple[str, observe.Observer, Any], executor: fake.FakeExecutor
) -> None:
    url, observer, _ = served
    code, first = _get(f"{url}/v1/observe")
    assert code == 200 and first["served"] == 1 and first["revision"] == "abc123"
    assert [t.name for t, _ in observedjson.decode(first["hosts"])] == ["h1", "h2"]
    assert all(seen.pods == () for _, seen in observedjson.decode(first["hosts"]))
    executor.pods["h2"][("ns", "late")] = _pod("late", "h2")  # changed after the first answer
    code, second = _get(f"{url}/v1/observe")
    decoded = dict((t.name, seen) for t, seen in observedjson.decode(second["hosts"]))
    assert code == 200 and second["served"] == 2 == observer.served
    assert [p.name for p in decoded["h2"].pods] == ["late"]  # a fresh read, not a cached one
    assert second["startedAt"] >= first["observedAt"]
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as answer:
        assert "reconciler_observations_served_total 2" in answer.read().decode()


def test_only_the_hosts_the_daemon_manages_are_read(
    served: tuple[str, observe.Observer, Any], executor: fake.FakeExecutor
) -> None:
    url, _, _ = served
    code, document = _get(f"{url}/v1/observe?host=h2&host=elsewhere&detail=1")
    assert code == 200 and document["unknown"] == ["elsewhere"]
    assert [(t.name, t.address) for t, _ in observedjson.decode(document["hosts"])] == [
        ("h2", "10.0.0.2")]  # fmt: skip


def test_readiness_is_one_run_of_the_probes(
    served: tuple[str, observe.Observer, Any], executor: fake.FakeExecutor
) -> None:
    url, _, _ = served
    executor.pods["h1"][("ns", "web")] = _pod("web", "h1")
    _, plain = _get(f"{url}/v1/observe?host=h1")
    _, probed = _get(f"{url}/v1/observe?host=h1&readiness=1")
    assert observedjson.decode(plain["hosts"])[0][1].pods[0].ready is None
    assert observedjson.decode(probed["hosts"])[0][1].pods[0].ready is True


def test_before_the_first_sync_it_answers_503(served: tuple[str, observe.Observer, Any]) -> None:
    url, observer, hosts = served
    hosts[0] = ()
    code, document = _get(f"{url}/v1/observe")
    assert code == 503 and "first sync" in document["error"] and observer.served == 0


def test_an_executor_failure_is_a_503_not_a_crash(executor: fake.FakeExecutor) -> None:
    class Broken(fake.FakeExecutor):
        def observe(self, targets: Any, *, detail: bool = False) -> Any:
            raise RuntimeError("executor closed")

    observer = observe.Observer(Broken(), lambda: TARGETS, lambda: None)
    code, document = observer.answer({})
    assert code == 503 and "executor closed" in document["error"] and observer.served == 0


def test_without_an_observer_the_route_is_not_found() -> None:
    http = server.HttpServer("127.0.0.1:0", dict, metrics.Registry(), lambda: True)
    http.start()
    try:
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(f"{http.url}/v1/observe", timeout=5)
        assert raised.value.code == 404
    finally:
        http.stop()
