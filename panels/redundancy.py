"""The "Redundancy" panel: one stored run's summary, its groups, and the actions on them.

It reads stored runs only (nothing is recomputed on open). Clicking a group row shows that
group in the grid, representative first; the buttons show statuses or open the tag and
export operators prefilled with the run.
"""

from collections.abc import Mapping

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..bridge.methods import method_named
from ..bridge.review import preview_cut, recut_run, recuttable_runs
from ..bridge.runs import list_runs, runs_in_progress, unstored_endings
from ..bridge.choices import INFLUENTIAL, OUTLIER, REDUNDANT, STATUSES, read_spectrum
from . import figures, layout
from .run_state import (
    PLUGIN,
    RunPanel,
    current_run,
    cut_preview_markdown,
    data_name,
    errors_in_place,
    new_revision,
    set_data,
)

MAX_GROUP_ROWS = 100
VIEW_BUTTONS = {"least_similar_view": ("show_least_similar", "Least similar test samples")}
"""The button (its handler's name and label) of each view a method offers beyond the
contract's (``Method.views``)."""
GROUP_COLUMNS = {"group": "Group", "size": "Size", "kind": "Kind", "labels": "Labels", "representative": "Kept image"}
NO_RUNS = (
    "This dataset has no redundancy runs yet. Run one from the operator browser "
    "(`Redundancy: wavelet clusters`, `SSIM`, `feature maps` ...) or from Python "
    "(`fiftyone_redundancy.api`), then reopen this panel."
)


