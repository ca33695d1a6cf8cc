"""Plotly figures of stored runs, as plain dicts for the App's PlotlyView.

Pure Python and numpy (no FiftyOne): the panels fill these from a stored run, and the
tests check them on inputs whose answer is known. Every point trace carries the sample
ids (``ids``), which is what the App hands back on click and lasso selection.
"""

from dataclasses import dataclass

import numpy as np

from ..bridge.choices import INFLUENTIAL, OUTLIER, REDUNDANT, REPRESENTATIVE, STATUSES, UNIQUE

STATUS_COLORS = {
    REPRESENTATIVE: "#2ca02c",
    REDUNDANT: "#ff7f0e",
    INFLUENTIAL: "#9467bd",
    OUTLIER: "#d62728",
    UNIQUE: "#7f8c8d",
}
STATUS_LEGEND = {
    REPRESENTATIVE: "representative (kept)",
    REDUNDANT: "redundant",
    INFLUENTIAL: "influential",
    OUTLIER: "outlier",
    UNIQUE: "unique (kept)",
}
# Labels get D3's 20 categorical colours (plotly's default cycle repeats after 10).
LABEL_COLORS = (
    "#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728", "#ff9896",
    "#9467bd", "#c5b0d5", "#8c564b", "#c49c94", "#e377c2", "#f7b6d2", "#7f7f7f", "#c7c7c7",
    "#bcbd22", "#dbdb8d", "#17becf", "#9edae5",
)  # fmt: skip
# Past this many points the map is downsampled: WebGL scatter stays fluid and the panel's
# payload stays a few MB.
MAX_POINTS = 20_000
LINK_COLOR = "rgba(255, 127, 14, 0.7)"
# What the grid shows (a lasso's samples, a clicked group): each of its points drawn again on
# top, larger, in its own colour, ringed in a colour no status or light/dark theme uses, while
# the other points fade.
SHOWN_RING = "#ff00ff"
FADED = 0.3
# Drawing order: the many unique points underneath, representatives on top.
MAP_ORDER = (UNIQUE, REDUNDANT, INFLUENTIAL, OUTLIER, REPRESENTATIVE)


def status_chart(counts):
    """Horizontal bars: samples per status, in the decision rule's order."""
    statuses = list(STATUSES)
    values = [int(counts.get(status, 0)) for status in statuses]
    total = max(sum(values), 1)
    return [
        {
            "type": "bar",
            "orientation": "h",
            "y": [STATUS_LEGEND[s] for s in statuses],
            "x": values,
            "text": [f"{v:,} ({100.0 * v / total:.1f}%)" for v in values],
            "textposition": "auto",
            "marker": {"color": [STATUS_COLORS[s] for s in statuses]},
            "hoverinfo": "x+y",
        }
    ]


def status_chart_layout():
    return {
        "height": 220,
        "margin": {"l": 150, "r": 30, "t": 10, "b": 30},
        "yaxis": {"autorange": "reversed"},
        "xaxis": {"title": {"text": "samples"}, "tickformat": ",d"},
        "showlegend": False,
    }


@dataclass
class MapPoints:
    """What the embedding map draws: the kept subset of a run's points, in run order."""

    indices: np.ndarray  # into the run's arrays
    n_total: int

    @property
    def downsampled(self):
        return len(self.indices) < self.n_total


def choose_points(statuses, max_points=MAX_POINTS, random_state=0):
    """Indices to draw: all of them when they fit, else every flagged sample (not unique)
    first and a seeded random share of the unique ones; flagged ones are themselves sampled
    only when they alone exceed ``max_points``."""
    statuses = np.asarray(statuses)
    n = len(statuses)
    if n <= max_points:
        return MapPoints(np.arange(n), n)
    rng = np.random.default_rng(random_state)
    flagged = np.flatnonzero(statuses != UNIQUE)
    unique = np.flatnonzero(statuses == UNIQUE)
    if len(flagged) >= max_points:
        kept = rng.choice(flagged, max_points, replace=False)
    else:
        kept = np.concatenate([flagged, rng.choice(unique, max_points - len(flagged), replace=False)])
    return MapPoints(np.sort(kept), n)


