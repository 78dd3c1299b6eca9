"""The SOPS file format, read exactly as the sops tool writes it: the `sops:` metadata block, the
`ENC[AES256_GCM,...]` values and the MAC. Pure: given the data key, `decrypt` walks the documents.

Used by `sops` (which finds the data key with age) for `loader`. Follows getsops/sops: the tree
walk and MAC in sops.go, the value cipher in aes/cipher.go, the metadata in stores/stores.go.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import hashlib
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

METADATA_KEY = "sops"
ENC_PREFIX = "ENC["
_ENC = re.compile(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]")
MAC_ONLY_ENCRYPTED_INIT = bytes.fromhex(
    "8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69"
)
"""sops.go MACOnlyEncryptedInitialization: starts the MAC when `mac_only_encrypted` is set."""
_GO_INT = re.compile(r"^[+-]?[0-9]+$")
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
TYPES = ("str", "int", "float", "bool", "bytes")

Path = tuple[str | int, ...]
"""Where a value is in its document (list items by index), for the error's line."""


class FormatError(Exception):
    """The file cannot be decrypted; the message never holds plaintext or key material.
    `document` and `path` say where (the `sops` block itself when `path` is `("sops",)`)."""

    def __init__(self, message: str, hint: str = "", document: int = 0, path: Path = ()) -> None:
        super().__init__(message)
        self.message, self.hint, self.document, self.path = message, hint, document, path


@dataclass(frozen=True)
class AgeStanza:
    recipient: str
    enc: str


@dataclass(frozen=True)
class Metadata:
    age: tuple[AgeStanza, ...]
    other_keys: tuple[str, ...]  # kinds of master keys present that are not age (pgp, kms, ...)
    lastmodified: str
    mac: str
    unencrypted_suffix: str = ""
    encrypted_suffix: str = ""
    unencrypted_regex: str = ""
    encrypted_regex: str = ""
    mac_only_encrypted: bool = False


@dataclass(frozen=True)
class Leaf:
    """One decrypted value, to be written back at `path` of document `document`."""

    document: int
    path: Path
    value: object


_OTHER_KEYS = ("pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms")
_UNSUPPORTED = ("unencrypted_comment_regex", "encrypted_comment_regex")


def metadata(block: object) -> Metadata:
    """Parse the `sops:` block of the first document (stores/stores.go `metadata`)."""
    at: Path = (METADATA_KEY,)
    if not isinstance(block, dict):
        raise FormatError("the sops block must be a mapping", path=at)
    for key in _UNSUPPORTED:
        if block.get(key):
            raise FormatError(
                f"sops option {key} is not supported here", "encrypt without it", path=(*at, key)
            )
    groups = block.get("key_groups")
    if groups:
        if not isinstance(groups, list) or len(groups) != 1 or not isinstance(groups[0], dict):
            raise FormatError(
                "several sops key_groups (Shamir secret sharing) are not supported",
                "encrypt for one group of age recipients",
                path=(*at, "key_groups"),
            )
        keys: dict[str, Any] = groups[0]
    else:
        keys = block
    stanzas = []
    listed = keys.get("age") or ()
    if not isinstance(listed, list | tuple):
        raise FormatError("sops age must be a list of recipients", path=(*at, "age"))
    for index, entry in enumerate(listed):
        recipient = entry.get("recipient") if isinstance(entry, dict) else None
        enc = entry.get("enc") if isinstance(entry, dict) else None
        if not isinstance(recipient, str) or not isinstance(enc, str):
            raise FormatError(
                "each sops age entry needs a recipient and an enc string", path=(*at, "age", index)
            )
        stanzas.append(AgeStanza(recipient, enc))
    strings = {}
    for key in (
        "lastmodified",
        "mac",
        *(f"{w}_{k}" for w in ("unencrypted", "encrypted") for k in ("suffix", "regex")),
    ):
        value = block.get(key) or ""
        if not isinstance(value, str):
            raise FormatError(f"sops {key} must be a string", path=(*at, key))
        strings[key] = value
        if key.endswith("_regex") and value:
            try:
                re.compile(value)
            except re.error as exc:
                raise FormatError(
                    f"sops {key} is not a valid regular expression ({exc})",
                    "encrypt the file again with sops", path=(*at, key),
                ) from exc  # fmt: skip
    for key in ("lastmodified", "mac"):
        if not strings[key]:
            raise FormatError(
                f"the sops block has no {key}", "encrypt the file again with sops", path=at
            )
    return Metadata(
        age=tuple(stanzas),
        other_keys=tuple(k for k in _OTHER_KEYS if keys.get(k)),
        mac_only_encrypted=block.get("mac_only_encrypted") is True,
        **strings,
    )


