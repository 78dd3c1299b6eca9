"""A one-shot `reconciler diff` (or `get pods|deployments`) answered by the daemon on this
machine (POST /v1/diff, `web.dryrun`), as `kubectl diff` asks the API server for a dry run: this
process finds the manifest files as `validate` does, sends their bytes with their paths, its
revision and settings (for `get`: the resource, namespace and format), and prints the daemon's
answer: the same bytes a command run here would print. It imports no YAML library, model,
planner or SSH stack: it starts in a fraction of the time.

`plan()` and `get()` give None whenever they cannot be sure to answer as the local command
would (no daemon answers, the daemon manages other hosts, an unusual config file, discovery
problems, too large a repository): the caller then runs it here (`cli.diff`, `cli.get`).
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reconciler.cli import lightsettings
from reconciler.manifests import discovery

ROUTE = "/v1/diff"
VERSION = 1
MAX_BODY = 16 * 1024 * 1024  # web.dryrun.MAX_BODY (a test keeps them equal)
CONNECT_TIMEOUT = 0.5  # seconds: a daemon on this machine answers a connect at once
ANSWER_TIMEOUT = 300.0  # seconds for the plan: the daemon bounds its own reads of the hosts
OVERRIDE_FILE = ".reconciler/allow-prune"  # plan.pruneguard.OVERRIDE_FILE (a test checks)
UNVERSIONED = "unversioned"  # source.worktree.UNVERSIONED
GIT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Answer:
    stdout: str
    stderr: str
    code: int


def revision_of(path: Path) -> str:
    """As `source.worktree.revision_of` (with gitpython), with the git command instead: the
    commit holding `path` (12 digits), `-dirty` when the work tree has changes or untracked
    files, else "unversioned"."""
    def git(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "-C", str(path), *argv], capture_output=True, text=True,
                              timeout=GIT_TIMEOUT, check=False)  # fmt: skip

    try:
        head = git("rev-parse", "--verify", "-q", "HEAD^{commit}")
        if head.returncode != 0 or len(head.stdout.strip()) < 12:
            return UNVERSIONED
        sha = head.stdout.strip()[:12]
        for argv in (("diff", "--cached", "--abbrev=40", "--full-index", "--raw"),
                     ("diff", "--abbrev=40", "--full-index", "--raw")):  # fmt: skip
            if git(*argv).stdout:  # what gitpython's is_dirty runs
                return f"{sha}-dirty"
        status = git("status", "--porcelain", "--untracked-files")
    except (OSError, subprocess.SubprocessError):
        return UNVERSIONED
    untracked = any(line.startswith("?? ") for line in status.stdout.splitlines())
    return f"{sha}-dirty" if untracked else sha


def _files(path: Path) -> list[dict[str, str]] | None:
    """The manifest files under `path` as sent, or None when the local command must answer
    (its errors are its own): `path` missing or not a folder, a discovery problem, a file not
    readable."""
    if not path.is_dir():
        return None
    files, problems = discovery.find(path.resolve())
    if problems:
        return None
    sent = []
    for manifest in files:
        try:
            data = manifest.path.read_bytes()
        except OSError:
            return None
        sent.append({"path": manifest.rel, "data": base64.b64encode(data).decode("ascii")})
    return sent


def _sized(document: dict[str, object]) -> bytes | None:
    body = json.dumps(document).encode("utf-8")
    return body if len(body) <= MAX_BODY else None


def body_for(path: Path, display: str, output: str,
             chosen: lightsettings.DryRunSettings) -> bytes | None:  # fmt: skip
    """The `diff` request, or None when the local plan must answer: `path` missing or not a
    folder, a discovery problem, a file not readable, too large."""
    sent = _files(path)
    if sent is None:
        return None
    allowed = chosen.allow_mass_prune or (path / OVERRIDE_FILE).is_file()
    return _sized({
        "version": VERSION, "command": "diff", "output": output, "path": display,
        "revision": revision_of(path), "serviceCidr": chosen.service_cidr,
        "pruneGuardPercent": chosen.prune_guard_percent, "allowMassPrune": allowed,
        "files": sent,
    })  # fmt: skip


def get_body(path: Path, display: str, resource: str, namespace: str,
             output: str) -> bytes | None:  # fmt: skip
    """The `get RESOURCE` request (pods or deployments), or None as `body_for`."""
    sent = _files(path)
    if sent is None:
        return None
    return _sized({"version": VERSION, "command": "get", "resource": resource,
                   "namespace": namespace, "output": output, "path": display,
                   "files": sent})  # fmt: skip


def post(where: lightsettings.Endpoint, body: bytes) -> tuple[int, dict[str, object]] | None:
    """The status and JSON document; None when nothing answers at `where`. HTTP/1.1 on a plain
    socket, one request, `Connection: close` (http.client would cost 40 ms of imports)."""
    host = f"[{where.host}]" if ":" in where.host else where.host
    head = [f"POST {ROUTE} HTTP/1.1", f"Host: {host}:{where.port}",
            "Content-Type: application/json", "Accept: application/json",
            f"Content-Length: {len(body)}", "Connection: close"]  # fmt: skip
    if where.token:
        head.append(f"Authorization: Bearer {where.token}")
    try:
        connection = socket.create_connection((where.host, where.port), timeout=CONNECT_TIMEOUT)
    except OSError:
        return None
    answer = bytearray()
    try:
        connection.settimeout(ANSWER_TIMEOUT)
        connection.sendall("\r\n".join(head).encode("latin-1") + b"\r\n\r\n" + body)
        while not _complete(answer) and (chunk := connection.recv(65536)):
            answer += chunk
    except OSError as exc:
        return 0, {"error": f"no answer: {exc}"}
    finally:
        connection.close()
    return _reply(bytes(answer))


def _complete(raw: bytearray) -> bool:
    """The answer read so far is whole by its Content-Length (a server that keeps the
    connection open despite `Connection: close` is not waited for)."""
    header, found, payload = bytes(raw).partition(b"\r\n\r\n")
    if not found:
        return False
    for line in header.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return len(payload) >= int(value.strip())
    return False


def _reply(raw: bytes) -> tuple[int, dict[str, object]]:
    """The status and JSON document of a whole HTTP/1.1 answer (read to its end)."""
    header, _, payload = raw.partition(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    words = lines[0].split(" ", 2)
    if len(words) < 2 or not words[0].startswith("HTTP/1.") or not words[1].isdigit():
        return 0, {"error": "not an HTTP answer"}
    fields = {name.strip().lower(): value.strip() for name, _, value in
              (line.partition(":") for line in lines[1:])}  # fmt: skip
    length = fields.get("content-length", "")
    if length.isdigit() and int(length) != len(payload):
        return 0, {"error": "the answer ended early"}
    try:
        document = json.loads(payload)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        document = {"error": payload[:200].decode("utf-8", "replace").strip()}
    return int(words[1]), document


def plan(path: Path, display: str, output: str, chosen: lightsettings.DryRunSettings, *,
         verbose: bool = False) -> Answer | None:  # fmt: skip
    """The daemon's answer to `diff`, or None: plan here (with --daemon and nobody answering
    too: the local path then says so, as before)."""
    if chosen.where is None:
        return None
    return ask(chosen.where, body_for(path, display, output, chosen), "diff",
               (lambda message: _say(verbose, message)))  # fmt: skip


def get(path: Path, display: str, resource: str, namespace: str, output: str, *,
        where: lightsettings.Endpoint) -> Answer | None:  # fmt: skip
    """The daemon's answer to `get RESOURCE` (pods or deployments), or None: make the rows
    here (which then say why, as before)."""
    return ask(where, get_body(path, display, resource, namespace, output), "get",
               lambda message: None)  # fmt: skip


def ask(where: lightsettings.Endpoint, body: bytes | None, command: str,
        say: Callable[[str], None]) -> Answer | None:  # fmt: skip
    """POST `body` to the daemon at `where`: its answer, or None (`say` tells why)."""
    if body is None:
        say("the manifests are not sent to the daemon (see the errors below); "
            f"{HERE[command]}")  # fmt: skip
        return None
    answered = post(where, body)
    if answered is None:
        say(f"no daemon answers at {where.url}; {HERE[command]}")
        return None
    status, document = answered
    if status == 200 and document.get("version") == VERSION and _fields_ok(document):
        say(f"{DONE[command]} by the daemon at {where.url}")
        return Answer(str(document["stdout"]), str(document["stderr"]), int(str(document["code"])))
    said = str(document.get("error", "")).strip() or "no reason given"
    say(f"the daemon at {where.url} answered {ROUTE} with HTTP {status}: {said}; "
        f"{HERE[command]}")  # fmt: skip
    return None


HERE = {"diff": "planning here", "get": "reading here"}
DONE = {"diff": "planned", "get": "answered"}


def _fields_ok(document: dict[str, object]) -> bool:
    code = document.get("code")
    return (isinstance(document.get("stdout"), str) and isinstance(document.get("stderr"), str)
            and isinstance(code, int) and not isinstance(code, bool))  # fmt: skip


def _say(verbose: bool, message: str) -> None:
    if verbose:
        print(f"reconciler diff: {message}", file=sys.stderr)
