"""PodRun ▶ libpod JSON for Services: published pod ports on every address, the Service
variables under the container's own env, and /etc/hosts names (`hostadd`), on the infra
container of a multi-container pod or on the only container."""

from __future__ import annotations

import dataclasses

import pytest

from reconciler.executor import errors, podmanspec
from reconciler.model import base, hoststate


def make_run(containers: int = 1) -> hoststate.PodRun:
    return hoststate.PodRun(
        namespace="shop",
        name="web-1",
        host="h1",
        spec_hash="h",
        labels=base.FrozenMap({"app": "web"}),
        containers=tuple(
            hoststate.ContainerRun(f"c{i}", "img", env=(("WEB_SERVICE_PORT", "own"),))
            for i in range(containers)
        ),
        published_ports=(hoststate.PortMapping(42000, 8080, "tcp", ""),),
        service_env=(("WEB_SERVICE_HOST", "198.18.0.11"), ("WEB_SERVICE_PORT", "8000")),
        host_aliases=(("web", "198.18.0.11"), ("web.shop", "198.18.0.11")),
    )


def test_a_single_container_publishes_and_resolves_itself() -> None:
    run = make_run()
    spec = podmanspec.container_spec(run, run.containers[0], "/state", 10)
    assert spec["portmappings"] == [
        {"host_ip": "", "host_port": 42000, "container_port": 8080, "protocol": "tcp"}
    ]
    assert spec["hostadd"] == ["web:198.18.0.11", "web.shop:198.18.0.11"]
    assert spec["env"] == {"WEB_SERVICE_HOST": "198.18.0.11", "WEB_SERVICE_PORT": "own"}
    assert "hostadd" not in podmanspec.pod_spec(run)


def test_several_containers_get_them_on_the_infra_container() -> None:
    run = make_run(containers=2)
    pod = podmanspec.pod_spec(run)
    assert pod["hostadd"] == ["web:198.18.0.11", "web.shop:198.18.0.11"]
    assert pod["portmappings"][0]["host_port"] == 42000
    spec = podmanspec.container_spec(run, run.containers[1], "/state", 10)
    assert "hostadd" not in spec and "portmappings" not in spec
    assert spec["env"]["WEB_SERVICE_HOST"] == "198.18.0.11"


def test_nothing_added_without_services() -> None:
    run = dataclasses.replace(make_run(), published_ports=(), service_env=(), host_aliases=())
    spec = podmanspec.container_spec(run, run.containers[0], "/state", 10)
    assert "hostadd" not in spec and "portmappings" not in spec
    assert spec["env"] == {"WEB_SERVICE_PORT": "own"}


def test_a_host_alias_that_is_not_a_name_and_an_ip_is_refused() -> None:
    for alias in (("web\n1.2.3.4 evil", "198.18.0.11"), ("web", "198.18.0.11 evil"),
                  ("web:x", "198.18.0.11"), ("web", "node.example")):  # fmt: skip
        run = dataclasses.replace(make_run(), host_aliases=(alias,))
        with pytest.raises(errors.InvalidRun):
            podmanspec.validate(run)
    podmanspec.validate(make_run())