def decrypt(documents: list[dict[str, Any]], meta: Metadata, key: bytes) -> list[Leaf]:
    """Decrypt every value of the documents (`sops` blocks already removed) and verify the MAC.
    Returns the decrypted leaves; nothing is changed, so a failure leaves no plaintext behind."""
    digest = hashlib.sha512()
    if meta.mac_only_encrypted:
        digest.update(MAC_ONLY_ENCRYPTED_INIT)
    leaves: list[Leaf] = []
    for index, document in enumerate(documents):
        for where, aad_path, found in _walk(document, (), ()):
            encrypted = _should_encrypt(aad_path, meta)
            value = found
            if encrypted:
                if not isinstance(value, str):
                    raise FormatError(
                        "this value should be encrypted (ENC[...]) but is not a string",
                        AGAIN,
                        index,
                        where,
                    )
                value = _decrypt_value(value, key, ":".join(aad_path) + ":", index, where)
                leaves.append(Leaf(index, where, value))
            if encrypted or not meta.mac_only_encrypted:
                digest.update(to_bytes(value))
    computed = digest.hexdigest().upper()
    stored = _decrypt_value(meta.mac, key, _rfc3339(meta.lastmodified), 0, (METADATA_KEY, "mac"))
    if stored != computed:
        raise FormatError(
            "the sops MAC does not match the values: the file was edited after it was encrypted",
            AGAIN,
            0,
            (METADATA_KEY, "mac"),
        )
    return leaves


AGAIN = "edit encrypted files only with `sops FILE`, or encrypt the plaintext again"


def _walk(
    node: object, where: Path, aad_path: tuple[str, ...]
) -> Iterator[tuple[Path, tuple[str, ...], object]]:
    """sops.go walkBranch/walkSlice: list items share their list's path; nulls are skipped."""
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str):
                raise FormatError("sops files may only have string keys", path=where)
            yield from _walk(value, (*where, key), (*aad_path, key))
    elif isinstance(node, list):
        for position, value in enumerate(node):
            yield from _walk(value, (*where, position), aad_path)
    elif node is not None:
        yield where, aad_path, node


def _should_encrypt(path: tuple[str, ...], meta: Metadata) -> bool:
    """sops.go shouldBeEncrypted, without the comment rules (refused in `metadata`)."""
    encrypted = True
    if meta.unencrypted_suffix and any(p.endswith(meta.unencrypted_suffix) for p in path):
        encrypted = False
    if meta.encrypted_suffix:
        encrypted = any(p.endswith(meta.encrypted_suffix) for p in path)
    if meta.unencrypted_regex and any(re.search(meta.unencrypted_regex, p) for p in path):
        encrypted = False
    if meta.encrypted_regex:
        encrypted = any(re.search(meta.encrypted_regex, p) for p in path)
    return encrypted


