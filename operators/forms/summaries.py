"""The readable result each operator ends with (markdown under a title), and the one a
failure caught in place shows."""

import fiftyone.operators.types as types

from ...bridge.runs import review_view_name


def run_summary_markdown(run):
    """What a finished analysis tells the user: counts, time, and where to look next."""
    counts = run.counts
    total = sum(counts.values())
    shown = " · ".join(f"**{counts.get(status, 0):,}** {status}" for status in ("redundant", "influential", "outlier", "representative", "unique"))
    n_groups = len(run.group_sizes())
    skipped = run.details.get("skipped") or []
    lines = [
        f"Run **`{run.key}`** stored: {total:,} samples analysed in {sum(run.timings.values()):.1f} s, {n_groups:,} group{'' if n_groups == 1 else 's'}.",
        shown,
    ]
    if skipped:
        lines.append(f"{len(skipped):,} unreadable images were skipped (listed in the run's `skipped`).")
    lines.append(f"Review the groups in the **Redundancy** panel or the **Embedding map** (run `{run.key}`), "
                 f"or open the saved view `{review_view_name(run.key)}`.")  # fmt: skip
    return "\n\n".join(lines)


def split_summary_markdown(run):
    """What a finished train-vs-test run tells the user."""
    details = run.details
    return "\n\n".join([
        f"Run **`{run.key}`** stored in {sum(run.timings.values()):.1f} s: **{details['n_near_identical']:,}** of "
        f"{details['n_test']:,} test samples ({100.0 * details['share_near_identical']:.1f}%) have a near-identical "
        f"training image among {details['n_train']:,} (they are `redundant`); the "
        f"{len(details['least_similar_ids']):,} least similar test samples are `outlier`.",
        f"See the similarity histogram in the **Redundancy** panel (run `{run.key}`), and its "
        "*Least similar test samples* button.",
    ])  # fmt: skip


def summary_output(title, ctx=None):
    """The result view every operator ends with: its ``summary`` as markdown (headed
    "Failed" when ``failures_in_place`` caught a failure)."""
    outputs = types.Object()
    outputs.str("summary", label="", view=types.MarkdownView())
    failed = ctx is not None and ctx.results.get("failed")
    return types.Property(outputs, view=types.View(label="Failed" if failed else title))


def failure_summary(what, error):
    """The result a failure caught in place shows: what failed, and that nothing changed."""
    return f"**{what} failed, nothing changed:** {error}"
