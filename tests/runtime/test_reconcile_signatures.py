"""The signed-commit gate in the daemon's reconcile (fakes) and its config key: a revision whose
head commit fails verification is refused like an invalid one (never applied, never pruned, the
last good revision keeps running) and status says SignatureInvalid with the commit and signer."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.executor import fake as fake_executor
from reconciler.runtime import config, reconcile
from reconciler.source import errors as source_errors
from reconciler.source import fake as fake_source
from reconciler.source import signatures
from reconciler.state import conditions as cond
from reconciler.state import status
from reconciler.state import store as storemod
from reconciler.web import metrics

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "repo"


class FakeVerifier:
    """Accepts the commits in `signed`; refuses every other one as unsigned."""

    def __init__(self) -> None:
        self.signed: set[str] = set()
        self.asked: list[str] = []

    def __call__(self, sha: str) -> signatures.Verified:
        self.asked.append(sha)
        if sha not in self.signed:
            raise source_errors.SignatureInvalid(sha, "none", "is not signed", "sign it")
        return signatures.Verified(sha, "ada@example.org", "SHA256:abc")


def _files() -> dict[str, str]:
    return {str(p.relative_to(EXAMPLE)): p.read_text() for p in EXAMPLE.rglob("*.yaml")}


def test_an_unsigned_revision_is_refused_and_the_signed_one_keeps_running(
    tmp_path: Path,
) -> None:
    source = fake_source.FakeSource(tmp_path / "src")
    executor = fake_executor.FakeExecutor(["h1", "h2", "h3"])
    store = storemod.Store(storemod.path_in(tmp_path / "state"))
    verifier = FakeVerifier()
    rec = reconcile.Reconciler(
        source, executor, store, metrics.ReconcilerMetrics(metrics.Registry())
    )
    rec.verify_commit = verifier
    files = _files()
    first = source.push(files, "unsigned first deploy")
    assert rec.run(["startup"]) is cond.SyncResult.INVALID  # nothing was ever applied
    assert executor.stats.mutations == 0 and store.applied_revision() is None

    verifier.signed.add(good := source.push(files, "signed deploy"))
    assert first != good
    assert rec.run(["push"]) is cond.SyncResult.SUCCEEDED
    assert rec.run(["resync"]) is cond.SyncResult.SUCCEEDED  # its new pods join their Services
    mutations = executor.stats.mutations
    assert mutations > 0

    changed = {name: text for name, text in files.items() if name != "shop/web.yaml"}
    bad = source.push(changed, "unsigned: drops the web Deployment")
    for trigger in ("push", "resync"):  # refused at once and at every later resync
        assert rec.run([trigger]) is cond.SyncResult.INVALID
        assert executor.stats.mutations == mutations  # never applied, never pruned
        assert store.applied_revision() == good
        last = store.last_finished_sync()
        assert last is not None and last.revision == bad
        assert last.errors[0].startswith(f"SignatureInvalid: commit {bad} is not signed")
    assert verifier.asked.count(bad) == 1  # a refused head is not verified again
    document = status.document(store)
    assert document["condition"]["reason"] == "SignatureInvalid"
    message = document["condition"]["message"]
    assert bad in message and "signer: none" in message

    verifier.signed.add(fixed := source.push(changed, "signed this time"))
    assert rec.run(["push"]) is cond.SyncResult.SUCCEEDED
    assert store.applied_revision() == fixed and rec.refused is None
    assert rec.run(["resync"]) is cond.SyncResult.SUCCEEDED
    assert verifier.asked.count(fixed) == 1  # a verified head is not verified at each resync


def test_a_manifest_refusal_still_says_manifest_invalid(tmp_path: Path) -> None:
    record = cond.SyncRecord(1, "a" * 40, "push", 0.0, 1.0, cond.SyncResult.INVALID, {},
                             ("web.yaml:3:1: error: bad",))  # fmt: skip
    assert status.overall_condition(record, []).reason == cond.Reason.MANIFEST_INVALID


# ----- config --------------------------------------------------------------------------------


def _config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"repository: /srv/deploy.git\n{extra}")
    return path


def test_verify_commits_reads_both_files(tmp_path: Path) -> None:
    (tmp_path / "allowed").write_text("")
    (tmp_path / "keys.gpg").write_bytes(b"\x98\x33")
    cfg = config.load(_config(tmp_path, f"verify_commits:\n  allowed_signers: {tmp_path}/allowed"
                                        f"\n  gpg_keyring: {tmp_path}/keys.gpg\n"))  # fmt: skip
    assert cfg.verify_commits == signatures.Policy(tmp_path / "allowed", tmp_path / "keys.gpg")
    assert config.load(_config(tmp_path, "")).verify_commits is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("verify_commits:\n  allowed_signers: /nonexistent/allowed\n",
         r"config.yaml: verify_commits allowed_signers /nonexistent/allowed: cannot read it"),
        ("verify_commits: yes\n", r"config.yaml: verify_commits must be a mapping"),
        ("verify_commits: {}\n", r"config.yaml: verify_commits needs allowed_signers"),
        ("verify_commits: {allowed_signer: /x}\n",
         r"config.yaml: verify_commits: unknown setting\(s\) allowed_signer"),
    ],
)  # fmt: skip
def test_verify_commits_errors_name_the_file_and_the_setting(
    tmp_path: Path, extra: str, message: str
) -> None:
    with pytest.raises(config.ConfigError, match=message):
        config.load(_config(tmp_path, extra))
