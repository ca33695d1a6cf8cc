"""Operator: bring a wavelet, SSIM or split run kept for updates up to date (``bridge.update``)."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..bridge.update import updatable_runs, update_run
from .forms import analysis_steps, delegable_config, run_choice_input, run_summary_markdown, titled


class UpdateRedundancyRun(foo.Operator):
    @property
    def config(self):
        return delegable_config(
            "update_redundancy_run",
            "Redundancy: update a run",
            "Bring a wavelet, SSIM or split run up to date after samples were added, deleted or changed, decoding only those",
            reports_progress=True,
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        run_choice_input(inputs, ctx, label="Run to update", keys=updatable_runs(ctx.dataset),
                         missing="No run here keeps what an update needs: run wavelet or SSIM clusters or train vs test similarity with a folder under 'Keep for updates' first")  # fmt: skip
        return titled(inputs, "Update a redundancy run")

    def execute(self, ctx):
        def work(progress):
            return update_run(ctx.dataset, ctx.params["key"], progress=progress)

        yield from analysis_steps(ctx, "Update", work, summary_markdown, "Run updated")


def summary_markdown(run):
    """The run's summary, with what the update reused."""
    update = run.details["update"]
    return (
        f"{update['decoded']:,} images decoded, {update['reused_images']:,} reused; {update['verified_pairs']:,} pairs "
        f"verified, {update['reused_pairs']:,} reused.\n\n{run_summary_markdown(run)}"
    )
