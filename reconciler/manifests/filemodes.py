"""File modes of configMap and secret volumes (`defaultMode`, `items[].mode`): the YAML builder
reads `0644` there as octal, as Kubernetes (YAML 1.1) does, and nowhere else (`yaml_octal`);
`podchecks` checks the range (`check`); `plan.volumes` gives the host files these modes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from reconciler.model import diagnostics as dg

if TYPE_CHECKING:  # `checking` imports `subset`; `yamlevents` needs none of it
    from reconciler.manifests import checking
    from reconciler.manifests import positions as pos

MAX_MODE = 0o777
_OCTAL = re.compile(r"^0[0-7]+$")
_SOURCES = frozenset({"configMap", "secret", "downwardAPI"})
"""Volume sources whose files take `defaultMode` and `items[].mode` (also inside `projected`)."""


def is_mode_field(path: Sequence[str | int]) -> bool:
    """True for `...volumes[N].<source>.defaultMode`, `...volumes[N].<source>.items[M].mode` and
    `...volumes[N].projected.{defaultMode, sources[K].<source>.items[M].mode}`."""
    if len(path) >= 4 and path[-1] == "defaultMode" and isinstance(path[-3], int):
        return path[-4] == "volumes" and (path[-2] in _SOURCES or path[-2] == "projected")
    if len(path) >= 6 and path[-1] == "mode" and isinstance(path[-2], int):
        in_volume = path[-6] == "volumes" or path[-6] == "sources"
        return path[-3] == "items" and path[-4] in _SOURCES and isinstance(path[-5], int) and (
            in_volume
        )
    return False


def yaml_octal(path: Sequence[str | int], text: str) -> int | None:
    """The value of a plain scalar such as `0644` at a file mode field, read as octal (as YAML 1.1
    and so Kubernetes read it: 0644 is 420); None anywhere else or for another spelling (which
    stays an ambiguous value)."""
    if _OCTAL.match(text) and is_mode_field(path):
        return int(text, 8)
    return None


def check(checker: checking.Checker, path: pos.Path, source: dict[str, Any]) -> None:
    """`defaultMode` and each `items[].mode` of the configMap or secret volume source at `path`
    lie in 0-0777 (octal; 0-511 decimal), as Kubernetes requires."""
    _range(checker, (*path, "defaultMode"), source.get("defaultMode"))
    for index, item in enumerate(source.get("items") or []):
        if isinstance(item, dict):
            _range(checker, (*path, "items", index, "mode"), item.get("mode"))


def _range(checker: checking.Checker, path: pos.Path, mode: object) -> None:
    if not isinstance(mode, int) or isinstance(mode, bool) or 0 <= mode <= MAX_MODE:
        return
    octal = f" (octal 0{mode:o})" if mode > 0 else ""
    checker.error(
        path,
        dg.Code.INVALID_VALUE,
        f"file mode {mode}{octal} is out of range: a mode is 0 to 0777 in octal "
        "(0 to 511 in decimal)",
        "write it in octal with a leading 0 (0644, 0400) or in decimal (420, 256)",
    )
