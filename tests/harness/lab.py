"""The test lab: N real hosts on this machine, each a network namespace, sshd, rootless Podman.

`Lab.up(n)` builds them (idempotent, hosts configured in parallel), `Lab.down()` removes every
namespace, link, user, file and process it made, `kill`/`revive` take a host off the network and
back. Recipe and pitfalls: ../shared/ENVIRONMENT.md. State lives in `Lab.state_dir/state.json`.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.harness import gitserver, hostsetup, image, proc
from tests.harness.hostsetup import Host

HarnessError = proc.HarnessError
UsageError = proc.UsageError

REPO = Path(__file__).resolve().parents[2]
MAX_HOSTS = 50
PORT_SYSCTL = "net.ipv4.ip_unprivileged_port_start"
UNPRIVILEGED_PORT_START = 80
"""What scripts/bootstrap-host.sh sets on a real host: Services on port 80 and up bind rootless."""
RESERVED_SYSCTL = "net.ipv4.ip_local_reserved_ports"
RESERVED_PORTS = "41000-44999"
"""As scripts/bootstrap-host.sh reserves them: the ports the planner allocates (`podports`,
`probeports`) never taken by an outgoing connection's ephemeral port."""
SERVICE_CIDR = "198.19.128.0/17"
"""The lab's Service cluster IPs (inside the reserved test range), routed to lo in every host
netns as scripts/bootstrap-host.sh --service-cidr does; the lab's CLI and daemons use it."""
IMAGE_REPOSITORY = "demo/busybox"
IMAGE_TAG = "latest"
REQUIRED = {  # binary -> Debian package
    "ip": "iproute2",
    "nsenter": "util-linux",
    "setpriv": "util-linux",
    "podman": "podman",
    "runc": "runc",
    "newuidmap": "uidmap",
    "slirp4netns": "slirp4netns",
    "catatonit": "catatonit",
    "sshd": "openssh-server",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "docker-registry": "docker-registry",
    "busybox": "busybox-static",
}


@dataclass(frozen=True)
class LabConfig:
    """Names and addresses of one lab; several labs with different configs can coexist."""

    name: str = "lab"
    state_dir: Path = REPO / ".hosts"
    bridge: str = "thbr0"
    subnet: int = 0  # third octet: hosts are 198.18.<subnet>.11, .12, ...
    netns_prefix: str = ""
    user_prefix: str = "rc-"
    registry_port: int = 5000
    without_podman: tuple[str, ...] = ()  # hosts (h2, ...) whose SSH sessions find no podman

    @property
    def gateway(self) -> str:
        return f"198.18.{self.subnet}.1"

    @property
    def registry(self) -> str:
        return f"{self.gateway}:{self.registry_port}"

    @property
    def image(self) -> str:
        return f"{self.registry}/{IMAGE_REPOSITORY}:{IMAGE_TAG}"

    @property
    def key_file(self) -> Path:
        return self.state_dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.state_dir / "known_hosts"


@dataclass
class State:
    hosts: dict[str, Host] = field(default_factory=dict)
    registry_pid: int = 0
    tun_mode: int = -1


