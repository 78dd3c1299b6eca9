"""Rendering for `reconciler diff` and `-o json`: valid, stable YAML; secrets and digests never
shown; replace diffs show what changed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ruamel.yaml import YAML

from reconciler.model import base, hoststate, objects, workloads
from reconciler.plan import export, pipeline, render, views

from . import builders as b

SECRET_VALUES = ("pa55-word-x", "tls-private-key-material")


def _desired(mode: str = "fast") -> objects.DesiredState:
    return b.state(
        b.host("h1"),
        b.host("h2"),
        b.config_map("cfg", {"MODE": mode, "page.html": "<h1>hi</h1>\n"}),
        b.secret(
            "creds", {"PASS": SECRET_VALUES[0].encode(), "key.pem": SECRET_VALUES[1].encode()}
        ),
        b.deployment(
            "web",
            replicas=2,
            pod_spec=b.spec(
                b.container(
                    env=(
                        workloads.EnvVar("MODE", config_map_key=workloads.KeyRef("cfg", "MODE")),
                        workloads.EnvVar("PASS", secret_key=workloads.KeyRef("creds", "PASS")),
                        workloads.EnvVar("DSN", "db://u:$(PASS)@db"),
                    ),
                    args=("--dsn=$(DSN)",),
                    volume_mounts=(
                        workloads.VolumeMount("www", "/www"),
                        workloads.VolumeMount("tls", "/tls"),
                    ),
                    ports=(workloads.ContainerPort(8080, host_port=80),),
                ),
                volumes=(
                    workloads.Volume("www", workloads.VolumeType.CONFIG_MAP, "cfg"),
                    workloads.Volume("tls", workloads.VolumeType.SECRET, "creds"),
                ),
            ),
        ),
    )


def _results() -> list[pipeline.PlanResult]:
    fresh = pipeline.build_plan(_desired(), b.observations("h1", "h2"), "r1")
    observed = b.apply(fresh, b.observations("h1", "h2"))
    changed = pipeline.build_plan(_desired(mode="slow"), observed, "r2")
    pruned = pipeline.build_plan(b.state(b.host("h1"), b.host("h2")), observed, "r3")
    return [fresh, changed, pruned]


@pytest.mark.parametrize(
    "value",
    [
        {"a": "true", "b": "123", "c": "1e3", "d": "a: b", "e": "", "f": "yes", "g": "# x"},
        {"list": ["-", "- x", "0x1F", "null", "~", "x: y", " lead", "trail "]},
        {"nested": [{"k": {"deep": [1, True, None]}}, [], {}], "empty": {}},
        {"text": "line one\n  indented\n\nlast\n", "nonl": "a\nb"},
        {"quote": 'say "hi"', "unicode": "grüße", "colon": "host:8080", "at": "x@sha256:ab"},
    ],
)
def test_yaml_round_trips(value: dict[str, Any]) -> None:
    assert YAML(typ="safe").load(render.to_yaml(value)) == value


def test_views_round_trip_through_yaml() -> None:
    for result in _results():
        for action in result.plan.actions:
            if action.run is not None:
                view = views.run_view(action.run)
                assert YAML(typ="safe").load(render.to_yaml(view)) == view


def test_secret_values_never_shown() -> None:
    for result in _results():
        outputs = [
            render.diff_text(result),
            render.summary(result),
            json.dumps(export.plan_json(result)),
            repr(result),
            repr(result.plan),
            str(result.runs),
        ]
        for output in outputs:
            for secret in SECRET_VALUES:
                assert secret not in output
    fresh = _results()[0]
    assert "value: <redacted>" in render.diff_text(fresh)
    assert "--dsn=db://u:pa55" not in render.diff_text(fresh)


def test_digest_labels_never_shown() -> None:
    for result in _results():
        text = render.diff_text(result) + json.dumps(export.plan_json(result))
        assert hoststate.LABEL_SPEC_HASH not in text
        assert "spec-parts" not in text
        for run in result.runs:
            assert run.spec_hash not in text


def test_create_diff_shows_whole_pod() -> None:
    fresh = _results()[0]
    action = fresh.plan.actions[0]
    text = render.action_diff(action)
    lines = text.splitlines()
    assert lines[0] == f"# create default/{action.name} on {action.host}: not running"
    assert lines[1] == "--- /dev/null"
    assert lines[2] == f"+++ desired/{action.host}/default/{action.name}"
    assert all(line.startswith("+") for line in lines[4:])
    assert "+    imagePullPolicy: IfNotPresent" in lines
    assert "+  - 80:8080/tcp" in lines
    assert "+      <h1>hi</h1>" in lines


def test_replace_diff_shows_revision_change_and_changed_parts_only() -> None:
    changed = _results()[1]
    action = changed.plan.actions[0]
    assert action.kind is hoststate.ActionKind.REPLACE
    assert action.reason == "spec changed: container/app, files/www"
    lines = render.action_diff(action).splitlines()
    assert "-  reconciler.dev/revision: r1" in lines
    assert "+  reconciler.dev/revision: r2" in lines
    assert "+        value: slow" in lines
    assert "+    content: slow" in lines  # the www volume file MODE
    assert not any("restartPolicy" in line for line in lines)  # the pod part did not change
    assert not any("/tls/" in line or "key.pem" in line for line in lines)  # nor the tls files


def test_delete_diff_shows_observed_pod() -> None:
    pruned = _results()[2]
    lines = render.action_diff(pruned.plan.actions[0]).splitlines()
    assert lines[1].startswith("--- observed/h")
    assert lines[2] == "+++ /dev/null"
    assert all(line.startswith("-") for line in lines[4:])


def test_summary_per_host_and_problems() -> None:
    result = pipeline.build_plan(
        b.state(
            b.host("h1"),
            b.host("h2"),
            b.pod("big", b.spec(b.container(resources=workloads.Resources(cpu_request=99000)))),
            b.pod("ok"),
        ),
        b.observations("h1", down=("h2",)),
        "r1",
    )
    assert render.summary(result) == (
        "Plan for revision r1: 1 to create, 0 to replace, 0 to delete, 0 unchanged.\n"
        "  h1: 1 to create, 0 to replace, 0 to delete, 0 unchanged\n"
        "Hosts not ready (their pods are unknown; nothing is planned there): h2\n"
        "Unschedulable:\n"
        "  default/big: 0/2 hosts: 1 host not ready, 1 insufficient cpu\n"
    )


def test_json_form() -> None:
    changed = _results()[1]
    document = export.plan_json(changed)
    assert json.loads(json.dumps(document)) == document
    assert document["summary"]["replace"] == 2
    first = document["actions"][0]
    assert first["action"] == "replace"
    assert first["changedParts"] == ["container/app", "files/www"]
    env = first["desired"]["containers"][0]["env"]
    assert {"name": "PASS", "value": "<redacted>"} in env
    files = {f["path"].rsplit("/", 1)[1]: f for f in first["desired"]["files"]}
    assert files["key.pem"] == {
        "path": files["key.pem"]["path"],
        "mode": "0600",
        "secret": True,
        "content": "<redacted>",
    }
    assert first["observed"]["status"]["phase"] == "Running"


def test_executor_bookkeeping_labels_are_not_shown() -> None:
    fresh = _results()[0]
    run = fresh.runs[0]
    extra = {
        **run.labels,
        "reconciler.dev/containers": "app",
        "reconciler.dev/host-dirs": '["volumes/default/x/www"]',
    }
    seen = b.observed_from(run, labels=base.FrozenMap(extra))
    view = views.observed_view(seen)
    assert set(view["labels"]) == set(views.run_view(run)["labels"])
    assert "host-dirs" not in render.to_yaml(view)


def test_a_restart_is_one_comment_and_counted_only_when_there_is_one() -> None:
    from reconciler.model import hoststate  # noqa: PLC0415
    from reconciler.plan import pipeline, render  # noqa: PLC0415

    pod = hoststate.ObservedPod("shop", "web-1", "h1", "id", "hash")
    restart = hoststate.Action(hoststate.ActionKind.RESTART, "h1", "shop", "web-1",
                               observed=pod, reason="container web exited with code 1",
                               container="web")  # fmt: skip
    text = render.action_diff(restart)
    assert text == ("# restart container web of shop/web-1 on h1: container web exited with "
                    "code 1\n")  # fmt: skip
    result = pipeline.PlanResult(plan=hoststate.Plan((restart,)), revision="r")
    assert "0 to create, 0 to replace, 0 to delete, 1 container(s) to restart" in render.summary(
        result
    )
    empty = pipeline.PlanResult(plan=hoststate.Plan(), revision="r")
    assert "restart" not in render.summary(empty)
