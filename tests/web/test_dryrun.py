"""POST /v1/diff refuses what it cannot read with a clear 4xx and never crashes: not JSON, a
wrong version, hostile paths (absolute, `..`, hidden, not a manifest), the same path twice, a
file that is also a folder, bad base64, a body over the limit, another content type, no token
where one is set; before its first sync it says so (503); a failure inside is a 500 without a
traceback; invalid manifests are the CLI's errors with the client's path."""

from __future__ import annotations

import base64
import http.client
import json
import random
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.controllers import sync
from reconciler.executor import fake
from reconciler.model import hoststate
from reconciler.web import dryrun, metrics, server
from reconciler.web.ui import auth

TARGETS = (hoststate.HostTarget("h1", "10.0.0.1", 22, "u1"),)
HOST = ("apiVersion: reconciler.dev/v1alpha1\nkind: Host\nmetadata: {name: h1}\n"
        "spec: {address: 10.0.0.1, ssh: {user: u1, port: 22},\n"
        "       capacity: {cpu: '2', memory: 2Gi}}\n")  # fmt: skip
POD = ("apiVersion: v1\nkind: Pod\nmetadata: {name: solo, namespace: default}\n"
       "spec:\n  containers:\n    - name: main\n      image: img:1\n")  # fmt: skip


def _body(files: list[dict[str, Any]] | None = None, **fields: Any) -> bytes:
    if files is None:
        files = _files({"h1.yaml": HOST, "a/pod.yaml": POD})
    document: dict[str, Any] = {"version": 1, "path": "repo", "revision": "abc", "files": files}
    document.update(fields)
    return json.dumps(document).encode()


def _files(named: dict[str, str]) -> list[dict[str, Any]]:
    return [{"path": p, "data": base64.b64encode(t.encode()).decode()} for p, t in named.items()]


@pytest.fixture
def planner() -> dryrun.DryRun:
    return dryrun.DryRun(fake.FakeExecutor(["h1"]), lambda: TARGETS)


def test_a_get_is_answered(planner: dryrun.DryRun) -> None:
    code, document = planner.answer(_body(command="get", resource="pods", output="wide"))
    assert code == 200 and document["code"] == 0 and document["stdout"] == ""  # nothing runs
    assert document["stderr"] == "No resources found.\n" and planner.served == 1
    code, document = planner.answer(_body(command="get", resource="deployments"))
    assert code == 200 and document["stderr"] == "No resources found.\n"
    guarded = dryrun.ReadOnly(fake.FakeExecutor(["h1"]))
    with pytest.raises(Exception, match="a dry run does not run probes"):
        guarded.probe(TARGETS[0], None, None, None)  # type: ignore[arg-type]


def test_a_plan_is_answered(planner: dryrun.DryRun) -> None:
    code, document = planner.answer(_body())
    assert code == 200 and document["code"] == 1 and "solo" in document["stdout"]
    assert document["stderr"] == "" and planner.served == 1


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "a JSON object"),
        (_body(version=2), "version 1"),
        (_body(output="yaml"), "output"),
        (_body(command="apply"), "diff or get"),
        (_body(command="get", resource="hosts"), "resource: one of pods, deployments"),
        (_body(command="get", resource="pods", output="text"), "output: one of table"),
        (_body(command="get", resource="pods", namespace="a\nb"), "control"),
        (_body(_files({"../up.yaml": POD}), command="get", resource="pods"), "files[0].path"),
        (_body(pruneGuardPercent="all"), "pruneGuardPercent"),
        (_body(allowMassPrune="yes"), "allowMassPrune"),
        (_body(revision="x" * 300), "revision"),
        (_body(path="a\nb"), "control"),
        (json.dumps({"version": 1, "files": {"a.yaml": "x"}}).encode(), "a list"),
        (_body(_files({"/etc/passwd.yaml": POD})), "files[0].path"),
        (_body(_files({"../up.yaml": POD})), "files[0].path"),
        (_body(_files({"a/../../up.yaml": POD})), "files[0].path"),
        (_body(_files({".git/x.yaml": POD})), "files[0].path"),
        (_body(_files({"a//b.yaml": POD})), "files[0].path"),
        (_body(_files({"a\\b.yaml": POD})), "files[0].path"),
        (_body(_files({"pod.txt": POD})), ".yaml or .yml"),
        (_body(_files({"x" * 300 + ".yaml": POD})), "too long"),
        (_body(_files({"a.yaml": POD}) * 2), "the same path twice"),
        (_body(_files({"a.yaml": POD, "a.yaml/b.yaml": POD})), "both a file and a folder"),
        (_body([{"path": "a.yaml", "data": "!!!"}]), "not base64"),
        (_body([{"path": "a.yaml"}]), "base64 text"),
        (_body(serviceCidr="10.0.0.0/33"), "service_cidr"),
    ],
)
def test_bad_requests_are_refused_clearly(
    planner: dryrun.DryRun, body: bytes, said: str
) -> None:
    code, document = planner.answer(body)
    assert code == 400 and said in document["error"], document
    assert planner.served == 0


