"""Lifecycle hooks on the real test hosts (`reconciler apply`): a postStart exec hook writes a
marker in the container; on a rollout, the old pod's preStop hooks run before it is stopped
(an exec hook and an httpGet hook, each calling back an HTTP server of this test through the
container's network); a failing postStart hook kills its container (FailedPostStartHook in the
apply output).

Namespace `hook-e2e`; every managed pod is pruned at the end (hosts-only repository).
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import gitdaemon
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "hook-e2e"
IMAGE = "198.18.0.1:5000/demo/busybox:latest"
GATEWAY = "198.18.0.1"  # the test hosts' bridge: containers reach it through slirp4netns


def manifests(port: int, version: str) -> str:
    callback = f"http://{GATEWAY}:{port}"
    return f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cgi
  namespace: {NAMESPACE}
data:
  start: |
    mkdir -p /www/cgi-bin && cp /cgi/bye /www/cgi-bin/bye && chmod 755 /www/cgi-bin/bye
    exec httpd -f -p 8080 -h /www
  bye: |
    #!/bin/sh
    wget -qO- {callback}/httpget-prestop/$VERSION >/dev/null
    printf 'Content-Type: text/plain\\r\\n\\r\\nbye\\n'
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hooked
  namespace: {NAMESPACE}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: hooked}}}}
  template:
    metadata: {{labels: {{app: hooked}}}}
    spec:
      nodeSelector: {{zone: b}}
      terminationGracePeriodSeconds: 10
      volumes:
        - name: cgi
          configMap: {{name: cgi}}
      containers:
        - name: web
          image: {IMAGE}
          env: [{{name: VERSION, value: "{version}"}}]
          command: ["sh", "/cgi/start"]
          ports: [{{containerPort: 8080, name: http}}]
          volumeMounts: [{{name: cgi, mountPath: /cgi}}]
          lifecycle:
            postStart:
              exec: {{command: ["sh", "-c", "echo started-$VERSION > /tmp/poststart"]}}
            preStop:
              httpGet: {{port: http, path: /cgi-bin/bye}}
        - name: worker
          image: {IMAGE}
          env: [{{name: VERSION, value: "{version}"}}]
          command: ["sleep", "3600"]
          lifecycle:
            preStop:
              exec: {{command: ["sh", "-c", "wget -qO- {callback}/exec-prestop/$VERSION"]}}
---
apiVersion: v1
kind: Pod
metadata:
  name: badstart
  namespace: {NAMESPACE}
spec:
  nodeSelector: {{zone: b}}
  terminationGracePeriodSeconds: 1
  containers:
    - name: app
      image: {IMAGE}
      command: ["sleep", "3600"]
      lifecycle:
        postStart:
          exec: {{command: ["sh", "-c", "exit 7"]}}
"""


class Callbacks(http.server.ThreadingHTTPServer):
    """Records the paths the hooks call, with the time they came."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, float]] = []
        super().__init__((GATEWAY, 0), _Handler)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Callbacks

    def do_GET(self) -> None:
        self.server.seen.append((self.path, time.time()))
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


reconciler = gitdaemon.run_cli  # `reconciler ARGS...` against the lab


@pytest.fixture(scope="module")
def callbacks() -> Iterator[Callbacks]:
    server = Callbacks()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def repo(
    lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory, callbacks: Callbacks
) -> Iterator[Path]:
    repo, hosts_only = gitdaemon.hosts_repos(tmp_path_factory.mktemp, "hooks")
    (repo / "app.yaml").write_text(manifests(callbacks.server_address[1], "v1"))
    first = reconciler(lab, "apply", "--allow-mass-prune", str(repo))
    assert first.returncode == 0, first.stdout + first.stderr
    repo.joinpath("first-apply.txt").write_text(first.stdout)
    yield repo
    reconciler(lab, "apply", "--allow-mass-prune", str(hosts_only))


def _web(lab: labmod.Lab) -> str:
    """The Podman name of the Deployment pod's web container (one pod runs)."""
    names = lab.ssh(lab.get("h3"), "podman", "ps", "-a", "--format", "{{.Names}}").stdout
    (name,) = [n for n in names.split() if n.startswith(f"{NAMESPACE}_hooked-") and
               n.endswith("_web")]  # fmt: skip
    return name


def test_post_start_runs_in_the_started_container(lab: labmod.Lab, repo: Path) -> None:
    marker = lab.ssh(lab.get("h3"), "podman", "exec", _web(lab), "cat", "/tmp/poststart")
    assert marker.stdout.strip() == "started-v1", marker.stderr


def test_a_failing_post_start_kills_the_container(lab: labmod.Lab, repo: Path) -> None:
    output = repo.joinpath("first-apply.txt").read_text()
    assert "FailedPostStartHook: container app: postStart hook failed (exit code 7)" in output
    state = lab.ssh(lab.get("h3"), "podman", "inspect", "--format", "{{.State.Status}}",
                    f"{NAMESPACE}_badstart_app").stdout.strip()  # fmt: skip
    assert state == "exited"


def test_pre_stop_hooks_run_before_a_rollout_stops_the_old_pod(
    lab: labmod.Lab, repo: Path, callbacks: Callbacks
) -> None:
    assert not [p for p, _ in callbacks.seen if "prestop" in p]  # nothing stopped yet
    (repo / "app.yaml").write_text(manifests(callbacks.server_address[1], "v2"))
    rollout = reconciler(lab, "apply", str(repo))
    assert rollout.returncode == 0, rollout.stdout + rollout.stderr
    paths = [p for p, _ in callbacks.seen]
    assert "/exec-prestop/v1" in paths, paths  # the old pod's hooks, in the old containers
    assert "/httpget-prestop/v1" in paths, paths
    assert not [p for p in paths if p.endswith("/v2")]  # the new pod is running
    marker = lab.ssh(lab.get("h3"), "podman", "exec", _web(lab), "cat", "/tmp/poststart")
    assert marker.stdout.strip() == "started-v2", marker.stderr
