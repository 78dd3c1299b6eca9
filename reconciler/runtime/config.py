"""The daemon's configuration file (YAML), read once at start: where the desired state comes from,
where state is kept, how hosts are reached, what HTTP listens on. Documented in
docs/operations.md; every error names the file and the setting."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from reconciler.model import clusterips
from reconciler.source import errors as source_errors
from reconciler.source import signatures
from reconciler.web.ui import auth

DEFAULTS: dict[str, Any] = {
    "branch": "main",
    "state_dir": "/var/lib/reconciler",
    "resync_interval": 60.0,
    "poll_interval": 60.0,
    "git_timeout": 60.0,
    "ssh_key": "/etc/reconciler/id_ed25519",
    "known_hosts": "/etc/reconciler/known_hosts",
    "connect_timeout": 10.0,
    "command_timeout": 120.0,
    "listen": "127.0.0.1:9400",
    "webhook_secret_file": None,
    "age_key_file": None,  # decrypts SOPS-encrypted Secrets; else $SOPS_AGE_KEY_FILE
    "verify_commits": None,
    "prune_guard_percent": 50.0,  # a revision pruning more of the managed pods is held
    "allow_mass_prune": False,  # lifts the prune guard
    "host_grace_seconds": 10.0,  # a silent host is NotReady (its pods move) after this
    "autoscale_period": 15.0,  # seconds between HorizontalPodAutoscaler evaluations
    "http_token_file": None,  # bearer token for /ui/ and /status; required off loopback
    "metrics_require_token": False,  # /metrics needs the token too
    "service_cidr": clusterips.DEFAULT_CIDR,  # the Services' cluster IPs (routed to lo on hosts)
}
REQUIRED = ("repository",)
NUMBERS = ("resync_interval", "poll_interval", "git_timeout", "connect_timeout", "command_timeout",
           "host_grace_seconds", "autoscale_period")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file and the setting."""


@dataclass(frozen=True)
class DaemonConfig:
    repository: str
    """A path to a git repository on this machine (watched for pushes) or a remote URL (polled)."""
    branch: str
    state_dir: Path
    resync_interval: float
    poll_interval: float
    git_timeout: float
    ssh_key: Path
    known_hosts: Path
    connect_timeout: float
    command_timeout: float
    listen: str
    webhook_secret_file: Path | None
    age_key_file: Path | None = None
    """The age identities for SOPS-encrypted Secrets (None: $SOPS_AGE_KEY_FILE, if set)."""
    verify_commits: signatures.Policy | None = None
    """Only commits signed by these keys deploy (None: signatures are not checked)."""
    prune_guard_percent: float = 50.0
    """The prune guard holds a revision that deletes more than this share of the managed pods."""
    allow_mass_prune: bool = False
    host_grace_seconds: float = 10.0
    """Seconds a host may stay silent (Unknown) before it is NotReady and its pods move."""
    autoscale_period: float = 15.0
    """Seconds between two samples of the hosts' usage for the HorizontalPodAutoscalers."""
    http_token_file: Path | None = None
    """The bearer token the dashboard, /status (and /metrics if asked) require; None: no token
    (allowed only on a loopback `listen` address)."""
    metrics_require_token: bool = False
    service_cidr: str = clusterips.DEFAULT_CIDR
    """The network the Services' cluster IPs come from (every host routes it to lo)."""

    @property
    def is_remote(self) -> bool:
        return "://" in self.repository or (
            ":" in self.repository and not self.repository.startswith("/")
        )

    def webhook_secret(self) -> bytes | None:
        if self.webhook_secret_file is None:
            return None
        try:
            return self.webhook_secret_file.read_bytes().strip()
        except OSError as exc:
            raise ConfigError(
                f"webhook_secret_file {self.webhook_secret_file}: cannot read it: {exc.strerror}"
            ) from exc


    def http_token(self) -> str | None:
        """The token (the file's first line), read at start: a missing, short or unusable token
        stops the daemon rather than serve without one."""
        if self.http_token_file is None:
            return None
        try:
            lines = self.http_token_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
            raise ConfigError(f"http_token_file {self.http_token_file}: cannot read it: {why}"
                              ) from exc  # fmt: skip
        token = lines[0].strip() if lines else ""
        if not auth.usable(token):
            raise ConfigError(
                f"http_token_file {self.http_token_file}: the token must be at least 16 printable "
                "characters without spaces, quotes, commas or semicolons (e.g. the output of "
                "`openssl rand -hex 32`)"
            )
        return token


