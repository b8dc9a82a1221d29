"""Freed memory given back to the system, where the C library keeps it (glibc).

glibc keeps memory freed by a long step's temporaries (tables of a neighbourhood, decisions
read one at a time) in its heap for reuse, and fragmentation lets the heap grow by a few MB
per neighbourhood: training a 40,960 px city (196 neighbourhoods re-predicted in one
process) would hold 700 MB it no longer uses. ``malloc_trim`` returns it; Dask workers get
the same from their nanny's ``MALLOC_TRIM_THRESHOLD_``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any


@functools.lru_cache(maxsize=1)
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def release_memory() -> None:
    """Give freed heap memory back to the system (glibc's ``malloc_trim``; elsewhere nothing)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
