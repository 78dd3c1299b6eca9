"""Push webhooks (GitHub, GitLab): is this request authentic, and does it ask for a fetch?

Pure functions, no I/O: the daemon's HTTP handler passes the headers, the raw body and the shared
secret, answers with `result.status`, and triggers `source.resolve()` when `result.fetch` is true.
Authentication comes first: nothing from an unauthenticated body is parsed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.source import gitrun

ZERO_SHA = ("0" * 40, "0" * 64)
"""The `after` of a push that deleted the branch."""


@dataclass(frozen=True)
class WebhookResult:
    """The verdict on one webhook request."""

    ok: bool
    """The request is authentic and well-formed (a ping or an ignored event included)."""
    status: int
    """The HTTP status to answer with: 202 fetch started, 200 ping, 204 ignored, 400, 401."""
    reason: str
    """Why, in words for the response body and the log."""
    ref: str | None = None
    """The pushed ref (`refs/heads/main`) of a push event."""
    sha: str | None = None
    """The commit the ref points at after the push; None when the push deleted the branch."""
    fetch: bool = False
    """True when the source should be fetched now (a push to the configured branch)."""


def _refuse(status: int, reason: str) -> WebhookResult:
    return WebhookResult(ok=False, status=status, reason=reason)


def _ignore(status: int, reason: str) -> WebhookResult:
    return WebhookResult(ok=True, status=status, reason=reason)


def verify(
    headers: Mapping[str, str], body: bytes, secret: bytes, branch: str | None = None
) -> WebhookResult:
    """Check a GitHub or GitLab webhook request and say what to do with it.

    With `branch`, a push to any other ref is answered 204 and does not fetch; without it every
    authentic push has `fetch=True` and the caller checks `ref == f"refs/heads/{branch}"`.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    if not secret:
        return _refuse(401, "no webhook secret is configured, so no request can be trusted")
    if "x-hub-signature-256" in lowered or "x-github-event" in lowered:
        return _github(lowered, body, secret, branch)
    if "x-gitlab-token" in lowered or "x-gitlab-event" in lowered:
        return _gitlab(lowered, body, secret, branch)
    return _refuse(
        401,
        "not signed: expected an X-Hub-Signature-256 (GitHub) or X-Gitlab-Token (GitLab) header",
    )


def _same(expected: bytes, given: str) -> bool:
    return hmac.compare_digest(expected, given.encode("utf-8", errors="replace"))


def _github(
    headers: dict[str, str], body: bytes, secret: bytes, branch: str | None
) -> WebhookResult:
    signature = headers.get("x-hub-signature-256", "").strip()
    if not signature:
        return _refuse(
            401,
            "X-Hub-Signature-256 header missing; set the webhook's secret in GitHub "
            "(only SHA-256 signatures are accepted)",
        )
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not _same(expected.encode("ascii"), signature):
        return _refuse(401, "X-Hub-Signature-256 does not match: wrong secret or altered body")
    event = headers.get("x-github-event", "")
    if event == "ping":
        return _ignore(200, "pong: webhook verified")
    if not event:
        return _refuse(400, "X-GitHub-Event header missing")
    if event != "push":
        return _ignore(204, f"{event!r} event ignored; only push events trigger a fetch")
    if "application/x-www-form-urlencoded" in headers.get("content-type", ""):
        return _refuse(
            400, "form-encoded payload: set the webhook's content type to application/json"
        )
    payload = _json_object(body)
    if isinstance(payload, WebhookResult):
        return payload
    return _push(payload.get("ref"), payload.get("after"), branch)


def _gitlab(
    headers: dict[str, str], body: bytes, secret: bytes, branch: str | None
) -> WebhookResult:
    token = headers.get("x-gitlab-token", "")
    if not token:
        return _refuse(
            401, "X-Gitlab-Token header missing; set the webhook's secret token in GitLab"
        )
    if not _same(secret, token):
        return _refuse(401, "X-Gitlab-Token does not match the webhook secret")
    event = headers.get("x-gitlab-event", "")
    if not event:
        return _refuse(400, "X-Gitlab-Event header missing")
    if event != "Push Hook":
        return _ignore(204, f"{event!r} event ignored; only push events trigger a fetch")
    payload = _json_object(body)
    if isinstance(payload, WebhookResult):
        return payload
    sha = payload.get("checkout_sha") or payload.get("after")
    return _push(payload.get("ref"), sha, branch)


def _json_object(body: bytes) -> dict[str, Any] | WebhookResult:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return _refuse(400, f"body is not valid JSON: {exc}")
    if not isinstance(payload, dict):
        return _refuse(400, "body is not a JSON object")
    return payload


def _push(ref: object, after: object, branch: str | None) -> WebhookResult:
    if not isinstance(ref, str) or not ref.startswith("refs/"):
        return _refuse(400, "push payload has no 'ref' like refs/heads/<branch>")
    if after is not None and not (isinstance(after, str) and gitrun.SHA_RE.match(after)):
        return _refuse(400, "push payload's commit id ('after'/'checkout_sha') is not a full sha")
    sha = None if after in ZERO_SHA else after
    if branch is not None and ref != f"refs/heads/{branch}":
        return WebhookResult(
            ok=True, status=204, reason=f"push to {ref} ignored; watching refs/heads/{branch}",
            ref=ref, sha=sha,
        )  # fmt: skip
    what = f"push to {ref} at {sha[:12]}" if sha else f"{ref} deleted"
    return WebhookResult(
        ok=True, status=202, reason=f"{what}: fetch started", ref=ref, sha=sha, fetch=True
    )
