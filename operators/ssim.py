"""Operator: SSIM-spectral analysis of the target view."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..bridge.analysis import ImageReading
from ..bridge.methods import SSIM
from ..bridge.ssim import compute_ssim_clusters
from ..bridge.choices import SSIMParameters, dense_bytes
from .forms import (
    analysis_run,
    delegable_config,
    label_field_input,
    pair_score_inputs,
    pair_score_params,
    parameter_arguments,
    parameter_inputs,
    run_key_input,
    scale_out_inputs,
    titled,
    update_folder_input,
    user_arguments,
)

ARGUMENTS = ("key", "update_folder")
"""The bridge arguments the form asks for beyond the declared parameters (``SSIM.parameters``
and ``ImageReading``)."""
SMALLEST_SIDE = 19
"""The smallest image the aligned pair score compares at its default shift (its 11-pixel
window moved 4 pixels either way)."""


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
        label_field_input(inputs, ctx, view)
        run_key_input(inputs, ctx, view, SSIM)
        budget = ctx.params.get("memory_budget_gb") or SSIMParameters.memory_budget_gb
        if ctx.params.get("mode") == "dense" and not SSIMParameters(memory_budget_gb=budget).dense_fits(len(view)):
            inputs.view(
                "too_big",
                types.Warning(
                    label=f"Dense SSIM on {len(view)} images needs about "
                    f"{dense_bytes(len(view)) / 2**30:.1f} GiB: choose sparse"
                ),
            )
        parameter_inputs(inputs, ctx, SSIM.parameters)
        pair_score_inputs(inputs, ctx, view)
        parameter_inputs(inputs, ctx, ImageReading, leave_out=("color",), options={"image_size": {"min": SMALLEST_SIDE}})
        update_folder_input(inputs, ctx)
        scale_out_inputs(inputs, ctx, compute_ssim_clusters)
        return titled(inputs, "Find redundant images: SSIM clusters")

    def execute(self, ctx):
        arguments = {**user_arguments(ctx, ARGUMENTS), **parameter_arguments(ctx, SSIM.parameters, ImageReading)}
        yield from analysis_run(ctx, compute_ssim_clusters, {**arguments, **pair_score_params(ctx)}, "SSIM clusters")
