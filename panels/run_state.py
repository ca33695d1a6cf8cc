"""What both panels share: the run they show (a dropdown) and the data loaded for it.

The App deep-merges a panel's new data into what a property showed before (lists by
index), so a figure with fewer traces or a table with fewer rows would keep stale ones.
Each load therefore writes its data under fresh names: ``data_name(ctx, "groups")`` is
``groups_<revision>``, and the revision goes up with every load.
"""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..bridge.runs import RedundancyRun, list_runs

PLUGIN = "@fiftyone-redundancy/redundancy"


class RunPanel(foo.Panel):
    """A panel that shows one stored run: ``on_load(ctx, chosen)`` loads it, again when
    the user picks another run in the dropdown or the App switches dataset."""

    def on_load(self, ctx, chosen=None):
        raise NotImplementedError

    def on_change_dataset(self, ctx):
        self.on_load(ctx)

    def on_change_run(self, ctx):
        self.on_load(ctx, chosen=ctx.params.get("value"))

    def reload(self, ctx):
        """The run may have been recomputed under the same key since the panel loaded it."""
        self.on_load(ctx)

    def run_chooser(self, panel, keys):
        """The run dropdown, and a button that loads the chosen run again."""
        choices = types.DropdownView(label="Run")
        for key in keys:
            choices.add_choice(key, label=key)
        panel.enum("key", keys, view=choices, on_change=self.on_change_run)
        panel.btn("reload", label="Reload", icon="refresh", on_click=self.reload)


def current_run(ctx, keys=None, chosen=None):
    """The run the panel shows: ``chosen``, else the one in the panel's state if it still
    exists, else the latest of ``keys`` (default: every run of the dataset); None when
    there is none. The choice is written back to the state."""
    keys = list_runs(ctx.dataset) if keys is None else keys
    key = chosen or ctx.panel.state.key
    if key not in keys:
        key = max(keys, key=lambda k: ctx.dataset.get_run_info(k).timestamp) if keys else None
    ctx.panel.state.key = key
    return None if key is None else RedundancyRun(ctx.dataset, key)


def new_revision(ctx):
    """Start a load: clear the previous load's data and move to fresh data names."""
    ctx.panel.data.clear()
    ctx.panel.state.revision = (ctx.panel.state.revision or 0) + 1


def data_name(ctx, name):
    """The name the current load's ``name`` data (and the property showing it) has."""
    return f"{name}_{ctx.panel.state.revision}"


def set_data(ctx, name, value):
    ctx.panel.data.set(data_name(ctx, name), value)
