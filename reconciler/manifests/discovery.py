"""Find the manifest files of a repository: every `*.yaml`/`*.yml`, skipping dot-folders and
dot-files, refusing symlinks that lead outside the repository and anything not a regular file.

First step of `loader`; the order of the result is stable (sorted by relative path).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from reconciler.model import diagnostics as dg

SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class ManifestFile:
    path: Path
    """The file to read (a symlink already resolved)."""
    rel: str
    """Its path relative to the repository root, with '/' separators, as shown to people."""


def find(root: Path) -> tuple[list[ManifestFile], list[dg.Diagnostic]]:
    """Manifest files under `root` (an existing directory, already resolved)."""
    files: list[ManifestFile] = []
    problems: list[dg.Diagnostic] = []
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(directory)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in list(dirnames):
            if (here / name).is_symlink():
                dirnames.remove(name)
                problem = _outside(root, here / name)
                if problem is not None:
                    problems.append(problem)
        for name in sorted(filenames):
            if name.startswith(".") or not name.endswith(SUFFIXES):
                continue
            path = here / name
            rel = path.relative_to(root).as_posix()
            found, problem = _check_file(root, path, rel)
            if problem is not None:
                problems.append(problem)
            elif found is not None:
                files.append(found)
    files.sort(key=lambda f: f.rel)
    return files, problems


def _outside(root: Path, link: Path) -> dg.Diagnostic | None:
    target = link.resolve()
    if target == root or root in target.parents:
        return None
    return dg.Diagnostic(
        link.relative_to(root).as_posix(),
        1,
        1,
        "",
        "symlink points outside the repository; it is not followed",
        "replace the symlink with the file itself, or remove it",
        dg.Code.SYMLINK_OUTSIDE,
    )


def _check_file(
    root: Path, path: Path, rel: str
) -> tuple[ManifestFile | None, dg.Diagnostic | None]:
    if path.is_symlink():
        problem = _outside(root, path)
        if problem is not None:
            return None, problem
        path = path.resolve()
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return None, dg.Diagnostic(
            rel,
            1,
            1,
            "",
            f"cannot read file: {exc.strerror}",
            "fix or remove the file (is it a dangling symlink?)",
            dg.Code.IO_ERROR,
        )
    if not stat.S_ISREG(mode):
        return None, dg.Diagnostic(
            rel,
            1,
            1,
            "",
            "not a regular file",
            "manifests must be regular files; remove or rename it",
            dg.Code.NOT_A_FILE,
        )
    return ManifestFile(path, rel), None
