"""Handing memory the server freed back to the system.

glibc keeps memory freed on a thread other than the main one in that thread's
arena, and large blocks freed there stay in the process's resident size: after
a restart from a snapshot of a million trials on PostgreSQL, where a thread of
its own reads the snapshot's 320 MB of parts, the server held 1,061 MiB
instead of 722 (SQLite: 696 instead of 661). `malloc_trim` returns it (21 ms
there), without the interpreter lock (ctypes releases it around the call).
"""

from __future__ import annotations

import ctypes
import ctypes.util


def release_freed_memory() -> bool:
    """Asks the C library to return freed memory to the system; False where it cannot
    (no glibc)."""
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc: musl, macOS
        return False
    if trim is None:
        return False
    trim(0)
    return True