class RedundancyPanel(RunPanel):
    @property
    def config(self):
        return foo.PanelConfig(
            name="redundancy_panel",
            label="Redundancy",
            icon="filter_none",
            help_markdown="Summary, groups and actions of a stored redundancy run",
        )

    @errors_in_place
    def on_load(self, ctx, chosen=None):
        new_revision(ctx)
        ctx.panel.state.activity_md = activity_markdown(ctx.dataset)
        run = current_run(ctx, chosen=chosen)
        if run is None:
            ctx.panel.state.summary_md = NO_RUNS
            return
        n_groups = len(run.group_sizes())
        ctx.panel.state.method = run.method
        ctx.panel.state.summary_md = summary_markdown(run, n_groups)
        ctx.panel.state.details_md = details_markdown(run)
        set_data(ctx, "status_chart", figures.status_chart(run.counts))
        rows = run.group_rows(limit=MAX_GROUP_ROWS)
        set_data(ctx, "groups", group_table(rows))
        ctx.panel.state.groups_md = groups_heading(len(rows), n_groups)
        ctx.panel.state.recuttable = run.key in recuttable_runs(ctx.dataset)
        if ctx.panel.state.recuttable:  # the box shows the run's cut; what is typed is noted apart
            ctx.panel.state.set("cut_row.cut", run.parameters.get("threshold"))
        ctx.panel.state.tried_cut = None
        ctx.panel.state.preview_md = None
        chart = run.method_info.chart
        if chart == "spectrum":
            spectrum = run.details["spectrum"]
            k = run.details["eigengap_clusters"]
            shown = figures.spectrum_shown(len(spectrum), k)
            reading = read_spectrum(spectrum)
            ctx.panel.state.spectrum_md = spectrum_caption(run, k, shown, reading, n_groups)
            ctx.panel.state.spectrum_drawn = not reading.all_zero
            ctx.panel.state.spectrum_k = k
            ctx.panel.state.gamma = run.parameters["gamma"]
            set_data(ctx, "spectrum", figures.spectrum_chart(spectrum[:shown]))
        elif chart == "similarity":
            ctx.panel.state.threshold = run.parameters["threshold"]
            set_data(ctx, "histogram", figures.similarity_histogram(run.details["best_similarities"]))

    @errors_in_place
    def show_group(self, ctx):
        """A row of the groups table was clicked: that group in the grid."""
        run = self.shown_run(ctx)
        if run is None:
            return
        groups = run.largest_groups()
        row = int(ctx.params.get("row", -1))
        if 0 <= row < len(groups):
            ctx.ops.set_view(view=run.group_view(groups[row]))
            set_data(ctx, "groups", group_table(run.group_rows(limit=MAX_GROUP_ROWS), selected=row))

    @errors_in_place
    def show_groups(self, ctx):
        run = self.shown_run(ctx)
        if run is not None:
            ctx.ops.set_view(view=run.groups_view())

    @errors_in_place
    def show_redundant(self, ctx):
        run = self.shown_run(ctx)
        if run is not None:
            ctx.ops.set_view(view=run.view(REDUNDANT))

    @errors_in_place
    def show_influential(self, ctx):
        run = self.shown_run(ctx)
        if run is not None:
            ctx.ops.set_view(view=run.view(INFLUENTIAL))

    @errors_in_place
    def show_outliers(self, ctx):
        run = self.shown_run(ctx)
        if run is not None:
            ctx.ops.set_view(view=run.view(OUTLIER))

    @errors_in_place
    def show_least_similar(self, ctx):
        run = self.shown_run(ctx)
        if run is not None:
            ctx.ops.set_view(view=run.least_similar_view())

    def show_all(self, ctx):
        ctx.ops.clear_view()

    @errors_in_place
    def on_change_cut(self, ctx):
        """A cut typed: the counts it would give, written nowhere (``preview_cut``)."""
        run = self.shown_run(ctx)
        cut = ctx.params.get("value")
        if run is None or not isinstance(cut, (int, float)):
            return
        ctx.panel.state.tried_cut = cut
        same = cut == run.parameters["threshold"]
        ctx.panel.state.preview_md = None if same else cut_preview_markdown(run, cut, preview_cut(ctx.dataset, run.key, cut))

    @errors_in_place
    def apply_cut(self, ctx):
        """Re-cut the run at the cut in the box: the only button here that writes."""
        run = self.shown_run(ctx)
        cut = ctx.panel.state.tried_cut
        if run is None or not isinstance(cut, (int, float)):
            ctx.panel.state.preview_md = "Type a cut in *Try a cut* first."
            return
        run = recut_run(ctx.dataset, run.key, cut)
        self.on_load(ctx)
        ctx.panel.state.preview_md = (
            f"**Run `{run.key}` re-cut at {cut:g}:** {run.counts['redundant']:,} redundant, "
            f"{run.counts['influential']:,} influential, {run.counts['representative']:,} representative."
        )
        ctx.ops.reload_dataset()

    def render(self, ctx):
        panel = types.Object()
        self.error_notice(ctx, panel)
        keys = list_runs(ctx.dataset)
        if ctx.panel.state.activity_md:
            panel.str("activity_md", view=types.MarkdownView())
        if not keys or ctx.panel.state.key is None:
            panel.str("summary_md", view=types.MarkdownView())
            return types.Property(panel, view=layout.column())
        key = ctx.panel.state.key
        method = method_named(ctx.panel.state.method)
        self.run_chooser(panel, keys)
        panel.str("summary_md", view=types.MarkdownView())
        layout.plot(panel, data_name(ctx, "status_chart"), figures.status_chart_layout())

        shows = layout.row(panel, "shows")
        layout.button(shows, "show_groups", label="All groups", icon="view_module", on_click=self.show_groups)
        layout.button(shows, "show_redundant", label="Redundant", on_click=self.show_redundant)
        layout.button(shows, "show_influential", label="Influential", on_click=self.show_influential)
        layout.button(shows, "show_outliers", label="Outliers", on_click=self.show_outliers)
        for view in method.views:
            handler, label = VIEW_BUTTONS[view]
            layout.button(shows, handler, label=label, on_click=getattr(self, handler))
        layout.button(shows, "show_all", label="Whole dataset", icon="clear", on_click=self.show_all)

        actions = layout.row(panel, "actions")
        layout.button(actions, "tag", label="Tag for review…", icon="local_offer", variant="outlined",
                      on_click=f"{PLUGIN}/tag_redundancy", prompt=True, params={"keys": [key]})  # fmt: skip
        layout.button(actions, "export", label="Export curated…", icon="download", variant="outlined",
                      on_click=f"{PLUGIN}/export_curated", prompt=True, params={"keys": [key]})  # fmt: skip
        if method.compares_splits:
            layout.button(actions, "repair", label="Repair split…", icon="call_split", variant="outlined",
                          on_click=f"{PLUGIN}/repair_split", prompt=True, params={"key": key})  # fmt: skip

        state = ctx.panel.state
        if state.recuttable:
            cut_row = layout.row(panel, "cut_row", gap=2, align_y="bottom")
            layout.field(cut_row, "float", "cut", label="Try a cut", on_change=self.on_change_cut)
            layout.button(cut_row, "apply_cut", label="Apply this cut", icon="content_cut", variant="outlined", on_click=self.apply_cut)
            if state.preview_md:
                panel.str("preview_md", view=types.MarkdownView())
        if method.chart == "spectrum":
            panel.str("spectrum_md", view=types.MarkdownView())
            if state.spectrum_drawn:
                layout.plot(panel, data_name(ctx, "spectrum"), figures.spectrum_layout(state.spectrum_k, state.gamma))
        elif method.chart == "similarity":
            layout.plot(panel, data_name(ctx, "histogram"), figures.histogram_layout(state.threshold))

        panel.str("groups_md", view=types.MarkdownView())
        table = types.TableView(on_click_row=self.show_group, actions_label="Show",
                                componentsProps=layout.fitting_table(GROUP_COLUMNS, breaking=("labels", "representative")))  # fmt: skip
        for name, label in GROUP_COLUMNS.items():
            table.add_column(name, label=label)
        table.add_row_action("show", self.show_group, icon="visibility", tooltip="Show this group in the grid")
        panel.list(data_name(ctx, "groups"), types.Object(), view=table)
        panel.str("details_md", view=types.MarkdownView())
        return types.Property(panel, view=layout.column(gap=2, pad=1))


