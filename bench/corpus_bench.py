"""Real-world manifests: how many files of bench/corpus (copied from public repositories by
`corpus_select`, one folder per repository) reconciler accepts, refuses (with the most frequent
reasons) or crashes on. The headline validates each file alone, as a new user would
(`reconciler validate FILE`'s loader, in process); beside it, each folder's files validated
together, as `kubectl apply -f DIR/` would send them (not recursive). `--plan` also plans each
accepted file alone with the 3 example Hosts (examples/repo/hosts) and nothing running, as
`reconciler diff` does: a file accepted by `validate` that planning cannot run is counted.

Usage: python -m bench.corpus_bench [--corpus DIR]... [--top N] [--files] [--plan]
                                    [--json OUT] [--compare EARLIER.json]
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import shutil
import tempfile
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.manifests import loader
from reconciler.model import hoststate
from reconciler.plan import pipeline

CORPUS = Path(__file__).resolve().parent / "corpus"
HOSTS = Path(__file__).resolve().parent.parent / "examples" / "repo" / "hosts"
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|\b\d+\b")


@dataclass
class Tally:
    accepted: list[str] = field(default_factory=list)
    warned: list[str] = field(default_factory=list)
    refused: dict[str, list[str]] = field(default_factory=dict)  # file -> its error lines
    crashed: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.accepted) + len(self.refused) + len(self.crashed)

    def add(self, other: Tally) -> None:
        self.accepted += other.accepted
        self.warned += other.warned
        self.refused.update(other.refused)
        self.crashed.update(other.crashed)


def validate(paths: list[Path]) -> dict[str, tuple[list[str], list[str]]]:
    """(errors, warnings) by file name of files validated together as one repository, as
    `code: field: message` lines (the files must have distinct names)."""
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            shutil.copy(path, Path(tmp) / path.name)
        result = loader.load_repository(Path(tmp))
    found: dict[str, tuple[list[str], list[str]]] = {p.name: ([], []) for p in paths}
    for d in result.diagnostics:
        line = f"{d.code}: {_field(d.path)}: {d.message}"
        names = [d.file] if d.file in found else list(found)  # not of one file: of them all
        for name in names:
            found[name][0 if d in result.errors else 1].append(line)
    return found


def validate_alone(path: Path) -> tuple[list[str], list[str]]:
    """(errors, warnings) of one file validated on its own."""
    return validate([path])[path.name]


def plan_alone(path: Path) -> list[str]:
    """Why planning an accepted file alone (with the example Hosts, nothing running) cannot run
    all of it: the plan's errors and the pods it cannot place, as `code: message` lines."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(path, Path(tmp) / path.name)
        shutil.copytree(HOSTS, Path(tmp) / "hosts")
        result = loader.load_repository(Path(tmp))
    if result.errors:
        return [f"{d.code}: {_field(d.path)}: {d.message}" for d in result.errors]
    seen = {h.meta.name: hoststate.HostObservation(h.meta.name, True) for h in result.state.hosts}
    planned = pipeline.build_plan(result.state, seen, "corpus")
    return [f"{d.code}: {d.message}" for d in planned.errors] + [
        f"unschedulable: {u.message}" for u in planned.unschedulable
    ]


def _field(path: str) -> str:
    """The last named field of a path (`spec.template.spec.volumes[0].hostPath` -> `hostPath`)."""
    return re.sub(r"\[[^]]*\]", "", path).rsplit(".", 1)[-1] or path


