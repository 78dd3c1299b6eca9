"""The real-world corpus bench: which files of a repository are selected (`bench.corpus_select`)
and how files are counted alone and folder by folder (`bench.corpus_bench`)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from bench import corpus_bench, corpus_select

POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n" \
      "    - name: c\n      image: registry.example:5000/c:1\n{extra}"  # fmt: skip
CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: b\n"
USES_SETTINGS = "      envFrom:\n        - configMapRef:\n            name: settings\n"


def _git_repo(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    env = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "."], check=True)
    subprocess.run(["git", *env, "-C", str(root), "commit", "-qm", "c"], check=True)
    return root / ".git"


def test_select_keeps_whole_objects_of_read_kinds_only(tmp_path: Path) -> None:
    gitdir = _git_repo(tmp_path / "repo", {
        "app/pod.yaml": POD.format(name="web", extra=""),
        "app/both.yml": POD.format(name="a", extra="") + "---\n" + CONFIG_MAP,
        "app/with-sa.yaml": POD.format(name="b", extra="") + "---\nkind: ServiceAccount\n",
        "chart/templates/pod.yaml": POD.format(name="{{ .Values.name }}", extra=""),
        "chart/values.yaml": "name: web\n",
        "kust/kustomization.yaml": "resources: [base.yaml]\npatches:\n  - path: patch.yaml\n"
                                   "patchesStrategicMerge:\n  - more.yaml\n",
        "kust/base.yaml": POD.format(name="base", extra=""),
        "kust/patch.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: base\n",
        "kust/more.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: base\n",
        "broken.yaml": "kind: Pod\n  bad: [\n",
        "notes.txt": "kind: Pod\n",
    })  # fmt: skip
    assert corpus_select.select(gitdir) == ["app/both.yml", "app/pod.yaml", "kust/base.yaml"]
    corpus_select.copy(gitdir, tmp_path / "out")
    assert (tmp_path / "out/kust/base.yaml").read_text() == POD.format(name="base", extra="")


def test_files_alone_and_folders_together_per_source(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    files = {
        "one/app/pod.yaml": POD.format(name="web", extra=USES_SETTINGS),
        "one/app/settings.yaml": CONFIG_MAP,
        "two/pod.yaml": POD.format(name="web", extra="status: {phase: Running}\n"),
        "two/host.yaml": POD.format(name="host", extra="").replace(
            "spec:\n", "spec:\n  hostNetwork: true\n"),
    }
    for name, text in files.items():
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        (corpus / name).write_text(text)
    one, two = corpus_bench.sources([corpus])
    alone = corpus_bench.measure(one)
    assert sorted(alone.accepted) == ["one/app/pod.yaml", "one/app/settings.yaml"]
    assert alone.warned == ["one/app/pod.yaml"]  # its ConfigMap is in another file: it waits
    together = corpus_bench.measure_together(one)
    assert sorted(together.accepted) == ["one/app/pod.yaml", "one/app/settings.yaml"]
    assert together.warned == []
    warned = corpus_bench.measure(two)
    assert (warned.accepted, warned.warned) == (["two/pod.yaml"], ["two/pod.yaml"])
    assert list(warned.refused) == ["two/host.yaml"]
    total = corpus_bench.Tally()
    total.add(alone)
    total.add(warned)
    assert (total.total, len(total.accepted), len(total.refused)) == (4, 3, 1)


def test_compare_lists_files_whose_verdict_changed(tmp_path: Path) -> None:
    earlier = corpus_bench.Tally(accepted=["s/a.yaml"], refused={"s/b.yaml": ["x: y: no"]})
    now = corpus_bench.Tally(accepted=["s/b.yaml"], refused={"s/a.yaml": ["code: f: why"]})
    saved = json.loads(json.dumps(corpus_bench.to_json({"s": earlier}, {"s": earlier})))
    assert corpus_bench.changes(saved, {"s": now}) == [
        "  now accepted: s/b.yaml",
        "  now refused:  s/a.yaml: code: f: why",
    ]
    assert corpus_bench.changes(saved, {"s": earlier}) == []


def test_plan_alone_names_what_cannot_run(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(POD.format(name="web", extra=""))
    (tmp_path / "far.yaml").write_text(
        POD.format(name="far", extra="").replace("spec:\n", "spec:\n  nodeSelector: {zone: x}\n")
    )
    assert corpus_bench.plan_alone(tmp_path / "ok.yaml") == []
    assert corpus_bench.plan_alone(tmp_path / "far.yaml") == [
        "unschedulable: 0/3 hosts: 3 didn't match Pod's node affinity/selector"
    ]
