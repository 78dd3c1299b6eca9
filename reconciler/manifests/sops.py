"""SOPS-encrypted Secrets, decrypted with age while a file is loaded, before schema validation.

`loader` calls `decrypt_file` for a file whose first document has a `sops:` block: the age
identities (config `age_key_file` or $SOPS_AGE_KEY_FILE) open the data key, `sopsformat` decrypts
the values and checks the MAC, and the plaintext replaces the ciphertext in memory only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.manifests import sopsformat

ENV_KEY_FILE = "SOPS_AGE_KEY_FILE"
SECRET_PREFIX = "AGE-SECRET-KEY-1"  # noqa: S105 - the prefix of every age identity
ENCRYPTED_REGEX_HINT = "sops --encrypt --age RECIPIENT --encrypted-regex '^(data|stringData)$'"
FormatError = sopsformat.FormatError


def key_file(configured: Path | None, env: Mapping[str, str] | None = None) -> Path | None:
    """The age key file: the one configured (daemon `age_key_file`), else $SOPS_AGE_KEY_FILE."""
    if configured is not None:
        return configured
    given = (os.environ if env is None else env).get(ENV_KEY_FILE, "")
    return Path(given).expanduser() if given else None


@dataclass(frozen=True)
class Identities:
    """The age identities of a key file; `problem` says why there are none (never key text)."""

    file: Path | None
    identities: tuple[Any, ...] = ()
    recipients: tuple[str, ...] = ()
    problem: str = ""


def load_identities(path: Path | None) -> Identities:
    """Read an age key file (age-keygen's format: `#` comments, one AGE-SECRET-KEY-1 per line).
    Never raises: a missing or unusable file is an `Identities` with a `problem`."""
    if path is None:
        return Identities(
            None,
            problem=f"no age key is configured: set {ENV_KEY_FILE} (or "
            "age_key_file in the daemon's config) to an age key file",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        return Identities(path, problem=f"cannot read the age key file {path}: {reason}")
    import pyrage  # noqa: PLC0415 (only to decrypt: `diff` through a daemon stays light)

    found, bad = [], []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line.upper().startswith(SECRET_PREFIX):
            continue  # comments, and identity kinds not read here (post-quantum, plugins)
        try:
            found.append(pyrage.x25519.Identity.from_str(line))
        except (pyrage.IdentityError, ValueError):
            bad.append(number)
    if bad:
        lines = ", ".join(str(n) for n in bad)
        return Identities(
            path,
            problem=f"age key file {path}: line(s) {lines} hold a malformed AGE-SECRET-KEY-1 key",
        )
    if not found:
        return Identities(path, problem=f"age key file {path} holds no AGE-SECRET-KEY-1 key")
    recipients = tuple(str(identity.to_public()) for identity in found)
    return Identities(path, tuple(found), recipients)


def data_key(meta: sopsformat.Metadata, keys: Identities) -> bytes:
    """The file's 32-byte data key, from the first age recipient one of `keys` can open."""
    at = (sopsformat.METADATA_KEY,)
    if not meta.age:
        others = ", ".join(meta.other_keys) or "no key at all"
        raise FormatError(
            f"this file is encrypted for {others}, not for an age recipient",
            "encrypt it with sops --age RECIPIENT",
            path=at,
        )
    wanted = ", ".join(stanza.recipient for stanza in meta.age)
    if keys.problem:
        raise FormatError(
            f"cannot decrypt (encrypted for age recipient(s) {wanted}): {keys.problem}", path=at
        )
    import pyrage  # noqa: PLC0415 (only to decrypt)

    for stanza in meta.age:
        try:
            key = pyrage.decrypt(stanza.enc.encode("utf-8"), list(keys.identities))
        except (pyrage.DecryptError, ValueError):
            continue
        if isinstance(key, bytes) and len(key) == 32:
            return key
        raise FormatError(
            f"the data key for age recipient {stanza.recipient} is not 32 bytes",
            sopsformat.AGAIN,
            path=at,
        )
    held = ", ".join(keys.recipients)
    raise FormatError(
        f"no age key in {keys.file} can decrypt this file: it is encrypted for {wanted}; "
        f"the key file holds the key(s) of {held}",
        "use the key of one of the file's recipients, or add your recipient with "
        "`sops updatekeys` (or `sops -r -i --add-age RECIPIENT FILE`)",
        path=at,
    )


def is_encrypted(value: object) -> bool:
    return isinstance(value, dict) and sopsformat.METADATA_KEY in value


def decrypt_file(values: list[object], keys: Identities) -> None:
    """Decrypt the Secrets of one file in place; on any `FormatError` nothing is changed. Only
    Secrets may be encrypted: diff and status show the values of other kinds. sops data of a
    shape no check foresaw (a hostile or mangled file) is a FormatError too, never a crash;
    its message names only the kind of fault, never a value."""
    try:
        _decrypt_file(values, keys)
    except FormatError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        raise FormatError(
            f"the file's sops data is malformed ({type(exc).__name__})",
            "encrypt the file again with sops; do not edit its sops block or ENC[...] values",
            path=(sopsformat.METADATA_KEY,),
        ) from exc


def _decrypt_file(values: list[object], keys: Identities) -> None:
    leaves = open_documents(values, keys)
    for index, value in enumerate(values):
        kind = next(
            (leaf.value for leaf in leaves if leaf.document == index and leaf.path == ("kind",)),
            value.get("kind") if isinstance(value, dict) else None,
        )
        if kind != "Secret":
            raise FormatError(
                "only Secret manifests may be sops-encrypted (diff and status show other kinds "
                "in plain text)",
                f"keep this document unencrypted; encrypt Secrets with {ENCRYPTED_REGEX_HINT}",
                index,
                ("kind",),
            )
    write(values, leaves)


def open_documents(values: list[object], keys: Identities) -> list[sopsformat.Leaf]:
    """Decrypt and verify the documents of one sops file (its `sops` block comes from the first
    document, as the sops tool does); changes nothing, see `write`."""
    documents: list[dict[str, Any]] = []
    for index, value in enumerate(values):
        if not isinstance(value, dict):
            raise FormatError(
                "every document of a sops-encrypted file must be a mapping", document=index
            )
        if index and sopsformat.METADATA_KEY in value and not is_encrypted(values[0]):
            raise FormatError(
                "the sops block must be in the first document of the file",
                document=index,
                path=(sopsformat.METADATA_KEY,),
            )
        documents.append({k: v for k, v in value.items() if k != sopsformat.METADATA_KEY})
    first = values[0]
    assert isinstance(first, dict)
    meta = sopsformat.metadata(first[sopsformat.METADATA_KEY])
    return sopsformat.decrypt(documents, meta, data_key(meta, keys))


def write(values: list[object], leaves: list[sopsformat.Leaf]) -> None:
    """Put the plaintext in place of the ciphertext and drop the `sops` blocks."""
    for leaf in leaves:
        target = values[leaf.document]
        assert isinstance(target, dict)
        _put(target, leaf.path, leaf.value)
    for value in values:
        if isinstance(value, dict):
            value.pop(sopsformat.METADATA_KEY, None)


def _put(root: dict[str, Any], path: sopsformat.Path, value: object) -> None:
    """Write a decrypted value into its container (the parsed containers are kept, so the
    loader's source positions still find every field)."""
    node: Any = root
    for segment in path[:-1]:
        node = node[segment]
    node[path[-1]] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
