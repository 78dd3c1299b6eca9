"""The controller benchmarks' generated manifests validate, and the rollout benchmark reads its
waves from `reconciler apply` output as apply prints it."""

from __future__ import annotations

from pathlib import Path

from bench import manifests, probes_bench, rollout_bench
from reconciler.manifests import loader
from tests.harness import hostsetup

IMAGE = "198.18.5.1:5000/demo/busybox:latest"


def test_rollout_repository_is_valid(tmp_path: Path) -> None:
    hosts = [hostsetup.Host(f"h{i}", f"198.18.5.1{i}", f"u{i}", f"n{i}", f"v{i}") for i in (1, 2)]
    rollout_bench.write_repo(tmp_path, hosts, IMAGE, "v1")
    result = loader.load_repository(tmp_path)
    assert result.ok, [d.format() for d in result.errors[:3]]
    (deployment,) = result.state.deployments
    assert deployment.replicas == rollout_bench.REPLICAS
    (container,) = deployment.template.spec.containers
    assert container.readiness_probe is not None
    assert container.readiness_probe.period_seconds == 1


def test_probe_and_crash_manifests_are_valid(tmp_path: Path) -> None:
    (tmp_path / "ns.yaml").write_text(manifests.namespace_yaml(probes_bench.NAMESPACE))
    (tmp_path / "idle.yaml").write_text(probes_bench.idle_yaml(IMAGE, 200, 5))
    (tmp_path / "crash.yaml").write_text(probes_bench.crash_yaml(IMAGE, 3))
    result = loader.load_repository(tmp_path)
    assert result.ok, [d.format() for d in result.errors[:3]]
    assert len(result.state.pods) == 3
    (idle,) = result.state.deployments
    probe = idle.template.spec.containers[0].readiness_probe
    assert probe is not None and probe.period_seconds == 5


def test_waves_counted_from_apply_output() -> None:
    text = [
        "Plan for revision x: 3 to create, 0 to replace, 0 to delete, 0 unchanged.",
        "[1/2] h1: create ns/web-a-0 ... done (0.4s)",
        "[2/2] h2: create ns/web-a-1 ... done (0.4s)",
        "deployment ns/web: 0 of 2 updated, 0 available: 0 of 2 new pods created",
        "deployment ns/web: 2 of 2 updated, 2 available: waiting",
        "[1/2] h1: delete ns/web-b-0 ... done (1.4s)",
        "[2/2] h2: delete ns/web-b-1 ... done (1.4s)",
        "applied revision x in 3.0s: 2 created, 0 replaced, 2 deleted, 0 failed, 0 unchanged",
    ]
    found = rollout_bench.waves_of([(float(i), line) for i, line in enumerate(text)])
    assert found["waves"] == 1
    assert found["wave_at"] == [1.0]
    assert found["waiting_passes"] == 1
    assert [(p["create"], p["delete"]) for p in found["plans"]] == [(2, 0), (0, 2)]
