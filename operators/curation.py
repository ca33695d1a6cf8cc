"""Operators: tag for review, untag, override a representative, export, delete."""

import os

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..bridge.curation import (
    COMBINE,
    EXCLUDED_STATUSES,
    EXPORT_FORMATS,
    TAGGED_STATUSES,
    delete_excluded,
    excluded_view,
    export_curated,
    set_representative,
    tag_preview,
    tag_samples,
    untag_samples,
)
from ..bridge.runs import list_runs
from .forms import (
    delegable_config,
    label_field_input,
    label_field_param,
    progress_reporter,
    run_choice_input,
)


def runs_input(inputs, ctx, name="keys", label="Runs"):
    """Multi-select of the dataset's redundancy runs; False when there are none."""
    keys = list_runs(ctx.dataset)
    if not keys:
        return run_choice_input(inputs, ctx)  # says there are none
    choices = types.AutocompleteView(multiple=True)
    for key in keys:
        choices.add_choice(key, label=key)
    inputs.list(name, types.String(), default=keys[:1], required=True, label=label, view=choices)
    return True


def chosen_keys(ctx):
    """The runs chosen in the form so far (the first run before any choice)."""
    return ctx.params.get("keys") or list_runs(ctx.dataset)[:1]


def statuses_input(inputs, defaults, label):
    for status in ("redundant", "influential", "outlier", "representative"):
        inputs.bool(f"use_{status}", default=status in defaults, label=f"{label}: {status}")


def chosen_statuses(params, defaults):
    return [s for s in ("redundant", "influential", "outlier", "representative") if params.get(f"use_{s}", s in defaults)]


class _TagOperator(foo.Operator):
    tagging = True

    def resolve_input(self, ctx):
        inputs = types.Object()
        if not runs_input(inputs, ctx):
            return types.Property(inputs)
        statuses_input(inputs, TAGGED_STATUSES, "Tag")
        tag_names = {}
        for status in chosen_statuses(ctx.params, TAGGED_STATUSES):
            inputs.str(f"tag_{status}", default=status, label=f"Tag name for {status}")
            tag_names[status] = ctx.params.get(f"tag_{status}") or status
        keys = chosen_keys(ctx)
        preview = tag_preview(ctx.dataset, keys, chosen_statuses(ctx.params, TAGGED_STATUSES), tag_names)
        verb = "tag" if self.tagging else "untag"
        lines = ", ".join(f"**{count}** samples as `{tag}`" for tag, count in preview.items()) or "nothing"
        inputs.md(f"This will {verb} {lines}. Existing tags are never removed by tagging.", name="preview")
        return types.Property(inputs)

    def execute(self, ctx):
        statuses = chosen_statuses(ctx.params, TAGGED_STATUSES)
        tag_names = {status: ctx.params.get(f"tag_{status}") or status for status in statuses}
        action = tag_samples if self.tagging else untag_samples
        counts = action(ctx.dataset, ctx.params["keys"], statuses, tag_names)
        ctx.ops.reload_dataset()
        return {"counts": counts}


class TagRedundancy(_TagOperator):
    @property
    def config(self):
        return foo.OperatorConfig(
            name="tag_redundancy",
            label="Redundancy: tag for review",
            description="Tag the samples runs mark as redundant, influential or outlier",
            dynamic=True,
        )


class UntagRedundancy(_TagOperator):
    tagging = False

    @property
    def config(self):
        return foo.OperatorConfig(
            name="untag_redundancy",
            label="Redundancy: remove review tags",
            description="Remove the tags that 'tag for review' adds",
            dynamic=True,
        )