def load(path: Path) -> DaemonConfig:
    try:
        raw = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from exc
    except (YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the config file must be a mapping of settings")
    unknown = sorted(set(raw) - set(DEFAULTS) - set(REQUIRED))
    if unknown:
        known = ", ".join(sorted([*REQUIRED, *DEFAULTS]))
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {known}")
    missing = [key for key in REQUIRED if not raw.get(key)]
    if missing:
        raise ConfigError(f"{path}: missing required setting(s): {', '.join(missing)}")
    values = {**DEFAULTS, **raw}
    for key in NUMBERS:
        try:
            values[key] = float(values[key])
        except (TypeError, ValueError):
            raise ConfigError(f"{path}: {key} must be a number of seconds") from None
        if values[key] <= 0:
            raise ConfigError(f"{path}: {key} must be greater than 0")
    listen = str(values["listen"])
    if ":" not in listen or not listen.rsplit(":", 1)[1].isdigit():
        raise ConfigError(f"{path}: listen must be HOST:PORT, got {listen!r}")
    secret = values["webhook_secret_file"]
    percent, allow = values["prune_guard_percent"], values["allow_mass_prune"]
    if isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 <= percent <= 100:
        raise ConfigError(f"{path}: prune_guard_percent must be a number from 0 to 100")
    if not isinstance(allow, bool):
        raise ConfigError(f"{path}: allow_mass_prune must be true or false")
    try:
        service_cidr = str(clusterips.network(str(values["service_cidr"])))
    except clusterips.CidrError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    token_file, metrics_token = values["http_token_file"], values["metrics_require_token"]
    if not isinstance(metrics_token, bool):
        raise ConfigError(f"{path}: metrics_require_token must be true or false")
    if not token_file and not auth.is_loopback(listen):
        raise ConfigError(
            f"{path}: listen {listen} is not a loopback address: set http_token_file (the bearer "
            "token the dashboard and /status require), or listen on 127.0.0.1 behind a reverse "
            "proxy (docs/operations.md)"
        )
    return DaemonConfig(
        repository=str(values["repository"]),
        branch=str(values["branch"]),
        state_dir=Path(str(values["state_dir"])),
        resync_interval=values["resync_interval"],
        poll_interval=values["poll_interval"],
        git_timeout=values["git_timeout"],
        ssh_key=Path(str(values["ssh_key"])),
        known_hosts=Path(str(values["known_hosts"])),
        connect_timeout=values["connect_timeout"],
        command_timeout=values["command_timeout"],
        listen=listen,
        webhook_secret_file=Path(str(secret)) if secret else None,
        age_key_file=Path(str(values["age_key_file"])) if values["age_key_file"] else None,
        verify_commits=_verify_commits(path, values["verify_commits"]),
        prune_guard_percent=float(percent),
        allow_mass_prune=allow,
        host_grace_seconds=values["host_grace_seconds"],
        autoscale_period=values["autoscale_period"],
        http_token_file=Path(str(token_file)) if token_file else None,
        metrics_require_token=metrics_token,
        service_cidr=service_cidr,
    )


VERIFY_KEYS = ("allowed_signers", "gpg_keyring")


def _verify_commits(path: Path, raw: object) -> signatures.Policy | None:
    """`verify_commits: {allowed_signers: FILE, gpg_keyring: FILE}` (either or both), checked now:
    a missing or unreadable file stops the daemon at start rather than refusing every push."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: verify_commits must be a mapping like {{allowed_signers: FILE}} and/or "
            "{gpg_keyring: FILE}"
        )
    unknown = sorted(str(key) for key in set(raw) - set(VERIFY_KEYS))
    if unknown:
        raise ConfigError(f"{path}: verify_commits: unknown setting(s) {', '.join(unknown)}; "
                          f"known: {', '.join(VERIFY_KEYS)}")  # fmt: skip
    files = {key: Path(str(raw[key])) if raw.get(key) else None for key in VERIFY_KEYS}
    try:
        return signatures.Policy(files["allowed_signers"], files["gpg_keyring"]).check()
    except source_errors.SourceConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
