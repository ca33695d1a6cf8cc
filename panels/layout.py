"""How a panel fits the width the App gives it (half the window beside the grid: 490 px in
a 1,280 px window), read from fiftyone 1.22's App components.

A vertical ``GridView`` is one CSS grid column as wide as its widest item's smallest
width, so one wide item widens the whole panel past the window's edge. In a 1,280 px
window two items were wider than the panel: the ``TableView``'s table (the App gives it
``minWidth: 650``) and a row of buttons that cannot wrap (an ``h_stack`` is a grid row);
each plot then drew at the widened column's width and kept it. Here each is given what
lets it fit, and plots follow the window when it is resized.
"""

import fiftyone.operators.types as types

PLOT_CONFIG = {"displayModeBar": False, "responsive": True}
"""Plotly config: a plot as wide as its column (plotly sizes its container to 100% rather
than the pixels of its first drawing) and redrawn when the window is resized."""

FITTING_TABLE = {
    "table": {
        "sx": {
            "minWidth": 0,
            "& .MuiTableCell-root": {"paddingLeft": "8px", "paddingRight": "8px"},
            "& td:not(:last-child)": {"overflowWrap": "anywhere"},
        }
    }
}
"""A ``TableView``'s ``componentsProps``: no 650 px floor, narrower cell padding, and a
long value (a file name) breaks across lines; the last cell holds the row's buttons."""

_AS_WIDE_AS_ITS_CONTENT = {"item": {"sx": {"width": "auto"}}}
_NO_WIDER_THAN_THE_PANEL = {"grid": {"sx": {"gridTemplateColumns": "minmax(0, 1fr)"}}}


def plot(panel, name, figure_layout):
    """A plot as wide as the panel and as high as ``figure_layout["height"]``, also after
    the window is resized: plotly then forgets the layout's height and takes its element's,
    which must therefore be set (else it is 0 and the plot covers what follows it)."""
    return panel.plot(name, layout=figure_layout, config=PLOT_CONFIG, height=f"{figure_layout['height']}px")


def column(**kwargs):
    """The panel's own view: items one under another, the column never wider than the panel
    (an item that cannot shrink overflows itself instead of widening every other one).
    The App reads its padding from ``pad``, not ``padding``."""
    return types.GridView(orientation="vertical", componentsProps=_NO_WIDER_THAN_THE_PANEL, **kwargs)


def button_row(panel, name):
    """A row of buttons that wraps onto further lines where the panel is narrow (a
    ``GridView`` without orientation is a wrapping flex row); add its buttons with
    :func:`button`."""
    return panel.grid(name, gap=1, align_x="left")


def button(row, name, **kwargs):
    """A button of a :func:`button_row`, as wide as its label (the App makes each grid item
    100% wide, which would put every button on a line of its own)."""
    return row.btn(name, componentsProps=_AS_WIDE_AS_ITS_CONTENT, **kwargs)
