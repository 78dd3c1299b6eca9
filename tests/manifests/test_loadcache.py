"""The load cache (`manifests.loadcache`): a load with it equals a full load, for every manifest
case (errors with file:line included), a SOPS-encrypted Secret (never kept: decrypted with the
key of each load), a removed, a renamed and a changed file; other settings drop what it kept."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reconciler.manifests import loadcache, loader, yamldocs

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "cases" / "manifests"
EXAMPLE = ROOT / "examples" / "repo"
DEMO_KEY = ROOT / "tests" / "harness" / "age" / "demo.key"
OTHER_KEY = ROOT / "tests" / "cases" / "sops" / "sops-keys.txt"


def _same(cached: loader.LoadResult, full: loader.LoadResult) -> None:
    assert cached.diagnostics == full.diagnostics
    assert cached.state == full.state
    assert (cached.files, cached.documents) == (full.files, full.documents)


def _both(root: Path, cache: loadcache.LoadCache, **kw: object) -> loader.LoadResult:
    cached = loader.load_repository(root, cache=cache, **kw)  # type: ignore[arg-type]
    _same(cached, loader.load_repository(root, **kw))  # type: ignore[arg-type]
    return cached


def test_every_manifest_case_loads_the_same_from_the_cache(tmp_path: Path) -> None:
    cache = loadcache.LoadCache()
    cases = sorted(p for p in CASES.iterdir() if p.is_dir())
    assert len(cases) > 20
    for case in cases:  # one cache across them all: equal files of other cases are reused
        _both(case, cache)
        hits = cache.hits
        _both(case, cache)  # again: every readable file from the cache
        assert cache.hits > hits or not any(case.rglob("*.y*ml"))


def test_removed_renamed_and_changed_files(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)
    shutil.rmtree(repo / "shop")  # no SOPS here: every file is kept
    cache = loadcache.LoadCache()
    first = _both(repo, cache)
    assert first.ok and len(cache) == len(first.files)
    (repo / "ops" / "web-check.yaml").rename(repo / "ops" / "check.yaml")
    renamed = _both(repo, cache)
    assert "ops/check.yaml" in renamed.files and "ops/web-check.yaml" not in renamed.files
    assert {o.source.file for o in renamed.state.objects.values() if o.source} >= {
        "ops/check.yaml"}
    host = repo / "hosts" / "h2.yaml"
    host.write_text(host.read_text().replace('cpu: "2"', 'cpu: "two"'))
    broken = _both(repo, cache)
    assert not broken.ok and all(d.file == "hosts/h2.yaml" for d in broken.errors)
    assert broken.errors[0].line == 15  # the line of the bad value
    host.unlink()
    removed = _both(repo, cache)
    assert removed.ok and "hosts/h2.yaml" not in removed.files
    assert len(cache) == len(removed.files)  # only the last load's files are kept


def test_an_encrypted_secret_is_decrypted_by_every_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOPS_AGE_KEY_FILE", raising=False)
    cache = loadcache.LoadCache()
    good = _both(EXAMPLE, cache, age_key_file=DEMO_KEY)
    assert good.ok and len(cache) == len(good.files) - 1  # the encrypted file is not kept
    refused = _both(EXAMPLE, cache, age_key_file=OTHER_KEY)  # another key: cannot decrypt
    assert not refused.ok
    assert [d.file for d in refused.errors] == ["shop/web-secret.yaml"]


def test_other_limits_drop_what_was_kept(tmp_path: Path) -> None:
    cache = loadcache.LoadCache()
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE / "hosts", repo)
    _both(repo, cache)
    cache.hits = cache.misses = 0
    small = yamldocs.Limits(max_file_bytes=100)  # every host file is over it now
    result = _both(repo, cache, limits=small)
    assert cache.hits == 0 and not result.ok
    _both(repo, cache, limits=small)
    assert cache.hits == 0 and len(cache) == 0  # files over the limit are never kept
