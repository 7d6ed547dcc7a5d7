"""The gross time bound the linear-time tests share (tests/timing.py) can fail, and counts CPU time only."""

from __future__ import annotations

import gc
import time

import pytest

from tests.timing import cpu_time_bound


def test_a_block_that_spins_past_the_bound_fails():
    with pytest.raises(AssertionError, match=r"of CPU time; the bound is 0\.01 s"):
        with cpu_time_bound(0.01):
            end = time.process_time() + 0.05
            while time.process_time() < end:
                pass


def test_sleeping_is_not_counted_and_the_collector_is_restored():
    assert gc.isenabled()
    with cpu_time_bound(0.05):
        assert not gc.isenabled()  # a full collection of a large test process is not the code under test
        time.sleep(0.2)  # another process holding the CPU looks like this to us: wall time, not ours
    assert gc.isenabled()
