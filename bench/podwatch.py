"""Read the lab hosts' pods straight from each host's Podman API socket, for benchmarks that poll.

Root on this machine can open every test host's Unix socket, which works while the host's link
is down; one GET per host, hosts in parallel threads, and no `podman` process started per poll
(50 hosts polled every 0.1 s by `podman pod ps` would load the 2 cores more than the daemon).
`clear` removes every pod of the hosts, a few hosts at a time, before the lab's own (one host
after another) teardown.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from tests.harness import hostsetup, proc

API = "/v4.0.0/libpod"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.path)
        self.sock = sock


def pods(host: hostsetup.Host, label: str, timeout: float = 30.0) -> dict[str, bool]:
    """Pod name (its reconciler.dev/name label) -> running, of the host's pods with `label`."""
    query = urllib.parse.urlencode({"filters": json.dumps({"label": [label]})})
    conn = _UnixConnection(host.podman_socket, timeout)
    try:
        conn.request("GET", f"{API}/pods/json?{query}")
        reply = conn.getresponse()
        body = reply.read()
        if reply.status != 200:
            raise RuntimeError(f"{host.name}: pods/json answered {reply.status}: {body[:200]!r}")
    finally:
        conn.close()
    return {
        (item.get("Labels") or {}).get("reconciler.dev/name", item.get("Name", "?")): item.get(
            "Status"
        )
        == "Running"
        for item in json.loads(body or b"[]") or []
    }


class Watcher:
    """Polls a fixed set of hosts in parallel; `poll()` is host name -> {pod name: running}."""

    def __init__(self, hosts: list[hostsetup.Host], label: str, workers: int = 16) -> None:
        self.hosts = hosts
        self.label = label
        self.pool = ThreadPoolExecutor(max_workers=min(workers, max(len(hosts), 1)))

    def poll(self) -> dict[str, dict[str, bool]]:
        lists = self.pool.map(lambda h: pods(h, self.label), self.hosts)
        return {h.name: found for h, found in zip(self.hosts, lists, strict=True)}

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def clear(hosts: list[hostsetup.Host], workers: int = 6) -> None:
    """`podman pod rm -a -f -t 0` on every host, `workers` hosts at a time."""

    def one(host: hostsetup.Host) -> None:
        argv = hostsetup.as_user(host, "podman", "pod", "rm", "-a", "-f", "-t", "0")
        with contextlib.suppress(proc.HarnessError):
            proc.run(argv, check=False, timeout=300)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, hosts))
