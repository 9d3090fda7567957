"""release_freed_memory: memory freed on another thread leaves the resident size."""

from __future__ import annotations

import ctypes
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not hasattr(ctypes.CDLL(None), "malloc_trim"),
    reason="malloc_trim is glibc's",
)

# A fresh process: 320 MB of 160 KB strings made and freed on a thread (as a restore reads
# a snapshot's parts), the resident size read before and after releasing.
CHURN = textwrap.dedent("""
    import threading
    from rung.server.memory import release_freed_memory

    def resident_mib():
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith("VmRSS"))
        return int(line.split()[1]) // 1024

    def churn():
        held = ["x" * 160_000 + str(i) for i in range(2000)]
        del held

    for _ in range(2):
        thread = threading.Thread(target=churn)
        thread.start()
        thread.join()
    before = resident_mib()
    released = release_freed_memory()
    print(before, resident_mib(), released)
""")


def test_memory_freed_on_a_thread_goes_back_to_the_system() -> None:
    out = subprocess.run([sys.executable, "-c", CHURN], capture_output=True, text=True, check=True)
    before, after, released = out.stdout.split()
    assert released == "True"
    assert int(before) - int(after) > 150, out.stdout  # of the 320 MB made and freed