def downsample_note(chosen, statuses):
    """The line the panel shows when not every point is drawn."""
    if not chosen.downsampled:
        return ""
    statuses = np.asarray(statuses)
    n_flagged = int(np.count_nonzero(statuses != UNIQUE))
    drawn_flagged = int(np.count_nonzero(statuses[chosen.indices] != UNIQUE))
    flagged = "every flagged sample" if drawn_flagged == n_flagged else f"{drawn_flagged:,} of {n_flagged:,} flagged samples"
    return (
        f"Showing {len(chosen.indices):,} of {chosen.n_total:,} points ({flagged} and a random "
        f"share of the unique ones) to keep the map responsive."
    )


def embedding_map(points, sample_ids, statuses, representatives, colors=None, hover=None, shown=(), max_points=MAX_POINTS):
    """Scatter traces of a run's projection, one per colour group, plus the links from each
    redundant sample to its representative (2-D only, as in the thesis figure).

    ``points`` is ``(n, 2)`` or ``(n, 3)``; ``representatives[i]`` is the sample id of
    sample i's representative (or None); ``colors`` (optional) are per-sample category
    names (e.g. labels) that replace the status colouring; ``hover`` (optional) per-sample
    text shown over each point; ``shown`` the ids of the samples the grid shows, drawn
    again by a last trace, ringed (even where downsampling left them out), while the
    other points fade. Returns ``(traces, MapPoints)``.
    """
    points = np.asarray(points, dtype=float)
    statuses = np.asarray(statuses, dtype=object)
    sample_ids = np.asarray(sample_ids, dtype=object)
    chosen = choose_points(statuses, max_points)
    three_d = points.shape[1] == 3
    traces = []
    if not three_d:
        traces.append(_links(points, sample_ids, statuses, representatives, chosen.indices))
    if colors is None:
        categories = [(STATUS_LEGEND[s], statuses == s, STATUS_COLORS[s]) for s in MAP_ORDER]
    else:
        colors = np.asarray([str(c) for c in colors], dtype=object)
        names = sorted(set(colors[chosen.indices]))
        categories = [(name, colors == name, LABEL_COLORS[i % len(LABEL_COLORS)]) for i, name in enumerate(names)]
    in_chosen = np.zeros(len(statuses), dtype=bool)
    in_chosen[chosen.indices] = True
    shown = set(shown)
    shown_rows = np.flatnonzero([sample_id in shown for sample_id in sample_ids])
    color_of = np.full(len(statuses), SHOWN_RING, dtype=object)  # stays for a label no drawn point has
    for name, members, color in categories:
        color_of[members] = color
        rows = np.flatnonzero(members & in_chosen)
        if len(rows) > 0:
            marker = {"size": 3 if three_d else 6, "color": color, "opacity": FADED if len(shown_rows) else 1.0}
            traces.append(_points(points, sample_ids, hover, rows, f"{name} ({len(rows):,})", name, marker))
    if len(shown_rows) > 0:
        ring = {"size": 6 if three_d else 11, "color": color_of[shown_rows].tolist(), "line": {"color": SHOWN_RING, "width": 2}}
        name = f"shown in the grid ({len(shown_rows):,})"
        traces.append(_points(points, sample_ids, hover, shown_rows, name, "shown in the grid", ring))
    return traces, chosen


def _points(points, sample_ids, hover, rows, name, kind_of_point, marker):
    """One trace of markers: the points of ``rows``, with their sample ids and hover text."""
    trace = {
        "type": "scatter3d" if points.shape[1] == 3 else "scattergl",
        "mode": "markers",
        "name": name,
        "ids": sample_ids[rows].tolist(),
        "x": points[rows, 0].tolist(),
        "y": points[rows, 1].tolist(),
        "marker": marker,
        "hovertemplate": f"{kind_of_point}<extra></extra>",
    }
    if hover is not None:
        trace["text"] = [hover[row] for row in rows]
        trace["hovertemplate"] = f"%{{text}}<br>{kind_of_point}<extra></extra>"
    if points.shape[1] == 3:
        trace["z"] = points[rows, 2].tolist()
    return trace


def _links(points, sample_ids, statuses, representatives, drawn):
    """One line trace: each drawn redundant sample to its representative."""
    row_of = {sample_id: row for row, sample_id in enumerate(sample_ids)}
    x, y = [], []
    for row in drawn:
        if statuses[row] != REDUNDANT or representatives[row] not in row_of:
            continue
        target = row_of[representatives[row]]
        x += [points[row, 0], points[target, 0], None]
        y += [points[row, 1], points[target, 1], None]
    return {
        "type": "scattergl",
        "mode": "lines",
        "name": "redundant → representative",
        "x": x,
        "y": y,
        "line": {"color": LINK_COLOR, "width": 1.5},
        "hoverinfo": "skip",
    }


