"""Form pieces shared by the analysis operators."""

import fiftyone as fo
import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..bridge.runs import list_runs
from ..bridge.samples import classification_fields
from ..core.pair_score import PairScoreParameters

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


NO_EMBEDDINGS = "(none)"


def pair_score_inputs(inputs, ctx, view):
    """The pair score's user-facing choices: mirrored copies, and an embeddings field as a
    further signal (the fields of the view that hold vectors)."""
    inputs.bool(
        "flips",
        default=PairScoreParameters().flips,
        label="Count mirrored copies",
        description="A horizontally flipped image scores as a copy of the original",
    )
    vector_fields = [
        name for name, field in view.get_field_schema().items()
        if isinstance(field, (fo.VectorField, fo.ListField)) and not name.startswith("_")
    ]  # fmt: skip
    if vector_fields:
        choices = types.DropdownView()
        choices.add_choice(NO_EMBEDDINGS, label="(none: pixels only)")
        for name in vector_fields:
            choices.add_choice(name, label=name)
        inputs.enum(
            "embeddings_field",
            choices.values(),
            default=NO_EMBEDDINGS,
            label="Embeddings field",
            description="Model embeddings add candidates and their cosine to the pair score",
            view=choices,
        )


def pair_score_params(ctx):
    """The bridge keyword arguments for what :func:`pair_score_inputs` asked."""
    embeddings = ctx.params.get("embeddings_field", NO_EMBEDDINGS)
    return {
        "pair_score": {"flips": bool(ctx.params.get("flips", PairScoreParameters().flips))},
        "embeddings_field": None if embeddings in (None, NO_EMBEDDINGS) else embeddings,
    }


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
