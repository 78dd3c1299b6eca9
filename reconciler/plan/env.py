"""Environment of one container, resolved to values: `envFrom` (every key, with its prefix), then
`env` (literal values, ConfigMap and Secret keys), `$(VAR)` in literal values expanded as
Kubernetes does. Called by `resolve` for each container. Secret values come out as
`hoststate.Sensitive`, and so does any value or argument a Secret value was expanded into.
"""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.model import base, hoststate, objects, workloads
from reconciler.plan import refs

Env = tuple[tuple[str, str], ...]


def container_env(container: workloads.Container, sources: refs.Sources, path: str) -> Env:
    """Ordered (name, value) pairs. Kubernetes order: envFrom sources in order, each source's
    keys sorted; then `env` in order, each value expanded against what is defined before it. A
    name defined again keeps its first position and takes the later value."""
    values: dict[str, str] = {}
    for index, source in enumerate(container.env_from):
        values.update(_env_from(source, sources, f"{path}.envFrom[{index}]"))
    for index, var in enumerate(container.env):
        value = _env_value(var, sources, f"{path}.env[{index}]")
        if value is None:
            continue
        literal = var.config_map_key is None and var.secret_key is None
        # Only literal values are expanded; values read from a ConfigMap or Secret are not.
        values[var.name] = expand_references(value, values) if literal else value
    return tuple(values.items())


def _env_from(source: workloads.EnvFrom, sources: refs.Sources, path: str) -> dict[str, str]:
    if source.config_map:
        config_map = sources.config_map(source.config_map)
        if config_map is None:
            if source.optional:
                return {}
            raise sources.missing(f"{path}.configMapRef", base.Kind.CONFIG_MAP, source.config_map)
        # Like the kubelet: only `data` keys become variables, `binaryData` cannot.
        return {source.prefix + key: config_map.data[key] for key in sorted(config_map.data)}
    secret = sources.secret(source.secret)
    if secret is None:
        if source.optional:
            return {}
        raise sources.missing(f"{path}.secretRef", base.Kind.SECRET, source.secret)
    return {
        source.prefix + key: _secret_text(secret, key, f"{path}.secretRef")
        for key in sorted(secret.data)
    }


def _env_value(var: workloads.EnvVar, sources: refs.Sources, path: str) -> str | None:
    """The variable's value, or None when an optional reference is missing (no variable)."""
    if var.config_map_key is not None:
        ref = var.config_map_key
        where = f"{path}.valueFrom.configMapKeyRef"
        config_map = sources.config_map(ref.name)
        if config_map is None:
            if ref.optional:
                return None
            raise sources.missing(where, base.Kind.CONFIG_MAP, ref.name)
        if ref.key in config_map.data:
            return config_map.data[ref.key]
        if ref.key in config_map.binary_data:
            raise refs.ResolveError(
                where,
                f"key {ref.key!r} of ConfigMap {sources.namespace}/{ref.name} is in binaryData, "
                "which cannot be an environment variable",
                "move the value to `data`, or mount the ConfigMap as a volume",
            )
        if ref.optional:
            return None
        raise sources.missing_key(where, base.Kind.CONFIG_MAP, ref.name, ref.key)
    if var.secret_key is not None:
        ref = var.secret_key
        where = f"{path}.valueFrom.secretKeyRef"
        secret = sources.secret(ref.name)
        if secret is None:
            if ref.optional:
                return None
            raise sources.missing(where, base.Kind.SECRET, ref.name)
        if ref.key not in secret.data:
            if ref.optional:
                return None
            raise sources.missing_key(where, base.Kind.SECRET, ref.name, ref.key)
        return _secret_text(secret, ref.key, where)
    return var.value


def _secret_text(secret: objects.Secret, key: str, path: str) -> hoststate.Sensitive:
    try:
        return hoststate.Sensitive(secret.data[key].decode("utf-8"))
    except UnicodeDecodeError:
        raise refs.ResolveError(
            path,
            f"key {key!r} of Secret {secret.meta.namespace}/{secret.meta.name} is not UTF-8 "
            "text, which an environment variable must be",
            "mount the Secret as a volume instead",
        ) from None


def expand_references(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: `$(NAME)` becomes the value of a defined NAME and stays as
    written otherwise; `$$` is a literal `$`. The result is `Sensitive` if `text` was, or if a
    Sensitive value was expanded into it."""
    if "$" not in text:
        return text
    out: list[str] = []
    sensitive = isinstance(text, hoststate.Sensitive)
    i = 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
            continue
        if text.startswith("$(", i):
            close = text.find(")", i + 2)
            if close != -1:
                name = text[i + 2 : close]
                if name in env:
                    value = env[name]
                    sensitive = sensitive or isinstance(value, hoststate.Sensitive)
                    out.append(value)
                else:
                    out.append(text[i : close + 1])
                i = close + 1
                continue
        out.append(text[i])
        i += 1
    joined = "".join(out)
    return hoststate.Sensitive(joined) if sensitive else joined
