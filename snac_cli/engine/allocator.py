"""Process memory settings that make CPU inference fast (torch-free, so the CLI can apply them first)."""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # from <malloc.h>


def glibc() -> ctypes.CDLL | None:
    """glibc, for mallopt; None off Linux or off glibc (musl, ...)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def tune_allocator() -> None:
    """Keep freed memory in the process instead of returning it to the OS after every tensor.

    glibc serves large allocations with mmap and gives them back on free, so each new activation tensor
    costs page faults on first touch: on CPU that doubles the codec's run time. Raising the thresholds
    makes the heap reuse that memory. Process-wide, so the CLI calls it; a no-op off glibc.
    """
    if (libc := glibc()) is not None:
        libc.mallopt(M_MMAP_THRESHOLD, 1 << 30)
        libc.mallopt(M_TRIM_THRESHOLD, (1 << 31) - 1)


def limit_arenas(count: int) -> None:
    """Let at most `count` malloc arenas serve the threads created from now on.

    glibc gives threads arenas of their own (up to 8 per core), and under `tune_allocator` each keeps the
    peak of what its threads freed: a server's many threads then hold many peaks. Measured with `snac
    serve --max-batch 8` under load (benchmarks/serve_load.py): 2.1-2.2 GB, 1.6 GB with 2 arenas."""
    if (libc := glibc()) is not None:
        libc.mallopt(M_ARENA_MAX, count)
