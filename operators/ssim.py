"""Operator: SSIM-spectral analysis of the target view."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..bridge.methods import SSIM
from ..bridge.samples import MAX_IMAGE_SIDE
from ..bridge.ssim import compute_ssim_clusters
from ..bridge.choices import RULES, SSIM_GROUPINGS, SSIM_MODES, SSIMParameters, dense_bytes
from .forms import (
    analysis_run,
    api_defaults,
    choice_input,
    declared_input,
    delegable_config,
    label_field_input,
    pair_score_inputs,
    pair_score_params,
    run_key_input,
    scale_out_inputs,
    skip_failures_input,
    titled,
    update_folder_input,
    user_arguments,
)

ARGUMENTS = ("key", "image_size", "mode", "grouping", "threshold", "n_clusters", "rule", "gamma",
             "memory_budget_gb", "skip_failures", "update_folder")  # fmt: skip
"""The bridge arguments the form asks for."""


class ComputeSSIMClusters(foo.Operator):
    @property
    def config(self):
        return delegable_config(
            "compute_ssim_clusters",
            "Redundancy: SSIM clusters",
            "Group structurally similar images by SSIM (spectral or threshold); mark redundant and influential samples",
            reports_progress=True,
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        view = ctx.target_view()
        defaults = api_defaults(compute_ssim_clusters)
        label_field_input(inputs, ctx, view)
        run_key_input(inputs, ctx, view, SSIM)

        choice_input(inputs, "mode", SSIM_MODES, defaults["mode"], "Similarity", radio=True)
        budget = ctx.params.get("memory_budget_gb") or defaults["memory_budget_gb"]
        if ctx.params.get("mode") == "dense" and not SSIMParameters(memory_budget_gb=budget).dense_fits(len(view)):
            inputs.view(
                "too_big",
                types.Warning(
                    label=f"Dense SSIM on {len(view)} images needs about "
                    f"{dense_bytes(len(view)) / 2**30:.1f} GiB: choose sparse"
                ),
            )
        declared_input(inputs, SSIM.parameters, "memory_budget_gb")

        choice_input(inputs, "grouping", SSIM_GROUPINGS, defaults["grouping"], "Grouping", radio=True)
        if ctx.params.get("grouping", defaults["grouping"]) == "threshold":
            inputs.float("threshold", default=defaults["threshold"], min=0.0, max=1.0, label="Pair-score threshold")
        else:
            declared_input(inputs, SSIM.parameters, "n_clusters")
            choice_input(inputs, "rule", RULES, defaults["rule"], "Eigen-gap rule")
            declared_input(inputs, SSIM.parameters, "gamma")
        pair_score_inputs(inputs, ctx, view)
        skip_failures_input(inputs, defaults)
        inputs.int("image_size", default=defaults["image_size"], min=19, max=MAX_IMAGE_SIDE, label="Image size")
        update_folder_input(inputs, ctx)
        scale_out_inputs(inputs, ctx, compute_ssim_clusters)
        return titled(inputs, "Find redundant images: SSIM clusters")

    def execute(self, ctx):
        arguments = user_arguments(ctx, ARGUMENTS)
        yield from analysis_run(ctx, compute_ssim_clusters, {**arguments, **pair_score_params(ctx)}, "SSIM clusters")
