"""The plugin's runs as FiftyOne's own run tools see them.

FiftyOne deletes and renames a run (``dataset.delete_run``, ``dataset.rename_run``, and
the runs operators that call them) through the run class its config names: it calls the
class's ``cleanup`` before deleting the run record and ``rename`` before moving it to the
new key. A run of this plugin is stored with ``AnalysisRunConfig``, whose ``AnalysisRun``
hooks do what ``fr.delete_run`` and ``fr.rename_run`` do, under the same leases: the
run's fields, review view and reviews go, or follow the run to its new key.

FiftyOne finds the class by the path stored in the config (``cls``), which is always
``CLASS_PATH``, whatever name this module was imported under: the installed package's,
or the one FiftyOne's plugin loader gives a downloaded plugin folder
(``fiftyone.plugins.orgs...``), for which ``make_importable`` lets that path resolve in
every process that loaded the plugin. In a Python where neither is importable FiftyOne
logs that it falls back to its base ``RunConfig``: the run still loads, as runs of
earlier versions (stored with the base class) do, but deleting or renaming it there
leaves its fields as they are.
"""

import importlib.util
import sys

import fiftyone.core.runs as fors

PACKAGE = "fiftyone_redundancy"
CLASS_PATH = f"{PACKAGE}.bridge.run_hooks.AnalysisRunConfig"
"""Where FiftyOne finds the config class of this plugin's runs, as stored in each run."""


class AnalysisRunConfig(fors.RunConfig):
    """A ``RunConfig`` (the analysis' parameters, and its ``method``) whose run class holds
    the plugin's delete and rename hooks."""

    @property
    def cls(self):
        return CLASS_PATH

    @property
    def run_cls(self):
        return AnalysisRun


class AnalysisRun(fors.Run):
    """What FiftyOne calls when it deletes or renames a run of this plugin."""

    def get_fields(self, samples, key):
        from .runs.contract import _owned_fields

        return _owned_fields(samples._root_dataset, key)

    def cleanup(self, samples, key):
        """Before FiftyOne deletes the record: ``fr.delete_run`` (it deletes the record too,
        with the fields, review view and reviews; FiftyOne's own deletion then finds it gone)."""
        from .runs import delete_run

        delete_run(samples._root_dataset, key)

    def rename(self, samples, key, new_key):
        """Before FiftyOne moves the record to ``new_key``: the fields, review view and
        reviews follow, and the record names them (``runs.rename_in_place``)."""
        from .runs import rename_in_place

        rename_in_place(samples._root_dataset, key, new_key)


def make_importable(plugin_module):
    """Let ``CLASS_PATH`` resolve in this process when FiftyOne's plugin loader imported
    the plugin (``plugin_module``) under a name of its own and no ``fiftyone_redundancy``
    package is installed: the package and this module's names point at the loaded ones."""
    if plugin_module.__name__ == PACKAGE or importlib.util.find_spec(PACKAGE) is not None:
        return
    own = sys.modules[__name__]
    sys.modules.setdefault(PACKAGE, plugin_module)
    sys.modules.setdefault(f"{PACKAGE}.bridge", sys.modules[own.__package__])
    sys.modules.setdefault(f"{PACKAGE}.bridge.run_hooks", own)
