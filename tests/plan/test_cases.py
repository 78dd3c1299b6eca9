"""Data cases: every folder in tests/cases/plan/ is planned from its manifests and observations
and must give its plan.json (and diff.txt) exactly; the output never shows a Secret value."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from reconciler.plan import export

from . import casefiles

UPDATE = bool(os.environ.get("PLAN_CASES_UPDATE"))
CASES = casefiles.case_dirs()


def test_there_are_cases() -> None:
    assert len(CASES) >= 10


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case(case: Path) -> None:
    result = casefiles.run(case)
    got = casefiles.compact(result)
    text = casefiles.diff_output(result)
    if UPDATE:
        (case / "plan.json").write_text(json.dumps(got, indent=2) + "\n")
        (case / "diff.txt").write_text(text)
    assert got == json.loads((case / "plan.json").read_text())
    assert text == (case / "diff.txt").read_text()


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case_never_shows_secret_values(case: Path) -> None:
    secrets = [
        value.decode()
        for obj in casefiles.load_desired(case).secrets
        for value in obj.data.values()
        if len(value) >= 6
    ]
    result = casefiles.run(case)
    shown = casefiles.diff_output(result) + json.dumps(export.plan_json(result)) + repr(result)
    for secret in secrets:
        assert secret not in shown
        assert base64.b64encode(secret.encode()).decode() not in shown
