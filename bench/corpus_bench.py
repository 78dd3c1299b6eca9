"""Real-world manifests: how many files of bench/corpus (copied from kubernetes/examples) reconciler
accepts, refuses (with the most frequent reasons) or crashes on, each file validated alone as a new
user would (`reconciler validate FILE`'s loader, in process).

Usage: python -m bench.corpus_bench [--corpus DIR] [--top N] [--files]
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.manifests import loader

CORPUS = Path(__file__).resolve().parent / "corpus"
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


def validate_alone(path: Path) -> tuple[list[str], list[str]]:
    """(errors, warnings) of one file validated on its own, as `code: field: message` lines."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(path, Path(tmp) / path.name)
        result = loader.load_repository(Path(tmp))
    errors = [f"{d.code}: {_field(d.path)}: {d.message}" for d in result.errors]
    warnings = [f"{d.code}: {_field(d.path)}: {d.message}" for d in result.diagnostics
                if d not in result.errors]  # fmt: skip
    return errors, warnings


def _field(path: str) -> str:
    """The last named field of a path (`spec.template.spec.volumes[0].hostPath` -> `hostPath`)."""
    return re.sub(r"\[[^]]*\]", "", path).rsplit(".", 1)[-1] or path


def measure(corpus: Path) -> Tally:
    tally = Tally()
    for path in sorted(p for p in corpus.rglob("*") if p.suffix in (".yaml", ".yml")):
        name = str(path.relative_to(corpus))
        try:
            errors, warnings = validate_alone(path)
        except Exception:  # a crash is what this counts
            tally.crashed[name] = traceback.format_exc(limit=3)
            continue
        if errors:
            tally.refused[name] = errors
        else:
            tally.accepted.append(name)
            if warnings:
                tally.warned.append(name)
    return tally


def reasons(tally: Tally) -> collections.Counter[str]:
    """Refusal reasons by number of files (a reason counted once per file), values masked."""
    counter: collections.Counter[str] = collections.Counter()
    for lines in tally.refused.values():
        counter.update({_QUOTED.sub("…", line) for line in lines})
    return counter


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--files", action="store_true", help="list every refused file")
    args = parser.parse_args()
    tally = measure(args.corpus)
    total = tally.total or 1
    print(f"files: {tally.total}")
    print(f"accepted: {len(tally.accepted)} ({100 * len(tally.accepted) / total:.0f}%), "
          f"{len(tally.warned)} of them with warnings")  # fmt: skip
    print(f"refused: {len(tally.refused)} ({100 * len(tally.refused) / total:.0f}%)")
    print(f"crashed: {len(tally.crashed)}")
    print("top refusal reasons (files):")
    for reason, count in reasons(tally).most_common(args.top):
        print(f"  {count:3d}  {reason}")
    if args.files:
        for name, lines in sorted(tally.refused.items()):
            print(f"{name}:")
            for line in lines:
                print(f"    {line}")
    for name, trace in tally.crashed.items():
        print(f"CRASH {name}:\n{trace}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
