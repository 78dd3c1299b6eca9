"""A git server for the daemon's end-to-end tests: a bare repository owned by its own Unix user,
reached with `git push` over a real sshd (host key pinned) on the lab's gateway address.

This is the daemon's machine in miniature: users push to `ssh://rc-git@<gateway>:2222/~/deploy.git`,
the daemon watches that repository's refs on the local file system.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.harness import hostsetup, proc

PORT = 2222
SSHD_CONFIG = "ListenAddress {address}:{port}\n" + hostsetup.SSHD_KEYS_ONLY


@dataclass(frozen=True)
class GitServer:
    user: str
    address: str
    port: int
    state_dir: Path

    @property
    def repository(self) -> Path:
        """The bare repository the daemon watches."""
        return Path(pwd.getpwnam(self.user).pw_dir) / "deploy.git"

    @property
    def url(self) -> str:
        return f"ssh://{self.user}@{self.address}:{self.port}{self.repository}"

    @property
    def known_hosts(self) -> Path:
        return self.state_dir / "known_hosts"

    @property
    def key_file(self) -> Path:
        return self.state_dir / "id_ed25519"

    def git_env(self) -> dict[str, str]:
        """Environment for `git push` with strict host-key checking against the pinned key."""
        ssh = (
            f"ssh -i {self.key_file} -o StrictHostKeyChecking=yes -o BatchMode=yes "
            f"-o UserKnownHostsFile={self.known_hosts} -o GlobalKnownHostsFile=/dev/null"
        )
        return {**os.environ, "GIT_SSH_COMMAND": ssh}


def start(state_dir: Path, address: str, user: str = "rc-git", port: int = PORT) -> GitServer:
    """Create the user and its bare repository, start sshd; idempotent."""
    state_dir.mkdir(parents=True, exist_ok=True)
    server = GitServer(user, address, port, state_dir)
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        proc.run(["useradd", "--create-home", "--shell", "/bin/sh", user])
        entry = pwd.getpwnam(user)
    proc.run(["usermod", "-p", "*", user])
    if not server.key_file.exists():
        proc.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(server.key_file)])
    host_key = state_dir / "ssh_host_ed25519_key"
    if not host_key.exists():
        proc.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)])
    home = Path(entry.pw_dir)
    ssh_dir = home / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    os.chown(ssh_dir, entry.pw_uid, entry.pw_gid)
    public = server.key_file.with_suffix(".pub").read_text()
    proc.write_file(ssh_dir / "authorized_keys", public, 0o600, owner_uid=entry.pw_uid)
    if not server.repository.exists():
        proc.run(["runuser", "-u", user, "--", "git", "init", "-q", "--bare", "-b", "main",
                  str(server.repository)])  # fmt: skip
    key = host_key.with_suffix(".pub").read_text().split()
    proc.write_file(server.known_hosts, f"[{address}]:{port} {key[0]} {key[1]}\n")
    pid_file = state_dir / "sshd.pid"
    config = state_dir / "sshd_config"
    text = SSHD_CONFIG.format(
        address=address, port=port, host_key=host_key, pid_file=pid_file, user=user
    )
    proc.write_file(config, text, 0o600)
    running = proc.pid_alive(proc.read_pid(pid_file))
    if not running:
        if proc.port_open(address, port):
            raise proc.HarnessError(f"port {address}:{port} is already in use: stop that process")
        pid_file.unlink(missing_ok=True)
        proc.run([proc.which("sshd") or "/usr/sbin/sshd", "-f", str(config)])
        proc.wait_for(lambda: proc.read_pid(pid_file) > 0, "the git server's sshd to start")
        proc.wait_for(lambda: proc.port_open(address, port), f"sshd on {address}:{port}")
    return server


def stop(server: GitServer) -> None:
    """Stop sshd (by its PID), remove the user, its repository and the state files."""
    pid_file = server.state_dir / "sshd.pid"
    proc.stop_pid(proc.read_pid(pid_file))  # 0 when it never started: nothing to stop
    with contextlib.suppress(KeyError):
        pwd.getpwnam(server.user)
        subprocess.run(["userdel", "--remove", "--force", server.user],
                       capture_output=True, check=False)  # fmt: skip
    shutil.rmtree(server.state_dir, ignore_errors=True)


class WorkTree:
    """A clone that commits and pushes to the git server over SSH (host key checked)."""

    def __init__(self, path: Path, server: GitServer, author: str = "e2e") -> None:
        self.path, self.server, self.author = path, server, author
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("remote", "add", "origin", server.url)

    def git(self, *args: str) -> str:
        result = subprocess.run(
            ["git", "-c", f"user.name={self.author}", "-c",
             f"user.email={self.author}@example.test", *args],
            cwd=self.path, capture_output=True, text=True, env=self.server.git_env(),
            timeout=120, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise proc.HarnessError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def write(self, rel: str, text: str) -> None:
        path = self.path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def commit_and_push(self, message: str) -> str:
        """Commit everything, push to main; the new commit's sha (the push has returned)."""
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        self.git("push", "-q", "origin", "main")
        return self.git("rev-parse", "HEAD")
