"""The warm per-user agent against the fake executor (the agent a process of
`tests.cli.agentserve`): apply, diff and get through it print what a direct run prints and exit
with its codes, its executor is kept across commands, a stale agent is replaced, a private
directory is required, the client falls back to a direct run, Ctrl-C and a killed agent end a
command as a direct run would, and the client imports none of the heavy stacks."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.cli import agentclient, agentwire, main
from reconciler.executor import fake
from tests.cli import fakehosts
from tests.manifests.conftest import EXAMPLES

ROOT = Path(__file__).resolve().parents[2]
SERVER = "tests.cli.agentserve"
HEAVY = ("asyncssh", "podman", "ruamel", "jsonschema", "numpy", "git", "cryptography")


@dataclass
class Lab:
    folder: Path
    repo: Path
    local: fake.FakeExecutor  # what a direct run in this process uses

    def status(self) -> str:
        answer = agentclient.control(self.folder, "status")
        assert answer is not None
        return answer[1]

    def pid(self) -> int:
        return int(self.status().split()[2].rstrip(","))


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    folder = tmp_path / "agent"
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES, repo)
    for name in ("key", "known_hosts"):
        (tmp_path / name).write_text("")
    local = fakehosts.use(monkeypatch, ["h1", "h2", "h3"])  # also RECONCILER_CONFIG=/dev/null
    monkeypatch.setenv("RECONCILER_SSH_KEY", str(tmp_path / "key"))
    monkeypatch.setenv("RECONCILER_KNOWN_HOSTS", str(tmp_path / "known_hosts"))
    monkeypatch.setenv(agentwire.ENV_DIR, str(folder))
    monkeypatch.setenv(agentwire.ENV_AGENT, "1")
    monkeypatch.setenv("RECONCILER_DAEMON", "none")  # diff and get: no daemon asked
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setattr(agentclient, "AGENT_MODULE", SERVER)
    yield Lab(folder, repo, local)
    answer = agentclient.control(folder, "stop")
    if answer is not None:
        _wait(lambda: agentclient.control(folder, "status") is None)


def _wait(done: object, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(done) and done():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def _untimed(result: tuple[int, str, str]) -> tuple[int, str, str]:
    code, out, err = result
    return code, re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIME", out), err


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_apply_through_the_agent_keeps_its_executor_and_a_no_op_exits_0(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "apply", "-q", str(lab.repo))
    assert code == 0, err
    assert "5 created" in out and lab.local.calls == []  # not run in this process
    pid = lab.pid()
    code, out, err = _run(capsys, "apply", "-q", str(lab.repo))
    assert (code, err) == (0, "")
    assert "0 created, 0 replaced, 0 deleted, 0 failed, 5 unchanged" in out
    assert lab.pid() == pid and "2 command(s) run, 0 waiting, 1 executor(s)" in lab.status()
    assert oct(lab.folder.stat().st_mode & 0o777) == "0o700"
    assert oct((lab.folder / agentwire.SOCKET).stat().st_mode & 0o777) == "0o600"


def test_diff_and_get_print_the_same_bytes_and_codes_as_a_direct_run(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(capsys, "apply", "-q", str(lab.repo))[0] == 0
    assert _run(capsys, "apply", "-q", "--no-agent", str(lab.repo))[0] == 0
    backend = lab.repo / "shop" / "backend.yaml"
    backend.write_text(backend.read_text().replace("replicas: 2", "replicas: 1"))
    repo = str(lab.repo)
    for argv in (("diff", repo), ("diff", "-o", "json", repo), ("get", "pods", "-f", repo),
                 ("get", "deployments", "-f", repo)):  # fmt: skip
        through = _run(capsys, *argv)
        calls = len(lab.local.calls)
        here = _run(capsys, *argv, "--no-agent")
        assert len(lab.local.calls) > calls  # the direct run read this process's fake
        assert _untimed(through) == _untimed(here)  # the fakes made their pods seconds apart
    assert _run(capsys, "diff", str(lab.repo))[0] == 1  # changes pending


def test_usage_and_manifest_errors_keep_their_exit_codes(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "apply", "--no-such-flag", str(lab.repo))
    assert code == 2 and "unrecognized arguments: --no-such-flag" in err and out == ""
    (lab.repo / "shop" / "broken.yaml").write_text("apiVersion: v1\nkind: [unclosed\n")
    code, out, err = _run(capsys, "apply", str(lab.repo))
    assert code == 3 and f"{lab.repo}/shop/broken.yaml:3:1: error: invalid YAML" in err
    code, _, err = _run(capsys, "apply", str(lab.repo / "missing"))
    assert code == 2 and "missing" in err


def test_the_environment_and_directory_are_the_clients(
    lab: Lab, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(lab.repo)
    code, out, _ = _run(capsys, "apply", "-q")  # PATH defaults to the client's directory
    assert code == 0 and "5 created" in out
    monkeypatch.setenv("RECONCILER_SSH_KEY", str(lab.repo / "no-such-key"))
    code, _, err = _run(capsys, "apply", "-q")
    assert code == 2 and "no-such-key not found" in err


def test_a_stale_agent_is_replaced(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    lab.folder.mkdir(mode=0o700)
    stale = subprocess.Popen([sys.executable, "-m", SERVER, "--dir", str(lab.folder),
                              "--fingerprint", "other code"])  # fmt: skip
    try:
        _wait(lambda: agentclient.control(lab.folder, "status") is not None)
        code, out, err = _run(capsys, "apply", "-q", str(lab.repo))
        assert code == 0 and "5 created" in out, err
        assert stale.wait(timeout=30) == 0  # it exited when asked by newer code
        assert lab.pid() != stale.pid
    finally:
        if stale.poll() is None:
            stale.kill()
            stale.wait()


def test_without_a_private_directory_or_an_agent_it_runs_here(
    lab: Lab, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lab.folder.mkdir(mode=0o755)
    lab.folder.chmod(0o755)
    code, out, err = _run(capsys, "apply", "-q", str(lab.repo))
    assert code == 0 and "5 created" in out and err == ""  # here, silently: only the env
    assert lab.local.calls and not (lab.folder / agentwire.SOCKET).exists()
    code, out, err = _run(capsys, "apply", "-q", "--agent", str(lab.repo))
    assert code == 0 and "5 unchanged" in out
    assert err.startswith("reconciler: the agent did not run it") and err.count("\n") == 1
    lab.folder.chmod(0o700)
    monkeypatch.setattr(agentclient, "AGENT_MODULE", "no_such_module_here")
    code, out, err = _run(capsys, "diff", "--agent", str(lab.repo))
    assert code == 0 and "the agent exited at start" in err


def test_other_commands_and_help_never_reach_the_agent() -> None:
    env = {agentwire.ENV_AGENT: "1"}
    assert agentclient.wanted(["validate", "."], env) == (False, False)
    assert agentclient.wanted(["apply", "--help"], env) == (False, False)
    assert agentclient.wanted(["apply", "--no-agent"], env) == (False, False)
    assert agentclient.wanted(["apply"], env) == (True, False)
    assert agentclient.wanted(["diff", "--agent"], {}) == (True, True)
    assert agentclient.wanted(["get", "pods"], {agentwire.ENV_AGENT: "0"}) == (False, False)


def test_private_dir_refuses_a_directory_others_may_enter(tmp_path: Path) -> None:
    open_dir = tmp_path / "open"
    open_dir.mkdir(mode=0o755)
    open_dir.chmod(0o755)
    assert agentwire.private_dir(open_dir, create=True) is None
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    assert agentwire.private_dir(link, create=False) is None
    made = agentwire.private_dir(tmp_path / "made" / "here", create=True)
    assert made is not None and made.stat().st_mode & 0o777 == 0o700


CLIENT = """
import json, sys
from reconciler.cli import main
code = main.main(sys.argv[1:])
print(json.dumps([code, sorted(sys.modules)]), file=sys.stderr)
"""


def _client(*argv: str, slow: float = 0.0) -> subprocess.Popen[str]:
    env = {**os.environ, "RECONCILER_TEST_SLOW": str(slow)}
    return subprocess.Popen([sys.executable, "-c", CLIENT, *argv], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def test_the_client_imports_no_planner_ssh_or_yaml(lab: Lab) -> None:
    assert main.main(["apply", "-q", str(lab.repo)]) == 0  # the agent runs
    done = _client("diff", str(lab.repo))
    _, err = done.communicate(timeout=60)
    code, modules = json.loads(err.strip().splitlines()[-1])
    assert code == 0, err
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    ours = sorted(m for m in modules if m.startswith("reconciler.") and m != "reconciler.cli"
                  and not m.startswith(("reconciler.cli.main", "reconciler.cli.agent",
                                        "reconciler.runtime")))  # fmt: skip
    assert heavy == [] and ours == []


def _started(lab: Lab, count: int) -> bool:
    log = (lab.folder / agentwire.LOG).read_text()
    return log.count("running reconciler diff") >= count


def test_ctrl_c_cancels_the_command_in_the_agent_and_a_second_client_waits(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main.main(["apply", "-q", str(lab.repo)]) == 0
    slow = _client("diff", str(lab.repo), slow=120)
    _wait(lambda: _started(lab, 1))
    waiting = _client("diff", str(lab.repo))
    _wait(lambda: "1 waiting" in lab.status())
    slow.send_signal(signal.SIGINT)
    _, err = slow.communicate(timeout=60)
    assert slow.returncode == 0  # the probe script exits 0; its code is printed
    assert json.loads(err.strip().splitlines()[-1])[0] == 130
    assert "reconciler: interrupted" in err
    _, err = waiting.communicate(timeout=60)
    assert json.loads(err.strip().splitlines()[-1])[0] == 0
    assert "reconciler: waiting for the agent to finish `reconciler diff`" in err
    assert "3 command(s) run" in lab.status()


def test_a_killed_agent_ends_its_command_and_the_next_one_starts_another(
    lab: Lab, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main.main(["apply", "-q", str(lab.repo)]) == 0
    pid = lab.pid()
    slow = _client("diff", str(lab.repo), slow=120)
    _wait(lambda: _started(lab, 1))
    os.kill(pid, signal.SIGKILL)
    _, err = slow.communicate(timeout=60)
    assert json.loads(err.strip().splitlines()[-1])[0] == agentclient.EXIT_LOST
    assert "the agent stopped before the command finished" in err
    code, out, _ = _run(capsys, "apply", "-q", str(lab.repo))
    assert code == 0 and "5 created" in out  # a new agent, with a new fake executor
    assert lab.pid() != pid


def test_an_idle_agent_exits(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(agentwire.ENV_IDLE, "1")
    assert main.main(["apply", "-q", str(lab.repo)]) == 0
    _wait(lambda: agentclient.control(lab.folder, "status") is None)
    assert not (lab.folder / agentwire.SOCKET).exists()
