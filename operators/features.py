"""Operators: feature-map analysis and the decision-boundary probe.

Neither form loads a model: ``resolve_input`` runs on every edit of the form, and loading
a checkpoint (unpickling a whole model, or building an architecture and reading its
weights) takes seconds and runs the file's code. The layer is a name typed by the user,
checked when the analysis runs: an unknown layer is refused with the model's layer names.
"""

import os

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..bridge.analysis import ImageReading
from ..bridge.features import compute_boundary_crossings, compute_feature_clusters
from ..bridge.methods import FEATURES
from ..bridge.samples import MAX_IMAGE_SIDE
from ..bridge.choices import ExtractionParameters, require_features
from .forms import (
    analysis_run,
    api_defaults,
    delegable_config,
    label_field_input,
    parameter_arguments,
    parameter_inputs,
    run_choice_input,
    run_key_input,
    scale_out_inputs,
    summary_output,
    titled,
    user_arguments,
)

SOURCES = {
    "file": "A saved model file (torch.save(model) or TorchScript)",
    "torchvision": "A torchvision architecture and its checkpoint (state dict)",
    "zoo": "A FiftyOne zoo model (downloads weights: needs the internet)",
    "field": "Embeddings already on the samples",
}
PROBE_SOURCES = ("file", "torchvision")
"""The probe needs a classifier it can run on interpolated images: a local model."""
ARGUMENTS = ("layer", "key", "store_features", "image_size")
"""The bridge arguments the feature form asks for, beyond the model's source and the
declared parameters (``FEATURES.parameters``, ``ExtractionParameters``)."""


def model_inputs(inputs, ctx, with_layer=True, sources=tuple(SOURCES)):
    """Model source inputs (among ``sources``); with ``with_layer``, the layer's name."""
    source = types.RadioGroup()
    for name in sources:
        source.add_choice(name, label=SOURCES[name])
    chosen = ctx.params.get("source", "file")
    inputs.enum("source", list(sources), default="file", label="Features from" if with_layer else "Classifier", view=source)
    if chosen == "field":
        inputs.str("embeddings_field", required=True, label="Embeddings field")
        return
    if chosen == "zoo":
        inputs.str("zoo_model", required=True, label="Zoo model name")
        return
    random = chosen == "torchvision" and with_layer and bool(ctx.params.get("random_weights"))
    if chosen == "torchvision":
        inputs.str("architecture", required=True, label="Architecture", description="e.g. resnet18")
        inputs.int("num_classes", label="Number of classes of the checkpoint")
    inputs.str("model_path", required=not random, label="Model file" if chosen == "file" else "Checkpoint")
    if chosen == "file":
        inputs.bool(
            "trust_model_file", default=api_defaults(compute_feature_clusters)["trust_model_file"],
            label="Trust this file: load a pickled model (torch.save(model))",
            description="Unpickling runs any code the file carries: tick only for a file you or someone you "
            "trust wrote. TorchScript files need no trust",
        )  # fmt: skip
        if ctx.params.get("trust_model_file") is True:
            inputs.view("trust_warning", types.Warning(
                label="This file's code will run on the server",
                description=f"{ctx.params.get('model_path') or 'The model file'} is unpickled with the server's rights",
            ))  # fmt: skip
    if chosen == "torchvision" and with_layer:
        inputs.bool("random_weights", default=api_defaults(compute_feature_clusters)["random_weights"], label="No checkpoint: random weights",
                    description="Untrained weights place images by chance, so the groups and outliers "
                    "mean nothing about the data: only as a baseline to compare a trained model with")  # fmt: skip
    if with_layer:
        inputs.str(
            "layer",
            label="Layer",
            description="The name of the layer whose output is used, as in model.named_modules() (e.g. "
            "avgpool or layer4.1); empty: the model's output. An unknown name is refused with the model's layers",
        )


def features_missing(inputs, what):
    """Where the ``[features]`` extra is incomplete, a notice in place of the form that
    names what is missing and how to install it (the form cannot run); else False."""
    try:
        require_features(what)
    except ImportError as error:
        notice = inputs.view("features_missing", types.Warning(label="Needs the [features] extra", description=str(error)))
        notice.invalid = True
        return True
    return False


