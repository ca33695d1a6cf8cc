"""Operator: wavelet-cluster analysis of the target view."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..bridge.methods import WAVELET
from ..bridge.samples import MAX_IMAGE_SIDE, MIN_IMAGE_SIDE
from ..bridge.wavelet import compute_wavelet_clusters
from ..bridge.choices import COLORS, NORMALIZATIONS, WAVELET_GROUPINGS
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

ARGUMENTS = ("key", "image_size", "color", "wavelet", "level", "approximation_only", "normalization", "tau",
             "grouping", "threshold", "radius", "n_clusters", "skip_failures", "update_folder")  # fmt: skip
"""The bridge arguments the form asks for."""


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

        defaults = api_defaults(compute_wavelet_clusters)
        choice_input(inputs, "grouping", WAVELET_GROUPINGS, defaults["grouping"], "Grouping", radio=True)
        chosen = ctx.params.get("grouping", defaults["grouping"])
        if chosen == "score":
            inputs.float(
                "threshold",
                default=defaults["threshold"],
                min=0.0,
                max=1.0,
                label="Pair-score threshold",
                description="Group images whose pair score with every other member reaches this (1: identical; lower finds heavier edits and more look-alikes)",
            )
            pair_score_inputs(inputs, ctx, view)
        elif chosen == "distance":
            declared_input(inputs, WAVELET.parameters, "radius")
        else:
            declared_input(inputs, WAVELET.parameters, "n_clusters")

        skip_failures_input(inputs, defaults)
        inputs.int("image_size", default=defaults["image_size"], min=MIN_IMAGE_SIDE, max=MAX_IMAGE_SIDE, label="Image size", description="Images are resized to this square size")
        choice_input(inputs, "color", COLORS, defaults["color"], "Colour mode")
        choice_input(inputs, "normalization", NORMALIZATIONS, defaults["normalization"], "Per-image normalization")
        inputs.str("wavelet", default=defaults["wavelet"], label="Wavelet", description="A PyWavelets family: db1 (Haar), db2, sym4, coif1, ...")
        declared_input(inputs, WAVELET.parameters, "level")
        inputs.bool("approximation_only", default=defaults["approximation_only"], label="Approximation coefficients only", description="Coarse coefficients only: tolerant of small shifts, crops and re-encoding")
        declared_input(inputs, WAVELET.parameters, "tau")
        update_folder_input(inputs, ctx)
        scale_out_inputs(inputs, ctx, compute_wavelet_clusters)
        return titled(inputs, "Find redundant images: wavelet clusters")

    def execute(self, ctx):
        arguments = user_arguments(ctx, ARGUMENTS)
        if "n_clusters" in arguments:  # the form's float: a count from 1 up, else a fraction
            count = arguments["n_clusters"]
            arguments["n_clusters"] = int(count) if count >= 1 else float(count)
        yield from analysis_run(ctx, compute_wavelet_clusters, {**arguments, **pair_score_params(ctx)}, "Wavelet clusters")