class SetRepresentative(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(
            name="set_representative",
            label="Redundancy: keep this sample instead",
            description="Make the selected sample its group's representative",
            dynamic=True,
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        if len(ctx.selected) != 1:
            inputs.view("select_one", types.Warning(label="Select exactly one sample in the grid"))
            return types.Property(inputs)
        run_choice_input(inputs, ctx)
        return types.Property(inputs)

    def execute(self, ctx):
        if len(ctx.selected) != 1:
            raise ValueError("select exactly one sample")
        set_representative(ctx.dataset, ctx.params["key"], ctx.selected[0])
        ctx.ops.reload_dataset()
        return {"representative": ctx.selected[0]}


class ExportCurated(foo.Operator):
    @property
    def config(self):
        return delegable_config(
            "export_curated",
            "Redundancy: export the curated set",
            "Export the samples to train on, with a manifest of those left out",
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        if not runs_input(inputs, ctx):
            return types.Property(inputs)
        combine = types.RadioGroup()
        combine.add_choice("union", label="Drop what any run marks")
        combine.add_choice("intersection", label="Drop only what every run marks")
        inputs.enum("combine", list(COMBINE), default="union", label="Several runs", view=combine)
        statuses_input(inputs, EXCLUDED_STATUSES, "Drop")
        formats = types.Dropdown()
        for name in EXPORT_FORMATS:
            formats.add_choice(name, label=name)
        inputs.enum("dataset_type", list(EXPORT_FORMATS), default="FiftyOneDataset", label="Format", view=formats)
        label_field_input(inputs, ctx, ctx.dataset)
        inputs.str("export_dir", required=True, label="Export directory")
        inputs.bool("overwrite", default=False, label="Empty the directory first if it holds files")
        inputs.str("new_dataset", label="Also as a new dataset named (optional)")
        inputs.str("saved_view", label="Also as a saved view named (optional)")
        keys = chosen_keys(ctx)
        dropped = len(excluded_view(ctx.dataset, keys, chosen_statuses(ctx.params, EXCLUDED_STATUSES), ctx.params.get("combine", "union")))
        inputs.md(f"Keeps **{len(ctx.dataset) - dropped}** samples and lists **{dropped}** in `excluded.csv`.", name="preview")
        return types.Property(inputs)

    def execute(self, ctx):
        params = ctx.params
        label_field = label_field_param(ctx)
        summary = export_curated(
            ctx.dataset,
            params["keys"],
            os.path.expanduser(params["export_dir"]),
            params.get("dataset_type", "FiftyOneDataset"),
            label_field=label_field,
            exclude=chosen_statuses(params, EXCLUDED_STATUSES),
            combine=params.get("combine", "union"),
            new_dataset=params.get("new_dataset") or None,
            saved_view=params.get("saved_view") or None,
            overwrite=bool(params.get("overwrite", False)),
            progress=progress_reporter(ctx, "Exporting"),
        )
        return summary


class DeleteExcluded(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(
            name="delete_excluded",
            label="Redundancy: delete excluded samples",
            description="Delete the samples runs exclude from the dataset, after writing their manifest",
            dynamic=True,
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        if not runs_input(inputs, ctx):
            return types.Property(inputs)
        statuses_input(inputs, EXCLUDED_STATUSES, "Delete")
        keys = chosen_keys(ctx)
        count = len(excluded_view(ctx.dataset, keys, chosen_statuses(ctx.params, EXCLUDED_STATUSES)))
        inputs.str("manifest_path", required=True, label="Write the manifest of deleted samples to (CSV)")
        inputs.view("danger", types.Warning(label=f"This permanently deletes {count} samples from dataset {ctx.dataset.name!r}"))
        inputs.bool("confirm", default=False, required=True, label=f"Yes, delete {count} samples")
        return types.Property(inputs)

    def execute(self, ctx):
        deleted = delete_excluded(
            ctx.dataset,
            ctx.params["keys"],
            os.path.expanduser(ctx.params["manifest_path"]),
            confirm=ctx.params.get("confirm") is True,
            exclude=chosen_statuses(ctx.params, EXCLUDED_STATUSES),
        )
        ctx.ops.reload_dataset()
        return {"deleted": deleted}
