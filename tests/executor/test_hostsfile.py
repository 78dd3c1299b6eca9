"""executor.hostsfile: the headless section of a pod's /etc/hosts replaced in place after the
marker, only when it changed, never in a file without the marker or one that is gone."""

from __future__ import annotations

import asyncio

from reconciler.executor import errors, hostsfile, protocol
from reconciler.model import loadbalancer, podips

HEAD = f"# ours\n127.0.0.1\tlocalhost\n10.0.2.100\tweb-0\n{podips.MARKER}\n"


class FakeLink:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.overwritten: list[str] = []

    async def read_file(self, relative: str) -> bytes | None:
        return self.files.get(relative)

    async def overwrite_file(self, relative: str, content: bytes) -> bool:
        if relative == "gone":
            raise errors.OperationFailed("rewriting gone", "no such file")
        if relative not in self.files:
            return False
        self.files[relative] = content
        self.overwritten.append(relative)
        return True


def test_splice_replaces_what_follows_the_marker_only() -> None:
    old = HEAD + "198.19.128.5\tweb\n"
    assert hostsfile.splice(old, "198.19.128.6\tweb\n") == HEAD + "198.19.128.6\tweb\n"
    assert hostsfile.splice(old, "198.19.128.5\tweb\n") is None  # unchanged
    assert hostsfile.splice(old, "") == HEAD
    assert hostsfile.splice("127.0.0.1\tlocalhost\n", "x\n") is None  # not ours
    assert hostsfile.splice(HEAD.rstrip("\n"), "a\tb\n") == HEAD + "a\tb\n"


def test_update_writes_changed_files_only_and_skips_missing_ones() -> None:
    link = FakeLink({"a": HEAD.encode(), "b": (HEAD + "1.2.3.4\tweb\n").encode()})
    stats = protocol.ExecutorStats()
    sections = [
        loadbalancer.HostsSection("a", "1.2.3.4\tweb\n"),
        loadbalancer.HostsSection("b", "1.2.3.4\tweb\n"),
        loadbalancer.HostsSection("missing", "1.2.3.4\tweb\n"),
        loadbalancer.HostsSection("gone", ""),
    ]
    link.files["gone"] = (HEAD + "x\ty\n").encode()
    written = asyncio.run(hostsfile.update(link, sections, stats))
    assert written == 1 and link.overwritten == ["a"]
    assert link.files["a"] == (HEAD + "1.2.3.4\tweb\n").encode()
    assert stats.snapshot()


class CountingLink(FakeLink):
    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__(files)
        self.reads = 0

    async def read_file(self, relative: str) -> bytes | None:
        self.reads += 1
        return await super().read_file(relative)


def test_a_section_already_there_is_not_read_again_until_the_pod_is_new() -> None:
    link = CountingLink({"a": HEAD.encode()})
    stats = protocol.ExecutorStats()
    first = [loadbalancer.HostsSection("a", "1.2.3.4\tweb\n", "pod1")]
    assert asyncio.run(hostsfile.update(link, first, stats)) == 1
    assert asyncio.run(hostsfile.update(link, first, stats)) == 0
    assert link.reads == 1
    link.files["a"] = HEAD.encode()  # the pod made again under its name: a new file, a new id
    again = [loadbalancer.HostsSection("a", "1.2.3.4\tweb\n", "pod2")]
    assert asyncio.run(hostsfile.update(link, again, stats)) == 1
    assert link.reads == 2 and link.files["a"] == (HEAD + "1.2.3.4\tweb\n").encode()
    changed = [loadbalancer.HostsSection("a", "", "pod2")]
    assert asyncio.run(hostsfile.update(link, changed, stats)) == 1
    assert link.files["a"] == HEAD.encode()
