"""Operators: tag for review, untag, override a representative, export, delete."""

import os

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..bridge.curation import (
    COMBINE,
    EXCLUDED_STATUSES,
    EXPORT_FORMATS,
    TAGGED_STATUSES,
    ExportRefused,
    delete_excluded,
    excluded_view,
    export_curated,
    export_dir_problem,
    set_representative,
    tag_preview,
    tag_samples,
    untag_samples,
)
from ..bridge.choices import timed
from .forms import (
    analysis_steps,
    api_defaults,
    app_wording,
    choice_input,
    delegable_config,
    failures_in_place,
    label_field_input,
    label_field_param,
    run_choice_input,
    runs_newest_first,
    summary_output,
    titled,
    user_arguments,
)

OVERWRITE_EXPORT_LABEL = "Replace an earlier export in this folder"


def runs_input(inputs, ctx, name="keys", label="Runs"):
    """Multi-select of the dataset's redundancy runs (latest first; nothing else can be
    typed); a false value when there are none or a chosen run does not exist."""
    keys = runs_newest_first(ctx.dataset)
    if not keys:
        return run_choice_input(inputs, ctx)  # says there are none
    choices = types.AutocompleteView(multiple=True, allow_user_input=False, allow_duplicates=False)
    for key in keys:
        choices.add_choice(key, label=key)
    prop = inputs.list(name, types.String(), default=keys[:1], required=True, label=label, view=choices)
    unknown = [key for key in ctx.params.get(name) or [] if key not in keys]
    if unknown:
        prop.invalid = True
        prop.error_message = f"No run named {', '.join(map(repr, unknown))}; choose among {', '.join(keys)}"
        return False
    return True


def chosen_keys(ctx):
    """The runs chosen in the form so far (the latest run before any choice)."""
    return ctx.params.get("keys") or runs_newest_first(ctx.dataset)[:1]


def statuses_input(inputs, defaults, label):
    for status in ("redundant", "influential", "outlier", "representative"):
        inputs.bool(f"use_{status}", default=status in defaults, label=f"{label}: {status}")


def chosen_statuses(params, defaults):
    return [s for s in ("redundant", "influential", "outlier", "representative") if params.get(f"use_{s}", s in defaults)]


class _TagOperator(foo.Operator):
    tagging = True

    @property
    def title(self):
        return "Tag samples for review" if self.tagging else "Remove review tags"

    def resolve_input(self, ctx):
        inputs = types.Object()
        if not runs_input(inputs, ctx):
            return titled(inputs, self.title)
        statuses_input(inputs, TAGGED_STATUSES, "Tag" if self.tagging else "Untag")
        tag_names = {}
        for status in chosen_statuses(ctx.params, TAGGED_STATUSES):
            inputs.str(f"tag_{status}", default=status, label=f"Tag name for {status}")
            tag_names[status] = ctx.params.get(f"tag_{status}") or status
        keys = chosen_keys(ctx)
        preview = tag_preview(ctx.dataset, keys, chosen_statuses(ctx.params, TAGGED_STATUSES), tag_names)
        lines = ", ".join(f"**{count}** samples as `{tag}`" for tag, count in preview.items()) or "nothing"
        if self.tagging:
            text = f"This will tag {lines}. Tags the samples already have are kept."
        else:
            text = f"This will remove the tags from {lines.replace(' as ', ' tagged ')}. Other tags are kept."
        inputs.md(text, name="preview")
        return titled(inputs, self.title)

    @failures_in_place("Tagging")
    def execute(self, ctx):
        timings = {}
        statuses = chosen_statuses(ctx.params, TAGGED_STATUSES)
        tag_names = {status: ctx.params.get(f"tag_{status}") or status for status in statuses}
        action = tag_samples if self.tagging else untag_samples
        with timed(timings, "tagging"):
            counts = action(ctx.dataset, ctx.params["keys"], statuses, tag_names)
        ctx.ops.reload_dataset()
        done = ", ".join(f"**{count:,}** samples `{tag}`" for tag, count in counts.items()) or "no samples"
        verb = "Tagged" if self.tagging else "Removed the tags from"
        hint = "Filter the grid by these tags in the sidebar's *Sample tags*." if self.tagging else "Other tags are unchanged."
        summary = f"{verb} {done} (runs {', '.join(ctx.params['keys'])}) in {timings['tagging']:.1f} s. {hint}"
        return {"counts": counts, "summary": summary}

    def resolve_output(self, ctx):
        return summary_output("Tags added" if self.tagging else "Tags removed", ctx)


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
            return titled(inputs, "Keep this sample instead")
        run_choice_input(inputs, ctx)
        return titled(inputs, "Keep this sample instead")

    def execute(self, ctx):
        if len(ctx.selected) != 1:
            raise ValueError("select exactly one sample")
        key, chosen = ctx.params["key"], ctx.selected[0]
        run = set_representative(ctx.dataset, key, chosen)
        ctx.ops.reload_dataset()
        sample = ctx.dataset[chosen]
        group = sample[f"{key}_group"]
        size = run.group_sizes()[group]
        summary = (
            f"`{os.path.basename(sample.filepath)}` now represents group **{group}** of run `{key}`; "
            f"the other {size - 1} members are `redundant` and point to it. See the group in the "
            "**Redundancy** panel."
        )
        return {"representative": chosen, "summary": summary}

    def resolve_output(self, ctx):
        return summary_output("Representative changed")


