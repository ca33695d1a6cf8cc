"""The "Pair review" panel: a run's stored candidate pairs one at a time (the two images
side by side with a difference view), decided with y / n / l / s / u or the buttons, and
the precision of every cut those decisions give, with "Apply this cut" to re-cut the run.

The keys reach the buttons through ``js/review_keys.js`` (the plugin's only JavaScript: a
key press clicks the button labelled with it). Each event reads the run's pairs from a
cache (``bridge.review.pair_table``) and its reviews from the database, so several
reviewers can work on one run at once.
"""

import base64
import io
from urllib.parse import quote

import fiftyone.operators as foo
import fiftyone.operators.types as types
import numpy as np

from ..bridge.review import (
    DEFAULT_TAGS,
    calibration,
    load_reviews,
    pair_table,
    preview_cut,
    recut_run,
    review_pair,
    reviewable_runs,
    undo_review,
)
from ..bridge.runs import RedundancyRun
from ..bridge.samples import distinct_names, read_labels
from ..bridge.choices import DIFFERENT, LABELS_DIFFER, ORDERS, SAME, SKIPPED, STORED_FLOOR
from . import layout
from .run_state import RunPanel, current_run, cut_preview_markdown, data_name, errors_in_place, new_revision, set_data

ORDER_LABELS = {
    "uncertain": "Most uncertain first (nearest the cut)",
    "highest": "Highest score first",
    "random": "Random within the band (unbiased precision)",
}
BUTTONS = (
    ("same", "Same image (y)", SAME),
    ("different", "Different (n)", DIFFERENT),
    ("labels_differ", "Same, labels differ (l)", LABELS_DIFFER),
    ("skip", "Skip (s)", SKIPPED),
)
TAG_INPUTS = {SAME: "tag_same", DIFFERENT: "tag_different", LABELS_DIFFER: "tag_labels_differ"}
DIFFERENCE_SIZE = 256
SHOWN_WHOLE = {"image": {"style": {"width": "100%", "height": "auto", "maxHeight": f"{DIFFERENCE_SIZE}px",
                                   "objectFit": "contain", "imageRendering": "pixelated"}}}  # fmt: skip
"""Each image of a pair as wide as its third of the panel and at most 256 px high, its
aspect kept (a 32x32 image is never stretched) and its pixels drawn sharp when enlarged."""
NO_RUNS = (
    "No run here stores scored pairs to review. Run **wavelet clusters** (grouping `score`, the "
    "default) or **SSIM** (grouping `threshold`, the default), then reopen this panel."
)


def controls(ctx, edited=None):
    """The review controls (in the panel's ``controls`` row): order, score band and cut,
    with their defaults filled in, ``edited`` (a control the user just changed) over the
    panel's state, the band in order and both within the stored scores (a cut below
    ``STORED_FLOOR`` is read as the floor, so every text speaks of one cut)."""
    chosen = {**(ctx.panel.state.controls or {}), **(edited or {})}
    numbers = {"band_low": STORED_FLOOR, "band_high": 1.0, "cut": ctx.panel.state.run_cut or STORED_FLOOR}
    for name, default in numbers.items():
        try:
            chosen[name] = min(max(float(chosen[name]), STORED_FLOOR if name == "cut" else 0.0), 1.0)
        except (KeyError, TypeError, ValueError):  # unset, or a box being typed into
            chosen[name] = float(default)
    chosen["band_low"], chosen["band_high"] = sorted((chosen["band_low"], chosen["band_high"]))
    chosen["order"] = chosen.get("order") if chosen.get("order") in ORDERS else ORDERS[0]
    return chosen


def score_beside(score, cut, digits=3):
    """``score`` with the decimals it needs to read on its own side of ``cut``: 0.4496
    beside a cut of 0.45 reads 0.4496, not 0.450."""
    while digits < 12:
        shown = round(score, digits)
        if (shown >= cut) == (score >= cut) and (shown == cut) == (score == cut):
            break
        digits += 1
    return f"{score:.{digits}f}"


