"""How a panel fits the width the App gives it (half the window beside the grid: 490 px in
a 1,280 px window; 330 px in a 960 px one, half a 1,920 px screen, beside the sidebar),
read from fiftyone 1.22's App components.

A vertical ``GridView`` is one CSS grid column as wide as its widest item's smallest
width, so one wide item widens the whole panel past the window's edge. In a 1,280 px
window two items were wider than the panel: the ``TableView``'s table (the App gives it
``minWidth: 650``) and a row of buttons that cannot wrap (an ``h_stack`` is a grid row);
each plot then drew at the widened column's width and kept it. Here each is given what
lets it fit, and plots follow the window when it is resized. At 330 px a table also
needs its header words, its font and its row buttons kept small (:func:`fitting_table`).
"""

import fiftyone.operators.types as types

PLOT_CONFIG = {"displayModeBar": False, "responsive": True}
"""Plotly config: a plot as wide as its column (plotly sizes its container to 100% rather
than the pixels of its first drawing) and redrawn when the window is resized."""

def fitting_table(columns, breaking=()):
    """A ``TableView``'s ``componentsProps`` that let it fit a narrow panel (330 px in a
    960 px window, the sidebar open): no 650 px floor, the table's own font size and narrow
    cell padding; each value wraps between words, and a value of a column in ``breaking``
    (keys of ``columns``, the table's columns in order: file names, label names) anywhere,
    so it never sets that column's width. The cells after ``columns`` hold the row's
    buttons."""
    cells = {
        "minWidth": 0,
        "& .MuiTableCell-root": {"paddingLeft": "6px", "paddingRight": "6px", "fontSize": "0.875rem"},
        "& td": {"overflowWrap": "break-word"},
    }
    for key in breaking:
        cells[f"& td:nth-of-type({list(columns).index(key) + 1})"] = {"overflowWrap": "anywhere"}
    return {"table": {"sx": cells}}


IN_A_ROW = {"item": {"sx": {"width": "auto"}}}
"""The ``componentsProps`` of an item of a :func:`row`: as wide as its content (the App
makes each grid item 100% wide, which would put every item on a line of its own)."""
_NO_WIDER_THAN_THE_PANEL = {"grid": {"sx": {"gridTemplateColumns": "minmax(0, 1fr)"}}}


def plot(panel, name, figure_layout, config=None, **events):
    """A plot as wide as the panel and as high as ``figure_layout["height"]``, also after
    the window is resized: plotly then forgets the layout's height and takes its element's,
    which must therefore be set (else it is 0 and the plot covers what follows it).
    ``config`` adds to (or overrides) :data:`PLOT_CONFIG`; ``events`` are the plot's
    handlers (``on_click``, ``on_selected``)."""
    return panel.plot(
        name, layout=figure_layout, config={**PLOT_CONFIG, **(config or {})}, height=f"{figure_layout['height']}px", **events
    )


def column(**kwargs):
    """The panel's own view: items one under another, the column never wider than the panel
    (an item that cannot shrink overflows itself instead of widening every other one).
    The App reads its padding from ``pad``, not ``padding``."""
    return types.GridView(orientation="vertical", componentsProps=_NO_WIDER_THAN_THE_PANEL, **kwargs)


def row(panel, name, gap=1, align_y="center"):
    """A row of buttons or inputs that wraps onto further lines where the panel is narrow
    (a ``GridView`` without orientation is a wrapping flex row, where an ``h_stack`` is a
    grid row that cannot wrap); add its items with :func:`button` and :func:`field`.
    ``align_y="bottom"`` puts a button level with the box of an input labelled above it."""
    return panel.grid(name, gap=gap, align_x="left", align_y=align_y)


def button(row, name, **kwargs):
    """A button of a :func:`row`, as wide as its label (:data:`IN_A_ROW`)."""
    return row.btn(name, componentsProps=IN_A_ROW, **kwargs)


def field(row, kind, name, *args, **kwargs):
    """An input of a :func:`row` (``kind``: the property's method, ``"float"``, ``"str"``,
    ``"enum"``), as wide as the App draws it alone (:data:`IN_A_ROW`). A ``view`` given
    instead (a dropdown with its choices) is made with ``componentsProps=IN_A_ROW``:
    FiftyOne copies a view from its constructor's arguments, so none can be added here."""
    kwargs.setdefault("view", types.View(componentsProps=IN_A_ROW))
    return getattr(row, kind)(name, *args, **kwargs)


def side_by_side(panel, name, count, gap=2):
    """A row of ``count`` items (images) sharing the panel's width equally, however narrow
    the panel: an ``h_stack``'s columns are as wide as their content and cannot shrink."""
    columns = {"grid": {"sx": {"gridTemplateColumns": f"repeat({count}, minmax(0, 1fr))"}}}
    return panel.h_stack(name, gap=gap, align_x="left", componentsProps=columns)
