"""Which files of a public repository join bench/corpus, the input of `corpus_bench`: every YAML
file whose every document is of a kind reconciler reads, copied unchanged; Helm templates (`{{`)
and the patches a kustomization names (not whole objects) are left out.

Usage: python -m bench.corpus_select GITDIR DEST   (GITDIR: a bare clone; its HEAD is read)
"""

from __future__ import annotations

import argparse
import io
import posixpath
import subprocess
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from reconciler.model import base

KINDS = frozenset(kind.value for kind in base.Kind)
_KUSTOMIZATIONS = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_PATCH_LISTS = ("patchesStrategicMerge", "patchesJson6902", "patches")


def tracked(gitdir: Path) -> list[str]:
    """Every file path of HEAD."""
    out = subprocess.run(["git", "--git-dir", str(gitdir), "ls-tree", "-r", "--name-only", "HEAD"],
                         check=True, capture_output=True, text=True).stdout  # fmt: skip
    return [line for line in out.splitlines() if line]


def show(gitdir: Path, path: str) -> bytes:
    return subprocess.run(["git", "--git-dir", str(gitdir), "show", f"HEAD:{path}"],
                          check=True, capture_output=True).stdout  # fmt: skip


def documents(text: str) -> list[Any] | None:
    """The non-empty documents of a YAML text, or None if it does not parse (duplicate keys are
    allowed here: such a file is kept, and refused by the bench as Kubernetes' own tools do)."""
    yaml = YAML(typ="safe", pure=True)
    yaml.allow_duplicate_keys = True
    try:
        return [doc for doc in yaml.load_all(io.StringIO(text)) if doc is not None]
    except YAMLError:
        return None


def patches(gitdir: Path, paths: list[str]) -> set[str]:
    """The files that kustomizations of the repository name as patches."""
    named: set[str] = set()
    for path in paths:
        if posixpath.basename(path) not in _KUSTOMIZATIONS:
            continue
        docs = documents(show(gitdir, path).decode("utf-8", "replace")) or []
        here = posixpath.dirname(path)
        for doc in docs:
            for key in _PATCH_LISTS:
                for entry in (doc.get(key) or []) if isinstance(doc, dict) else []:
                    file = entry.get("path") if isinstance(entry, dict) else entry
                    if isinstance(file, str) and "\n" not in file:
                        named.add(posixpath.normpath(posixpath.join(here, file)))
    return named


def select(gitdir: Path) -> list[str]:
    """The paths of HEAD that join the corpus."""
    paths = tracked(gitdir)
    skipped = patches(gitdir, paths)
    chosen = []
    for path in paths:
        if not path.endswith((".yaml", ".yml")) or path in skipped:
            continue
        text = show(gitdir, path).decode("utf-8", "replace")
        if "{{" in text:  # a Helm or other template, not a manifest
            continue
        docs = documents(text)
        if docs and all(isinstance(d, dict) and d.get("kind") in KINDS for d in docs):
            chosen.append(path)
    return chosen


def copy(gitdir: Path, dest: Path) -> list[str]:
    """Copy the selected files of `gitdir` under `dest`, keeping their paths."""
    chosen = select(gitdir)
    for path in chosen:
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(show(gitdir, path))
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("gitdir", type=Path)
    parser.add_argument("dest", type=Path)
    args = parser.parse_args()
    chosen = copy(args.gitdir, args.dest)
    print(f"{len(chosen)} files copied to {args.dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
