"""Where the daemon on this machine listens, its token, and the few settings a dry run needs
(service CIDR, prune guard), read without the YAML library or the model: the quick path of a
one-shot `diff` asking the daemon (`dryrunclient`). A config file it is not sure to read as
`settings` does (anything but flat `key: value` lines) gives None: the caller then takes the
slow, complete path (`settings`, `daemonclient`), so both agree where this one answers.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ADDRESS = "127.0.0.1:9400"  # runtime.config's `listen` default
ENV_ADDRESS = "RECONCILER_DAEMON"
OFF = ("none", "off", "direct")  # $RECONCILER_DAEMON=none: as --direct
ENV_TOKEN = "RECONCILER_HTTP_TOKEN"  # noqa: S105 (a variable name, not a secret)
CONFIG_PATHS = (Path("~/.config/reconciler/config.yaml"), Path("/etc/reconciler/config.yaml"))
DEFAULT_CIDR = "10.96.0.0/12"  # clusterips.DEFAULT_CIDR (a test keeps them equal)
DEFAULT_PRUNE_PERCENT = 50.0  # runtime.config's (a test keeps them equal)
KNOWN = frozenset({
    "repository", "branch", "state_dir", "resync_interval", "poll_interval", "git_timeout",
    "ssh_key", "known_hosts", "connect_timeout", "command_timeout", "listen",
    "webhook_secret_file", "age_key_file", "verify_commits", "prune_guard_percent",
    "allow_mass_prune", "host_grace_seconds", "autoscale_period", "http_token_file",
    "metrics_require_token", "service_cidr",
})  # fmt: skip
"""The config file's keys (`settings` refuses others; a test keeps this equal to its list)."""
TYPED = frozenset({"prune_guard_percent", "allow_mass_prune", "connect_timeout",
                   "command_timeout"})  # fmt: skip
"""Keys whose YAML type matters: a quoted value there is left to `settings`."""
TIMEOUTS = {"connect_timeout": "RECONCILER_CONNECT_TIMEOUT",
            "command_timeout": "RECONCILER_COMMAND_TIMEOUT"}  # fmt: skip
_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):(?:[ \t]+(.*?))?[ \t]*")
_PLAIN = re.compile(r"[A-Za-z0-9_./~:@+=\-\[\]]*")  # a plain scalar with nothing YAML-special
_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


class AddressError(ValueError):
    """A daemon address that is not HOST:PORT."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    token: str | None = None
    forced: bool = False  # --daemon: no fallback to reading the hosts directly

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __repr__(self) -> str:  # never the token
        shown = "set" if self.token else "none"
        return f"Endpoint({self.url}, token={shown}, forced={self.forced})"


def add_path_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path",
        nargs="?",
        default=".",
        metavar="PATH",
        help="repository directory with the manifests (default: the current directory)",
    )


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    """The connection settings' flags (`settings.add_arguments`)."""
    group = parser.add_argument_group("connection settings")
    group.add_argument("--config", metavar="FILE", help="config file (YAML)")
    group.add_argument("--ssh-key", metavar="FILE", help="private key for SSH to hosts")
    group.add_argument("--known-hosts", metavar="FILE", help="known_hosts with pinned host keys")
    group.add_argument("--connect-timeout", metavar="SECONDS", type=float)
    group.add_argument("--command-timeout", metavar="SECONDS", type=float)
    group.add_argument("--age-key-file", metavar="FILE",
                       help="age identities for SOPS-encrypted Secrets")  # fmt: skip
    group.add_argument("--service-cidr", metavar="CIDR",
                       help="the network of the Services' cluster IPs (default "
                       f"{DEFAULT_CIDR}; as the daemon's service_cidr)")  # fmt: skip


def add_daemon_arguments(parser: argparse.ArgumentParser, *, verbose: bool = False) -> None:
    """--direct and --daemon ADDRESS (`daemonclient.add_arguments`), and -v for `diff`."""
    group = parser.add_argument_group("asking a daemon on this machine")
    choice = group.add_mutually_exclusive_group()
    choice.add_argument("--direct", action="store_true",
                        help="connect to every host, never ask a running daemon")  # fmt: skip
    choice.add_argument("--daemon", metavar="ADDRESS",
                        help="ask the daemon listening at HOST:PORT, never read hosts directly "
                             f"(default: try ${ENV_ADDRESS}, the config's listen, "
                             f"{DEFAULT_ADDRESS}, then read hosts directly)")  # fmt: skip
    if verbose:
        group.add_argument("-v", "--verbose", action="store_true",
                           help="say on stderr whether the daemon planned or not")  # fmt: skip


