"""`reconciler get RESOURCE NAME` and `-A`, as kubectl users type them: the rows of one object,
NotFound with exit 1, `-A` every namespace. Before, both were usage errors (exit 2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reconciler.cli import getname, main
from tests.cli import fakehosts
from tests.manifests.conftest import EXAMPLES


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    fakehosts.use(monkeypatch, ["h1", "h2", "h3"])
    path = tmp_path / "repo"
    shutil.copytree(EXAMPLES, path)
    assert main.main(["apply", "-q", str(path)]) == 0
    return path


def _pods(repo: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    assert main.main(["get", "pods", "-f", str(repo), "-o", "json"]) == 0
    return sorted(item["name"] for item in json.loads(capsys.readouterr().out)["items"])


def test_get_pods_name_prints_that_pod_only(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, *others = _pods(repo, capsys)
    assert main.main(["get", "pods", first, "-f", str(repo)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["NAMESPACE", "NAME"] and len(lines) == 2
    assert lines[1].split()[1] == first
    assert main.main(["get", "pod", first, "-f", str(repo), "-n", "shop", "-o", "json"]) == 0
    assert [i["name"] for i in json.loads(capsys.readouterr().out)["items"]] == [first]
    assert main.main(["get", "po", first, "-f", str(repo), "-o", "yaml"]) == 0
    out = capsys.readouterr().out
    assert f"name: {first}" in out and not any(f"name: {o}\n" in out for o in others)


def test_a_missing_name_is_not_found_exit_1(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main.main(["get", "deployments", "nosuch", "-f", str(repo)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == 'reconciler get: deployments "nosuch" not found\n'
    assert main.main(["get", "deploy", "web", "-f", str(repo), "-n", "ops"]) == 1
    capsys.readouterr()
    assert main.main(["get", "deploy", "web", "-f", str(repo), "-n", "shop"]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[:2] == ["shop", "web"]


def test_all_namespaces_is_the_list_without_n(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    everything = _pods(repo, capsys)
    assert main.main(["get", "pods", "-A", "-f", str(repo), "-o", "json"]) == 0
    assert sorted(i["name"] for i in json.loads(capsys.readouterr().out)["items"]) == everything
    assert main.main(["get", "pods", "--all-namespaces", "-n", "ops", "-f", str(repo)]) == 0


def test_only_keeps_the_header_and_the_named_rows() -> None:
    table = "NAMESPACE   NAME   READY\nshop        web    1/1\nshop        web2   1/1\n"
    assert getname.only(table, "web", "table") == (
        "NAMESPACE   NAME   READY\nshop        web    1/1\n",
        True,
    )
    assert getname.only(table, "nope", "wide") == ("", False)
    assert getname.only("", "web", "table") == ("", False)
    listed = json.dumps({"kind": "PodList", "items": [{"name": "a"}, {"name": "b"}]})
    text, found = getname.only(listed, "b", "json")
    assert found and json.loads(text) == {"kind": "PodList", "items": [{"name": "b"}]}
