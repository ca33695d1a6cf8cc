"""Operator: delete a stored redundancy run and the fields it wrote."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..bridge.runs import delete_run
from .forms import run_choice_input


class DeleteRedundancyRun(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(
            name="delete_redundancy_run",
            label="Redundancy: delete a run",
            description="Delete a stored redundancy run and the fields it wrote",
            dynamic=True,
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        if not run_choice_input(inputs, ctx):
            return types.Property(inputs)
        inputs.view(
            "warning",
            types.Warning(label="The run's fields ({key}_status, ...) are removed from every sample"),
        )
        return types.Property(inputs, view=types.View(label="Delete a redundancy run"))

    def execute(self, ctx):
        key = ctx.params["key"]
        delete_run(ctx.dataset, key)
        ctx.ops.reload_dataset()
        return {"deleted": key}
