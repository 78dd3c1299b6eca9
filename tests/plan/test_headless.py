"""headless.configs / headless.sections and hostsfile.attach: a headless Service's pods each get
an address, a listener bound on it with that one pod behind it, and /etc/hosts lines in every
pod made while the Service exists. Planned with the real pipeline, then observed as the hosts
would report it (fakes, no I/O)."""

from __future__ import annotations

import dataclasses
import ipaddress

from reconciler.cli import services as servicescli
from reconciler.model import base, hoststate, loadbalancer, objects, podips, workloads
from reconciler.plan import headless, hostsfile, pipeline
from tests.plan import builders as b

HTTP = workloads.ContainerPort(8080, name="http")
CIDR = "198.19.128.0/17"


def host(name: str, address: str) -> objects.Host:
    return dataclasses.replace(b.host(name), address=address)


def service(name: str = "web", *, none: bool = True, port: int = 8080) -> objects.Service:
    return objects.Service(
        base.ObjectMeta(name=name, namespace="shop"),
        base.FrozenMap({"app": "web"}),
        (objects.ServicePort(port, "http", name="http"),),
        cluster_ip="None" if none else "198.19.128.10",
        pod_cidr=CIDR if none else "",
    )


def desired(*extra: objects.Object, replicas: int = 2) -> objects.DesiredState:
    web = b.deployment("web", replicas, b.spec(b.container(ports=(HTTP,))), namespace="shop")
    client = b.pod("client", b.spec(b.container()), namespace="shop")
    return b.state(b.namespace("shop"), web, client, host("h1", "198.18.0.11"),
                   host("h2", "198.18.0.12"), *extra)  # fmt: skip


def running(state: objects.DesiredState, **kw: object) -> dict[str, hoststate.HostObservation]:
    before = b.observations("h1", "h2")
    after = b.apply(pipeline.build_plan(state, before, "rev1"), before)
    return {
        name: dataclasses.replace(seen, pods=tuple(dataclasses.replace(p, **kw) for p in seen.pods))
        for name, seen in after.items()
    }


def test_each_ready_pod_gets_a_listener_on_its_own_address_with_itself_behind_it() -> None:
    state = desired(service())
    configs = headless.configs(state, running(state, ready=True))
    assert configs["h1"].listeners == configs["h2"].listeners
    listeners = configs["h1"].listeners
    assert len(listeners) == 2
    for item in listeners:
        (server,) = item.servers  # no balancing: one pod
        assert item.name == f"shop.web.{server.pod}.http"
        assert item.ports == item.address_ports == (8080,)
        assert item.bind(8080) == item.address
        assert ipaddress.ip_address(item.address) in ipaddress.ip_network(CIDR)
        assert server.port in range(42000, 45000)
    assert len({item.address for item in listeners}) == 2


def test_the_balanced_listener_is_not_made_for_a_headless_service() -> None:
    state = desired(service(), service("api", none=False, port=8000))
    names = [item.name for item in headless.configs(state, running(state, ready=True))["h1"]
             .listeners]  # fmt: skip
    assert "shop.api.http" in names  # the balanced Service: as before
    assert "shop.web.http" not in names and len(names) == 3


def test_pods_not_ready_have_no_listener_and_no_name() -> None:
    state = desired(service())
    observations = running(state, ready=False)
    config = headless.configs(state, observations)["h1"]
    assert config.listeners == ()
    assert all(item.text == "" for item in config.hosts_files)


def test_every_pod_with_the_file_gets_the_names_of_the_ready_pods() -> None:
    state = desired(service())
    observations = running(state, ready=True)
    configs = headless.configs(state, observations)
    sections = [s for config in configs.values() for s in config.hosts_files]
    assert len(sections) == 3  # two replicas and the client, each on its host
    addresses = {item.address for item in configs["h1"].listeners}
    for item in sections:
        lines = item.text.splitlines()
        assert {line.split("\t")[0] for line in lines} == addresses
        assert all(line.split("\t")[1] == "web web.shop web.shop.svc web.shop.svc.cluster.local"
                   for line in lines)  # fmt: skip
        assert item.path.startswith("volumes/shop/") and item.path.endswith("/.hosts/hosts")


def test_a_pod_with_hostname_and_subdomain_gets_its_own_name() -> None:
    solo = b.pod("solo", dataclasses.replace(b.spec(b.container(ports=(HTTP,))), hostname="one",
                                             subdomain="web"), namespace="shop")  # fmt: skip
    solo = dataclasses.replace(solo, meta=dataclasses.replace(
        solo.meta, labels=base.FrozenMap({"app": "web"})))  # fmt: skip
    state = desired(service(), solo, replicas=0)
    text = headless.sections(state, running(state, ready=True), ["shop"])["shop"]
    (line,) = text.splitlines()
    assert line.split("\t")[1].startswith("one.web.shop.svc.cluster.local web ")