def group_table(rows, selected=None):
    """The groups table's data; the row ``selected`` (the one clicked) is highlighted."""
    return {
        "columns": list(GROUP_COLUMNS),
        "rows": [[row[name] for name in GROUP_COLUMNS] for row in rows],
        "selected_rows": [] if selected is None else [selected],
    }


def summary_markdown(run, n_groups):
    """The counts a user reads first: what can go, what must stay, how long it took."""
    counts = run.counts
    total = sum(counts.values())

    def share(status):
        return f"**{counts.get(status, 0):,}** {status} ({100.0 * counts.get(status, 0) / max(total, 1):.1f}%)"

    lines = [f"**Run `{run.key}`** · {run.title} · {total:,} samples"]
    lines.append(" · ".join(share(status) for status in STATUSES))
    seconds = f"computed in {sum(run.timings.values()):.1f} s"
    if run.method_info.compares_splits:
        details = run.details
        lines.append(
            f"**{details['n_near_identical']:,}** of {details['n_test']:,} test samples "
            f"({100.0 * details['share_near_identical']:.1f}%) have a near-identical training "
            f"image (pair score ≥ {run.parameters['threshold']}): they are `redundant`, their training "
            f"partners `representative`. The {counts.get(OUTLIER, 0)} test samples least similar "
            f"to all {details['n_train']:,} training samples are `outlier` · {seconds}"
        )
        for field, repair in (details.get("repairs") or {}).items():
            lines.append(
                f"Repaired split in field `{field}`: {repair['families']:,} spanning families moved whole, "
                f"{repair['moved']:,} images changed side (*Repair split…* to redo it)"
            )
    else:
        removable = counts.get(REDUNDANT, 0) + counts.get(OUTLIER, 0)
        lines.append(
            f"Removable (redundant and outliers): **{removable:,}** of {total:,} "
            f"({100.0 * removable / max(total, 1):.1f}%) · {n_groups:,} groups · {seconds}"
        )
    return "\n\n".join(lines)


