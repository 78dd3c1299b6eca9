"""The root of the project's exceptions and its two branches, which decide what happens next
(kopf's Temporary/Permanent, Flux's Waiting/Stalling):

- `TransientError`: may pass by itself (a timeout, a host or remote that did not answer): the
  reconcile is retried after `retry_after` seconds, with the daemon's back-off on top.
- `StalledError`: nothing changes until someone changes something (invalid manifests, a missing
  branch, an unsafe tree): the daemon waits for a new revision (or the next resync).

Packages raise their own subclasses (`source.errors`, `executor.errors`, ...), translated once
at their boundary; `retry_after(exc)` is the one place the policy is read.
"""

from __future__ import annotations


class ReconcilerError(Exception):
    """Base of every error the project raises on purpose."""


class TransientError(ReconcilerError):
    """Retry after a delay; see the module docstring."""

    retry_after: float = 5.0


class StalledError(ReconcilerError):
    """Wait for a change (a new revision, a fixed configuration); see the module docstring."""


def retry_after(exc: BaseException) -> float | None:
    """Seconds until the failed work is worth retrying, or None: wait for a change."""
    if isinstance(exc, TransientError):
        return exc.retry_after
    return None
