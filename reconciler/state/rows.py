"""Rows of the state database read back as `state.conditions` values (`state.store`): a value
written by a newer daemon that this one does not know is read as the nearest it knows, never a
crash."""

from __future__ import annotations

import json
from typing import Any

from reconciler.state import conditions as cond

SYNC_SELECT = "SELECT id, revision, trigger, started, duration, result, counts, errors FROM syncs"


def sync_of(row: tuple[Any, ...]) -> cond.SyncRecord:
    sync_id, revision, trigger, started, duration, result, counts, errors = row
    return cond.SyncRecord(
        id=sync_id,
        revision=revision,
        trigger=trigger,
        started=started,
        duration=duration,
        result=result_of(result),
        counts=json.loads(counts),
        errors=tuple(json.loads(errors)),
    )


def result_of(value: str | None) -> cond.SyncResult | None:
    if value is None:
        return None
    try:
        return cond.SyncResult(value)
    except ValueError:  # written by a newer daemon: report it as failed rather than crash
        return cond.SyncResult.FAILED


def status(value: str) -> cond.ConditionStatus:
    try:
        return cond.ConditionStatus(value)
    except ValueError:
        return cond.ConditionStatus.UNKNOWN


def event_kind(value: str) -> cond.EventKind:
    try:
        return cond.EventKind(value)
    except ValueError:
        return cond.EventKind.WARNING