def manifests(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def _count(tally: Tally, name: str, errors: list[str], warnings: list[str]) -> None:
    if errors:
        tally.refused[name] = errors
    else:
        tally.accepted.append(name)
        if warnings:
            tally.warned.append(name)


def measure(source: Path) -> Tally:
    """Every file of `source` validated alone (named from the source's folder name on)."""
    tally = Tally()
    for path in manifests(source):
        name = str(path.relative_to(source.parent))
        try:
            errors, warnings = validate_alone(path)
        except Exception:  # a crash is what this counts
            tally.crashed[name] = traceback.format_exc(limit=3)
            continue
        _count(tally, name, errors, warnings)
    return tally


def measure_together(source: Path) -> Tally:
    """Each folder's own files (not its sub-folders') validated together."""
    tally = Tally()
    folders: dict[Path, list[Path]] = collections.defaultdict(list)
    for path in manifests(source):
        folders[path.parent].append(path)
    for folder, paths in sorted(folders.items()):
        prefix = folder.relative_to(source.parent)
        try:
            found = validate(paths)
        except Exception:
            for path in paths:
                tally.crashed[str(prefix / path.name)] = traceback.format_exc(limit=3)
            continue
        for name, (errors, warnings) in found.items():
            _count(tally, str(prefix / name), errors, warnings)
    return tally


def sources(corpora: Iterable[Path]) -> list[Path]:
    """The folders of the corpora, one per public repository."""
    return [d for corpus in corpora for d in sorted(corpus.iterdir()) if d.is_dir()]


def reasons(tally: Tally) -> collections.Counter[str]:
    """Refusal reasons by number of files (a reason counted once per file), values masked."""
    counter: collections.Counter[str] = collections.Counter()
    for lines in tally.refused.values():
        counter.update({_QUOTED.sub("…", line) for line in lines})
    return counter


def _row(name: str, tally: Tally) -> str:
    accepted, total = len(tally.accepted), tally.total or 1
    return (f"  {name:40s} {tally.total:5d} {accepted:5d} {100 * accepted / total:4.0f}% "
            f"{len(tally.warned):6d} {len(tally.refused):7d} {len(tally.crashed):7d}")  # fmt: skip


def table(title: str, tallies: dict[str, Tally]) -> Tally:
    """Print one row per source and the total; return the total."""
    print(title)
    print(f"  {'source':40s} {'files':>5s} {'accepted':>11s} {'warned':>6s} {'refused':>7s} "
          f"{'crashed':>7s}")  # fmt: skip
    total = Tally()
    for name, tally in tallies.items():
        print(_row(name, tally))
        total.add(tally)
    print(_row("total", total))
    return total


def to_json(alone: dict[str, Tally], together: dict[str, Tally]) -> dict[str, object]:
    """Both measures, per source: every file's verdict (for `--compare` in a later run)."""
    return {mode: {name: {"accepted": t.accepted, "warned": t.warned, "refused": t.refused,
                          "crashed": sorted(t.crashed)} for name, t in tallies.items()}
            for mode, tallies in (("alone", alone), ("together", together))}  # fmt: skip


def changes(earlier: dict[str, Any], alone: dict[str, Tally]) -> list[str]:
    """Files validated alone whose verdict changed since an earlier `--json` run."""
    lines = []
    for name, tally in alone.items():
        before = earlier.get("alone", {}).get(name, {})
        was = set(before.get("accepted", []))
        now = set(tally.accepted)
        lines += [f"  now accepted: {f}" for f in sorted(now - was)]
        lines += [f"  now refused:  {f}: {tally.refused[f][0]}" for f in sorted(was - now)
                  if f in tally.refused]  # fmt: skip
    return lines


def _print_plans(folders: list[Path], alone: Tally) -> None:
    roots = {d.name: d.parent for d in folders}
    failed = {}
    for name in alone.accepted:
        try:
            lines = plan_alone(roots[name.split("/", 1)[0]] / name)
        except Exception:
            lines = [f"crash: {traceback.format_exc(limit=3).strip().splitlines()[-1]}"]
        if lines:
            failed[name] = lines
    print(f"accepted files that do not plan whole, alone with the example Hosts: {len(failed)} "
          f"of {len(alone.accepted)}")  # fmt: skip
    for name, lines in sorted(failed.items()):
        print(f"  {name}:")
        for line in lines:
            print(f"      {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, action="append",
                        help=f"a folder of sources (repeatable; default {CORPUS})")  # fmt: skip
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--files", action="store_true", help="list every refused file")
    parser.add_argument("--plan", action="store_true", help="also plan each accepted file")
    parser.add_argument("--json", type=Path, help="write every file's verdict here")
    parser.add_argument("--compare", type=Path, help="an earlier --json: list what changed")
    args = parser.parse_args()
    folders = sources(args.corpus or [CORPUS])
    by_source = {d.name: measure(d) for d in folders}
    by_folder = {d.name: measure_together(d) for d in folders}
    alone = table("each file validated alone (the headline):", by_source)
    together = table("each folder's files validated together (as `kubectl apply -f DIR/`):",
                     by_folder)  # fmt: skip
    if args.plan:
        _print_plans(folders, alone)
    if args.json:
        args.json.write_text(json.dumps(to_json(by_source, by_folder), indent=1) + "\n")
    if args.compare:
        print("changed since", args.compare, "(files validated alone):")
        print("\n".join(changes(json.loads(args.compare.read_text()), by_source)) or "  none")
    print("top refusal reasons, files validated alone (files):")
    for reason, count in reasons(alone).most_common(args.top):
        print(f"  {count:3d}  {reason}")
    print("top refusal reasons, folders validated together (files):")
    for reason, count in reasons(together).most_common(args.top):
        print(f"  {count:3d}  {reason}")
    if args.files:
        for name, lines in sorted(alone.refused.items()):
            print(f"{name}:")
            for line in lines:
                print(f"    {line}")
    for name, trace in {**alone.crashed, **together.crashed}.items():
        print(f"CRASH {name}:\n{trace}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
