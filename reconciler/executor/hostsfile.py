"""Rewriting the headless-Service names of the pods' /etc/hosts files on one host, in place.

`plan.hostsfile` writes each file when its pod is made (bound at /etc/hosts); on every pass
`haproxy_supervisor.apply` hands the sections `plan.headless` computed to `update`, which
replaces what follows `podips.MARKER` in each file when it differs. The rewrite keeps the file's
inode (a bind mount of a renamed file would still show the old one); glibc and musl read
/etc/hosts anew at each lookup, so a running container resolves the new names at once.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence
from typing import Protocol

from reconciler.executor import errors, protocol
from reconciler.model import loadbalancer, podips

log = logging.getLogger(__name__)
MAX_BYTES = 1 << 20  # a hosts file of ours is never this long: leave a bigger one alone
Known = dict[tuple[str, str], str]
"""(path, pod id) -> the section last read or written there on one connection: a pass whose
section is the same reads nothing (the daemon applies every pass, on every host)."""


class FileLink(Protocol):
    """What `update` uses of a host's connection (`sshconn.HostConnection`; a fake in tests)."""

    async def read_file(self, relative: str) -> bytes | None: ...

    async def overwrite_file(self, relative: str, content: bytes) -> bool: ...


def splice(old: str, section: str) -> str | None:
    """`old` with everything after its marker line replaced by `section`; None when `old`
    has no marker line (not a file of ours) or already ends with `section`."""
    lines = old.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.rstrip("\n") == podips.MARKER:
            head = "".join(lines[: index + 1])
            if not head.endswith("\n"):
                head += "\n"
            new = head + section
            return None if new == old else new
    return None


_KNOWN: weakref.WeakKeyDictionary[FileLink, Known] = weakref.WeakKeyDictionary()


async def update(
    link: FileLink,
    sections: Sequence[loadbalancer.HostsSection],
    stats: protocol.ExecutorStats,
) -> int:
    """Bring each file's headless section to `sections`; the number of files rewritten. A file
    whose section was already this one on this connection (same pod id) is not read again; a
    file that vanished (its pod just went) or cannot be read is skipped; a host error is
    raised."""
    known = _KNOWN.setdefault(link, {})
    wanted = {(item.path, item.pod_id) for item in sections}
    for key in [k for k in known if k not in wanted]:  # pods gone: forget them
        del known[key]
    written = 0
    for item in sections:
        key = (item.path, item.pod_id)
        if item.pod_id and known.get(key) == item.text:
            continue
        try:
            data = await link.read_file(item.path)
            stats.count_read()
            if data is None or len(data) > MAX_BYTES:
                continue
            new = splice(data.decode(errors="replace"), item.text)
            if new is not None and not await link.overwrite_file(item.path, new.encode()):
                continue
            if new is not None:
                written += 1
                stats.count(protocol.Mutation.FILE_WRITE)
            known[key] = item.text
        except errors.OperationFailed as exc:  # e.g. removed between the read and the write
            log.info("hosts file %s: %s", item.path, exc)
    return written
