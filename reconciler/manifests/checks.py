"""Per-object semantic checks that a JSON schema cannot express well: DNS-1123 names, label
syntax, quantities, selector vs template labels, Service ports, Host addresses, base64.

Third stage of `loader`, run on documents that passed the schema; pod specs are checked by
`podchecks`. Also collects the references (ConfigMaps, Secrets, Namespaces) that `references`
resolves across the whole repository.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from reconciler.manifests import autoscalers as hpadocs
from reconciler.manifests import (
    checking,
    claimchecks,
    cronjobdocs,
    disruptionchecks,
    jobdocs,
    noeffect,
    podchecks,
    secrettypes,
    servicefields,
    yamldocs,
)
from reconciler.model import base, quantity
from reconciler.model import diagnostics as dg

_PERCENT = re.compile(r"^[0-9]+%$")
_SSH_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
Doc = checking.Doc
Reference = checking.Reference


def check(kind: base.Kind, document: yamldocs.Document, namespace: str) -> checking.Result:
    """Check one schema-valid document of `kind`; `namespace` is its effective namespace."""
    checker = checking.Checker(document, namespace, redact=kind is base.Kind.SECRET)
    checker.metadata(kind)
    if "status" in checker.doc:
        checker.warn(
            ("status",),
            dg.Code.IGNORED_FIELD,
            "status is ignored: it is written by the system, not read from the manifest "
            "(the Kubernetes API server ignores it on create too)",
            "remove the status block",
        )
    _BY_KIND[kind](checker)
    return checker.result


# --- per kind ---------------------------------------------------------------------------------


def _namespace(checker: checking.Checker) -> None:
    return None


def _config_map(checker: checking.Checker) -> None:
    doc = checker.doc
    checker.data_keys(("data",), doc.get("data"))
    checker.data_keys(("binaryData",), doc.get("binaryData"))
    checker.base64_values(("binaryData",), doc.get("binaryData"))
    for key in set(doc.get("data") or {}) & set(doc.get("binaryData") or {}):
        checker.error(
            ("binaryData", key),
            dg.Code.DUPLICATE_NAME,
            f"key {key!r} is in both data and binaryData",
            "keep it in one of them",
            key=True,
        )


def _secret(checker: checking.Checker) -> None:
    doc = checker.doc
    checker.data_keys(("data",), doc.get("data"))
    checker.data_keys(("stringData",), doc.get("stringData"))
    checker.base64_values(("data",), doc.get("data"))
    secrettypes.check(checker, doc)


def _pod(checker: checking.Checker) -> None:
    podchecks.pod_spec(checker, ("spec",), checker.doc["spec"], in_deployment=False)


def _deployment(checker: checking.Checker) -> None:
    spec = checker.doc["spec"]
    selector = spec["selector"].get("matchLabels") or {}
    template_meta = spec["template"].get("metadata") or {}
    labels = template_meta.get("labels") or {}
    checker.label_map(("spec", "selector", "matchLabels"), selector, annotations=False)
    checker.label_map(("spec", "template", "metadata", "labels"), labels, annotations=False)
    checker.label_map(
        ("spec", "template", "metadata", "annotations"),
        template_meta.get("annotations"),
        annotations=True,
    )
    if not selector:
        checker.error(
            ("spec", "selector", "matchLabels"),
            dg.Code.SELECTOR_MISMATCH,
            "the selector is empty",
            "select the pods by one of the template's labels",
        )
    mismatched = [k for k, v in selector.items() if labels.get(k) != v]
    if mismatched:
        checker.error(
            ("spec", "selector", "matchLabels"),
            dg.Code.SELECTOR_MISMATCH,
            "selector does not match the template's labels "
            f"(template lacks {', '.join(f'{k}={selector[k]}' for k in mismatched)})",
            "make spec.template.metadata.labels contain every matchLabels entry",
        )
    podchecks.pod_spec(
        checker, ("spec", "template", "spec"), spec["template"]["spec"], in_deployment=True
    )
    _strategy(checker, spec)
    noeffect.deployment(checker, spec)  # revisionHistoryLimit: a warning
    min_ready = spec.get("minReadySeconds") or 0
    deadline = spec.get("progressDeadlineSeconds")
    if deadline is not None and deadline <= min_ready:
        checker.error(
            ("spec", "progressDeadlineSeconds"),
            dg.Code.INVALID_VALUE,
            f"progressDeadlineSeconds ({deadline}) must be greater than minReadySeconds "
            f"({min_ready}) (Kubernetes' rule)",
            "raise progressDeadlineSeconds (default 600) or lower minReadySeconds",
        )


def _strategy(checker: checking.Checker, spec: Doc) -> None:
    """`strategy.rollingUpdate`: each bound a number of pods or a percentage up to 100%, not
    both 0, and only with type RollingUpdate (the schema checks the type's name)."""
    strategy = spec.get("strategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    path = ("spec", "strategy", "rollingUpdate")
    values: dict[str, int] = {}
    for name in ("maxSurge", "maxUnavailable"):
        value = rolling.get(name)
        if value is None:
            continue
        parsed = _int_or_percent(value)
        if parsed is None:
            checker.error(
                (*path, name),
                dg.Code.INVALID_VALUE,
                f"{name} {value!r} is neither a number of pods nor a percentage",
                'write a whole number of pods (1) or a whole percentage in quotes ("25%")',
            )
        elif isinstance(value, str) and parsed > 100:
            checker.error(
                (*path, name),
                dg.Code.INVALID_VALUE,
                f"{name} {value!r} is over 100%",
                'write a percentage from "0%" to "100%", or a number of pods',
            )
        else:
            values[name] = parsed
    if rolling and values.get("maxSurge", 1) == 0 and values.get("maxUnavailable", 1) == 0:
        checker.error(
            path,
            dg.Code.INVALID_VALUE,
            "maxSurge and maxUnavailable cannot both be 0: the rollout could never replace a pod",
            "allow at least one extra pod (maxSurge: 1) or one unavailable pod (maxUnavailable: 1)",
        )
    if strategy.get("type") == "Recreate" and strategy.get("rollingUpdate"):
        checker.error(
            path,
            dg.Code.INVALID_VALUE,
            "rollingUpdate is only allowed with type RollingUpdate",
            "remove rollingUpdate or the Recreate type",
        )


def _int_or_percent(value: float | str) -> int | None:
    """A count of pods (a whole number; the schema lets 1.0 through as an integer), or the
    number of a percentage ("25%" -> 25); None when malformed."""
    if not isinstance(value, str):
        return int(value) if value >= 0 else None
    return int(value[:-1]) if _PERCENT.fullmatch(value) else None


def _service(checker: checking.Checker) -> None:
    spec = checker.doc["spec"]
    checker.label_map(("spec", "selector"), spec["selector"], annotations=False)
    if not spec["selector"]:
        checker.error(
            ("spec", "selector"),
            dg.Code.INVALID_VALUE,
            "the selector is empty",
            "select the backend pods by their labels",
        )
    ports: list[Doc] = spec.get("ports") or []
    if not ports and spec.get("clusterIP") != "None":  # headless: the pods' ports (podips)
        checker.error(("spec", "ports"), dg.Code.REQUIRED_FIELD, "a Service needs a port "
                      "unless it is headless (clusterIP: None)", "add a port")  # fmt: skip
    if spec.get("clusterIP") == "None" and spec.get("sessionAffinity") == "ClientIP":
        checker.warn(("spec", "sessionAffinity"), dg.Code.IGNORED_FIELD, "sessionAffinity has "
                     "no effect on a headless Service: each pod address reaches one pod",
                     "remove sessionAffinity (a client picks a pod by its address)")  # fmt: skip
    checker.unique(("spec", "ports"), ports, "port", "port")
    checker.unique(("spec", "ports"), ports, "name", "port name")
    for index, port in enumerate(ports):
        path = ("spec", "ports", index)
        if len(ports) > 1 and not port.get("name"):
            checker.error(
                path,
                dg.Code.REQUIRED_FIELD,
                "every port of a multi-port Service needs a name",
                "add a name",
            )
        target = port.get("targetPort")
        if isinstance(target, int) and not 1 <= target <= 65535:
            checker.error(
                (*path, "targetPort"),
                dg.Code.INVALID_VALUE,
                "targetPort must be between 1 and 65535",
                "use a valid port number",
            )
        if isinstance(target, str) and (len(target) > 15 or not checking.PORT_NAME.match(target)):
            checker.error(
                (*path, "targetPort"),
                dg.Code.INVALID_VALUE,
                f"targetPort {target!r} is neither a port number nor a port name",
                "name a container port, or give a number",
            )
        if port.get("nodePort") and spec.get("type") not in ("NodePort", "LoadBalancer"):
            checker.error(
                (*path, "nodePort"),
                dg.Code.INVALID_VALUE,
                "nodePort is only allowed with type NodePort or LoadBalancer",
                'remove nodePort or set type: "NodePort"',
            )
    servicefields.fields(checker)


def _host(checker: checking.Checker) -> None:
    spec = checker.doc["spec"]
    address: str = spec["address"]
    try:
        ipaddress.ip_address(address)
    except ValueError:
        if len(address) > 253 or not checking.DNS_SUBDOMAIN.match(address.lower().rstrip(".")):
            checker.error(
                ("spec", "address"),
                dg.Code.INVALID_VALUE,
                f"address {address!r} is neither an IP address nor a DNS name",
                "write an IPv4/IPv6 address or a host name",
            )
    user: str = spec["ssh"]["user"]
    if not _SSH_USER.match(user):
        checker.error(
            ("spec", "ssh", "user"),
            dg.Code.INVALID_NAME,
            f"{user!r} is not a valid user name",
            "use lowercase letters, digits, '_' and '-', starting with a letter or '_'",
        )
    capacity = spec["capacity"]
    checker.quantity(("spec", "capacity", "cpu"), capacity["cpu"], quantity.cpu_millicores)
    checker.quantity(("spec", "capacity", "memory"), capacity["memory"], quantity.memory_bytes)
    if "ephemeral-storage" in capacity:
        checker.quantity(("spec", "capacity", "ephemeral-storage"), capacity["ephemeral-storage"],
                         quantity.memory_bytes)  # fmt: skip
    taints: list[Doc] = spec.get("taints") or []
    seen: set[tuple[str, str]] = set()
    for index, taint in enumerate(taints):
        problem = checking.qualified_name_problem(taint["key"])
        if problem:
            checker.error(
                ("spec", "taints", index, "key"),
                dg.Code.INVALID_NAME,
                f"invalid taint key {taint['key']!r}: {problem}",
                "taint keys follow the label key syntax",
            )
        if (taint["key"], taint["effect"]) in seen:
            checker.error(
                ("spec", "taints", index),
                dg.Code.DUPLICATE_NAME,
                f"duplicate taint {taint['key']}:{taint['effect']}",
                "remove one of them",
            )
        seen.add((taint["key"], taint["effect"]))


_BY_KIND: dict[base.Kind, Callable[[checking.Checker], None]] = {
    base.Kind.NAMESPACE: _namespace,
    base.Kind.CONFIG_MAP: _config_map,
    base.Kind.SECRET: _secret,
    base.Kind.POD: _pod,
    base.Kind.DEPLOYMENT: _deployment,
    base.Kind.SERVICE: _service,
    base.Kind.HOST: _host,
    base.Kind.HORIZONTAL_POD_AUTOSCALER: hpadocs.check,
    base.Kind.POD_DISRUPTION_BUDGET: disruptionchecks.check,
    base.Kind.JOB: jobdocs.check,
    base.Kind.CRON_JOB: cronjobdocs.check,
    base.Kind.PERSISTENT_VOLUME_CLAIM: claimchecks.check,
}
