"""Service checks in `validate`: ports two objects would both bind on every host (with both
files and lines), ports Services share on their cluster IPs, pinned cluster IPs, selectors
matching nothing (a warning), target ports the pods do not declare,
rootless ports, types and protocols that are not built, and hostile values in every field that
reaches the load balancer."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest

from reconciler.manifests import loader
from reconciler.model import diagnostics as dg
from reconciler.plan import endpoints

NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"


def deployment(name: str = "web", ports: str = "[{name: http, containerPort: 8080}]") -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: shop
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
        - name: c
          image: img
          ports: {ports}
"""


def service(name: str = "web", port: object = 8000, target: object = "http", app: str = "web",
            extra: str = "") -> str:  # fmt: skip
    return f"""apiVersion: v1
kind: Service
metadata:
  name: {json.dumps(name)}
  namespace: shop
spec:
  selector:
    app: {json.dumps(app)}
  ports:
    - name: http
      port: {port}
      targetPort: {json.dumps(target)}
{extra}"""


def load(tmp_path: Path, **files: str) -> loader.LoadResult:
    (tmp_path / "ns.yaml").write_text(NAMESPACE)
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    return loader.load_repository(tmp_path)


def lines(result: loader.LoadResult) -> list[str]:
    return [d.format() for d in result.diagnostics]


def test_a_service_that_selects_declared_ports_is_valid_without_warnings(tmp_path: Path) -> None:
    result = load(tmp_path, web=deployment() + "---\n" + service())
    assert lines(result) == []


def test_two_services_on_one_port_share_it_on_their_cluster_ips(tmp_path: Path) -> None:
    result = load(tmp_path, a=deployment() + "---\n" + service(),
                  b=service("other", 8000))  # fmt: skip
    assert result.ok, lines(result)
    shared = [d for d in result.diagnostics if d.code is dg.Code.SHARED_PORT]
    assert [(d.file, d.path) for d in shared] == [
        ("a.yaml", "spec.ports[0].port"), ("b.yaml", "spec.ports[0].port")]  # fmt: skip
    assert all(d.severity is dg.Severity.WARNING for d in shared)
    assert "shared with Service shop/other (b.yaml:11" in shared[0].message
    assert "on its own cluster IP only" in shared[0].message
    assert "not from outside" in shared[0].message


def test_a_port_shared_with_a_host_wide_load_balancer_is_refused(tmp_path: Path) -> None:
    wide = service("lb", 8000).replace("spec:\n", "spec:\n  type: LoadBalancer\n", 1)
    result = load(tmp_path, a=deployment() + "---\n" + service(), b=wide)
    (error,) = result.errors
    assert error.format() == (
        "b.yaml:12:13: error: spec.ports[0].port: port 8000 is also bound by Service shop/web "
        "(a.yaml:31, spec.ports[0].port): one of them listens on it on every host's addresses "
        "(a nodePort, or the port of a NodePort/LoadBalancer Service without nodePort)"
    )


def test_a_node_port_service_with_a_node_port_shares_its_port(tmp_path: Path) -> None:
    text = service("np", 8000, extra="      nodePort: 30080\n").replace(
        "spec:\n", "spec:\n  type: NodePort\n", 1)  # fmt: skip
    result = load(tmp_path, a=deployment() + "---\n" + service(), b=text)
    assert result.ok, lines(result)


def test_one_service_twice_on_one_port_is_refused(tmp_path: Path) -> None:
    text = service().replace("  ports:\n", "  ports:\n    - {name: b, port: 8000}\n", 1)
    result = load(tmp_path, a=deployment() + "---\n" + text)
    assert not result.ok


def test_a_pinned_cluster_ip_in_the_cidr_is_kept(tmp_path: Path) -> None:
    text = service().replace("spec:\n", "spec:\n  clusterIP: 10.96.7.7\n", 1)
    result = load(tmp_path, a=deployment() + "---\n" + text, b=service("other", 9000))
    assert result.ok, lines(result)
    ips = {s.meta.name: s.cluster_ip for s in result.state.services}
    assert ips["web"] == "10.96.7.7"
    assert ipaddress.ip_address(ips["other"]) in ipaddress.ip_network("10.96.0.0/12")
    assert ips["other"] != "10.96.7.7"


def test_two_services_pinning_one_cluster_ip_are_refused(tmp_path: Path) -> None:
    pin = "spec:\n  clusterIP: 10.96.7.7\n"
    result = load(tmp_path, a=deployment() + "---\n" + service().replace("spec:\n", pin, 1),
                  b=service("other", 9000).replace("spec:\n", pin, 1))  # fmt: skip
    (error,) = result.errors
    assert error.path == "spec.clusterIP" and error.file == "b.yaml"
    assert "also the clusterIP of Service shop/web" in error.message


