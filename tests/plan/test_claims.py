"""PersistentVolumeClaims in planning: a pod with a claim goes where the claim's volume is, an
unbound claim is bound where its first pod goes and its other pods follow, a lost host's claim
makes its pods wait, and each run carries the claim volumes the executor makes."""

from __future__ import annotations

import dataclasses

from reconciler.model import base, claims, hoststate, objects, workloads
from reconciler.plan import claims as planclaims
from reconciler.plan import pipeline

from . import builders as b

HOSTS = (b.host("h1"), b.host("h2"), b.host("h3"))
UP = ("h1", "h2", "h3")


def _claim(name: str = "data", **annotations: str) -> claims.PersistentVolumeClaim:
    meta = base.ObjectMeta(name=name, namespace="default",
                           annotations=base.FrozenMap(annotations))  # fmt: skip
    return claims.PersistentVolumeClaim(meta, storage_request=1 << 30)


def _spec(claim: str = "data", read_only: bool = False) -> workloads.PodSpec:
    mount = workloads.VolumeMount("d", "/data")
    volume = workloads.Volume("d", workloads.VolumeType.PERSISTENT_VOLUME_CLAIM, claim,
                              read_only=read_only)  # fmt: skip
    return b.spec(b.container(volume_mounts=(mount,)), volumes=(volume,))


def _desired(replicas: int = 3, *extra: objects.Object) -> objects.DesiredState:
    web = b.deployment("web", replicas=replicas, pod_spec=_spec())
    return b.state(*HOSTS, _claim(), web, *extra)


def _held(host: str, claim: str = "data") -> claims.ObservedClaim:
    return claims.ObservedClaim("default", claim, claims.volume_name("default", claim), host)


def _with_claims(
    seen: dict[str, hoststate.HostObservation], *found: claims.ObservedClaim
) -> dict[str, hoststate.HostObservation]:
    return {
        name: dataclasses.replace(obs, claims=tuple(c for c in found if c.host == name))
        if obs.reachable else obs
        for name, obs in seen.items()
    }


def test_unbound_claim_binds_where_the_first_pod_goes_and_the_others_follow() -> None:
    result = pipeline.build_plan(_desired(3), b.observations(*UP), "r1")
    hosts = {run.host for run in result.runs}
    assert len(result.runs) == 3 and len(hosts) == 1  # spread would use three hosts
    for run in result.runs:
        [volume] = run.claims
        assert volume.volume == claims.volume_name("default", "data")
        assert volume.labels[claims.LABEL_CLAIM] == "data"
        assert volume.labels[claims.LABEL_RECLAIM] == "Retain"
        [mount] = run.containers[0].mounts
        assert mount.kind is hoststate.MountKind.CLAIM and mount.source == volume.volume


def test_bound_claim_pins_its_pods_to_the_volume_host() -> None:
    seen = _with_claims(b.observations(*UP), _held("h2"))
    result = pipeline.build_plan(_desired(2), seen, "r1")
    assert {run.host for run in result.runs} == {"h2"}
    assert not result.unschedulable


def test_pod_waits_when_its_data_host_is_down_and_is_never_moved() -> None:
    first = pipeline.build_plan(_desired(1), _with_claims(b.observations(*UP), _held("h3")), "r1")
    assert [run.host for run in first.runs] == ["h3"]
    down = b.observations("h1", "h2", down=("h3",))
    result = pipeline.build_plan(_desired(1), down, "r2")
    assert not result.runs and not result.plan.actions
    [wait] = result.unschedulable
    assert "found on no host that answered" in wait.message and "h3" in wait.message


def test_pod_waits_when_the_data_host_is_full() -> None:
    hungry = b.deployment("web", replicas=1, pod_spec=dataclasses.replace(
        _spec(), containers=(b.container(
            volume_mounts=(workloads.VolumeMount("d", "/data"),),
            resources=workloads.Resources(cpu_request=9000)),)))  # fmt: skip
    desired = b.state(*HOSTS, _claim(), hungry)
    result = pipeline.build_plan(desired, _with_claims(b.observations(*UP), _held("h1")), "r1")
    [wait] = result.unschedulable
    assert wait.message.startswith("waits for host h1, which holds the data")


