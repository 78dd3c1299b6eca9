"""Services through every host's HAProxy, driven by `reconciler apply` on the 3 real test hosts
and checked from outside (HTTP from the root namespace to each host's address) and from inside
a pod (`podman exec ... wget` on the host).

Deployment `echo` (3 pods, each serving a page with its own pod name) behind Service `echo` on
port 28080 (port name `http`: balanced per request). Namespace `svc-e2e`, removed at the end.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import gitdaemon, loadgen, proc
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "svc-e2e"
PORT = 28080
STICKY = 28090  # Service "sticky": LoadBalancer, sessionAffinity ClientIP, TCP
NODE_PORT = 30090
SERVE = (
    "mkdir -p /www && hostname > /www/index.html && sleep 1 && echo ok > /www/ready"
    " && exec httpd -f -p 8080 -h /www"
)
"""A pod whose page is its own name (the pod's hostname), ready ~1 s after it starts."""


def manifests(version: str, *, replicas: int = 3) -> str:
    return f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
  namespace: {NAMESPACE}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: echo
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        app: echo
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: httpd
          image: 198.18.0.1:5000/demo/busybox:latest
          imagePullPolicy: IfNotPresent
          command: ["sh", "-c", "{SERVE}"]
          env:
            - name: VERSION
              value: "{version}"
          ports:
            - name: http
              containerPort: 8080
          readinessProbe:
            httpGet:
              path: /ready
              port: http
            periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: echo
  namespace: {NAMESPACE}
spec:
  selector:
    app: echo
  ports:
    - name: http
      port: {PORT}
      targetPort: http
---
apiVersion: v1
kind: Service
metadata:
  name: sticky
  namespace: {NAMESPACE}
spec:
  type: LoadBalancer
  sessionAffinity: ClientIP
  selector:
    app: echo
  ports:
    - port: {STICKY}
      targetPort: 8080
      nodePort: {NODE_PORT}
"""


def reconciler(
    lab: labmod.Lab, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args], capture_output=True, text=True,
        env=gitdaemon.cli_env(lab), timeout=timeout, check=False,
    )  # fmt: skip


def apply(lab: labmod.Lab, repo: Path, text: str) -> None:
    (repo / "app.yaml").write_text(text)
    result = reconciler(lab, "apply", "--allow-mass-prune", str(repo))  # other tests' leftovers
    assert result.returncode == 0, result.stdout + result.stderr


def pod_hosts(lab: labmod.Lab) -> dict[str, str]:
    """Pod name -> host, read from each host's Podman."""
    found: dict[str, str] = {}
    for host in lab.hosts():
        listed = lab.ssh(host, "podman", "pod", "ps", "--format", "json", "--filter",
                         f"label=reconciler.dev/namespace={NAMESPACE}")  # fmt: skip
        for pod in json.loads(listed.stdout or "[]"):
            found[pod["Labels"]["reconciler.dev/name"]] = host.name
    return found


def served_by(address: str, count: int) -> list[str]:
    """The pod names that answered `count` requests to the Service on `address`."""
    names = []
    for _ in range(count):
        reply = loadgen.get(address, PORT)
        assert reply.ok, reply
        names.append(reply.body.strip())
    return names


def wait_serving(address: str, pods: int, timeout: float = 60) -> None:
    """Until `pods` distinct pods answer through the Service on `address`."""

    def enough() -> bool:
        seen = {r.body.strip() for r in (loadgen.get(address, PORT, timeout=2) for _ in range(12))
                if r.ok}  # fmt: skip
        return len(seen) >= pods

    proc.wait_for(enough, f"{pods} pods answering on {address}:{PORT}", timeout, step=0.5)


@pytest.fixture(scope="module")
def repo(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("services") / "repo"
    shutil.copytree(gitdaemon.EXAMPLE / "hosts", path / "hosts")
    gitdaemon.remove_namespace_pods(lab, NAMESPACE)
    apply(lab, path, manifests("v1"))
    yield path
    (path / "app.yaml").unlink()
    reconciler(lab, "apply", "--allow-mass-prune", str(path))  # pods gone, load balancers stopped
    gitdaemon.remove_namespace_pods(lab, NAMESPACE)


def test_a_request_to_one_host_reaches_pods_on_every_host(lab: labmod.Lab, repo: Path) -> None:
    h1 = lab.get("h1").address
    wait_serving(h1, 3)
    hosts = pod_hosts(lab)
    names = served_by(h1, 30)
    answered = {hosts.get(name, f"unknown pod {name}") for name in names}
    assert len(set(names)) == 3, names
    assert {"h2", "h3"} <= answered or len(answered) >= 2, (answered, hosts)
    counts = {name: names.count(name) for name in set(names)}
    assert min(counts.values()) >= 8, f"not round robin: {counts}"  # 30 over 3: 10 each


def test_the_service_name_answers_from_inside_a_pod_on_another_host(
    lab: labmod.Lab, repo: Path
) -> None:
    wait_serving(lab.get("h3").address, 3)
    h3 = lab.get("h3")
    listed = lab.ssh(h3, "podman", "ps", "--format", "{{.Names}}", "--filter",
                     f"label=reconciler.dev/namespace={NAMESPACE}")  # fmt: skip
    containers = [n for n in listed.stdout.split() if not n.endswith("-infra")]
    if not containers:  # the scheduler put no pod on h3: use any host's
        h3 = next(h for h in lab.hosts() if h.name in set(pod_hosts(lab).values()))
        listed = lab.ssh(h3, "podman", "ps", "--format", "{{.Names}}", "--filter",
                         f"label=reconciler.dev/namespace={NAMESPACE}")  # fmt: skip
        containers = [n for n in listed.stdout.split() if not n.endswith("-infra")]
    assert containers, listed.stdout
    for name in ("echo", f"echo.{NAMESPACE}", f"echo.{NAMESPACE}.svc"):
        fetched = lab.ssh(h3, "podman", "exec", containers[0], "wget", "-qO-",
                          f"http://{name}:{PORT}/", check=False)  # fmt: skip
        assert fetched.returncode == 0, (name, fetched.stdout, fetched.stderr)
        assert fetched.stdout.strip() in pod_hosts(lab), fetched.stdout
    env = lab.ssh(h3, "podman", "exec", containers[0], "env").stdout
    assert f"ECHO_SERVICE_PORT={PORT}" in env, env
    assert "ECHO_SERVICE_HOST=" in env, env


def test_get_services_and_endpoints(lab: labmod.Lab, repo: Path) -> None:
    wait_serving(lab.get("h1").address, 3)
    services = reconciler(lab, "get", "services", "-f", str(repo), "-n", NAMESPACE)
    assert services.returncode == 0, services.stdout + services.stderr
    assert "echo" in services.stdout and f"{PORT}/TCP" in services.stdout, services.stdout
    listed = reconciler(lab, "get", "endpoints", "-f", str(repo), "-n", NAMESPACE, "-o", "json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    items = json.loads(listed.stdout)["items"]
    (echo,) = [i for i in items if i["name"] == "echo"]
    assert len(echo["ready"]) == 3, echo


def test_a_rolling_update_under_load_fails_no_request(lab: labmod.Lab, repo: Path) -> None:
    addresses = [h.address for h in lab.hosts()]
    for address in addresses:
        wait_serving(address, 3)
    load = loadgen.Load([(a, PORT) for a in addresses], rate=60, workers=12).start()
    started = time.monotonic()
    apply(lab, repo, manifests("v2"))
    while len(load.replies) < 1000:
        time.sleep(0.2)
    load.stop()
    seconds = time.monotonic() - started
    assert not load.failures, f"{load.summary()} in {seconds:.1f}s: {load.failures[:5]}"
    assert len(load.replies) >= 1000, load.summary()
    rate = len(load.replies) / seconds
    assert rate >= 50, f"the load generator managed only {rate:.0f} requests/s"
    names = set(pod_hosts(lab))
    assert set(load.bodies()) & names, "the new pods never answered"
    print(f"rolling update under load: {load.summary()} in {seconds:.1f}s")


def test_a_killed_load_balancer_is_restarted_by_the_next_apply(
    lab: labmod.Lab, repo: Path
) -> None:
    h2 = lab.get("h2")
    wait_serving(h2.address, 3)
    lab.ssh(h2, "pkill", "-x", "haproxy")
    proc.wait_for(lambda: not loadgen.get(h2.address, PORT, timeout=1).ok,
                  "the load balancer of h2 to stop", 10, step=0.2)  # fmt: skip
    hosts = reconciler(lab, "get", "hosts", "-f", str(repo), "-o", "json")
    (row,) = [h for h in json.loads(hosts.stdout)["items"] if h["name"] == "h2"]
    assert row["loadBalancer"] != "Running", row
    apply(lab, repo, manifests("v2"))
    wait_serving(h2.address, 3, timeout=30)
    hosts = reconciler(lab, "get", "hosts", "-f", str(repo), "-o", "json")
    (row,) = [h for h in json.loads(hosts.stdout)["items"] if h["name"] == "h2"]
    assert row["loadBalancer"] == "Running", row


def test_describe_service_shows_endpoints_and_every_load_balancer(
    lab: labmod.Lab, repo: Path
) -> None:
    wait_serving(lab.get("h1").address, 3)
    shown = reconciler(lab, "describe", "service", "echo", "-f", str(repo), "-n", NAMESPACE)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    text = shown.stdout
    assert f"Port:              http  {PORT}/TCP" in text, text
    assert "per request (HTTP" in text, text
    endpoints_line = next(line for line in text.splitlines() if line.startswith("Endpoints:"))
    assert endpoints_line.count(",") == 2, text  # 3 Ready pods
    for host in ("h1", "h2", "h3"):
        assert f"  {host}: running (pid " in text, text
    missing = reconciler(lab, "describe", "service", "nope", "-f", str(repo), "-n", NAMESPACE)
    assert missing.returncode == 1 and 'service "nope" not found' in missing.stderr


def test_session_affinity_keeps_a_client_on_one_pod_on_every_port(
    lab: labmod.Lab, repo: Path
) -> None:
    """`sessionAffinity: ClientIP`: one client's requests all reach one pod (HAProxy balances
    by the client address), on the Service port and on the nodePort of a LoadBalancer."""
    wait_serving(lab.get("h1").address, 3)
    for host in lab.hosts():
        for port in (STICKY, NODE_PORT):
            replies = [loadgen.get(host.address, port) for _ in range(12)]
            assert all(r.ok for r in replies), (host.name, port, replies[:2])
            assert len({r.body.strip() for r in replies}) == 1, (host.name, port, replies)
