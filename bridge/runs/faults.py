"""How a run write fails or is stopped: the errors it raises, and the fault injection the
kill tests (tests/test_kill.py) drive."""

import os
import signal
import time


class RunInProgressError(RuntimeError):
    """Another live process (or thread) holds the lease on a run key."""


class RunCancelled(RuntimeError):
    """The run was cancelled (``cancel_run``) before its commit: nothing changed."""


class ReplacementRefused(ValueError):
    """A new run would replace one that covers samples it does not; nothing changed."""


def checkpoint(stage):
    """Fault injection for tests/test_kill.py, inert unless its environment variables are
    set: ``FIFTYONE_REDUNDANCY_TRACE`` (a file) records
    each stage reached, ``FIFTYONE_REDUNDANCY_KILL_AT=N`` SIGKILLs this process at its Nth
    stage, and ``FIFTYONE_REDUNDANCY_HOLD`` (a file) holds a writer that has just taken its
    lease until that file exists."""
    trace = os.environ.get("FIFTYONE_REDUNDANCY_TRACE")
    if trace:
        with open(trace, "a") as handle:
            handle.write(stage + "\n")
    kill_at = os.environ.get("FIFTYONE_REDUNDANCY_KILL_AT")
    if kill_at:
        checkpoint.reached = getattr(checkpoint, "reached", 0) + 1
        if checkpoint.reached == int(kill_at):
            os.kill(os.getpid(), signal.SIGKILL)
    hold = os.environ.get("FIFTYONE_REDUNDANCY_HOLD")
    if hold and stage == "leased":
        while not os.path.exists(hold):
            time.sleep(0.01)
