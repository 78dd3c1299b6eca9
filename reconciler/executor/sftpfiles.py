"""The pod's files below a host's state dir, over the connection's one SFTP session: atomic
writes (temp file, chmod, rename), in-place rewrites, reads, and removal of directory trees
with their empty parents. `sshconn.HostConnection` calls these inside its file lock, deadline
and error translation; no shell ever sees the paths or the content.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from collections.abc import Sequence

import asyncssh

from reconciler.model import hoststate


async def make_state_dir(sftp: asyncssh.SFTPClient, state_dir: str) -> None:
    """The state dir is private (0700); the pod directories below it are 0755 (`write`)."""
    await sftp.makedirs(state_dir, attrs=asyncssh.SFTPAttrs(permissions=0o700), exist_ok=True)
    await sftp.chmod(state_dir, 0o700)


async def write(
    sftp: asyncssh.SFTPClient, state_dir: str, files: Sequence[hoststate.HostFile]
) -> None:
    """Write each file below `state_dir` (atomically: temp file, chmod, rename), each with its
    own mode (secret files 0600 unless the manifest's `defaultMode` or `items[].mode` says
    otherwise). Directories are made 0755 so that a non-root user inside the container can
    read its configMap files (secret files are 0600 whatever their directory)."""
    readable = asyncssh.SFTPAttrs(permissions=0o755)
    for file in files:
        path = posixpath.join(state_dir, posixpath.normpath(file.path))
        directory = posixpath.dirname(path)
        await sftp.makedirs(directory, attrs=readable, exist_ok=True)
        temp = posixpath.join(directory, f".tmp-{os.urandom(16).hex()}")
        attrs = asyncssh.SFTPAttrs(permissions=0o600)
        async with sftp.open(temp, "wb", attrs=attrs) as handle:
            await handle.write(file.content)
        await sftp.chmod(temp, file.mode & 0o777)
        await _replace(sftp, temp, path)


async def read(sftp: asyncssh.SFTPClient, path: str) -> bytes | None:
    """The file's content, None when it does not exist."""
    try:
        async with sftp.open(path, "rb") as handle:
            data = await handle.read()
            return data if isinstance(data, bytes) else data.encode()
    except asyncssh.SFTPNoSuchFile:
        return None


async def overwrite(sftp: asyncssh.SFTPClient, path: str, content: bytes) -> bool:
    """Write `content` over an existing file IN PLACE (same inode, so a container that binds
    the file sees it; `write` renames a new one instead). False when the file does not exist
    (it is never created here)."""
    if not await sftp.isfile(path):
        return False
    async with sftp.open(path, "r+b") as handle:
        await handle.write(content)  # then cut what the old, longer text left
        await sftp.truncate(path, len(content))
    return True


async def remove_trees(sftp: asyncssh.SFTPClient, state_dir: str, dirs: Sequence[str]) -> int:
    """Remove each directory tree (relative to `state_dir`), then its empty parents up to the
    state dir. Returns the number of trees that existed."""
    removed = 0
    for relative in dirs:
        path = posixpath.join(state_dir, relative)
        if await sftp.exists(path):
            await sftp.rmtree(path)
            removed += 1
        parent = posixpath.dirname(path)
        while parent.startswith(state_dir + "/"):
            try:
                await sftp.rmdir(parent)
            except asyncssh.SFTPError:
                break  # not empty (or gone): stop pruning
            parent = posixpath.dirname(parent)
    return removed


async def _replace(sftp: asyncssh.SFTPClient, temp: str, path: str) -> None:
    try:
        await sftp.posix_rename(temp, path)
    except asyncssh.SFTPOpUnsupported:  # not OpenSSH: not atomic, but still correct
        with contextlib.suppress(asyncssh.SFTPNoSuchFile):
            await sftp.remove(path)
        await sftp.rename(temp, path)
