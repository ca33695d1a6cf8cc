"""Operators of pair review: re-cut a run from its stored pairs, and share its decisions
as CSV. The work is ``bridge.review``'s."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..bridge.review import CSV_COLUMNS, export_reviews, import_reviews, recut_run, recuttable_runs, reviewable_runs
from ..bridge.runs import RedundancyRun
from ..bridge.choices import STORED_FLOOR
from .forms import failures_in_place, run_choice_input, summary_output, titled


def reviewable_run_input(inputs, ctx, listed=reviewable_runs):
    """Dropdown of the runs cut from their stored pairs (``listed``), latest first; the
    chosen key, or None (with a warning) when there is none."""
    keys = run_choice_input(inputs, ctx, keys=listed(ctx.dataset),
                            missing="No run here stores scored pairs: run wavelet clusters or SSIM first")  # fmt: skip
    if not keys:
        return None
    key = ctx.params.get("key") or keys[0]
    return key if key in keys else None


class RecutRedundancyRun(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(
            name="recut_redundancy_run",
            label="Redundancy: re-cut a run",
            description="Group a run again at another pair-score cut from its stored pairs, reviews applied",
            dynamic=True,
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        key = reviewable_run_input(inputs, ctx, recuttable_runs)
        if key is not None:
            current = RedundancyRun(ctx.dataset, key).parameters["threshold"]
            cut = inputs.float(
                "threshold", default=current, required=True, min=STORED_FLOOR, max=1.0, label="Cut (pair score)",
                description=f"Run {key!r} is cut at {current:g}; it stores the pairs scoring {STORED_FLOOR} or more",
            )  # fmt: skip
            value = ctx.params.get("threshold")
            if value is not None and not STORED_FLOOR <= value <= 1:
                cut.invalid = True
                cut.error_message = f"Choose a cut from {STORED_FLOOR} to 1: lower pairs are not stored"
        return titled(inputs, "Re-cut a redundancy run")

    @failures_in_place("Re-cut")
    def execute(self, ctx):
        run = recut_run(ctx.dataset, ctx.params["key"], float(ctx.params["threshold"]))
        ctx.ops.reload_dataset()
        recut = run.details["recut"]
        counts = " · ".join(f"**{run.counts.get(status, 0):,}** {status}" for status in ("redundant", "influential", "outlier", "representative", "unique"))
        summary = (
            f"Run **`{run.key}`** re-cut from {recut['previous_threshold']:g} to **{recut['threshold']:g}** in "
            f"{recut['seconds']:.2f} s, no image read again ({recut['reviews_applied']:,} review decisions applied).\n\n{counts}"
        )
        return {"key": run.key, "counts": run.counts, "summary": summary}

    def resolve_output(self, ctx):
        return summary_output("Run re-cut", ctx)


class ExportPairReviews(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(
            name="export_pair_reviews",
            label="Redundancy: export pair reviews (CSV)",
            description=f"Write a run's review decisions to a CSV file ({', '.join(CSV_COLUMNS)})",
            dynamic=True,
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        if reviewable_run_input(inputs, ctx) is not None:
            inputs.str("path", required=True, label="CSV file", description="A new file; an existing one is never replaced")
        return titled(inputs, "Export pair reviews")

    @failures_in_place("Export")
    def execute(self, ctx):
        count = export_reviews(ctx.dataset, ctx.params["key"], ctx.params["path"])
        return {"rows": count, "summary": f"Wrote {count:,} decisions of run `{ctx.params['key']}` to `{ctx.params['path']}`."}

    def resolve_output(self, ctx):
        return summary_output("Pair reviews exported", ctx)


class ImportPairReviews(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(
            name="import_pair_reviews",
            label="Redundancy: import pair reviews (CSV)",
            description="Add review decisions from a CSV file to a run (newer decisions win)",
            dynamic=True,
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        if reviewable_run_input(inputs, ctx) is not None:
            inputs.str("path", required=True, label="CSV file", description=f"Columns {', '.join(CSV_COLUMNS)}")
        return titled(inputs, "Import pair reviews")

    @failures_in_place("Import")
    def execute(self, ctx):
        counts = import_reviews(ctx.dataset, ctx.params["key"], ctx.params["path"])
        ctx.ops.reload_dataset()
        summary = (
            f"Imported **{counts['imported']:,}** decisions into run `{ctx.params['key']}`; {counts['older']:,} rows were "
            f"older than the pair's current decision and {counts['unmatched']:,} named files outside the run."
        )
        return {**counts, "summary": summary}

    def resolve_output(self, ctx):
        return summary_output("Pair reviews imported", ctx)
