"""Floors for `bench.apply_bench`: the same work done with plain `podman` commands over one open
asyncssh connection per host (same client key, same pinned host keys), hosts in parallel.

Each remote command is one SSH exec channel on the host's open connection, so a floor pays for
the podman CLI and the channel, not for the SSH handshake (timed separately as `connect`).
"""

from __future__ import annotations

import asyncio
import json
import shlex
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh


@dataclass(frozen=True)
class Target:
    name: str
    address: str
    user: str


@dataclass(frozen=True)
class Timed:
    seconds: float  # the measured part only
    connect_seconds: float  # opening every host's connection (parallel), before the measured part


async def _connect(target: Target, key: Path, known_hosts: Path) -> asyncssh.SSHClientConnection:
    return await asyncssh.connect(
        target.address,
        username=target.user,
        client_keys=[str(key)],
        known_hosts=str(known_hosts),
        connect_timeout=10,
    )


async def _run(conn: asyncssh.SSHClientConnection, argv: Sequence[str]) -> str:
    result = await conn.run(shlex.join(argv), check=True)
    return str(result.stdout)


PerHost = Callable[[asyncssh.SSHClientConnection, Target], Awaitable[object]]


async def _timed(
    targets: Sequence[Target], key: Path, known_hosts: Path, work: PerHost
) -> tuple[Timed, list[object]]:
    started = time.monotonic()
    conns = await asyncio.gather(*(_connect(t, key, known_hosts) for t in targets))
    connected = time.monotonic()
    try:
        results = await asyncio.gather(*(work(c, t) for c, t in zip(conns, targets, strict=True)))
        done = time.monotonic()
    finally:
        for conn in conns:
            conn.close()
        await asyncio.gather(*(conn.wait_closed() for conn in conns))
    return Timed(done - connected, connected - started), list(results)


MODES = {
    "run": "`podman run -d` per pod",
    "pod": "`podman pod create` + `podman run -d --pod` per pod",
    "pod-new": "`podman run -d --pod new:NAME` per pod (pod, infra and container in one call)",
    "pod-noinfra": "`podman pod create --infra=false` + `podman run -d --pod` per pod",
}


def deploy(
    targets: Sequence[Target],
    counts: dict[str, int],
    image: str,
    key: Path,
    known_hosts: Path,
    mode: str,
) -> Timed:
    """Per host, sequentially, one command (two for "pod", "pod-noinfra") per pod; see MODES."""

    async def per_host(conn: asyncssh.SSHClientConnection, target: Target) -> None:
        for index in range(counts.get(target.name, 0)):
            name = f"floor-{target.name}-{index}"
            run = ["podman", "run", "-d", "--label", "app=floor", "-e", "BENCH=floor"]
            if mode in ("pod", "pod-noinfra"):
                infra = ["--infra=false"] if mode == "pod-noinfra" else []
                await _run(conn, ["podman", "pod", "create", *infra, "--name", f"{name}-pod"])
                run += ["--pod", f"{name}-pod"]
            elif mode == "pod-new":
                run += ["--pod", f"new:{name}-pod"]
            await _run(conn, [*run, "--name", name, image, "sleep", "3600"])

    if mode not in MODES:
        raise ValueError(f"unknown floor mode {mode!r}")
    return asyncio.run(_timed(targets, key, known_hosts, per_host))[0]


def ps_all(
    targets: Sequence[Target], key: Path, known_hosts: Path
) -> tuple[Timed, dict[str, list[dict[str, Any]]]]:
    """One `podman ps -a --format json` per host in parallel; returns each host's entries."""

    async def per_host(conn: asyncssh.SSHClientConnection, _target: Target) -> str:
        return await _run(conn, ["podman", "ps", "-a", "--format", "json"])

    timed, outputs = asyncio.run(_timed(targets, key, known_hosts, per_host))
    return timed, {
        t.name: list(json.loads(str(out) or "[]") or [])
        for t, out in zip(targets, outputs, strict=True)
    }
