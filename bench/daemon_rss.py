"""The daemon at rest for `bench.cli_bench`: `reconciler daemon` on the benchmark's repository
(a local path, so no git server) once its pods run, VmRSS read from /proc over a window of
resyncs; the code of a baseline commit and this tree's, one after the other, in the same run.
Then, while it still runs, `during(port)` (the one-shot commands that ask it: `diff`/`get`), and
the breakdown of its memory (/proc/PID/smaps_rollup: anonymous and file-backed resident pages).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.harness import lab as labmod
from tests.harness import proc


def _status(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as reply:
            body: dict[str, Any] = json.loads(reply.read())
            return body
    except (OSError, ValueError):
        return None


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _rollup(pid: int) -> dict[str, float]:
    """Anonymous and file-backed resident bytes (smaps_rollup), and the thread count."""
    found = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("Anonymous", "Rss", "Pss"):
            found[f"rss_{key.lower()}"] = float(int(rest.split()[0]) * 1024)
    found["rss_file"] = found.get("rss_rss", 0.0) - found.get("rss_anonymous", 0.0)
    found["threads"] = float(len(list(Path(f"/proc/{pid}/task").iterdir())))
    return found


def measure(
    launch: list[str], repo: Path, lab: labmod.Lab, work: Path, window: float, resync: float,
    during: Callable[[int], None] | None = None,
) -> dict[str, float]:  # fmt: skip
    """Start the daemon with `launch + ["daemon", ...]`, wait until it applied the repository's
    HEAD, then sample its RSS for `window` seconds; returns bytes (end, max) and seconds, and
    `_rollup`'s figures at the end of the window. Then `during(port)`, the daemon still up."""
    work.mkdir(parents=True)
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    branch = subprocess.run(["git", "-C", str(repo), "rev-parse", "--abbrev-ref", "HEAD"],
                            check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
    port = proc.free_port()
    config = work / "config.yaml"
    config.write_text(
        f"repository: {repo}\nbranch: {branch}\nstate_dir: {work / 'state'}\n"
        f"resync_interval: {resync}\nssh_key: {lab.config.key_file}\n"
        f"known_hosts: {lab.config.known_hosts}\nlisten: 127.0.0.1:{port}\nconnect_timeout: 10\n"
    )
    env = {**os.environ, "RECONCILER_CONFIG": "/dev/null"}
    started = time.monotonic()
    with (work / "daemon.log").open("ab") as log:
        daemon = subprocess.Popen([*launch, "daemon", "--config", str(config), "--log-format",
                                   "json"], stdout=log, stderr=log, env=env)  # fmt: skip
    try:

        def applied() -> bool:
            status = _status(port) or {}
            last = status.get("lastFinishedSync") or {}
            return bool(last.get("revision") == head and last.get("result") == "Succeeded")

        proc.wait_for(applied, "the daemon's first sync", 300)
        synced = time.monotonic() - started
        samples = [_rss(daemon.pid)]
        end = time.monotonic() + window
        while time.monotonic() < end:
            time.sleep(0.5)
            samples.append(_rss(daemon.pid))
        if daemon.poll() is not None:
            raise RuntimeError(f"the daemon exited {daemon.returncode}; see {work / 'daemon.log'}")
        found = {"rss_end": float(samples[-1]), "rss_max": float(max(samples)), "synced": synced}
        found.update(_rollup(daemon.pid))
        if during is not None:
            during(port)
        return found
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(60)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()


def launcher(tree: Path | None, launch_code: str) -> list[str]:
    """The command that runs the CLI of `tree` (None: this checkout, as installed)."""
    if tree is None:
        return [sys.executable, "-m", "reconciler"]
    return [sys.executable, "-c", launch_code, str(tree)]
