"""`pip install` prints no setuptools deprecation: the license is an SPDX expression (PEP 639)
with a setuptools that reads it (>= 77), not the deprecated `project.license` table, and no
`License ::` classifier repeats it (setuptools refuses both together)."""

from __future__ import annotations

import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_the_license_is_an_spdx_expression_setuptools_reads() -> None:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    license_ = project["project"]["license"]
    assert isinstance(license_, str), f"project.license is a table (deprecated): {license_!r}"
    assert license_ == "Apache-2.0"
    classifiers = project["project"].get("classifiers", [])
    assert not [c for c in classifiers if c.startswith("License ::")], classifiers
    (setuptools,) = [r for r in project["build-system"]["requires"] if r.startswith("setuptools")]
    assert setuptools.replace(" ", "") in {"setuptools>=77", "setuptools>=77.0", "setuptools>=80"}
