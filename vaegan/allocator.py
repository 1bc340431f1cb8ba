"""Keep freed CPU memory inside the process instead of giving it back to the kernel after every step.

Why: torch allocates every CPU tensor with malloc. glibc serves a large block either with fresh mmap pages (above
its mmap threshold) or from the top of its heap, which it trims back to the kernel whenever more than its trim
threshold lies free there. A training step whose activations are around a megabyte each allocates and frees them
every step, so with the defaults each step pays a page fault for every 4 KiB page of them; in a virtual machine
a fault costs microseconds. Raising the thresholds (what jemalloc or tcmalloc, the allocators PyTorch's CPU
performance guide suggests preloading, do by design) keeps those pages mapped and reused. The price is that up to
`TRIM_THRESHOLD` bytes of freed memory stay resident; blocks above `MMAP_THRESHOLD` are still mapped and returned
one by one. `bench/dynamics.py` measures the effect on `compare` (seconds and page faults, with and without).

No torch import here: the CLI calls this before any command imports torch, and `--help` stays quick. Set
`VAEGAN_KEEP_FREED_MEMORY=0` in the environment to keep glibc's defaults (what the bench compares against).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# mallopt(3) parameter numbers, from glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 << 20  # glibc's own ceiling for its sliding threshold: larger blocks still go back at free
TRIM_THRESHOLD = 256 << 20
TOP_PAD = 64 << 20  # grow the heap in large steps: fewer brk calls (untouched pages cost no memory)


def keep_freed_memory() -> bool:
    """Set glibc's malloc thresholds as above for this process; True if they were set (glibc on Linux), False
    elsewhere (macOS, Windows, musl) and when VAEGAN_KEEP_FREED_MEMORY=0, where it does nothing."""
    if not sys.platform.startswith("linux") or os.environ.get("VAEGAN_KEEP_FREED_MEMORY") == "0":
        return False
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    settings = ((M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD), (M_TOP_PAD, TOP_PAD))
    return all(mallopt(param, value) == 1 for param, value in settings)


__all__ = ["keep_freed_memory"]
