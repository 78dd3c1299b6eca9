"""Offline test images: a busybox root filesystem pushed to the lab's registry.

No registry on the internet is reachable here, so the harness builds a one-layer image from the
static busybox binary and uploads it with the Docker Registry HTTP API v2. Hosts then pull it with
a real `podman pull`, so image pulls in the tests are real.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import platform
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
APPLETS = (
    "sh",
    "sleep",
    "httpd",
    "wget",
    "nc",
    "echo",
    "cat",
    "ls",
    "env",
    "true",
    "false",
    "id",
    "mkdir",
    "touch",
    "ps",
    "printf",
    "test",
    "grep",
    "hostname",
    "kill",
    "rm",
    "date",
    "seq",
)
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_TYPE = "application/vnd.docker.container.image.v1+json"
LAYER_TYPE = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def _arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def rootfs_tar(marker: str = "") -> bytes:
    """A tar of a minimal root filesystem: /bin/busybox, applet symlinks, /etc/passwd, /www.

    `marker` is written to /etc/image-marker so that different tags are different images.
    """
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:

        def add_dir(name: str, mode: int = 0o755) -> None:
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = mode
            tar.addfile(info)

        def add_file(name: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))

        for directory in ("bin", "etc", "www", "proc", "sys", "dev", "run", "var"):
            add_dir(directory)
        add_dir("tmp", 0o1777)
        add_file("bin/busybox", BUSYBOX.read_bytes(), 0o755)
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        add_file("etc/passwd", b"root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n")
        add_file("etc/group", b"root:x:0:\nnogroup:x:65534:\n")
        add_file("etc/image-marker", marker.encode())
        add_file("www/index.html", b"hello from the reconciler test image\n")
    return buf.getvalue()


def _request(
    method: str, url: str, body: bytes = b"", content_type: str = "", auth: str = ""
) -> str:
    request = urllib.request.Request(url, data=body if method != "GET" else None, method=method)
    if content_type:
        request.add_header("Content-Type", content_type)
    if auth:  # an Authorization header value (the authenticated test registry)
        request.add_header("Authorization", auth)
    with urllib.request.urlopen(request, timeout=30) as response:
        location: str = response.headers.get("Location", "")
        return location


def _push_blob(base: str, repository: str, blob: bytes, auth: str = "") -> str:
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    location = _request("POST", f"{base}/v2/{repository}/blobs/uploads/", auth=auth)
    if location.startswith("/"):
        location = base + location
    separator = "&" if "?" in location else "?"
    _request("PUT", f"{location}{separator}digest={digest}", blob, "application/octet-stream",
             auth)  # fmt: skip
    return digest


def push_image(
    registry: str, repository: str, tag: str, marker: str = "", auth: str = ""
) -> str:
    """Build the busybox image, push it as registry/repository:tag, return the manifest digest.
    `auth`: an Authorization header value for a registry that wants a login."""
    base = f"http://{registry}"
    layer_tar = rootfs_tar(marker or f"{repository}:{tag}")
    layer = gzip.compress(layer_tar, mtime=0)
    config = json.dumps(
        {
            "architecture": _arch(),
            "os": "linux",
            "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"], "WorkingDir": "/"},
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()],
            },
            "history": [{"created_by": "reconciler test harness"}],
        },
        sort_keys=True,
    ).encode()
    layer_digest = _push_blob(base, repository, layer, auth)
    config_digest = _push_blob(base, repository, config, auth)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {"mediaType": CONFIG_TYPE, "size": len(config), "digest": config_digest},
            "layers": [{"mediaType": LAYER_TYPE, "size": len(layer), "digest": layer_digest}],
        }
    ).encode()
    _request("PUT", f"{base}/v2/{repository}/manifests/{tag}", manifest, MANIFEST_TYPE, auth)
    return "sha256:" + hashlib.sha256(manifest).hexdigest()


def registry_answers(registry: str) -> bool:
    try:
        _request("GET", f"http://{registry}/v2/")
    except (urllib.error.URLError, OSError):
        return False
    return True
