"""The generated repository of `bench.apply_bench`: one `Host` per lab host and Deployments of
busybox pods (`sleep 3600`, one label, one env var, tiny requests) that add up to the wanted count.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from bench import manifests

NAMESPACE = "bench"
COMMAND = ("sleep", "3600")


def write(
    root: Path,
    hosts: Sequence[tuple[str, str, str]],
    image: str,
    deployments: int,
    replicas: int,
) -> Path:
    """Write the repository under `root`; `hosts` are (name, address, user). Returns `root`."""
    (root / "hosts").mkdir(parents=True, exist_ok=True)
    (root / NAMESPACE).mkdir(parents=True, exist_ok=True)
    for name, address, user in hosts:
        text = manifests.host_yaml(name, address, user)
        (root / "hosts" / f"{name}.yaml").write_text(text)
    (root / NAMESPACE / "namespace.yaml").write_text(manifests.namespace_yaml(NAMESPACE))
    for index in range(1, deployments + 1):
        name = f"app{index:02d}"
        main = manifests.container(image, COMMAND, env={"BENCH": manifests.Quoted(name)})
        text = manifests.deployment_yaml(name, NAMESPACE, replicas, main, grace_seconds=0)
        (root / NAMESPACE / f"{name}.yaml").write_text(text)
    return root


def commit(root: Path) -> str:
    """Make `root` a git repository with one commit (a user applies a checkout); returns it."""
    git = ["git", "-C", str(root), "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "bench repository"], check=True)
    done = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True)
    return done.stdout.strip()