def test_invalid_manifests_are_the_clis_errors(planner: dryrun.DryRun) -> None:
    broken = _files({"h1.yaml": HOST, "bad.yaml": "kind: [\n", "pod.yaml": POD.replace(
        "image: img:1", "image: 7")})  # fmt: skip
    code, document = planner.answer(_body(broken, path="/home/me/repo"))
    assert code == 200 and document["code"] == 3 and document["stdout"] == ""
    assert "/home/me/repo/bad.yaml:2:" in document["stderr"]
    assert "/home/me/repo/pod.yaml:" in document["stderr"]
    assert "reconciler-dryrun" not in document["stderr"]  # not the daemon's folder


def test_unmanaged_hosts_and_no_hosts_yet(planner: dryrun.DryRun) -> None:
    elsewhere = _files({"h1.yaml": HOST.replace("10.0.0.1", "10.0.0.9"), "pod.yaml": POD})
    code, document = planner.answer(_body(elsewhere))
    assert code == 409 and document["unmanaged"] == ["h1"]
    empty = dryrun.DryRun(fake.FakeExecutor(["h1"]), tuple)
    assert empty.answer(_body())[0] == 503


def test_a_failure_inside_is_a_500_without_traceback(
    planner: dryrun.DryRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("secret detail in a bug")

    monkeypatch.setattr(sync, "prepare_loaded", broken)
    code, document = planner.answer(_body())
    assert code == 500 and document == {"error": "internal error: RuntimeError"}


@pytest.fixture
def served(planner: dryrun.DryRun) -> Iterator[tuple[str, list[server.HttpServer]]]:
    open_one = server.HttpServer("127.0.0.1:0", dict, metrics.Registry(), lambda: True,
                                 dryrun=planner.answer)  # fmt: skip
    guarded = server.HttpServer("127.0.0.1:0", dict, metrics.Registry(), lambda: True,
                                dryrun=planner.answer, access=auth.Access("t0ken-123"))  # fmt: skip
    open_one.start()
    guarded.start()
    try:
        yield open_one.url, [open_one, guarded]
    finally:
        open_one.stop()
        guarded.stop()


def _post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, str]:
    sent = {"Content-Type": "application/json", **(headers or {})}
    request = urllib.request.Request(f"{url}/v1/diff", data=body, headers=sent, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _announce(url: str, length: int) -> int:
    """The status of a POST announcing a body of `length` bytes, none of them sent."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest("POST", "/v1/diff")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(length))
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


def test_over_http(served: tuple[str, list[server.HttpServer]]) -> None:
    url, (_, guarded) = served
    code, text = _post(url, _body())
    assert code == 200 and json.loads(text)["code"] == 1
    assert _post(url, _body(), {"Content-Type": "text/plain"})[0] == 415  # no form post
    assert _announce(url, server.DRY_RUN_MAX_BODY + 1) == 413  # refused before it is sent
    assert _post(url, b"{}")[0] == 400
    assert _post(guarded.url, _body())[0] == 401
    code, text = _post(guarded.url, _body(), {"Authorization": "Bearer t0ken-123"})
    assert code == 200, text


def test_limits_agree() -> None:
    assert server.DRY_RUN_MAX_BODY == dryrun.MAX_BODY
    assert server.DRY_RUN_ROUTE == dryrun.ROUTE


def test_random_requests_never_crash_it(planner: dryrun.DryRun) -> None:
    rng = random.Random(15)
    pieces: list[Any] = [None, 1, -1.5, True, "", "x.yaml", "../a.yaml", [], {}, "AAAA", [{}],
                         [{"path": "a.yaml", "data": "QQ=="}], "\u2028", 10**30]  # fmt: skip
    keys = ["version", "output", "path", "revision", "serviceCidr", "pruneGuardPercent",
            "allowMassPrune", "files", "command"]  # fmt: skip
    for _ in range(300):
        document: dict[str, Any] = {"version": 1}
        for key in rng.sample(keys, rng.randint(0, len(keys))):
            document[key] = rng.choice(pieces)
        code, answer = planner.answer(json.dumps(document).encode())
        assert code in (200, 400, 409, 503), (document, answer)
        assert "Traceback" not in json.dumps(answer)
    for _ in range(100):
        code, _ = planner.answer(bytes(rng.randrange(256) for _ in range(rng.randint(0, 64))))
        assert code == 400


def test_two_dry_runs_at_once_are_both_answered(planner: dryrun.DryRun) -> None:
    answers: list[int] = []
    threads = [threading.Thread(target=lambda: answers.append(planner.answer(_body())[0]))
               for _ in range(3)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200, 200, 200] and planner.served == 3
