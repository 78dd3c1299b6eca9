"""The signed-commit gate with real git, ssh-keygen and gpg: signed commits pass; unsigned,
wrong-key, tampered and not-in-keyring ones are refused naming the commit and the signer."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.model import errors as model_errors
from reconciler.source import errors, signatures
from tests.source import repos

TIMEOUT = 30.0


def _keygen(path: Path, comment: str) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, capture_output=True, timeout=30)  # fmt: skip
    return path


def _fingerprint(key: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-l", "-f", str(key.with_suffix(".pub"))],
                         check=True, capture_output=True, text=True, timeout=30)  # fmt: skip
    return out.stdout.split()[1]


def _commit(up: repos.Upstream, name: str, *sign: str) -> str:
    (up.work / name).write_text(name)
    repos.git(up.work, "add", "--all")
    repos.git(up.work, *sign, "commit", "--quiet", "-m", f"add {name}")
    return repos.git(up.work, "rev-parse", "HEAD")


def _ssh_signed(up: repos.Upstream, name: str, key: Path) -> str:
    return _commit(up, name, "-c", "gpg.format=ssh", "-c", f"user.signingkey={key}",
                   "-c", "commit.gpgsign=true")  # fmt: skip


@pytest.fixture()
def setup(tmp_path: Path) -> tuple[repos.Upstream, Path, Path, signatures.Verifier]:
    """A work repository, Ada's allowed key, Mallory's key not allowed, and a verifier."""
    up = repos.Upstream(tmp_path)
    ada = _keygen(tmp_path / "ada", "ada")
    mallory = _keygen(tmp_path / "mallory", "mallory")
    allowed = tmp_path / "allowed_signers"
    pub = " ".join(ada.with_suffix(".pub").read_text().split()[:2])
    allowed.write_text(f"ada@example.org {pub}\n")
    policy = signatures.Policy(allowed_signers=allowed)
    return up, ada, mallory, signatures.Verifier(policy, tmp_path / "gnupg", TIMEOUT)


Setup = tuple[repos.Upstream, Path, Path, signatures.Verifier]


def test_a_commit_signed_by_an_allowed_key_passes(setup: Setup) -> None:
    up, ada, _mallory, verifier = setup
    sha = _ssh_signed(up, "a", ada)
    verified = verifier.verify(up.work / ".git", sha)
    assert verified == signatures.Verified(sha, "ada@example.org", _fingerprint(ada))


def test_an_unsigned_commit_is_refused_with_signer_none(setup: Setup) -> None:
    up, _ada, _mallory, verifier = setup
    sha = _commit(up, "a")
    with pytest.raises(errors.SignatureInvalid) as caught:
        verifier.verify(up.work / ".git", sha)
    message = str(caught.value)
    assert message.startswith(f"SignatureInvalid: commit {sha} is not signed (signer: none)")
    assert "allowed_signers" in message and "commit.gpgsign true" in message
    assert isinstance(caught.value, model_errors.StalledError)
    assert model_errors.retry_after(caught.value) is None


def test_a_commit_signed_by_a_key_not_allowed_names_the_key(setup: Setup) -> None:
    up, _ada, mallory, verifier = setup
    sha = _ssh_signed(up, "a", mallory)
    with pytest.raises(errors.SignatureInvalid) as caught:
        verifier.verify(up.work / ".git", sha)
    assert str(caught.value).startswith(
        f"SignatureInvalid: commit {sha} is signed by a key that is not allowed "
        f"(signer: key {_fingerprint(mallory)})"
    )
    assert caught.value.sha == sha


def test_a_tampered_commit_has_a_bad_signature(setup: Setup) -> None:
    up, ada, _mallory, verifier = setup
    sha = _ssh_signed(up, "a", ada)
    raw = repos.git(up.work, "cat-file", "commit", sha) + "\n"
    changed = raw.replace("add a", "add evil")
    assert changed != raw
    forged = subprocess.run(
        ["git", "hash-object", "-t", "commit", "-w", "--stdin"], cwd=up.work, env=repos.ENV,
        input=changed, capture_output=True, text=True, check=True, timeout=30,
    ).stdout.strip()  # fmt: skip
    assert verifier.verify(up.work / ".git", sha).sha == sha  # the original still passes
    with pytest.raises(errors.SignatureInvalid, match=f"commit {forged} has a bad signature"):
        verifier.verify(up.work / ".git", forged)


def test_the_daemon_users_own_git_config_does_not_widen_the_policy(
    setup: Setup, tmp_path: Path
) -> None:
    """A global allowedSignersFile listing Mallory does not make Mallory's commit pass."""
    up, _ada, mallory, verifier = setup
    sha = _ssh_signed(up, "a", mallory)
    wide = tmp_path / "wide"
    wide.write_text(f"m@x {' '.join(mallory.with_suffix('.pub').read_text().split()[:2])}\n")
    repos.git(up.work, "config", "gpg.ssh.allowedSignersFile", str(wide))
    with pytest.raises(errors.SignatureInvalid, match="not allowed"):
        verifier.verify(up.work / ".git", sha)


