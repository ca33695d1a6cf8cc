"""Progress of an analysis, stage by stage, through FiftyOne's ``progress`` argument
(None/True/False, or a callback made with ``fo.report_progress``). Every step is also
where a cancelled run stops (``RunWriter.raise_if_cancelled``)."""

import fiftyone.core.utils as fou

DECODING = "decoding images"
SCORING = "scoring pairs"


def stage_progress(progress, stage, check=None, unit="samples"):
    """A ``(done, total)`` callback for one stage: it calls ``check()`` first (which may
    raise to stop the work), then moves a FiftyOne progress bar counting ``unit``, which
    carries ``stage`` as ``bar.stage`` so the App can name the stage beside the
    percentage."""
    bar = None

    def report(done, total):
        nonlocal bar
        if check is not None:
            check()
        if bar is None:
            bar = fou.ProgressBar(total=total, progress=progress, iters_str=unit)
            bar.stage = stage
            bar.start()
        bar.set_iteration(done)
        if done >= total:
            bar.close()
            bar = None  # a stage that reports again (the completion after the verification) starts a new bar

    return report
