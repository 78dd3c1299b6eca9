"""The same workload deployed by the reconciler, Ansible, pyinfra and a plain-podman floor.

Usage (root): .venv/bin/python -m bench.peers.peers_bench [--repeat 3] [--sizes 3x5,3x20,10x5,10x20]

Builds its own test lab (bridge thbr6, hosts 198.18.6.11.., users rcp6-hN), installs Ansible
(with the containers.podman collection), pyinfra and matplotlib into their own virtualenv
(never project dependencies), and for each size H x W (H hosts, W busybox `sleep 3600`
containers per host, one label and one env var each) times, per tool, the whole command as a
user runs it: first deploy on hosts without containers, then the same command again (no-op).
Every host is emptied (`podman rm -af; podman pod rm -af`) before each tool's deploy. The order
of the tools rotates between repetitions. Memory: the peak, sampled every 50 ms, of the summed
RSS of the tool's process and all its descendants (Ansible's forks, ssh clients); ssh
ControlPersist masters, which detach, are not counted. Results go to bench/peers/results.json,
the table to bench/README.md ("Peers: Ansible and pyinfra") and the chart to bench/peers/peers.png.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import manifests, report
from tests.harness import lab as labmod

TITLE = "Peers: Ansible and pyinfra"
HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
RESULTS = HERE / "results.json"
CHART = HERE / "peers.png"
VENV = Path(os.environ.get("PEERS_VENV", "/var/tmp/reconciler-peers-venv"))
PEER_PACKAGES = ["ansible", "pyinfra", "matplotlib"]
SIZES = ["3x5", "3x20", "10x5", "10x20"]
TOOLS = ["floor", "reconciler", "pyinfra", "ansible"]
LABELS = {
    "floor": "floor: `podman run` on open SSH connections",
    "reconciler": "`reconciler apply -q`",
    "ansible": "Ansible `containers.podman.podman_container`",
    "pyinfra": "pyinfra `server.shell`",
}


def lab_config(state_dir: Path) -> labmod.LabConfig:
    return labmod.LabConfig(
        name="peers", state_dir=state_dir, bridge="thbr6", subnet=6,
        netns_prefix="p6-", user_prefix="rcp6-",
    )  # fmt: skip


# ----- the peers' virtualenv ---------------------------------------------------------------------


def ensure_venv() -> dict[str, str]:
    py = VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    need = [p for p in PEER_PACKAGES if not (VENV / "bin" / p).exists() and p != "matplotlib"]
    probe = subprocess.run([str(py), "-c", "import matplotlib"], check=False, capture_output=True)
    if need or probe.returncode != 0:
        subprocess.run([str(py), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    galaxy = subprocess.run([str(VENV / "bin" / "ansible-galaxy"), "collection", "list"],
                            capture_output=True, text=True, check=True)  # fmt: skip
    podman = [line.split() for line in galaxy.stdout.splitlines() if "containers.podman" in line]
    if not podman:
        raise SystemExit("the ansible package has no containers.podman collection")

    def version(argv: list[str]) -> str:
        out = subprocess.run(argv, check=False, capture_output=True, text=True).stdout.strip()
        return out.splitlines()[0] if out else "?"

    return {
        "ansible": version([str(VENV / "bin" / "ansible"), "--version"]),
        "containers.podman": podman[0][-1],
        "pyinfra": version([str(VENV / "bin" / "pyinfra"), "--version"]),
    }


# ----- measuring one command ---------------------------------------------------------------------


def _tree_rss(root: int) -> int:
    """Summed RSS in bytes of `root` and all its descendants."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            statm = Path(f"/proc/{entry}/statm").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        parents[int(entry)] = int(fields[1])
        rss[int(entry)] = int(statm.split()[1]) * page
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def measure(argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> dict[str, Any]:
    """Run `argv`; wall seconds, peak tree RSS (MiB), largest single process RSS (MiB), rc."""
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        started = time.monotonic()
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        peak = 0
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, _tree_rss(proc.pid))
                stop.wait(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - started
        stop.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return {"seconds": seconds, "mem": peak / 2**20, "maxrss": usage.ru_maxrss / 1024,
            "rc": proc.returncode}  # fmt: skip


# ----- the workload, per tool --------------------------------------------------------------------


def pod_yaml(host: str, index: int, image: str) -> str:
    """Container `index` of `host`: busybox `sleep 3600`, one label, one env var, tiny requests,
    pinned to the host by its `host` label."""
    main = manifests.container(image, ["sleep", "3600"], env={"BENCH": "peers"})
    return manifests.pod_yaml(
        f"c-{host}-{index}", "peers", main,
        labels={"app": "peers"}, node_selector={"host": host}, grace_seconds=0,
    )  # fmt: skip


PLAYBOOK = """- hosts: all
  gather_facts: false
  tasks:
    - name: busybox containers
      containers.podman.podman_container:
        name: "ans-{{{{ inventory_hostname }}}}-{{{{ item }}}}"
        image: "{image}"
        command: ["sleep", "3600"]
        labels:
          app: peers
        env:
          BENCH: peers
        state: started
      loop: "{{{{ range({width}) | list }}}}"
"""

ANSIBLE_CFG = """[defaults]
inventory = {inventory}
forks = {forks}
host_key_checking = True
interpreter_python = /usr/bin/python3
stdout_callback = default
retry_files_enabled = False

[ssh_connection]
pipelining = True
ssh_args = -o ControlMaster=auto -o ControlPersist=60s
control_path_dir = {control}
"""

PYINFRA_DEPLOY = """from pyinfra import host
from pyinfra.operations import server

for index in range({width}):
    name = f"pyi-{{host.data.hname}}-{{index}}"
    server.shell(
        name=f"container {{name}}",
        commands=[
            f"podman container exists {{name}} || podman run -d --name {{name}}"
            " --label app=peers -e BENCH=peers {image} sleep 3600"
        ],
    )
"""


class Workspace:
    """Generated inputs of every tool for one size, in `root`."""

    def __init__(self, root: Path, lab: labmod.Lab, hosts: list[Any], width: int) -> None:
        self.root, self.lab, self.hosts, self.width = root, lab, hosts, width
        cfg = lab.config
        self.image = cfg.image
        repo = root / "repo"
        (repo / "hosts").mkdir(parents=True)
        (repo / "peers").mkdir()
        (repo / "peers" / "namespace.yaml").write_text(manifests.namespace_yaml("peers"))
        for h in hosts:
            text = manifests.host_yaml(h.name, h.address, h.user, labels={"host": h.name})
            (repo / "hosts" / f"{h.name}.yaml").write_text(text)
            pods = "".join(f"---\n{pod_yaml(h.name, i, self.image)}" for i in range(width))
            (repo / "peers" / f"{h.name}.yaml").write_text(pods)
        self.repo = repo
        # Ansible
        ssh_common = (f"-o UserKnownHostsFile={cfg.known_hosts} -o GlobalKnownHostsFile=/dev/null"
                      " -o StrictHostKeyChecking=yes")  # fmt: skip
        lines = ["[all]"]
        for h in hosts:
            lines.append(f"{h.name} ansible_host={h.address} ansible_user={h.user}")
        lines += ["", "[all:vars]", f"ansible_ssh_private_key_file={cfg.key_file}",
                  f"ansible_ssh_common_args='{ssh_common}'"]  # fmt: skip
        (root / "inventory.ini").write_text("\n".join(lines) + "\n")
        (root / "playbook.yml").write_text(PLAYBOOK.format(image=self.image, width=width))
        # pyinfra
        entries = []
        for h in hosts:
            data = {"ssh_user": h.user, "ssh_key": str(cfg.key_file),
                    "ssh_known_hosts_file": str(cfg.known_hosts),
                    "ssh_strict_host_key_checking": "yes", "hname": h.name}  # fmt: skip
            entries.append(f"    ({h.address!r}, {data!r}),")
        (root / "pyinfra_inventory.py").write_text("hosts = [\n" + "\n".join(entries) + "\n]\n")
        (root / "pyinfra_deploy.py").write_text(PYINFRA_DEPLOY.format(image=self.image,
                                                                      width=width))  # fmt: skip

    def command(self, tool: str, run: int) -> tuple[list[str], dict[str, str]]:
        cfg = self.lab.config
        env = dict(os.environ)
        env.pop("VIRTUAL_ENV", None)
        if tool == "floor":
            action = "deploy" if run == 0 else "noop"
            specs = [f"{h.name}={h.address}={h.user}" for h in self.hosts]
            env["PYTHONPATH"] = str(REPO_ROOT)
            argv = [sys.executable, "-m", "bench.peers.floor", action, str(cfg.key_file),
                    str(cfg.known_hosts), self.image, str(self.width), *specs]  # fmt: skip
            return argv, env
        if tool == "reconciler":
            env["RECONCILER_SSH_KEY"] = str(cfg.key_file)
            env["RECONCILER_KNOWN_HOSTS"] = str(cfg.known_hosts)
            return [str(REPO_ROOT / ".venv" / "bin" / "reconciler"), "apply", "-q",
                    str(self.repo)], env  # fmt: skip
        if tool == "ansible":
            # a fresh ControlPersist directory per command: every tool starts without connections
            control = Path(tempfile.mkdtemp(prefix="cp-", dir=self.root))
            cfgfile = self.root / f"ansible-{control.name}.cfg"
            text = ANSIBLE_CFG.format(
                inventory=self.root / "inventory.ini", forks=len(self.hosts), control=control
            )
            cfgfile.write_text(text)
            env["ANSIBLE_CONFIG"] = str(cfgfile)
            env["ANSIBLE_LOCAL_TEMP"] = str(self.root / "ansible-tmp")
            return [str(VENV / "bin" / "ansible-playbook"), str(self.root / "playbook.yml")], env
        if tool == "pyinfra":
            return [str(VENV / "bin" / "pyinfra"), "-y", "--parallel", str(len(self.hosts)),
                    str(self.root / "pyinfra_inventory.py"),
                    str(self.root / "pyinfra_deploy.py")], env  # fmt: skip
        raise ValueError(tool)


# ----- hosts -------------------------------------------------------------------------------------

TEARDOWN = "podman rm -af -t 0 >/dev/null; podman pod rm -af -t 0 >/dev/null; true"
COUNT = "podman ps --filter status=running --format '{{.Names}}' | grep -vc -- '-infra$' || true"


def on_hosts(lab: labmod.Lab, hosts: list[Any], script: str) -> list[str]:
    with ThreadPoolExecutor(len(hosts)) as pool:
        done = pool.map(lambda h: lab.ssh(h, "sh", "-c", script, timeout=600).stdout, hosts)
        return [out.strip() for out in done]


# ----- the table ---------------------------------------------------------------------------------


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    got = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(got) if got else None


def render(data: dict[str, Any]) -> str:
    rows = ["| H x W | tool | first deploy | ratio | no-op re-run | ratio | peak memory | ratio "
            "| reps |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    notes = []
    for size in data["sizes"]:
        per_tool = data["samples"].get(size)
        if not per_tool:
            continue
        floor = {k: _median(per_tool.get("floor", []), k) for k in ("deploy", "noop", "mem")}
        h, w = size.split("x")
        for tool in data["tools"]:
            runs = per_tool.get(tool, [])
            if not runs:
                continue
            cells = []
            for key, unit, fmt in (("deploy", "s", "{:.1f}"), ("noop", "s", "{:.2f}"),
                                   ("mem", "MiB", "{:.0f}")):  # fmt: skip
                value = _median(runs, key)
                base = floor[key]
                cells.append(f"{fmt.format(value)} {unit}" if value is not None else "-")
                ratio = f"{value / base:.2f}x" if value is not None and base else "-"
                cells.append(ratio if tool != "floor" else "1.00x")
            name = LABELS[tool] if tool != "reconciler" else f"**{LABELS[tool]}**"
            rows.append(f"| {h} x {w} | {name} | " + " | ".join(cells) + f" | {len(runs)} |")
            bad = [r for r in runs if r.get("problem")]
            for r in bad:
                notes.append(f"- {size} {tool}: {r['problem']}")
    missing = [s for s in SIZES if s not in data["samples"]]
    text = TEMPLATE.format(
        versions=", ".join(
            f"{k} {v.replace(k, '', 1).strip(' :[]')}" for k, v in data["versions"].items()
        ),
        machine=data["machine"],
        table="\n".join(rows),
    )
    loads = [r["load"] for t in data["samples"].values() for rs in t.values() for r in rs
             if "load" in r]  # fmt: skip
    if loads:
        text += ("\n\nThe machine is shared with other engineers' tests and benchmarks: 1-min "
                 f"load average before each deploy {min(loads):.1f} to {max(loads):.1f} (median "
                 f"{statistics.median(loads):.1f}) on {os.cpu_count()} cores, for the "
                 f"{len(loads)} samples that recorded it. Absolute times are inflated by it; "
                 "ratios come from the same size and run but not the same instant.")  # fmt: skip
    if notes:
        text += "\n\nProblems seen (figures kept, read with care):\n\n" + "\n".join(notes)
    if missing:
        text += "\n\nNot measured in this run: " + ", ".join(missing) + "."
    if data.get("note"):
        text += "\n\n" + data["note"]
    return text


TEMPLATE = """\
`python -m bench.peers.peers_bench` (root; one command: lab, peers' virtualenv, every run, this
table and the chart). H test hosts of its own lab (network namespaces with sshd and rootless
Podman on this one machine), W busybox `sleep 3600` containers per host, one label and one env var
each, image already on the hosts. Each tool's whole command is timed as a user runs it, from hosts
without any container (`podman rm -af; podman pod rm -af` before every deploy), then run again
unchanged (no-op). Ratios are to the floor of the same size and run: plain `podman run -d` per
container over one open asyncssh connection per host, hosts in parallel (no-op floor: one `podman
ps -a` per host, connections included), itself a Python process. Peak memory: the controller's
process tree (the tool and all its children: Ansible's forks, ssh clients), summed RSS sampled
every 50 ms; detached ssh ControlPersist masters are not counted. Medians of the repetitions
shown; the order of the tools rotates between repetitions.

- Ansible: `containers.podman.podman_container`, one task looping over W containers,
  `gather_facts: false`, forks = H, pipelining on, ControlMaster/ControlPersist=60s (a fresh
  control directory per command, so no tool starts with open connections), strict host key
  checking against the lab's known_hosts.
- pyinfra: one `server.shell` per container, `podman container exists NAME || podman run -d ...`
  (pyinfra has no podman operation), `--parallel H`, strict host key checking against the same
  known_hosts.
- The reconciler makes a podman *pod* per Kubernetes pod (here one container each, so a pod
  without an infra container), the other tools plain containers. It drives each host's Podman API
  service over the SSH connection instead of starting a `podman` process per container, which is
  why its first deploy can beat the floor. Its manifests: one `Host` per host, one bare `Pod` per
  container pinned by a `nodeSelector`.

Versions: {versions}. Machine: {machine}.

{table}

![peers chart](peers/peers.png)"""


# ----- main --------------------------------------------------------------------------------------


def machine_line() -> str:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    distro = "Linux"
    osr = Path("/etc/os-release")
    if osr.exists():
        for line in osr.read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                distro = line.split("=", 1)[1].strip('"')
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // 2**20
    return f"{distro} VM, {cpu}, {report.machine()}, {mem} GiB RAM"


def write_outputs(data: dict[str, Any]) -> None:
    RESULTS.write_text(json.dumps(data, indent=1) + "\n")
    subprocess.run([str(VENV / "bin" / "python"), str(HERE / "chart.py"), str(RESULTS),
                    str(CHART)], check=False)  # fmt: skip
    report.write_section(TITLE, render(data))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default=",".join(SIZES))
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--note", default="")
    parser.add_argument("--append", action="store_true", help="add repetitions to saved ones")
    args = parser.parse_args()
    if args.report_only:
        saved: dict[str, Any] = json.loads(RESULTS.read_text())
        saved["note"] = args.note or saved.get("note", "")
        write_outputs(saved)
        return 0
    versions = ensure_venv()
    podman = subprocess.run(["podman", "--version"], check=False, capture_output=True, text=True)
    versions["podman"] = podman.stdout.strip().split()[-1]
    sizes = args.sizes.split(",")
    data: dict[str, Any] = {"sizes": SIZES, "tools": TOOLS, "labels": LABELS, "samples": {},
                            "versions": versions, "machine": machine_line(), "note": args.note}
    old: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if old:  # keep sizes measured by an earlier run that this one does not redo
        data["samples"] = {s: v for s, v in old["samples"].items() if args.append or s not in sizes}
    state = Path(tempfile.mkdtemp(prefix="peers-lab-"))
    work = Path(tempfile.mkdtemp(prefix="peers-work-"))
    log = work / "tools.log"
    print(f"logs: {log}", flush=True)
    lab = labmod.Lab(lab_config(state))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still take the lab down
    try:
        all_hosts = lab.up(max(int(s.split("x")[0]) for s in sizes))
        all_hosts = sorted(all_hosts, key=lambda h: int(h.name[1:]))
        for size in sizes:
            nhosts, width = (int(v) for v in size.split("x"))
            hosts = all_hosts[:nhosts]
            ws = Workspace(Path(tempfile.mkdtemp(prefix=f"{size}-", dir=work)), lab, hosts, width)
            samples: dict[str, list[dict[str, Any]]] = {t: [] for t in TOOLS}
            samples.update(data["samples"].get(size, {}))
            data["samples"][size] = samples
            done = len(samples["floor"])
            for rep in range(done, done + args.repeat):
                order = TOOLS[rep % len(TOOLS):] + TOOLS[:rep % len(TOOLS)]
                for tool in order:
                    on_hosts(lab, all_hosts, TEARDOWN)
                    load = os.getloadavg()[0]
                    argv, env = ws.command(tool, 0)
                    first = measure(argv, env, ws.root, log)
                    counts = [int(c or 0) for c in on_hosts(lab, hosts, COUNT)]
                    argv, env = ws.command(tool, 1)
                    again = measure(argv, env, ws.root, log)
                    after = [int(c or 0) for c in on_hosts(lab, hosts, COUNT)]
                    sample = {"deploy": first["seconds"], "noop": again["seconds"],
                              "mem": max(first["mem"], again["mem"]), "mem_deploy": first["mem"],
                              "mem_noop": again["mem"], "maxrss": first["maxrss"],
                              "rc": [first["rc"], again["rc"]], "counts": counts,
                              "load": load}  # fmt: skip
                    problems = []
                    if first["rc"] or again["rc"]:
                        problems.append(f"exit codes {first['rc']}, {again['rc']}")
                    if counts != [width] * nhosts or after != counts:
                        problems.append(f"running containers per host {counts}, then {after}")
                    if problems:
                        sample["problem"] = "; ".join(problems)
                    samples[tool].append(sample)
                    print(f"{size} rep {rep + 1} {tool}: deploy {first['seconds']:.1f}s "
                          f"noop {again['seconds']:.2f}s mem {sample['mem']:.0f}MiB "
                          f"{sample.get('problem', '')}", flush=True)  # fmt: skip
                    write_outputs(data)
        on_hosts(lab, all_hosts, TEARDOWN)
    finally:
        lab.down()
        shutil.rmtree(state, ignore_errors=True)
    write_outputs(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
