"""The HTTP transport under `podmanapi.PodmanAPI`: podman-py's API client for one host's
forwarded Podman socket, each request handed straight to the transport adapter podman-py
mounted (its Unix-socket connection pool), without `requests.Session`'s per-call work; and
how a path segment is quoted, a timeout recognised and an error body read.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

import requests


class Direct:
    """podman-py's `APIClient` with each request handed straight to the transport it mounted
    (podman-py's `UDSAdapter`, its pool of kept-alive connections): `requests.Session.request`
    merges settings, cookies, hooks and redirects per call, the largest share of this process's
    CPU per pod in a deploy, and none of it applies to a Unix socket. Same URLs, headers,
    timeouts and errors as `APIClient.get/post/delete` (`tests/executor/test_podmanapi.py`)."""

    def __init__(self, client: Any) -> None:
        self._prefix = f"http://{client.base_url.netloc}{client.path_prefix.rstrip('/')}"
        self._adapter = client.get_adapter("http://")
        self._headers = dict(client.headers)
        self._timeout = client.timeout

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        stream: bool = False,
    ) -> requests.Response:
        prepared = requests.PreparedRequest()
        prepared.prepare(
            method=method,
            url=f"{self._prefix}/{path.lstrip('/')}",
            headers={**self._headers, **(headers or {})},
            data=data,
            params=dict(params or {}),
        )
        response: requests.Response = self._adapter.send(
            prepared, stream=stream, timeout=timeout or self._timeout
        )
        if not stream:
            response.content  # noqa: B018 (read whole: the connection goes back to the pool)
        return response

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self._send("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self._send("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self._send("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self._send("DELETE", path, **kwargs)


def quote(name: str) -> str:
    """A name or id as one URL path segment (an image reference keeps its / : @)."""
    return urllib.parse.quote(name, safe="/:@")


def timed_out(exc: BaseException) -> bool:
    """Whether a requests/urllib3 failure was a read timeout (wrapped or not)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, requests.Timeout | TimeoutError) or "timed out" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def message(response: Any) -> str:
    """Podman's error text from a failed response (its JSON `message` or `cause`)."""
    try:
        body = response.json()
        return str(body.get("message") or body.get("cause") or body)
    except (ValueError, AttributeError):
        return str(response.text or f"HTTP {response.status_code}").strip()
