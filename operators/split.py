"""Operator: train-vs-test similarity of the target view."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..bridge.analysis import ImageReading
from ..bridge.methods import SPLIT
from ..bridge.split import compute_split_similarity
from .forms import (
    analysis_run,
    api_defaults,
    delegable_config,
    label_field_input,
    pair_score_inputs,
    pair_score_params,
    parameter_arguments,
    parameter_inputs,
    run_key_input,
    scale_out_inputs,
    split_summary_markdown,
    titled,
    update_folder_input,
    user_arguments,
)

ARGUMENTS = ("train", "test", "within_class", "key", "update_folder")
"""The bridge arguments the form asks for beyond the declared parameters (``SPLIT.parameters``
and ``ImageReading``), and ``split_field`` when the splits are a field's values."""


class ComputeSplitSimilarity(foo.Operator):
    @property
    def config(self):
        return delegable_config(
            "compute_split_similarity",
            "Redundancy: train vs test similarity",
            "Find test images with a near-identical training image, and test images far from all training images",
            reports_progress=True,
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        view = ctx.target_view()
        defaults = api_defaults(compute_split_similarity)
        tags = sorted(view.distinct("tags"))
        source = types.RadioGroup()
        source.add_choice("tags", label="Sample tags")
        source.add_choice("field", label="A split field")
        inputs.enum("split_source", source.values(), default="tags", label="Splits are given by", view=source)
        if ctx.params.get("split_source", "tags") == "tags":
            choices = types.DropdownView()
            for tag in tags:
                choices.add_choice(tag, label=tag)
            for split, label in (("train", "Training tag"), ("test", "Test tag")):
                default = defaults[split] if defaults[split] in tags else None
                inputs.enum(split, choices.values(), default=default, required=True, label=label, view=choices)
        else:
            inputs.str("split_field", required=True, label="Split field")
            inputs.str("train", default=defaults["train"], required=True, label="Training value")
            inputs.str("test", default=defaults["test"], required=True, label="Test value")
        label_field_input(inputs, ctx, view)
        inputs.bool("within_class", default=defaults["within_class"], label="Compare within each class only")
        run_key_input(inputs, ctx, view, SPLIT)
        parameter_inputs(inputs, ctx, SPLIT.parameters)
        pair_score_inputs(inputs, ctx, view)
        parameter_inputs(inputs, ctx, ImageReading)
        update_folder_input(inputs, ctx)
        scale_out_inputs(inputs, ctx, compute_split_similarity)
        return titled(inputs, "Train vs test similarity")

    def execute(self, ctx):
        by_field = ctx.params.get("split_source", "tags") == "field"
        arguments = {**user_arguments(ctx, ARGUMENTS + (("split_field",) if by_field else ())),
                     **parameter_arguments(ctx, SPLIT.parameters, ImageReading)}  # fmt: skip
        yield from analysis_run(ctx, compute_split_similarity, {**arguments, **pair_score_params(ctx)},
                                "Train vs test similarity", split_summary_markdown)  # fmt: skip
