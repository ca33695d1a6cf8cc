"""Operator: estimate what a curation costs in test accuracy (``curation_cost``)."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..bridge.curation import COMBINE
from ..bridge.curation_cost import curation_cost
from ..bridge.choices import BUDGETS
from .curation import runs_input
from .features import features_missing
from .forms import (
    CANCEL_HINT,
    api_defaults,
    choice_input,
    delegable_config,
    label_field_input,
    label_field_param,
    progress_reporter,
    summary_output,
    titled,
    user_arguments,
)

BUDGET_WORDS = {"cpu": "CPU: a narrow net at 16 px, 8 epochs (minutes)", "gpu": "GPU: the full-size net at 32 px, 10 epochs"}


class EstimateCurationCost(foo.Operator):
    @property
    def config(self):
        # trainings take minutes to hours: a worker runs them by default, and its result
        # (the table) stays on the runs page; run now, it reports in the server's log only
        return delegable_config(
            "estimate_curation_cost",
            "Redundancy: estimate the cost of a curation",
            "Train a small network on the full and on the curated view; compare their test accuracy",
            delegated_by_default=True,
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        if features_missing(inputs, "the curation cost") or not runs_input(inputs, ctx):
            return titled(inputs, "Estimate the cost of a curation")
        defaults = api_defaults(curation_cost)
        label_field_input(inputs, ctx, ctx.target_view(), description="Each sample's class: the network learns it")
        choice_input(inputs, "combine", COMBINE, defaults["combine"], "Several runs", radio=True)
        choice_input(inputs, "budget", {name: BUDGET_WORDS[name] for name in BUDGETS}, defaults["budget"], "Budget")
        inputs.int("n_seeds", default=len(defaults["seeds"]), min=1, label="Trainings per set (seeds)")
        inputs.float("test_fraction", default=defaults["test_fraction"], min=0.01, max=0.9,
                     label="Share of each class held out as the test set")  # fmt: skip
        inputs.view("cancel", types.Notice(label=f"Runs hold the chosen runs while training; {CANCEL_HINT}."))
        return titled(inputs, "Estimate the cost of a curation")

    def execute(self, ctx):
        arguments = user_arguments(ctx, ["budget", "combine", "test_fraction"])
        report = progress_reporter(lambda text, fraction: ctx.set_progress(progress=fraction, label=text), "Curation cost")
        cost = curation_cost(
            ctx.target_view(), ctx.params["keys"], label_field_param(ctx), seeds=list(range(ctx.params.get("n_seeds") or len(api_defaults(curation_cost)["seeds"]))),
            progress=report, **arguments,
        )  # fmt: skip
        return {**cost.as_dict(), "summary": f"{cost.summary()}\n\n{cost.table()}"}

    def resolve_output(self, ctx):
        return summary_output("Curation cost", ctx)