def test_the_service_cidr_is_a_load_setting(tmp_path: Path) -> None:
    (tmp_path / "ns.yaml").write_text(NAMESPACE)
    (tmp_path / "a.yaml").write_text(
        service().replace("spec:\n", "spec:\n  clusterIP: 10.96.7.7\n", 1)
    )
    result = loader.load_repository(tmp_path, service_cidr="198.19.128.0/17")
    (error,) = result.errors
    assert error.path == "spec.clusterIP" and error.line == 7
    assert "not an address of the service CIDR 198.19.128.0/17" in error.message
    with pytest.raises(loader.RepositoryError, match="service_cidr"):
        loader.load_repository(tmp_path, service_cidr="10.96.0.1/16")


def test_a_node_port_clashing_with_another_services_port(tmp_path: Path) -> None:
    extra = "      nodePort: 30080\n"
    text = service(extra=extra).replace("spec:\n", "spec:\n  type: NodePort\n", 1)
    result = load(tmp_path, a=deployment() + "---\n" + text, b=service("b", 30080))
    assert [d.path for d in result.errors] == ["spec.ports[0].port"]
    assert "30080 is also bound by Service shop/web" in result.errors[0].message


def test_a_service_port_equal_to_a_host_port(tmp_path: Path) -> None:
    ports = "[{name: http, containerPort: 8080, hostPort: 8000}]"
    result = load(tmp_path, web=deployment(ports=ports) + "---\n" + service())
    (error,) = result.errors
    assert error.path == "spec.template.spec.containers[0].ports[0].hostPort"
    assert "hostPort 8000 is the port of Service shop/web (web.yaml:" in error.message


def test_a_host_port_in_the_allocated_range(tmp_path: Path) -> None:
    ports = "[{name: http, containerPort: 8080, hostPort: 42000}]"
    result = load(tmp_path, web=deployment(ports=ports))
    (error,) = result.errors
    assert "41000-44999" in error.message


def test_a_selector_matching_nothing_is_a_warning(tmp_path: Path) -> None:
    result = load(tmp_path, web=deployment() + "---\n" + service(app="nothing"))
    assert result.ok
    (warning,) = result.diagnostics
    assert warning.severity is dg.Severity.WARNING and warning.path == "spec.selector"
    assert "matches no Pod or Deployment template" in warning.message


def test_a_target_port_name_the_pods_do_not_declare_is_an_error(tmp_path: Path) -> None:
    result = load(tmp_path, web=deployment() + "---\n" + service(target="metrics"))
    (error,) = result.errors
    assert error.path == "spec.ports[0].targetPort"
    assert "declare no TCP port name 'metrics'" in error.message


def test_an_undeclared_target_port_number_is_published_with_a_warning(tmp_path: Path) -> None:
    """As in Kubernetes (ports are informational); the warning says running pods get it only
    when replaced."""
    result = load(tmp_path, web=deployment() + "---\n" + service(target=9999))
    assert result.ok, lines(result)
    (warning,) = [d for d in result.diagnostics if d.code is dg.Code.MISSING_REFERENCE]
    assert warning.severity is dg.Severity.WARNING
    assert warning.path == "spec.ports[0].targetPort"
    assert "targetPort 9999 is not declared" in warning.message
    assert "next replaced" in warning.message


def test_a_default_target_port_is_the_port(tmp_path: Path) -> None:
    text = service().replace('      targetPort: "http"\n', "")
    result = load(tmp_path, web=deployment() + "---\n" + text)
    assert result.ok, lines(result)
    (warning,) = [d for d in result.diagnostics if d.code is dg.Code.MISSING_REFERENCE]
    assert warning.path == "spec.ports[0].port" and "targetPort 8000" in warning.message


def test_a_target_port_only_some_selected_pods_declare_is_a_warning(tmp_path: Path) -> None:
    other = deployment("web2").replace("app: web2", "app: web")
    other = other.replace("[{name: http, containerPort: 8080}]", "[{containerPort: 8080}]")
    result = load(tmp_path, web=deployment() + "---\n" + service(), other=other)
    assert result.ok
    (warning,) = result.diagnostics
    assert "Deployment shop/web2" in warning.message


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        (service(port=42001), "41000-44999"),
        (service().replace("spec:\n", "spec:\n  type: NodePort\n  clusterIP: None\n", 1),
         "a NodePort Service cannot be headless (clusterIP: None)"),
        (service().replace("spec:\n", "spec:\n  clusterIP: 10.0.0.9\n", 1),
         "clusterIP 10.0.0.9 is not an address of the service CIDR 10.96.0.0/12"),
        (service().replace("spec:\n", "spec:\n  clusterIP: web\n", 1),
         "clusterIP 'web' is not an IP address"),
        (service(extra="      nodePort: 8080\n").replace("spec:\n", "spec:\n  type: NodePort\n"),
         "nodePort 8080 is outside 30000-32767"),
        (service(extra="      protocol: UDP\n"), "protocol UDP is not built"),
        (service(name="1web"), "must start with a letter"),
        (service(extra="      appProtocol: 'a b'\n"), "appProtocol 'a b' is not valid"),
    ],
)
def test_refused_services(tmp_path: Path, text: str, wanted: str) -> None:
    result = load(tmp_path, web=deployment() + "---\n" + text)
    assert not result.ok
    assert any(wanted in d.message for d in result.errors), lines(result)


