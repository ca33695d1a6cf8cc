"""The "Embedding map" panel: a run's stored projection, coloured by status or label, with
each redundant sample linked to its representative.

Lasso or box selection selects those samples and shows them in the grid; clicking a point
shows its group (or the sample alone). What the panel put in the grid is ringed on the map
and named above it (``shown_ids`` and ``selection_md`` in the panel state), through every
redraw (colouring, 3-D, another run) until a click, a lasso or *Clear selection* replaces
it. Past ``figures.MAX_POINTS`` the map is downsampled and says so.
"""

import os

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..bridge.methods import METHODS
from ..bridge.runs import list_runs, method_of
from . import figures, layout
from .run_state import RunPanel, current_run, data_name, errors_in_place, new_revision, set_data

COLOR_BY = ("status", "label")
NO_MAPS = (
    "No run of this dataset stored a projection yet. Runs of "
    + ", ".join(method.label for method in METHODS.values() if method.map_space)
    + " do: run one, then reopen this panel."
)


class EmbeddingMapPanel(RunPanel):
    @property
    def config(self):
        return foo.PanelConfig(
            name="embedding_map",
            label="Embedding map",
            icon="scatter_plot",
            help_markdown="A redundancy run's 2-D/3-D projection; lasso points to select samples",
        )

    @errors_in_place
    def on_load(self, ctx, chosen=None):
        new_revision(ctx)
        run = current_run(ctx, keys=runs_with_maps(ctx.dataset), chosen=chosen)
        if run is None:
            ctx.panel.state.note_md = NO_MAPS
            return
        color_by = ctx.panel.state.color_by or "status"
        columns = run.map_columns()
        three_d = bool(ctx.panel.state.three_d) and columns.points_3d is not None
        if color_by == "label" and columns.labels is None:
            color_by = "status"
        traces, chosen_points = figures.embedding_map(
            columns.points_3d if three_d else columns.points,
            columns.sample_ids,
            columns.statuses,
            columns.representatives,
            colors=columns.labels if color_by == "label" else None,
            hover=hover_texts(columns),
            shown=ctx.panel.state.shown_ids or (),
        )
        ctx.panel.state.color_by = color_by
        ctx.panel.state.three_d = three_d
        ctx.panel.state.has_3d = columns.points_3d is not None
        ctx.panel.state.has_labels = columns.labels is not None
        ctx.panel.state.note_md = map_note(
            run, len(columns.sample_ids), figures.downsample_note(chosen_points, columns.statuses)
        )
        set_data(ctx, "embedding", traces)

    def on_change_color(self, ctx):
        ctx.panel.state.color_by = ctx.params.get("value")
        self.on_load(ctx)

    def on_change_dims(self, ctx):
        ctx.panel.state.three_d = bool(ctx.params.get("value"))
        self.on_load(ctx)

    def on_change_dataset(self, ctx):
        self.show_in_grid(ctx, [], "")  # those samples are another dataset's

    def show_in_grid(self, ctx, ids, selection_md):
        """Note what the grid now shows, and draw the map again with those points ringed."""
        ctx.panel.state.shown_ids = ids
        ctx.panel.state.selection_md = selection_md
        self.on_load(ctx)

    @errors_in_place
    def on_selected(self, ctx):
        """Lasso or box: select those samples and show them in the grid."""
        # a ringed point comes twice (its colour's trace and the ring's)
        ids = list(dict.fromkeys(point["id"] for point in ctx.params.get("data") or [] if point.get("id")))
        if not ids:
            return
        ctx.ops.set_view(view=ctx.dataset.select(ids))
        ctx.ops.set_selected_samples(ids)
        self.show_in_grid(
            ctx,
            ids,
            f"**{len(ids):,}** samples selected and shown in the grid; tag or export them with "
            "the operators' *selected samples* target.",
        )

    @errors_in_place
    def on_click(self, ctx):
        """A point: its group in the grid, or the sample alone when it is in none; an
        earlier lasso's selection is cleared, as the grid no longer shows it."""
        sample_id = ctx.params.get("id")
        if not sample_id:
            return
        run = self.shown_run(ctx, keys=runs_with_maps(ctx.dataset))
        if run is None:
            return
        sample = ctx.dataset[sample_id]
        group = sample[f"{run.key}_group"]
        ctx.ops.clear_selected_samples()
        if group is not None and group >= 0:
            view = run.group_view(group)
            ids = view.values("id")
            ctx.ops.set_view(view=view)
            self.show_in_grid(ctx, ids, f"Group {group} of run `{run.key}`: **{len(ids):,}** samples shown in the grid.")
        else:
            ctx.ops.set_view(view=ctx.dataset.select([sample_id]))
            name = os.path.basename(sample.filepath)
            self.show_in_grid(ctx, [sample_id], f"`{name}` shown alone in the grid: it is in no group of run `{run.key}`.")

    def clear_selection(self, ctx):
        ctx.ops.clear_selected_samples()
        ctx.ops.clear_view()
        self.show_in_grid(ctx, [], "")

    def render(self, ctx):
        panel = types.Object()
        self.error_notice(ctx, panel)
        keys = runs_with_maps(ctx.dataset)
        if not keys or ctx.panel.state.key is None:
            panel.str("note_md", view=types.MarkdownView())
            return types.Property(panel, view=layout.column())
        self.run_chooser(panel, keys)
        if ctx.panel.state.has_labels:
            colors = types.RadioGroup(orientation="horizontal", label="Colour by")
            for name in COLOR_BY:
                colors.add_choice(name, label=name)
            panel.enum("color_by", list(COLOR_BY), view=colors, on_change=self.on_change_color)
        if ctx.panel.state.has_3d:
            panel.bool("three_d", label="3-D", view=types.CheckboxView(), on_change=self.on_change_dims)
        panel.str("note_md", view=types.MarkdownView())
        panel.str("selection_md", view=types.MarkdownView())
        panel.btn("clear_selection", label="Clear selection", icon="clear", on_click=self.clear_selection)
        layout.plot(
            panel,
            data_name(ctx, "embedding"),
            figures.embedding_layout(ctx.panel.state.three_d),
            config={"scrollZoom": True, "displaylogo": False, "displayModeBar": "hover"},  # its tools: box, zoom, pan
            on_selected=self.on_selected,
            on_click=self.on_click,
        )
        return types.Property(panel, view=layout.column(gap=1, pad=1))


def runs_with_maps(dataset):
    """Runs whose analysis stores a projection (``Method.map_space``)."""
    return [key for key in list_runs(dataset) if method_of(dataset, key).map_space is not None]


def map_note(run, n_points, downsample_note):
    note = f"{n_points:,} samples of run `{run.key}`, placed by {run.method_info.map_space}. Lasso or box-select points to select those samples; click one for its group."
    return f"{note}\n\n{downsample_note}" if downsample_note else note


def hover_texts(columns):
    """What hovering each point of ``columns`` (``MapColumns``) says: its file name, label
    and group."""
    labels = columns.labels or [None] * len(columns.names)
    return [
        f"{name}{'' if columns.labels is None else f' · label {label}'} · "
        + (f"group {group}" if group is not None and group >= 0 else "in no group")
        for name, label, group in zip(columns.names, labels, columns.groups)
    ]