def _decrypt_value(text: str, key: bytes, aad: str, document: int, where: Path) -> object:
    """aes/cipher.go Decrypt: AES-256-GCM with the key path (or lastmodified) as extra data."""
    if text == "":
        return ""
    match = _ENC.match(text)
    if match is None:
        what = "an unknown encryption type" if text.startswith(ENC_PREFIX) else "not encrypted"
        raise FormatError(
            f"this value should be encrypted as ENC[AES256_GCM,...] but is {what}",
            AGAIN,
            document,
            where,
        )
    try:
        data, iv, tag = (base64.b64decode(match[n], validate=True) for n in (1, 2, 3))
    except (binascii.Error, ValueError):
        raise FormatError(
            "the encrypted value is not valid base64 (truncated or edited?)", AGAIN, document, where
        ) from None
    if len(tag) != 16 or len(iv) < 12 or len(key) != 32:
        raise FormatError(
            "the encrypted value is truncated (its iv or tag is too short)", AGAIN, document, where
        )
    # cryptography (about 10 MB and 0.1 s) only where a value is decrypted
    from cryptography import exceptions  # noqa: PLC0415
    from cryptography.hazmat.primitives.ciphers import aead  # noqa: PLC0415

    try:
        plain = aead.AESGCM(key).decrypt(iv, data + tag, aad.encode())
    except exceptions.InvalidTag:
        raise FormatError(
            "the encrypted value does not authenticate: it was edited, moved to "
            "another key, or truncated",
            AGAIN,
            document,
            where,
        ) from None
    return _typed(plain, match[4], document, where)


def _typed(plain: bytes, kind: str, document: int, where: Path) -> object:
    if kind == "bytes":
        return plain
    try:
        text = plain.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("a decrypted value is not UTF-8", AGAIN, document, where) from None
    if kind == "str":
        return text
    if kind == "int" and _GO_INT.match(text):
        return int(text)
    if kind == "float" and "_" not in text and text.strip() == text:
        try:
            return float(text)
        except ValueError:
            pass
    if kind == "bool" and text in _GO_TRUE | _GO_FALSE:
        return text in _GO_TRUE
    if kind not in TYPES:
        raise FormatError(
            f"unknown sops value type {kind!r} (known: {', '.join(TYPES)})", AGAIN, document, where
        )
    raise FormatError(f"a decrypted value is not a valid {kind}", AGAIN, document, where)


def to_bytes(value: object) -> bytes:
    """sops.go ToBytes: how a value enters the MAC (floats as Go's FormatFloat(v, 'f', -1))."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bool):
        return b"True" if value else b"False"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        return _go_float(value).encode()
    raise FormatError(f"sops cannot hold a value of type {type(value).__name__}")


def _go_float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return format(decimal.Decimal(repr(value)).normalize(), "f")


def _rfc3339(stamp: str) -> str:
    """Go's time.Parse(RFC3339) then Format(RFC3339): whole seconds, `Z` for UTC."""
    try:
        parsed = datetime.datetime.fromisoformat(stamp)
    except ValueError:
        raise FormatError(
            f"sops lastmodified {stamp!r} is not an RFC 3339 time",
            path=(METADATA_KEY, "lastmodified"),
        ) from None
    offset = parsed.utcoffset()
    if offset is None:
        raise FormatError(
            f"sops lastmodified {stamp!r} has no time zone", path=(METADATA_KEY, "lastmodified")
        )
    zone = "Z"
    if offset:
        minutes = int(offset.total_seconds()) // 60
        sign = "-" if minutes < 0 else "+"
        zone = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return parsed.strftime("%Y-%m-%dT%H:%M:%S") + zone


def looks_encrypted(node: object, where: Path = ()) -> Path | None:
    """The first value that looks like a sops ciphertext (for documents with no `sops` block)."""
    if isinstance(node, str):
        return where if node.startswith(ENC_PREFIX) else None
    if isinstance(node, dict):
        items: list[tuple[str | int, object]] = list(node.items())
    elif isinstance(node, list):
        items = list(enumerate(node))
    else:
        return None
    for key, value in items:
        found = looks_encrypted(value, (*where, key))
        if found is not None:
            return found
    return None
