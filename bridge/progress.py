"""Progress of an analysis, stage by stage, through FiftyOne's ``progress`` argument
(None/True/False, or a callback made with ``fo.report_progress``). Every step is also
where a cancelled run stops (``RunWriter.raise_if_cancelled``)."""

import fiftyone.core.utils as fou

DECODING = "decoding images"
STAGE_WORDS = {
    "decode": DECODING,
    "identities": "finding identical images",
    "wavelets": "computing wavelets",
    "column_selection": "selecting coefficients",
    "pair_candidates": "finding candidate pairs",
    "pair_verification": "verifying pairs",
    "pair_completion": "completing groups",
    "pair_scores": "scoring pairs",
    "spectrum": "computing the spectrum",
    "grouping": "grouping",
    "clustering": "clustering",
    "outliers": "finding outliers",
    "reduction": "reducing features",
    "extraction": "extracting features",
    "decisions": "choosing representatives",
    "projection": "drawing the map",
    "write": "writing results",
}
"""The words the App shows for each stage ``core.timing.timed`` names."""


class StageProgress:
    """One FiftyOne progress bar per stage, carrying the stage's words as ``bar.stage``
    so the App names the stage beside the percentage. ``hear`` follows the stages of
    ``core.timing.stages_reported`` (a stage without counts shows 0% then 100%, and only
    where ``progress`` is a callback: a terminal gets no empty bars); ``counted`` moves
    the current stage's count. ``check()`` runs at every step and may raise to stop;
    ``note(stage, fraction)`` hears each step too (``RunWriter.note_progress``)."""

    def __init__(self, progress, check=None, note=None):
        self.progress = progress
        self.check = check
        self.note = note
        self.stage = None
        self.bar = None

    def hear(self, name, finished):
        words = STAGE_WORDS.get(name, name.replace("_", " "))
        if not finished:
            self.begin(words)
        elif self.stage == words:
            if self.bar is not None:
                self.bar.set_iteration(self.bar.total)
            self._close()

    def begin(self, words):
        if self.check is not None:
            self.check()
        self._close()
        self.stage = words
        if self.note is not None:
            self.note(words)
        if callable(self.progress):
            self._open(1, "steps")

    def counted(self, done, total, unit="samples"):
        if self.check is not None:
            self.check()
        if self.bar is None or self.bar.total != total:
            self._close()
            self._open(total, unit)
        self.bar.set_iteration(done)
        if self.note is not None:
            self.note(self.stage, done / total if total else None)
        if done >= total:
            self._close()  # a stage that reports again (the completion after the verification) starts a new bar

    def _open(self, total, unit):
        self.bar = fou.ProgressBar(total=total, progress=self.progress, iters_str=unit)
        self.bar.stage = self.stage
        self.bar.start()
        self.bar.set_iteration(0)

    def _close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def stage_progress(progress, stage, check=None, unit="samples"):
    """A ``(done, total)`` callback for one stage named ``stage`` (see :class:`StageProgress`)."""
    stages = StageProgress(progress, check)
    stages.stage = stage
    return lambda done, total: stages.counted(done, total, unit)
