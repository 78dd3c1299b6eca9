"""build_plan end to end on data: convergence, revision-blind spec hash, config changes, template
changes, scaling, namespace deletion, unreachable hosts, held pods."""

from __future__ import annotations

import dataclasses

from reconciler.model import base, hoststate, objects, workloads
from reconciler.plan import pipeline, podrun

from . import builders as b

HOSTS = (b.host("h1"), b.host("h2"), b.host("h3"))
UP = ("h1", "h2", "h3")


def _web(replicas: int = 3, image: str = "nginx:1.25") -> workloads.Deployment:
    return b.deployment(
        "web",
        replicas=replicas,
        pod_spec=b.spec(
            b.container(
                image=image,
                env=(
                    workloads.EnvVar("MODE", config_map_key=workloads.KeyRef("cfg", "MODE")),
                    workloads.EnvVar("PASS", secret_key=workloads.KeyRef("creds", "PASS")),
                ),
                resources=workloads.Resources(cpu_request=100, memory_request=1 << 26),
            )
        ),
    )


def _desired(
    *extra: objects.Object, mode: str = "fast", web: workloads.Deployment | None = None
) -> objects.DesiredState:
    return b.state(
        *HOSTS,
        b.config_map("cfg", {"MODE": mode}),
        b.secret("creds", {"PASS": b"pa55-word-x"}),
        web or _web(),
        *extra,
    )


def _converged(
    desired: objects.DesiredState, revision: str = "r1"
) -> dict[str, hoststate.HostObservation]:
    first = pipeline.build_plan(desired, b.observations(*UP), revision)
    return b.apply(first, b.observations(*UP))


def _kinds(result: pipeline.PlanResult) -> list[tuple[str, str, str]]:
    return [(a.kind.value, a.host, a.name) for a in result.plan.actions]


def test_first_plan_creates_spread_replicas_then_converges() -> None:
    desired = _desired()
    first = pipeline.build_plan(desired, b.observations(*UP), "r1")
    assert [k for k, _, _ in _kinds(first)] == ["create"] * 3
    assert sorted(h for _, h, _ in _kinds(first)) == ["h1", "h2", "h3"]
    again = pipeline.build_plan(desired, b.apply(first, b.observations(*UP)), "r1")
    assert again.plan.empty
    assert len(again.plan.unchanged) == 3


def test_new_revision_with_same_content_replaces_nothing() -> None:
    desired = _desired()
    observed = _converged(desired, "r1")
    later = pipeline.build_plan(desired, observed, "r2")
    assert later.plan.empty
    before = pipeline.build_plan(desired, observed, "r1").runs
    assert [r.spec_hash for r in later.runs] == [r.spec_hash for r in before]
    assert {r.labels[hoststate.LABEL_REVISION] for r in later.runs} == {"r2"}


def test_config_change_replaces_pods_in_place_with_same_names() -> None:
    observed = _converged(_desired(mode="fast"))
    result = pipeline.build_plan(_desired(mode="slow"), observed, "r2")
    names = {p.name for seen in observed.values() for p in seen.pods}
    assert {(k, n) for k, _, n in _kinds(result)} == {("replace", n) for n in names}
    assert {a.reason for a in result.plan.actions} == {"spec changed: container/app"}


def test_secret_change_replaces_pods() -> None:
    observed = _converged(_desired())
    changed = b.state(
        *[o for o in _desired() if not isinstance(o, objects.Secret)],
        b.secret("creds", {"PASS": b"another-pa55"}),
    )
    result = pipeline.build_plan(changed, observed, "r2")
    assert [k for k, _, _ in _kinds(result)] == ["replace"] * 3


def test_template_change_creates_new_pods_and_deletes_old() -> None:
    observed = _converged(_desired())
    result = pipeline.build_plan(_desired(web=_web(image="nginx:1.26")), observed, "r2")
    kinds = _kinds(result)
    old = {p.name for seen in observed.values() for p in seen.pods}
    assert {n for k, _, n in kinds if k == "delete"} == old
    created = {n for k, _, n in kinds if k == "create"}
    assert len(created) == 3 and created.isdisjoint(old)


def test_scale_up_then_down_keeps_names() -> None:
    observed = _converged(_desired(web=_web(replicas=2)))
    names_two = sorted(p.name for seen in observed.values() for p in seen.pods)
    up = pipeline.build_plan(_desired(web=_web(replicas=4)), observed, "r2")
    assert [k for k, _, _ in _kinds(up)] == ["create", "create"]
    observed = b.apply(up, observed)
    names_four = sorted(p.name for seen in observed.values() for p in seen.pods)
    assert set(names_two) < set(names_four)
    assert [n.rsplit("-", 1)[1] for n in names_four] == ["0", "1", "2", "3"]
    down = pipeline.build_plan(_desired(web=_web(replicas=1)), observed, "r3")
    assert sorted(n for k, _, n in _kinds(down) if k == "delete") == names_four[1:]


