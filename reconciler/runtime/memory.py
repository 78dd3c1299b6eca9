"""The daemon's memory between reconciles: after each sync the daemon loop (`runtime.daemon`)
calls `settle()`, which drops what only building a new kind's schema needs (`schemas.release`)
and gives the heap pages a reconcile freed back to the system (glibc's `malloc_trim`), and after
the first one also collects and freezes the start-up objects (the imported modules and the
first load), so later collections never walk them again. Before any
thread starts, `daemon.run` calls `limit_arenas()` (at most ARENAS malloc arenas).

Linux with glibc only; elsewhere (musl, macOS) `settle` collects and freezes and trims nothing,
and `limit_arenas` does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import logging
import os
from collections.abc import Callable

from reconciler.manifests import schemas

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)
ARENAS = 2
"""glibc gives each thread that allocates under contention its own arena, up to 8 per core, and
each keeps the memory its threads freed; the daemon's hundred-odd mostly idle threads need few."""


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


@functools.cache
def _mallopt() -> Callable[[int, int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        call: Callable[[int, int], int] = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc
        return None
    return call


def limit_arenas(arenas: int = ARENAS) -> bool:
    """At most `arenas` malloc arenas from now on (call it before threads start); False where
    the C library has no `mallopt` or refuses the setting. MALLOC_ARENA_MAX in the environment
    wins: it is left as set."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    call = _mallopt()
    return call is not None and call(M_ARENA_MAX, arenas) == 1


def trim() -> bool:
    """Return the free pages at the top and inside of every malloc arena to the system; False
    where the C library has no `malloc_trim`."""
    call = _malloc_trim()
    if call is None:
        return False
    call(0)
    return True


class Settler:
    """`settle()` after every sync: the first time also `gc.collect()` then `gc.freeze()`."""

    def __init__(self) -> None:
        self.frozen = False

    def settle(self) -> None:
        schemas.release()  # before the first collect: not frozen with the start-up objects
        if not self.frozen:
            gc.collect()
            gc.freeze()  # start-up objects: kept for the life of the daemon, never walked again
            self.frozen = True
        if not trim():
            log.debug("malloc_trim is not available: freed heap pages stay with the process")
