"""Pod ports and Service discovery on the real test hosts (`reconciler apply`): a containerPort
without hostPort is published on every address of its host at the port the planner allocated
(read back from the pod's `reconciler.dev/pod-ports` label), reachable from the test machine and
from a pod on another host; a pod's containers get the Service variables and /etc/hosts names,
pointing at their own host's address, which a rootless container reaches (slirp4netns).

Namespace `podports-e2e`; every managed pod is pruned at the end (hosts-only repository).
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import gitdaemon
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "podports-e2e"
SERVICE_PORT = 28190
SERVE = "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"
MANIFESTS = f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: srv
  namespace: {NAMESPACE}
spec:
  replicas: 3
  selector:
    matchLabels:
      app: srv
  template:
    metadata:
      labels:
        app: srv
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: httpd
          image: 198.18.0.1:5000/demo/busybox:latest
          command: ["sh", "-c", "{SERVE}"]
          ports:
            - name: http
              containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: srv
  namespace: {NAMESPACE}
spec:
  selector:
    app: srv
  ports:
    - name: http
      port: {SERVICE_PORT}
      targetPort: http
---
apiVersion: v1
kind: Pod
metadata:
  name: client
  namespace: {NAMESPACE}
spec:
  nodeSelector:
    zone: b
  terminationGracePeriodSeconds: 1
  containers:
    - name: c
      image: 198.18.0.1:5000/demo/busybox:latest
      command: ["sleep", "3600"]
"""


reconciler = gitdaemon.run_cli  # `reconciler ARGS...` against the lab


@pytest.fixture(scope="module")
def applied(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    repo, hosts_only = gitdaemon.hosts_repos(tmp_path_factory.mktemp, "podports")
    (repo / "app.yaml").write_text(MANIFESTS)
    result = reconciler(lab, "apply", "--allow-mass-prune", str(repo))  # other tests' leftovers
    assert result.returncode == 0, result.stdout + result.stderr
    yield repo
    reconciler(lab, "apply", "--allow-mass-prune", str(hosts_only))


def pods(lab: labmod.Lab) -> dict[str, tuple[labmod.Host, dict[str, str]]]:
    """Pod name -> (its host, its podman labels)."""
    found = {}
    for host in lab.hosts():
        listed = lab.ssh(host, "podman", "pod", "ps", "--format", "json", "--filter",
                         f"label=reconciler.dev/namespace={NAMESPACE}")  # fmt: skip
        for pod in json.loads(listed.stdout or "[]"):
            found[pod["Labels"]["reconciler.dev/name"]] = (host, pod["Labels"])
    return found


def fetch(url: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                return str(response.read().decode()).strip()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def exec_in_client(lab: labmod.Lab, host: labmod.Host, *command: str) -> str:
    deadline = time.monotonic() + 30
    while True:
        result = lab.ssh(host, "podman", "exec", f"{NAMESPACE}_client_c", *command, check=False)
        if result.returncode == 0 or time.monotonic() > deadline:
            assert result.returncode == 0, result.stdout + result.stderr
            return result.stdout
        time.sleep(0.5)


def test_ports_without_host_port_are_published_on_the_allocated_port(
    lab: labmod.Lab, applied: Path
) -> None:
    servers = {name: v for name, v in pods(lab).items() if name.startswith("srv-")}
    assert len(servers) == 3
    for name, (host, labels) in servers.items():
        container_port, _, host_port = labels["reconciler.dev/pod-ports"].partition("=")
        assert container_port == "8080" and 42000 <= int(host_port) <= 44999
        assert labels["reconciler.dev/port-names"] == "http=8080"
        assert fetch(f"http://{host.address}:{host_port}/") == name


def test_a_pod_reaches_pods_on_other_hosts_and_its_own_host_address(
    lab: labmod.Lab, applied: Path
) -> None:
    everything = pods(lab)
    client_host, _ = everything["client"]
    assert client_host.name == "h3"
    assert any(host.name == "h3" for name, (host, _) in everything.items() if name != "client")
    for name, (host, labels) in everything.items():
        if not name.startswith("srv-"):
            continue
        port = labels["reconciler.dev/pod-ports"].partition("=")[2]
        page = exec_in_client(lab, client_host, "wget", "-qO-", f"http://{host.address}:{port}/")
        assert page.strip() == name  # other hosts, and h3's own address through slirp4netns


def test_service_variables_and_names_in_a_real_container(lab: labmod.Lab, applied: Path) -> None:
    client_host, _ = pods(lab)["client"]
    env = dict(
        line.split("=", 1) for line in exec_in_client(lab, client_host, "env").splitlines()
        if "=" in line
    )  # fmt: skip
    address = client_host.address
    assert env["SRV_SERVICE_HOST"] == address
    assert env["SRV_SERVICE_PORT"] == str(SERVICE_PORT)
    assert env["SRV_SERVICE_PORT_HTTP"] == str(SERVICE_PORT)
    assert env["SRV_PORT"] == f"tcp://{address}:{SERVICE_PORT}"
    assert env[f"SRV_PORT_{SERVICE_PORT}_TCP_ADDR"] == address
    hosts = exec_in_client(lab, client_host, "cat", "/etc/hosts")
    entries = {name: line.split()[0] for line in hosts.splitlines() if line.strip()
               and not line.startswith("#") for name in line.split()[1:]}  # fmt: skip
    for name in ("srv", f"srv.{NAMESPACE}", f"srv.{NAMESPACE}.svc",
                 f"srv.{NAMESPACE}.svc.cluster.local"):  # fmt: skip
        assert entries.get(name) == address, hosts
