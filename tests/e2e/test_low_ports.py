"""Services on ports below 1024 (80, as real manifests use) on the 3 real test hosts: the test
hosts let unprivileged users bind from 80 on, as scripts/bootstrap-host.sh sets a real host. A
host that does not allow it serves the Service's other ports and the other Services, and
`apply` names the port, the host and the fix; once the host allows it, the next apply binds it.

Its Deployment also says `nodeSelector: {kubernetes.io/os: linux}`, as many real manifests do:
every host carries that label. Namespace `lowport-e2e`, removed at the end.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import gitdaemon, loadgen, proc
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "lowport-e2e"
HIGH = 28181  # Service "plain", beside port 80 of Service "web"
BARE = 28182  # Service "bare": targetPort 8080 of pods that declare no ports (as in Kubernetes)
SERVE = "hostname > /tmp/index.html && exec httpd -f -p 8080 -h /tmp"
MANIFESTS = f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {NAMESPACE}
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      nodeSelector: {{kubernetes.io/os: linux}}  # as real manifests say: every host has it
      terminationGracePeriodSeconds: 1
      containers:
        - name: httpd
          image: 198.18.0.1:5000/demo/busybox:latest
          imagePullPolicy: IfNotPresent
          command: ["sh", "-c", "{SERVE}"]
          ports:
            - name: http
              containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {NAMESPACE}
spec:
  selector:
    app: web
  ports:
    - name: http
      port: 80
      targetPort: http
---
apiVersion: v1
kind: Service
metadata:
  name: plain
  namespace: {NAMESPACE}
spec:
  selector:
    app: web
  ports:
    - port: {HIGH}
      targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: bare
  namespace: {NAMESPACE}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: bare
  template:
    metadata:
      labels:
        app: bare
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: httpd
          image: 198.18.0.1:5000/demo/busybox:latest
          imagePullPolicy: IfNotPresent
          command: ["sh", "-c", "{SERVE}"]
---
apiVersion: v1
kind: Service
metadata:
  name: bare
  namespace: {NAMESPACE}
spec:
  selector:
    app: bare
  ports:
    - port: {BARE}
      targetPort: 8080
"""


reconciler = gitdaemon.run_cli  # `reconciler ARGS...` against the lab


def apply(lab: labmod.Lab, repo: Path) -> subprocess.CompletedProcess[str]:
    result = reconciler(lab, "apply", "--allow-mass-prune", str(repo))
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def port_start(host: labmod.Host, value: int | None = None) -> int:
    """The host's net.ipv4.ip_unprivileged_port_start (set first when `value` is given)."""
    netns = ["nsenter", f"--net=/run/netns/{host.netns}", "sysctl"]
    if value is not None:
        proc.run([*netns, "-q", "-w", f"{labmod.PORT_SYSCTL}={value}"])
    return int(proc.run([*netns, "-n", labmod.PORT_SYSCTL]).stdout)


def answers(address: str, port: int, app: str = "web") -> bool:
    reply = loadgen.get(address, port, timeout=2)
    return reply.ok and reply.body.strip().startswith(f"{app}-")


@pytest.fixture
def repo(lab: labmod.Lab, tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "repo"
    shutil.copytree(gitdaemon.EXAMPLE / "hosts", path / "hosts")
    (path / "app.yaml").write_text(MANIFESTS)
    gitdaemon.remove_namespace_pods(lab, NAMESPACE)
    yield path
    port_start(lab.get("h3"), labmod.UNPRIVILEGED_PORT_START)
    (path / "app.yaml").unlink()
    reconciler(lab, "apply", "--allow-mass-prune", str(path))  # pods gone, balancers stopped
    gitdaemon.remove_namespace_pods(lab, NAMESPACE)


def test_port_80_is_served_where_the_host_allows_it(lab: labmod.Lab, repo: Path) -> None:
    h1, h2, h3 = lab.get("h1"), lab.get("h2"), lab.get("h3")
    assert port_start(h1) == port_start(h2) == labmod.UNPRIVILEGED_PORT_START
    validated = reconciler(lab, "validate", str(repo))
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "port 80 is below 1024" in validated.stdout + validated.stderr

    port_start(h3, 1024)  # a host nobody bootstrapped for low ports
    first = apply(lab, repo)
    said = first.stdout + first.stderr
    assert f"Service {NAMESPACE}/web port 80 is not served on this host" in said, said
    assert "h3" in said and "--unprivileged-port-start 80" in said, said
    for host in (h1, h2):
        proc.wait_for(lambda a=host.address: answers(a, 80), f"port 80 on {host.name}", 60)
    proc.wait_for(lambda: answers(h3.address, HIGH), f"port {HIGH} on h3", 60)
    assert not answers(h3.address, 80)  # nothing binds it there; the rest of h3 is served

    port_start(h3, labmod.UNPRIVILEGED_PORT_START)  # the operator follows the hint
    second = apply(lab, repo)
    assert "is not served on this host" not in second.stdout + second.stderr
    proc.wait_for(lambda: answers(h3.address, 80), "port 80 on h3 once allowed", 60)
    assert answers(h3.address, HIGH)


def test_a_target_port_the_pods_do_not_declare_is_served(lab: labmod.Lab, repo: Path) -> None:
    """Deployment `bare` declares no ports; Service `bare` targets 8080 by number, which a
    Kubernetes Service reaches too: the port is published for it (with a validate warning)."""
    validated = reconciler(lab, "validate", str(repo))
    assert "targetPort 8080 is not declared" in validated.stdout + validated.stderr
    apply(lab, repo)
    h1 = lab.get("h1")
    proc.wait_for(lambda: answers(h1.address, BARE, "bare"), f"port {BARE} on h1", 60)
