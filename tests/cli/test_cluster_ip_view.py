"""`get services` and `describe service` show each Service's cluster IP, and say which ports are
bound on it alone (shared with other Services); the daemon config's `service_cidr` is checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli import main as cli
from reconciler.cli import services
from reconciler.model import base, clusterips, objects
from reconciler.runtime import config as configmod


def service(name: str, port: int) -> objects.Service:
    return objects.Service(
        base.ObjectMeta(name=name, namespace="shop"),
        base.FrozenMap({"app": name}),
        (objects.ServicePort(port, port),),
    )


def state() -> objects.DesiredState:
    found = clusterips.assign(
        [service("a", 8080), service("b", 8080), service("c", 9000)],
        clusterips.network("198.19.128.0/17"),
    )
    return objects.DesiredState.of(found)


def test_rows_carry_the_cluster_ip_and_the_ports_bound_on_it_only() -> None:
    rows = {row["name"]: row for row in services.rows(state(), {}, "shop")}
    assert "CLUSTER-IP" in services.SERVICE_COLUMNS
    assert all(row["clusterIP"].startswith("198.19.") for row in rows.values())
    assert len({row["clusterIP"] for row in rows.values()}) == 3
    assert rows["a"]["clusterIPOnly"] == [8080] and rows["c"]["clusterIPOnly"] == []


def test_describe_names_the_ip_and_the_shared_port() -> None:
    desired = state()
    (b,) = [s for s in desired.services if s.meta.name == "b"]
    text = services.describe_text(desired, b, {}, {})
    assert f"IP:                {b.cluster_ip}\n" in text
    assert "Cluster IP only:   port(s) 8080 (shared with other Services" in text


def test_the_daemon_config_checks_its_service_cidr(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("repository: /srv/repo\n")
    assert configmod.load(path).service_cidr == "10.96.0.0/12"
    path.write_text("repository: /srv/repo\nservice_cidr: 198.19.128.0/17\n")
    assert configmod.load(path).service_cidr == "198.19.128.0/17"
    path.write_text("repository: /srv/repo\nservice_cidr: 10.96.0.1/16\n")
    with pytest.raises(configmod.ConfigError, match=r"service_cidr '10\.96\.0\.1/16'"):
        configmod.load(path)


def test_validate_checks_pinned_cluster_ips_against_its_service_cidr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECONCILER_CONFIG", "/dev/null")
    monkeypatch.delenv("RECONCILER_SERVICE_CIDR", raising=False)
    (tmp_path / "svc.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  clusterIP: 198.19.200.1\n"
        "  selector:\n    app: web\n  ports:\n    - port: 8080\n"
    )
    assert cli.main(["validate", str(tmp_path)]) == 1  # outside 10.96.0.0/12
    assert "not an address of the service CIDR 10.96.0.0/12" in capsys.readouterr().out
    assert cli.main(["validate", "--service-cidr", "198.19.128.0/17", str(tmp_path)]) == 0
    monkeypatch.setenv("RECONCILER_SERVICE_CIDR", "198.19.128.0/17")
    assert cli.main(["validate", str(tmp_path)]) == 0
    assert cli.main(["validate", "--service-cidr", "bad", str(tmp_path)]) == 2
    assert "--service-cidr: service_cidr 'bad'" in capsys.readouterr().err
