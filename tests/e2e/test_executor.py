"""PodmanSSHExecutor against the real test hosts: pods with files, secrets, volumes and published
ports; labels read back; no-op applies change nothing; hostile strings arrive exactly and never
reach a shell; bad images, wrong host keys, dead hosts and hand-made containers are handled.

Every test works in its own namespace (`e2e-<uuid>`) and removes what it made: other engineers use
the same hosts at the same time.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest

from reconciler.executor import podman_ssh, podmanspec
from reconciler.model import base, hoststate
from tests.harness import image
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e

Kind = hoststate.ActionKind
Outcome = hoststate.Outcome
CONNECT_TIMEOUT = 3.0
HOSTILE = 'it\'s "quoted"; $(touch /tmp/pwned-{tag}) `touch /tmp/pwned-{tag}` & |x>\nline 2 ü 🚀'


# ----- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def targets(lab: labmod.Lab) -> list[hoststate.HostTarget]:
    return [hoststate.HostTarget(h.name, h.address, 22, h.user) for h in lab.hosts()[:3]]


def make_executor(lab: labmod.Lab, **options: object) -> podman_ssh.PodmanSSHExecutor:
    return podman_ssh.PodmanSSHExecutor(
        lab.config.known_hosts,
        lab.config.key_file,
        connect_timeout=CONNECT_TIMEOUT,
        command_timeout=30,
        stop_timeout=1,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def executor(lab: labmod.Lab) -> Iterator[podman_ssh.PodmanSSHExecutor]:
    with make_executor(lab) as ex:
        yield ex


class Scratch:
    """A unique namespace on the hosts and the cleanup of everything made in it."""

    def __init__(self, lab: labmod.Lab) -> None:
        self.lab = lab
        self.tag = uuid.uuid4().hex[:8]
        self.namespace = f"e2e-{self.tag}"
        self.pods: list[tuple[str, str]] = []  # (host, podman name)
        self.manual: list[tuple[str, list[str]]] = []  # (host, cleanup argv)

    def run(self, name: str, host: str = "h1", **changes: object) -> hoststate.PodRun:
        fields: dict[str, object] = {
            "namespace": self.namespace,
            "name": name,
            "host": host,
            "spec_hash": "v1",
            "labels": base.FrozenMap({hoststate.LABEL_REVISION: "rev1", "app": name}),
            "containers": (
                hoststate.ContainerRun(
                    "main", self.lab.config.image, command=("sleep",), args=("1000",)
                ),
            ),
        }
        fields.update(changes)
        run = hoststate.PodRun(**fields)  # type: ignore[arg-type]
        self.pods.append((host, run.podman_name))
        return run

    def host(self, name: str) -> labmod.Host:
        return self.lab.get(name)

    def ssh(self, host: str, *argv: str, check: bool = True) -> str:
        return self.lab.ssh(self.host(host), *argv, check=check).stdout

    def remove_pod(self, host: str, pod: str) -> None:
        """`podman pod rm`, retried: under load podman can fail on a busy lock."""
        for _ in range(3):
            self.ssh(host, "podman", "pod", "rm", "-f", "-t", "0", pod, check=False)
            exists = self.lab.ssh(self.host(host), "podman", "pod", "exists", pod, check=False)
            if exists.returncode == 1:
                return
            time.sleep(1)
        print(f"warning: could not remove test pod {pod} on {host}")

    def cleanup(self) -> None:
        for host, pod in self.pods:
            self.remove_pod(host, pod)
        for host in {h for h, _ in self.pods}:
            found = self.ssh(
                host,
                "podman",
                "volume",
                "ls",
                "-q",
                "--filter",
                f"label={hoststate.LABEL_NAMESPACE}={self.namespace}",
                check=False,
            )
            for volume in found.split():
                self.ssh(host, "podman", "volume", "rm", "-f", volume, check=False)
            files = self.host(host).home / podmanspec.STATE_DIR / "pods" / self.namespace
            self.ssh(host, "rm", "-rf", str(files), check=False)
        for host, argv in self.manual:
            self.ssh(host, *argv, check=False)


@pytest.fixture
def scratch(lab: labmod.Lab) -> Iterator[Scratch]:
    made = Scratch(lab)
    try:
        yield made
    finally:
        made.cleanup()


def create(run: hoststate.PodRun) -> hoststate.Action:
    return hoststate.Action(Kind.CREATE, run.host, run.namespace, run.name, run=run)


def find(
    observation: dict[str, hoststate.HostObservation], run: hoststate.PodRun
) -> hoststate.ObservedPod:
    host = observation[run.host]
    assert host.reachable, host.error
    (pod,) = [p for p in host.pods if p.key == (run.namespace, run.name)]
    return pod


def free_port(address: str) -> int:
    for _ in range(50):
        port = 20000 + uuid.uuid4().int % 20000
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex((address, port)) != 0:
                return port
    raise AssertionError("no free port found")


def http_get(url: str, deadline: float = 10.0) -> str:
    end = time.monotonic() + deadline
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # test host address only
                return str(response.read().decode())
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


def inspect(scratch: Scratch, host: str, container: str) -> dict[str, object]:
    (data,) = json.loads(scratch.ssh(host, "podman", "container", "inspect", container))
    return dict(data)


# ----- the pod lifecycle -------------------------------------------------------------------------


def test_pod_lifecycle_files_secrets_volume_ports_noop_replace_delete(
    lab: labmod.Lab,
    scratch: Scratch,
    executor: podman_ssh.PodmanSSHExecutor,
    targets: list[hoststate.HostTarget],
) -> None:
    tag = f"e2e-{scratch.tag}"
    image.push_image(lab.config.registry, labmod.IMAGE_REPOSITORY, tag)
    fresh_image = f"{lab.config.registry}/{labmod.IMAGE_REPOSITORY}:{tag}"
    scratch.manual.append(("h2", ["podman", "rmi", "-f", fresh_image]))
    host = scratch.host("h2")
    port = free_port(host.address)
    pod_dir = f"pods/{scratch.namespace}/web"
    volume = f"{scratch.namespace}_web_cache"
    web = hoststate.ContainerRun(
        "web",
        fresh_image,
        command=("httpd",),
        args=("-f", "-p", "8080", "-h", "/www"),
        env=(("GREETING", "hello"), ("API_TOKEN", hoststate.Sensitive("t0ken-s3cret"))),
        mounts=(
            hoststate.Mount(hoststate.MountKind.BIND, f"{pod_dir}/config", "/etc/app", True),
            hoststate.Mount(hoststate.MountKind.BIND, f"{pod_dir}/secret", "/run/secret", True),
            hoststate.Mount(hoststate.MountKind.VOLUME, volume, "/cache"),
        ),
        memory_limit_bytes=64 * 1024 * 1024,
        cpu_limit_millis=500,
    )
    side = hoststate.ContainerRun(
        "side",
        lab.config.image,
        command=("sh", "-c", "echo from-side > /cache/note; exec sleep 1000"),
        mounts=(hoststate.Mount(hoststate.MountKind.VOLUME, volume, "/cache"),),
        working_dir="/cache",
    )
    run = scratch.run(
        "web",
        host="h2",
        containers=(web, side),
        ports=(hoststate.PortMapping(port, 8080),),
        files=(
            hoststate.HostFile(f"{pod_dir}/config/app.conf", b"mode=fast\n"),
            hoststate.HostFile(f"{pod_dir}/secret/token", b"t0ken-s3cret", 0o600, secret=True),
        ),
        volumes=(volume,),
        owner="Deployment/web",
    )
    before = executor.stats.snapshot()
    started = time.monotonic()
    (result,) = executor.apply(hoststate.Plan((create(run),)), targets)
    create_seconds = time.monotonic() - started
    assert result.outcome is Outcome.DONE, result.message
    after = executor.stats.snapshot()
    assert after.get("image_pull", 0) - before.get("image_pull", 0) == 1  # a real pull
    assert after["pod_create"] - before.get("pod_create", 0) == 1
    assert after["file_write"] - before.get("file_write", 0) == 2

    # Published port, answered by busybox httpd in the pod.
    assert "hello from the reconciler test image" in http_get(f"http://{host.address}:{port}/")
    # Files: on the host (secret 0600, state dir 0700), and inside the container.
    state = host.home / podmanspec.STATE_DIR / pod_dir
    mode = scratch.ssh("h2", "stat", "-c", "%a", str(state / "secret" / "token"), str(state))
    assert mode.split() == ["600", "755"]  # the secret; its pod directory (readable in-pod)
    top = scratch.ssh("h2", "stat", "-c", "%a", str(host.home / podmanspec.STATE_DIR))
    assert top.strip() == "700"  # the state directory itself is private
    assert (
        scratch.ssh("h2", "stat", "-c", "%a", str(state / "config" / "app.conf")).strip() == "644"
    )
    container = podmanspec.container_name(run, web)
    assert (
        scratch.ssh("h2", "podman", "exec", container, "cat", "/run/secret/token") == "t0ken-s3cret"
    )
    assert (
        scratch.ssh("h2", "podman", "exec", container, "cat", "/etc/app/app.conf") == "mode=fast\n"
    )
    # emptyDir shared by both containers; env as given (the secret's value, not its repr).
    assert scratch.ssh("h2", "podman", "exec", container, "cat", "/cache/note") == "from-side\n"
    env = inspect(scratch, "h2", container)["Config"]["Env"]  # type: ignore[index]
    assert "GREETING=hello" in env and "API_TOKEN=t0ken-s3cret" in env

    # observe: read back from labels.
    pod = find(executor.observe(targets), run)
    assert pod.spec_hash == "v1" and pod.owner == "Deployment/web" and pod.revision == "rev1"
    assert pod.labels["app"] == "web" and pod.labels[hoststate.MANAGED_BY] == hoststate.MANAGER
    assert pod.phase is hoststate.PodPhase.RUNNING
    assert [(c.name, c.state) for c in pod.containers] == [("web", "running"), ("side", "running")]
    assert pod.containers[0].image == fresh_image

    # A no-op reconcile (observe + empty plan) makes zero mutating calls on any host.
    quiet = executor.stats.mutations
    executor.observe(targets)
    assert (
        executor.apply(hoststate.Plan(unchanged=(("h2", run.namespace, run.name),)), targets) == []
    )
    assert executor.stats.mutations == quiet

    # Replace with a new spec: new env and file content, same port.
    new_web = dataclasses.replace(web, env=(("GREETING", "hi"),))
    new_run = dataclasses.replace(
        run,
        spec_hash="v2",
        files=(hoststate.HostFile(f"{pod_dir}/config/app.conf", b"mode=safe\n"), run.files[1]),
        containers=(new_web, side),
    )
    replace = hoststate.Action(
        Kind.REPLACE, "h2", run.namespace, run.name, run=new_run, observed=pod
    )
    (result,) = executor.apply(hoststate.Plan((replace,)), targets)
    assert result.outcome is Outcome.DONE, result.message
    pod = find(executor.observe(targets), run)
    assert pod.spec_hash == "v2"
    assert (
        scratch.ssh("h2", "podman", "exec", container, "cat", "/etc/app/app.conf") == "mode=safe\n"
    )
    assert "GREETING=hi" in inspect(scratch, "h2", container)["Config"]["Env"]  # type: ignore[index]
    assert "hello" in http_get(f"http://{host.address}:{port}/")

    # Delete: pod, volume and files are gone.
    delete = hoststate.Action(Kind.DELETE, "h2", run.namespace, run.name, observed=pod)
    (result,) = executor.apply(hoststate.Plan((delete,)), targets)
    assert result.outcome is Outcome.DONE, result.message
    assert all(p.key != pod.key for p in executor.observe(targets)["h2"].pods)
    exists = lab.ssh(host, "podman", "pod", "exists", run.podman_name, check=False)
    assert exists.returncode == 1
    assert scratch.ssh("h2", "podman", "volume", "ls", "-q", "--filter", f"name={volume}") == ""
    assert lab.ssh(host, "test", "-e", str(state), check=False).returncode == 1
    print(f"\ncreate of one 2-container pod with a real pull: {create_seconds:.2f}s")


# ----- hostile strings ---------------------------------------------------------------------------


def test_hostile_strings_arrive_exactly_and_never_reach_a_shell(
    scratch: Scratch,
    executor: podman_ssh.PodmanSSHExecutor,
    targets: list[hoststate.HostTarget],
) -> None:
    hostile = HOSTILE.format(tag=scratch.tag)
    marker = Path(f"/tmp/pwned-{scratch.tag}")  # the hosts share this machine's file system
    file_name = f'it\'s "odd"; $(touch {marker}) ü.conf'
    image_ref = scratch.lab.config.image
    echo = hoststate.ContainerRun("echo", image_ref, command=("echo", hostile), args=("second",))
    env = hoststate.ContainerRun(
        "env",
        image_ref,
        command=("cat", "/proc/self/environ"),
        env=(("HOSTILE", hostile), ("SECRET", hoststate.Sensitive(hostile))),
    )
    reader = hoststate.ContainerRun(
        "files",
        image_ref,
        command=("cat", f"/cfg/{file_name}"),
        mounts=(
            hoststate.Mount(
                hoststate.MountKind.BIND, f"pods/{scratch.namespace}/odd", "/cfg", True
            ),
        ),
    )
    run = scratch.run(
        "hostile",
        containers=(echo, env, reader),
        restart_policy="Never",
        labels=base.FrozenMap({"note": hostile, f"{hoststate.LABEL_PREFIX}x": hostile}),
        files=(hoststate.HostFile(f"pods/{scratch.namespace}/odd/{file_name}", hostile.encode()),),
    )
    (result,) = executor.apply(hoststate.Plan((create(run),)), targets)
    assert result.outcome is Outcome.DONE, result.message
    deadline = time.monotonic() + 15
    while True:
        pod = find(executor.observe(targets), run)
        if pod.phase is hoststate.PodPhase.SUCCEEDED or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert pod.phase is hoststate.PodPhase.SUCCEEDED, pod
    assert pod.labels["note"] == hostile

    name = podmanspec.container_name
    assert scratch.ssh("h1", "podman", "logs", name(run, echo)) == f"{hostile} second\n"
    environ = scratch.ssh("h1", "podman", "logs", name(run, env)).split("\0")
    assert f"HOSTILE={hostile}" in environ and f"SECRET={hostile}" in environ
    assert scratch.ssh("h1", "podman", "logs", name(run, reader)) == hostile
    data = inspect(scratch, "h1", name(run, echo))
    assert data["Config"]["Labels"]["note"] == hostile  # type: ignore[index]
    assert (data["Path"], data["Args"]) == ("echo", [hostile, "second"])
    hostile_name = scratch.run(f"x$(touch {marker})")
    (refused,) = executor.apply(hoststate.Plan((create(hostile_name),)), targets)
    assert refused.outcome is Outcome.FAILED and "not a valid podman name" in refused.message
    assert not marker.exists()
    assert scratch.ssh("h1", "ls", "/tmp").split().count(marker.name) == 0


# ----- failures scoped to one pod or one host ----------------------------------------------------


def test_missing_image_fails_that_pod_only(
    scratch: Scratch,
    executor: podman_ssh.PodmanSSHExecutor,
    targets: list[hoststate.HostTarget],
) -> None:
    missing = f"{scratch.lab.config.registry}/demo/does-not-exist-{scratch.tag}:1.0"
    bad = scratch.run("bad", host="h3", containers=(hoststate.ContainerRun("c", missing),))
    good = scratch.run("good", host="h3")
    failed, done = executor.apply(hoststate.Plan((create(bad), create(good))), targets)
    assert failed.outcome is Outcome.FAILED
    assert f"image {missing!r} could not be pulled" in failed.message
    assert "manifest unknown" in failed.message and "h3" in failed.message
    assert done.outcome is Outcome.DONE, done.message
    keys = [p.key for p in executor.observe(targets)["h3"].pods]
    assert (good.namespace, "good") in keys and (bad.namespace, "bad") not in keys
    exists = scratch.lab.ssh(
        scratch.host("h3"), "podman", "pod", "exists", bad.podman_name, check=False
    )
    assert exists.returncode == 1


def test_wrong_host_key_is_refused_naming_the_known_hosts_file(
    lab: labmod.Lab, scratch: Scratch, tmp_path: Path, targets: list[hoststate.HostTarget]
) -> None:
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().split()
    lines = lab.config.known_hosts.read_text().splitlines()
    h1 = scratch.host("h1").address
    known = tmp_path / "known_hosts"
    known.write_text(
        "\n".join(
            f"{h1} {impostor[0]} {impostor[1]}" if line.startswith(f"{h1} ") else line
            for line in lines
        )
        + "\n"
    )
    with podman_ssh.PodmanSSHExecutor(
        known, lab.config.key_file, connect_timeout=CONNECT_TIMEOUT
    ) as ex:
        observation = ex.observe(targets)
        assert not observation["h1"].reachable
        assert str(known) in observation["h1"].error and "host key" in observation["h1"].error
        assert observation["h2"].reachable and observation["h3"].reachable
        run = scratch.run("refused")
        (result,) = ex.apply(hoststate.Plan((create(run),)), targets)
        assert result.outcome is Outcome.SKIPPED and str(known) in result.message
        assert ex.stats.mutations == 0


def test_podman_api_not_answering_is_a_clear_host_error(
    lab: labmod.Lab, targets: list[hoststate.HostTarget]
) -> None:
    with make_executor(lab, podman_socket="{runtime_dir}/podman/absent.sock") as ex:
        observation = ex.observe(targets[:1])["h1"]
    assert not observation.reachable
    assert (
        "absent.sock does not answer" in observation.error and "podman.socket" in observation.error
    )


def test_unreachable_host_is_reported_and_the_others_converge(
    lab: labmod.Lab,
    scratch: Scratch,
    executor: podman_ssh.PodmanSSHExecutor,
    targets: list[hoststate.HostTarget],
) -> None:
    executor.observe(targets)  # connections to every host exist before the host goes away
    existing = scratch.run("stays", host="h3")
    (result,) = executor.apply(hoststate.Plan((create(existing),)), targets)
    assert result.outcome is Outcome.DONE, result.message
    lab.kill("h3")
    try:
        started = time.monotonic()
        observation = executor.observe(targets)
        elapsed = time.monotonic() - started
        assert not observation["h3"].reachable
        assert "host h3" in observation["h3"].error and "unreachable" in observation["h3"].error
        assert elapsed < CONNECT_TIMEOUT + 2, elapsed
        assert observation["h1"].reachable and observation["h2"].reachable

        with make_executor(lab) as fresh:  # a new connection: bounded by the connect timeout
            started = time.monotonic()
            assert not fresh.observe(targets)["h3"].reachable
            assert time.monotonic() - started < CONNECT_TIMEOUT + 2

        on_h3 = scratch.run("skipped", host="h3")
        on_h1 = scratch.run("converges", host="h1")
        skipped, done = executor.apply(hoststate.Plan((create(on_h3), create(on_h1))), targets)
        assert skipped.outcome is Outcome.SKIPPED and "h3" in skipped.message
        assert done.outcome is Outcome.DONE, done.message
    finally:
        lab.revive("h3")
    observation = executor.observe(targets)  # reconnects; nothing was assumed deleted
    assert observation["h3"].reachable, observation["h3"].error
    assert (existing.namespace, "stays") in [p.key for p in observation["h3"].pods]


def test_unmanaged_pods_and_containers_are_never_listed_or_touched(
    lab: labmod.Lab,
    scratch: Scratch,
    executor: podman_ssh.PodmanSSHExecutor,
    targets: list[hoststate.HostTarget],
) -> None:
    manual = f"manual-{scratch.tag}"
    squatter = scratch.run("taken")  # its podman name is taken by a hand-made pod
    scratch.pods.remove(("h1", squatter.podman_name))
    scratch.manual += [
        ("h1", ["podman", "rm", "-f", "-t", "0", manual]),
        ("h1", ["podman", "pod", "rm", "-f", "-t", "0", squatter.podman_name]),
    ]
    scratch.ssh(
        "h1",
        "podman",
        "run",
        "-d",
        "--name",
        manual,
        "--label",
        f"{hoststate.LABEL_NAME}=taken",
        lab.config.image,
        "sleep",
        "1000",
    )
    scratch.ssh(
        "h1",
        "podman",
        "pod",
        "create",
        "--name",
        squatter.podman_name,
        "--label",
        f"{hoststate.LABEL_NAMESPACE}={scratch.namespace}",
        "--label",
        f"{hoststate.LABEL_NAME}=taken",
    )
    pod_id = scratch.ssh(
        "h1", "podman", "pod", "inspect", "--format", "{{.ID}}", squatter.podman_name
    )

    observation = executor.observe(targets)["h1"]
    assert all(p.namespace != scratch.namespace for p in observation.pods)
    assert all(c.name != manual for p in observation.pods for c in p.containers)

    (result,) = executor.apply(hoststate.Plan((create(squatter),)), targets)
    assert result.outcome is Outcome.FAILED and "not created by the reconciler" in result.message
    fake_observed = hoststate.ObservedPod(scratch.namespace, "taken", "h1", pod_id.strip(), "v1")
    delete = hoststate.Action(Kind.DELETE, "h1", scratch.namespace, "taken", observed=fake_observed)
    (result,) = executor.apply(hoststate.Plan((delete,)), targets)
    assert result.outcome is Outcome.FAILED and "not created by the reconciler" in result.message
    still = scratch.ssh("h1", "podman", "ps", "-a", "--format", "{{.Names}}")
    assert manual in still.split()
    exists = lab.ssh(
        scratch.host("h1"), "podman", "pod", "exists", squatter.podman_name, check=False
    )
    assert exists.returncode == 0


def test_create_is_idempotent_and_a_half_created_pod_is_replaced(
    scratch: Scratch,
    executor: podman_ssh.PodmanSSHExecutor,
    targets: list[hoststate.HostTarget],
) -> None:
    run = scratch.run("again", host="h2")
    (first,) = executor.apply(hoststate.Plan((create(run),)), targets)
    assert first.outcome is Outcome.DONE, first.message
    quiet = executor.stats.mutations
    (second,) = executor.apply(hoststate.Plan((create(run),)), targets)
    assert second.outcome is Outcome.DONE and "already exists" in second.message
    assert executor.stats.mutations == quiet

    # A crash between `pod create` and `container create` leaves a labelled pod without its
    # containers: observe gives it no spec hash (so plans replace it) and create repairs it.
    leftover = scratch.run("leftover", host="h2")
    label_args: list[str] = []
    for key, value in podmanspec.pod_labels(leftover).items():
        label_args += ["--label", f"{key}={value}"]
    scratch.ssh("h2", "podman", "pod", "create", "--name", leftover.podman_name, *label_args)
    pod = find(executor.observe(targets), leftover)
    assert pod.spec_hash == "" and pod.containers == ()
    (repaired,) = executor.apply(hoststate.Plan((create(leftover),)), targets)
    assert repaired.outcome is Outcome.DONE, repaired.message
    pod = find(executor.observe(targets), leftover)
    assert pod.spec_hash == "v1" and [c.name for c in pod.containers] == ["main"]


def test_pod_that_cannot_start_fails_and_leaves_nothing_behind(
    scratch: Scratch,
    executor: podman_ssh.PodmanSSHExecutor,
    targets: list[hoststate.HostTarget],
) -> None:
    broken = hoststate.ContainerRun("main", scratch.lab.config.image, command=("/no/such/binary",))
    pod_dir = f"pods/{scratch.namespace}/broken"
    run = scratch.run(
        "broken",
        host="h3",
        containers=(broken,),
        files=(hoststate.HostFile(f"{pod_dir}/cfg/a.conf", b"x"),),
        volumes=(f"{scratch.namespace}_broken_tmp",),
    )
    (result,) = executor.apply(hoststate.Plan((create(run),)), targets)
    assert result.outcome is Outcome.FAILED
    assert "start pod failed" in result.message and "/no/such/binary" in result.message
    host = scratch.host("h3")
    assert scratch.lab.ssh(host, "podman", "pod", "exists", run.podman_name, check=False).returncode
    files = host.home / podmanspec.STATE_DIR / pod_dir
    assert scratch.lab.ssh(host, "test", "-e", str(files), check=False).returncode == 1
    volumes = scratch.ssh("h3", "podman", "volume", "ls", "-q")
    assert f"{scratch.namespace}_broken_tmp" not in volumes.split()


def test_host_path_is_mounted_and_a_symlink_out_of_it_is_refused(
    scratch: Scratch,
    executor: podman_ssh.PodmanSSHExecutor,
    targets: list[hoststate.HostTarget],
) -> None:
    shared = Path(f"/tmp/rc-hostpath-{scratch.tag}")  # the hosts share this machine's files
    link = Path(f"/tmp/rc-hostlink-{scratch.tag}")
    shared.mkdir(mode=0o755)
    try:
        (shared / "data.txt").write_text("from the host\n")
        (shared / "data.txt").chmod(0o644)
        link.symlink_to("/etc")
        image_ref = scratch.lab.config.image
        mount = hoststate.Mount(hoststate.MountKind.HOST_PATH, str(shared), "/data", True)
        sleeper = hoststate.ContainerRun(
            "main", image_ref, command=("sleep",), args=("1000",), mounts=(mount,)
        )
        good = scratch.run("hostpath", containers=(sleeper,))
        sneaky_mount = hoststate.Mount(hoststate.MountKind.HOST_PATH, str(link), "/data", True)
        sneaky = scratch.run(
            "sneaky",
            containers=(hoststate.ContainerRun("main", image_ref, mounts=(sneaky_mount,)),),
        )
        done, refused = executor.apply(hoststate.Plan((create(good), create(sneaky))), targets)
        assert done.outcome is Outcome.DONE, done.message
        container = podmanspec.container_name(good, good.containers[0])
        assert scratch.ssh("h1", "podman", "exec", container, "cat", "/data/data.txt") == (
            "from the host\n"
        )
        assert refused.outcome is Outcome.FAILED
        assert "resolves to '/etc' through a symbolic link" in refused.message
    finally:
        link.unlink(missing_ok=True)
        (shared / "data.txt").unlink(missing_ok=True)
        shared.rmdir()
