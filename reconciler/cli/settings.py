"""Settings of commands that reach hosts: SSH key, known_hosts, timeouts, and the age key that
decrypts SOPS-encrypted Secrets.

Precedence, highest first: command-line flags, environment (RECONCILER_SSH_KEY,
RECONCILER_KNOWN_HOSTS, RECONCILER_CONNECT_TIMEOUT, RECONCILER_COMMAND_TIMEOUT,
SOPS_AGE_KEY_FILE), the config file (--config, $RECONCILER_CONFIG,
~/.config/reconciler/config.yaml, /etc/reconciler/config.yaml), then defaults
(~/.ssh/id_ed25519, ~/.ssh/known_hosts, 10 s, 120 s, no age key).

The config file is the daemon's own (`runtime.config`): one file, one set of defaults. Its
daemon-only settings (repository, listen, ...) are accepted and not used here; a file that names
a `repository` is a daemon's config, and what it leaves out defaults as in the daemon (its key
and known_hosts under /etc/reconciler), so the CLI reaches hosts as that daemon does.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from reconciler.cli import lightsettings
from reconciler.model import clusterips
from reconciler.runtime import config as configmod

FIELDS = {
    "ssh_key": "RECONCILER_SSH_KEY",
    "known_hosts": "RECONCILER_KNOWN_HOSTS",
    "connect_timeout": "RECONCILER_CONNECT_TIMEOUT",
    "command_timeout": "RECONCILER_COMMAND_TIMEOUT",
    "age_key_file": "SOPS_AGE_KEY_FILE",
    "service_cidr": "RECONCILER_SERVICE_CIDR",
}


class SettingsError(Exception):
    """A setting is missing or malformed; the message names where it came from."""


CONNECT_TIMEOUT: float = configmod.DEFAULTS["connect_timeout"]
COMMAND_TIMEOUT: float = configmod.DEFAULTS["command_timeout"]


@dataclass(frozen=True)
class Settings:
    ssh_key: Path
    known_hosts: Path
    connect_timeout: float = CONNECT_TIMEOUT
    command_timeout: float = COMMAND_TIMEOUT
    age_key_file: Path | None = None
    prune_guard_percent: float = configmod.DEFAULTS["prune_guard_percent"]
    allow_mass_prune: bool = False  # the config file's `allow_mass_prune`
    service_cidr: str = clusterips.DEFAULT_CIDR  # the Services' cluster IPs (as the daemon's)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    lightsettings.add_settings_arguments(parser)  # defined there for the quick `diff`


def _read_config(path: Path) -> dict[str, Any]:
    try:
        loaded = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YAMLError) as exc:
        raise SettingsError(f"{path}: cannot read config file: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise SettingsError(f"{path}: the config file must be a mapping of settings")
    known = {*FIELDS, *configmod.DEFAULTS, *configmod.REQUIRED}  # the daemon's too: one file
    unknown = sorted(set(loaded) - known)
    if unknown:
        raise SettingsError(
            f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return dict(loaded)


def resolve(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Settings:
    """Merge flags, environment, config file and defaults (see the module docstring)."""
    env = os.environ if env is None else env
    config_path = lightsettings.config_file(getattr(args, "config", None), env)
    if config_path is not None and not config_path.exists():
        raise SettingsError(f"{config_path}: config file not found")
    from_file = _read_config(config_path) if config_path else {}
    daemon = "repository" in from_file  # the daemon's config: its defaults for what it omits
    cidr = cidr_setting(args, env, from_file)
    values: dict[str, Any] = {
        key: configmod.DEFAULTS[key] for key in ("ssh_key", "known_hosts") if daemon
    }
    for field, variable in FIELDS.items():
        flag = getattr(args, field, None)
        if flag is not None:
            values[field] = flag
        elif env.get(variable):
            values[field] = env[variable]
        elif field in from_file:
            values[field] = from_file[field]
    try:
        return Settings(
            ssh_key=Path(str(values.get("ssh_key", "~/.ssh/id_ed25519"))).expanduser(),
            known_hosts=Path(str(values.get("known_hosts", "~/.ssh/known_hosts"))).expanduser(),
            connect_timeout=float(values.get("connect_timeout", CONNECT_TIMEOUT)),
            command_timeout=float(values.get("command_timeout", COMMAND_TIMEOUT)),
            age_key_file=(
                Path(str(values["age_key_file"])).expanduser() if values.get("age_key_file")
                else None
            ),
            prune_guard_percent=float(
                from_file.get("prune_guard_percent", Settings.prune_guard_percent)
            ),
            allow_mass_prune=from_file.get("allow_mass_prune") is True,
            service_cidr=cidr,
        )
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"a timeout setting is not a number: {exc}") from exc


def cidr_setting(
    args: argparse.Namespace, env: Mapping[str, str], from_file: Mapping[str, Any]
) -> str:
    """The service CIDR: --service-cidr, $RECONCILER_SERVICE_CIDR, the config file's
    `service_cidr`, else the default; checked (SettingsError names where it came from)."""
    flag = getattr(args, "service_cidr", None)
    chosen = [
        ("--service-cidr", flag),
        (FIELDS["service_cidr"], env.get(FIELDS["service_cidr"])),
        ("the config file's service_cidr", from_file.get("service_cidr")),
    ]
    where, value = next(((w, v) for w, v in chosen if v), ("", clusterips.DEFAULT_CIDR))
    try:
        return str(clusterips.network(str(value)))
    except clusterips.CidrError as exc:
        raise SettingsError(f"{where}: {exc}") from None


def service_cidr(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> str:
    """The service CIDR alone (for `validate`, which reaches no host)."""
    env = os.environ if env is None else env
    config_path = lightsettings.config_file(getattr(args, "config", None), env)
    from_file = _read_config(config_path) if config_path and config_path.exists() else {}
    return cidr_setting(args, env, from_file)


def check_files(settings: Settings) -> None:
    """Fail early, with the file named, when the key or known_hosts cannot be read."""
    checks = (
        ("SSH key", settings.ssh_key, "--ssh-key", FIELDS["ssh_key"]),
        ("known_hosts", settings.known_hosts, "--known-hosts", FIELDS["known_hosts"]),
    )
    for what, path, flag, variable in checks:
        if not path.is_file():
            raise SettingsError(f"{what} {path} not found: pass {flag} or set {variable}")
