"""The run cache (`plan.runcache`): a plan built with it equals one built without, at the same
and at a new revision; a pod whose inputs changed (its template, a ConfigMap it reads, its Host)
is built again; the cache keeps only the last plan's runs."""

from __future__ import annotations

import shutil
from pathlib import Path

from reconciler.manifests import loader
from reconciler.model import hoststate, objects
from reconciler.plan import pipeline, runcache

from . import builders as b

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "repo"
HOSTS = ("h1", "h2", "h3")


def _load(tmp_path: Path, edits: dict[str, tuple[str, str]] | None = None) -> objects.DesiredState:
    """The example repository with `edits` (file -> (old, new)) made to a copy of it."""
    root = tmp_path / f"repo{len(list(tmp_path.iterdir()))}"
    shutil.copytree(EXAMPLE, root)
    for rel, (old, new) in (edits or {}).items():
        text = (root / rel).read_text()
        assert old in text, (rel, old)
        (root / rel).write_text(text.replace(old, new))
    loaded = loader.load_repository(root)
    assert loaded.ok, loaded.errors
    return loaded.state


def _plan(
    desired: objects.DesiredState,
    seen: dict[str, hoststate.HostObservation],
    revision: str,
    cache: runcache.RunCache,
) -> pipeline.PlanResult:
    cached = pipeline.build_plan(desired, seen, revision, run_cache=cache)
    assert cached == pipeline.build_plan(desired, seen, revision)  # the same as without it
    return cached


def test_a_new_revision_rebuilds_only_the_changed_pods(tmp_path: Path) -> None:
    cache = runcache.RunCache()
    first = _plan(_load(tmp_path), b.observations(*HOSTS), "rev1", cache)
    seen = b.apply(first, b.observations(*HOSTS))
    assert (cache.hits, cache.misses) == (0, len(first.runs))
    again = _plan(_load(tmp_path), seen, "rev1", cache)  # another load, equal objects
    assert again.plan.empty and cache.hits == len(first.runs)
    cache.hits = cache.misses = 0
    image = ("image: 198.18.0.1:5000/demo/busybox:latest", "image: 198.18.0.1:5000/demo/x:1")
    changed = _load(tmp_path, {"shop/backend.yaml": image})
    second = _plan(changed, seen, "rev2", cache)
    backend = [r for r in second.runs if r.owner == "Deployment/backend"]
    assert backend and cache.misses == len(backend)
    assert cache.hits == len(second.runs) - len(backend)
    assert {r.labels[hoststate.LABEL_REVISION] for r in second.runs} == {"rev2"}
    kinds = {a.kind for a in second.plan.actions}
    assert kinds <= {hoststate.ActionKind.CREATE, hoststate.ActionKind.REPLACE,
                     hoststate.ActionKind.DELETE}  # fmt: skip
    assert {a.name for a in second.plan.actions} <= {r.name for r in backend} | {
        p.name for o in seen.values() for p in o.pods if p.owner == "Deployment/backend"}


def test_a_changed_config_map_or_host_builds_again(tmp_path: Path) -> None:
    cache = runcache.RunCache()
    seen = b.observations(*HOSTS)
    first = _plan(_load(tmp_path), seen, "rev1", cache)
    cache.hits = cache.misses = 0
    page = _load(tmp_path, {"shop/web-config.yaml": ("info", "debug")})
    web = [r for r in first.runs if r.owner == "Deployment/web"]
    _plan(page, seen, "rev2", cache)  # the web pods mount the ConfigMap
    assert web and cache.misses >= len(web)
    cache.hits = cache.misses = 0
    moved = _load(tmp_path, {"hosts/h1.yaml": ("198.18.0.11", "198.18.0.21")})
    third = _plan(moved, seen, "rev3", cache)
    on_h1 = [r for r in third.runs if r.host == "h1"]
    assert on_h1 and cache.misses >= len(on_h1)  # its Host object changed: built again


def test_only_the_last_plans_runs_are_kept(tmp_path: Path) -> None:
    cache = runcache.RunCache()
    seen = b.observations(*HOSTS)
    first = _plan(_load(tmp_path), seen, "rev1", cache)
    assert len(cache) == len(first.runs)
    fewer = _load(tmp_path, {"shop/web.yaml": ("replicas: 3", "replicas: 1")})
    second = _plan(fewer, seen, "rev2", cache)
    assert len(second.runs) < len(first.runs) and len(cache) == len(second.runs)


def test_with_revision_sets_the_label_only() -> None:
    desired = b.state(b.host("h1"), b.deployment("web", replicas=1))
    run = pipeline.build_plan(desired, b.observations("h1"), "rev1").runs[0]
    moved = runcache.with_revision(run, "rev2")
    assert moved.labels[hoststate.LABEL_REVISION] == "rev2"
    assert moved == pipeline.build_plan(desired, b.observations("h1"), "rev2").runs[0]
    assert runcache.with_revision(run, "rev1") is run
