"""Connection settings: flags beat environment beat config file beat defaults."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from reconciler.cli import lightsettings, settings


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    settings.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_precedence_flag_env_file_default(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("ssh_key: /file/key\nknown_hosts: /file/kh\nconnect_timeout: 7\n")
    env = {"RECONCILER_CONFIG": str(config), "RECONCILER_KNOWN_HOSTS": "/env/kh"}
    resolved = settings.resolve(_args("--command-timeout", "9"), env)
    assert resolved == settings.Settings(Path("/file/key"), Path("/env/kh"), 7.0, 9.0)
    flagged = settings.resolve(_args("--ssh-key", "/flag/key", "--config", str(config)), env)
    assert flagged.ssh_key == Path("/flag/key")


def test_defaults_without_any_source(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(lightsettings, "CONFIG_PATHS", ())
    resolved = settings.resolve(_args(), {})
    assert resolved.ssh_key == tmp_path / ".ssh" / "id_ed25519"
    assert resolved.known_hosts == tmp_path / ".ssh" / "known_hosts"
    assert (resolved.connect_timeout, resolved.command_timeout) == (10.0, 120.0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[1, 2]", "must be a mapping"),
        ("ssh_key: a\nbogus: 1\n", "unknown setting(s) bogus"),
        ("connect_timeout: soon\n", "not a number"),
        ("a: [\n", "cannot read config file"),
    ],
)
def test_bad_config_file_names_the_problem(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(content)
    with pytest.raises(
        settings.SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        settings.resolve(_args("--config", str(config)), {})


def test_missing_files_are_named(tmp_path: Path) -> None:
    missing = settings.Settings(tmp_path / "nokey", tmp_path / "nokh")
    with pytest.raises(settings.SettingsError, match=f"SSH key {tmp_path}/nokey not found"):
        settings.check_files(missing)
    with pytest.raises(settings.SettingsError, match="config file not found"):
        settings.resolve(_args("--config", str(tmp_path / "absent.yaml")), {})


def test_age_key_file_from_flag_env_or_config(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("age_key_file: /file/age.key\n")
    env = {"RECONCILER_CONFIG": str(config)}
    assert settings.resolve(_args(), env).age_key_file == Path("/file/age.key")
    env["SOPS_AGE_KEY_FILE"] = "/env/age.key"
    assert settings.resolve(_args(), env).age_key_file == Path("/env/age.key")
    flagged = settings.resolve(_args("--age-key-file", "/flag/age.key"), env)
    assert flagged.age_key_file == Path("/flag/age.key")
    assert settings.resolve(_args(), {"RECONCILER_CONFIG": "/dev/null"}).age_key_file is None


def test_service_cidr_from_flag_env_or_config_and_checked(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("service_cidr: 198.19.128.0/17\n")
    env = {"RECONCILER_CONFIG": str(config)}
    assert settings.resolve(_args(), {}).service_cidr == "10.96.0.0/12"
    assert settings.resolve(_args(), env).service_cidr == "198.19.128.0/17"
    from_env = {**env, "RECONCILER_SERVICE_CIDR": "10.97.0.0/16"}
    assert settings.resolve(_args(), from_env).service_cidr == "10.97.0.0/16"
    flagged = settings.resolve(_args("--service-cidr", "10.98.0.0/24"), from_env)
    assert flagged.service_cidr == "10.98.0.0/24"
    assert settings.service_cidr(argparse.Namespace(), env) == "198.19.128.0/17"
    with pytest.raises(settings.SettingsError, match="--service-cidr: service_cidr"):
        settings.resolve(_args("--service-cidr", "10.96.0.1/16"), env)