def test_a_port_below_1024_is_a_warning_that_names_the_host_setting(tmp_path: Path) -> None:
    result = load(tmp_path, web=deployment() + "---\n" + service(port=80))
    assert result.ok, lines(result)
    (warning,) = [d for d in result.diagnostics if d.code is dg.Code.PRIVILEGED_PORT]
    assert warning.path == "spec.ports[0].port"
    assert warning.file == "web.yaml" and warning.line > 0
    assert "port 80 is below 1024" in warning.message
    assert "net.ipv4.ip_unprivileged_port_start" in warning.message
    assert "bootstrap-host.sh" in warning.hint


def test_a_host_port_below_1024_is_a_warning(tmp_path: Path) -> None:
    result = load(tmp_path, web=deployment(ports="[{containerPort: 8080, hostPort: 80}]"))
    assert result.ok, lines(result)
    (warning,) = [d for d in result.diagnostics if d.code is dg.Code.PRIVILEGED_PORT]
    assert warning.path.endswith("ports[0].hostPort")
    assert "hostPort 80 is below 1024" in warning.message


HOSTILE = ["web\nfrontend x", "web # x", 'we"b', "web x", "bind :80", "web\r\n"]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_never_pass(tmp_path: Path, value: str) -> None:
    """Every Service field that reaches HAProxy (names, port names, appProtocol) or /etc/hosts
    (names) refuses newlines, '#', quotes, spaces and directives."""
    for field in ("name", "port-name", "appProtocol", "namespace"):
        text = service()
        if field == "name":
            text = service(name=value)
        elif field == "port-name":
            text = text.replace("    - name: http\n", f"    - name: {json.dumps(value)}\n")
        elif field == "appProtocol":
            text = service(extra=f"      appProtocol: {json.dumps(value)}\n")
        else:
            text = text.replace("namespace: shop", f"namespace: {json.dumps(value)}")
        folder = tmp_path / field
        folder.mkdir()
        result = load(folder, web=deployment() + "---\n" + text)
        assert not result.ok, (field, value)
        assert not any(s.key.kind == "Service" for s in result.state), (field, value)


def test_a_node_port_service_without_node_port_is_accepted_with_a_warning(tmp_path: Path) -> None:
    """Kubernetes allocates a nodePort; here every Service already answers on its port of every
    host's address, so none is allocated: said in a warning, and the Service is built."""
    text = service().replace("spec:\n", "spec:\n  type: NodePort\n", 1)
    result = load(tmp_path, web=deployment() + "---\n" + text)
    assert result.ok, lines(result)
    (warning,) = result.diagnostics
    assert warning.path == "spec.ports[0]" and "no nodePort is allocated here" in warning.message
    assert any(s.key.kind == "Service" for s in result.state)


def test_load_balancer_type_session_affinity_and_node_port_zero(tmp_path: Path) -> None:
    """`type: LoadBalancer` means every host's address (as NodePort, nodePort optional),
    `sessionAffinity: ClientIP` a listener balanced by client address, `nodePort: 0` unset."""
    text = service(extra="      nodePort: 0\n").replace(
        "spec:\n", "spec:\n  type: LoadBalancer\n  sessionAffinity: ClientIP\n", 1)
    result = load(tmp_path, web=deployment() + "---\n" + text)
    assert result.ok, lines(result)
    (svc,) = result.state.services
    assert svc.type == "LoadBalancer" and svc.session_affinity == "ClientIP"
    assert svc.ports[0].node_port is None
    built = endpoints.listener(svc, svc.ports[0])
    assert built.affinity is True and built.ports == (svc.ports[0].port,)


PORTLESS = """apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  clusterIP: None
  selector:
    app: web
"""


def test_a_headless_service_may_have_no_ports_and_another_may_not(tmp_path: Path) -> None:
    result = load(tmp_path, web=deployment() + "---\n" + PORTLESS)
    assert result.ok, lines(result)
    (built,) = result.state.services
    assert (built.cluster_ip, built.ports) == ("None", ())
    balanced = PORTLESS.replace("  clusterIP: None\n", "")
    refused = load(tmp_path, web=deployment() + "---\n" + balanced)
    assert not refused.ok
    assert any("needs a port unless it is headless" in d.message and d.path == "spec.ports"
               for d in refused.errors), lines(refused)  # fmt: skip


def test_session_affinity_on_a_headless_service_is_a_warning(tmp_path: Path) -> None:
    text = PORTLESS.replace("  clusterIP: None\n",
                            "  clusterIP: None\n  sessionAffinity: ClientIP\n")
    result = load(tmp_path, web=deployment() + "---\n" + text)
    assert result.ok, lines(result)
    (warning,) = [d for d in result.diagnostics if d.path == "spec.sessionAffinity"]
    assert warning.code is dg.Code.IGNORED_FIELD and "headless" in warning.message
