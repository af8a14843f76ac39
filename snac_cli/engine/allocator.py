"""Process memory settings that make CPU inference fast (torch-free, so the CLI can apply them first)."""

from __future__ import annotations

import ctypes
import sys


def tune_allocator() -> None:
    """Keep freed memory in the process instead of returning it to the OS after every tensor.

    glibc serves large allocations with mmap and gives them back on free, so each new activation tensor
    costs page faults on first touch: on CPU that doubles the codec's run time. Raising the thresholds
    makes the heap reuse that memory. Process-wide, so the CLI calls it; a no-op off glibc.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (musl, ...)
        return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # from <malloc.h>
    libc.mallopt(M_MMAP_THRESHOLD, 1 << 30)
    libc.mallopt(M_TRIM_THRESHOLD, (1 << 31) - 1)
