"""How an operator's ``execute`` runs long work: now in the App (a worker thread whose
progress the App shows) or delegated, with bridge refusals worded for the form and
failures caught in place for the operators the panels open."""

import functools
import logging
import queue
import threading
import time
from contextlib import contextmanager

import fiftyone.operators as foo

from ...bridge.runs import RunCancelled
from .inputs import REPLACE_LABEL, SKIP_LABEL, label_field_param, replace_param, scale_out_params
from .summaries import failure_summary, run_summary_markdown, summary_output

PYTHON_OVERWRITE = "pass overwrite=True"  # how bridge refusals say "ask explicitly" in Python
PYTHON_SKIP = "pass skip_failures=True"
CANCEL_HINT = "to stop it, run Redundancy: cancel a running analysis"
REPORT_SECONDS = 0.5
"""The App hears a stage's count at most this often (a new stage and a stage's end at once)."""
STAGE_SHOWN_SECONDS = 0.3
"""A stage is shown at least this long before the next replaces it: the App draws the
updates of one instant once, so a stage of a few milliseconds would never be seen (the
work does not wait; only what the App is told)."""
HEARTBEAT_SECONDS = 2.0
"""A stage with no count to move (a candidate search) says how long it has run this often."""

logger = logging.getLogger(__name__)


@contextmanager
def app_wording(checkbox=REPLACE_LABEL):
    """Bridge refusals say "pass overwrite=True" or "pass skip_failures=True"; in the App
    they name the form's box."""
    try:
        yield
    except (ValueError, OSError) as error:
        boxes = {PYTHON_OVERWRITE: checkbox, PYTHON_SKIP: SKIP_LABEL}
        said = [argument for argument in boxes if argument in str(error)]
        if not said:
            raise
        raise type(error)(str(error).replace(said[0], f"tick '{boxes[said[0]]}'")) from None


def failures_in_place(what):
    """For operators the panels open: a failure of ``execute`` in the App becomes a result
    saying what failed and that nothing changed (``failed``), so the panel that opened it
    stays usable; delegated runs still fail as runs."""

    def decorate(execute):
        @functools.wraps(execute)
        def guarded(self, ctx):
            try:
                return execute(self, ctx)
            except (ValueError, OSError) as error:
                if ctx.delegated:
                    raise
                return {"failed": str(error), "summary": failure_summary(what, error)}

        return guarded

    return decorate


def progress_reporter(send, label):
    """A FiftyOne progress callback that calls ``send(text, fraction)``, ``text`` naming
    ``label`` and the stage its bar counts (``bridge.progress``)."""
    last = {"text": None, "at": 0.0}

    def report(bar):
        text, now = stage_label(label, bar), time.monotonic()
        if text != last["text"] or bar.complete or now - last["at"] >= REPORT_SECONDS:
            last.update(text=text, at=now)
            send(text, bar.progress)

    return report


def stage_label(label, bar):
    """``"Wavelet clusters: scoring pairs"``: the run and the stage its progress bar counts."""
    stage = getattr(bar, "stage", None)
    return f"{label}: {stage}" if stage else label


def delegable_config(name, label, description, reports_progress=False, delegated_by_default=False):
    """OperatorConfig of long work: a dynamic form, run now or delegated to a worker (the
    App's first choice with ``delegated_by_default``); ``reports_progress``: ``execute``
    is a generator (see ``analysis_steps``)."""
    return foo.OperatorConfig(
        name=name,
        label=label,
        description=description,
        dynamic=True,
        allow_immediate_execution=True,
        allow_delegated_execution=True,
        default_choice_to_delegated=delegated_by_default,
        execute_as_generator=reports_progress,
    )


def analysis_steps(ctx, label, work, summarize, title, failing_in_place=None):
    """The ``execute`` of long work (an analysis, an export), as a generator.

    ``work(progress)`` does the work; run now in the App, it runs in a worker thread and
    its progress reaches the App's progress indicator with a percentage while it runs
    (FiftyOne 1.22 streams what a generator yields; ``ctx.set_progress`` in an immediate
    run only logs). Then the App reloads and shows ``summarize(result)`` under ``title``.
    A cancelled run says so; a failure ends with a result and an error notification
    saying what failed and why (an exception raised from a generator ends FiftyOne 1.22's
    stream with nothing shown), naming the work ``failing_in_place`` (e.g. "Export") or
    ``label``. Delegated, it runs in place, reports through ``ctx.set_progress`` and fails
    as a run (the runs page shows the message)."""
    if ctx.delegated:
        work(progress_reporter(lambda text, fraction: ctx.set_progress(progress=fraction, label=text), label))
        return
    updates, outcome, finished = queue.Queue(), {}, object()

    def run():
        try:
            outcome["result"] = work(progress_reporter(lambda text, fraction: updates.put((text, fraction)), label))
        except BaseException as error:  # raised again below, in the operator's thread
            outcome["error"] = error
        finally:
            updates.put(finished)

    threading.Thread(target=run, name=f"redundancy: {label}", daemon=True).start()
    shown, started = None, time.monotonic()
    while True:
        try:
            update = updates.get(timeout=HEARTBEAT_SECONDS)
        except queue.Empty:
            update = shown  # nothing new: say again, with the time the stage has taken
        if update is finished:
            break
        if update is None:
            continue
        if shown is None or update[0] != shown[0]:
            if shown is not None:
                time.sleep(max(0.0, started + STAGE_SHOWN_SECONDS - time.monotonic()))
            started = time.monotonic()
        shown, (text, fraction) = update, update
        elapsed = time.monotonic() - started
        took = f" · {elapsed:,.0f} s" if elapsed >= HEARTBEAT_SECONDS else ""
        yield ctx.ops.set_progress(label=f"{text} {fraction:.0%}{took} ({CANCEL_HINT})", progress=fraction)
    error = outcome.get("error")
    if isinstance(error, RunCancelled):
        title, summary = "Cancelled", f"**Cancelled.** {error}."
    elif isinstance(error, Exception):  # raised, it would end the App's stream with no word
        logger.error("%s failed", label, exc_info=error)
        title, summary = "Failed", failure_summary(failing_in_place or label, error)
        yield ctx.ops.notify(f"{failing_in_place or label} failed: {error}", variant="error")
    elif error is not None:
        raise error
    else:
        summary = f"**{title}.** {summarize(outcome['result'])}"  # show_output draws no title of its own
    yield ctx.ops.reload_dataset()
    yield ctx.ops.show_output(summary_output(title).to_json(), {"summary": summary})


def analysis_run(ctx, compute, arguments, label, summarize=None):
    """The ``execute`` of an analysis operator: ``compute`` (its bridge function) on the
    target view with the form's label field and ``arguments``, replacing a run only as the
    form asked, where its Scale out box says (:func:`scale_out_params`, made in the worker
    that runs it), through :func:`analysis_steps`."""

    def work(progress):
        with app_wording():
            return compute(ctx.target_view(), label_field=label_field_param(ctx), **arguments,
                           **scale_out_params(ctx, compute), progress=progress, overwrite=replace_param(ctx))  # fmt: skip

    yield from analysis_steps(ctx, label, work, summarize or run_summary_markdown, f"{label} done")
