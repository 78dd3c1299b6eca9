"""The API floor for `bench.cli_bench`: the benchmark's pods made by direct calls to each host's
Podman REST API (libpod) over already-open SSH-forwarded sockets, hosts in parallel.

What the reconciler pays beyond this is its own work: per pod `POST /pods/create` (no infra
container), `POST /containers/create` and `POST /pods/{name}/start`, the calls it makes too.
The floor speaks minimal HTTP/1.1 on kept-alive Unix-socket connections from one event loop,
`concurrency` pods at a time per host; opening the connections is timed apart (`connect`).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import asyncssh

from bench import apply_floor

API = "/v4.0.0/libpod"


class _Http:
    """One kept-alive HTTP/1.1 connection to a Unix socket (Content-Length or chunked replies)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, path: str) -> _Http:
        reader, writer = await asyncio.open_unix_connection(path)
        return cls(reader, writer)

    async def post(self, path: str, body: Mapping[str, Any] | None = None) -> tuple[int, bytes]:
        return await self.request("POST", path, body)

    async def get(self, path: str) -> tuple[int, bytes]:
        return await self.request("GET", path)

    async def request(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else b""
        head = (
            f"{method} {API}{path} HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        )
        self.writer.write(head.encode() + data)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length, chunked = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        if not chunked:
            return status, await self.reader.readexactly(length)
        payload = b""
        while size := int((await self.reader.readline()).strip(), 16):
            payload += await self.reader.readexactly(size + 2)
        await self.reader.readline()
        return status, payload

    def close(self) -> None:
        self.writer.close()


async def forward_socket(conn: asyncssh.SSHClientConnection, local: str) -> asyncssh.SSHListener:
    """Forward the local Unix socket `local` to the host's rootless Podman API socket."""
    rdir = await _runtime_dir(conn)
    return await conn.forward_local_path(local, f"{rdir}/podman/podman.sock")


async def _runtime_dir(conn: asyncssh.SSHClientConnection) -> str:
    result = await conn.run('printf %s "$XDG_RUNTIME_DIR"', check=True)
    return str(result.stdout)


async def _make_pod(http: _Http, name: str, image: str) -> None:
    pod = {"name": f"{name}-pod", "labels": {"app": "apifloor"}, "no_infra": True}
    container = {
        "name": name,
        "pod": f"{name}-pod",
        "image": image,
        "labels": {"app": "apifloor"},
        "env": {"BENCH": "floor"},
        "restart_policy": "no",
        "stop_timeout": 0,
        "terminal": False,
        "entrypoint": ["sleep"],
        "command": ["3600"],
    }
    for path, body in (("/pods/create", pod), ("/containers/create", container),
                       (f"/pods/{name}-pod/start", None)):  # fmt: skip
        status, reply = await http.post(path, body)
        if status >= 300:
            raise RuntimeError(f"{path}: HTTP {status}: {reply[:300]!r}")


async def _deploy(
    targets: Sequence[apply_floor.Target],
    counts: Mapping[str, int],
    image: str,
    key: Path,
    known_hosts: Path,
    concurrency: int,
) -> apply_floor.Timed:
    sockets = Path(tempfile.mkdtemp(prefix="apifloor-"))
    started = time.monotonic()
    conns = await asyncio.gather(*(apply_floor._connect(t, key, known_hosts) for t in targets))
    try:
        listeners = await asyncio.gather(*(
            forward_socket(c, str(sockets / f"{t.name}.sock"))
            for c, t in zip(conns, targets, strict=True)))  # fmt: skip
        clients = await asyncio.gather(*(
            asyncio.gather(*(_Http.open(str(sockets / f"{t.name}.sock"))
                             for _ in range(concurrency)))
            for t in targets))  # fmt: skip
        connected = time.monotonic()

        async def per_host(target: apply_floor.Target, https: Sequence[_Http]) -> None:
            names = [f"apifloor-{target.name}-{i}" for i in range(counts.get(target.name, 0))]

            async def worker(http: _Http) -> None:
                while names:
                    await _make_pod(http, names.pop(), image)

            await asyncio.gather(*(worker(h) for h in https))

        await asyncio.gather(*(per_host(t, c) for t, c in zip(targets, clients, strict=True)))
        done = time.monotonic()
        for group in clients:
            for http in group:
                http.close()
        for listener in listeners:
            listener.close()
    finally:
        for conn in conns:
            conn.close()
        await asyncio.gather(*(conn.wait_closed() for conn in conns))
        for leftover in sockets.iterdir():
            leftover.unlink()
        os.rmdir(sockets)
    return apply_floor.Timed(done - connected, connected - started)


def deploy(
    targets: Sequence[apply_floor.Target],
    counts: Mapping[str, int],
    image: str,
    key: Path,
    known_hosts: Path,
    concurrency: int,
) -> apply_floor.Timed:
    """Make `counts[host]` pods on each host, `concurrency` at a time per host; see the module."""
    return asyncio.run(_deploy(targets, counts, image, key, known_hosts, concurrency))
