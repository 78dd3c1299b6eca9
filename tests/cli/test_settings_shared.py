"""The CLI and the daemon read one config file with one set of defaults: the daemon's own
`/etc/reconciler/config.yaml` works for `reconciler get pods`, and the timeouts agree."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from reconciler.cli import lightsettings, main, settings
from reconciler.runtime import config as configmod

DAEMON_CONFIG = """\
repository: /srv/git/deploy.git
branch: main
state_dir: /var/lib/reconciler
listen: 127.0.0.1:9400
resync_interval: 30
webhook_secret_file: /etc/reconciler/webhook-secret
prune_guard_percent: 40
"""


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    settings.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_daemons_config_is_read_with_the_daemons_defaults(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(DAEMON_CONFIG)
    daemon = configmod.load(config)
    cli = settings.resolve(_args("--config", str(config)), {})
    assert (cli.ssh_key, cli.known_hosts) == (daemon.ssh_key, daemon.known_hosts)
    assert (cli.connect_timeout, cli.command_timeout) == (
        daemon.connect_timeout, daemon.command_timeout)  # fmt: skip
    assert cli.prune_guard_percent == daemon.prune_guard_percent == 40.0
    config.write_text(DAEMON_CONFIG + "ssh_key: /k\nconnect_timeout: 3\n")
    cli = settings.resolve(_args("--config", str(config)), {})
    assert (cli.ssh_key, cli.connect_timeout) == (Path("/k"), 3.0)


def test_one_set_of_default_timeouts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(lightsettings, "CONFIG_PATHS", ())
    cli = settings.resolve(_args(), {})
    config = tmp_path / "config.yaml"
    config.write_text("repository: /srv/repo\n")
    daemon = configmod.load(config)
    assert (cli.connect_timeout, cli.command_timeout) == (
        daemon.connect_timeout, daemon.command_timeout)  # fmt: skip


def test_get_pods_with_the_daemons_config_does_not_refuse_its_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key, known = tmp_path / "id_ed25519", tmp_path / "known_hosts"
    config = tmp_path / "config.yaml"
    config.write_text(DAEMON_CONFIG + f"ssh_key: {key}\nknown_hosts: {known}\n")
    monkeypatch.setenv("RECONCILER_CONFIG", str(config))
    for variable in ("RECONCILER_SSH_KEY", "RECONCILER_KNOWN_HOSTS"):
        monkeypatch.delenv(variable, raising=False)
    repo = tmp_path / "repo"
    repo.mkdir()
    code = main.main(["get", "pods", "-f", str(repo)])
    err = capsys.readouterr().err
    assert "unknown setting" not in err
    assert f"SSH key {key} not found" in err and code == 2  # the file's key, not a default
    key.write_text("not a key")
    known.write_text("")
    code = main.main(["get", "pods", "-f", str(repo)])
    err = capsys.readouterr().err
    assert "unknown setting" not in err and "not found" not in err, err


def test_a_setting_neither_knows_is_still_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(DAEMON_CONFIG + "colour: blue\n")
    with pytest.raises(settings.SettingsError, match=r"unknown setting\(s\) colour"):
        settings.resolve(_args("--config", str(config)), {})
