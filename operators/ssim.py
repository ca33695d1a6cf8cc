"""Operators: SSIM-spectral analysis and train-vs-test similarity of the target view."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..bridge.samples import MAX_IMAGE_SIDE
from ..bridge.ssim import METHOD, SPLIT_METHOD, compute_split_similarity, compute_ssim_clusters
from ..core.split_similarity import SplitParameters
from ..core.ssim_analysis import SSIMParameters, dense_bytes
from .forms import (
    delegable_config,
    analysis_steps,
    app_wording,
    label_field_input,
    label_field_param,
    pair_score_inputs,
    pair_score_params,
    replace_param,
    run_key_input,
    run_summary_markdown,
    split_summary_markdown,
)


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
        run_key_input(inputs, ctx, "ssim", view, METHOD)

        mode = types.RadioGroup()
        mode.add_choice("auto", label="Automatic (dense when it fits the memory budget)")
        mode.add_choice("dense", label="Dense: SSIM of every pair")
        mode.add_choice("sparse", label="Sparse: SSIM with each image's nearest wavelet neighbours (50,000+ images)")
        inputs.enum("mode", mode.values(), default="auto", label="Similarity", view=mode)
        budget = ctx.params.get("memory_budget_gb", 2.0) or 2.0
        if ctx.params.get("mode") == "dense" and not SSIMParameters(memory_budget_gb=budget).dense_fits(len(view)):
            inputs.view(
                "too_big",
                types.Warning(
                    label=f"Dense SSIM on {len(view)} images needs about "
                    f"{dense_bytes(len(view)) / 2**30:.1f} GiB: choose sparse"
                ),
            )
        inputs.float("memory_budget_gb", default=2.0, min=0.1, label="Memory budget for dense mode (GiB)")

        grouping = types.RadioGroup()
        grouping.add_choice("threshold", label="Threshold: groups whose pair score is at least t")
        grouping.add_choice("spectral", label="Spectral clustering (number of clusters from the eigen-gaps)")
        inputs.enum("grouping", grouping.values(), default="threshold", label="Grouping", view=grouping)
        if ctx.params.get("grouping", "threshold") == "threshold":
            inputs.float("threshold", default=SSIMParameters().threshold, min=0.0, max=1.0, label="Pair-score threshold")
        else:
            inputs.int("n_clusters", label="Number of clusters", description="Leave empty to take it from the Laplacian spectrum")
            rule = types.Dropdown()
            rule.add_choice("largest_gap", label="Largest eigen-gap")
            rule.add_choice("paper", label="Gaps larger than gamma (the paper)")
            inputs.enum("rule", rule.values(), default="largest_gap", label="Eigen-gap rule", view=rule)
            inputs.float("gamma", default=0.4, min=0.0, label="Gamma")
        pair_score_inputs(inputs, ctx, view)
        inputs.bool("skip_failures", default=False, label="Skip unreadable images", description="Leave them out and list them in the run instead of stopping")
        inputs.int("image_size", default=32, min=19, max=MAX_IMAGE_SIDE, label="Image size")
        return types.Property(inputs, view=types.View(label="Find redundant images: SSIM clusters"))

    def execute(self, ctx):
        params = ctx.params

        def work(progress):
            with app_wording():
                return compute_ssim_clusters(
                    ctx.target_view(),
                    label_field=label_field_param(ctx),
                    key=params.get("key", "ssim"),
                    image_size=int(params.get("image_size", 32)),
                    mode=params.get("mode", "auto"),
                    grouping=params.get("grouping", "threshold"),
                    threshold=float(params.get("threshold", SSIMParameters().threshold)),
                    n_clusters=params.get("n_clusters") or None,
                    rule=params.get("rule", "largest_gap"),
                    gamma=float(params.get("gamma", 0.4)),
                    memory_budget_gb=float(params.get("memory_budget_gb", 2.0)),
                    **pair_score_params(ctx),
                    skip_failures=bool(params.get("skip_failures", False)),
                    progress=progress,
                    overwrite=replace_param(ctx),
                )

        yield from analysis_steps(ctx, "SSIM clusters", work, run_summary_markdown, "SSIM clusters done")



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
        tags = sorted(view.distinct("tags"))
        source = types.RadioGroup()
        source.add_choice("tags", label="Sample tags")
        source.add_choice("field", label="A split field")
        inputs.enum("split_source", source.values(), default="tags", label="Splits are given by", view=source)
        if ctx.params.get("split_source", "tags") == "tags":
            choices = types.DropdownView()
            for tag in tags:
                choices.add_choice(tag, label=tag)
            inputs.enum("train", choices.values(), default="train" if "train" in tags else None, required=True, label="Training tag", view=choices)
            inputs.enum("test", choices.values(), default="test" if "test" in tags else None, required=True, label="Test tag", view=choices)
        else:
            inputs.str("split_field", required=True, label="Split field")
            inputs.str("train", default="train", required=True, label="Training value")
            inputs.str("test", default="test", required=True, label="Test value")
        label_field_input(inputs, ctx, view)
        inputs.bool("within_class", default=False, label="Compare within each class only")
        run_key_input(inputs, ctx, "split", view, SPLIT_METHOD)
        inputs.float("threshold", default=SplitParameters().threshold, min=0.0, max=1.0, label="Near-identical pair score")
        inputs.int("n_least_similar", default=10, min=1, label="How many least-similar test samples to flag")
        mode = types.Dropdown()
        mode.add_choice("auto", label="Automatic")
        mode.add_choice("exhaustive", label="Every test image against every training image")
        mode.add_choice("candidates", label="Against each test image's nearest training images (large sets)")
        inputs.enum("mode", mode.values(), default="auto", label="Comparison", view=mode)
        pair_score_inputs(inputs, ctx, view)
        return types.Property(inputs, view=types.View(label="Train vs test similarity"))

    def execute(self, ctx):
        params = ctx.params
        by_field = params.get("split_source", "tags") == "field"

        def work(progress):
            with app_wording():
                return compute_split_similarity(
                    ctx.target_view(),
                    train=params["train"],
                    test=params["test"],
                    split_field=params.get("split_field") if by_field else None,
                    label_field=label_field_param(ctx),
                    within_class=bool(params.get("within_class", False)),
                    key=params.get("key", "split"),
                    threshold=float(params.get("threshold", SplitParameters().threshold)),
                    n_least_similar=int(params.get("n_least_similar", 10)),
                    mode=params.get("mode", "auto"),
                    **pair_score_params(ctx),
                    progress=progress,
                    overwrite=replace_param(ctx),
                )

        yield from analysis_steps(ctx, "Train vs test similarity", work, split_summary_markdown, "Train vs test similarity done")
