"""The supported subset of the Kubernetes API, as data: every field we implement, its type and
how it maps to Podman. `scripts/copy_schemas.py` turns this table into the restriction layer of
`schemas/subset/*.json` and the field table of `docs/manifests.md`; a field absent here is refused.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass

from reconciler.model import base, claims, cordon, workloads


class T(enum.StrEnum):
    """Field types (the upstream schema has the exact types; these drive docs and Host)."""

    STRING = "string"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    OBJECT = "object"
    LIST = "list"  # a list of objects (`fields`) or of strings (no `fields`)
    INT_LIST = "list of integers"  # `minimum`/`maximum` bound each item
    MAP = "map"  # string keys to string values
    QUANTITY = "quantity"
    INT_OR_STRING = "int-or-string"


@dataclass(frozen=True)
class F:
    """One supported field."""

    name: str
    type: T
    podman: str
    fields: tuple[F, ...] = ()
    required: bool = False
    enum: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    open: bool = False
    """Any content the upstream schema accepts (checked by it alone): an ignored block."""


@dataclass(frozen=True)
class KindSubset:
    kind: base.Kind
    upstream: str | None
    """The upstream schema file (`deployment-apps-v1.json`); None for our own kinds."""
    fields: tuple[F, ...]

    @property
    def schema_file(self) -> str:
        if self.upstream is not None:
            return self.upstream
        group, version = self.kind.api_version.split("/")
        return f"{self.kind.lower()}-{group.split('.')[0]}-{version}.json"


def walk(fields: tuple[F, ...], prefix: str = "") -> Iterator[tuple[str, F]]:
    """Every field with its dotted path (`spec.containers[].image`), parents first."""
    for field in fields:
        path = f"{prefix}.{field.name}" if prefix else field.name
        yield path, field
        child_prefix = f"{path}[]" if field.type is T.LIST else path
        yield from walk(field.fields, child_prefix)


# fmt: off
# (the field table reads best one field per line, as written)
_LABELS = F("labels", T.MAP, "podman labels on the pod; matched by selectors")
_ANNOTATIONS = F("annotations", T.MAP, "kept; keys with the `reconciler.dev/` prefix configure us")


def _metadata(namespaced: bool, name: str, labels: str = "kept") -> F:
    fields = [F("name", T.STRING, name, required=True)]
    if namespaced:
        fields.append(F("namespace", T.STRING, "`default` if omitted; a podman label"))
    fields += [F("labels", T.MAP, labels), _ANNOTATIONS]
    return F("metadata", T.OBJECT, "", tuple(fields), required=True)


def _type_fields(kind: base.Kind) -> tuple[F, F]:
    return (
        F("apiVersion", T.STRING, f"`{kind.api_version}`", required=True),
        F("kind", T.STRING, f"`{kind}`", required=True),
    )


_OPTIONAL = F("optional", T.BOOLEAN, "a missing object or key is not an error")
_KEY_REF = (F("name", T.STRING, "object in the pod's namespace", required=True),
            F("key", T.STRING, "key in that object", required=True), _OPTIONAL)
_ITEMS = F("items", T.LIST, "only these keys, written to these file names", (
    F("key", T.STRING, "key in the object", required=True),
    F("path", T.STRING, "relative file name in the volume", required=True),
    F("mode", T.INTEGER, "this file's mode, 0-0777 (`0400` is read as octal, as in "
      "Kubernetes); default: `defaultMode`"),
))

_RUN_AS = (
    F("runAsUser", T.INTEGER, "`--user UID` (a uid inside the container's user namespace)",
      minimum=0),
    F("runAsGroup", T.INTEGER, "`--user UID:GID`; needs runAsUser", minimum=0),
    F("runAsNonRoot", T.BOOLEAN, "`true`: a non-zero runAsUser, or else the image's USER is "
      "checked on the host before the create (as the kubelet does)"),
)
_SECCOMP = F("seccompProfile", T.OBJECT, "", (
    F("type", T.STRING, "only `RuntimeDefault`: Podman's default seccomp profile",
      required=True),
))

_SELECTOR_FIELDS = (
    F("matchLabels", T.MAP, "every label present with this value"),
    F("matchExpressions", T.LIST, "every expression holds", (
        F("key", T.STRING, "label key", required=True),
        F("operator", T.STRING, "`In`/`NotIn` need `values`, `Exists`/`DoesNotExist` take none",
          required=True, enum=("In", "NotIn", "Exists", "DoesNotExist")),
        F("values", T.LIST, "label values"),
    )),
)
_TOPOLOGY_KEY = F("topologyKey", T.STRING, "a label key some Host carries, or "
                  "`kubernetes.io/hostname` (every host, its name)", required=True)
_AFFINITY_TERM = (
    F("labelSelector", T.OBJECT, "pods counted (absent: none)", _SELECTOR_FIELDS),
    F("namespaces", T.LIST, "namespaces of those pods (default: this pod's)"),
    _TOPOLOGY_KEY,
)


_NODE_TERM = (
    F("matchExpressions", T.LIST, "every expression holds (Host labels)", (
        F("key", T.STRING, "label key", required=True),
        F("operator", T.STRING, "`In`/`NotIn` need `values`, `Exists`/`DoesNotExist` take none, "
          "`Gt`/`Lt` one integer", required=True,
          enum=("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")),
        F("values", T.LIST, "label values"),
    )),
    F("matchFields", T.LIST, "every field holds", (
        F("key", T.STRING, "only `metadata.name` (the Host's name)", required=True),
        F("operator", T.STRING, "one value", required=True, enum=("In", "NotIn")),
        F("values", T.LIST, "one Host name"),
    )),
)


def _pod_affinity(name: str, meaning: str) -> F:
    return F(name, T.OBJECT, meaning, (
        F("requiredDuringSchedulingIgnoredDuringExecution", T.LIST, "scheduler filter, every "
          "term must hold", _AFFINITY_TERM),
        F("preferredDuringSchedulingIgnoredDuringExecution", T.LIST, "scheduler preference: "
          "weight per matching pod in the host's domain", (
            F("weight", T.INTEGER, "1-100", required=True, minimum=1, maximum=100),
            F("podAffinityTerm", T.OBJECT, "", _AFFINITY_TERM, required=True),
        )),
    ))


_PROBE_PORT = F("port", T.INT_OR_STRING, "a port number (declared or not), or the name of a "
                "`containerPort` of this container", required=True)
_PROBE_FIELDS = (
    F("exec", T.OBJECT, "run in the container through Podman's exec API (no shell)", (
        F("command", T.LIST, "argv; exit status 0 is success", required=True),)),
    F("httpGet", T.OBJECT, "GET from the host's loopback to the container port; 200-399 is "
      "success", (
        F("path", T.STRING, "request path (default `/`)"),
        _PROBE_PORT,
        F("scheme", T.STRING, "only `HTTP`, the default (`HTTPS` is refused: not supported)"),
        F("httpHeaders", T.LIST, "extra request headers", (
            F("name", T.STRING, "header name", required=True),
            F("value", T.STRING, "header value", required=True),
        )),
    )),
    F("tcpSocket", T.OBJECT, "TCP connect from the host's loopback to the container port",
      (_PROBE_PORT,)),
    F("initialDelaySeconds", T.INTEGER, "wait after the container starts (default 0)",
      minimum=0),
    F("periodSeconds", T.INTEGER, "time between probes (default 10)", minimum=1),
    F("timeoutSeconds", T.INTEGER, "a probe slower than this fails (default 1)", minimum=1),
    F("successThreshold", T.INTEGER, "successes in a row to pass (default 1; must be 1 for "
      "liveness and startup)", minimum=1),
    F("failureThreshold", T.INTEGER, "failures in a row to fail (default 3)", minimum=1),
)


def _scaling_rules(name: str, meaning: str) -> F:
    return F(name, T.OBJECT, meaning, (
        F("stabilizationWindowSeconds", T.INTEGER, "the most (down) or least (up) replicas "
          "recommended within this window wins", minimum=0, maximum=3600),
        F("selectPolicy", T.STRING, "which policy's limit applies (default `Max`)",
          enum=("Max", "Min", "Disabled")),
        F("policies", T.LIST, "limits on the change per period", (
            F("type", T.STRING, "", required=True, enum=("Pods", "Percent")),
            F("value", T.INTEGER, "pods, or percent of the replicas at the period's start",
              required=True, minimum=1),
            F("periodSeconds", T.INTEGER, "", required=True, minimum=1, maximum=1800),
        )),
    ))


_HOOK_FIELDS = (
    F("exec", T.OBJECT, "run in the container through Podman's exec API (no shell)", (
        F("command", T.LIST, "argv; exit status 0 is success", required=True),)),
    F("httpGet", T.OBJECT, "GET from the host's loopback to where the container port is "
      "published; 200-399 is success", (
        F("path", T.STRING, "request path (default `/`)"),
        F("port", T.INT_OR_STRING, "a `containerPort` (TCP) of this container, by number or "
          "name", required=True),
        F("scheme", T.STRING, "only `HTTP`, the default (`HTTPS` is refused: not supported)"),
        F("httpHeaders", T.LIST, "extra request headers", (
            F("name", T.STRING, "header name", required=True),
            F("value", T.STRING, "header value", required=True),
        )),
    )),
    F("sleep", T.OBJECT, "the reconciler waits this long (preStop: within the grace period)", (
        F("seconds", T.INTEGER, "seconds to wait", required=True, minimum=0),)),
)


def _probe(name: str, meaning: str) -> F:
    return F(name, T.OBJECT, f"{meaning}; run by the reconciler from outside the container",
             _PROBE_FIELDS)


CONTAINER = F("containers", T.LIST, "containers of the podman pod", (
    F("name", T.STRING, "container name `<pod>-<name>`", required=True),
    F("image", T.STRING, "`podman create IMAGE`", required=True),
    F("command", T.LIST, "`--entrypoint` (as a JSON list)"),
    F("args", T.LIST, "arguments after the image"),
    F("workingDir", T.STRING, "`--workdir`"),
    F("imagePullPolicy", T.STRING, "`--pull=always|missing|never`",
      enum=("Always", "IfNotPresent", "Never")),
    F("env", T.LIST, "`--env NAME=VALUE`", (
        F("name", T.STRING, "variable name", required=True),
        F("value", T.STRING, "literal value"),
        F("valueFrom", T.OBJECT, "value read from a ConfigMap or Secret key at apply time", (
            F("configMapKeyRef", T.OBJECT, "a ConfigMap key", _KEY_REF),
            F("secretKeyRef", T.OBJECT, "a Secret key (passed as a podman secret)", _KEY_REF),
            F("fieldRef", T.OBJECT, "a field of the pod", (
                F("fieldPath", T.STRING, "`metadata.name`, `metadata.namespace`, "
                  "`metadata.labels['KEY']`, `spec.nodeName` (the host's name), `status.hostIP` "
                  "and `status.podIP` (both the host's address: pods are reached there)",
                  required=True),
                F("apiVersion", T.STRING, "`v1`"),
            )),
            F("resourceFieldRef", T.OBJECT, "a limit or request of a container", (
                F("resource", T.STRING, "`limits.cpu`, `limits.memory`, `requests.cpu`, "
                  "`requests.memory`; a limit not set is the host's capacity, as in Kubernetes",
                  required=True),
                F("containerName", T.STRING, "default: this container"),
                F("divisor", T.QUANTITY, "unit of the value, rounded up (default `1`)"),
            )),
        )),
    )),
    F("envFrom", T.LIST, "every key of a ConfigMap or Secret as `--env`", (
        F("configMapRef", T.OBJECT, "all keys of a ConfigMap", (
            F("name", T.STRING, "ConfigMap in the pod's namespace", required=True), _OPTIONAL)),
        F("secretRef", T.OBJECT, "all keys of a Secret", (
            F("name", T.STRING, "Secret in the pod's namespace", required=True), _OPTIONAL)),
        F("prefix", T.STRING, "prepended to every variable name"),
    )),
    F("ports", T.LIST, "ports of the pod", (
        F("containerPort", T.INTEGER, "port inside the pod", required=True,
          minimum=1, maximum=65535),
        F("hostPort", T.INTEGER, "`--publish hostPort:containerPort` on the pod",
          minimum=1, maximum=65535),
        F("hostIP", T.STRING, "`--publish hostIP:hostPort:containerPort`"),
        F("protocol", T.STRING, "`/tcp` or `/udp` of the published port", enum=("TCP", "UDP")),
        F("name", T.STRING, "name a Service `targetPort` can refer to"),
    )),
    F("resources", T.OBJECT, "", (
        F("requests", T.OBJECT, "used by the scheduler (sum must fit the host's capacity)", (
            F("cpu", T.QUANTITY, "millicores reserved on the host"),
            F("memory", T.QUANTITY, "bytes reserved on the host"),
            F("ephemeral-storage", T.QUANTITY, "bytes reserved on a Host that declares "
              "`capacity.ephemeral-storage` (else not counted); not enforced"),
        )),
        F("limits", T.OBJECT, "enforced by podman", (
            F("cpu", T.QUANTITY, "`--cpus`"),
            F("memory", T.QUANTITY, "`--memory`"),
            F("ephemeral-storage", T.QUANTITY, "stands in for a missing request (scheduler); "
              "not enforced (rootless Podman cannot limit disk use)"),
        )),
    )),
    F("volumeMounts", T.LIST, "`--volume SOURCE:mountPath`", (
        F("name", T.STRING, "a volume of the pod", required=True),
        F("mountPath", T.STRING, "absolute path in the container", required=True),
        F("readOnly", T.BOOLEAN, "`:ro` (configMap and secret volumes are always read-only)"),
        F("subPath", T.STRING, "mount only this file or directory of the volume (relative, no "
          "`..`); made as a directory in an emptyDir or claim volume if missing"),
        F("subPathExpr", T.STRING, "a subPath with `$(VAR)` taken from the container's env"),
    )),
    _probe("livenessProbe", "failing: the container is restarted"),
    _probe("readinessProbe", "failing: the pod is not Ready (not available to a rollout)"),
    _probe("startupProbe", "the other probes wait until it passes; failing: restart"),
    F("securityContext", T.OBJECT, "over the pod's `securityContext`", (
        *_RUN_AS,
        F("readOnlyRootFilesystem", T.BOOLEAN, "`--read-only`"),
        F("allowPrivilegeEscalation", T.BOOLEAN, "`false`: `--security-opt no-new-privileges`"),
        F("privileged", T.BOOLEAN, "only `false`: `true` is refused (rootless Podman cannot "
          "give the host's devices and privileges)"),
        F("capabilities", T.OBJECT, "capabilities within the host user's own (rootless)", (
            F("add", T.LIST, "`--cap-add` (`NET_BIND_SERVICE`, ...)"),
            F("drop", T.LIST, "`--cap-drop` (`ALL` drops every one)"),
        )),
        _SECCOMP,
    )),
    F("terminationMessagePath", T.STRING, "no effect, a warning: no termination message is "
      "read (`get pods` shows the exit code)"),
    F("terminationMessagePolicy", T.STRING, "no effect, a warning: as terminationMessagePath",
      enum=("File", "FallbackToLogsOnError")),
    F("lifecycle", T.OBJECT, "hooks run by the reconciler over the host's connection", (
        F("postStart", T.OBJECT, "right after the container starts; failing: the container is "
          "killed and restarted per restartPolicy (event FailedPostStartHook)", _HOOK_FIELDS),
        F("preStop", T.OBJECT, "before the container is stopped (delete, replace, rollout, "
          "scale-down), within terminationGracePeriodSeconds; then the stop", _HOOK_FIELDS),
    )),
), required=True)

INIT_CONTAINER = F("initContainers", T.LIST, "run to completion one at a time, in order, before "
                   "the containers start (`podman start` of each, exit code checked); probes, "
                   "lifecycle and ports are refused", tuple(
    f for f in CONTAINER.fields
    if f.name not in ("livenessProbe", "readinessProbe", "startupProbe", "lifecycle", "ports")
))


POD_SPEC_FIELDS = (
    CONTAINER,
    INIT_CONTAINER,
    F("restartPolicy", T.STRING, "an exited container is restarted by the reconciler: at once, "
      "then after 10 s doubling to 5 min (CrashLoopBackOff meanwhile)",
      enum=("Always", "OnFailure", "Never")),
    F("nodeSelector", T.MAP, "scheduler: the host's labels must contain these"),
    F("tolerations", T.LIST, "scheduler: taints of a host this pod may run on", (
        F("key", T.STRING, "taint key (empty with `Exists` tolerates everything)"),
        F("operator", T.STRING, "how `value` is compared", enum=("Equal", "Exists")),
        F("value", T.STRING, "taint value"),
        F("effect", T.STRING, "taint effect (empty: all)",
          enum=("", "NoSchedule", "PreferNoSchedule", "NoExecute")),
    )),
    F("affinity", T.OBJECT, "scheduler: node affinity and pod (anti-)affinity", (
        F("nodeAffinity", T.OBJECT, "on Host labels (and `kubernetes.io/hostname`)", (
            F("requiredDuringSchedulingIgnoredDuringExecution", T.OBJECT, "scheduler filter",
              (F("nodeSelectorTerms", T.LIST, "at least one; any one term must hold",
                 _NODE_TERM, required=True),)),
            F("preferredDuringSchedulingIgnoredDuringExecution", T.LIST, "scheduler "
              "preference: weight for a host matching the term", (
                F("weight", T.INTEGER, "1-100", required=True, minimum=1, maximum=100),
                F("preference", T.OBJECT, "", _NODE_TERM, required=True),
            )),
        )),
        _pod_affinity("podAffinity", "near pods matching the terms"),
        _pod_affinity("podAntiAffinity", "away from pods matching the terms"),
    )),
    F("topologySpreadConstraints", T.LIST, "scheduler: spread matching pods over the values of "
      "a Host label", (
        F("maxSkew", T.INTEGER, "most matching pods in a domain minus fewest", required=True,
          minimum=1),
        _TOPOLOGY_KEY,
        F("whenUnsatisfiable", T.STRING, "`DoNotSchedule`: a filter; `ScheduleAnyway`: a "
          "preference", required=True, enum=("DoNotSchedule", "ScheduleAnyway")),
        F("labelSelector", T.OBJECT, "pods of this namespace counted (absent: none)",
          _SELECTOR_FIELDS),
        F("minDomains", T.INTEGER, "fewer eligible domains count as a minimum of 0 "
          "(DoNotSchedule only)", minimum=1),
    )),
    F("volumes", T.LIST, "volumes of the podman pod", (
        F("name", T.STRING, "referred to by `volumeMounts`", required=True),
        F("configMap", T.OBJECT, "files written under the host user's state directory, "
          "mounted read-only", (F("name", T.STRING, "ConfigMap", required=True), _ITEMS,
                                _OPTIONAL, F("defaultMode", T.INTEGER, "mode of its files, "
                                             "0-0777 (`0644`, the default, is read as octal, "
                                             "as in Kubernetes)"))),
        F("secret", T.OBJECT, "files written with mode 0600 (or `defaultMode`), mounted "
          "read-only", (
            F("secretName", T.STRING, "Secret", required=True), _ITEMS, _OPTIONAL,
            F("defaultMode", T.INTEGER, "mode of its files, 0-0777 (default `0600`; `0644` is "
              "read as octal, as in Kubernetes)"))),
        F("emptyDir", T.OBJECT, "a podman volume that lives as long as the pod", (
            F("medium", T.STRING, "`Memory`: a tmpfs of the one container that mounts it; "
              "`\"\"` (default): a Podman volume on disk", enum=("", "Memory")),
            F("sizeLimit", T.QUANTITY, "size of the `Memory` tmpfs (refused for disk)"),
        )),
        F("persistentVolumeClaim", T.OBJECT, "the claim's Podman named volume on the pod's host "
          "(kept across pods; the pod is pinned to that host)", (
            F("claimName", T.STRING, "a PersistentVolumeClaim in the pod's namespace",
              required=True),
            F("readOnly", T.BOOLEAN, "mounted read-only in every container"),
        )),
        F("hostPath", T.OBJECT, "refused by `validate`: no daemon setting allows host paths", (
            F("path", T.STRING, "absolute path on the host", required=True),
            F("type", T.STRING, "checked before the bind mount",
              enum=("", "Directory", "DirectoryOrCreate", "File", "FileOrCreate")),
        )),
    )),
    F("terminationGracePeriodSeconds", T.INTEGER, "`podman stop --time`", minimum=0),
    F("securityContext", T.OBJECT, "defaults for every container's `securityContext`", (
        *_RUN_AS, _SECCOMP,
        F("fsGroup", T.INTEGER, "a supplementary group of every container (`--group-add`); "
          "the pod's emptyDir and claim volumes are given to it (group rw, setgid), 0-65535",
          minimum=0),
        F("fsGroupChangePolicy", T.STRING, "both: only a volume's top directory is given to "
          "the group (files created there inherit it)", enum=("Always", "OnRootMismatch")),
        F("supplementalGroups", T.INT_LIST, "more supplementary groups of every container "
          "(`--group-add`), 0-65535", minimum=0),
    )),
    F("hostAliases", T.LIST, "extra lines of the pod's /etc/hosts (Podman `--add-host`)", (
        F("ip", T.STRING, "an IP address", required=True),
        F("hostnames", T.LIST, "names for it (DNS subdomains)"),
    )),
    F("hostname", T.STRING, "the pod's hostname (a DNS label; default: the pod's name)"),
    F("subdomain", T.STRING, "the pod's own /etc/hosts names it `HOSTNAME.SUBDOMAIN.NAMESPACE"
      ".svc.cluster.local` (`hostname -f`); with `hostname` set and a headless Service of that "
      "name selecting the pod, every pod made while the Service exists resolves it"),
    F("dnsPolicy", T.STRING, "`ClusterFirst` (default), `ClusterFirstWithHostNet` and `Default` "
      "mean the same here: names resolve through the host's resolver, Service names through "
      "the pod's /etc/hosts; `None` is refused (dnsConfig is not implemented)"),
    F("serviceAccountName", T.STRING, "no effect, a warning: there is no Kubernetes API "
      "server, so no service account token is mounted"),
    F("serviceAccount", T.STRING, "the old name of serviceAccountName: no effect, a warning"),
    F("automountServiceAccountToken", T.BOOLEAN, "`false` is what happens here; `true`: no "
      "effect, a warning (no token is mounted)"),
    F("imagePullSecrets", T.LIST, "registry logins for the pulls: Podman's `X-Registry-Auth`", (
        F("name", T.STRING, "a Secret of type `kubernetes.io/dockerconfigjson` or "
          "`kubernetes.io/dockercfg` in the pod's namespace", required=True),
    )),
)

_POD_SPEC = F("spec", T.OBJECT, "a podman pod", POD_SPEC_FIELDS, required=True)
_STATUS = F("status", T.OBJECT, "ignored, with a warning (the API server ignores it on create)",
            open=True)

_JOB_SPEC_FIELDS = (
    F("completions", T.INTEGER, "pods that must succeed (default 1)", minimum=1),
    F("parallelism", T.INTEGER, "pods running at once (default 1; at most the "
      "completions left)", minimum=1),
    F("backoffLimit", T.INTEGER, "failures (failed pods, or container restarts with "
      "`OnFailure`) before the Job fails, reason `BackoffLimitExceeded` (default 6)",
      minimum=0),
    F("activeDeadlineSeconds", T.INTEGER, "the Job fails, reason `DeadlineExceeded`, "
      "this long after it started; its running pods are removed", minimum=1),
    F("ttlSecondsAfterFinished", T.INTEGER, "its pods are removed this long after it "
      "finished (default: kept, for their logs)", minimum=0),
    F("template", T.OBJECT, "the pods; `restartPolicy` must be `OnFailure` or `Never`", (
        F("metadata", T.OBJECT, "", (_LABELS, _ANNOTATIONS)),
        _POD_SPEC,
    ), required=True),
)

KINDS: tuple[KindSubset, ...] = (
    KindSubset(base.Kind.NAMESPACE, "namespace-v1.json", (
        *_type_fields(base.Kind.NAMESPACE),
        _metadata(False, "the namespace label of the podman objects in it"), _STATUS)),
    KindSubset(base.Kind.CONFIG_MAP, "configmap-v1.json", (
        *_type_fields(base.Kind.CONFIG_MAP), _metadata(True, "referred to by pods"),
        F("data", T.MAP, "env values and files of `configMap` volumes"),
        F("binaryData", T.MAP, "base64 file contents of `configMap` volumes"),
    )),
    KindSubset(base.Kind.SECRET, "secret-v1.json", (
        *_type_fields(base.Kind.SECRET), _metadata(True, "referred to by pods"),
        F("type", T.STRING, "`Opaque` (default) or a typed Secret, its required keys checked: "
          "`kubernetes.io/tls` (`tls.crt`, `tls.key`), `kubernetes.io/basic-auth` (`username` "
          "or `password`), `kubernetes.io/ssh-auth` (`ssh-privatekey`), "
          "`kubernetes.io/dockerconfigjson` (`.dockerconfigjson`, a JSON object), "
          "`kubernetes.io/dockercfg` (`.dockercfg`); any other type is used like `Opaque` "
          "(`kubernetes.io/service-account-token` and `bootstrap.kubernetes.io/token` are "
          "refused)"),
        F("data", T.MAP, "base64 values; podman secrets and 0600 files"),
        F("stringData", T.MAP, "plain values, merged over `data`"),
    )),
    KindSubset(base.Kind.POD, "pod-v1.json", (
        *_type_fields(base.Kind.POD),
        _metadata(True, "the podman pod name", "podman labels on the pod; matched by selectors"),
        _POD_SPEC, _STATUS)),
    KindSubset(base.Kind.DEPLOYMENT, "deployment-apps-v1.json", (
        *_type_fields(base.Kind.DEPLOYMENT),
        _metadata(True, "prefix of its pods' names; the owner label of its pods"),
        F("spec", T.OBJECT, "", (
            F("replicas", T.INTEGER, "number of podman pods, spread over hosts", minimum=0),
            F("selector", T.OBJECT, "", (
                F("matchLabels", T.MAP, "must equal labels of the template", required=True),
            ), required=True),
            F("template", T.OBJECT, "the pods", (
                F("metadata", T.OBJECT, "", (_LABELS, _ANNOTATIONS)),
                _POD_SPEC,
            ), required=True),
            F("strategy", T.OBJECT, "how pods are replaced on a change", (
                F("type", T.STRING, "`RollingUpdate` (default): replace pods gradually; "
                  "`Recreate`: remove every old pod before any new one starts",
                  enum=("RollingUpdate", "Recreate")),
                F("rollingUpdate", T.OBJECT, "only with type `RollingUpdate`", (
                    F("maxSurge", T.INT_OR_STRING, "pods above `replicas` during a rollout: a "
                      "number, or a percentage of replicas rounded up (default `25%`)"),
                    F("maxUnavailable", T.INT_OR_STRING, "pods below `replicas` that may be "
                      "unavailable: a number, or a percentage rounded down (default `25%`)"),
                )),
            )),
            F("minReadySeconds", T.INTEGER, "a new pod counts as available after being Ready "
              "this long (default 0)", minimum=0),
            F("progressDeadlineSeconds", T.INTEGER, "a rollout without progress for this long "
              "fails: `Progressing=False`, reason `ProgressDeadlineExceeded` (default 600; "
              "must be more than minReadySeconds)"),
            F("revisionHistoryLimit", T.INTEGER, "no effect, a warning: no old ReplicaSets are "
              "kept (a rollback is a git revert)", minimum=0),
        ), required=True),
        _STATUS,
    )),
    KindSubset(base.Kind.JOB, "job-batch-v1.json", (
        *_type_fields(base.Kind.JOB),
        _metadata(True, "prefix of its pods' names (`<name>-<index>`); the owner label of its "
                  "pods"),
        F("spec", T.OBJECT, "run-to-completion pods; the template is immutable: a changed "
          "template in git runs only under a new name", _JOB_SPEC_FIELDS, required=True),
        _STATUS,
    )),
    KindSubset(base.Kind.CRON_JOB, "cronjob-batch-v1.json", (
        *_type_fields(base.Kind.CRON_JOB),
        _metadata(True, "prefix of its Jobs' names (`<name>-<minutes since the epoch>`)"),
        F("spec", T.OBJECT, "a Job made on a schedule by the daemon's clock", (
            F("schedule", T.STRING, "cron syntax (5 fields, or a macro such as `@hourly`)",
              required=True),
            F("timeZone", T.STRING, "an IANA time zone (default: the daemon's local time)"),
            F("concurrencyPolicy", T.STRING, "a run while a Job of this CronJob is active: "
              "`Allow` (default) runs it too, `Forbid` waits, `Replace` removes the active one",
              enum=("Allow", "Forbid", "Replace")),
            F("startingDeadlineSeconds", T.INTEGER, "a run not started this long after its "
              "time is missed (default: started however late, once)", minimum=0),
            F("successfulJobsHistoryLimit", T.INTEGER, "finished Jobs kept (default 3)",
              minimum=0),
            F("failedJobsHistoryLimit", T.INTEGER, "failed Jobs kept (default 1)", minimum=0),
            F("suspend", T.BOOLEAN, "no new run while true; active Jobs go on"),
            F("jobTemplate", T.OBJECT, "the Job of each run", (
                F("metadata", T.OBJECT, "", (_LABELS, _ANNOTATIONS)),
                F("spec", T.OBJECT, "as a Job's spec", _JOB_SPEC_FIELDS, required=True),
            ), required=True),
        ), required=True),
        _STATUS,
    )),
    KindSubset(base.Kind.SERVICE, "service-v1.json", (
        *_type_fields(base.Kind.SERVICE), _metadata(True, "a DNS-1035 label: the Service's "
                                                    "names `web`, `web.shop`, `web.shop.svc`"),
        F("spec", T.OBJECT, "listeners of the per-host HAProxy (see Services below)", (
            F("type", T.STRING, "`ClusterIP` (default): `port` on every host's addresses; "
              "`NodePort`: also `nodePort`; `LoadBalancer`: as `NodePort` (every host's "
              "address is an external address; `nodePort` optional)",
              enum=("ClusterIP", "NodePort", "LoadBalancer")),
            F("clusterIP", T.STRING, "the Service's virtual IP, in the service CIDR "
              "(`service_cidr`); unset or empty: one derived from a hash of its namespace/name; "
              "`None` (headless, type ClusterIP only): no virtual IP, its names resolve to each "
              "Ready pod's own address (see Services)"),
            F("sessionAffinity", T.STRING, "`ClientIP`: a client's connections go to one pod "
              "(HAProxy `balance source`); `None` (default): round robin",
              enum=("None", "ClientIP")),
            F("selector", T.MAP, "backends: Ready pods with these labels, on every host",
              required=True),
            F("ports", T.LIST, "one HAProxy listener each", (
                F("port", T.INTEGER, "listening port on every host "
                  "(below 1024: where the host allows it)",
                  required=True, minimum=1, maximum=65535),
                F("targetPort", T.INT_OR_STRING, "a container port number (published even if "
                  "undeclared) or a declared port name; default `port`"),
                F("protocol", T.STRING, "`TCP`; `UDP` is refused (not built)",
                  enum=("TCP", "UDP")),
                F("name", T.STRING, "a DNS label; `http`/`http-*` balance each HTTP request"),
                F("appProtocol", T.STRING, "`http`: balance each HTTP request; else TCP"),
                F("nodePort", T.INTEGER, "`NodePort` or `LoadBalancer` (optional): "
                  "30000-32767; 0 is unset", minimum=0, maximum=32767),
            )),  # required unless headless (manifests.checks): then the pods' own ports
        ), required=True),
        _STATUS,
    )),
    KindSubset(base.Kind.HOST, None, (
        *_type_fields(base.Kind.HOST),
        _metadata(False, "host name in bindings and status", "matched by `nodeSelector`"),
        F("spec", T.OBJECT, "", (
            F("address", T.STRING, "IP address or DNS name the daemon connects to",
              required=True),
            F("ssh", T.OBJECT, "", (
                F("user", T.STRING, "login user; rootless podman runs as this user",
                  required=True),
                F("port", T.INTEGER, "SSH port (default 22)", minimum=1, maximum=65535),
            ), required=True),
            F("capacity", T.OBJECT, "what the scheduler may place here", (
                F("cpu", T.QUANTITY, "cores (`2`, `1500m`)", required=True),
                F("memory", T.QUANTITY, "bytes (`2Gi`)", required=True),
                F("ephemeral-storage", T.QUANTITY, "bytes of pods' `ephemeral-storage` "
                  "requests (absent: not counted)"),
            ), required=True),
            F("unschedulable", T.BOOLEAN, "cordon: no new pod is placed here; pods that run "
              "stay (annotation `reconciler.dev/drain: \"true\"` also moves them away)"),
            F("taints", T.LIST, "pods must tolerate these", (
                F("key", T.STRING, "taint key", required=True),
                F("value", T.STRING, "taint value"),
                F("effect", T.STRING, "what happens to pods that do not tolerate it",
                  required=True, enum=("NoSchedule", "PreferNoSchedule", "NoExecute")),
            )),
        ), required=True),
    )),
    KindSubset(base.Kind.PERSISTENT_VOLUME_CLAIM, "persistentvolumeclaim-v1.json", (
        *_type_fields(base.Kind.PERSISTENT_VOLUME_CLAIM),
        _metadata(True, "names its Podman volume `rc-pvc-<namespace>-<name>-<digest>`"),
        F("spec", T.OBJECT, "a Podman named volume on the host of the first pod that mounts it",
          (
            F("accessModes", T.LIST, "`ReadWriteOnce` (default; pods on the volume's host only) "
              "or `ReadWriteOncePod` (one pod at a time); `ReadWriteMany` and `ReadOnlyMany` are "
              "refused: the data lives on one host"),
            F("resources", T.OBJECT, "", (
                F("requests", T.OBJECT, "", (
                    F("storage", T.QUANTITY, "recorded and shown by `get pvc`; not enforced "
                      "(Podman's local volumes have no size)"),
                )),
            )),
            F("storageClassName", T.STRING, "any name; a Podman named volume on the pod's host "
              "whatever the name (a name other than `\"\"` or `local` is not honoured: a "
              "warning)"),
            F("volumeMode", T.STRING, "only `Filesystem` (the default)", enum=("Filesystem",)),
        ), required=True),
        _STATUS,
    )),
    KindSubset(base.Kind.HORIZONTAL_POD_AUTOSCALER, "horizontalpodautoscaler-autoscaling-v2.json", (
        *_type_fields(base.Kind.HORIZONTAL_POD_AUTOSCALER),
        _metadata(True, "name in `get hpa`"),
        F("spec", T.OBJECT, "scales a Deployment from the CPU and memory its pods use, measured "
          "on the hosts", (
            F("scaleTargetRef", T.OBJECT, "", (
                F("apiVersion", T.STRING, "`apps/v1`"),
                F("kind", T.STRING, "only `Deployment`", required=True),
                F("name", T.STRING, "a Deployment in the same namespace", required=True),
            ), required=True),
            F("minReplicas", T.INTEGER, "fewest replicas (default 1)", minimum=1),
            F("maxReplicas", T.INTEGER, "most replicas", required=True, minimum=1),
            F("metrics", T.LIST, "the largest proposal wins (default: cpu at 80% of requests)", (
                F("type", T.STRING, "only `Resource`", required=True, enum=("Resource",)),
                F("resource", T.OBJECT, "usage summed over the pod's containers", (
                    F("name", T.STRING, "", required=True, enum=("cpu", "memory")),
                    F("target", T.OBJECT, "", (
                        F("type", T.STRING, "", required=True,
                          enum=("Utilization", "AverageValue")),
                        F("averageUtilization", T.INTEGER, "percent of the pods' requests",
                          minimum=1),
                        F("averageValue", T.QUANTITY, "per pod (`500m`, `256Mi`)"),
                    ), required=True),
                ), required=True),
            )),
            F("behavior", T.OBJECT, "Kubernetes' defaults for what is left out", (
                _scaling_rules("scaleUp", "default: no window; 4 pods or 100% per 15 s"),
                _scaling_rules("scaleDown", "default: 300 s window; 100% per 15 s"),
            )),
        ), required=True),
    )),
    KindSubset(base.Kind.POD_DISRUPTION_BUDGET, "poddisruptionbudget-policy-v1.json", (
        *_type_fields(base.Kind.POD_DISRUPTION_BUDGET),
        _metadata(True, "named in a drain's waiting message"),
        F("spec", T.OBJECT, "limits how many selected pods a drain takes down at once", (
            F("selector", T.OBJECT, "the pods covered (of Deployments and bare Pods)", (
                F("matchLabels", T.MAP, "every pod with all of these labels; `{}`: every "
                  "pod of the namespace"),
            ), required=True),
            F("minAvailable", T.INT_OR_STRING, "available pods a drain keeps (`2`, `50%`)"),
            F("maxUnavailable", T.INT_OR_STRING, "unavailable pods a drain allows (`1`, "
              "`25%`)"),
        ), required=True),
    )),
)

# fmt: on

ANNOTATION_PREFIX = f"{base.API_GROUP}/"
KNOWN_ANNOTATIONS: dict[str, tuple[base.Kind, ...]] = {
    workloads.ROLLBACK_ON_FAILURE: (base.Kind.DEPLOYMENT,),
    cordon.DRAIN_ANNOTATION: (base.Kind.HOST,),
    claims.RECLAIM_ANNOTATION: (base.Kind.PERSISTENT_VOLUME_CLAIM,),
}
"""Annotations with our prefix that some part of reconciler reads, with the kinds whose
`metadata.annotations` may carry them; any other is an error."""
ANNOTATION_VALUES: dict[str, tuple[str, ...]] = {
    workloads.ROLLBACK_ON_FAILURE: ("true", "false"),
    cordon.DRAIN_ANNOTATION: ("true", "false"),
    claims.RECLAIM_ANNOTATION: tuple(claims.ReclaimPolicy),
}
"""The values a known annotation accepts (absent: any string)."""
