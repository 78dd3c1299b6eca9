"""Webhook verification: GitHub HMAC signatures, GitLab tokens, events, payloads, branches."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from reconciler.source import webhook

SECRET = b"s3cret-shared-with-the-forge"
SHA = "a" * 40
PUSH = json.dumps({"ref": "refs/heads/main", "before": "b" * 40, "after": SHA}).encode()


def github(body: bytes, event: str = "push", secret: bytes = SECRET) -> dict[str, str]:
    signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return {
        "X-GitHub-Event": event,
        "X-Hub-Signature-256": signature,
        "Content-Type": "application/json",
    }


def gitlab(token: str = SECRET.decode(), event: str = "Push Hook") -> dict[str, str]:
    return {"X-Gitlab-Event": event, "X-Gitlab-Token": token}


def test_github_push_to_the_branch_fetches() -> None:
    result = webhook.verify(github(PUSH), PUSH, SECRET, branch="main")
    assert result == webhook.WebhookResult(
        ok=True, status=202, reason=result.reason, ref="refs/heads/main", sha=SHA, fetch=True
    )


def test_headers_are_case_insensitive() -> None:
    headers = {name.lower(): value for name, value in github(PUSH).items()}
    assert webhook.verify(headers, PUSH, SECRET).fetch
    headers = {name.upper(): value for name, value in github(PUSH).items()}
    assert webhook.verify(headers, PUSH, SECRET).fetch


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        (github(PUSH, secret=b"another secret"), "does not match"),
        (github(PUSH + b" "), "does not match"),  # signed a different body
        ({"X-GitHub-Event": "push"}, "missing"),
        ({**github(PUSH), "X-Hub-Signature-256": "sha1=" + "0" * 40}, "does not match"),
        ({**github(PUSH), "X-Hub-Signature-256": "sha256=ünïcödé"}, "does not match"),
        ({"Content-Type": "application/json"}, "not signed"),
        (gitlab(token="wrong"), "does not match"),
        ({"X-Gitlab-Event": "Push Hook"}, "missing"),
    ],
)
def test_bad_or_missing_signatures_are_401_without_fetch(headers: dict[str, str], why: str) -> None:
    result = webhook.verify(headers, PUSH, SECRET, branch="main")
    assert (result.ok, result.status, result.fetch) == (False, 401, False)
    assert why in result.reason
    assert result.ref is None


def test_an_empty_secret_trusts_nothing() -> None:
    result = webhook.verify(github(PUSH, secret=b""), PUSH, b"")
    assert (result.status, result.fetch) == (401, False)


def test_a_bad_signature_is_refused_before_the_body_is_read() -> None:
    garbage = b"{not json"
    assert webhook.verify(github(PUSH), garbage, SECRET).status == 401


def test_github_ping_is_answered_without_fetch() -> None:
    body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    result = webhook.verify(github(body, event="ping"), body, SECRET)
    assert (result.ok, result.status, result.fetch) == (True, 200, False)


@pytest.mark.parametrize("event", ["issues", "pull_request", "create"])
def test_other_github_events_are_ignored(event: str) -> None:
    body = b'{"action": "opened"}'
    result = webhook.verify(github(body, event=event), body, SECRET)
    assert (result.ok, result.status, result.fetch) == (True, 204, False)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b"\xff\xfe",
        b'{"after": "' + SHA.encode() + b'"}',  # no ref
        b'{"ref": "refs/heads/main", "after": "HEAD; rm -rf /"}',
        b'{"ref": 7, "after": "' + SHA.encode() + b'"}',
    ],
)
def test_malformed_push_bodies_are_400(body: bytes) -> None:
    result = webhook.verify(github(body), body, SECRET, branch="main")
    assert (result.ok, result.status, result.fetch) == (False, 400, False)


def test_a_form_encoded_github_payload_says_how_to_fix_it() -> None:
    body = b"payload=%7B%7D"
    headers = {**github(body), "Content-Type": "application/x-www-form-urlencoded"}
    result = webhook.verify(headers, body, SECRET)
    assert result.status == 400
    assert "application/json" in result.reason


def test_a_push_to_another_branch_does_not_fetch() -> None:
    body = json.dumps({"ref": "refs/heads/feature", "after": SHA}).encode()
    result = webhook.verify(github(body), body, SECRET, branch="main")
    assert (result.ok, result.status, result.fetch, result.ref) == (
        True,
        204,
        False,
        "refs/heads/feature",
    )
    tag = json.dumps({"ref": "refs/tags/main", "after": SHA}).encode()
    assert not webhook.verify(github(tag), tag, SECRET, branch="main").fetch


def test_without_a_branch_the_caller_checks_the_ref() -> None:
    body = json.dumps({"ref": "refs/heads/feature", "after": SHA}).encode()
    result = webhook.verify(github(body), body, SECRET)
    assert result.fetch and result.ref == "refs/heads/feature"


def test_a_deleted_branch_fetches_with_no_sha() -> None:
    body = json.dumps({"ref": "refs/heads/main", "after": "0" * 40, "deleted": True}).encode()
    result = webhook.verify(github(body), body, SECRET, branch="main")
    assert (result.status, result.fetch, result.sha) == (202, True, None)


def test_gitlab_push_with_the_right_token_fetches() -> None:
    body = json.dumps(
        {"object_kind": "push", "ref": "refs/heads/main", "after": "b" * 40, "checkout_sha": SHA}
    ).encode()
    result = webhook.verify(gitlab(), body, SECRET, branch="main")
    assert (result.ok, result.status, result.fetch, result.sha) == (True, 202, True, SHA)


def test_gitlab_other_events_and_branches_are_ignored() -> None:
    body = json.dumps({"ref": "refs/tags/v1", "after": SHA}).encode()
    assert webhook.verify(gitlab(event="Tag Push Hook"), body, SECRET).status == 204
    other = json.dumps({"ref": "refs/heads/dev", "after": SHA, "checkout_sha": SHA}).encode()
    result = webhook.verify(gitlab(), other, SECRET, branch="main")
    assert (result.status, result.fetch) == (204, False)


def test_gitlab_malformed_body_is_400() -> None:
    assert webhook.verify(gitlab(), b"nope", SECRET).status == 400
