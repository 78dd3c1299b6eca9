"""Installed by the executor package before anything imports requests: `charset_normalizer` as a
stand-in module that imports the real one on first use. requests imports it at load only to guess
the encoding of a reply that names none, which Podman's JSON replies never need (2.5 MB of RSS).

The stand-in carries the real `__version__` (requests checks it) and `__path__` (its submodules
import as usual); any other attribute loads the real package and answers from it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
import types

NAME = "charset_normalizer"
DISTRIBUTION = "charset-normalizer"


class Deferred(types.ModuleType):
    """The stand-in; see the module docstring."""

    def __getattr__(self, attribute: str) -> object:
        return getattr(load(), attribute)


def load() -> types.ModuleType:
    """The real package, imported now if only the stand-in is there."""
    if isinstance(sys.modules.get(NAME), Deferred):
        del sys.modules[NAME]
    return importlib.import_module(NAME)


def install() -> bool:
    """Put the stand-in in place; False (nothing done) once requests or the package itself is
    imported, or when the package is not installed."""
    if NAME in sys.modules or "requests" in sys.modules:
        return False
    spec = importlib.util.find_spec(NAME)
    if spec is None or spec.submodule_search_locations is None:
        return False
    try:
        version = importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return False
    stand_in = Deferred(NAME, "imported on first use (reconciler.executor.charsetdefer)")
    stand_in.__version__ = version  # type: ignore[attr-defined]
    stand_in.__path__ = list(spec.submodule_search_locations)
    sys.modules[NAME] = stand_in
    return True
