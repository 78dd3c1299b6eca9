"""Signed-commit gate: is a revision's head commit signed by an allowed key? Asked by the reconcile
right after `source.resolve()` and by `reconciler validate --verify-commits`, before anything of
the revision is read. git itself verifies (`git verify-commit`, which runs `ssh-keygen -Y verify`
or `gpg --verify`); this module only prepares its settings and words the verdict.

SSH signatures are checked against an allowed-signers file (git's `gpg.ssh.allowedSignersFile`
format: `PRINCIPAL KEYTYPE KEY` per line), OpenPGP ones against a binary keyring file (`gpg
--export KEYID... > FILE`), through a GNUPGHOME of our own whose `gpg.conf` names only that
keyring and trusts every key in it: the daemon user's own keys and git config never count.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from reconciler.source import errors, gitrun

FORMAT = "%G?%x00%GS%x00%GK%x00%GF"
"""`git show` placeholders: verdict letter, signer, key id (or SSH fingerprint), fingerprint."""
_ARMOR = b"-----BEGIN PGP"


@dataclass(frozen=True)
class Policy:
    """Which keys may sign deployed commits; at least one of the two files is set."""

    allowed_signers: Path | None = None
    """SSH keys: git's allowed-signers file."""
    gpg_keyring: Path | None = None
    """OpenPGP keys: a binary keyring (`gpg --export`, not `--armor`)."""

    def check(self) -> Policy:
        """This policy, if both files are usable; else `SourceConfigError` naming the file."""
        if self.allowed_signers is None and self.gpg_keyring is None:
            raise errors.SourceConfigError(
                "verify_commits needs allowed_signers (SSH keys) and/or gpg_keyring (OpenPGP keys)"
            )
        for what, file in (("allowed_signers", self.allowed_signers),
                           ("gpg_keyring", self.gpg_keyring)):  # fmt: skip
            if file is None:
                continue
            try:
                head = file.read_bytes()[: len(_ARMOR)]
            except OSError as exc:
                raise errors.SourceConfigError(
                    f"verify_commits {what} {file}: cannot read it: {exc.strerror}"
                ) from exc
            if what == "gpg_keyring" and head == _ARMOR:
                raise errors.SourceConfigError(
                    f"verify_commits gpg_keyring {file} is ASCII-armored; export the keys in "
                    f"binary: gpg --export KEYID... > {file}"
                )
        return self

    def describe(self) -> str:
        """Where allowed keys are listed, for messages."""
        files = [f"allowed_signers {self.allowed_signers}"] if self.allowed_signers else []
        files += [f"gpg_keyring {self.gpg_keyring}"] if self.gpg_keyring else []
        return " and ".join(files)


@dataclass(frozen=True)
class Verified:
    """A commit git found well signed by an allowed key."""

    sha: str
    signer: str
    """The allowed-signers principal, or the OpenPGP user id."""
    key: str
    """The SSH key's fingerprint or the OpenPGP key's fingerprint."""


class Verifier:
    """Verifies commits of any repository against one `Policy`; thread-safe (no mutable state).

    `gnupg_home` is a directory the verifier owns (created 0700; for the daemon
    `<state_dir>/gnupg`): its `gpg.conf` is rewritten here, gpg may add an empty keybox to it.
    """

    def __init__(self, policy: Policy, gnupg_home: Path, timeout: float) -> None:
        self.policy = policy.check()
        self.timeout = timeout
        self.gnupg_home = gnupg_home
        conf = ["no-default-keyring", "no-auto-key-retrieve", "trust-model always"]
        if policy.gpg_keyring is not None:
            conf.append(f"keyring {policy.gpg_keyring.absolute()}")
        try:
            gnupg_home.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(gnupg_home, 0o700)  # gpg warns about (and may refuse) a looser home
            (gnupg_home / "gpg.conf").write_text("\n".join(conf) + "\n", encoding="utf-8")
        except OSError as exc:
            raise errors.CheckoutFailed(gnupg_home, str(exc.strerror or exc)) from exc
        signers = policy.allowed_signers.absolute() if policy.allowed_signers else "/dev/null"
        self._config = [
            "-c", f"gpg.ssh.allowedSignersFile={signers}",
            "-c", "gpg.program=gpg", "-c", "gpg.ssh.program=ssh-keygen",
            "-c", "gpg.minTrustLevel=undefined",
        ]  # fmt: skip
        self._env = {**gitrun.environment(), "GNUPGHOME": str(gnupg_home)}

    def verify(self, git_dir: Path, sha: str) -> Verified:
        """`Verified` when git's `verify-commit` accepts commit `sha`; else `SignatureInvalid`
        saying why (unsigned, unknown key, bad, expired or revoked) and naming the signer."""
        gitrun.check_sha(sha)
        shown = gitrun.run(
            git_dir, [*self._config, "show", "-s", f"--format={FORMAT}", sha], self.timeout,
            env=self._env,
        )  # fmt: skip
        letter, signer, key, fingerprint = _fields(shown)
        try:
            gitrun.run(git_dir, [*self._config, "verify-commit", sha], self.timeout, env=self._env)
        except errors.GitFailed as exc:
            raise self._refusal(sha, letter, signer, key, exc.detail) from exc
        if letter != "G":  # git accepted what it shows as not good: never deploy on a doubt
            raise self._refusal(sha, letter, signer, key, "")
        return Verified(sha, signer, fingerprint or key)

    def _refusal(
        self, sha: str, letter: str, signer: str, key: str, detail: str
    ) -> errors.SignatureInvalid:
        allowed = self.policy.describe()
        key_text = f"key {key}" if key else "an unknown key"
        who = signer or (key_text if key else "unknown")
        sign_hint = (
            f"sign it with a key listed in {allowed} (git commit -S, or git config "
            "commit.gpgsign true) and push again"
        )
        if letter == "N":
            return errors.SignatureInvalid(sha, "none", "is not signed", sign_hint)
        if letter in {"U", "E"} and not signer:
            return errors.SignatureInvalid(
                sha, key_text, "is signed by a key that is not allowed",
                f"add the key to {allowed} if its owner may deploy, or {sign_hint}",
            )  # fmt: skip
        why = {
            "B": "has a bad signature: the commit or its signature was changed after signing",
            "X": "has an expired signature",
            "Y": "is signed by an expired key",
            "R": "is signed by a revoked key",
            "U": "has a signature of unknown validity",
            "E": "has a signature that cannot be checked",
        }.get(letter, "has a signature git did not accept")
        if letter not in {"B", "X", "Y", "R", "U", "E"} and detail:
            why += f" ({detail.splitlines()[-1]})"
        return errors.SignatureInvalid(sha, who, why, sign_hint)


def _fields(shown: bytes) -> tuple[str, str, str, str]:
    text = shown.decode("utf-8", errors="replace").rstrip("\n")
    parts = [*text.split("\0"), "", "", ""][:4]
    return parts[0].strip() or "N", parts[1].strip(), parts[2].strip(), parts[3].strip()
