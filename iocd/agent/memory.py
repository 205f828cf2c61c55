"""Keeping the agent's memory close to what its policy needs.

The agent's own process never imports pyarrow (its shared libraries alone are some 80 MB of
resident pages): Arrow snapshots are decoded, verified and compiled in a short-lived process
(iocd.agent.compile_policy), which calls these too. Compiling a policy of a million indicators
allocates and frees several times the memory the compiled index keeps, and what the allocators
keep of that would otherwise stay resident. So:

- `use_system_allocator()` (at start, where pyarrow is loaded): Arrow allocates through the C
  library's malloc rather than its own mimalloc pool, which keeps what a load freed;
- `release_memory()` after a policy is loaded or swapped (a snapshot, a fold, a large delta),
  and between the stages of a compile: collect garbage, return Arrow's unused memory (only where
  pyarrow is already loaded), and with glibc `malloc_trim(0)` (free pages anywhere in the heap
  go back to the system).

All are harmless no-ops where they do not apply (no pyarrow, another C library, another
platform). `resident_memory()` reads the figures the benchmarks and tests report.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import platform
import sys
from collections.abc import Callable
from functools import cache
from typing import Any

__all__ = ["release_memory", "resident_memory", "use_system_allocator"]


def _arrow() -> Any:
    """pyarrow when this process has loaded it already (never imported from here)."""
    return sys.modules.get("pyarrow")


def use_system_allocator() -> None:
    """Make Arrow allocate with malloc (process-wide), where pyarrow is loaded."""
    pa = _arrow()
    if pa is None:
        return
    pool = pa.system_memory_pool()
    if pa.default_memory_pool().backend_name != pool.backend_name:
        pa.set_memory_pool(pool)


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    found: Callable[[int], int] = trim
    return found


def release_memory(collect: bool = True) -> None:
    """Give memory freed since the last call back to the system (see the module text)."""
    if collect:
        gc.collect()
    pa = _arrow()
    if pa is not None:
        pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def resident_memory() -> dict[str, float]:
    """This process's VmRSS, RssAnon, RssFile and VmHWM (peak) in MiB (Linux; else empty)."""
    wanted = ("VmRSS", "RssAnon", "RssFile", "VmHWM")
    found: dict[str, float] = {}
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                name, _, value = line.partition(":")
                if name in wanted:
                    found[name] = int(value.split()[0]) / 1024
    except OSError:
        return {}
    return found
