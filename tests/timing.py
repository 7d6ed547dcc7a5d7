"""Gross time bounds for work that must not blow up (a linear scan, a size check that stops early).

These bounds sit 30-300 times above what the work takes; they catch a quadratic scan or a validation of a
million items, not a slow machine. They count this process's CPU time with the garbage collector paused:
on a shared 2-core machine another process can hold the CPU for a second, and a full collection of a test
process that holds several models can take a second on its own, and neither is the code under test.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cpu_time_bound(seconds: float) -> Iterator[None]:
    """Fail the test if the block uses more than ``seconds`` of this process's CPU time."""
    collecting = gc.isenabled()
    gc.disable()
    started = time.process_time()
    try:
        yield
    finally:
        used = time.process_time() - started
        if collecting:
            gc.enable()
    assert used < seconds, f"the block took {used:.3f} s of CPU time; the bound is {seconds} s"
