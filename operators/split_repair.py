"""Operator: repair a leaky split into a new split field (``bridge.split_repair``)."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..bridge.methods import SPLIT
from ..bridge.runs import RedundancyRun, list_runs
from ..bridge.samples import classification_fields
from ..bridge.split_repair import output_field_problem, repair_split
from ..bridge.choices import RepairParameters
from .forms import (failures_in_place, parameter_arguments, parameter_inputs, run_choice_input, summary_output, titled,
                    user_arguments)  # fmt: skip

RUN_LABELS = "(the run's)"
"""The label-field choice that leaves it to the API (the run's label field)."""


class RepairSplit(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(
            name="repair_split",
            label="Redundancy: repair a leaky split",
            description="Move every family of copies that spans train and test wholly to one side, into a new split field",
            dynamic=True,
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        keys = run_choice_input(inputs, ctx, label="Train-vs-test run", keys=list_runs(ctx.dataset, SPLIT.name),
                                missing="No train-vs-test run here: run Redundancy: train vs test similarity first")  # fmt: skip
        key = ctx.params.get("key") or (keys[0] if keys else None)
        if key not in keys:
            return titled(inputs, "Repair a leaky split")
        field = inputs.str("output_field", required=True, label="New split field",
                           description="Written with 'train' / 'test'; your split's tags and fields are never changed")  # fmt: skip
        problem = ctx.params.get("output_field") and output_field_problem(ctx.dataset, key, ctx.params["output_field"])
        if problem:
            field.invalid = True
            field.error_message = problem
        run_label = RedundancyRun(ctx.dataset, key).label_field() or "none"
        labels = types.DropdownView()
        labels.add_choice(RUN_LABELS, label=f"{RUN_LABELS[:-1]}: {run_label})")
        for name in classification_fields(ctx.dataset):
            labels.add_choice(name, label=name)
        inputs.enum("label_field", labels.values(), default=RUN_LABELS, label="Classes whose test shares are kept", view=labels)
        within = types.AutocompleteView(multiple=True, allow_user_input=False, allow_duplicates=False)
        for other in list_runs(ctx.dataset):
            if other not in list_runs(ctx.dataset, SPLIT.name):
                within.add_choice(other, label=other)
        inputs.list("within_runs", types.String(), label="Within-set runs whose groups also move whole", view=within)
        parameter_inputs(inputs, ctx, RepairParameters)
        return titled(inputs, "Repair a leaky split")

    @failures_in_place("Repair")
    def execute(self, ctx):
        arguments = {**user_arguments(ctx, ("output_field", "within_runs")), **parameter_arguments(ctx, RepairParameters)}
        if ctx.params.get("label_field") not in (None, RUN_LABELS):
            arguments["label_field"] = ctx.params["label_field"]
        result = repair_split(ctx.dataset, ctx.params["key"], **arguments)
        if not ctx.delegated:
            ctx.ops.reload_dataset()
        return {"field": result.field, "moved": len(result.moved_ids), "summary": summary_markdown(result)}

    def resolve_output(self, ctx):
        return summary_output("Split repaired", ctx)


def summary_markdown(result):
    """The repair in the user's words: families, moves, and a table by class."""
    to_train = sum(row["to_train"] for row in result.by_class)
    to_test = sum(row["to_test"] for row in result.by_class)
    head = (
        f"Run **`{result.key}`**'s split repaired into field **`{result.field}`**: {result.families:,} families of copies "
        f"spanned it; **{len(result.moved_ids):,}** images moved ({to_train:,} to train, {to_test:,} to test)."
    )
    table = "\n".join([
        "| class | to train | to test | test before | test after |",
        "|---|---:|---:|---:|---:|",
        *(f"| {row['class']} | {row['to_train']:,} | {row['to_test']:,} | {row['test_before']:,} | {row['test_after']:,} |"
          for row in result.by_class),
    ])  # fmt: skip
    check = f"Check it: run *train vs test similarity* with the split field `{result.field}`."
    return "\n\n".join([head, table, check])
