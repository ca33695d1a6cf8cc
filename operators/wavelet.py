"""Operator: wavelet-cluster analysis of the target view."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..bridge.analysis import ImageReading
from ..bridge.methods import WAVELET
from ..bridge.wavelet import compute_wavelet_clusters
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
"""The bridge arguments the form asks for beyond the declared parameters (``WAVELET.parameters``
and ``ImageReading``)."""


class ComputeWaveletClusters(foo.Operator):
    @property
    def config(self):
        return delegable_config(
            "compute_wavelet_clusters",
            "Redundancy: wavelet clusters",
            "Group near-duplicate images (wavelet candidates, verified by the pair score); mark redundant and influential samples",
            reports_progress=True,
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        view = ctx.target_view()
        inputs.md(
            f"Analyses **{len(view)}** samples. Each image is resized, normalized and "
            "described by its wavelet coefficients; groups of near-identical images keep "
            "one representative.",
            name="intro",
        )
        label_field_input(inputs, ctx, view)
        run_key_input(inputs, ctx, view, WAVELET)

        if "threshold" in parameter_inputs(inputs, ctx, WAVELET.parameters):  # the pair score groups
            pair_score_inputs(inputs, ctx, view)
        parameter_inputs(inputs, ctx, ImageReading)
        update_folder_input(inputs, ctx)
        scale_out_inputs(inputs, ctx, compute_wavelet_clusters)
        return titled(inputs, "Find redundant images: wavelet clusters")

    def execute(self, ctx):
        arguments = {**user_arguments(ctx, ARGUMENTS), **parameter_arguments(ctx, WAVELET.parameters, ImageReading)}
        if "n_clusters" in arguments:  # the form's float: a count from 1 up, else a fraction
            count = arguments["n_clusters"]
            arguments["n_clusters"] = int(count) if count >= 1 else float(count)
        yield from analysis_run(ctx, compute_wavelet_clusters, {**arguments, **pair_score_params(ctx)}, "Wavelet clusters")

