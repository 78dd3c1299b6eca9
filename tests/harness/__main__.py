"""`scripts/testhosts`: up N | down | kill HOST | revive HOST | reboot HOST | status [-o json] |
ssh HOST CMD...

Every error is one line that says what to do (exit 1; usage errors exit 2).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tests.harness import gitserver
from tests.harness import lab as labmod


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="testhosts", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="create N hosts (idempotent)")
    up.add_argument("count", nargs="?", default="3")
    sub.add_parser("down", help="remove every host, link, user, file and process the lab made")
    for name in ("kill", "revive"):
        cmd = sub.add_parser(name, help=f"{name} a host (link down / up)")
        cmd.add_argument("host")
    reboot = sub.add_parser("reboot", help="kill every process of a host's user, then run what "
                            "boot runs (Podman API, podman-restart, scripts/host-boot.sh)")
    reboot.add_argument("host")
    status = sub.add_parser("status", help="list hosts")
    status.add_argument("-o", "--output", choices=("text", "json"), default="text")
    sub.add_parser("git-up", help="start the git server (bare repo over ssh) on the gateway")
    sub.add_parser("git-down", help="stop the git server and remove its user and repository")
    ssh = sub.add_parser("ssh", help="run a command on a host over ssh (host keys checked)")
    ssh.add_argument("host")
    ssh.add_argument("argv", nargs=argparse.REMAINDER)
    return parser


def _status(lab: labmod.Lab, output: str) -> None:
    hosts = lab.hosts()
    cfg = lab.config
    if output == "json":
        print(
            json.dumps(
                {
                    "registry": cfg.registry,
                    "image": cfg.image,
                    "ssh_key": str(cfg.key_file),
                    "known_hosts": str(cfg.known_hosts),
                    "hosts": [
                        {
                            "name": h.name,
                            "address": h.address,
                            "user": h.user,
                            "port": 22,
                            "reachable": lab.reachable(h.name),
                            "podman_socket": h.podman_socket,
                        }
                        for h in hosts
                    ],
                },
                indent=2,
            )
        )
        return
    print(f"registry {cfg.registry}  image {cfg.image}")
    print(f"ssh key {cfg.key_file}  known_hosts {cfg.known_hosts}")
    for h in hosts:
        state = "reachable" if lab.reachable(h.name) else "UNREACHABLE"
        print(f"{h.name:5} {h.user}@{h.address}:22  {state}")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    state_dir = os.environ.get("TESTHOSTS_DIR")
    config = labmod.LabConfig(state_dir=Path(state_dir)) if state_dir else None
    lab = labmod.Lab(config)
    try:
        if args.command == "up":
            try:
                count = int(args.count)
            except ValueError:
                print(
                    f"testhosts: host count must be a whole number, got {args.count!r}",
                    file=sys.stderr,
                )
                return 2
            started = time.monotonic()
            hosts = lab.up(count, progress=lambda msg: print(f"testhosts: {msg}", file=sys.stderr))
            elapsed = time.monotonic() - started
            print(f"testhosts: {len(hosts)} host(s) up in {elapsed:.1f}s", file=sys.stderr)
            _status(lab, "text")
        elif args.command == "down":
            lab.down()
            print("testhosts: down", file=sys.stderr)
        elif args.command == "kill":
            lab.kill(args.host)
        elif args.command == "revive":
            lab.revive(args.host)
        elif args.command == "reboot":
            lab.reboot(args.host)
        elif args.command == "status":
            _status(lab, args.output)
        elif args.command == "git-up":
            server = gitserver.start(lab.config.state_dir / "git", lab.config.gateway)
            print(json.dumps({"url": server.url, "repository": str(server.repository),
                              "GIT_SSH_COMMAND": server.git_env()["GIT_SSH_COMMAND"]}))  # fmt: skip
        elif args.command == "git-down":
            gitserver.stop(gitserver.GitServer("rc-git", lab.config.gateway, gitserver.PORT,
                                               lab.config.state_dir / "git"))  # fmt: skip
        elif args.command == "ssh":
            result = lab.ssh(lab.get(args.host), *args.argv, check=False)
            sys.stdout.write(result.stdout)
            sys.stderr.write(result.stderr)
            return result.returncode
    except labmod.HarnessError as exc:
        print(f"testhosts: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, labmod.UsageError) else 1
    except KeyboardInterrupt:
        print("testhosts: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
