"""Per-object semantic checks that a JSON schema cannot express well: DNS-1123 names, label
syntax, quantities, selector vs template labels, hostPort clashes, volume mounts, base64.

Third stage of `loader`, run on documents that passed the schema. Also collects the references
(ConfigMaps, Secrets, Namespaces) that `references` resolves across the whole repository.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reconciler.manifests import positions as pos
from reconciler.manifests import subset, yamldocs
from reconciler.model import base, quantity
from reconciler.model import diagnostics as dg

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_PORT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_PERCENT = re.compile(r"^[0-9]+%$")
_SSH_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_LABEL_NAMED_KINDS = (base.Kind.NAMESPACE, base.Kind.SERVICE)

Doc = dict[str, Any]


@dataclass(frozen=True)
class Reference:
    """`source` refers to an object (and maybe one of its keys) that must exist."""

    kind: base.Kind
    namespace: str
    name: str
    key: str
    optional: bool
    file: str
    line: int
    column: int
    path: str


@dataclass
class Result:
    diagnostics: list[dg.Diagnostic] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)


def check(kind: base.Kind, document: yamldocs.Document, namespace: str) -> Result:
    """Check one schema-valid document of `kind`; `namespace` is its effective namespace."""
    checker = _Checker(document, namespace, redact=kind is base.Kind.SECRET)
    checker.metadata(kind)
    _BY_KIND[kind](checker)
    return checker.result


class _Checker:
    def __init__(self, document: yamldocs.Document, namespace: str, redact: bool) -> None:
        self.document = document
        self.doc: Doc = document.value  # type: ignore[assignment]
        self.namespace = namespace
        self.redact = redact
        self.result = Result()

    # --- reporting ---------------------------------------------------------------------------

    def error(self, path: pos.Path, code: dg.Code, message: str, hint: str,
              key: bool = False) -> None:
        line, column = self.document.at(path, key=key)
        self.result.diagnostics.append(
            dg.Diagnostic(self.document.file, line, column, pos.format_path(path), message, hint,
                          code)
        )

    def refer(self, path: pos.Path, kind: base.Kind, name: str, *, key: str = "",
              optional: bool = False, namespace: str | None = None) -> None:
        line, column = self.document.at(path)
        self.result.references.append(
            Reference(kind, self.namespace if namespace is None else namespace, name, key,
                      optional, self.document.file, line, column, pos.format_path(path))
        )

    # --- shared pieces -----------------------------------------------------------------------

    def name(self, path: pos.Path, value: str, label: bool, what: str = "name") -> None:
        pattern, limit = (_DNS_LABEL, 63) if label else (_DNS_SUBDOMAIN, 253)
        if len(value) > limit or not pattern.match(value):
            rule = "a DNS-1123 label" if label else "a DNS-1123 subdomain"
            self.error(path, dg.Code.INVALID_NAME,
                       f"{what} {value!r} is not {rule}",
                       f"use at most {limit} lowercase letters, digits and '-'"
                       + ("" if label else " or '.'") + ", starting and ending with a letter "
                       "or digit")

    def label_map(self, path: pos.Path, labels: dict[str, Any] | None, annotations: bool) -> None:
        for key, value in (labels or {}).items():
            problem = _qualified_name_problem(key)
            if problem:
                self.error((*path, key), dg.Code.INVALID_NAME, f"invalid key {key!r}: {problem}",
                           "keys are [prefix/]name: name of at most 63 letters, digits, "
                           "'-', '_', '.'; prefix a DNS subdomain", key=True)
            elif annotations and key.startswith(subset.ANNOTATION_PREFIX) and \
                    key not in subset.KNOWN_ANNOTATIONS:
                known = ", ".join(sorted(subset.KNOWN_ANNOTATIONS)) or "none yet"
                self.error((*path, key), dg.Code.UNSUPPORTED_FIELD,
                           f"unknown reconciler annotation {key!r}",
                           f"remove it; known annotations: {known}", key=True)
            if not annotations and isinstance(value, str) and value and (
                len(value) > 63 or not _LABEL_NAME.match(value)
            ):
                self.error((*path, key), dg.Code.INVALID_VALUE,
                           f"label value {value!r} is not valid",
                           "use at most 63 letters, digits, '-', '_', '.', starting and ending "
                           "with a letter or digit")

    def metadata(self, kind: base.Kind) -> None:
        meta = self.doc["metadata"]
        self.name(("metadata", "name"), meta["name"], label=kind in _LABEL_NAMED_KINDS)
        if kind.namespaced and "namespace" in meta:
            self.name(("metadata", "namespace"), meta["namespace"], label=True,
                      what="namespace")
            self.refer(("metadata", "namespace"), base.Kind.NAMESPACE, self.namespace,
                       namespace="")
        self.label_map(("metadata", "labels"), meta.get("labels"), annotations=False)
        self.label_map(("metadata", "annotations"), meta.get("annotations"), annotations=True)

    def quantity(self, path: pos.Path, value: Any, parse: Callable[[object], int]) -> int | None:
        try:
            return parse(value)
        except quantity.QuantityError as exc:
            self.error(path, dg.Code.INVALID_QUANTITY, exc.message, exc.hint)
            return None

    def unique(self, path: pos.Path, items: list[dict[str, Any]], field_name: str,
               what: str) -> None:
        seen: dict[Any, int] = {}
        for index, item in enumerate(items):
            value = item.get(field_name)
            if value is None:
                continue
            if value in seen:
                self.error((*path, index, field_name), dg.Code.DUPLICATE_NAME,
                           f"duplicate {what} {value!r} (also at index {seen[value]})",
                           f"give each {what} a different value")
            else:
                seen[value] = index

    # --- pods ---------------------------------------------------------------------------------

    def pod_spec(self, path: pos.Path, spec: Doc, in_deployment: bool) -> None:
        containers: list[Doc] = spec["containers"]
        volumes: list[Doc] = spec.get("volumes") or []
        if not containers:
            self.error((*path, "containers"), dg.Code.REQUIRED_FIELD,
                       "a pod needs at least one container", "add a container")
        self.unique((*path, "containers"), containers, "name", "container name")
        self.unique((*path, "volumes"), volumes, "name", "volume name")
        volume_names = {v["name"] for v in volumes}
        host_ports: dict[tuple[str, int, str], pos.Path] = {}
        for index, container in enumerate(containers):
            cpath = (*path, "containers", index)
            self.name((*cpath, "name"), container["name"], label=True, what="container name")
            if not container["image"].strip():
                self.error((*cpath, "image"), dg.Code.INVALID_VALUE, "image is empty",
                           "name an image, for example registry.example:5000/app:1.0")
            self.env(cpath, container)
            self.ports(cpath, container, host_ports)
            self.resources((*cpath, "resources"), container.get("resources") or {})
            self.mounts(cpath, container, volume_names)
        for index, volume in enumerate(volumes):
            self.volume((*path, "volumes", index), volume)
        for index, toleration in enumerate(spec.get("tolerations") or []):
            self.toleration((*path, "tolerations", index), toleration)
        policy = spec.get("restartPolicy")
        if in_deployment and policy not in (None, "Always"):
            self.error((*path, "restartPolicy"), dg.Code.INVALID_VALUE,
                       f"a Deployment's pods must restart Always, not {policy!r}",
                       'remove restartPolicy or set it to "Always"; use a Pod for run-once work')

    def env(self, cpath: pos.Path, container: Doc) -> None:
        for index, var in enumerate(container.get("env") or []):
            path = (*cpath, "env", index)
            if not _ENV_NAME.match(var["name"]):
                self.error((*path, "name"), dg.Code.INVALID_NAME,
                           f"invalid environment variable name {var['name']!r}",
                           "use letters, digits, '_', '-', '.', not starting with a digit")
            source = var.get("valueFrom")
            if source is not None and var.get("value") is not None:
                self.error(path, dg.Code.INVALID_VALUE, "both value and valueFrom are set",
                           "keep one of them")
            if source is not None:
                refs = [k for k in ("configMapKeyRef", "secretKeyRef") if source.get(k)]
                if len(refs) != 1:
                    self.error((*path, "valueFrom"), dg.Code.INVALID_VALUE,
                               "valueFrom needs exactly one of configMapKeyRef, secretKeyRef",
                               "keep exactly one")
                for ref_field in refs:
                    ref = source[ref_field]
                    kind = base.Kind.CONFIG_MAP if ref_field == "configMapKeyRef" else \
                        base.Kind.SECRET
                    self.refer((*path, "valueFrom", ref_field, "name"), kind, ref["name"],
                               key=ref["key"], optional=bool(ref.get("optional")))
        for index, source in enumerate(container.get("envFrom") or []):
            path = (*cpath, "envFrom", index)
            refs = [k for k in ("configMapRef", "secretRef") if source.get(k)]
            if len(refs) != 1:
                self.error(path, dg.Code.INVALID_VALUE,
                           "envFrom needs exactly one of configMapRef, secretRef",
                           "split it into one entry per source")
            for ref_field in refs:
                kind = base.Kind.CONFIG_MAP if ref_field == "configMapRef" else base.Kind.SECRET
                self.refer((*path, ref_field, "name"), kind, source[ref_field]["name"],
                           optional=bool(source[ref_field].get("optional")))

    def ports(self, cpath: pos.Path, container: Doc,
              host_ports: dict[tuple[str, int, str], pos.Path]) -> None:
        ports: list[Doc] = container.get("ports") or []
        for index, port in enumerate(ports):
            path = (*cpath, "ports", index)
            name = port.get("name")
            if name is not None and (len(name) > 15 or not _PORT_NAME.match(name)):
                self.error((*path, "name"), dg.Code.INVALID_NAME,
                           f"port name {name!r} is not valid",
                           "use at most 15 lowercase letters, digits and '-'")
            host_port = port.get("hostPort")
            if host_port is None:
                continue
            slot = (port.get("hostIP") or "", host_port, port.get("protocol") or "TCP")
            if slot in host_ports:
                self.error((*path, "hostPort"), dg.Code.HOST_PORT_CLASH,
                           f"hostPort {host_port}/{slot[2]} is already used by "
                           f"{pos.format_path(host_ports[slot])} in this pod",
                           "give each container port a different hostPort")
            else:
                host_ports[slot] = (*path, "hostPort")
            if slot[0]:
                self.ip_address((*path, "hostIP"), slot[0])

    def resources(self, path: pos.Path, resources: Doc) -> None:
        parsed: dict[tuple[str, str], int | None] = {}
        for section in ("requests", "limits"):
            for resource, parse in (("cpu", quantity.cpu_millicores),
                                    ("memory", quantity.memory_bytes)):
                value = (resources.get(section) or {}).get(resource)
                if value is not None:
                    parsed[section, resource] = self.quantity((*path, section, resource), value,
                                                              parse)
        for resource in ("cpu", "memory"):
            request, limit = parsed.get(("requests", resource)), parsed.get(("limits", resource))
            if request is not None and limit is not None and request > limit:
                self.error((*path, "requests", resource), dg.Code.INVALID_VALUE,
                           f"{resource} request is larger than its limit",
                           "raise the limit or lower the request")

    def mounts(self, cpath: pos.Path, container: Doc, volume_names: set[str]) -> None:
        mounts: list[Doc] = container.get("volumeMounts") or []
        self.unique((*cpath, "volumeMounts"), mounts, "mountPath", "mountPath")
        for index, mount in enumerate(mounts):
            path = (*cpath, "volumeMounts", index)
            if mount["name"] not in volume_names:
                known = ", ".join(sorted(volume_names)) or "none"
                self.error((*path, "name"), dg.Code.MISSING_REFERENCE,
                           f"no volume named {mount['name']!r} in this pod",
                           f"add it under volumes (volumes here: {known})")
            if not mount["mountPath"].startswith("/"):
                self.error((*path, "mountPath"), dg.Code.INVALID_VALUE,
                           "mountPath must be an absolute path", "start it with '/'")

    def volume(self, path: pos.Path, volume: Doc) -> None:
        self.name((*path, "name"), volume["name"], label=True, what="volume name")
        sources = [k for k in ("configMap", "secret", "emptyDir", "hostPath") if k in volume]
        if len(sources) != 1:
            self.error(path, dg.Code.INVALID_VALUE,
                       "a volume needs exactly one of configMap, secret, emptyDir, hostPath",
                       "keep exactly one source")
        if volume.get("configMap"):
            source = volume["configMap"]
            self.volume_items(path, "configMap", base.Kind.CONFIG_MAP, source["name"], source)
        if volume.get("secret"):
            source = volume["secret"]
            self.volume_items(path, "secret", base.Kind.SECRET, source["secretName"], source)
        if volume.get("hostPath") and not volume["hostPath"]["path"].startswith("/"):
            self.error((*path, "hostPath", "path"), dg.Code.INVALID_VALUE,
                       "hostPath.path must be an absolute path", "start it with '/'")

    def volume_items(self, path: pos.Path, field_name: str, kind: base.Kind, name: str,
                     source: Doc) -> None:
        optional = bool(source.get("optional"))
        name_field = "secretName" if kind is base.Kind.SECRET else "name"
        self.refer((*path, field_name, name_field), kind, name, optional=optional)
        for index, item in enumerate(source.get("items") or []):
            item_path = (*path, field_name, "items", index)
            self.refer((*item_path, "key"), kind, name, key=item["key"], optional=optional)
            if item["path"].startswith("/") or ".." in item["path"].split("/"):
                self.error((*item_path, "path"), dg.Code.INVALID_VALUE,
                           "items[].path must be a relative path inside the volume",
                           "remove the leading '/' and any '..'")

    def toleration(self, path: pos.Path, toleration: Doc) -> None:
        operator = toleration.get("operator") or "Equal"
        if operator == "Exists" and toleration.get("value"):
            self.error((*path, "value"), dg.Code.INVALID_VALUE,
                       "a toleration with operator Exists takes no value",
                       "remove value, or use operator Equal")
        if operator == "Equal" and not toleration.get("key"):
            self.error(path, dg.Code.INVALID_VALUE,
                       "a toleration without a key must use operator Exists",
                       'add a key, or set operator: "Exists"')

    def ip_address(self, path: pos.Path, value: str) -> None:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            self.error(path, dg.Code.INVALID_VALUE, f"{value!r} is not an IP address",
                       "write an IPv4 or IPv6 address")

    def data_keys(self, path: pos.Path, data: dict[str, Any] | None) -> None:
        for key in data or {}:
            if len(key) > 253 or not _CONFIG_KEY.match(key):
                self.error((*path, key), dg.Code.INVALID_NAME, f"invalid key {key!r}",
                           "use letters, digits, '-', '_' and '.'", key=True)

    def base64_values(self, path: pos.Path, data: dict[str, Any] | None) -> None:
        for key, value in (data or {}).items():
            if value is None:
                continue
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                self.error((*path, key), dg.Code.INVALID_VALUE,
                           f"the value of {key!r} is not valid base64",
                           "encode it with `base64 -w0`, or put the plain text under stringData"
                           if self.redact else "encode it with `base64 -w0`")


def _qualified_name_problem(key: str) -> str:
    prefix, _, name = key.rpartition("/")
    if "/" in key and not prefix:
        return "empty prefix"
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return "the prefix is not a DNS subdomain"
    if not name or len(name) > 63 or not _LABEL_NAME.match(name):
        return "the name part is not valid"
    return ""


# --- per kind ---------------------------------------------------------------------------------


def _namespace(checker: _Checker) -> None:
    return None


def _config_map(checker: _Checker) -> None:
    doc = checker.doc
    checker.data_keys(("data",), doc.get("data"))
    checker.data_keys(("binaryData",), doc.get("binaryData"))
    checker.base64_values(("binaryData",), doc.get("binaryData"))
    for key in set(doc.get("data") or {}) & set(doc.get("binaryData") or {}):
        checker.error(("binaryData", key), dg.Code.DUPLICATE_NAME,
                      f"key {key!r} is in both data and binaryData", "keep it in one of them",
                      key=True)


def _secret(checker: _Checker) -> None:
    doc = checker.doc
    checker.data_keys(("data",), doc.get("data"))
    checker.data_keys(("stringData",), doc.get("stringData"))
    checker.base64_values(("data",), doc.get("data"))


def _pod(checker: _Checker) -> None:
    checker.pod_spec(("spec",), checker.doc["spec"], in_deployment=False)


def _deployment(checker: _Checker) -> None:
    spec = checker.doc["spec"]
    selector = spec["selector"].get("matchLabels") or {}
    template_meta = spec["template"].get("metadata") or {}
    labels = template_meta.get("labels") or {}
    checker.label_map(("spec", "selector", "matchLabels"), selector, annotations=False)
    checker.label_map(("spec", "template", "metadata", "labels"), labels, annotations=False)
    checker.label_map(("spec", "template", "metadata", "annotations"),
                      template_meta.get("annotations"), annotations=True)
    if not selector:
        checker.error(("spec", "selector", "matchLabels"), dg.Code.SELECTOR_MISMATCH,
                      "the selector is empty", "select the pods by one of the template's labels")
    mismatched = [k for k, v in selector.items() if labels.get(k) != v]
    if mismatched:
        checker.error(("spec", "selector", "matchLabels"), dg.Code.SELECTOR_MISMATCH,
                      "selector does not match the template's labels "
                      f"(template lacks {', '.join(f'{k}={selector[k]}' for k in mismatched)})",
                      "make spec.template.metadata.labels contain every matchLabels entry")
    checker.pod_spec(("spec", "template", "spec"), spec["template"]["spec"], in_deployment=True)
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    for name in ("maxSurge", "maxUnavailable"):
        value = rolling.get(name)
        if (isinstance(value, str) and not _PERCENT.match(value)) or (
            isinstance(value, int) and value < 0
        ):
            checker.error(("spec", "strategy", "rollingUpdate", name), dg.Code.INVALID_VALUE,
                          f"{name} must be a number of pods or a percentage",
                          'write for example 1 or "25%"')
    if rolling and all(str(rolling.get(n, "25%")) in ("0", "0%") for n in ("maxSurge",
                                                                          "maxUnavailable")):
        checker.error(("spec", "strategy", "rollingUpdate"), dg.Code.INVALID_VALUE,
                      "maxSurge and maxUnavailable cannot both be 0",
                      "allow at least one extra or one unavailable pod")
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate" and strategy.get("rollingUpdate"):
        checker.error(("spec", "strategy", "rollingUpdate"), dg.Code.INVALID_VALUE,
                      "rollingUpdate is only allowed with type RollingUpdate",
                      "remove rollingUpdate or the Recreate type")


def _service(checker: _Checker) -> None:
    spec = checker.doc["spec"]
    checker.label_map(("spec", "selector"), spec["selector"], annotations=False)
    if not spec["selector"]:
        checker.error(("spec", "selector"), dg.Code.INVALID_VALUE, "the selector is empty",
                      "select the backend pods by their labels")
    ports: list[Doc] = spec["ports"]
    if not ports:
        checker.error(("spec", "ports"), dg.Code.REQUIRED_FIELD, "a Service needs a port",
                      "add a port")
    checker.unique(("spec", "ports"), ports, "port", "port")
    checker.unique(("spec", "ports"), ports, "name", "port name")
    for index, port in enumerate(ports):
        path = ("spec", "ports", index)
        if len(ports) > 1 and not port.get("name"):
            checker.error(path, dg.Code.REQUIRED_FIELD,
                          "every port of a multi-port Service needs a name", "add a name")
        target = port.get("targetPort")
        if isinstance(target, int) and not 1 <= target <= 65535:
            checker.error((*path, "targetPort"), dg.Code.INVALID_VALUE,
                          "targetPort must be between 1 and 65535", "use a valid port number")
        if isinstance(target, str) and (len(target) > 15 or not _PORT_NAME.match(target)):
            checker.error((*path, "targetPort"), dg.Code.INVALID_VALUE,
                          f"targetPort {target!r} is neither a port number nor a port name",
                          "name a container port, or give a number")
        if port.get("nodePort") is not None and spec.get("type") != "NodePort":
            checker.error((*path, "nodePort"), dg.Code.INVALID_VALUE,
                          "nodePort is only allowed with type NodePort",
                          'remove nodePort or set type: "NodePort"')


def _host(checker: _Checker) -> None:
    spec = checker.doc["spec"]
    address: str = spec["address"]
    try:
        ipaddress.ip_address(address)
    except ValueError:
        if len(address) > 253 or not _DNS_SUBDOMAIN.match(address.lower().rstrip(".")):
            checker.error(("spec", "address"), dg.Code.INVALID_VALUE,
                          f"address {address!r} is neither an IP address nor a DNS name",
                          "write an IPv4/IPv6 address or a host name")
    user: str = spec["ssh"]["user"]
    if not _SSH_USER.match(user):
        checker.error(("spec", "ssh", "user"), dg.Code.INVALID_NAME,
                      f"{user!r} is not a valid user name",
                      "use lowercase letters, digits, '_' and '-', starting with a letter or '_'")
    capacity = spec["capacity"]
    checker.quantity(("spec", "capacity", "cpu"), capacity["cpu"], quantity.cpu_millicores)
    checker.quantity(("spec", "capacity", "memory"), capacity["memory"], quantity.memory_bytes)
    taints: list[Doc] = spec.get("taints") or []
    seen: set[tuple[str, str]] = set()
    for index, taint in enumerate(taints):
        problem = _qualified_name_problem(taint["key"])
        if problem:
            checker.error(("spec", "taints", index, "key"), dg.Code.INVALID_NAME,
                          f"invalid taint key {taint['key']!r}: {problem}",
                          "taint keys follow the label key syntax")
        if (taint["key"], taint["effect"]) in seen:
            checker.error(("spec", "taints", index), dg.Code.DUPLICATE_NAME,
                          f"duplicate taint {taint['key']}:{taint['effect']}",
                          "remove one of them")
        seen.add((taint["key"], taint["effect"]))


_BY_KIND: dict[base.Kind, Callable[[_Checker], None]] = {
    base.Kind.NAMESPACE: _namespace,
    base.Kind.CONFIG_MAP: _config_map,
    base.Kind.SECRET: _secret,
    base.Kind.POD: _pod,
    base.Kind.DEPLOYMENT: _deployment,
    base.Kind.SERVICE: _service,
    base.Kind.HOST: _host,
}
