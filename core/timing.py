"""Seconds per stage, recorded by a context manager instead of paired timer calls; the
same stages, heard as they begin and end, are what a caller shows as progress."""

import time
from contextlib import contextmanager
from contextvars import ContextVar

_listener = ContextVar("stage_listener", default=None)


@contextmanager
def stages_reported(listener):
    """While the block runs, ``listener(stage, finished)`` hears each :func:`timed` stage
    begin (``finished`` False; it may raise there to stop the work) and end, in this
    thread: the App names the stage a run is in without core knowing the App."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


@contextmanager
def timed(timings, stage):
    """Add the seconds the ``with`` block took to ``timings[stage]``."""
    listener = _listener.get()
    if listener is not None:
        listener(stage, False)
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - started
        if listener is not None:
            listener(stage, True)
