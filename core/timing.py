"""Seconds per stage, recorded by a context manager instead of paired timer calls."""

import time
from contextlib import contextmanager


@contextmanager
def timed(timings, stage):
    """Add the seconds the ``with`` block took to ``timings[stage]``."""
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - started
