"""Expansion of Deployments into named pods: stable names, no churn, scale down from the top."""

from __future__ import annotations

from reconciler.model import base, hoststate
from reconciler.plan import expand

from . import builders as b


def _names(pods: tuple[expand.DesiredPod, ...]) -> list[str]:
    return [pod.name for pod in pods]


def _seen(
    deployment_name: str, digest: str, name: str, namespace: str = "default", created: str = ""
) -> hoststate.ObservedPod:
    return hoststate.ObservedPod(
        namespace=namespace,
        name=name,
        host="h1",
        podman_id=f"id-{name}",
        spec_hash="x",
        owner=f"Deployment/{deployment_name}",
        labels=base.FrozenMap({hoststate.LABEL_TEMPLATE_HASH: digest}),
        created_at=created,
    )


def test_deployment_gives_replicas_named_by_hash_and_ordinal() -> None:
    deployment = b.deployment("web", replicas=3)
    pods = expand.expand(b.state(deployment), ())
    digest = expand.template_hash(deployment.template)
    assert _names(pods) == [f"web-{digest}-{i}" for i in range(3)]
    assert all(p.owner == "Deployment/web" and p.template_hash == digest for p in pods)
    assert all(p.labels == {"app": "web"} for p in pods)


def test_same_input_same_names() -> None:
    first = expand.expand(b.state(b.deployment("web", replicas=4)), ())
    second = expand.expand(b.state(b.deployment("web", replicas=4)), ())
    assert first == second


def test_bare_pod_keeps_its_name() -> None:
    pods = expand.expand(b.state(b.pod("solo")), ())
    assert _names(pods) == ["solo"]
    assert pods[0].owner == ""
    assert pods[0].object_key == base.ObjectKey(base.Kind.POD, "default", "solo")


def test_an_undeclared_namespace_exists_implicitly() -> None:
    """As with Argo CD's CreateNamespace=true (`validate` warns): its objects give pods."""
    desired = b.state(
        b.deployment("web", namespace="shop"),
        b.pod("lone", namespace="shop"),
        b.pod("here"),
    )
    undeclared = expand.expand(desired, ())
    assert len(undeclared) == 4 and "lone" in _names(undeclared)
    assert expand.expand(b.state(b.namespace("shop"), *desired), ()) == undeclared


def test_template_change_gives_new_names() -> None:
    old = b.deployment("web", pod_spec=b.spec(b.container(image="nginx:1.25")))
    new = b.deployment("web", pod_spec=b.spec(b.container(image="nginx:1.26")))
    old_names = set(_names(expand.expand(b.state(old), ())))
    new_names = set(_names(expand.expand(b.state(new), ())))
    assert old_names.isdisjoint(new_names)


def test_observed_names_are_kept_and_gaps_filled() -> None:
    deployment = b.deployment("web", replicas=3)
    digest = expand.template_hash(deployment.template)
    seen = [_seen("web", digest, f"web-{digest}-0"), _seen("web", digest, f"web-{digest}-2")]
    assert _names(expand.expand(b.state(deployment), seen)) == [
        f"web-{digest}-{i}" for i in (0, 1, 2)
    ]


def test_scale_down_keeps_what_runs_without_renaming() -> None:
    deployment = b.deployment("web", replicas=2)
    digest = expand.template_hash(deployment.template)
    seen = [_seen("web", digest, f"web-{digest}-0"), _seen("web", digest, f"web-{digest}-2")]
    assert _names(expand.expand(b.state(deployment), seen)) == [
        f"web-{digest}-0",
        f"web-{digest}-2",
    ]


def test_scale_down_removes_highest_ordinals_first() -> None:
    deployment = b.deployment("web", replicas=2)
    digest = expand.template_hash(deployment.template)
    seen = [_seen("web", digest, f"web-{digest}-{i}") for i in (4, 10, 0, 3, 1)]
    assert _names(expand.expand(b.state(deployment), seen)) == [
        f"web-{digest}-0",
        f"web-{digest}-1",
    ]


def test_other_names_are_kept_after_ordinals_oldest_first() -> None:
    deployment = b.deployment("web", replicas=2)
    digest = expand.template_hash(deployment.template)
    seen = [
        _seen("web", digest, "web-custom-b", created="2026-01-02T00:00:00Z"),
        _seen("web", digest, "web-custom-a", created="2026-01-03T00:00:00Z"),
        _seen("web", digest, "web-custom-c", created="2026-01-01T00:00:00Z"),
        _seen("web", digest, f"web-{digest}-007", created="2026-01-04T00:00:00Z"),  # not an ordinal
    ]
    names = _names(expand.expand(b.state(deployment), seen))
    assert names == ["web-custom-b", "web-custom-c"]


def test_pods_of_other_templates_owners_or_namespaces_are_not_reused() -> None:
    deployment = b.deployment("web", replicas=1)
    digest = expand.template_hash(deployment.template)
    seen = [
        _seen("web", "otherhash1", "web-otherhash1-5"),
        _seen("api", digest, "api-x"),
        _seen("web", digest, "web-elsewhere", namespace="shop"),
    ]
    assert _names(expand.expand(b.state(deployment), seen)) == [f"web-{digest}-0"]


def test_zero_replicas_gives_no_pods() -> None:
    assert expand.expand(b.state(b.deployment("web", replicas=0)), ()) == ()