def test_a_missing_allowed_signers_file_is_a_config_error(tmp_path: Path) -> None:
    policy = signatures.Policy(allowed_signers=tmp_path / "nope")
    with pytest.raises(errors.SourceConfigError, match=r"allowed_signers .*nope: cannot read"):
        signatures.Verifier(policy, tmp_path / "gnupg", TIMEOUT)


def test_an_empty_policy_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(errors.SourceConfigError, match="needs allowed_signers"):
        signatures.Policy().check()


def test_an_armored_keyring_is_a_config_error(tmp_path: Path) -> None:
    keyring = tmp_path / "keys.asc"
    keyring.write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n")
    with pytest.raises(errors.SourceConfigError, match="gpg --export KEYID"):
        signatures.Policy(gpg_keyring=keyring).check()


# ----- OpenPGP ---------------------------------------------------------------------------------


@pytest.fixture()
def gpg_home(tmp_path: Path) -> Iterator[Path]:
    """A signing GNUPGHOME with Bob's key; its gpg-agent is stopped at the end."""
    home = tmp_path / "signer-gnupg"
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    try:
        subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key",
                        "Bob <bob@example.org>", "ed25519", "sign", "never"],
                       env=env, check=True, capture_output=True, timeout=60)  # fmt: skip
        yield home
    finally:
        subprocess.run(["gpgconf", "--kill", "all"], env=env, capture_output=True, check=False)


def test_gpg_signed_commits_are_checked_against_the_keyring_only(
    tmp_path: Path, gpg_home: Path
) -> None:
    up = repos.Upstream(tmp_path)
    keyring = tmp_path / "bob.gpg"
    env = {**os.environ, "GNUPGHOME": str(gpg_home)}
    exported = subprocess.run(["gpg", "--export", "bob@example.org"], env=env,
                              check=True, capture_output=True, timeout=30).stdout  # fmt: skip
    keyring.write_bytes(exported)
    (up.work / "a").write_text("a")
    repos.git(up.work, "add", "--all")
    sign = ["-c", "user.signingkey=bob@example.org", "commit", "-q", "-S", "-m", "a"]
    signer_env = {**repos.ENV, "GNUPGHOME": str(gpg_home)}
    subprocess.run(["git", *sign], cwd=up.work, env=signer_env, check=True, capture_output=True,
                   timeout=60)  # fmt: skip
    sha = repos.git(up.work, "rev-parse", "HEAD")
    good = signatures.Verifier(signatures.Policy(gpg_keyring=keyring), tmp_path / "v1", TIMEOUT)
    verified = good.verify(up.work / ".git", sha)
    assert verified.signer == "Bob <bob@example.org>" and len(verified.key) == 40

    other = tmp_path / "allowed_signers"  # SSH keys only: Bob's OpenPGP key is not allowed
    other.write_text("")
    strict = signatures.Verifier(signatures.Policy(allowed_signers=other), tmp_path / "v2", TIMEOUT)
    with pytest.raises(errors.SignatureInvalid, match=f"commit {sha} is signed by a key that is"):
        strict.verify(up.work / ".git", sha)


# ----- reconciler validate --verify-commits ----------------------------------------------------


def test_validate_verify_commits_checks_head(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    up, ada, mallory, verifier = setup
    allowed = verifier.policy.allowed_signers
    assert allowed is not None
    argv = ["validate", "--verify-commits", str(allowed), str(up.work)]
    _ssh_signed(up, "a.txt", ada)
    assert main.main(argv) == 0
    assert "signed by ada@example.org" in capsys.readouterr().err
    unsigned = _commit(up, "b.txt")
    assert main.main(argv) == 1
    assert f"SignatureInvalid: commit {unsigned} is not signed (signer: none)" in (
        capsys.readouterr().err
    )
    _ssh_signed(up, "c.txt", mallory)
    assert main.main(argv) == 1
    assert "is signed by a key that is not allowed" in capsys.readouterr().err
    assert main.main(["validate", "--verify-commits", str(allowed), str(up.bare.parent)]) == 2
    assert main.main(["validate", "--verify-commits", "/nonexistent", str(up.work)]) == 2
