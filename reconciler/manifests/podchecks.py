"""Checks of a pod spec (a Pod's, or a Deployment's template): containers, environment,
ports and hostPort clashes, resources, volumes and their mounts, tolerations.

Part of the per-object checks (`checks`); collects the ConfigMap/Secret references it meets.
"""

from __future__ import annotations

import re

from reconciler.manifests import (
    checking,
    claimchecks,
    emptydir,
    envfields,
    filemodes,
    imageref,
    initchecks,
    noeffect,
    placementchecks,
    podgroups,
    podhostname,
    podnetwork,
    probechecks,
    securitycontext,
    servicefields,
    subpathchecks,
)
from reconciler.manifests import positions as pos
from reconciler.model import base, quantity
from reconciler.model import diagnostics as dg

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
Doc = checking.Doc


def pod_spec(checker: checking.Checker, path: pos.Path, spec: Doc, in_deployment: bool) -> None:
    containers: list[Doc] = spec["containers"]
    volumes: list[Doc] = spec.get("volumes") or []
    if not containers:
        checker.error(
            (*path, "containers"),
            dg.Code.REQUIRED_FIELD,
            "a pod needs at least one container",
            "add a container",
        )
    checker.unique((*path, "containers"), containers, "name", "container name")
    checker.unique((*path, "volumes"), volumes, "name", "volume name")
    volume_names = {v["name"] for v in volumes}
    host_ports: dict[tuple[str, int, str], pos.Path] = {}
    for index, container in enumerate(containers):
        cpath = (*path, "containers", index)
        checker.name((*cpath, "name"), container["name"], label=True, what="container name")
        imageref.check(checker, (*cpath, "image"), container["image"])
        check_env(checker, cpath, container, containers)
        check_ports(checker, cpath, container, host_ports)
        check_resources(checker, (*cpath, "resources"), container.get("resources") or {})
        check_mounts(checker, cpath, container, volume_names)
        probechecks.check_probes(checker, cpath, container)
        securitycontext.check(
            checker, (*cpath, "securityContext"), container.get("securityContext"),
            spec.get("securityContext"),
        )  # fmt: skip
    for index, volume in enumerate(volumes):
        check_volume(checker, (*path, "volumes", index), volume)
    podnetwork.check(checker, path, spec)
    podhostname.check(checker, path, spec)  # hostname, subdomain
    subpathchecks.check_sources(checker, path, spec)  # subPath into configMap, secret
    for index, pull in enumerate(spec.get("imagePullSecrets") or []):  # registry logins
        if isinstance(pull, dict) and isinstance(pull.get("name"), str):
            where = (*path, "imagePullSecrets", index, "name")
            checker.refer(where, base.Kind.SECRET, pull["name"])
    emptydir.check(checker, path, spec)
    podgroups.check(checker, path, spec)  # fsGroup, supplementalGroups
    initchecks.check(checker, path, spec, volume_names)  # initContainers, lifecycle hooks
    noeffect.pod_spec(checker, path, spec)  # service account, termination message: warnings
    for index, toleration in enumerate(spec.get("tolerations") or []):
        check_toleration(checker, (*path, "tolerations", index), toleration)
    placementchecks.check(checker, path, spec)
    policy = spec.get("restartPolicy")
    if in_deployment and policy not in (None, "Always"):
        checker.error(
            (*path, "restartPolicy"),
            dg.Code.INVALID_VALUE,
            f"a Deployment's pods must restart Always, not {policy!r}",
            'remove restartPolicy or set it to "Always"; use a Pod for run-once work',
        )


