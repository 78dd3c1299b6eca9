"""Node affinity (`nodeterms`) over all hosts at once, for `placement`: each requirement is
answered once per distinct value of its label (`Requirement.matches_value`, the reference's
own rule), then read per host through the label's value codes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from reconciler.scheduler import nodeterms

Bools = NDArray[np.bool_]
Floats = NDArray[np.float64]
Column = tuple[NDArray[np.int32], Sequence[str]]
"""A label column: per host the code of its value (-1: no such label), and the values by code."""
Columns = Callable[[str], Column]


def _term_mask(term: nodeterms.Term, column: Columns, names: Sequence[str]) -> Bools:
    result = np.full(len(names), bool(term.requirements), dtype=np.bool_)
    for requirement in term.requirements:
        if requirement.field:
            result &= np.array([requirement.matches_value(n) for n in names], dtype=np.bool_)
            continue
        codes, values = column(requirement.key)
        # One answer per distinct value, then one for "no label" read by code -1.
        lookup = [requirement.matches_value(v) for v in values]
        lookup.append(requirement.matches_value(None))
        result &= np.array(lookup, dtype=np.bool_)[codes]
    return result


def mask(affinity: nodeterms.NodeAffinity, column: Columns, names: Sequence[str]) -> Bools:
    """Per host (in `names` order): `allows`. `column(key)` gives a label's column (with the
    implicit hostname label)."""
    if affinity.required is None:
        return np.ones(len(names), dtype=np.bool_)
    result = np.zeros(len(names), dtype=np.bool_)
    for term in affinity.required:
        result |= _term_mask(term, column, names)
    return result


def score(affinity: nodeterms.NodeAffinity, column: Columns, names: Sequence[str]) -> Floats | None:
    """Per host: `score`; None without preferred terms."""
    if not affinity.preferred:
        return None
    total = np.zeros(len(names), dtype=np.float64)
    for preferred in affinity.preferred:
        total += preferred.weight * _term_mask(preferred.term, column, names)
    return total
