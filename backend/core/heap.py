"""Freed memory kept for reuse while a refresh runs (glibc's allocator; elsewhere a no-op).

A detection refresh allocates and frees arrays of tens to hundreds of megabytes, stage after
stage. glibc serves every allocation above its mmap threshold (32 MB at most) with a fresh
`mmap` and unmaps it on free, so each such array's pages fault in again, zeroed by the kernel:
on a region of 74,000 accounts the pure pipeline took 6.4 s that way and 5.3 s with freed
memory kept in the heap (`docs/benchmarks.md`, "Incremental refresh"). `reuse_freed_memory`
turns mmap off and trimming down for the block, then restores glibc's defaults and hands the
freed memory back to the system (`malloc_trim`), so a worker does not hold its peak between
refreshes.

Threads a refresh starts (`detection.projection.in_row_shards`) allocate from the same heap
(`M_ARENA_MAX` 1): in an arena of their own, with mmap off, each pass's arrays came from
fresh pages again, and splitting the tie measurements over two threads gained nothing on the
whole graph's pure pipeline (33-35 s either way) and held ~100 MiB more at its peak; from the
main heap it took 3 s less, at ~60 MiB less (docs/benchmarks.md, "Incremental refresh"). glibc
fixes the arena limit the first time a thread needs one and offers no way back to its
default, so this one setting stays for the process.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# mallopt parameters (malloc.h) and glibc's defaults for them.
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
M_ARENA_MAX = -8
DEFAULT_TRIM_THRESHOLD = 128 * 1024
DEFAULT_MMAP_MAX = 65536
KEEP = 2**31 - 1  # trim threshold while held (mallopt takes an int): trim only past 2 GiB

_lock = threading.Lock()
_holders = 0


def _glibc() -> Any | None:
    try:
        libc = ctypes.CDLL(None)  # the process's own symbols, libc's among them
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    return libc


_LIBC = _glibc()


@contextmanager
def reuse_freed_memory() -> Iterator[None]:
    """Within the block, freed memory stays in the process for the next allocation. Nested
    and concurrent blocks share one setting; the last to leave restores the defaults (all but
    the arena limit, which glibc keeps)."""
    global _holders
    if _LIBC is None:
        yield
        return
    with _lock:
        _holders += 1
        if _holders == 1:
            _LIBC.mallopt(M_MMAP_MAX, 0)
            _LIBC.mallopt(M_TRIM_THRESHOLD, KEEP)
            _LIBC.mallopt(M_ARENA_MAX, 1)
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                _LIBC.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
                _LIBC.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
                _LIBC.malloc_trim(0)
