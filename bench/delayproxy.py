"""A TCP proxy that delays every chunk by a fixed time in each direction (a slow link), for
`bench.slowhost_bench`: run in a test host's network namespace in front of its sshd.

`python -m bench.delayproxy LISTEN_ADDR LISTEN_PORT TARGET_ADDR TARGET_PORT DELAY_S`
(no `tc netem` in this sandbox's kernel, so the delay is made here). Order is kept: each
direction is a queue of (due time, bytes) drained by one writer.
"""

from __future__ import annotations

import asyncio
import sys
import time


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def drain() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.create_task(drain())
    try:
        while data := await reader.read(65536):
            queue.put_nowait((time.monotonic() + delay, data))
    except ConnectionError:
        pass
    queue.put_nowait((0.0, b""))
    await sender


async def _serve(listen: tuple[str, int], target: tuple[str, int], delay: float) -> None:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*target)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(
            _pump(client_r, server_w, delay), _pump(server_r, client_w, delay),
            return_exceptions=True,
        )  # fmt: skip

    server = await asyncio.start_server(handle, *listen)
    async with server:
        await server.serve_forever()


def main() -> None:
    listen_addr, listen_port, target_addr, target_port, delay = sys.argv[1:6]
    asyncio.run(
        _serve((listen_addr, int(listen_port)), (target_addr, int(target_port)), float(delay))
    )


if __name__ == "__main__":
    main()