class PairReviewPanel(RunPanel):
    @property
    def config(self):
        return foo.PanelConfig(
            name="pair_review",
            label="Pair review",
            icon="compare",
            help_markdown="Review a run's candidate pairs, calibrate its cut, re-cut it",
        )

    @errors_in_place
    def on_load(self, ctx, chosen=None):
        new_revision(ctx)
        state = ctx.panel.state
        if chosen is not None:
            state.applied_md = None  # it spoke of another run
        run = current_run(ctx, reviewable_runs(ctx.dataset), chosen=chosen)
        if run is None:
            state.progress_md = NO_RUNS
            return
        recut = run.details.get("recut") or {}
        if state.applied_to != [run.key, recut.get("threshold")]:
            state.applied_md = None  # the run was stored again (computed or re-cut) since that re-cut
        table = pair_table(ctx.dataset, run.key)
        state.run_cut = table.threshold
        state.controls = {**controls(ctx), "cut": table.threshold}
        state.preview_md = None
        state.tags = {name: (state.tags or {}).get(name, DEFAULT_TAGS[decision]) for decision, name in TAG_INPUTS.items()}
        self.show_next(ctx)

    def show_next(self, ctx, pair=None, chosen=None):
        """Show ``pair`` (sample ids) or the first unreviewed pair in the chosen order,
        and the calibration of the current reviews (``chosen``: the controls, when one was
        just edited)."""
        state = ctx.panel.state
        table = pair_table(ctx.dataset, state.key)
        reviews = load_reviews(ctx.dataset, state.key)
        chosen = chosen or controls(ctx)
        low, high = chosen["band_low"], chosen["band_high"]
        order = table.order(chosen["cut"], chosen["order"], (low, high))
        if pair is None:  # the first pair of the order nobody has decided yet
            done = {tuple(sorted((table.row_of.get(r["a"], -1), table.row_of.get(r["b"], -1)))) for r in reviews}
            first, second, ids = table.pairs.first, table.pairs.second, table.sample_ids
            pair = next(((ids[first[p]], ids[second[p]]) for p in order if (first[p], second[p]) not in done), None)
        in_band = sum(r.get("score") is not None and low <= r["score"] <= high for r in reviews)
        skipped = sum(r["decision"] == SKIPPED for r in reviews)
        decided = len(reviews) - skipped  # a skip is no answer: the calibration leaves it out
        state.progress_md = (
            f"**{decided:,}** pair{'' if decided == 1 else 's'} reviewed in run `{state.key}`"
            + (f" ({skipped:,} skipped)" if skipped else "")
            + f" · **{in_band:,} of {len(order):,}** stored pairs scoring {low:g}–{high:g} reviewed or skipped"
        )
        state.pair = list(pair) if pair else None
        if pair:
            self._show_pair(ctx, table, pair, chosen["cut"])
        else:
            state.pair_md = "**Every pair in this band is reviewed.** Widen the band or choose another order."
            state.images = None
        self._show_calibration(ctx, reviews, chosen["cut"])

    def _show_pair(self, ctx, table, pair, cut):
        state = ctx.panel.state
        view = ctx.dataset.select(list(pair), ordered=True)
        paths = view.values("filepath")
        label_field = table.parameters.get("label_field")
        labels = read_labels(view, label_field if label_field and ctx.dataset.has_sample_field(label_field) else None)
        labels = labels or [None, None]
        row_a, row_b = sorted((table.row_of[pair[0]], table.row_of[pair[1]]))
        pairs = table.pairs
        hit = np.flatnonzero((pairs.first == row_a) & (pairs.second == row_b))
        score = float(pairs.score[hit[0]]) if len(hit) else None
        state.images = {"image_a": media_url(paths[0]), "image_b": media_url(paths[1]), "image_difference": difference_uri(*paths)}
        names = distinct_names(paths)
        side = lambda name, label: f"`{name}`" + ("" if label is None else f" · label **{label}**")  # noqa: E731
        verdict = "at or above" if score is not None and score >= cut else "below"
        scored = "not stored by the run" if score is None else f"**{score_beside(score, cut)}** ({verdict} the cut {cut:g})"
        state.pair_md = (
            f"Left: {side(names[0], labels[0])} · Right: {side(names[1], labels[1])} · pair score {scored}\n\n"
            f"Full resolution: [left]({media_url(paths[0])}) · [right]({media_url(paths[1])}) "
            "(opens the file in this tab; Back returns to the App). "
            "Difference view (right): bright where the two images differ, after scaling both to one size."
        )

    def _show_calibration(self, ctx, reviews, cut):
        state = ctx.panel.state
        curve = calibration(ctx.dataset, state.key, reviews)
        at = curve.at(cut)
        set_data(ctx, "calibration", calibration_figure(curve))
        if at["precision"] is None:
            state.calibration_md = (
                f"**Cut {at['cut']:g}:** {at['candidates']:,} stored pairs score at least this; none of them is "
                "reviewed yet, so its precision is unknown."
            )
            return
        state.calibration_md = (
            f"**Cut {at['cut']:g}:** precision **{at['precision']:.2f}** (95% interval {at['low']:.2f}–{at['high']:.2f}) "
            f"from {at['reviewed']} reviewed pairs at or above it, {at['same']} of them the same image. "
            f"Estimated duplicate pairs at or above the cut: **{at['duplicates']:.0f}** "
            f"({at['duplicates_low']:.0f}–{at['duplicates_high']:.0f}) of {at['candidates']:,} candidates. "
            f"The run is cut at {state.run_cut:g}."
        )

    def decide(self, ctx, decision):
        state = ctx.panel.state
        if not state.pair:
            return
        chosen = state.tags or {}
        tags = {name: chosen.get(field) or None for name, field in TAG_INPUTS.items()}
        review_pair(ctx.dataset, state.key, *state.pair, decision, tags=tags)
        self.show_next(ctx)

    @errors_in_place
    def same(self, ctx):
        self.decide(ctx, SAME)

    @errors_in_place
    def different(self, ctx):
        self.decide(ctx, DIFFERENT)

    @errors_in_place
    def labels_differ(self, ctx):
        self.decide(ctx, LABELS_DIFFER)

    @errors_in_place
    def skip(self, ctx):
        self.decide(ctx, SKIPPED)

    @errors_in_place
    def undo(self, ctx):
        undone = undo_review(ctx.dataset, ctx.panel.state.key)
        self.show_next(ctx, pair=None if undone is None else (undone["a"], undone["b"]))

    def change_control(self, ctx, name):
        """A control changed: note it and show the next pair for the new order, band or
        cut. Only the edited control is written back, as typed: rewriting all of them
        while the user types into the next box fed stale values back into the boxes, which
        changed them again, in a loop."""
        value = ctx.params.get("value")
        ctx.panel.state.set(f"controls.{name}", value)
        self.show_next(ctx, chosen=controls(ctx, {name: value}))

    @errors_in_place
    def on_change_order(self, ctx):
        self.change_control(ctx, "order")

    @errors_in_place
    def on_change_band_low(self, ctx):
        self.change_control(ctx, "band_low")

    @errors_in_place
    def on_change_band_high(self, ctx):
        self.change_control(ctx, "band_high")

    @errors_in_place
    def on_change_cut(self, ctx):
        self.change_control(ctx, "cut")
        self.preview(ctx)

    def preview(self, ctx):
        """The counts the cut in the box gives, written nowhere (``preview_cut``)."""
        state = ctx.panel.state
        cut = controls(ctx)["cut"]
        run = RedundancyRun(ctx.dataset, state.key)
        state.preview_md = None if cut == state.run_cut else cut_preview_markdown(run, cut, preview_cut(ctx.dataset, state.key, cut))

    @errors_in_place
    def apply_cut(self, ctx):
        """Re-cut the run at the cut shown: the Redundancy panel and the grid follow."""
        state = ctx.panel.state
        cut = controls(ctx)["cut"]
        run = recut_run(ctx.dataset, state.key, cut)
        state.applied_to = [run.key, run.details["recut"]["threshold"]]
        self.on_load(ctx)
        state.applied_md = (
            f"**Run `{run.key}` re-cut at {cut:g}** with {run.details['recut']['reviews_applied']:,} decisions applied: "
            f"{run.counts['redundant']:,} redundant, {run.counts['influential']:,} influential, "
            f"{run.counts['representative']:,} representative."
        )
        ctx.ops.reload_dataset()  # last: the panels reload with this panel's state as set above

    def render(self, ctx):
        panel = types.Object()
        self.error_notice(ctx, panel)
        state = ctx.panel.state
        keys = reviewable_runs(ctx.dataset)
        if not keys or state.key is None:
            panel.str("progress_md", view=types.MarkdownView())
            return types.Property(panel, view=layout.column())
        self.run_chooser(panel, keys)
        row = layout.row(panel, "controls", gap=2)
        orders = types.DropdownView(label="Order", componentsProps=layout.IN_A_ROW)
        for name in ORDERS:
            orders.add_choice(name, label=ORDER_LABELS[name])
        layout.field(row, "enum", "order", list(ORDERS), view=orders, on_change=self.on_change_order)
        layout.field(row, "float", "band_low", label="Band from", on_change=self.on_change_band_low)
        layout.field(row, "float", "band_high", label="to", on_change=self.on_change_band_high)
        layout.field(row, "float", "cut", label="Cut", on_change=self.on_change_cut)
        panel.str("progress_md", view=types.MarkdownView())
        if state.pair:
            images = layout.side_by_side(panel, "images", 3)
            for name in ("image_a", "image_b", "image_difference"):
                images.view(name, types.ImageView(alt=name, componentsProps=SHOWN_WHOLE))
        panel.str("pair_md", view=types.MarkdownView())
        buttons = layout.row(panel, "buttons")
        for name, label, _ in BUTTONS:
            layout.button(buttons, name, label=label, on_click=getattr(self, name), variant="contained" if name == "same" else "outlined")
        layout.button(buttons, "undo", label="Undo (u)", icon="undo", on_click=self.undo)
        layout.plot(panel, data_name(ctx, "calibration"), calibration_layout(controls(ctx)["cut"], state.run_cut))
        panel.str("calibration_md", view=types.MarkdownView())
        if state.preview_md:
            panel.str("preview_md", view=types.MarkdownView())
        panel.btn("apply_cut", label="Apply this cut", icon="content_cut", variant="contained", on_click=self.apply_cut)
        if state.applied_md:
            panel.str("applied_md", view=types.MarkdownView())
        tags = layout.row(panel, "tags", gap=2)
        for decision, name in TAG_INPUTS.items():
            layout.field(tags, "str", name, label=f"Tag for '{decision.replace('_', ' ')}'")
        return types.Property(panel, view=layout.column(gap=2, pad=1))


