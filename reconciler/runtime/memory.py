"""The daemon's memory between reconciles: after each sync the daemon loop (`runtime.daemon`)
calls `settle()`, which gives the heap pages a reconcile freed back to the system (glibc's
`malloc_trim`), and after the first one also collects and freezes the start-up objects (the
imported modules and the first load), so later collections never walk them again.

Linux with glibc only; elsewhere (musl, macOS) `settle` collects and freezes and trims nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


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
        if not self.frozen:
            gc.collect()
            gc.freeze()  # start-up objects: kept for the life of the daemon, never walked again
            self.frozen = True
        if not trim():
            log.debug("malloc_trim is not available: freed heap pages stay with the process")
