"""Times as Podman and git write them, read into epoch seconds: RFC 3339 with nanoseconds
(`2024-05-01T12:00:00.123456789Z`, the API's container start times) and Go's default format
(`2024-05-01 12:00:00.123 +0000 UTC`, the API's creation times). Used by the prober and the
dashboard; pure.
"""

from __future__ import annotations

import datetime


def epoch(value: str) -> float | None:
    """Epoch seconds of `value`; None when it is empty or not a time. A time without a zone is
    taken as UTC; fractions beyond microseconds are cut (Python 3.11 reads at most 6 digits)."""
    text = value.strip().replace("Z", "+00:00")
    if not text:
        return None
    if text[10:11] == " ":  # Go's format: "2024-05-01 12:00:00.123 +0000 UTC"
        parts = text.split()
        text = f"{parts[0]}T{parts[1]}{parts[2] if len(parts) > 2 else '+00:00'}"
    if "." in text:
        head, _, tail = text.partition(".")
        digits = tail[: len(tail) - len(tail.lstrip("0123456789"))]
        text = f"{head}.{digits[:6]}{tail[len(digits) :]}"
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()