def media_url(path):
    """The App's URL for a local media file."""
    return f"/media?filepath={quote(path, safe='')}"


def difference_uri(path_a, path_b, size=DIFFERENCE_SIZE):
    """The absolute difference of the two images, both scaled to at most ``size`` pixels
    on their longer side (the first image's shape), as a PNG data URI; brightened so small
    differences (a re-encode, a shift) show."""
    from PIL import Image

    with Image.open(path_a) as first, Image.open(path_b) as second:
        first = first.convert("RGB")
        scale = size / max(first.size)
        shape = (max(1, round(first.width * scale)), max(1, round(first.height * scale)))
        a = np.asarray(first.resize(shape, Image.Resampling.BILINEAR), dtype=np.int16)
        b = np.asarray(second.convert("RGB").resize(shape, Image.Resampling.BILINEAR), dtype=np.int16)
    difference = np.clip(np.abs(a - b) * 4, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(difference).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def calibration_figure(curve):
    """Precision of every cut with its 95% Wilson band, and the reviewed pairs at or above
    each cut (right axis). Every trace has a value (None where nothing is reviewed) at
    every cut, so a figure merged into the previous one by the App keeps no stale point."""
    known = curve.reviewed > 0

    def where_known(values):
        return [float(value) if shown else None for value, shown in zip(values, known)]

    cuts = curve.cuts.tolist()
    return [
        {"type": "scatter", "x": cuts, "y": where_known(curve.high), "mode": "lines",
         "line": {"width": 0}, "showlegend": False, "hoverinfo": "skip", "name": "upper"},
        {"type": "scatter", "x": cuts, "y": where_known(curve.low), "mode": "lines", "fill": "tonexty",
         "fillcolor": "rgba(31,119,180,0.2)", "line": {"width": 0}, "name": "95% interval"},
        {"type": "scatter", "x": cuts, "y": where_known(curve.precision), "mode": "lines",
         "line": {"color": "#1f77b4"}, "name": "precision"},
        {"type": "scatter", "x": cuts, "y": curve.reviewed.tolist(), "mode": "lines", "yaxis": "y2",
         "line": {"color": "#7f8c8d", "dash": "dot"}, "name": "reviewed pairs ≥ cut"},
    ]  # fmt: skip


def calibration_layout(cut, run_cut):
    lines = [("#d62728", cut, f"cut {cut:g}")]
    if run_cut is not None and run_cut != cut:
        lines.append(("#2ca02c", run_cut, f"run's cut {run_cut:g}"))
    return {
        "height": 280,
        "margin": {"l": 50, "r": 50, "t": 40, "b": 40},
        "xaxis": {"title": {"text": "cut (pair score)"}, "range": [STORED_FLOOR, 1]},
        "yaxis": {"title": {"text": "precision"}, "range": [0, 1.05]},
        "yaxis2": {"title": {"text": "reviewed"}, "overlaying": "y", "side": "right", "rangemode": "tozero"},
        "shapes": [{"type": "line", "x0": x, "x1": x, "yref": "paper", "y0": 0, "y1": 1,
                    "line": {"color": color, "dash": "dot"}} for color, x, _ in lines],  # fmt: skip
        # above the plot, each label starting at its line (the cut and the run's cut on two rows)
        "annotations": [{"x": x, "y": 1 + 0.09 * row, "yref": "paper", "yanchor": "bottom", "text": text,
                         "showarrow": False, "xanchor": "left", "font": {"color": color}}
                        for row, (color, x, text) in enumerate(lines)],  # fmt: skip
        "legend": {"orientation": "h", "y": -0.25},
    }