def parse_address(address: str) -> tuple[str, int]:
    """`host:port`, `[v6]:port`, `:port` or `http://host:port`; a wildcard listen address
    (`0.0.0.0`, `::`, empty) is asked on loopback. Raises AddressError."""
    text = address.strip().removeprefix("http://").rstrip("/")
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise AddressError(f"daemon address {address!r}: expected HOST:PORT")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if host in ("", "0.0.0.0"):  # noqa: S104 (a listen address, asked on loopback)
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return host, int(port)


def config_file(flag: str | None, env: Mapping[str, str]) -> Path | None:
    """The config file `settings` reads: --config, $RECONCILER_CONFIG, else the first found."""
    if flag:
        return Path(flag)
    if env.get("RECONCILER_CONFIG"):
        return Path(env["RECONCILER_CONFIG"])
    for candidate in CONFIG_PATHS:
        if candidate.expanduser().exists():
            return candidate.expanduser()
    return None


def read_flat(path: Path) -> dict[str, str] | None:
    """The config file as flat `key: text` pairs, or None when it is anything else (nested,
    lists, anchors, quotes with escapes, unknown keys...): `settings` then reads it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    found: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        bare = re.split(r"[ \t]#", line)[0].rstrip()
        match = _LINE.fullmatch(bare)
        if match is None or match.group(1) not in KNOWN or match.group(1) in found:
            return None
        given = match.group(2) or ""
        value = scalar(given)
        if value is None or (match.group(1) in TYPED and value != given):  # a quoted number
            return None
        found[match.group(1)] = value
    return found


def scalar(text: str) -> str | None:
    """A value's text without its quotes; None for anything not surely a plain string."""
    if len(text) >= 2 and text[0] == text[-1] == "'" and "'" not in text[1:-1]:
        return text[1:-1]
    if len(text) >= 2 and text[0] == text[-1] == '"' and not {'"', "\\"} & set(text[1:-1]):
        return text[1:-1]
    return text if _PLAIN.fullmatch(text) and not text.startswith(("[", "-", "~", "@")) else None


@dataclass(frozen=True)
class DryRunSettings:
    where: Endpoint | None  # None: --direct or $RECONCILER_DAEMON=none
    service_cidr: str
    prune_guard_percent: float
    allow_mass_prune: bool


def resolve(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> (
    DryRunSettings | None
):  # fmt: skip
    """The settings as `settings.resolve` and `daemonclient.endpoint` would give them, or None
    when not sure (an unusual config file, a value those would refuse): ask them instead."""
    env = os.environ if env is None else env
    path = config_file(getattr(args, "config", None), env)
    from_file: dict[str, str] = {}
    if path is not None:
        if not path.exists():
            return None  # settings says so
        flat = read_flat(path)
        if flat is None:
            return None
        from_file = flat
    for field, variable in TIMEOUTS.items():  # settings refuses a timeout not a number
        given = getattr(args, field, None)
        value = given if given is not None else env.get(variable) or from_file.get(field)
        if value is not None and not _is_number(str(value)):
            return None
    cidr = _cidr(getattr(args, "service_cidr", None) or env.get("RECONCILER_SERVICE_CIDR")
                 or from_file.get("service_cidr") or DEFAULT_CIDR)  # fmt: skip
    percent = from_file.get("prune_guard_percent", str(DEFAULT_PRUNE_PERCENT))
    allowed = from_file.get("allow_mass_prune", "false")
    if cidr is None or not _NUMBER.fullmatch(percent) or allowed not in BOOLEANS:
        return None
    where = None
    if not getattr(args, "direct", False) and env.get(ENV_ADDRESS, "").lower() not in OFF:
        forced = getattr(args, "daemon", None)
        address = forced or env.get(ENV_ADDRESS) or from_file.get("listen") or DEFAULT_ADDRESS
        try:
            host, port = parse_address(address)
        except AddressError:
            return None
        token = env.get(ENV_TOKEN) or token_in(from_file.get("http_token_file"))
        where = Endpoint(host, port, token or None, forced=bool(forced))
    return DryRunSettings(where, cidr, float(percent), BOOLEANS[allowed])


BOOLEANS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False,
            "FALSE": False}  # fmt: skip
"""YAML 1.2's booleans (as the safe loader reads them)."""


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _cidr(text: str) -> str | None:
    """As `clusterips.network` checks it, normalized; None when it would refuse it."""
    try:
        parsed = ipaddress.ip_network(text, strict=True)
    except ValueError:
        return None
    return str(parsed) if parsed.num_addresses >= 4 else None


def token_in(path: object) -> str | None:
    """The daemon's token file's first line; None when there is none or it cannot be read here
    (the daemon then answers 401 and the hosts are read directly)."""
    if not path:
        return None
    try:
        lines = Path(str(path)).expanduser().read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return lines[0].strip() or None if lines else None
