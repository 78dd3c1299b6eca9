"""The lab's second registry, one that wants a login (htpasswd, plain HTTP at 198.18.0.1:5001),
holding the busybox image as `private/busybox:v1`: what `imagePullSecrets` are tested against.

`ensure(lab)` is idempotent and needs nothing but root and Debian's `docker-registry` and
`htpasswd` (apache2-utils): it starts the registry if it is not running, pushes the image with
the login, and makes every host of the lab trust it (its registries.conf). `stop(lab)` ends it.
Run by hand: `python -m tests.harness.authregistry up|down`.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.harness import hostsetup, image, lab, proc

USER = "puller"
PASSWORD = "pull-Secret-7f3a9c"
REPOSITORY = "private/busybox"
TAG = "v1"


@dataclass(frozen=True)
class AuthRegistry:
    """Where the registry answers and how to log in."""

    address: str  # host:port
    user: str = USER
    password: str = PASSWORD

    @property
    def image(self) -> str:
        return f"{self.address}/{REPOSITORY}:{TAG}"

    @property
    def basic(self) -> str:
        """The `Authorization` header value of the login."""
        return "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()

    def docker_config(self, password: str | None = None) -> str:
        """A `.dockerconfigjson` for this registry (`password` overrides the right one)."""
        secret = self.password if password is None else password
        auth = base64.b64encode(f"{self.user}:{secret}".encode()).decode()
        return json.dumps({"auths": {self.address: {"auth": auth}}})


def of(the_lab: lab.Lab) -> AuthRegistry:
    return AuthRegistry(f"{the_lab.config.gateway}:{hostsetup.AUTH_REGISTRY_PORT}")


def _dir(the_lab: lab.Lab) -> Path:
    return the_lab.config.state_dir / "authregistry"


def status(registry: AuthRegistry, auth: str = "") -> int:
    """The HTTP status of `GET /v2/` (0 when nothing answers): 401 without a login."""
    request = urllib.request.Request(f"http://{registry.address}/v2/")
    if auth:
        request.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return 0


def ensure(the_lab: lab.Lab) -> AuthRegistry:
    """Running, holding the image, trusted by every host of the lab (as HTTP). Idempotent."""
    registry = of(the_lab)
    data = _dir(the_lab)
    pid_file = data / "registry.pid"
    if not proc.pid_alive(proc.read_pid(pid_file)):
        host, _, port = registry.address.rpartition(":")
        if proc.port_open(host, int(port)):
            raise proc.HarnessError(f"port {registry.address} is in use by another process")
        htpasswd = data / "htpasswd"
        line = proc.run(["htpasswd", "-Bbn", registry.user, registry.password]).stdout
        proc.write_file(htpasswd, line.strip() + "\n", 0o600)
        config = data / "config.yml"
        proc.write_file(config, "\n".join([
            "version: 0.1", "log:", "  level: error", "storage:", "  filesystem:",
            f"    rootdirectory: {data / 'data'}", "http:", f"  addr: {registry.address}",
            "auth:", "  htpasswd:", "    realm: reconciler-test", f"    path: {htpasswd}", "",
        ]))  # fmt: skip
        with (data / "registry.log").open("ab") as log:
            process = subprocess.Popen(
                [proc.which("docker-registry") or "docker-registry", "serve", str(config)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            )  # fmt: skip
        pid_file.write_text(f"{process.pid}\n")
        proc.wait_for(lambda: status(registry) == 401, f"the registry at {registry.address}")
    image.push_image(registry.address, REPOSITORY, TAG, auth=registry.basic)
    trust(the_lab)
    return registry


def trust(the_lab: lab.Lab) -> None:
    """Every host's registries.conf lists the registry as insecure (hosts made before it
    existed get the file rewritten; Podman reads it again at each pull)."""
    text = hostsetup.registries_conf(the_lab.config.registry)
    for host in the_lab.load_state().hosts.values():
        path = host.home / ".config" / "containers" / "registries.conf"
        if path.parent.is_dir() and (not path.exists() or path.read_text() != text):
            proc.write_file(path, text, owner_uid=host.uid)


def stop(the_lab: lab.Lab) -> None:
    data = _dir(the_lab)
    proc.stop_pid(proc.read_pid(data / "registry.pid"))
    (data / "registry.pid").unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    the_lab = lab.Lab()
    if argv[:1] == ["up"]:
        registry = ensure(the_lab)
        print(f"registry {registry.address} (login {registry.user}) image {registry.image}")
        return 0
    if argv[:1] == ["down"]:
        stop(the_lab)
        return 0
    print("usage: python -m tests.harness.authregistry up|down", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
