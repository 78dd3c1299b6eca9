"""A headless Service under the daemon on the 3 real test hosts (no `apply`): a client pod on h3
finds the two Ready replicas of `web` (on h1 and h2) in its /etc/hosts; a replica that turns
unready leaves the client's names and comes back when Ready again; scaled to one replica by a
push, the client lists one address. The client container is never recreated: its /etc/hosts is
rewritten in place by the daemon's passes. Pushed to a daemon (resync every 4 s) through its own
git server. Namespace `hlessd-e2e`; run under `flock /tmp/e2e.lock`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.e2e import test_headless as headless
from tests.harness import daemonproc, gitdaemon, gitserver, hostsetup, proc
from tests.harness import lab as labmod

pytestmark = pytest.mark.e2e
NAMESPACE = "hlessd-e2e"
FQDN = f"web.{NAMESPACE}.svc.cluster.local"
SERVE = ("mkdir -p /www && echo answer-from-$(hostname) > /www/index.html && echo ok > "
         "/www/ready && exec httpd -f -p 8080 -h /www")  # fmt: skip
MANIFESTS = f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {NAMESPACE}
spec:
  clusterIP: None
  selector: {{app: web}}
  ports: [{{name: http, port: 8080, targetPort: http}}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {NAMESPACE}
spec:
  replicas: @REPLICAS@
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web, spread: "yes"}}
    spec:
      terminationGracePeriodSeconds: 1
{headless.SPREAD}
      containers:
        - name: httpd
          image: {headless.IMAGE}
          imagePullPolicy: IfNotPresent
          command: ["sh", "-c", "{SERVE}"]
          ports: [{{name: http, containerPort: 8080}}]
          readinessProbe:
            httpGet: {{path: /ready, port: http}}
            periodSeconds: 1
            failureThreshold: 1
---
apiVersion: v1
kind: Pod
metadata:
  name: client
  namespace: {NAMESPACE}
spec:
  nodeSelector: {{kubernetes.io/hostname: h3}}
  terminationGracePeriodSeconds: 1
  containers:
    - name: client
      image: {headless.IMAGE}
      imagePullPolicy: IfNotPresent
      command: ["sleep", "3600"]
"""


@dataclass
class Setup:
    daemon: daemonproc.DaemonProcess
    work: gitserver.WorkTree
    lab: labmod.Lab


@pytest.fixture(scope="module")
def setup(lab: labmod.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    base = tmp_path_factory.mktemp("headless-daemon")
    allow = "allow_mass_prune: true\n"  # other tests' leftover pods are pruned, not held
    with gitdaemon.daemon_on_git(lab, base, git_user="rc-git-hlessd", namespace=NAMESPACE,
                                 extra_config=allow) as (daemon, work):  # fmt: skip
        work.write("app.yaml", MANIFESTS.replace("@REPLICAS@", "2"))
        work.commit_and_push("web behind a headless Service")
        yield Setup(daemon, work, lab)


def pods(lab: labmod.Lab, prefix: str) -> dict[str, tuple[hostsetup.Host, str, str]]:
    """pod name -> (host, container, container id) of the namespace's pods named `prefix*`."""
    found = {}
    for host in lab.hosts():
        listed = lab.ssh(host, "podman", "ps", "--format",
                         '{{.Names}} {{.ID}} {{index .Labels "reconciler.dev/name"}}',
                         "--filter", f"label=reconciler.dev/namespace={NAMESPACE}")  # fmt: skip
        for line in listed.stdout.splitlines():
            name, ident, pod = line.split()
            if pod.startswith(prefix) and not name.endswith("-infra"):
                found[pod] = (host, name, ident)
    return found


def names(lab: labmod.Lab, client: tuple[hostsetup.Host, str, str]) -> dict[str, str]:
    """address -> names of the client's /etc/hosts lines for `web`."""
    host, container, _ = client
    text = lab.ssh(host, "podman", "exec", container, "cat", "/etc/hosts", check=False).stdout
    return {
        fields[0]: " ".join(fields[1:])
        for fields in (line.split() for line in text.splitlines())
        if len(fields) > 1 and FQDN in fields[1:]
    }


Client = tuple[hostsetup.Host, str, str]  # host, container name, container id


def wait_listed(lab: labmod.Lab, count: int) -> tuple[Client, dict[str, str]]:
    found: list[tuple[hostsetup.Host, str, str]] = []

    def listed() -> bool:
        clients = pods(lab, "client")
        if "client" not in clients:
            return False
        found[:] = [clients["client"]]
        return len(names(lab, clients["client"])) == count

    proc.wait_for(listed, f"{count} addresses of web in the client's /etc/hosts", 180, step=1)
    return found[0], names(lab, found[0])


def test_the_clients_names_follow_readiness_and_scale(setup: Setup) -> None:
    lab = setup.lab
    client, both = wait_listed(lab, 2)
    web = pods(lab, "web-")
    assert len(web) == 2 and client[0].name not in {h.name for h, _, _ in web.values()}
    answers = {a: headless.fetch(lab, client[0], client[1], a) for a in both}
    assert sorted(answers.values()) == sorted(web), answers

    # a replica turns unready: it leaves the names; Ready again: it is back
    gone, (gone_host, gone_container, _) = sorted(web.items())[0]
    lab.ssh(gone_host, "podman", "exec", gone_container, "rm", "/www/ready")
    _, one = wait_listed(lab, 1)
    assert [answers[a] for a in one] == [p for p in sorted(web) if p != gone], (one, answers)
    lab.ssh(gone_host, "podman", "exec", gone_container, "sh", "-c", "echo ok > /www/ready")
    again, back = wait_listed(lab, 2)
    assert back.keys() == both.keys() and again[2] == client[2]

    # scaled to one replica by a push: one address left, the same client container
    setup.work.write("app.yaml", MANIFESTS.replace("@REPLICAS@", "1"))
    setup.work.commit_and_push("one replica")
    last, left = wait_listed(lab, 1)
    assert last[2] == client[2], (last, client)
    (kept,) = pods(lab, "web-")
    assert [answers[a] for a in left] == [kept]
