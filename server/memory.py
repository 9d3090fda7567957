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


def release_freed_memory() -> bool:
    """Asks the C library to return freed memory to the system; False where it cannot
    (no glibc). The process's own symbols are searched, so no library is looked up."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc: musl, macOS
        return False
    trim(0)
    return True