def check_env(
    checker: checking.Checker, cpath: pos.Path, container: Doc, containers: list[Doc]
) -> None:
    for index, var in enumerate(container.get("env") or []):
        path = (*cpath, "env", index)
        if not _ENV_NAME.match(var["name"]):
            checker.error(
                (*path, "name"),
                dg.Code.INVALID_NAME,
                f"invalid environment variable name {var['name']!r}",
                "use letters, digits, '_', '-', '.', not starting with a digit",
            )
        source = var.get("valueFrom")
        if source is not None and var.get("value") is not None:
            checker.error(
                path, dg.Code.INVALID_VALUE, "both value and valueFrom are set", "keep one of them"
            )
        if source is not None:
            kinds = ("configMapKeyRef", "secretKeyRef", "fieldRef", "resourceFieldRef")
            if len([k for k in kinds if source.get(k)]) != 1:
                checker.error(
                    (*path, "valueFrom"),
                    dg.Code.INVALID_VALUE,
                    "valueFrom needs exactly one of configMapKeyRef, secretKeyRef, fieldRef, "
                    "resourceFieldRef",
                    "keep exactly one",
                )
            envfields.check(checker, (*path, "valueFrom"), source, containers)
            refs = [k for k in ("configMapKeyRef", "secretKeyRef") if source.get(k)]
            for ref_field in refs:
                ref = source[ref_field]
                kind = base.Kind.CONFIG_MAP if ref_field == "configMapKeyRef" else base.Kind.SECRET
                checker.refer(
                    (*path, "valueFrom", ref_field, "name"),
                    kind,
                    ref["name"],
                    key=ref["key"],
                    optional=bool(ref.get("optional")),
                )
    for index, source in enumerate(container.get("envFrom") or []):
        path = (*cpath, "envFrom", index)
        refs = [k for k in ("configMapRef", "secretRef") if source.get(k)]
        if len(refs) != 1:
            checker.error(
                path,
                dg.Code.INVALID_VALUE,
                "envFrom needs exactly one of configMapRef, secretRef",
                "split it into one entry per source",
            )
        for ref_field in refs:
            kind = base.Kind.CONFIG_MAP if ref_field == "configMapRef" else base.Kind.SECRET
            checker.refer(
                (*path, ref_field, "name"),
                kind,
                source[ref_field]["name"],
                optional=bool(source[ref_field].get("optional")),
            )


def check_ports(
    checker: checking.Checker,
    cpath: pos.Path,
    container: Doc,
    host_ports: dict[tuple[str, int, str], pos.Path],
) -> None:
    ports: list[Doc] = container.get("ports") or []
    for index, port in enumerate(ports):
        path = (*cpath, "ports", index)
        name = port.get("name")
        if name is not None and (len(name) > 15 or not checking.PORT_NAME.match(name)):
            checker.error(
                (*path, "name"),
                dg.Code.INVALID_NAME,
                f"port name {name!r} is not valid",
                "use at most 15 lowercase letters, digits and '-'",
            )
        host_port = port.get("hostPort")
        if host_port is None:
            continue
        slot = (port.get("hostIP") or "", host_port, port.get("protocol") or "TCP")
        if slot in host_ports:
            checker.error(
                (*path, "hostPort"),
                dg.Code.HOST_PORT_CLASH,
                f"hostPort {host_port}/{slot[2]} is already used by "
                f"{pos.format_path(host_ports[slot])} in this pod",
                "give each container port a different hostPort",
            )
        else:
            host_ports[slot] = (*path, "hostPort")
        if host_port < servicefields.UNPRIVILEGED:
            checker.warn(
                (*path, "hostPort"),
                dg.Code.PRIVILEGED_PORT,
                f"hostPort {host_port} is below {servicefields.UNPRIVILEGED}: rootless Podman "
                "publishes it only on hosts whose net.ipv4.ip_unprivileged_port_start is "
                f"{host_port} or lower (elsewhere the pod fails to start)",
                servicefields.BIND_HINT,
            )
        if slot[0]:
            checker.ip_address((*path, "hostIP"), slot[0])


def check_resources(checker: checking.Checker, path: pos.Path, resources: Doc) -> None:
    parsed: dict[tuple[str, str], int | None] = {}
    for section in ("requests", "limits"):
        for resource, parse in (
            ("cpu", quantity.cpu_millicores),
            ("memory", quantity.memory_bytes),
            ("ephemeral-storage", quantity.memory_bytes),
        ):
            value = (resources.get(section) or {}).get(resource)
            if value is not None:
                parsed[section, resource] = checker.quantity(
                    (*path, section, resource), value, parse
                )
    for resource in ("cpu", "memory", "ephemeral-storage"):
        request, limit = parsed.get(("requests", resource)), parsed.get(("limits", resource))
        if request is not None and limit is not None and request > limit:
            checker.error(
                (*path, "requests", resource),
                dg.Code.INVALID_VALUE,
                f"{resource} request is larger than its limit",
                "raise the limit or lower the request",
            )


