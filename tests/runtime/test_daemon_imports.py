"""The daemon imports what a repository of Deployments needs and nothing more (issue 15: memory at
rest): its start-up and a sync of Hosts, a Namespace and a Deployment (against the fake executor,
settled as the daemon loop settles; it places the pods) leave the dashboard, the dry run, CronJob
parsing, jsonschema, numpy, SOPS' age decryption and charset_normalizer unloaded; they load on
first use. The dashboard and the dry run are built on their first request."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from reconciler.runtime import daemon

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "repo"
FILES = ("hosts/h1.yaml", "hosts/h2.yaml", "shop/namespace.yaml")
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: main
          image: 198.18.0.1:5000/demo/busybox:latest
          command: [sleep, "3600"]
"""
LAZY = (
    "croniter", "dateutil", "zoneinfo",  # CronJobs (controllers.cronrun, manifests.cronjobdocs)
    "jsonschema",  # only when the fast check finds a document invalid (manifests.schemas)
    "numpy",  # the scheduler's columns, only above plan.binding.PLAIN_PAIRS hosts x pods
    "pyrage",  # SOPS Secrets (manifests.sops); cryptography's AES comes with asyncssh anyway
    "reconciler.web.ui.app", "reconciler.web.ui.view",  # the dashboard, on its first request
    "reconciler.web.dryrun", "reconciler.web.getrows",  # POST /v1/diff, on its first request
    "charset_normalizer.api",  # requests' encoding guess, on first use (executor.charsetdefer)
)  # fmt: skip
PROBE = """
import json, sys
from pathlib import Path
from reconciler.cli import daemon as cli_daemon  # the daemon's entry, as `reconciler daemon`
from reconciler.executor import fake as fake_executor
from reconciler.manifests import schemas
from reconciler.runtime import memory, reconcile
from reconciler.source import fake as fake_source
from reconciler.state import store as storemod
from reconciler.web import metrics
started = sorted(sys.modules)
work = Path(sys.argv[1])
source = fake_source.FakeSource(work / "src")
source.push(json.loads(sys.argv[2]), "deploy")
store = storemod.Store(storemod.path_in(work / "state"))
rec = reconcile.Reconciler(source, fake_executor.FakeExecutor(["h1", "h2"]), store,
                           metrics.ReconcilerMetrics(metrics.Registry()))
result = str(rec.run(["startup"]))
memory.Settler().settle()
print(json.dumps({"started": started, "synced": sorted(sys.modules), "result": result,
                  "definitions": schemas._definitions.cache_info().currsize}))
"""


def _probe(tmp_path: Path) -> dict[str, object]:
    files = {name: (EXAMPLE / name).read_text() for name in FILES}
    files["shop/web.yaml"] = DEPLOYMENT
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path), json.dumps(files)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    found: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def _loaded(modules: object) -> list[str]:
    assert isinstance(modules, list)
    return sorted(m for m in LAZY if m in modules)


def test_start_up_and_a_sync_of_deployments_leave_the_lazy_modules_unloaded(
    tmp_path: Path,
) -> None:
    found = _probe(tmp_path)
    assert found["result"] == "Succeeded"
    assert "reconciler.runtime.daemon" in found["started"]  # type: ignore[operator]
    assert _loaded(found["started"]) == []
    assert _loaded(found["synced"]) == []
    assert found["definitions"] == 0  # the schema definitions dropped once the sync settled


def test_the_dashboard_and_the_dry_run_are_built_on_their_first_request() -> None:
    built: list[str] = []

    def build() -> object:
        built.append("built")
        return lambda path, headers: (200, f"{path} {len(headers)}")

    answer = daemon.Daemon._on_demand(build)  # type: ignore[arg-type]
    assert built == []
    assert answer("/ui/", {}) == (200, "/ui/ 0")
    assert answer("/ui/pods", {"a": "b"}) == (200, "/ui/pods 1")
    assert built == ["built"]  # once, then kept
