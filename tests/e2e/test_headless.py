"""A headless Service (`clusterIP: None`) on the 3 real test hosts, driven by `reconciler apply`:
two replicas of a Deployment (one per host) and a Pod with `hostname`/`subdomain` behind the
headless Services `web` and `web-any` (no ports: the pods' own); a client pod on the third host
finds `web` listed once per Ready pod in its /etc/hosts (each pod's own address from the service
CIDR, which every host's HAProxy binds and forwards to that one pod), reaches each pod at its
address (each answers with its own hostname), on 9090 too through `web-any`, and the named pod
at `solo.web.NS.svc.cluster.local`. A rollout then gives both replicas new names: the client's
/etc/hosts follows (the old addresses gone, the new pods' in) without the client being
recreated. Namespace `headless-e2e`; run under `flock /tmp/e2e.lock`.
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.harness import gitdaemon, hostsetup, proc
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "headless-e2e"
IMAGE = "198.18.0.1:5000/demo/busybox:latest"
FQDN = f"web.{NAMESPACE}.svc.cluster.local"
REQUEST = 'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 5 "$0" "$1"'
SERVE = ('mkdir -p /www && echo answer-from-$(hostname) > /www/index.html'
         ' && httpd -p 9090 -h /www && exec httpd -f -p 8080 -h /www')  # fmt: skip
SPREAD = """\
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions:
              - {key: kubernetes.io/hostname, operator: NotIn, values: [h3]}
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - topologyKey: kubernetes.io/hostname
            labelSelector: {matchLabels: {spread: "yes"}}"""
MANIFESTS = f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {NAMESPACE}
spec:
  clusterIP: None
  selector:
    app: web
  ports:
    - name: http
      port: 8080
      targetPort: http
---
apiVersion: v1
kind: Service
metadata:
  name: web-any
  namespace: {NAMESPACE}
spec:
  clusterIP: None
  selector:
    app: web
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {NAMESPACE}
spec:
  replicas: 2
  strategy: {{rollingUpdate: {{maxSurge: 0, maxUnavailable: 1}}}}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web, spread: "yes"}}
    spec:
      terminationGracePeriodSeconds: 1
{SPREAD}
      containers:
        - name: httpd
          image: {IMAGE}
          imagePullPolicy: IfNotPresent
          command: ["sh", "-c", "{SERVE}"]
          env: [{{name: ROUND, value: "@ROUND@"}}]
          ports:
            - name: http
              containerPort: 8080
            - name: alt
              containerPort: 9090
---
apiVersion: v1
kind: Pod
metadata:
  name: solo
  namespace: {NAMESPACE}
  labels: {{app: web}}
spec:
  hostname: solo
  subdomain: web
  nodeSelector: {{kubernetes.io/hostname: h3}}
  terminationGracePeriodSeconds: 1
  containers:
    - name: httpd
      image: {IMAGE}
      imagePullPolicy: IfNotPresent
      command: ["sh", "-c", "{SERVE}"]
      ports:
        - name: http
          containerPort: 8080
---
apiVersion: v1
kind: Pod
metadata:
  name: client
  namespace: {NAMESPACE}
spec:
  nodeSelector: {{kubernetes.io/hostname: h3}}
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
    path, hosts_only = gitdaemon.hosts_repos(tmp_path_factory.mktemp, "headless")
    (path / "app.yaml").write_text(MANIFESTS.replace("@ROUND@", "1"))
    gitdaemon.remove_namespace_pods(lab, NAMESPACE)
    try:
        yield path
    finally:
        reconciler(lab, "apply", "--allow-mass-prune", str(hosts_only))  # pods and listeners go
        gitdaemon.remove_namespace_pods(lab, NAMESPACE)


def containers(lab: labmod.Lab, name_prefix: str) -> dict[str, tuple[hostsetup.Host, str, str]]:
    """pod name -> (host, container name, container id) of the namespace's pods whose name
    starts with `name_prefix`, on every host."""
    found = {}
    for host in lab.hosts():
        listed = lab.ssh(host, "podman", "ps", "--format",
                         '{{.Names}} {{.ID}} {{index .Labels "reconciler.dev/name"}}',
                         "--filter", f"label=reconciler.dev/namespace={NAMESPACE}")  # fmt: skip
        for line in listed.stdout.splitlines():
            name, ident, pod = line.split()
            if pod.startswith(name_prefix) and not name.endswith("-infra"):
                found[pod] = (host, name, ident)
    return found


def hosts_lines(lab: labmod.Lab, host: hostsetup.Host, container: str) -> dict[str, str]:
    """address -> names of the client's /etc/hosts lines that name `web`'s FQDN."""
    text = lab.ssh(host, "podman", "exec", container, "cat", "/etc/hosts").stdout
    return {
        fields[0]: " ".join(fields[1:])
        for fields in (line.split() for line in text.splitlines())
        if len(fields) > 1 and FQDN in fields[1:]
    }


def fetch(
    lab: labmod.Lab, host: hostsetup.Host, container: str, where: str, port: int = 8080
) -> str:
    done = lab.ssh(host, "podman", "exec", container, "sh", "-c", REQUEST, where, str(port),
                   check=False, timeout=30)  # fmt: skip
    found = re.search(r"answer-from-(\S+)", done.stdout)
    return found.group(1) if found else ""


def converge(
    lab: labmod.Lab, repo: Path, wanted: int, also: Callable[[dict[str, str]], bool] = bool
) -> tuple[hostsetup.Host, str, str]:
    """Apply until the client's /etc/hosts lists `wanted` addresses for `web` (and `also` holds
    for its solo-less lines); the client."""
    client: list[tuple[hostsetup.Host, str, str]] = []

    def ready() -> bool:
        applied = reconciler(lab, "apply", "--allow-mass-prune", str(repo))
        assert applied.returncode in (0, 4), applied.stdout + applied.stderr
        found = containers(lab, "client")
        if "client" not in found:
            return False
        client[:] = [found["client"]]
        host, name, _ = found["client"]
        lines = hosts_lines(lab, host, name)
        replicas = {a: n for a, n in lines.items() if "solo." not in n}
        return len(lines) == wanted and (not replicas or also(replicas))

    proc.wait_for(ready, f"{wanted} addresses of web in the client's /etc/hosts", 240, step=1)
    return client[0]


def test_validate_accepts_the_headless_service(lab: labmod.Lab, repo: Path) -> None:
    result = reconciler(lab, "validate", str(repo))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "headless" not in result.stdout, result.stdout


def test_names_resolve_to_each_pod_and_follow_a_rollout(lab: labmod.Lab, repo: Path) -> None:
    host, client, client_id = converge(lab, repo, 3)
    listed = reconciler(lab, "get", "services", "-f", str(repo), "-n", NAMESPACE, "-o", "json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    row, other = json.loads(listed.stdout)["items"]
    assert row["name"] == "web" and row["clusterIP"] == other["clusterIP"] == "None", row
    web = containers(lab, "web-")
    solo = containers(lab, "solo")
    assert len(web) == 2 and len(solo) == 1, (web, solo)
    assert host.name not in {h.name for h, _, _ in web.values()}  # the client is on another host
    lines = hosts_lines(lab, host, client)
    assert row["ready"] == sorted(f"{a}:8080" for a in lines), (row, lines)  # pod addresses
    cidr = ipaddress.ip_network(labmod.SERVICE_CIDR)
    assert all(ipaddress.ip_address(a) in cidr for a in lines), lines
    assert all(f"web.{NAMESPACE} " in f"{names} " and "web " in f"{names} "
               for names in lines.values()), lines  # fmt: skip
    # each address answers with its own pod: no balancing
    answers = {address: fetch(lab, host, client, address) for address in lines}
    assert sorted(answers.values()) == sorted([*web, "solo"]), answers
    assert fetch(lab, host, client, f"solo.web.{NAMESPACE}.svc.cluster.local") == "solo"
    assert fetch(lab, host, client, "web") in answers.values()
    assert fetch(lab, host, client, FQDN) in answers.values()
    # web-any lists no ports: each pod answers on its own published ports (9090 here)
    for address, pod in answers.items():
        assert f"web-any.{NAMESPACE}.svc.cluster.local" in lines[address], lines
        assert fetch(lab, host, client, address, 9090) == (pod if pod != "solo" else ""), pod
    for each in lab.hosts():  # every host binds each pod's address, not the port everywhere
        config = lab.ssh(each, "sh", "-c", "cat ~/.local/share/reconciler/lb/haproxy.cfg").stdout
        assert all(f"bind {a}:8080\n" in config for a in lines), config
        assert "bind :8080\n" not in config, config

    # a rollout replaces both replicas (new names, so new addresses); the client stays
    (repo / "app.yaml").write_text(MANIFESTS.replace("@ROUND@", "2"))
    host_after, _, id_after = converge(lab, repo, 3, lambda found: not set(found) & set(lines))
    assert (host_after.name, id_after) == (host.name, client_id)  # the same client container
    after = hosts_lines(lab, host, client)
    now = containers(lab, "web-")
    assert not set(now) & set(web) and len(now) == 2, (now, web)
    answers = {address: fetch(lab, host, client, address) for address in after}
    assert sorted(answers.values()) == sorted([*now, "solo"]), answers