class ExportCurated(foo.Operator):
    @property
    def config(self):
        return delegable_config(
            "export_curated",
            "Redundancy: export the curated set",
            "Export the samples to train on, with a manifest of those left out",
            reports_progress=True,
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        if not runs_input(inputs, ctx):
            return titled(inputs, "Export the curated set")
        defaults = api_defaults(export_curated)
        choice_input(inputs, "combine", COMBINE, defaults["combine"], "Several runs", radio=True)
        statuses_input(inputs, EXCLUDED_STATUSES, "Drop")
        choice_input(inputs, "dataset_type", {name: name for name in EXPORT_FORMATS}, defaults["dataset_type"], "Format")
        label_field_input(inputs, ctx, ctx.dataset, description=(
            "The labels written with the samples (needed by every format but FiftyOneDataset) "
            "and in the label column of excluded.csv"))  # fmt: skip
        folder = inputs.str("export_dir", required=True, label="Export directory",
                            description="A new or empty folder, or one holding an earlier export of this plugin")  # fmt: skip
        inputs.bool("overwrite", default=defaults["overwrite"], label=OVERWRITE_EXPORT_LABEL,
                    description="Only a folder this plugin exported to can be replaced; any other files are never deleted")  # fmt: skip
        problem = self.folder_problem(ctx)
        if problem:
            folder.invalid = True
            folder.error_message = problem
        inputs.str("new_dataset", label="Also as a new dataset named (optional)")
        inputs.str("saved_view", label="Also as a saved view named (optional)")
        keys = chosen_keys(ctx)
        dropped = len(excluded_view(ctx.dataset, keys, chosen_statuses(ctx.params, EXCLUDED_STATUSES), **user_arguments(ctx, ["combine"])))
        inputs.md(f"Keeps **{len(ctx.dataset) - dropped}** samples and lists **{dropped}** in `excluded.csv`.", name="preview")
        return titled(inputs, "Export the curated set")

    @staticmethod
    def folder_problem(ctx):
        folder = ctx.params.get("export_dir")
        if not folder:
            return None
        overwrite = ctx.params.get("overwrite") is True
        return export_dir_problem(os.path.expanduser(folder), overwrite, f"tick '{OVERWRITE_EXPORT_LABEL}'")

    def execute(self, ctx):
        params = ctx.params
        arguments = user_arguments(ctx, ["dataset_type", "combine", "new_dataset", "saved_view", "overwrite"])
        dataset_type = arguments.get("dataset_type", api_defaults(export_curated)["dataset_type"])
        timings = {}

        def work(progress):
            problem = self.folder_problem(ctx)
            if problem:
                raise ExportRefused(problem)
            with app_wording(OVERWRITE_EXPORT_LABEL), timed(timings, "export"):
                return export_curated(
                    ctx.dataset,
                    params["keys"],
                    os.path.expanduser(params["export_dir"]),
                    label_field=label_field_param(ctx),
                    exclude=chosen_statuses(params, EXCLUDED_STATUSES),
                    **arguments,
                    progress=progress,
                )

        def summarize(summary):
            by_status = "; ".join(
                f"run `{key}`: " + ", ".join(f"{count:,} {status}" for status, count in counts.items())
                for key, counts in summary["dropped_by_status"].items()
            )
            lines = [
                f"Exported **{summary['kept']:,}** samples as {dataset_type} to "
                f"`{summary['export_dir']}` in {timings['export']:.1f} s.",
                f"Left out **{summary['dropped']:,}** ({by_status}), listed in `{summary['manifest']}`.",
            ]
            if params.get("new_dataset"):
                lines.append(f"Also cloned as the dataset `{params['new_dataset']}`.")
            if params.get("saved_view"):
                lines.append(f"Also saved as the view `{params['saved_view']}` (open it from the saved views menu).")
            return "\n\n".join(lines)

        yield from analysis_steps(ctx, "Exporting", work, summarize, "Curated set exported", failing_in_place="Export")


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
            return titled(inputs, "Delete excluded samples")
        statuses_input(inputs, EXCLUDED_STATUSES, "Delete")
        keys = chosen_keys(ctx)
        count = len(excluded_view(ctx.dataset, keys, chosen_statuses(ctx.params, EXCLUDED_STATUSES)))
        manifest = inputs.str("manifest_path", required=True, label="Write the manifest of deleted samples to (CSV)",
                              description="A new file: an existing one is never replaced")  # fmt: skip
        path = os.path.expanduser(ctx.params.get("manifest_path") or "")
        if path and os.path.lexists(path):
            manifest.invalid = True
            manifest.error_message = f"{path} already exists and is never replaced: choose a new file name"
        inputs.view("danger", types.Warning(label=f"This permanently deletes {count} samples from dataset {ctx.dataset.name!r}"))
        inputs.bool("confirm", default=api_defaults(delete_excluded)["confirm"], required=True, label=f"Yes, delete {count} samples")
        return titled(inputs, "Delete excluded samples")

    def execute(self, ctx):
        manifest = os.path.expanduser(ctx.params["manifest_path"])
        deleted = delete_excluded(
            ctx.dataset,
            ctx.params["keys"],
            manifest,
            confirm=ctx.params.get("confirm") is True,
            exclude=chosen_statuses(ctx.params, EXCLUDED_STATUSES),
        )
        ctx.ops.reload_dataset()
        summary = (
            f"Deleted **{deleted:,}** samples from dataset `{ctx.dataset.name}` ({len(ctx.dataset):,} remain). "
            f"Their files, labels and statuses are listed in `{manifest}`."
        )
        return {"deleted": deleted, "summary": summary}

    def resolve_output(self, ctx):
        return summary_output("Samples deleted")
