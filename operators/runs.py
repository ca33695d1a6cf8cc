"""Operators: delete a stored redundancy run and the fields it wrote; cancel one that is running."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..bridge.runs import RedundancyRun, delete_run, cancel_run, runs_in_progress
from .forms import describe_run, run_choice_input, runs_newest_first, summary_output, titled


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
            return titled(inputs, "Delete a redundancy run")
        keys = runs_newest_first(ctx.dataset)
        key = ctx.params.get("key") or keys[0]  # the dropdown's default before the first change
        if key not in keys:
            return titled(inputs, "Delete a redundancy run")  # the dropdown flags it
        run = RedundancyRun(ctx.dataset, key)
        inputs.view("warning", types.Warning(
            label=f"Run {run.key!r} is {describe_run(run)}. Deleting it removes its fields "
            f"({', '.join(run.fields)}) from every sample and its saved view {run.key}-review."))  # fmt: skip
        typed = inputs.str("confirm_key", required=True, label=f"Type {run.key} to confirm")
        if ctx.params.get("confirm_key") not in (None, run.key):
            typed.invalid = True
            typed.error_message = f"Type the run key {run.key} exactly"
        return titled(inputs, "Delete a redundancy run")

    def execute(self, ctx):
        key = ctx.params["key"]
        if ctx.params.get("confirm_key") != key:
            raise ValueError(f"type the run key {key} in the confirmation box to delete it")
        fields = RedundancyRun(ctx.dataset, key).fields
        untagged = delete_run(ctx.dataset, key)
        ctx.ops.reload_dataset()
        summary = f"Deleted run `{key}` and its fields ({', '.join(fields)}). The samples themselves are unchanged."
        if untagged:
            summary += " Took back the review tags its reviews added: " + ", ".join(
                f"`{tag}` from {count:,} sample{'' if count == 1 else 's'}" for tag, count in untagged.items()
            ) + "."
        return {"deleted": key, "summary": summary}

    def resolve_output(self, ctx):
        return summary_output("Run deleted")


class CancelRedundancyRun(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(
            name="cancel_redundancy_run",
            label="Redundancy: cancel a running analysis",
            description="Stop an analysis that is running on this dataset; the dataset stays as it was",
            dynamic=True,
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        running = runs_in_progress(ctx.dataset)
        if not running:
            inputs.view("none", types.Notice(label="No redundancy analysis is running on this dataset now."))
            return titled(inputs, "Cancel a running analysis")
        choices = types.Choices()
        for key, lease in sorted(running.items(), key=lambda item: item[1]["since"], reverse=True):
            owner = lease["owner"]
            choices.add_choice(key, label=key, description=f"started {lease['since']:%Y-%m-%d %H:%M:%S} UTC by process {owner['pid']} on {owner['host']}")
        inputs.enum("key", choices.values(), required=True, default=choices.values()[0], label="Run", view=choices)
        inputs.view("note", types.Notice(label="It stops at its next progress step; the fields and the run it was "
                                               "going to replace are left as they were."))  # fmt: skip
        return titled(inputs, "Cancel a running analysis")

    def execute(self, ctx):
        key = ctx.params.get("key")
        if key is None:
            return {"key": None, "summary": "No redundancy analysis is running on this dataset: nothing to stop."}
        if cancel_run(ctx.dataset, key, by="the App"):
            summary = f"Asked run `{key}` to stop. It stops at its next progress step and changes nothing."
        else:
            summary = f"Run `{key}` is not running any more (it finished, failed or was cancelled); nothing to stop."
        return {"key": key, "summary": summary}

    def resolve_output(self, ctx):
        return summary_output("Cancel requested")
