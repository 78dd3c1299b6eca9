"""Two Services on one port, each on its own cluster IP, driven by `reconciler apply` on the 3 real
test hosts: every host routes the lab's service CIDR (198.19.128.0/17) to lo, so each host's
rootless HAProxy binds `CLUSTERIP:8080` for both Services, and a client pod reaches `svc-a:8080`
and `svc-b:8080` by name (its /etc/hosts points each at its cluster IP) and gets each Service's
own answer. Namespace `vip-e2e`, removed at the end.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.harness import gitdaemon, hostsetup, proc
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "vip-e2e"
PORT = 8080
IMAGE = "198.18.0.1:5000/demo/busybox:latest"
REQUEST = 'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 5 "$0" 8080'
"""busybox nc speaks HTTP/1.0 well enough (busybox wget crashes in these images); $0: the name."""


def backend(name: str) -> str:
    serve = (f"mkdir -p /www && echo answer-from-{name} > /www/index.html"
             " && exec httpd -f -p 8080 -h /www")  # fmt: skip
    return f"""\
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {NAMESPACE}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: httpd
          image: {IMAGE}
          imagePullPolicy: IfNotPresent
          command: ["sh", "-c", "{serve}"]
          ports:
            - name: http
              containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: svc-{name}
  namespace: {NAMESPACE}
spec:
  selector:
    app: {name}
  ports:
    - name: http
      port: {PORT}
      targetPort: http
"""


MANIFESTS = f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
{backend("a")}{backend("b")}---
apiVersion: v1
kind: Pod
metadata:
  name: client
  namespace: {NAMESPACE}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: client
      image: {IMAGE}
      imagePullPolicy: IfNotPresent
      command: ["sleep", "3600"]
"""


def reconciler(lab: labmod.Lab, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args], capture_output=True, text=True,
        env=gitdaemon.cli_env(lab), timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def repo(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("clusterips") / "repo"
    shutil.copytree(gitdaemon.EXAMPLE / "hosts", path / "hosts")
    (path / "app.yaml").write_text(MANIFESTS)
    gitdaemon.remove_namespace_pods(lab, NAMESPACE)
    try:
        yield path
    finally:
        (path / "app.yaml").unlink()
        reconciler(lab, "apply", "--allow-mass-prune", str(path))  # pods gone, listeners too
        gitdaemon.remove_namespace_pods(lab, NAMESPACE)


def client(lab: labmod.Lab) -> tuple[hostsetup.Host, str]:
    """The host running the client pod and its container's name."""
    for host in lab.hosts():
        listed = lab.ssh(host, "podman", "ps", "--format", "{{.Names}}", "--filter",
                         f"label=reconciler.dev/namespace={NAMESPACE}", "--filter",
                         "label=reconciler.dev/name=client")  # fmt: skip
        names = [n for n in listed.stdout.split() if not n.endswith("-infra")]
        if names:
            return host, names[0]
    raise AssertionError("no client container on any host")


def fetch(lab: labmod.Lab, host: hostsetup.Host, container: str, name: str) -> str:
    done = lab.ssh(host, "podman", "exec", container, "sh", "-c", REQUEST, name, check=False,
                   timeout=30)  # fmt: skip
    return done.stdout


def test_validate_accepts_two_services_on_one_port(lab: labmod.Lab, repo: Path) -> None:
    result = reconciler(lab, "validate", str(repo))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"port {PORT} is shared with Service {NAMESPACE}/svc-" in result.stdout, result.stdout


def test_each_service_answers_on_its_own_cluster_ip(lab: labmod.Lab, repo: Path) -> None:
    applied = reconciler(lab, "apply", "--allow-mass-prune", str(repo))  # others' leftovers
    assert applied.returncode == 0, applied.stdout + applied.stderr
    listed = reconciler(lab, "get", "services", "-f", str(repo), "-n", NAMESPACE, "-o", "json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)["items"]}
    ips = {name: rows[name]["clusterIP"] for name in ("svc-a", "svc-b")}
    cidr = ipaddress.ip_network(labmod.SERVICE_CIDR)
    assert all(ipaddress.ip_address(ip) in cidr for ip in ips.values()), ips
    assert ips["svc-a"] != ips["svc-b"]
    assert rows["svc-a"]["clusterIPOnly"] == [PORT], rows["svc-a"]
    table = reconciler(lab, "get", "services", "-f", str(repo), "-n", NAMESPACE)
    assert "CLUSTER-IP" in table.stdout and ips["svc-a"] in table.stdout, table.stdout

    found = proc.wait_for(lambda: _client_or_none(lab), "the client pod", 120, step=1)
    assert found is not None
    host, container = found
    for name, wanted in (("svc-a", "answer-from-a"), ("svc-b", "answer-from-b")):
        answers = _answers(lab, host, container, name, wanted)
        proc.wait_for(answers, f"{wanted} from {name}:{PORT} inside the client", 120, step=1)
        fully = f"{name}.{NAMESPACE}.svc.cluster.local"
        assert wanted in fetch(lab, host, container, fully)
    env = lab.ssh(host, "podman", "exec", container, "env").stdout
    assert f"SVC_A_SERVICE_HOST={ips['svc-a']}" in env, env
    assert f"SVC_B_PORT_8080_TCP=tcp://{ips['svc-b']}:8080" in env, env
    hosts_file = lab.ssh(host, "podman", "exec", container, "cat", "/etc/hosts").stdout
    assert f"{ips['svc-a']}" in hosts_file and "svc-a" in hosts_file, hosts_file
    # every host's HAProxy binds the two cluster IPs, not the port on every address
    for each in lab.hosts():
        config = lab.ssh(each, "sh", "-c", "cat ~/.local/share/reconciler/lb/haproxy.cfg").stdout
        assert f"bind {ips['svc-a']}:{PORT}\n" in config and f"bind :{PORT}\n" not in config


def _client_or_none(lab: labmod.Lab) -> tuple[hostsetup.Host, str] | None:
    try:
        return client(lab)
    except AssertionError:
        return None


def _answers(
    lab: labmod.Lab, host: hostsetup.Host, container: str, name: str, wanted: str
) -> Callable[[], bool]:
    return lambda: wanted in fetch(lab, host, container, name)
