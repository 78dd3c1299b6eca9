"""Checks of a `PodDisruptionBudget` (policy/v1) beyond its schema, run by `checks` per
document: exactly one of `minAvailable` / `maxUnavailable` (Kubernetes refuses both), each an
integer of at least 0 or a percentage from 0% to 100%.
"""

from __future__ import annotations

import re

from reconciler.manifests import checking
from reconciler.model import diagnostics as dg

_PERCENT = re.compile(r"^(100|[1-9]?[0-9])%$")


def check(checker: checking.Checker) -> None:
    spec = checker.doc["spec"]
    given = [key for key in ("minAvailable", "maxUnavailable") if key in spec]
    if len(given) != 1:
        checker.error(
            ("spec",),
            dg.Code.INVALID_VALUE,
            "a PodDisruptionBudget needs exactly one of minAvailable and maxUnavailable"
            + (", not both" if given else ""),
            "keep one of them, e.g. minAvailable: 1 or maxUnavailable: 25%",
        )
    for key in given:
        value = spec[key]
        if isinstance(value, bool) or (isinstance(value, int) and value < 0) or (
            isinstance(value, str) and not _PERCENT.match(value)
        ):
            checker.error(
                ("spec", key),
                dg.Code.INVALID_VALUE,
                f"{key} must be a number of pods (0 or more) or a percentage (0% to 100%), "
                f"not {value!r}",
                f"write e.g. {key}: 1 or {key}: 50%",
            )