class Lab:
    """One set of test hosts; see the module docstring."""

    def __init__(self, config: LabConfig | None = None) -> None:
        self.config = config or LabConfig()
        self.state_file = self.config.state_dir / "state.json"

    # ----- state -------------------------------------------------------------------------

    def load_state(self) -> State:
        if not self.state_file.exists():
            return State()
        raw = json.loads(self.state_file.read_text())
        hosts = {name: Host(**fields) for name, fields in raw.get("hosts", {}).items()}
        return State(hosts, raw.get("registry_pid", 0), raw.get("tun_mode", -1))

    def save_state(self, state: State) -> None:
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        payload = {
            "hosts": {name: asdict(host) for name, host in state.hosts.items()},
            "registry_pid": state.registry_pid,
            "tun_mode": state.tun_mode,
        }
        self.state_file.write_text(json.dumps(payload, indent=2) + "\n")

    def host_spec(self, index: int) -> Host:
        name = f"h{index}"
        netns = f"{self.config.netns_prefix}{name}"
        return Host(
            name=name,
            address=f"198.18.{self.config.subnet}.{10 + index}",
            user=f"{self.config.user_prefix}{name}",
            netns=netns,
            veth=f"veth-{netns}",
        )

    def hosts(self) -> list[Host]:
        return sorted(self.load_state().hosts.values(), key=lambda h: int(h.name[1:]))

    # ----- preflight ---------------------------------------------------------------------

    def preflight(self, count: int) -> None:
        if count < 1 or count > MAX_HOSTS:
            raise proc.UsageError(f"host count must be between 1 and {MAX_HOSTS}, got {count}")
        if os.geteuid() != 0:
            raise proc.HarnessError(
                "must run as root (it creates network namespaces and users); "
                "try: sudo scripts/testhosts up"
            )
        missing = sorted({pkg for binary, pkg in REQUIRED.items() if proc.which(binary) is None})
        if missing:
            raise proc.HarnessError(
                f"missing Debian package(s) {', '.join(missing)}: "
                "run scripts/install.sh (or apt-get install them)"
            )

    def _address_present(self) -> bool:
        return Path(f"/sys/class/net/{self.config.bridge}").exists()

    # ----- up ----------------------------------------------------------------------------

    def up(self, count: int, progress: Callable[[str], None] = lambda _msg: None) -> list[Host]:
        """Create hosts h1..hN (idempotent: what exists and works is kept)."""
        self.preflight(count)
        state = self.load_state()
        created_before = set(state.hosts)
        try:
            self._up(count, state, progress)
        except BaseException:
            progress("failed: removing the hosts this run created")
            self._rollback(state, created_before)
            raise
        return self.hosts()

    def _up(self, count: int, state: State, progress: Callable[[str], None]) -> None:
        cfg = self.config
        cfg.state_dir.mkdir(parents=True, exist_ok=True)
        cfg.state_dir.chmod(0o700)
        if not cfg.key_file.exists():
            proc.run(
                [
                    "ssh-keygen",
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    f"reconciler-{cfg.name}",
                    "-f",
                    str(cfg.key_file),
                ]
            )
        tun = Path("/dev/net/tun")
        if state.tun_mode < 0:
            state.tun_mode = tun.stat().st_mode & 0o777
        tun.chmod(0o666)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self._ensure_bridge()
        self.save_state(state)
        self._ensure_registry(state)
        self.save_state(state)
        # Users and namespaces one at a time (useradd holds the /etc/passwd lock).
        for index in range(1, count + 1):
            spec = self.host_spec(index)
            host = state.hosts.get(spec.name, spec)
            state.hosts[spec.name] = host
            self._ensure_user(host)
            self._ensure_netns(host)
            self.save_state(state)
        progress(f"users and namespaces ready; configuring {count} host(s) in parallel")
        wanted = [state.hosts[f"h{i}"] for i in range(1, count + 1)]
        with ThreadPoolExecutor(max_workers=max(1, len(wanted))) as pool:
            list(pool.map(self._configure_host, wanted))
        self.save_state(state)
        self._write_known_hosts(state)
        with ThreadPoolExecutor(max_workers=max(1, len(wanted))) as pool:
            list(pool.map(self._warm_host, wanted))
        self.save_state(state)

    def _ensure_bridge(self) -> None:
        cfg = self.config
        if not self._address_present():
            proc.run(["ip", "link", "add", cfg.bridge, "type", "bridge"])
        addrs = proc.run(["ip", "-o", "-4", "addr", "show", "dev", cfg.bridge]).stdout
        if f" {cfg.gateway}/" not in addrs:
            proc.run(["ip", "addr", "add", f"{cfg.gateway}/24", "dev", cfg.bridge])
        proc.run(["ip", "link", "set", cfg.bridge, "up"])

    def _ensure_registry(self, state: State) -> None:
        cfg = self.config
        if not proc.pid_alive(state.registry_pid):
            if proc.port_open(cfg.gateway, cfg.registry_port):
                raise proc.HarnessError(
                    f"port {cfg.registry} is already in use by another process: stop it "
                    "(or run `scripts/testhosts down` if it is a stale lab) and run `up` again"
                )
            data = cfg.state_dir / "registry"
            config_file = data / "config.yml"
            proc.write_file(
                config_file,
                "\n".join(
                    [
                        "version: 0.1",
                        "log:",
                        "  level: error",
                        "storage:",
                        "  filesystem:",
                        f"    rootdirectory: {data / 'data'}",
                        "  delete:",
                        "    enabled: true",
                        "http:",
                        f"  addr: {cfg.registry}",
                        "",
                    ]
                ),
            )
            log = (data / "registry.log").open("ab")
            process = subprocess.Popen(
                [proc.which("docker-registry") or "docker-registry", "serve", str(config_file)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
            state.registry_pid = process.pid
            proc.wait_for(
                lambda: image.registry_answers(cfg.registry), f"the registry at {cfg.registry}"
            )
        image.push_image(cfg.registry, IMAGE_REPOSITORY, IMAGE_TAG)

    def _ensure_user(self, host: Host) -> None:
        try:
            entry = pwd.getpwnam(host.user)
        except KeyError:
            proc.run(
                [
                    "useradd",
                    "--create-home",
                    "--shell",
                    "/bin/sh",
                    "--comment",
                    f"reconciler test host {host.name} ({self.config.name})",
                    host.user,
                ]
            )
            entry = pwd.getpwnam(host.user)
        host.uid = entry.pw_uid
        # useradd leaves the account locked ("!"), and sshd refuses locked accounts even for keys.
        proc.run(["usermod", "-p", "*", host.user])
        for ids in ("/etc/subuid", "/etc/subgid"):
            lines = Path(ids).read_text().splitlines() if Path(ids).exists() else []
            if not any(line.split(":")[0] == host.user for line in lines):
                flag = "--add-subuids" if ids.endswith("uid") else "--add-subgids"
                start = 200000 + 65536 * (host.uid % 1000)
                proc.run(["usermod", flag, f"{start}-{start + 65535}", host.user])

    def _ensure_netns(self, host: Host) -> None:
        cfg = self.config
        if not Path(f"/run/netns/{host.netns}").exists():
            proc.run(["ip", "netns", "add", host.netns])
        if not Path(f"/sys/class/net/{host.veth}").exists():
            proc.run(
                [
                    "ip",
                    "link",
                    "add",
                    host.veth,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    "eth0",
                    "netns",
                    host.netns,
                ]
            )
        proc.run(["ip", "link", "set", host.veth, "master", cfg.bridge])
        proc.run(["ip", "link", "set", host.veth, "up"])
        addrs = proc.run(["ip", "-n", host.netns, "-o", "-4", "addr", "show", "dev", "eth0"]).stdout
        if f" {host.address}/" not in addrs:
            proc.run(["ip", "-n", host.netns, "addr", "add", f"{host.address}/24", "dev", "eth0"])
        proc.run(["ip", "-n", host.netns, "link", "set", "eth0", "up"])
        proc.run(["ip", "-n", host.netns, "link", "set", "lo", "up"])
        routes = proc.run(["ip", "-n", host.netns, "route", "show", "default"]).stdout
        if not routes.strip():
            proc.run(["ip", "-n", host.netns, "route", "add", "default", "via", cfg.gateway])
        # as scripts/bootstrap-host.sh sets it on a real host (a per-namespace setting)
        proc.run(["nsenter", f"--net=/run/netns/{host.netns}", "sysctl", "-q", "-w",
                  f"{PORT_SYSCTL}={UNPRIVILEGED_PORT_START}",
                  f"{RESERVED_SYSCTL}={RESERVED_PORTS}"])  # fmt: skip
        local = proc.run(["ip", "-n", host.netns, "route", "show", "table", "local",
                          SERVICE_CIDR]).stdout  # fmt: skip
        if not local.strip():  # cluster IPs: any address of the CIDR is the host's own
            proc.run(["ip", "-n", host.netns, "route", "add", "local", SERVICE_CIDR, "dev", "lo"])

    def _configure_host(self, host: Host) -> None:
        public_key = self.config.key_file.with_suffix(".pub").read_text()
        hostsetup.configure_user(host, self.config.registry, public_key)
        hidden = host.name in self.config.without_podman
        hostsetup.start_sshd(host, self._host_dir(host), hide_podman=hidden)

    def _host_dir(self, host: Host) -> Path:
        return self.config.state_dir / host.name

    def _write_known_hosts(self, state: State) -> None:
        lines = []
        for host in sorted(state.hosts.values(), key=lambda h: h.name):
            key = hostsetup.host_key(self._host_dir(host)).with_suffix(".pub").read_text().split()
            lines.append(f"{host.address} {key[0]} {key[1]}")
        proc.write_file(self.config.known_hosts, "\n".join(lines) + "\n")

    def ssh_command(self, host: Host, *remote: str) -> list[str]:
        """The ssh argv that reaches `host` with strict host-key checking (remote args quoted)."""
        options = {
            "StrictHostKeyChecking": "yes",
            "UserKnownHostsFile": str(self.config.known_hosts),
            "GlobalKnownHostsFile": "/dev/null",
            "BatchMode": "yes",
            "ConnectTimeout": "5",
            "LogLevel": "ERROR",
        }
        argv = ["ssh", "-n", "-i", str(self.config.key_file)]
        for option, value in options.items():
            argv += ["-o", f"{option}={value}"]
        return [*argv, f"{host.user}@{host.address}", shlex.join(remote)]

    def run_ok(self, cmd: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return proc.run(cmd)

    def ssh(
        self, host: Host, *remote: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return proc.run(self.ssh_command(host, *remote), check=check, timeout=timeout)

    def _warm_host(self, host: Host) -> None:
        """Pull the test image over SSH (a real pull) and build the pod pause image once; on a
        host without podman, check that an SSH session really finds none."""
        if host.name in self.config.without_podman:
            if self.ssh(host, "sh", "-c", "command -v podman", check=False).returncode == 0:
                raise proc.HarnessError(
                    f"{host.name} should have no podman but its SSH sessions find one: "
                    "run `down` for this lab (its sshd predates the option) and `up` again"
                )
            return
        images = self.ssh(host, "podman", "images", "--format", "{{.Repository}}:{{.Tag}}").stdout
        if self.config.image not in images.split():
            self.ssh(host, "podman", "pull", "-q", self.config.image)
        pods = self.ssh(host, "podman", "images", "--format", "{{.Repository}}").stdout
        if "localhost/podman-pause" not in pods.split():
            self.ssh(host, "podman", "pod", "create", "--name", "harness-warmup")
            self.ssh(host, "podman", "pod", "rm", "-f", "harness-warmup")
        hostsetup.start_podman_service(host, self._host_dir(host))

    # ----- kill / revive ----------------------------------------------------------------

    def get(self, name: str) -> Host:
        state = self.load_state()
        if name not in state.hosts:
            known = ", ".join(sorted(state.hosts)) or "none (run `up` first)"
            raise proc.HarnessError(f"no test host named {name!r}; hosts: {known}")
        return state.hosts[name]

    def kill(self, name: str) -> None:
        """Make a host unreachable (its link goes down; its processes keep running)."""
        proc.run(["ip", "link", "set", self.get(name).veth, "down"])

    def revive(self, name: str) -> None:
        host = self.get(name)
        proc.run(["ip", "link", "set", host.veth, "up"])
        proc.wait_for(lambda: proc.port_open(host.address, 22), f"{name} to answer on port 22")

    def reboot(self, name: str) -> str:
        """What a host restart does to the host's user: every process of it dies (containers,
        conmon, the pause process, the Podman API service), its runtime directory is emptied
        (a tmpfs at boot), then what boot runs: the API service (podman.socket on real hosts),
        Podman's podman-restart.service and the reconciler's boot unit (scripts/host-boot.sh).
        Returns what those printed."""
        state = self.load_state()
        host = state.hosts[self.get(name).name]
        for _ in range(5):
            pids = list(self._user_pids(host))
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
        runtime = Path(host.runtime_dir)
        for entry in runtime.iterdir():
            if entry.name != "podman":
                shutil.rmtree(entry, ignore_errors=True)
        Path(host.podman_socket).unlink(missing_ok=True)
        hostsetup.start_podman_service(host, self._host_dir(host))
        self.save_state(state)
        said = []
        for argv in (("podman", "start", "--all", "--filter", "restart-policy=always"),
                     ("sh", str(REPO / "scripts" / "host-boot.sh"))):  # fmt: skip
            done = proc.run(hostsetup.as_user(host, *argv), timeout=120)
            said.append(done.stdout + done.stderr)
        return "".join(said)

    def reachable(self, name: str) -> bool:
        return proc.port_open(self.get(name).address, 22, timeout=1.0)

    # ----- down --------------------------------------------------------------------------

    def down(self) -> None:
        """Remove everything the lab made. Safe to run twice, and after a failed `up`."""
        state = self.load_state()
        for host in list(state.hosts.values()):
            self._remove_host(host)
            del state.hosts[host.name]
            self.save_state(state)
        self._remove_shared(state)

    def _rollback(self, state: State, created_before: set[str]) -> None:
        for name in sorted(set(state.hosts) - created_before):
            with contextlib.suppress(Exception):
                self._remove_host(state.hosts.pop(name))
        if not created_before:
            with contextlib.suppress(Exception):
                self._remove_shared(state)
        else:
            self.save_state(state)

    def _user_pids(self, host: Host) -> Iterator[int]:
        """PIDs running as the host's user or its subordinate ids (its containers)."""
        ranges = [(host.uid, host.uid)]
        with contextlib.suppress(OSError):
            for line in Path("/etc/subuid").read_text().splitlines():
                parts = line.split(":")
                if parts[0] == host.user:
                    ranges.append((int(parts[1]), int(parts[1]) + int(parts[2]) - 1))
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                uid = entry.stat().st_uid
                if host.uid >= 0 and any(lo <= uid <= hi for lo, hi in ranges):
                    yield int(entry.name)

    def _remove_host(self, host: Host) -> None:
        proc.stop_pid(host.service_pid)
        proc.stop_pid(host.sshd_pid)
        if host.uid >= 0 and Path(f"/run/netns/{host.netns}").exists():
            with contextlib.suppress(proc.HarnessError, KeyError):
                proc.run(
                    hostsetup.as_user(host, "podman", "pod", "rm", "-a", "-f", "-t", "0"),
                    check=False,
                    timeout=60,
                )
                proc.run(
                    hostsetup.as_user(host, "podman", "rm", "-a", "-f", "-t", "0"),
                    check=False,
                    timeout=60,
                )
        # What is left (conmon, the catatonit pause process, slirp4netns) runs as the lab's
        # own user: the pause process ignores SIGTERM, so SIGKILL, as podman does. Then wait
        # until they are reaped (orphans: by init), so that nothing defunct is left behind.
        killed: set[int] = set()
        for _ in range(3):
            pids = list(self._user_pids(host))
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            killed.update(pids)
            time.sleep(0.1)
        proc.wait_gone(sorted(killed | set(self._user_pids(host))))
        if Path(f"/run/netns/{host.netns}").exists():
            proc.run(["ip", "netns", "del", host.netns], check=False)
        if Path(f"/sys/class/net/{host.veth}").exists():
            proc.run(["ip", "link", "del", host.veth], check=False)
        with contextlib.suppress(KeyError):
            pwd.getpwnam(host.user)
            proc.run(["userdel", "--remove", "--force", host.user], check=False)
        if host.uid >= 0:
            shutil.rmtree(host.runtime_dir, ignore_errors=True)
        shutil.rmtree(self._host_dir(host), ignore_errors=True)

    def _remove_shared(self, state: State) -> None:
        git_dir = self.config.state_dir / "git"
        if git_dir.exists():  # the demo's git server (scripts/testhosts git-up)
            gitserver.stop(
                gitserver.GitServer("rc-git", self.config.gateway, gitserver.PORT, git_dir)
            )
        proc.stop_pid(state.registry_pid)
        auth_registry = self.config.state_dir / "authregistry" / "registry.pid"  # authregistry
        proc.stop_pid(proc.read_pid(auth_registry))
        if self._address_present():
            proc.run(["ip", "link", "del", self.config.bridge], check=False)
        if state.tun_mode >= 0 and not self._other_labs_running():
            with contextlib.suppress(OSError):
                Path("/dev/net/tun").chmod(state.tun_mode)
        shutil.rmtree(self.config.state_dir, ignore_errors=True)

    def _other_labs_running(self) -> bool:
        """True when another lab's bridge exists (it still needs /dev/net/tun opened up)."""
        return any(
            path.name.startswith("thbr") and path.name != self.config.bridge
            for path in Path("/sys/class/net").iterdir()
        )
