"""configwait: desired pods on no host that wait for a ConfigMap, Secret, key or claim nothing
declares (`CreateContainerConfigError`, `Pending`), as `get pods` and `describe pod` list them;
and the plan never creates them (a missing claim would otherwise become an unmanaged volume)."""

from __future__ import annotations

from reconciler.model import workloads
from reconciler.plan import configwait, pipeline

from . import builders as b


def _uses_config(name: str = "web") -> workloads.Deployment:
    app = b.container(env_from=(workloads.EnvFrom(config_map="settings"),))
    return b.deployment(name, replicas=2, pod_spec=b.spec(app))


def _mounts_claim(name: str = "db") -> workloads.Pod:
    mount = workloads.VolumeMount("d", "/data")
    volume = workloads.Volume("d", workloads.VolumeType.PERSISTENT_VOLUME_CLAIM, "data")
    return b.pod(name, b.spec(b.container(volume_mounts=(mount,)), volumes=(volume,)))


def test_missing_config_map_and_claim_wait_with_kubernetes_reasons() -> None:
    desired = b.state(b.host("h1"), _uses_config(), _mounts_claim(), b.pod("fine"))
    found = {w.pod.name.split("-")[0]: w for w in configwait.waiting(desired, ())}
    assert sorted(found) == ["db", "web"]
    assert found["web"].reason == configwait.CONFIG_ERROR
    assert "ConfigMap 'settings' not found" in found["web"].message
    assert found["db"].reason == configwait.PENDING
    assert found["db"].message.startswith("spec.volumes[0].persistentVolumeClaim.claimName: ")
    declared = b.state(b.host("h1"), _uses_config(), b.config_map("settings", {"a": "1"}))
    assert configwait.waiting(declared, ()) == []


def test_the_plan_creates_none_of_them_and_says_why() -> None:
    desired = b.state(b.host("h1"), _uses_config(), _mounts_claim(), b.pod("fine"))
    result = pipeline.build_plan(desired, b.observations("h1"), "r1")
    assert [a.name for a in result.plan.actions] == ["fine"]
    assert [e.message.split(":")[0] for e in result.errors] == [
        "Deployment/default/web", "Pod/default/db"]  # one error per object, sorted  # fmt: skip


def test_rows_list_only_pods_on_no_host_in_the_namespace_asked() -> None:
    desired = b.state(b.host("h1"), _uses_config(), _mounts_claim())
    rows = configwait.rows(desired, b.observations("h1"), "")
    assert {(r["status"], r["ready"], r["host"]) for r in rows} == {
        ("CreateContainerConfigError", "0/1", ""), ("Pending", "0/1", "")}  # fmt: skip
    assert len(rows) == 3 and configwait.rows(desired, b.observations("h1"), "other") == []
    text = configwait.describe_text(next(r for r in rows if r["status"] == "Pending"))
    assert "Status:       Pending (not created: a claim it mounts is not declared)" in text