def model_arguments(params):
    source = params.get("source", "file")
    if source == "field":
        return {"embeddings_field": params["embeddings_field"]}
    if source == "zoo":
        return {"zoo_model": params["zoo_model"]}
    path = params.get("model_path")
    return {
        "trust_model_file": source == "file" and params.get("trust_model_file") is True,
        "model_path": os.path.expanduser(path) if path else None,
        "architecture": params.get("architecture") if source == "torchvision" else None,
        "num_classes": params.get("num_classes") or None,
        **({"random_weights": True} if source == "torchvision" and params.get("random_weights") else {}),
    }


class ComputeFeatureClusters(foo.Operator):
    @property
    def config(self):
        return delegable_config(
            "compute_feature_clusters",
            "Redundancy: feature-map clusters",
            "Outliers and semantically similar images in a trained model's feature space",
            reports_progress=True,
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        if features_missing(inputs, "feature maps"):
            return titled(inputs, "Feature-map clusters")
        view = ctx.target_view()
        defaults = api_defaults(compute_feature_clusters)
        model_inputs(inputs, ctx)
        label_field_input(inputs, ctx, view)
        run_key_input(inputs, ctx, view, FEATURES)
        parameter_inputs(inputs, ctx, FEATURES.parameters)
        inputs.bool("store_features", default=defaults["store_features"], label="Store the reduced features as {key}_embedding",
                    description="The other analyses' pair score can then use them (embeddings field)")
        parameter_inputs(inputs, ctx, ImageReading, leave_out=("image_size", "color"))  # the model's size and RGB below
        inputs.int("image_size", default=defaults["image_size"], min=8, max=MAX_IMAGE_SIDE, label="Image size fed to the model")
        parameter_inputs(inputs, ctx, ExtractionParameters)
        scale_out_inputs(inputs, ctx, compute_feature_clusters)
        return titled(inputs, "Feature-map clusters")

    def execute(self, ctx):
        arguments = {**user_arguments(ctx, ARGUMENTS), **parameter_arguments(ctx, FEATURES.parameters, ExtractionParameters, ImageReading)}
        yield from analysis_run(ctx, compute_feature_clusters, {**arguments, **model_arguments(ctx.params)}, "Feature-map clusters")



class ComputeBoundaryCrossings(foo.Operator):
    @property
    def config(self):
        return delegable_config(
            "compute_boundary_crossings",
            "Redundancy: decision-boundary probe",
            "Count class changes between each redundant sample and its representative",
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        if features_missing(inputs, "the decision-boundary probe") or not run_choice_input(inputs, ctx):
            return titled(inputs, "Decision-boundary probe")
        model_inputs(inputs, ctx, with_layer=False, sources=PROBE_SOURCES)
        inputs.int("steps", default=api_defaults(compute_boundary_crossings)["steps"], min=2, label="Steps along each path")
        return titled(inputs, "Decision-boundary probe")

    def execute(self, ctx):
        if ctx.params.get("source", "file") not in PROBE_SOURCES:
            raise ValueError(f"the probe runs a classifier on images: choose its source among {PROBE_SOURCES}")
        arguments = {**model_arguments(ctx.params), **user_arguments(ctx, ["steps"])}
        counts = compute_boundary_crossings(ctx.dataset, ctx.params["key"], **arguments)
        if not ctx.delegated:
            ctx.ops.reload_dataset()
        key = ctx.params["key"]
        crossing = sum(1 for count in counts.values() if count > 0)
        summary = (
            f"Probed **{len(counts):,}** redundant samples of run `{key}` against their representatives: "
            f"for **{crossing:,}** the model's prediction changes along the way (a decision boundary runs "
            f"between them). Each sample's count is in the field `{key}_crossings`; sort or filter the grid by it."
        )
        return {"pairs": len(counts), "pairs_crossing": crossing, "summary": summary}

    def resolve_output(self, ctx):
        return summary_output("Decision-boundary probe done")