def test_deleting_a_namespace_keeps_the_pods_of_objects_still_in_git() -> None:
    app = b.deployment("api", replicas=2, namespace="shop")
    with_ns = _desired(b.namespace("shop"), app)
    observed = _converged(with_ns)
    assert sum(len(s.pods) for s in observed.values()) == 5
    without = _desired(app)  # the Namespace is gone, its Deployment stays (validate warns)
    assert pipeline.build_plan(without, observed, "r2").plan.empty
    gone = pipeline.build_plan(_desired(), observed, "r2")  # the Deployment goes too
    deleted = [(a.namespace, a.reason) for a in gone.plan.actions]
    assert deleted == [("shop", "not desired")] * 2


def test_unreachable_host_pods_are_kept_and_their_work_rescheduled() -> None:
    observed = _converged(_desired())
    lost = next(p for p in observed["h3"].pods)
    observed["h3"] = hoststate.HostObservation("h3", False, (), "ssh: connection timed out")
    result = pipeline.build_plan(_desired(), observed, "r2")
    assert _kinds(result) == [("create", result.placements[f"default/{lost.name}"], lost.name)]
    assert result.placements[f"default/{lost.name}"] != "h3"
    assert result.unreachable == ("h3",)
    # when h3 comes back, the stale copy there is the one deleted
    back = b.apply(result, observed)
    back["h3"] = hoststate.HostObservation("h3", True, (lost,))
    healed = pipeline.build_plan(_desired(), back, "r2")
    assert _kinds(healed) == [("delete", "h3", lost.name)]


def test_unreachable_host_with_nothing_to_go_to_deletes_nothing() -> None:
    observed = _converged(_desired(web=_web(replicas=1)))
    (host,) = [h for h, s in observed.items() if s.pods]
    for name in UP:
        observed[name] = hoststate.HostObservation(name, False, (), "down")
    result = pipeline.build_plan(_desired(), observed, "r2")
    assert result.plan.empty
    assert len(result.unschedulable) == 3
    assert host in result.unreachable


def test_broken_reference_holds_running_pods_of_the_deployment() -> None:
    observed = _converged(_desired())
    broken = b.deployment(
        "web",
        replicas=3,
        pod_spec=b.spec(
            b.container(
                image="nginx:1.26",
                env_from=(workloads.EnvFrom(config_map="missing"),),
            )
        ),
    )
    result = pipeline.build_plan(_desired(web=broken), observed, "r2")
    assert result.plan.empty
    assert len(result.held) == 3
    (error,) = result.errors
    assert (
        error.message
        == "Deployment/default/web: ConfigMap 'missing' not found in namespace 'default'"
    )
    assert error.path == "spec.template.spec.containers[0].envFrom[0].configMapRef"


def test_unschedulable_new_template_holds_old_pods() -> None:
    observed = _converged(_desired())
    huge = b.deployment(
        "web",
        replicas=3,
        pod_spec=b.spec(b.container(resources=workloads.Resources(cpu_request=64000))),
    )
    result = pipeline.build_plan(_desired(web=huge), observed, "r2")
    assert result.plan.empty
    assert len(result.held) == 3
    assert set(result.unschedulable_messages().values()) == {"0/3 hosts: 3 insufficient cpu"}


def test_spec_hash_label_matches_and_parts_are_recorded() -> None:
    result = pipeline.build_plan(_desired(), b.observations(*UP), "r1")
    for run in result.runs:
        assert run.labels[hoststate.LABEL_SPEC_HASH] == run.spec_hash
        parts = podrun.parse_parts(run.labels["reconciler.dev/spec-parts"])
        assert set(parts) == {"pod", "container/app"}
        assert podrun.spec_hash(parts) == run.spec_hash
        assert run.labels[hoststate.MANAGED_BY] == hoststate.MANAGER
        assert run.labels[hoststate.LABEL_OWNER] == "Deployment/web"
        assert run.labels["app"] == "web"


def test_spec_hash_covers_host_but_not_revision() -> None:
    run = pipeline.build_plan(_desired(), b.observations(*UP), "r1").runs[0]
    other = next(h for h in UP if h != run.host)
    assert podrun.spec_parts(dataclasses.replace(run, host=other)) != podrun.spec_parts(run)
    relabelled = base.FrozenMap({**run.labels, hoststate.LABEL_REVISION: "r9"})
    assert podrun.spec_parts(dataclasses.replace(run, labels=relabelled)) == podrun.spec_parts(run)
    extra = base.FrozenMap({**run.labels, "tier": "front"})
    assert podrun.spec_parts(dataclasses.replace(run, labels=extra)) != podrun.spec_parts(run)
