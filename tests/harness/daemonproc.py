"""`reconciler daemon` as a child process for end-to-end tests and benchmarks: start it on a
config file, read its HTTP endpoints, signal it. Its output goes to a log file."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.harness import proc


class DaemonProcess:
    def __init__(self, config: Path, log: Path, port: int, env: dict[str, str]) -> None:
        self.config, self.log, self.port, self.env = config, log, port, env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        """Start it (JSON logs appended to `log`) and wait until /healthz answers."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "reconciler", "daemon", "--config", str(self.config),
                 "--log-format", "json"],
                stdout=out, stderr=out, env=self.env,
            )  # fmt: skip
        proc.wait_for(lambda: self.get("/healthz") is not None, "the daemon's /healthz", timeout)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def get(self, route: str) -> str | None:
        """The body of GET `route`, or None while the daemon does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{route}", timeout=5) as r:
                return str(r.read().decode())
        except (urllib.error.URLError, OSError):
            return None

    def status(self) -> dict[str, Any] | None:
        """/status as JSON, or None while the daemon does not answer."""
        body = self.get("/status")
        return dict(json.loads(body)) if body is not None else None

    def post(self, route: str, body: bytes, headers: dict[str, str]) -> int:
        """POST `body` to `route`; the HTTP status code."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{route}", data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Send `sig` and wait for the exit (SIGKILL after `timeout`); the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()