def details_markdown(run):
    parameters = ", ".join(f"`{name}={value}`" for name, value in _flat(run.parameters))
    timings = ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in run.timings.items())
    return f"**Parameters:** {parameters}\n\n**Time per stage:** {timings}\n\nStored {run.timestamp:%Y-%m-%d %H:%M}"


def activity_markdown(dataset):
    """The analyses running now on ``dataset`` (their stage, whichever tab or process
    started them) and those that ended without a run since (how and why)."""
    lines = []
    for key, lease in runs_in_progress(dataset).items():
        progress = lease.get("progress") or {}
        fraction = progress.get("fraction")
        lines.append(
            f"**Running now:** `{key}`, {progress.get('stage', 'starting')}"
            + ("" if fraction is None else f" {fraction:.0%}")
            + f" (since {lease['since']:%H:%M} UTC). *Reload* to follow it; to stop it, run "
            "*Redundancy: cancel a running analysis*."
        )
    for ending in unstored_endings(dataset)[:3]:
        lines.append(f"**`{ending['key']}` {ending['outcome']}** at {ending['at']:%Y-%m-%d %H:%M} UTC, no run stored: {ending['message']}")
    return "\n\n".join(lines) or None


def groups_heading(n_shown, n_groups):
    if n_groups == 0:
        return "**No groups of two or more samples**"
    shown = "" if n_shown == n_groups else f" (the {n_shown} largest shown)"
    return f"**{n_groups:,} groups**, largest first{shown}: click a row to show the group in the grid"


def spectrum_caption(run, k, shown, reading, n_groups):
    """What the spectrum says in words: the graph's connected components (its zero
    eigenvalues), the eigenvalues past them, the largest gap, and the rule's k; where every
    computed eigenvalue is zero, that it says nothing more (and no chart is drawn)."""
    parameters = run.parameters
    n = reading.n_computed
    grouping = ""
    if parameters.get("grouping") != "spectral":
        grouping = (f" This run grouped by the pair-score threshold {parameters['threshold']} instead "
                    f"({n_groups:,} groups).")  # fmt: skip
    if reading.all_zero:
        return (
            f"**Laplacian spectrum.** All {n:,} computed eigenvalues of the pair-score graph's Laplacian "
            f"are zero: the graph has at least {n:,} connected components (one zero eigenvalue each), so "
            f"the spectrum cannot choose a number of clusters here. The run found {n_groups:,} groups."
            + grouping
        )
    lines = [
        f"**Laplacian spectrum.** The {shown:,} smallest of the {n:,} eigenvalues of the pair-score graph's "
        "Laplacian.",
        f"**{reading.n_zero:,}** zero eigenvalues: the graph has {reading.n_zero:,} connected "
        f"component{'' if reading.n_zero == 1 else 's'}.",
        "Next eigenvalues: " + ", ".join(f"{value:.3g}" for value in reading.past_zero) + ".",
    ]
    if reading.gap_after is not None:
        meaning = " (the components themselves)" if reading.gap_after == reading.n_zero else ""
        lines.append(f"The largest gap, {reading.gap:.3g}, follows eigenvalue {reading.gap_after:,}: "
                     f"the spectrum suggests {reading.gap_after:,} clusters{meaning}.")  # fmt: skip
    lines.append(f"The eigen-gap rule `{parameters['rule']}` reads **k = {k:,}**.")
    return " ".join(lines) + grouping



def _flat(parameters, prefix=""):
    """``(name, value)`` of every parameter, nested ones (the pair score's) as ``pair_score.flips``."""
    for name, value in sorted(parameters.items()):
        if isinstance(value, Mapping):
            yield from _flat(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value