def check_mounts(
    checker: checking.Checker, cpath: pos.Path, container: Doc, volume_names: set[str]
) -> None:
    mounts: list[Doc] = container.get("volumeMounts") or []
    checker.unique((*cpath, "volumeMounts"), mounts, "mountPath", "mountPath")
    for index, mount in enumerate(mounts):
        path = (*cpath, "volumeMounts", index)
        if mount["name"] not in volume_names:
            known = ", ".join(sorted(volume_names)) or "none"
            checker.error(
                (*path, "name"),
                dg.Code.MISSING_REFERENCE,
                f"no volume named {mount['name']!r} in this pod",
                f"add it under volumes (volumes here: {known})",
            )
        if not mount["mountPath"].startswith("/"):
            checker.error(
                (*path, "mountPath"),
                dg.Code.INVALID_VALUE,
                "mountPath must be an absolute path",
                "start it with '/'",
            )
        subpathchecks.check(checker, path, mount)  # subPath, subPathExpr


def check_volume(checker: checking.Checker, path: pos.Path, volume: Doc) -> None:
    checker.name((*path, "name"), volume["name"], label=True, what="volume name")
    kinds = ("configMap", "secret", "emptyDir", "hostPath", "persistentVolumeClaim")
    sources = [k for k in kinds if k in volume]
    if len(sources) != 1:
        checker.error(
            path,
            dg.Code.INVALID_VALUE,
            "a volume needs exactly one of " + ", ".join(kinds),
            "keep exactly one source",
        )
    if volume.get("configMap"):
        source = volume["configMap"]
        check_volume_items(
            checker, path, "configMap", base.Kind.CONFIG_MAP, name=source["name"], source=source
        )
    if volume.get("secret"):
        source = volume["secret"]
        check_volume_items(
            checker, path, "secret", base.Kind.SECRET, name=source["secretName"], source=source
        )
    if volume.get("persistentVolumeClaim"):
        claimchecks.pod_volume(checker, path, volume)
    if "hostPath" in volume:
        checker.error(
            (*path, "hostPath"),
            dg.Code.UNSUPPORTED_FIELD,
            "hostPath volumes are refused: no daemon setting allows host paths, and a bind "
            "mount of the host's files would escape what the repository describes",
            "use an emptyDir, configMap or secret volume instead",
        )


def check_volume_items(
    checker: checking.Checker,
    path: pos.Path,
    field_name: str,
    kind: base.Kind,
    *,
    name: str,
    source: Doc,
) -> None:
    optional = bool(source.get("optional"))
    filemodes.check(checker, (*path, field_name), source)  # defaultMode, items[].mode
    name_field = "secretName" if kind is base.Kind.SECRET else "name"
    checker.refer((*path, field_name, name_field), kind, name, optional=optional)
    for index, item in enumerate(source.get("items") or []):
        item_path = (*path, field_name, "items", index)
        checker.refer(
            (*item_path, "key"), kind, name, key=item["key"], optional=optional, key_only=True
        )
        if item["path"].startswith("/") or ".." in item["path"].split("/"):
            checker.error(
                (*item_path, "path"),
                dg.Code.INVALID_VALUE,
                "items[].path must be a relative path inside the volume",
                "remove the leading '/' and any '..'",
            )


def check_toleration(checker: checking.Checker, path: pos.Path, toleration: Doc) -> None:
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists" and toleration.get("value"):
        checker.error(
            (*path, "value"),
            dg.Code.INVALID_VALUE,
            "a toleration with operator Exists takes no value",
            "remove value, or use operator Equal",
        )
    if operator == "Equal" and not toleration.get("key"):
        checker.error(
            path,
            dg.Code.INVALID_VALUE,
            "a toleration without a key must use operator Exists",
            'add a key, or set operator: "Exists"',
        )