def test_claim_on_two_hosts_is_an_error_not_a_guess() -> None:
    seen = _with_claims(b.observations(*UP), _held("h1"), _held("h2"))
    result = pipeline.build_plan(_desired(1), seen, "r1")
    assert not result.runs
    assert "has a volume on each of h1, h2" in result.unschedulable[0].message


def test_pods_without_claims_are_scheduled_as_before() -> None:
    plain = b.deployment("api", replicas=3)
    desired = b.state(*HOSTS, plain)
    result = pipeline.build_plan(desired, b.observations(*UP), "r1")
    assert sorted(run.host for run in result.runs) == ["h1", "h2", "h3"]
    assert all(run.claims == () for run in result.runs)


def test_read_only_claim_mount() -> None:
    pod = b.pod("reader", _spec(read_only=True))
    result = pipeline.build_plan(b.state(*HOSTS, _claim(), pod), b.observations(*UP), "r1")
    [mount] = result.runs[0].containers[0].mounts
    assert mount.read_only


def test_reclaim_annotation_is_recorded_on_the_volume() -> None:
    desired = b.state(*HOSTS, _claim(**{claims.RECLAIM_ANNOTATION: "Delete"}),
                      b.pod("p", _spec()))  # fmt: skip
    result = pipeline.build_plan(desired, b.observations(*UP), "r1")
    assert result.runs[0].claims[0].labels[claims.LABEL_RECLAIM] == "Delete"


def test_locations_and_status() -> None:
    seen = _with_claims(b.observations("h1", "h2", down=("h3",)), _held("h1"))
    where = planclaims.locations(seen, HOSTS)
    assert where.holders == {("default", "data"): ("h1",)}
    assert where.unread == ("h3",)
    assert where.status(("default", "data")) is claims.Status.BOUND
    assert where.status(("default", "other")) is claims.Status.LOST
    assert planclaims.locations(b.observations(*UP), HOSTS).status(
        ("default", "data")) is claims.Status.PENDING  # fmt: skip


def test_volume_names_are_distinct_and_valid() -> None:
    assert claims.volume_name("a-b", "c") != claims.volume_name("a", "b-c")
    name = claims.volume_name("default", "Data.Store")
    assert name.startswith("rc-pvc-default-data-store-")
    assert len(claims.volume_name("n" * 63, "c" * 253)) <= claims.MAX_VOLUME_NAME


def test_a_deleted_claim_is_reclaimed_only_with_policy_delete_and_once_unused() -> None:
    keep = dataclasses.replace(_held("h1", "kept"), volume=claims.volume_name("default", "kept"))
    gone = dataclasses.replace(
        _held("h2", "gone"), volume=claims.volume_name("default", "gone"),
        labels=base.FrozenMap({claims.LABEL_RECLAIM: "Delete"}),
    )  # fmt: skip
    still = dataclasses.replace(gone, claim="data", volume=claims.volume_name("default", "data"))
    seen = _with_claims(b.observations(*UP), keep, gone, still)
    result = pipeline.build_plan(_desired(1), seen, "r1")
    assert [c.claim for c in result.plan.reclaims] == ["gone"]  # `data` is declared; `kept` Retain
    assert not result.plan.empty


def test_a_volume_still_mounted_by_a_pod_waits_for_the_pod_to_go() -> None:
    first = pipeline.build_plan(_desired(1), b.observations(*UP), "r1")
    [run] = first.runs
    assert run.labels[planclaims.LABEL_CLAIMS] == "data"
    deleted = dataclasses.replace(_held(run.host), labels=base.FrozenMap(
        {claims.LABEL_RECLAIM: "Delete"}))  # fmt: skip
    seen = _with_claims(b.observations(*UP, pods=b.running(first)), deleted)
    gone = b.state(*HOSTS)  # the claim and its Deployment left git
    result = pipeline.build_plan(gone, seen, "r2")
    assert [a.kind for a in result.plan.actions] == [hoststate.ActionKind.DELETE]
    assert result.plan.reclaims == ()  # its pod is deleted first
    after = _with_claims(b.observations(*UP), deleted)
    assert [c.claim for c in pipeline.build_plan(gone, after, "r3").plan.reclaims] == ["data"]
