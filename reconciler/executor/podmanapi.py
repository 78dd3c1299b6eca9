"""Podman's libpod REST API for one host, through podman-py's `APIClient` on the locally forwarded
socket. Bodies are JSON (user data never meets a shell); each mutating call is counted in the
executor's stats; transport and HTTP failures become executor errors here, once.

`hostops` and `podcreate` call these from worker threads; podman-py is synchronous and
thread-safe enough for concurrent requests (a bounded connection pool; `podmanhttp`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import podman
import podman.errors
import requests

from reconciler.executor import errors, podevents, podmanhttp, protocol

log = logging.getLogger(__name__)

Filters = Mapping[str, list[str]]


class PodmanAPI:
    """The calls the executor makes, nothing else (no generic passthrough)."""

    def __init__(
        self,
        host: str,
        local_socket: str,
        stats: protocol.ExecutorStats,
        *,
        transport_error: Callable[[str, BaseException, float], errors.HostError],
        timeout: float,
        pull_timeout: float,
        ping_timeout: float,
        pool_size: int,
    ) -> None:
        self.host = host
        self._stats = stats
        self._transport_error = transport_error
        self._timeout = timeout
        self._pull_timeout = pull_timeout
        self._ping_timeout = ping_timeout
        self._answered_at = 0.0  # time.monotonic() of Podman's last answer here (0: none yet)
        self._client = podman.PodmanClient(
            base_url=f"unix://{local_socket}", timeout=timeout, max_pool_size=pool_size
        )
        self._api: Any = podmanhttp.Direct(self._client.api)

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]

    def answer_age(self) -> float | None:
        """Seconds since Podman last answered any call here (a 4xx status is an answer too,
        a 5xx is not); None before the first. The host's heartbeat, apart from its health checks."""
        at = self._answered_at
        return None if at == 0.0 else max(0.0, time.monotonic() - at)

    def answered_since(self, started: float) -> bool:
        """Whether any call here was answered after `started` (time.monotonic())."""
        return self._answered_at > started

    # ----- plumbing ----------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        mutation: protocol.Mutation | None = None,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        stream: bool = False,
        ok_missing: bool = False,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> Any:
        """One HTTP request; returns the response (None for a 404 when `ok_missing`). A
        mutation is counted unless Podman refused it (4xx: nothing changed, e.g. a pod create
        refused with 409 because the name is taken); one lost in transport may have happened."""
        if mutation is None:
            self._stats.count_read()
        kwargs: dict[str, Any] = {"params": dict(params or {}), "timeout": timeout or self._timeout}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["headers"] = {"content-type": "application/json"}
        if content is not None:  # a raw body (a tar archive)
            kwargs["data"] = content
        if stream:
            kwargs["stream"] = True
        if headers:
            kwargs["headers"] = {**kwargs.get("headers", {}), **headers}
        started = time.monotonic()
        try:
            response = getattr(self._api, method)(path, **kwargs)
        except (podman.errors.APIError, requests.RequestException, OSError) as exc:
            if mutation is not None:
                self._stats.count(mutation)
            cause = exc.__cause__ if isinstance(exc, podman.errors.APIError) else exc
            raise self._transport_error(operation, cause or exc, started) from exc
        if mutation is not None and not 400 <= response.status_code < 500:
            self._stats.count(mutation)
        if response.status_code < 500:  # the API works (a 404 is an answer; a 500 is trouble)
            self._answered_at = time.monotonic()
        if ok_missing and response.status_code == 404:
            return None
        if response.status_code >= 400:
            detail = podmanhttp.message(response)
            raise errors.OperationFailed(operation, detail, response.status_code)
        return response

    # ----- reads -------------------------------------------------------------------------

    def ping(self) -> None:
        self._call("get", "/_ping", "ping the Podman API", timeout=self._ping_timeout)

    def list_pods(self, filters: Filters) -> list[dict[str, Any]]:
        params = {"filters": json.dumps(filters)}
        return list(self._call("get", "/pods/json", "list pods", params=params).json() or [])

    def list_containers(self, filters: Filters) -> list[dict[str, Any]]:
        params = {"all": "true", "filters": json.dumps(filters)}
        found = self._call("get", "/containers/json", "list containers", params=params).json()
        return list(found or [])

    def inspect_container(self, container_id: str) -> dict[str, Any] | None:
        path = f"/containers/{podmanhttp.quote(container_id)}/json"
        response = self._call("get", path, "inspect container", ok_missing=True)
        return None if response is None else dict(response.json())

    def inspect_pod(self, pod: str) -> dict[str, Any] | None:
        path = f"/pods/{podmanhttp.quote(pod)}/json"
        response = self._call("get", path, "inspect pod", ok_missing=True)
        return None if response is None else dict(response.json())

    def image_exists(self, image: str) -> bool:
        path = f"/images/{podmanhttp.quote(image)}/exists"
        return self._call("get", path, "check image", ok_missing=True) is not None

    def inspect_image(self, image: str) -> dict[str, Any] | None:
        path = f"/images/{podmanhttp.quote(image)}/json"
        response = self._call("get", path, "inspect image", ok_missing=True)
        return None if response is None else dict(response.json())

    def inspect_volume(self, name: str) -> dict[str, Any] | None:
        path = f"/volumes/{podmanhttp.quote(name)}/json"
        response = self._call("get", path, "inspect volume", ok_missing=True)
        return None if response is None else dict(response.json())

    def list_volumes(self, filters: Filters) -> list[dict[str, Any]]:
        params = {"filters": json.dumps(filters)}
        return list(self._call("get", "/volumes/json", "list volumes", params=params).json() or [])

    def events(self, filters: Filters, since: str) -> list[dict[str, Any]]:
        """The logged events matching `filters` since `since` (a Unix time or a duration such
        as "3600s", by the host's clock), oldest first, without waiting for new ones."""
        params = {"stream": "false", "since": since, "filters": json.dumps(filters)}
        response = self._call("get", "/events", "read events", params=params)
        try:
            return podevents.decode(response.text)
        except ValueError as exc:
            raise errors.OperationFailed("read events", str(exc)) from exc

    def container_stats(self) -> list[dict[str, Any]]:
        """One sample of every running container (`CPUNano`, `MemUsage`); an
        `OperationFailed` where Podman has no stats (rootless on cgroup v1)."""
        params = {"stream": "false"}
        body = self._call("get", "/containers/stats", "container stats", params=params).json()
        if isinstance(body, dict) and body.get("Error"):
            raise errors.OperationFailed("container stats", str(body["Error"]))
        stats = body.get("Stats") if isinstance(body, dict) else body
        return [dict(item) for item in stats or [] if isinstance(item, dict)]

    # ----- exec (probes) ------------------------------------------------------------------

    def exec_create(self, container_id: str, command: list[str]) -> str:
        """An exec session running `command` (argv, no shell) in the container; its id."""
        body = {"Cmd": command, "AttachStdout": True, "AttachStderr": True}
        path = f"/containers/{podmanhttp.quote(container_id)}/exec"
        return str(self._call("post", path, "create exec", body=body).json()["Id"])

    def exec_run(self, exec_id: str, timeout: float) -> bool:
        """Start the exec session attached and wait for it to end, discarding its output; False
        when it did not end within `timeout` seconds (it keeps running in the container; the
        connection stays usable: a slow command is not a lost host)."""
        started = time.monotonic()
        deadline = started + timeout
        path = f"/exec/{podmanhttp.quote(exec_id)}/start"
        self._stats.count_read()
        try:
            response = self._api.post(
                path,
                data=json.dumps({"Detach": False, "Tty": False}),
                headers={"content-type": "application/json"},
                timeout=timeout,
                stream=True,
            )
        except requests.Timeout:
            return False
        except (podman.errors.APIError, requests.RequestException, OSError) as exc:
            if podmanhttp.timed_out(exc):
                return False
            raise self._transport_error("start exec", exc.__cause__ or exc, started) from exc
        self._answered_at = time.monotonic()
        try:
            if response.status_code >= 400:
                detail = podmanhttp.message(response)
                raise errors.OperationFailed("start exec", detail, response.status_code)
            for _chunk in response.iter_content(chunk_size=16384):
                if time.monotonic() > deadline:
                    return False
        except (requests.RequestException, OSError) as exc:
            if podmanhttp.timed_out(exc):
                return False
            raise self._transport_error("start exec", exc, started) from exc
        finally:
            response.close()
        return True

    def exec_inspect(self, exec_id: str) -> dict[str, Any]:
        """The exec session's state: `Running`, `ExitCode`."""
        path = f"/exec/{podmanhttp.quote(exec_id)}/json"
        return dict(self._call("get", path, "inspect exec").json())

    # ----- changes -----------------------------------------------------------------------

    def pull(self, image: str, registry_auth: str = "") -> str:
        """Pull `image` from its registry; returns the image id. A pull that reports an error
        or no image is an `OperationFailed` (podman-py would hand back an empty Image).
        `registry_auth`: an `X-Registry-Auth` header value (`pullauth.header`), sent as a header
        only: the login never enters a URL, a file on the host or a message."""
        params = {"reference": image, "policy": "always", "compatMode": "false"}
        response = self._call(
            "post",
            "/images/pull",
            "pull",
            mutation=protocol.Mutation.IMAGE_PULL,
            params=params,
            timeout=self._pull_timeout,
            stream=True,
            headers={"X-Registry-Auth": registry_auth} if registry_auth else None,
        )
        image_id = ""
        problem = ""
        started = time.monotonic()
        try:
            for line in response.iter_lines():
                if not line:
                    continue
                try:
                    item = json.loads(line)
                except ValueError:
                    continue
                if item.get("error"):
                    problem = str(item["error"]).strip()
                image_id = str(item.get("id") or image_id)
        except (requests.RequestException, OSError) as exc:
            raise self._transport_error("pull", exc, started) from exc
        finally:
            response.close()
        if problem or not image_id:
            raise errors.OperationFailed("pull", problem or "podman reported no pulled image")
        return image_id

    def create_pod(self, spec: Mapping[str, Any]) -> str:
        response = self._call(
            "post", "/pods/create", "create pod", mutation=protocol.Mutation.POD_CREATE, body=spec
        )
        return str(response.json()["Id"])

    def create_container(self, spec: Mapping[str, Any]) -> tuple[str, list[str]]:
        """Returns the container id and podman's warnings (e.g. limits ignored on cgroup v1)."""
        response = self._call(
            "post",
            "/containers/create",
            f"create container {spec.get('name', '')}",
            mutation=protocol.Mutation.CONTAINER_CREATE,
            body=spec,
        )
        body = response.json()
        return str(body["Id"]), [str(w) for w in body.get("Warnings") or []]

    def start_pod(self, pod: str) -> None:
        path = f"/pods/{podmanhttp.quote(pod)}/start"
        response = self._call("post", path, "start pod", mutation=protocol.Mutation.POD_START)
        if response.status_code != 304:
            errs = (response.json() or {}).get("Errs")
            if errs:
                raise errors.OperationFailed("start pod", "; ".join(str(e) for e in errs))

    def stop_pod(self, pod: str, timeout: float) -> None:
        self._call(
            "post",
            f"/pods/{podmanhttp.quote(pod)}/stop",
            "stop pod",
            mutation=protocol.Mutation.POD_STOP,
            timeout=self._timeout + timeout,
            ok_missing=True,
        )

    def restart_container(self, container_id: str, stop_timeout: float) -> None:
        """Stop the container if it runs (SIGTERM, SIGKILL after its own stop timeout), then
        start it; an exited container is just started."""
        self._call(
            "post",
            f"/containers/{podmanhttp.quote(container_id)}/restart",
            "restart container",
            mutation=protocol.Mutation.CONTAINER_RESTART,
            timeout=self._timeout + stop_timeout,
        )

    def remove_pod(self, pod: str) -> None:
        self._call(
            "delete",
            f"/pods/{podmanhttp.quote(pod)}",
            "remove pod",
            mutation=protocol.Mutation.POD_REMOVE,
            params={"force": "true"},
            ok_missing=True,
        )

    def create_volume(self, spec: Mapping[str, Any]) -> None:
        self._call(
            "post",
            "/volumes/create",
            "create volume",
            mutation=protocol.Mutation.VOLUME_CREATE,
            body=spec,
        )

    def remove_volume(self, name: str) -> None:
        self._call(
            "delete",
            f"/volumes/{podmanhttp.quote(name)}",
            "remove volume",
            mutation=protocol.Mutation.VOLUME_REMOVE,
            params={"force": "true"},
            ok_missing=True,
        )

    def put_archive(self, container_id: str, path: str, archive: bytes) -> None:
        """Unpack a tar `archive` at `path` of a container (running or only created) with the
        owners and modes its entries carry (`copyUIDGID=false`: not the container's user)."""
        self._call(
            "put",
            f"/containers/{podmanhttp.quote(container_id)}/archive",
            "put archive",
            mutation=protocol.Mutation.FILE_WRITE,
            params={"path": path, "copyUIDGID": "false"},
            headers={"content-type": "application/x-tar"},
            content=archive,
        )

    def start_container(self, container_id: str) -> None:
        """Start a created or exited container (Podman starts its pod's infra container first);
        one that runs already is left as it is (304)."""
        self._call(
            "post",
            f"/containers/{podmanhttp.quote(container_id)}/start",
            "start container",
            mutation=protocol.Mutation.CONTAINER_RESTART,
        )

    def stop_container(self, container_id: str, timeout: float) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds (a failed postStart hook kills it)."""
        self._call(
            "post",
            f"/containers/{podmanhttp.quote(container_id)}/stop",
            "stop container",
            mutation=protocol.Mutation.POD_STOP,
            params={"timeout": int(timeout)},
            timeout=self._timeout + timeout,
            ok_missing=True,
        )
