"""Services under the daemon on the 3 real test hosts: a pod that turns unready leaves rotation
on every host and comes back when Ready again; a killed HAProxy is started again by the next
resync (with a LoadBalancerRestarted event); a lost host's pods leave rotation by HAProxy's own
health checks while requests keep being answered through the other hosts.

Deployment `echo` (3 pods, each page names its pod) behind Service `echo` on port 28081, pushed
to a daemon (resync every 4 s) through its own git server. Namespace `svcd-e2e`.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.harness import daemonproc, gitdaemon, hostsetup, loadgen, proc
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "svcd-e2e"
PORT = 28081
SERVE = ("mkdir -p /www && hostname > /www/index.html && echo ok > /www/ready"
         " && exec httpd -f -p 8080 -h /www")  # fmt: skip
MANIFESTS = f"""\
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
  replicas: 3
  selector:
    matchLabels:
      app: echo
  template:
    metadata:
      labels:
        app: echo
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: httpd
          image: 198.18.0.1:5000/demo/busybox:latest
          imagePullPolicy: IfNotPresent
          command: ["sh", "-c", "{SERVE}"]
          ports:
            - name: http
              containerPort: 8080
          readinessProbe:
            httpGet:
              path: /ready
              port: http
            periodSeconds: 1
            failureThreshold: 1
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
"""


@dataclass
class Setup:
    daemon: daemonproc.DaemonProcess
    lab: labmod.Lab


@pytest.fixture(scope="module")
def setup(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    base = tmp_path_factory.mktemp("services-daemon")
    allow = "allow_mass_prune: true\n"  # other tests' leftover pods are pruned, not held
    with gitdaemon.daemon_on_git(lab, base, git_user="rc-git-svcd", namespace=NAMESPACE,
                                 extra_config=allow) as (daemon, work):  # fmt: skip
        work.write("app.yaml", MANIFESTS)
        work.commit_and_push("echo behind a Service")
        for host in lab.hosts():
            wait_answering(host.address, 3, timeout=120)
        yield Setup(daemon, lab)


def answers(address: str, count: int = 12) -> set[str]:
    replies = (loadgen.get(address, PORT, timeout=2) for _ in range(count))
    return {r.body.strip() for r in replies if r.ok}


def wait_answering(address: str, pods: int, timeout: float = 60) -> None:
    proc.wait_for(lambda: len(answers(address)) >= pods, f"{pods} pods behind {address}:{PORT}",
                  timeout, step=0.3)  # fmt: skip


def a_pod(lab: labmod.Lab) -> tuple[hostsetup.Host, str]:
    """A host running one of the Service's pods, and that pod's app container."""
    for host in lab.hosts():
        listed = lab.ssh(host, "podman", "ps", "--format", "{{.Names}}", "--filter",
                         f"label=reconciler.dev/namespace={NAMESPACE}")  # fmt: skip
        names = [n for n in listed.stdout.split() if n.endswith("_httpd")]
        if names:
            return host, names[0]
    raise AssertionError("no pod of the Service runs")


def status(daemon: daemonproc.DaemonProcess) -> dict[str, object]:
    url = f"http://127.0.0.1:{daemon.port}/status"
    with urllib.request.urlopen(url, timeout=5) as reply:
        document: dict[str, object] = json.load(reply)
    return document


def test_an_unready_pod_leaves_rotation_everywhere_and_comes_back(setup: Setup) -> None:
    lab = setup.lab
    host, container = a_pod(lab)
    pod = lab.ssh(host, "podman", "exec", container, "hostname").stdout.strip()
    addresses = [h.address for h in lab.hosts()]
    assert all(pod in answers(a, 30) for a in addresses)
    lab.ssh(host, "podman", "exec", container, "rm", "/www/ready")
    started = time.monotonic()
    for address in addresses:
        proc.wait_for(lambda a=address: pod not in answers(a, 24),  # type: ignore[misc]
                      f"{pod} out of rotation on {address}", 20, step=0.2)  # fmt: skip
    left = time.monotonic() - started
    lab.ssh(host, "podman", "exec", container, "sh", "-c", "echo ok > /www/ready")
    for address in addresses:
        proc.wait_for(lambda a=address: pod in answers(a, 24),  # type: ignore[misc]
                      f"{pod} back in rotation on {address}", 20, step=0.2)  # fmt: skip
    print(f"unready pod out of rotation on every host after {left:.1f}s")


def test_a_killed_load_balancer_is_back_by_the_next_resync(setup: Setup) -> None:
    lab, h2 = setup.lab, setup.lab.get("h2")
    lab.ssh(h2, "pkill", "-x", "haproxy")
    proc.wait_for(lambda: not loadgen.get(h2.address, PORT, timeout=1).ok,
                  "h2's load balancer to stop", 10, step=0.1)  # fmt: skip
    killed = time.monotonic()
    wait_answering(h2.address, 3, timeout=30)  # resync_interval is 4 s
    back = time.monotonic() - killed

    def told() -> bool:
        events = status(setup.daemon).get("events", [])
        assert isinstance(events, list)
        return any(e.get("reason") == "LoadBalancerRestarted" and e.get("object") == "Host/h2"
                   for e in events)  # fmt: skip

    proc.wait_for(told, "a LoadBalancerRestarted event for h2", 20, step=0.5)
    balancers = status(setup.daemon)["loadBalancers"]
    assert isinstance(balancers, dict)
    assert balancers["running"] == balancers["total"] == 3, balancers
    print(f"killed HAProxy on h2 answering again after {back:.1f}s")


HAND_MAINT = """
import os, socket
path = os.path.expanduser("~/.local/share/reconciler/lb/admin.sock")
def ask(line):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(line.encode() + b"\\n")
    s.shutdown(socket.SHUT_WR)
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    return out.decode()
rows = [r.split() for r in ask("show servers state").splitlines()[1:] if r and r[0] != "#"]
be, srv = rows[0][1], rows[0][3]
ask(f"set server {be}/{srv} state maint")
print(srv)
"""


def test_a_server_put_out_of_rotation_by_hand_is_repaired(setup: Setup) -> None:
    """Drift a no-op pass does not see at once: a pass that wants what was verified asks
    HAProxy only its pid (`haproxy_supervisor.VERIFY_EVERY`, 30 s); the next full check puts
    the server back (within VERIFY_EVERY plus a resync)."""
    lab, h2 = setup.lab, setup.lab.get("h2")
    wait_answering(h2.address, 3, timeout=30)
    server = lab.ssh(h2, "python3", "-c", HAND_MAINT).stdout.strip()
    assert server
    proc.wait_for(lambda: len(answers(h2.address, 24)) == 2,
                  f"{server} out of rotation on h2", 10, step=0.2)  # fmt: skip
    changed = time.monotonic()
    wait_answering(h2.address, 3, timeout=30 + 4 + 20)
    back = time.monotonic() - changed
    print(f"{server} put in maintenance by hand on h2: back in rotation after {back:.1f}s")


def test_a_lost_host_leaves_rotation_and_the_others_keep_answering(setup: Setup) -> None:
    lab = setup.lab
    for host in lab.hosts():
        wait_answering(host.address, 3)
    others = [h.address for h in lab.hosts() if h.name != "h3"]
    load = loadgen.Load([(a, PORT) for a in others], rate=50, workers=12).start()
    time.sleep(2)
    lab.kill("h3")
    killed = time.monotonic()
    try:
        time.sleep(10)
    finally:
        load.stop()
        lab.revive("h3")
    late = [r for r in load.failures if r.started > killed + 5]
    assert not late, f"{load.summary()}: failures 5 s after the host was lost: {late[:3]}"
    window = [r.started - killed for r in load.failures]
    print(f"host lost: {load.summary()}; failures from {min(window, default=0):.1f}s "
          f"to {max(window, default=0):.1f}s after the link went down")  # fmt: skip
    for host in lab.hosts():
        wait_answering(host.address, 3, timeout=90)
