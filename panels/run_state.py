"""What both panels share: the run they show (a dropdown) and the data loaded for it.

The App deep-merges a panel's new data into what a property showed before (lists by
index), so a figure with fewer traces or a table with fewer rows would keep stale ones.
Each load therefore writes its data under fresh names: ``data_name(ctx, "groups")`` is
``groups_<revision>``, and the revision goes up with every load.

Runs change behind an open panel (an operator or Python adds, renames, recomputes or
deletes one): every App event compares the dataset's runs with those of the last load and
loads again when they differ, and an action on a run that is gone reloads instead of
silently acting on another. A failing event shows its message at the top of the panel
instead of replacing the panel.
"""

import functools
from datetime import datetime

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..bridge.runs import RedundancyRun, list_runs

PLUGIN = "@fiftyone-redundancy/redundancy"


def errors_in_place(event):
    """A panel event that fails says why at the top of the panel (``error_md``)."""

    @functools.wraps(event)
    def guarded(self, ctx, *args, **kwargs):
        if ctx.panel.state.error_md:  # written only when it changes: every write is an App event
            ctx.panel.state.error_md = None
        try:
            return event(self, ctx, *args, **kwargs)
        except Exception as error:  # shown to the user in place, the panel stays usable
            ctx.panel.state.error_md = f"**{event.__name__.replace('_', ' ').capitalize()} failed:** {error}"

    return guarded


def runs_listed(dataset):
    """Each run of the dataset with the time it was stored: when this changes, a panel
    shows stale runs."""
    return [[key, dataset.get_run_info(key).timestamp.isoformat()] for key in list_runs(dataset)]


class RunPanel(foo.Panel):
    """A panel that shows one stored run: ``on_load(ctx, chosen)`` loads it, again when
    the user picks another run in the dropdown, the App switches dataset, or the
    dataset's runs change."""

    def on_load(self, ctx, chosen=None):
        raise NotImplementedError

    def on_change_dataset(self, ctx):
        self.on_load(ctx)

    @errors_in_place
    def on_change_ctx(self, ctx):
        listed = ctx.panel.state.runs_listed
        if listed is not None and listed != runs_listed(ctx.dataset):  # None: on_load is still running
            self.on_load(ctx)

    def shown_run(self, ctx, keys=None):
        """The run the panel shows, or None (after loading again) when it no longer exists."""
        keys = list_runs(ctx.dataset) if keys is None else keys
        if ctx.panel.state.key not in keys:
            self.on_load(ctx)
            return None
        return RedundancyRun(ctx.dataset, ctx.panel.state.key)

    def error_notice(self, ctx, panel):
        if ctx.panel.state.error_md:
            panel.str("error_md", view=types.MarkdownView())

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


SHARED_STORE = "redundancy_panels"
"""The execution store (one per dataset) where the panels share the run last chosen."""


def current_run(ctx, keys=None, chosen=None):
    """The run the panel shows, the same in every panel: ``chosen`` (then shared with the
    others), else the run last chosen in any panel unless a run was stored since (then
    the latest of ``keys``, default every run of the dataset); before any choice, or in a
    panel whose ``keys`` lack the shared run (the map: runs with points), its own. A new run is thus
    shown once stored, until the user picks another. None when there is none. The
    choice is written back to the state."""
    keys = list_runs(ctx.dataset) if keys is None else keys
    latest = max(keys, key=lambda k: ctx.dataset.get_run_info(k).timestamp) if keys else None
    store = ctx.store(SHARED_STORE)
    if chosen in keys:
        store.set("chosen", {"key": chosen, "at": datetime.utcnow().isoformat()})
    shared = store.get("chosen")
    stale = shared is not None and latest is not None and ctx.dataset.get_run_info(latest).timestamp > datetime.fromisoformat(shared["at"])
    if shared is not None and not stale and shared["key"] in keys:
        key = shared["key"]
    elif not stale and ctx.panel.state.key in keys:
        key = ctx.panel.state.key  # nothing chosen yet, or this panel cannot show the shared run
    else:
        key = latest  # a run stored since the choice is the newer choice
    ctx.panel.state.key = key
    return None if key is None else RedundancyRun(ctx.dataset, key)


def new_revision(ctx):
    """Start a load: clear the previous load's data, move to fresh data names, and note
    which runs the dataset has."""
    ctx.panel.data.clear()
    ctx.panel.state.revision = (ctx.panel.state.revision or 0) + 1
    ctx.panel.state.runs_listed = runs_listed(ctx.dataset)


def data_name(ctx, name):
    """The name the current load's ``name`` data (and the property showing it) has."""
    return f"{name}_{ctx.panel.state.revision}"


def set_data(ctx, name, value):
    ctx.panel.data.set(data_name(ctx, name), value)


def cut_preview_markdown(run, cut, preview):
    """What a cut tried in a panel gives (``bridge.review.preview_cut``), beside what the
    run stores, and that nothing is written until the cut is applied."""
    counts = preview["counts"]
    now = run.counts
    shown = ", ".join(f"**{counts[status]:,}** {status}" for status in ("redundant", "influential", "representative"))
    stored = ", ".join(f"{now.get(status, 0):,} {status}" for status in ("redundant", "influential", "representative"))
    return (
        f"**At cut {cut:g}:** {shown} in {preview['groups']:,} groups (the run, cut at "
        f"{run.parameters['threshold']:g}: {stored}). A preview: nothing is written until *Apply this cut*."
    )

