"""glibc malloc tuning for large-activation CPU inference and training.

glibc serves allocations above 32 MB with ``mmap`` and unmaps them on ``free``, so every new activation buffer
of a 256x256 generator is fresh memory faulted in page by page: ~0.5 M page faults per batch-4 decode, which
made it 2-5x slower (measured on this project's 2-core machines). Raising the mmap threshold and the trim
threshold keeps freed buffers in the heap for reuse. Numerics are unchanged; the cost is that the process keeps
its peak heap instead of returning it to the OS. Set ``EXEGAN_NO_MALLOC_TUNING=1`` to opt out. No-op off
glibc/Linux.
"""

from __future__ import annotations

import ctypes
import os
import sys

_DONE = False
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameter ids (malloc.h)


def tune_glibc_malloc() -> bool:
    """Apply the tuning once per process; returns whether it is in effect."""
    global _DONE
    if _DONE:
        return True
    if os.environ.get("EXEGAN_NO_MALLOC_TUNING") or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(M_MMAP_THRESHOLD, ctypes.c_int(1 << 30)) and \
            libc.mallopt(M_TRIM_THRESHOLD, ctypes.c_int(2 ** 31 - 1))
    except (OSError, AttributeError):  # not glibc
        return False
    _DONE = bool(ok)
    return _DONE
