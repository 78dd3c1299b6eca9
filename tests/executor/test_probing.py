"""The pure parts of probing: the httpGet request and status line, the probe labels written by
podmanspec and read back by observed (leniently), probe ports published on loopback only."""

from __future__ import annotations

import json

import pytest

from reconciler.executor import observed, podmanspec, probelabels, probing
from reconciler.model import base, hoststate, workloads

Kind = hoststate.ProbeKind
Handler = workloads.ProbeHandler
PROBES = (
    hoststate.ContainerProbe(Kind.STARTUP, workloads.Probe(Handler.EXEC, command=("sh", "-c", "x"),
                                                           failure_threshold=30)),
    hoststate.ContainerProbe(Kind.LIVENESS, workloads.Probe(Handler.TCP_SOCKET, port=9090)),
    hoststate.ContainerProbe(Kind.READINESS, workloads.Probe(
        Handler.HTTP_GET, port=8080, path="/healthz", http_headers=(("X-A", "b"),),
        initial_delay_seconds=3, period_seconds=5, timeout_seconds=2, success_threshold=2)),
)  # fmt: skip


def test_probes_label_round_trip() -> None:
    text = probelabels.encode_probes(PROBES)
    assert probelabels.decode_probes(text) == PROBES


@pytest.mark.parametrize(
    "text",
    ["{", "{}", '[{"kind": "sideways", "handler": "exec"}]', '[{"kind": "liveness"}]',
     '[{"kind": "liveness", "handler": "exec", "period_seconds": 0}]',
     '[{"kind": "liveness", "handler": "exec", "port": "80"}]', "[1]"],
)  # fmt: skip
def test_bad_probes_label_means_no_probes(text: str) -> None:
    assert probelabels.decode_probes(text) == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("8080=41000,9090=41001", ((8080, 41000), (9090, 41001))), ("", ()), ("8080", ()),
     ("8080=99999", ()), ("a=b", ())],
)  # fmt: skip
def test_probe_ports_label(text: str, expected: tuple[tuple[int, int], ...]) -> None:
    assert probelabels.decode_ports(text) == expected


def _run() -> hoststate.PodRun:
    return hoststate.PodRun(
        namespace="ns",
        name="web",
        host="h1",
        spec_hash="x",
        labels=base.FrozenMap({hoststate.LABEL_PROBE_PORTS: "8080=41000"}),
        containers=(hoststate.ContainerRun("c", "img", probes=PROBES),),
        ports=(hoststate.PortMapping(80, 80),),
        probe_ports=(hoststate.PortMapping(41000, 8080, "tcp", "127.0.0.1"),),
    )


def test_podmanspec_publishes_probe_ports_on_loopback_and_labels_probes() -> None:
    run = _run()
    spec = podmanspec.container_spec(run, run.containers[0], "/state", 10)
    assert spec["portmappings"] == [
        {"host_ip": "", "host_port": 80, "container_port": 80, "protocol": "tcp"},
        {"host_ip": "127.0.0.1", "host_port": 41000, "container_port": 8080, "protocol": "tcp"},
    ]
    assert json.loads(spec["labels"][hoststate.LABEL_PROBES])[0]["kind"] == "startup"
    assert podmanspec.pod_labels(run)[hoststate.LABEL_PROBE_PORTS] == "8080=41000"


def test_observed_reads_the_labels_back() -> None:
    run = _run()
    labels = podmanspec.container_labels(run, run.containers[0])
    entry = {"Id": "c1", "Labels": labels, "State": "running", "Pod": "p1"}
    container = observed.container(entry, None)
    assert container.probes == PROBES
    pod = observed.pod("h1", {"Id": "p1", "Labels": podmanspec.pod_labels(run)}, [container])
    assert pod is not None and pod.probe_ports == ((8080, 41000),)
    bad = observed.container({**entry, "Labels": {**labels, hoststate.LABEL_PROBES: "{"}}, None)
    assert bad.probes == ()


def test_http_request() -> None:
    probe = PROBES[2].probe
    request = probing.http_request(probe, 8080).decode()
    assert request.startswith("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n")
    assert "X-A: b\r\n" in request and request.endswith("Connection: close\r\n\r\n")
    host = workloads.Probe(Handler.HTTP_GET, port=1, http_headers=(("host", "example"),))
    assert "Host: 127.0.0.1" not in probing.http_request(host, 1).decode()
    for bad in (workloads.Probe(Handler.HTTP_GET, path="/a\r\nX: y"),
                workloads.Probe(Handler.HTTP_GET, path="/a b"),
                workloads.Probe(Handler.HTTP_GET, http_headers=(("X", "1\n2"),))):  # fmt: skip
        with pytest.raises(ValueError, match="invalid"):
            probing.http_request(bad, 80)


@pytest.mark.parametrize(
    ("line", "code"),
    [(b"HTTP/1.1 200 OK\r", 200), (b"HTTP/1.0 404 Not Found", 404), (b"SSH-2.0-x", None),
     (b"", None), (b"HTTP/1.1 abc", None)],
)  # fmt: skip
def test_status_code(line: bytes, code: int | None) -> None:
    assert probing.status_code(line) == code
