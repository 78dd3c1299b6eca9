"""One test host's insides: its user's rootless Podman configuration, its sshd, and its Podman API
service. `lab.Lab` decides which hosts exist; this module makes one of them work."""

from __future__ import annotations

import os
import pwd
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.harness import proc

# Sandbox-only Podman settings (hybrid cgroups, no systemd, no journald): see ENVIRONMENT.md.
# Real hosts with systemd and cgroup v2 need none of this.
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]
log_driver = "k8s-file"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""
STORAGE_CONF = '[storage]\ndriver = "overlay"\n'
REGISTRIES_CONF = """\
unqualified-search-registries = []
[[registry]]
location = "{registry}"
insecure = true
[[registry]]
location = "{auth_registry}"
insecure = true
"""
AUTH_REGISTRY_PORT = 5001
"""The lab's second registry, which wants a login (`authregistry`), beside the open one."""


def registries_conf(registry: str) -> str:
    """The hosts' registries.conf: the lab's registry and its authenticated twin, plain HTTP."""
    gateway = registry.rpartition(":")[0]
    return REGISTRIES_CONF.format(
        registry=registry, auth_registry=f"{gateway}:{AUTH_REGISTRY_PORT}"
    )
SSHD_KEYS_ONLY = """\
HostKey {host_key}
PidFile {pid_file}
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
PubkeyAuthentication yes
AllowUsers {user}
"""
"""What every harness sshd shares: its own host key and PID file, one user, keys only."""
SSHD_CONFIG = (
    """\
ListenAddress {address}
Port 22
"""
    + SSHD_KEYS_ONLY
    + """\
SetEnv XDG_RUNTIME_DIR={runtime_dir}
MaxStartups 100:30:200
Subsystem sftp internal-sftp
"""
)


@dataclass
class Host:
    """A test host as recorded in the lab's state file."""

    name: str
    address: str
    user: str
    netns: str
    veth: str
    uid: int = -1
    sshd_pid: int = 0
    service_pid: int = 0

    @property
    def runtime_dir(self) -> str:
        return f"/run/user/{self.uid}"

    @property
    def home(self) -> Path:
        return Path(pwd.getpwnam(self.user).pw_dir)

    @property
    def podman_socket(self) -> str:
        return f"{self.runtime_dir}/podman/podman.sock"


def _owned_dirs(host: Host, *directories: Path) -> None:
    for directory in directories:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chown(directory, host.uid, host.uid)


def configure_user(host: Host, registry: str, client_public_key: str) -> None:
    """Runtime dir, rootless Podman config (pulls from the lab registry), authorized key."""
    home = host.home
    config_dir = home / ".config" / "containers"
    runtime = Path(host.runtime_dir)
    _owned_dirs(host, runtime, runtime / "podman", home / ".config", config_dir, home / ".ssh")
    files = {
        config_dir / "containers.conf": CONTAINERS_CONF,
        config_dir / "storage.conf": STORAGE_CONF,
        config_dir / "registries.conf": registries_conf(registry),
    }
    for path, text in files.items():
        proc.write_file(path, text, owner_uid=host.uid)
    authorized = home / ".ssh" / "authorized_keys"
    proc.write_file(authorized, client_public_key, 0o600, owner_uid=host.uid)


def host_key(host_dir: Path) -> Path:
    return host_dir / "ssh_host_ed25519_key"


PODMAN_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def _hide_podman_argv(host_dir: Path, sshd_argv: list[str]) -> list[str]:
    """`sshd_argv` run in a mount namespace of its own where every `podman` binary is covered by
    an empty, non-executable file, so that every SSH session of that sshd finds no podman.

    Why this way: the host stays a real host (same user, address, host key and login shell), only
    podman is gone, and nothing outside that sshd changes. `unshare --mount` makes the mounts
    private (no propagation back to this machine); the namespace lives as long as the daemonized
    sshd, which is stopped by its PID as usual, so there is nothing else to undo.
    """
    empty = host_dir / "no-podman"
    proc.write_file(empty, "", 0o644)
    binaries = sorted(
        {str(Path(d, "podman").resolve()) for d in PODMAN_DIRS if Path(d, "podman").exists()}
    )
    mounts = [f"mount --bind {shlex.quote(str(empty))} {shlex.quote(b)}" for b in binaries]
    script = " && ".join([*mounts, f"exec {shlex.join(sshd_argv)}"])
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]


def start_sshd(host: Host, host_dir: Path, *, hide_podman: bool = False) -> None:
    """Start the host's own sshd inside its network namespace (nsenter keeps /sys visible).

    `hide_podman`: its sessions find no `podman` command (see `_hide_podman_argv`)."""
    host_dir.mkdir(mode=0o700, exist_ok=True)
    key = host_key(host_dir)
    if not key.exists():
        comment = f"{host.name}-host-key"
        proc.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key)])
    config = host_dir / "sshd_config"
    pid_file = host_dir / "sshd.pid"
    text = SSHD_CONFIG.format(
        address=host.address,
        host_key=key,
        pid_file=pid_file,
        user=host.user,
        runtime_dir=host.runtime_dir,
    )
    proc.write_file(config, text, 0o600)
    if proc.pid_alive(host.sshd_pid):
        return
    pid_file.unlink(missing_ok=True)
    sshd = proc.which("sshd") or "/usr/sbin/sshd"
    argv = [sshd, "-f", str(config)]
    if hide_podman:
        argv = _hide_podman_argv(host_dir, argv)
    proc.run(["nsenter", f"--net=/run/netns/{host.netns}", *argv])
    proc.wait_for(lambda: proc.read_pid(pid_file) > 0, f"sshd of {host.name} to write its PID file")
    host.sshd_pid = proc.read_pid(pid_file)
    where = f"sshd of {host.name} on {host.address}:22"
    proc.wait_for(lambda: proc.port_open(host.address, 22), where)


def as_user(host: Host, *argv: str) -> list[str]:
    """argv that runs `argv` as the host's user inside its network namespace (no shell)."""
    return [
        "nsenter", f"--net=/run/netns/{host.netns}",
        "setpriv", f"--reuid={host.uid}", f"--regid={host.uid}", "--init-groups",
        "env", "-i", f"HOME={host.home}", f"USER={host.user}", f"LOGNAME={host.user}",
        f"XDG_RUNTIME_DIR={host.runtime_dir}", "PATH=/usr/local/bin:/usr/bin:/bin",
        *argv,
    ]  # fmt: skip


def start_podman_service(host: Host, host_dir: Path) -> None:
    """The host's Podman API socket (on real hosts: the podman.socket user unit)."""
    if proc.pid_alive(host.service_pid):
        return
    socket_path = Path(host.podman_socket)
    socket_path.unlink(missing_ok=True)
    argv = as_user(host, "podman", "system", "service", "--time=0", f"unix://{socket_path}")
    with (host_dir / "podman-service.log").open("ab") as log:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    host.service_pid = process.pid
    proc.wait_for(socket_path.exists, f"the podman socket of {host.name}")
