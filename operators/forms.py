"""Form pieces shared by the analysis operators."""

import fiftyone as fo
import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..bridge.runs import list_runs
from ..bridge.samples import classification_fields

NO_LABELS = "(none)"


def label_field_input(inputs, ctx, view):
    """Dropdown of the view's label fields, with "(none)" for unlabeled analysis."""
    fields = classification_fields(view)
    choices = types.DropdownView()
    choices.add_choice(NO_LABELS, label="(none: treat all samples as one label)")
    for name in fields:
        choices.add_choice(name, label=name)
    default = "ground_truth" if "ground_truth" in fields else NO_LABELS
    inputs.enum(
        "label_field",
        choices.values(),
        default=default,
        label="Label field",
        description="Clusters whose members carry different labels are marked influential",
        view=choices,
    )


def label_field_param(ctx):
    value = ctx.params.get("label_field", NO_LABELS)
    return None if value in (None, NO_LABELS) else value


def run_key_input(inputs, ctx, default):
    """Text box for the run key, flagged invalid when it is not an identifier."""
    key = ctx.params.get("key", default)
    prop = inputs.str(
        "key",
        default=default,
        required=True,
        label="Run key",
        description="Fields are written as {key}_status, {key}_group, ...; re-running a key replaces it",
    )
    if key is not None and not str(key).isidentifier():
        prop.invalid = True
        prop.error_message = "The run key must be a Python identifier, e.g. wavelet_2"


def progress_reporter(ctx, label):
    """A FiftyOne progress callback that forwards to the App's progress bar."""
    return fo.report_progress(
        lambda bar: ctx.set_progress(progress=bar.progress, label=label), dt=0.5
    )


def delegable_config(name, label, description):
    """OperatorConfig of long work: a dynamic form, run now or delegated to a worker."""
    return foo.OperatorConfig(
        name=name,
        label=label,
        description=description,
        dynamic=True,
        allow_immediate_execution=True,
        allow_delegated_execution=True,
    )


def analysis_result(ctx, run):
    """Reload the App (not from a delegated worker) and report the run."""
    if not ctx.delegated:
        ctx.ops.reload_dataset()
    return {"key": run.key, "counts": run.counts, "timings": run.timings}


def run_choice_input(inputs, ctx, label="Run"):
    """Dropdown of the dataset's redundancy runs; False (with a warning) when none."""
    keys = list_runs(ctx.dataset)
    if not keys:
        inputs.view("no_runs", types.Warning(label="This dataset has no redundancy runs yet: run an analysis first"))
        return False
    choices = types.DropdownView()
    for key in keys:
        choices.add_choice(key, label=key)
    inputs.enum("key", keys, default=keys[0], required=True, label=label, view=choices)
    return True
