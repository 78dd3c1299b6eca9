"""The generated repository of `bench.apply_bench`: one `Host` per lab host and Deployments of
busybox pods (`sleep 3600`, one label, one env var, tiny requests) that add up to the wanted count.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

NAMESPACE = "bench"

HOST = """apiVersion: reconciler.dev/v1alpha1
kind: Host
metadata:
  name: {name}
spec:
  address: {address}
  ssh:
    user: {user}
    port: 22
  capacity:
    cpu: "8"
    memory: 16Gi
"""

NAMESPACE_DOC = f"""apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
"""

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
        - name: main
          image: {image}
          imagePullPolicy: IfNotPresent
          command: ["sleep", "3600"]
          env:
            - name: BENCH
              value: "{name}"
          resources:
            requests:
              cpu: 10m
              memory: 16Mi
      terminationGracePeriodSeconds: 0
"""


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
        text = HOST.format(name=name, address=address, user=user)
        (root / "hosts" / f"{name}.yaml").write_text(text)
    (root / NAMESPACE / "namespace.yaml").write_text(NAMESPACE_DOC)
    for index in range(1, deployments + 1):
        name = f"app{index:02d}"
        text = DEPLOYMENT.format(name=name, namespace=NAMESPACE, replicas=replicas, image=image)
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