def test_pods_made_while_a_headless_service_exists_bind_their_file_at_etc_hosts() -> None:
    state = desired(service())
    result = pipeline.build_plan(state, b.observations("h1", "h2"), "rev1")
    runs = [a.run for a in result.plan.actions if a.run is not None]
    assert runs
    for run in runs:
        (file,) = [f for f in run.files if f.path == hostsfile.path(run.namespace, run.name)]
        text = file.content.decode()
        assert "127.0.0.1\tlocalhost\n" in text and f"\t{run.name}\n" in text
        assert text.endswith(podips.MARKER + "\n")  # no pod is ready yet
        assert run.labels[hostsfile.LABEL_HOSTS_FILE] == file.path
        for container in run.containers:
            assert hoststate.Mount(hoststate.MountKind.BIND, file.path, "/etc/hosts",
                                   read_only=True) in container.mounts  # fmt: skip


def test_without_a_headless_service_pods_keep_podmans_etc_hosts() -> None:
    state = desired(service("api", none=False, port=8000))
    result = pipeline.build_plan(state, b.observations("h1", "h2"), "rev1")
    for action in result.plan.actions:
        assert action.run is None or hostsfile.LABEL_HOSTS_FILE not in action.run.labels
    observations = running(state, ready=True)
    assert all(c.hosts_files == () for c in headless.configs(state, observations).values())


def test_when_the_last_headless_service_goes_the_files_are_emptied() -> None:
    observations = running(desired(service()), ready=True)
    configs = headless.configs(desired(), observations)
    sections = [s for config in configs.values() for s in config.hosts_files]
    assert len(sections) == 3 and all(s.text == "" for s in sections)
    assert all(config.listeners == () for config in configs.values())


def test_a_draining_pod_leaves_the_names_and_drains_on_its_listener() -> None:
    state = desired(service())
    observations = running(state, ready=True)
    gone = next(p.key for seen in observations.values() for p in seen.pods
                if p.name.startswith("web-"))  # fmt: skip
    config = headless.configs(state, observations, draining=frozenset({gone}))["h1"]
    states = {item.servers[0].pod: item.servers[0].state for item in config.listeners}
    assert states[gone[1]] is loadbalancer.ServerState.DRAIN
    text = config.hosts_files[0].text if config.hosts_files else ""
    assert len(text.splitlines()) <= 1


def test_get_services_shows_each_pods_own_address() -> None:
    state = desired(service(), service("api", none=False, port=8000))
    observations = running(state, ready=True)
    shown = headless.pod_endpoints(state, observations)
    assert set(shown) == {("shop", "web")}
    ready, not_ready = shown[("shop", "web")]
    listeners = headless.configs(state, observations)["h1"].listeners
    assert ready == tuple(sorted(f"{item.address}:8080" for item in listeners
                                 if item.service == "web"))  # fmt: skip
    assert not_ready == () and len(ready) == 2
    waiting = headless.pod_endpoints(state, running(state, ready=False))[("shop", "web")]
    assert waiting[0] == () and len(waiting[1]) == 2


def test_a_headless_service_without_ports_answers_on_the_pods_own_ports() -> None:
    portless = dataclasses.replace(service(), ports=())
    state = desired(portless)
    observations = running(state, ready=True)
    listeners = headless.configs(state, observations)["h1"].listeners
    assert len(listeners) == 2
    for item in listeners:
        assert item.ports == (8080,) and item.port_name == "8080"  # the container port
        assert item.name.endswith(".8080") and item.servers[0].port in range(42000, 45000)
    ready, _ = headless.pod_endpoints(state, observations)[("shop", "web")]
    assert len(ready) == 2 and all(where.endswith(":8080") for where in ready)


def test_a_long_listener_name_is_hashed_down_to_a_token() -> None:
    long_pod = hoststate.ObservedPod("n" * 63, "p" * 63, "h1", "id", "hash")
    meta = base.ObjectMeta(name="s" * 63, namespace="n" * 63)
    member = headless.Member(dataclasses.replace(service(), meta=meta), long_pod,
                             "198.19.128.9", "198.18.0.11", True)  # fmt: skip
    name = headless.listener_name(member, "http-metrics")
    assert len(name) == 200 and loadbalancer.TOKEN.fullmatch(name)
    other = dataclasses.replace(member, pod=dataclasses.replace(long_pod, name="p" * 62 + "q"))
    assert headless.listener_name(other, "http-metrics") != name
    assert headless.listener_name(dataclasses.replace(member, pod=dataclasses.replace(
        long_pod, name="web-0")), "http") == f"{'n' * 63}.{'s' * 63}.web-0.http"  # fmt: skip


def test_describe_service_shows_the_pod_addresses() -> None:
    state = desired(service())
    observations = running(state, ready=True)
    text = servicescli.describe_text(state, service(), observations, {})
    listeners = headless.configs(state, observations)["h1"].listeners
    wanted = ",".join(sorted(f"{item.address}:8080" for item in listeners))
    assert f"Pod addresses:     {wanted}\n" in text and "IP:                None" in text
