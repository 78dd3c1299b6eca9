"""`get hpa` / `describe hpa` from the repository and the daemon's records, and the HPA series
on /metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli import get, main
from reconciler.cli import hpa as hpacli
from reconciler.controllers import autoscale, sync
from reconciler.executor import fake
from reconciler.state import conditions as cond
from reconciler.state import store as storemod
from reconciler.web import metrics
from tests.cli import fakehosts
from tests.controllers.test_autoscale import MANIFESTS

RECORD = autoscale.Record(
    "shop",
    "web",
    "web",
    3,
    1_000.0,
    "cpu: 73%/50%",
    (("h1", "proc"),),
    (
        {
            "time": 1_000.0,
            "current": 1,
            "desired": 3,
            "reason": "cpu resource utilization (percentage of request) above target",
            "limit": "",
            "targets": "cpu: 150%/50%",
            "error": "",
        },
    ),
    (("cpu_utilization_percent", 73, 50),),
    2,
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "all.yaml").write_text(MANIFESTS)
    return tmp_path / "repo"


def test_get_hpa_without_the_daemon_shows_git_replicas(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECONCILER_STATE_DIR", str(tmp_path / "none"))
    assert get.get(fake.FakeExecutor(["h1"]), repo, "hpa", "", "table") == 0
    head, row = capsys.readouterr().out.splitlines()
    assert head.split() == [
        "NAMESPACE",
        "NAME",
        "REFERENCE",
        "TARGETS",
        "MINPODS",
        "MAXPODS",
        "REPLICAS",
        "SOURCE",
    ]
    assert row.split() == [
        "shop",
        "web",
        "Deployment/web",
        "cpu:",
        "<unknown>/50%",
        "1",
        "4",
        "1",
        "<unknown>",
    ]


def test_get_and_describe_hpa_with_the_daemons_records(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECONCILER_STATE_DIR", str(tmp_path / "state"))
    with storemod.Store(storemod.path_in(tmp_path / "state")) as db:
        db.save_autoscaler_records([RECORD.as_dict()], [])
        db.record_event(
            cond.EventKind.NORMAL,
            "HorizontalPodAutoscaler/shop/web",
            cond.Reason.SUCCESSFUL_RESCALE,
            "New size: 3; reason: cpu above target",
        )
    executor = fake.FakeExecutor(["h1"])
    assert get.get(executor, repo, "hpa", "shop", "table") == 0
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row == ["shop", "web", "Deployment/web", "cpu:", "73%/50%", "1", "4", "3", "proc"]
    assert executor.stats.reads == 0  # no host is read for get hpa

    text = hpacli.describe(sync.load(repo).state, "web", "")
    assert text is not None
    assert "Current replicas:      3" in text and "Metrics source:        h1=proc" in text
    assert "1 -> 3: cpu resource utilization (percentage of request) above target" in text
    assert "Scale down:            stabilization 30s, select Max: 100 Percent per 15s" in text
    assert "Normal   SuccessfulRescale" in text
    assert hpacli.describe(sync.load(repo).state, "nope", "") is None


def test_metrics_series() -> None:
    registry = metrics.Registry()
    reconciler = metrics.ReconcilerMetrics(registry)
    reconciler.set_autoscalers([RECORD])
    text = registry.expose()
    assert 'reconciler_hpa_replicas{namespace="shop",hpa="web",state="desired"} 3' in text
    assert 'reconciler_hpa_replicas{namespace="shop",hpa="web",state="current"} 2' in text
    assert (
        'reconciler_hpa_metric_value{namespace="shop",hpa="web",'
        'metric="cpu_utilization_percent"} 73'
    ) in text
    assert 'reconciler_hpa_metrics_source{host="h1",source="proc"} 1' in text
    reconciler.set_autoscalers([])
    assert 'hpa="web"' not in registry.expose()


def test_record_round_trip() -> None:
    assert autoscale.Record.of(RECORD.as_dict()) == RECORD
    assert autoscale.Record.of({"namespace": "x"}) is None


@pytest.fixture
def executor(monkeypatch: pytest.MonkeyPatch) -> fake.FakeExecutor:
    return fakehosts.use(monkeypatch, ["h1"])


def web_pods(executor: fake.FakeExecutor) -> int:
    return sum(1 for pods in executor.pods.values() for ns, _name in pods if ns == "shop")


def test_apply_uses_the_daemons_count_else_gits(
    repo: Path,
    tmp_path: Path,
    executor: fake.FakeExecutor,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("RECONCILER_STATE_DIR", str(tmp_path / "none"))
    assert main.main(["apply", "-q", str(repo)]) == 0
    assert web_pods(executor) == 1  # no daemon state here: git's replicas
    monkeypatch.setenv("RECONCILER_STATE_DIR", str(tmp_path / "state"))
    with storemod.Store(storemod.path_in(tmp_path / "state")) as db:
        db.save_autoscaler_records([RECORD.as_dict()], [])
    assert main.main(["apply", "-q", str(repo)]) == 0
    assert web_pods(executor) == 3  # the count the daemon recorded
    capsys.readouterr()
    assert main.main(["diff", str(repo)]) == 0  # 3 run: the HPA's replicas, not drift
    out = capsys.readouterr().out
    assert "Deployment shop/web: replicas owned by HorizontalPodAutoscaler web (3 kept" in out
