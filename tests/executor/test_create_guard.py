"""`podcreate.create`'s guard against a pod of the same name: a run whose pod create is its first
change sends no inspect first (Podman's 409 on a taken name is the check), and on a 409 decides
as the inspect-first path does: not managed ▶ refused and untouched; managed with this spec ▶
kept; managed with another ▶ replaced. Runs with files or volumes still inspect first. A fake
Podman API behind a fake session records every call."""

from __future__ import annotations

from typing import Any, cast

import pytest

from reconciler.executor import errors, hostsession, podcreate, podmanapi, protocol
from reconciler.model import hoststate
from tests.executor.test_podmanspec import make_run


def simple_run(**changes: object) -> hoststate.PodRun:
    """One container, no files, volumes or claims: the pod create is the first change."""
    container = hoststate.ContainerRun(name="main", image="busybox", args=("sleep", "9"))
    fields: dict[str, object] = {"containers": (container,), "files": (), "volumes": (),
                                 "ports": ()}  # fmt: skip
    fields.update(changes)
    return make_run(**fields)


class FakeApi:
    """Podman's pods by name: {"Id", "Labels", "Containers"} as inspect shows them."""

    def __init__(self) -> None:
        self.pods: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []

    def inspect_pod(self, pod: str) -> dict[str, Any] | None:
        self.calls.append(f"inspect_pod {pod}")
        found = self.pods.get(pod) or next(
            (p for p in self.pods.values() if p["Id"] == pod), None
        )
        return dict(found) if found is not None else None

    def create_pod(self, spec: dict[str, Any]) -> str:
        self.calls.append(f"create_pod {spec['name']}")
        if spec["name"] in self.pods:
            raise errors.OperationFailed("create pod", "pod already exists", 409)
        self.pods[spec["name"]] = {"Id": f"id-{spec['name']}", "Labels": spec["labels"],
                                   "Containers": []}  # fmt: skip
        return str(self.pods[spec["name"]]["Id"])

    def create_container(self, spec: dict[str, Any]) -> tuple[str, list[str]]:
        self.calls.append(f"create_container {spec['name']}")
        self.pods[spec["pod"]]["Containers"].append({"Id": spec["name"]})
        return spec["name"], []

    def start_pod(self, pod: str) -> None:
        self.calls.append(f"start_pod {pod}")

    def list_containers(self, filters: object) -> list[dict[str, Any]]:
        self.calls.append("list_containers")
        return []

    def stop_pod(self, pod: str, timeout: float) -> None:
        self.calls.append(f"stop_pod {pod}")

    def remove_pod(self, pod: str) -> None:
        self.calls.append(f"remove_pod {pod}")
        for name, found in list(self.pods.items()):
            if pod in (name, found["Id"]):
                del self.pods[name]

    def list_volumes(self, filters: object) -> list[dict[str, Any]]:
        self.calls.append("list_volumes")
        return []

    def inspect_volume(self, name: str) -> dict[str, Any] | None:
        self.calls.append(f"inspect_volume {name}")
        return None

    def create_volume(self, spec: dict[str, Any]) -> None:
        self.calls.append(f"create_volume {spec['Name']}")


class _Connection:
    state_dir = "/home/rc/.local/state/reconciler"


class _Options:
    stop_timeout = 10


class FakeSession:
    def __init__(self, api: FakeApi) -> None:
        self.api = api
        self.connection = _Connection()
        self.options = _Options()
        self.broken = False
        self.target = hoststate.HostTarget("h1", "198.18.0.11", 22, "rc-h1")
        self.written: list[str] = []

    def write_files(self, files: tuple[hoststate.HostFile, ...]) -> None:
        self.written += [f.path for f in files]

    def remove_dirs(self, dirs: tuple[str, ...]) -> None:
        pass

    def make_subpath(self, base: str, relative: str, mode: int | None) -> str:
        raise AssertionError("no subPath here")

    def warn_once(self, warning: str) -> None:
        pass


def create(api: FakeApi, run: hoststate.PodRun) -> str:
    session = cast(hostsession.HostSession, FakeSession(api))
    return podcreate.create(session, run, prepared=True)


def existing(api: FakeApi, run: hoststate.PodRun, labels: dict[str, str]) -> None:
    api.pods[run.podman_name] = {"Id": "old-id", "Labels": labels,
                                 "Containers": [{"Id": "c1"}]}  # fmt: skip