def embedding_layout(three_d):
    layout = {
        "height": 520,
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "legend": {"orientation": "h", "x": 0, "y": 1.01, "yanchor": "bottom"},
        "uirevision": "keep",
        "showlegend": True,
    }
    if not three_d:
        layout["dragmode"] = "lasso"
        layout["xaxis"] = {"showticklabels": False, "zeroline": False}
        layout["yaxis"] = {"showticklabels": False, "zeroline": False, "scaleanchor": "x"}
    return layout


def spectrum_chart(eigenvalues):
    """The smallest Laplacian eigenvalues and the gaps between them (right axis)."""
    eigenvalues = [float(v) for v in eigenvalues]
    index = list(range(1, len(eigenvalues) + 1))
    return [
        {"type": "scatter", "mode": "lines+markers", "name": "eigenvalue λk", "x": index, "y": eigenvalues},
        {"type": "bar", "name": "gap λk+1 − λk (dashed: threshold γ)", "x": index[:-1], "y": np.diff(eigenvalues).tolist(),
         "yaxis": "y2", "marker": {"color": "rgba(255, 127, 14, 0.6)"}},  # fmt: skip
    ]


def spectrum_shown(n_eigenvalues, n_clusters):
    """How many of the smallest eigenvalues to draw: where the choice of k is made."""
    return min(n_eigenvalues, max(50, 3 * n_clusters))


def spectrum_layout(n_clusters, gamma):
    """The chosen number of clusters (a line after eigenvalue k) and the paper's gap
    threshold gamma."""
    return {
        "height": 320,
        "margin": {"l": 60, "r": 70, "t": 50, "b": 40},
        "xaxis": {"title": {"text": "k"}, "tickformat": ",d"},
        "yaxis": {"title": {"text": "eigenvalue"}},
        "yaxis2": {"title": {"text": "gap"}, "overlaying": "y", "side": "right", "showgrid": False},
        # above the plot, wrapping to a second row in a narrow panel instead of squeezing it
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "showlegend": True,
        "shapes": [
            _vertical_line(n_clusters + 0.5, "#d62728"),
            {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y2", "y0": gamma, "y1": gamma,
             "line": {"color": "#ff7f0e", "dash": "dash"}},  # fmt: skip
        ],
        "annotations": [
            {"x": n_clusters + 0.5, "y": 1, "yref": "paper", "text": f"k = {n_clusters:,}",
             "showarrow": False, "xanchor": "left", "font": {"color": "#d62728"}},  # fmt: skip
            {"x": 1, "xref": "paper", "xanchor": "right", "y": gamma, "yref": "y2", "yanchor": "bottom",
             "text": f"γ = {gamma}", "showarrow": False},  # fmt: skip
        ],
    }


def similarity_histogram(best_similarities, bins=50):
    """Test samples by their best pair score with any training sample."""
    values = [float(v) for v in best_similarities if v is not None]
    start = min(values + [0.0])
    return [
        {
            "type": "histogram",
            "x": values,
            "xbins": {"start": start, "end": 1.0 + 1e-9, "size": (1.0 - start) / bins},
            "marker": {"color": "#1f77b4"},
            "name": "test samples",
        }
    ]


def histogram_layout(threshold):
    """The near-identical threshold drawn over the histogram."""
    return {
        "height": 280,
        "margin": {"l": 60, "r": 30, "t": 10, "b": 40},
        "xaxis": {"title": {"text": "best pair score with any training sample"}},
        "yaxis": {"title": {"text": "test samples"}, "tickformat": ",d"},
        "shapes": [_vertical_line(threshold, "#d62728")],
        "annotations": [{"x": threshold, "y": 1, "yref": "paper", "text": f"near-identical ≥ {threshold}",
                         "showarrow": False, "xanchor": "right", "font": {"color": "#d62728"}}],  # fmt: skip
        "showlegend": False,
    }


def _vertical_line(x, color):
    return {"type": "line", "x0": x, "x1": x, "yref": "paper", "y0": 0, "y1": 1,
            "line": {"color": color, "dash": "dot"}}  # fmt: skip
