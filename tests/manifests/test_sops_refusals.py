"""Encrypted Secrets through the loader: decrypted before validation, and every bad input (wrong
key, tampered or moved value, bad MAC, truncated ciphertext, unknown type, missing sops block, a
revision where only some Secrets decrypt) refused with file:line and no plaintext or key text."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from reconciler.manifests import loader
from reconciler.model import diagnostics as dg
from tests.manifests.conftest import EXAMPLES

CASES = Path(__file__).resolve().parent.parent / "cases" / "sops"
SOPS_KEYS = CASES / "sops-keys.txt"
DEMO_KEY = Path(__file__).resolve().parent.parent / "harness" / "age" / "demo.key"
CANARY = "canary-7f3a9c-plaintext"
SECRET = (CASES / "secret.enc.yaml").read_text()
NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: sops-cases\n"


def load(tmp_path: Path, files: dict[str, str], key: Path | None = SOPS_KEYS) -> loader.LoadResult:
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    for name, text in {"namespace.yaml": NAMESPACE, **files}.items():
        (repo / name).write_text(text)
    return loader.load_repository(repo, age_key_file=key)


def refusal(result: loader.LoadResult) -> dg.Diagnostic:
    """The one error; no plaintext and no key material anywhere in what is reported."""
    assert not result.ok
    assert len(result.errors) == 1, [d.format() for d in result.errors]
    shown = " ".join(f"{d.format()} {d.hint}" for d in result.diagnostics)
    for secret in (CANARY, "secret-key-bytes"):
        assert secret not in shown
    assert not re.search("AGE-SECRET-KEY-1[0-9A-Z]{8}", shown)
    error = result.errors[0]
    assert error.code is dg.Code.SOPS
    return error


def line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


def test_encrypted_secret_is_decrypted_before_validation(tmp_path: Path) -> None:
    result = load(tmp_path, {"secret.yaml": SECRET})
    assert result.ok, [d.format() for d in result.diagnostics]
    [secret] = result.state.secrets
    assert dict(secret.data) == {
        "token": CANARY.encode(),
        "empty": b"",
        "tls.key": b"secret-key-bytes",
    }
    assert CANARY not in repr(result)


def test_example_repository_decrypts_with_the_demo_key() -> None:
    result = loader.load_repository(EXAMPLES, age_key_file=DEMO_KEY)
    assert result.ok
    [secret] = result.state.secrets
    assert secret.data["DB_PASSWORD"] == b"demo-only-password"


def test_wrong_key_names_the_recipients(tmp_path: Path) -> None:
    error = refusal(load(tmp_path, {"secret.yaml": SECRET}, key=DEMO_KEY))
    assert (error.file, error.line) == ("secret.yaml", line_of(SECRET, "sops:"))
    assert "age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw" in error.message
    assert "document at line 1" in error.message  # the Secret's own line
    assert "no age key in" in error.message and str(DEMO_KEY) in error.message


def test_no_key_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOPS_AGE_KEY_FILE", raising=False)
    error = refusal(load(tmp_path, {"secret.yaml": SECRET}, key=None))
    assert "no age key is configured: set SOPS_AGE_KEY_FILE" in error.message


def test_key_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(SOPS_KEYS))
    assert load(tmp_path, {"secret.yaml": SECRET}, key=None).ok


@pytest.mark.parametrize("content", [None, "not a key\n", "AGE-SECRET-KEY-1BROKEN\n"])
def test_unusable_key_file(tmp_path: Path, content: str | None) -> None:
    key = tmp_path / "keys.txt"
    if content is not None:
        key.write_text(content)
    error = refusal(load(tmp_path, {"secret.yaml": SECRET}, key=key))
    assert str(key) in error.message


def _cipher(text: str, field: str) -> str:
    found = re.search(rf"{re.escape(field)}: (ENC\[[^\]]*\])", text)
    assert found is not None
    return found[1]


def _edit_data(text: str) -> str:
    token = _cipher(text, "token")
    data = token.split("data:")[1].split(",")[0]
    flipped = ("B" if data[0] == "A" else "A") + data[1:]
    return text.replace(token, token.replace(data, flipped))


def _swap(text: str) -> str:
    token, empty_key = _cipher(text, "token"), _cipher(text, "tls.key")
    return text.replace(token, "@").replace(empty_key, token).replace("@", empty_key)


@pytest.mark.parametrize(
    ("mutate", "where", "message"),
    [
        (_edit_data, "token:", "does not authenticate"),
        (_swap, "token:", "does not authenticate"),  # moved to another key: its path is the AAD
        (lambda t: t.replace("tier: backend", "tier: frontend"), "mac:", "MAC does not match"),
        (
            lambda t: re.sub(r"(mac: ENC\[AES256_GCM,data:)(.)", r"\1A\2", t),
            "mac:",
            "does not authenticate",
        ),
        (
            lambda t: re.sub(r"(token: ENC\[.*?),tag:[^,]*,", r"\1,tag:AAAA,", t),
            "token:",
            "truncated",
        ),
        (
            lambda t: re.sub(r"(token: ENC\[.*?)data:[^,]*,", r"\1data:YW=,", t),
            "token:",
            "not valid base64",
        ),
        (
            lambda t: t.replace("token: ENC[AES256_GCM", "token: ENC[AES256_CBC"),
            "token:",
            "unknown encryption type",
        ),
        (
            lambda t: re.sub(r"(token: ENC\[.*?)type:str", r"\1type:secret", t),
            "token:",
            "unknown sops value type",
        ),
        (lambda t: t.replace(_cipher(t, "token"), "not-encrypted"), "token:", "is not encrypted"),
        (lambda t: t.replace("lastmodified:", "lastmodified_x:"), "sops:", "no lastmodified"),
    ],
)
def test_tampering_is_refused_with_file_and_line(
    tmp_path: Path, mutate: object, where: str, message: str
) -> None:
    assert callable(mutate)
    text = mutate(SECRET)
    assert text != SECRET
    result = load(tmp_path, {"secret.yaml": text})
    error = refusal(result)
    assert message in error.message
    assert (error.file, error.line) == ("secret.yaml", line_of(text, where))
    assert "api-token" not in {key.name for key in result.state.objects}


def test_missing_sops_block(tmp_path: Path) -> None:
    text = SECRET[: SECRET.index("sops:")]
    error = refusal(load(tmp_path, {"secret.yaml": text}))
    assert "looks sops-encrypted (ENC[...]) but the file has no sops block" in error.message
    assert error.line == line_of(text, "token:")  # the first one in the file


def test_only_secrets_may_be_encrypted(tmp_path: Path) -> None:
    error = refusal(load(tmp_path, {"types.yaml": (CASES / "types.enc.yaml").read_text()}))
    assert "only Secret manifests may be sops-encrypted" in error.message


def test_a_revision_where_only_some_secrets_decrypt_is_refused(tmp_path: Path) -> None:
    other = (EXAMPLES / "shop" / "web-secret.yaml").read_text()  # for the demo key only
    result = load(tmp_path, {"secret.yaml": SECRET, "web-secret.yaml": other})
    error = refusal(result)
    assert error.file == "web-secret.yaml"
    assert "age180hs5usywh5ketmczcvc0y3y6txg3luxutx5n845545snmzw5qssj2gkz6" in error.message


def test_a_reference_to_a_refused_secret_adds_no_noise(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "repo")
    result = loader.load_repository(tmp_path / "repo", age_key_file=SOPS_KEYS)
    error = refusal(result)  # web uses web-secret: only the decryption error is reported
    assert error.file == "shop/web-secret.yaml"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("age", True),  # found by the structural fuzz test
        ("age", [{"recipient": ["x"], "enc": 3}]),
        ("lastmodified", [1, 2]),
        ("mac", {"a": 1}),
        ("encrypted_regex", 7),
        ("encrypted_regex", "^(data|"),  # found by the text fuzz test: re.error escaped
        ("unencrypted_regex", "*"),
    ],
)
def test_mangled_sops_metadata_is_refused_never_a_crash(
    tmp_path: Path, field: str, value: object
) -> None:
    import json  # noqa: PLC0415

    from ruamel.yaml import YAML  # noqa: PLC0415

    document = YAML(typ="safe").load(SECRET)
    document["sops"][field] = value
    result = load(tmp_path, {"secret.yaml": json.dumps(document)})
    error = refusal(result)
    assert error.file == "secret.yaml" and error.line >= 1


def test_every_sops_field_of_every_type_loads_without_a_crash(tmp_path: Path) -> None:
    """Each field of the sops block (and of its age entry) and each encrypted value replaced by
    values of every YAML type: the loader answers (valid or refused), it never raises."""
    import copy  # noqa: PLC0415
    import json  # noqa: PLC0415

    from ruamel.yaml import YAML  # noqa: PLC0415

    original = YAML(typ="safe").load(SECRET)
    odd: list[object] = [True, 0, -1, 1.5, "", "x", "ENC[AES256_GCM,data:,iv:,tag:,type:str]",
                         [], {}, None, ["a"], {"a": [1]}]  # fmt: skip
    places: list[tuple[str, ...]] = [("sops", key) for key in original["sops"]]
    places += [("sops", "age", "0", key) for key in original["sops"]["age"][0]]
    places += [(section, key) for section in ("data", "stringData")
               for key in original.get(section) or {}]  # fmt: skip
    runs = 0
    for place in places:
        for value in odd:
            document = copy.deepcopy(original)
            target = document
            for part in place[:-1]:
                target = target[int(part)] if isinstance(target, list) else target[part]
            target[place[-1]] = value
            (tmp_path / "case").mkdir(exist_ok=True)
            load(tmp_path / "case", {"secret.yaml": json.dumps(document)})  # must not raise
            runs += 1
    assert runs >= 40
