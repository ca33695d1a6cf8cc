"""Stand-ins for the runs operators of FiftyOne's plugins (``@voxel51/runs``): their
``execute`` is the dataset's own ``rename_run`` / ``delete_run``, as theirs is, run in the
operator machinery of the process that loaded the plugins."""

import fiftyone.operators as foo


class RenameRun(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(name="rename_run", label="Rename run")

    def execute(self, ctx):
        ctx.dataset.rename_run(ctx.params["run_key"], ctx.params["new_run_key"])


class DeleteRun(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(name="delete_run", label="Delete run")

    def execute(self, ctx):
        ctx.dataset.delete_run(ctx.params["run_key"])


def register(plugin):
    plugin.register(RenameRun)
    plugin.register(DeleteRun)
