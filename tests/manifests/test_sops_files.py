"""Files written by the real sops tool decrypt to their known plaintext (tests/cases/sops/README.md
says where each came from): the sops project's own age-encrypted examples and keys, and files
sops 3.11.0 wrote for every value type, `mac_only_encrypted`, several documents and recipients."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from reconciler.manifests import sops, sopsformat

CASES = Path(__file__).resolve().parent.parent / "cases" / "sops"
SOPS_KEYS = CASES / "sops-keys.txt"
RECIPIENTS = (
    "age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw",
    "age1tmaae3ld5vpevmsh5yacsauzx8jetg300mpvc4ugp5zr5l6ssq9sla97ep",
)


def read(path: Path) -> list[object]:
    return list(YAML(typ="safe").load_all(path.read_text(encoding="utf-8")))


def decrypt(path: Path, keys: sops.Identities) -> list[object]:
    values = read(path)
    sops.write(values, sops.open_documents(values, keys))
    return values


def one_key(tmp_path: Path, index: int) -> sops.Identities:
    """Only one of the two sops test identities."""
    lines = [line for line in SOPS_KEYS.read_text().splitlines() if line.startswith("AGE-")]
    path = tmp_path / f"key{index}.txt"
    path.write_text(lines[index] + "\n")
    return sops.load_identities(path)


def test_sops_project_keys_are_read() -> None:
    keys = sops.load_identities(SOPS_KEYS)
    assert keys.problem == ""
    assert keys.recipients == RECIPIENTS


@pytest.mark.parametrize("index", [0, 1])
def test_sops_project_example_yaml(tmp_path: Path, index: int) -> None:
    """sops 3.7.1 encrypted it for both recipients: either identity alone opens it."""
    [plain] = decrypt(CASES / "sops-example.yaml", one_key(tmp_path, index))
    assert isinstance(plain, dict)
    assert plain["myapp1"] == "t00m4nys3cr3tzupdated"
    assert plain["app2"]["db"] == {"user": "eve", "password": "c4r1b0u"}
    assert plain["app2"]["key"].startswith("-----BEGIN RSA PRIVATE KEY-----\nMIIBPAIBAAJBAPTM")
    assert plain["number"] == 1234568000.0  # a float: its MAC bytes are Go's FormatFloat
    assert plain["an_array"] == [
        "secretuser1",
        "secretuser2",
        "somelongvalueAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "some other value",
    ]
    assert plain["somebooleans"] == [True, False]
    assert plain["this"]["is"]["a"]["nested"]["value"] == "with something secret in it"
    assert plain["somelist_unencrypted"][0] == "all elements of this list"
    assert "sops" not in plain


def test_sops_project_example_json() -> None:
    [plain] = decrypt(CASES / "sops-example.json", sops.load_identities(SOPS_KEYS))
    assert isinstance(plain, dict)
    assert plain["firstName"] == "John"
    assert plain["age"] == 25.4
    assert plain["address"]["postalCode"] == "10021-3100"
    assert plain["phoneNumbers"][1] == {"number": "646 555-4567", "type": "office"}
    assert plain["anEmptyValue"] == ""


@pytest.mark.parametrize("name", ["secret", "types", "types-maconly", "multidoc"])
def test_sops_3_11_files_match_the_tools_own_decryption(name: str) -> None:
    got = decrypt(CASES / f"{name}.enc.yaml", sops.load_identities(SOPS_KEYS))
    assert got == read(CASES / f"{name}.sops-decrypted.yaml")


def test_types_are_sops_types() -> None:
    [plain] = decrypt(CASES / "types.enc.yaml", sops.load_identities(SOPS_KEYS))
    assert isinstance(plain, dict)
    assert (plain["count"], plain["negative"], plain["ratio"]) == (42, -7, 0.25)
    assert (plain["big"], plain["whole"]) == (1e21, 3.0)
    assert (plain["enabled"], plain["disabled"], plain["nothing"]) == (True, False, None)
    assert plain["unicode"] == "grüße ✓"
    assert plain["list"] == ["one", 2, {"nested": {"deep": "value"}}]


def test_second_recipient_of_a_multi_document_file(tmp_path: Path) -> None:
    values = decrypt(CASES / "multidoc.enc.yaml", one_key(tmp_path, 1))
    assert [v["stringData"] for v in values if isinstance(v, dict)] == [
        {"a": "first-value"},
        {"b": "second-value"},
    ]


def test_nothing_changes_when_a_file_fails(tmp_path: Path) -> None:
    text = (CASES / "secret.enc.yaml").read_text()
    values = list(YAML(typ="safe").load_all(text.replace("name: api-token", "name: other")))
    before = repr(values)
    with pytest.raises(sopsformat.FormatError, match="MAC does not match"):
        sops.decrypt_file(values, sops.load_identities(SOPS_KEYS))
    assert repr(values) == before


def test_go_float_formatting() -> None:
    cases = {1.0: "1", 0.25: "0.25", 1e21: "1000000000000000000000", -0.0: "-0", 1e-7: "0.0000001"}
    assert {k: sopsformat.to_bytes(k).decode() for k in cases} == cases


def test_lastmodified_as_go_formats_it() -> None:
    assert sopsformat._rfc3339("2022-03-15T22:11:15Z") == "2022-03-15T22:11:15Z"
    assert sopsformat._rfc3339("2022-03-15T22:11:15.123+00:00") == "2022-03-15T22:11:15Z"
    assert sopsformat._rfc3339("2022-03-15T23:11:15+01:00") == "2022-03-15T23:11:15+01:00"