def managed(run: hoststate.PodRun, spec_hash: str) -> dict[str, str]:
    return {hoststate.MANAGED_BY: hoststate.MANAGER, hoststate.LABEL_NAMESPACE: run.namespace,
            hoststate.LABEL_NAME: run.name, hoststate.LABEL_SPEC_HASH: spec_hash}  # fmt: skip


def test_a_free_name_costs_no_inspect() -> None:
    api, run = FakeApi(), simple_run()
    report = create(api, run)
    assert "created and started" in report
    pod = run.podman_name
    assert api.calls == [f"create_pod {pod}", f"create_container {pod}_main", f"start_pod {pod}"]


def test_a_taken_name_not_ours_is_refused_and_left_alone() -> None:
    api, run = FakeApi(), simple_run()
    existing(api, run, {"app": "someone-else"})
    with pytest.raises(errors.NameConflict):
        create(api, run)
    assert api.pods[run.podman_name]["Id"] == "old-id"
    assert api.calls == [f"create_pod {run.podman_name}", f"inspect_pod {run.podman_name}"]


def test_our_pod_with_this_spec_made_meanwhile_is_kept() -> None:
    api, run = FakeApi(), simple_run()
    existing(api, run, managed(run, run.spec_hash))
    assert create(api, run) == f"pod {run.podman_name} already exists with this spec"
    assert api.pods[run.podman_name]["Id"] == "old-id"
    assert not any(c.startswith(("remove_pod", "create_container")) for c in api.calls)


def test_our_pod_with_another_spec_is_replaced() -> None:
    api, run = FakeApi(), simple_run()
    existing(api, run, managed(run, "older-hash"))
    assert "created and started" in create(api, run)
    assert api.pods[run.podman_name]["Id"] == f"id-{run.podman_name}"
    pod = run.podman_name
    assert api.calls[:3] == [f"create_pod {pod}", f"inspect_pod {pod}", "inspect_pod old-id"]
    assert "remove_pod old-id" in api.calls and api.calls[-1] == f"start_pod {pod}"


def test_a_run_with_files_or_volumes_inspects_before_touching_them() -> None:
    api, run = FakeApi(), make_run(containers=simple_run().containers)
    assert not podcreate.pod_first(run)
    existing(api, run, {"app": "someone-else"})
    session = FakeSession(api)
    with pytest.raises(errors.NameConflict):
        podcreate.create(cast(hostsession.HostSession, session), run, prepared=True)
    assert api.calls == [f"inspect_pod {run.podman_name}"]  # nothing written, nothing made
    assert session.written == []


def test_other_create_failures_are_not_taken_for_a_taken_name() -> None:
    class Refusing(FakeApi):
        def create_pod(self, spec: dict[str, Any]) -> str:
            raise errors.OperationFailed("create pod", "no space left on device", 500)

    api, run = Refusing(), simple_run()
    with pytest.raises(errors.PodError, match="no space left"):
        create(api, run)
    assert not any(c.startswith("inspect_pod") for c in api.calls)


class _Answer:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.text = '{"message": "pod already exists"}'

    def json(self) -> dict[str, Any]:
        return {"Id": "new-id", "message": "pod already exists"}


def test_a_refused_create_is_not_counted_as_a_change() -> None:
    """`stats.mutations` counts what changed hosts (an idempotent create leaves it as it was;
    the claim-volume listing is reused while it stays): a 409 changed nothing."""
    stats = protocol.ExecutorStats()
    api = podmanapi.PodmanAPI(
        "h1", "/nonexistent.sock", stats,
        transport_error=lambda op, exc, started: errors.HostError("h1", op),
        timeout=5, pull_timeout=5, ping_timeout=5, pool_size=1,
    )  # fmt: skip
    answers = [_Answer(409), _Answer(201)]

    class Client:
        def post(self, path: str, **kwargs: Any) -> _Answer:
            return answers.pop(0)

    api._api = Client()  # type: ignore[assignment]
    with pytest.raises(errors.OperationFailed) as refused:
        api.create_pod({"name": "p"})
    assert refused.value.status == 409 and stats.mutations == 0
    assert api.create_pod({"name": "p"}) == "new-id"
    assert stats.mutations == 1
