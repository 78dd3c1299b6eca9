"""Pod features of real manifests (issue 17) in the plan: hostAliases reach the PodRun ahead of
the Service names, and are part of the spec hash (a changed alias recreates the pod)."""

from __future__ import annotations

import dataclasses

from reconciler.model import base, objects, workloads
from reconciler.plan import pipeline
from tests.plan import builders as b

ALIASES = (("db.internal", "198.18.0.20"),)


def _state(aliases: tuple[tuple[str, str], ...], *extra: objects.Object) -> objects.DesiredState:
    pod = b.pod("solo", b.spec(host_aliases=aliases), namespace="shop")
    h1 = dataclasses.replace(b.host("h1"), address="198.18.0.11")
    return b.state(b.namespace("shop"), pod, h1, *extra)


def _run(state: objects.DesiredState) -> tuple[tuple[tuple[str, str], ...], str]:
    (run,) = pipeline.build_plan(state, b.observations("h1"), "rev1").runs
    return run.host_aliases, run.spec_hash


def test_host_aliases_come_first_then_service_names() -> None:
    meta = base.ObjectMeta(name="web", namespace="shop")
    svc = objects.Service(meta, base.FrozenMap({"app": "web"}), (objects.ServicePort(8000, 80),))
    aliases, _ = _run(_state(ALIASES, svc))
    assert aliases[0] == ("db.internal", "198.18.0.20")
    assert ("web", "198.18.0.11") in aliases


def test_host_aliases_are_hashed_and_absent_ones_change_no_hash() -> None:
    plain, plain_hash = _run(_state(()))
    assert plain == ()
    _, with_alias = _run(_state(ALIASES))
    _, other_alias = _run(_state((("db.internal", "198.18.0.21"),)))
    assert len({plain_hash, with_alias, other_alias}) == 3


def _field_env(*variables: workloads.EnvVar) -> dict[str, str]:
    limited = workloads.Resources(cpu_request=250, memory_limit=64 << 20)
    app = b.container("app", env=variables, resources=limited)
    pod = workloads.Pod(
        base.ObjectMeta(name="solo", namespace="shop", labels=base.FrozenMap({"tier": "web"})),
        b.spec(app),
    )
    h1 = dataclasses.replace(b.host("h1", cpu=3000, memory=4 << 30), address="198.18.0.11")
    (run,) = pipeline.build_plan(b.state(b.namespace("shop"), pod, h1), b.observations("h1"),
                                 "rev1").runs  # fmt: skip
    return dict(run.containers[0].env)


def test_field_refs_take_the_pod_and_host_values() -> None:
    env = _field_env(
        workloads.EnvVar("NAME", field_path="metadata.name"),
        workloads.EnvVar("NS", field_path="metadata.namespace"),
        workloads.EnvVar("TIER", field_path="metadata.labels['tier']"),
        workloads.EnvVar("NODE", field_path="spec.nodeName"),
        workloads.EnvVar("HOST_IP", field_path="status.hostIP"),
        workloads.EnvVar("POD_IP", field_path="status.podIP"),
    )
    assert env == {"NAME": "solo", "NS": "shop", "TIER": "web", "NODE": "h1",
                   "HOST_IP": "198.18.0.11", "POD_IP": "198.18.0.11"}  # fmt: skip


def test_resource_field_refs_round_up_and_default_to_the_host_capacity() -> None:
    ref = workloads.ResourceFieldRef
    env = _field_env(
        workloads.EnvVar("CPU_REQ", resource_field=ref("requests.cpu")),  # 250m -> 1
        workloads.EnvVar("CPU_REQ_M", resource_field=ref("requests.cpu", divisor="1m")),
        workloads.EnvVar("MEM_LIMIT_MI", resource_field=ref("limits.memory", divisor="1Mi")),
        workloads.EnvVar("CPU_LIMIT", resource_field=ref("limits.cpu")),  # unset: the host's
        workloads.EnvVar("MEM_REQ", resource_field=ref("requests.memory", "app")),  # = limit
    )
    assert env == {"CPU_REQ": "1", "CPU_REQ_M": "250", "MEM_LIMIT_MI": "64", "CPU_LIMIT": "3",
                   "MEM_REQ": str(64 << 20)}  # fmt: skip
