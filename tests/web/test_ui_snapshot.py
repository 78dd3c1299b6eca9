"""The dashboard's snapshot of a sync, built from real passes over the FakeExecutor: pods with
their host and status, Deployment counts, requests against capacity, Service endpoints, an
unschedulable pod; and the Holder shared with the HTTP threads."""

from __future__ import annotations

from pathlib import Path

from reconciler.controllers import sync
from reconciler.executor import fake
from reconciler.web.ui import snapshot

HOSTS = "".join(
    f"""---
apiVersion: reconciler.dev/v1alpha1
kind: Host
metadata: {{name: {name}}}
spec:
  address: 198.18.0.{10 + n}
  ssh: {{user: rc-{name}}}
  capacity: {{cpu: "2", memory: 1Gi}}
"""
    for n, name in enumerate(("h1", "h2"), start=1)
)
APP = """---
apiVersion: v1
kind: Namespace
metadata: {name: ui}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ui}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: busybox
          command: [httpd, -f]
          ports: [{containerPort: 8080}]
          resources: {requests: {cpu: 250m, memory: 64Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ui}
spec:
  selector: {app: web}
  ports: [{port: 8000, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: huge, namespace: ui}
spec:
  containers:
    - name: huge
      image: busybox
      resources: {requests: {cpu: "64"}}
"""


def _passes(repo: Path, count: int) -> sync.Prepared:
    executor = fake.FakeExecutor(["h1", "h2"])
    controllers = sync.Controllers()
    prepared = sync.prepare(repo, executor, "r1", controllers)
    for _ in range(count):
        sync.converge(prepared, executor)
        prepared = sync.prepare(repo, executor, "r1", controllers)
    return prepared


def test_the_snapshot_of_a_converged_pass(tmp_path: Path) -> None:
    (tmp_path / "hosts.yaml").write_text(HOSTS)
    (tmp_path / "app.yaml").write_text(APP)
    taken = snapshot.from_prepared(_passes(tmp_path, 2), now=1000.0)
    assert taken.taken == 1000.0 and taken.revision == "r1"
    web = [p for p in taken.pods if p.owner == "Deployment/web"]
    assert len(web) == 3 and {p.status for p in web} == {"Running"}
    assert all(p.host in ("h1", "h2") and p.created and p.ready == "1/1" for p in web)
    huge = next(p for p in taken.pods if p.name == "huge")
    assert (huge.status, huge.host) == (snapshot.UNSCHEDULABLE, "")
    assert "cpu" in huge.message
    (deployment,) = taken.deployments
    assert (deployment.desired, deployment.updated, deployment.ready) == (3, 3, 3)
    by_host = {h.name: h for h in taken.hosts}
    assert sum(h.pods for h in by_host.values()) == 3
    assert sum(h.cpu_requested for h in by_host.values()) == 750
    assert by_host["h1"].cpu_capacity == 2000 and by_host["h1"].memory_capacity == 1 << 30
    assert sum(h.memory_requested for h in by_host.values()) == 3 * 64 << 20
    (service,) = taken.services
    assert service.ports == ("8000/TCP",) and len(service.ready) + len(service.not_ready) == 3


def test_pods_to_be_started_are_pending(tmp_path: Path) -> None:
    (tmp_path / "hosts.yaml").write_text(HOSTS)
    (tmp_path / "app.yaml").write_text(APP)
    taken = snapshot.from_prepared(_passes(tmp_path, 0))
    pending = [p for p in taken.pods if p.status == snapshot.PENDING]
    assert len(pending) == 3 and all(p.message.startswith("to be started on h") for p in pending)


def test_the_holder_keeps_the_newest_and_survives_a_bad_prepared(tmp_path: Path) -> None:
    holder = snapshot.Holder()
    assert holder.get() is None
    holder.put(snapshot.Snapshot(1.0, "a"))
    holder.record(object())  # type: ignore[arg-type]  # a bug must not reach the loop
    found = holder.get()
    assert found is not None and found.revision == "a"


def test_pods_of_a_silent_host_are_unknown_not_pending(tmp_path: Path) -> None:
    (tmp_path / "hosts.yaml").write_text(HOSTS)
    (tmp_path / "app.yaml").write_text(APP)
    executor = fake.FakeExecutor(["h1", "h2"])
    controllers = sync.Controllers()
    first = sync.prepare(tmp_path, executor, "r1", controllers)
    sync.converge(first, executor)
    before = snapshot.from_prepared(sync.prepare(tmp_path, executor, "r1", controllers))
    executor.unreachable["h2"] = "host h2: connection refused"
    holder = snapshot.Holder()
    holder.put(before)
    holder.record(sync.prepare(tmp_path, executor, "r1", controllers))
    taken = holder.get()
    assert taken is not None
    assert len(taken.pods) == 3, taken.pods  # the one on h2 is not left out
    on_h2 = [p for p in taken.pods if p.host == "h2"]
    assert on_h2 and {p.status for p in on_h2} == {snapshot.UNKNOWN}, taken.pods
    assert on_h2[0].message == "host h2 does not answer"
    assert not next(h for h in taken.hosts if h.name == "h2").reachable
