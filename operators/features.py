"""Operators: feature-map analysis and the decision-boundary probe."""

import os

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..bridge.samples import MAX_IMAGE_SIDE
from ..bridge.features import METHOD, compute_boundary_crossings, compute_feature_clusters, resolve_model
from ..core.features import layer_names
from .forms import (
    delegable_config,
    analysis_steps,
    app_wording,
    label_field_input,
    label_field_param,
    replace_param,
    run_choice_input,
    run_key_input,
    run_summary_markdown,
    summary_output,
)

SOURCES = {
    "file": "A saved model file (torch.save(model) or TorchScript)",
    "torchvision": "A torchvision architecture and its checkpoint (state dict)",
    "zoo": "A FiftyOne zoo model (downloads weights: needs the internet)",
    "field": "Embeddings already on the samples",
}
PROBE_SOURCES = ("file", "torchvision")
"""The probe needs a classifier it can run on interpolated images: a local model."""


def model_inputs(inputs, ctx, with_layer=True, sources=tuple(SOURCES)):
    """Model source inputs (among ``sources``); with a model chosen, a dropdown of its layers."""
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
    if chosen == "torchvision":
        inputs.str("architecture", required=True, label="Architecture", description="e.g. resnet18")
        inputs.int("num_classes", label="Number of classes of the checkpoint")
    inputs.str("model_path", required=chosen == "file", label="Model file" if chosen == "file" else "Checkpoint")
    if not with_layer:
        return
    layers = _layers(ctx.params)
    if layers:
        choices = types.DropdownView()
        for name in layers:
            choices.add_choice(name, label=name)
        inputs.enum("layer", layers, default=layers[-2] if len(layers) > 1 else layers[0], label="Layer", view=choices)
    else:
        inputs.str("layer", label="Layer", description="Choose the model first to list its layers; empty: the model's output")


def _layers(params):
    path = params.get("model_path")
    if not path or not os.path.exists(os.path.expanduser(path)):
        return []
    try:
        model = resolve_model(None, os.path.expanduser(path), params.get("architecture") or None, params.get("num_classes") or None)
    except Exception:
        return []
    return layer_names(model)


def model_arguments(params):
    source = params.get("source", "file")
    if source == "field":
        return {"embeddings_field": params["embeddings_field"]}
    if source == "zoo":
        return {"zoo_model": params["zoo_model"]}
    path = params.get("model_path")
    return {
        "model_path": os.path.expanduser(path) if path else None,
        "architecture": params.get("architecture") if source == "torchvision" else None,
        "num_classes": params.get("num_classes") or None,
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
        view = ctx.target_view()
        model_inputs(inputs, ctx)
        label_field_input(inputs, ctx, view)
        inputs.bool("classwise", default=False, label="Within each class (keeps every class's share)")
        run_key_input(inputs, ctx, "features", view, METHOD)
        reduction = types.Dropdown()
        for name in ("pca", "umap", "none"):
            reduction.add_choice(name, label=name.upper() if name != "none" else "None")
        inputs.enum("reduction", ["pca", "umap", "none"], default="pca", label="Reduction", view=reduction)
        inputs.int("n_reduce", default=50, min=1, label="Dimensions after reduction")
        inputs.float("p_outlier", default=0.01, min=0.0, max=0.99, label="Share marked outlier")
        inputs.float("p_similar", default=0.1, min=0.0, max=0.99, label="Share marked redundant")
        inputs.bool("store_features", default=False, label="Store the reduced features as {key}_embedding",
                    description="The other analyses' pair score can then use them (embeddings field)")
        inputs.int("image_size", default=32, min=8, max=MAX_IMAGE_SIDE, label="Image size fed to the model")
        inputs.int("batch_size", default=64, min=1, label="Batch size")
        inputs.int("num_workers", min=0, label="DataLoader workers", description="Empty: chosen from the CPU count")
        return types.Property(inputs, view=types.View(label="Feature-map clusters"))

    def execute(self, ctx):
        params = ctx.params

        def work(progress):
            with app_wording():
                return compute_feature_clusters(
                    ctx.target_view(),
                    layer=params.get("layer") or None,
                    label_field=label_field_param(ctx),
                    key=params.get("key", "features"),
                    classwise=bool(params.get("classwise", False)),
                    reduction=params.get("reduction", "pca"),
                    n_reduce=int(params.get("n_reduce", 50)),
                    p_outlier=float(params.get("p_outlier", 0.01)),
                    p_similar=float(params.get("p_similar", 0.1)),
                    store_features=bool(params.get("store_features", False)),
                    image_size=int(params.get("image_size", 32)),
                    batch_size=int(params.get("batch_size", 64)),
                    num_workers=params.get("num_workers"),
                    progress=progress,
                    overwrite=replace_param(ctx),
                    **model_arguments(params),
                )

        yield from analysis_steps(ctx, "Feature-map clusters", work, run_summary_markdown, "Feature-map clusters done")



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
        if not run_choice_input(inputs, ctx):
            return types.Property(inputs)
        model_inputs(inputs, ctx, with_layer=False, sources=PROBE_SOURCES)
        inputs.int("steps", default=32, min=2, label="Steps along each path")
        return types.Property(inputs, view=types.View(label="Decision-boundary probe"))

    def execute(self, ctx):
        if ctx.params.get("source", "file") not in PROBE_SOURCES:
            raise ValueError(f"the probe runs a classifier on images: choose its source among {PROBE_SOURCES}")
        arguments = model_arguments(ctx.params)
        counts = compute_boundary_crossings(ctx.dataset, ctx.params["key"], steps=int(ctx.params.get("steps", 32)), **arguments)
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

