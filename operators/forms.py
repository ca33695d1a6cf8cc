"""Form pieces shared by the operators: inputs, the checks that run while the user
types, and the readable result each operator ends with."""

import functools
import importlib.util
import inspect
import logging
import queue
import threading
import time
from contextlib import contextmanager

import fiftyone as fo
import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..bridge.runs import RedundancyRun, RunCancelled, list_runs, review_view_name, samples_outside, validate_key
from ..bridge.samples import classification_fields
from ..core.pair_score import PairScoreParameters
from ..core.parallel import RAY_MISSING, RayExecutor
from ..panels.run_state import method_title

NO_LABELS = "(none)"
PYTHON_OVERWRITE = "pass overwrite=True"  # how bridge refusals say "ask explicitly" in Python
REPLACE_LABEL = "Replace the run stored under this key"
PYTHON_SKIP = "pass skip_failures=True"
SKIP_LABEL = "Skip unreadable images"
CANCEL_HINT = "to stop it, run Redundancy: cancel a running analysis"

logger = logging.getLogger(__name__)


def api_defaults(function):
    """``{argument: default}`` of a bridge function: the form offers the defaults the
    Python API has (which read the parameters dataclasses), so the operators write none."""
    return {
        name: argument.default
        for name, argument in inspect.signature(function).parameters.items()
        if argument.default is not inspect.Parameter.empty
    }


def user_arguments(ctx, names):
    """The bridge arguments among ``names`` that the form holds a value for (a cleared box
    holds None or empty text): only these are passed on, the rest keep the API's defaults."""
    return {name: ctx.params[name] for name in names if ctx.params.get(name) not in (None, "")}


def choice_input(inputs, name, choices, default, label, radio=False, **options):
    """An enum of ``choices``, the ``{value: words}`` table of the module that checks the
    value, so a form lists no option of its own; the API's default is marked as such."""
    view = types.RadioGroup() if radio else types.Dropdown()
    for value, words in choices.items():
        view.add_choice(value, label=f"{words} (default)" if value == default else words)
    inputs.enum(name, list(choices), default=default, label=label, view=view, **options)


def label_field_input(inputs, ctx, view,
                      description="Clusters whose members carry different labels are marked influential"):  # fmt: skip
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
        description=description,
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
        "pair_score": user_arguments(ctx, ["flips"]) or None,
        "embeddings_field": None if embeddings in (None, NO_EMBEDDINGS) else embeddings,
    }


SCALE_OUT = "scale_out"
NO_BACKEND = "(none)"
LOCAL_RAY = "local"


def scale_out_inputs(inputs, ctx, function):
    """Where the work of ``function`` (a bridge analysis) runs, behind one box the user
    ticks (the form has no collapsible section): a Ray address, and a fiftyone-brain
    similarity backend for the candidate search where ``function`` takes one. Both are
    off unless asked: the defaults are the API's (no executor, its
    ``similarity_backend``). A delegated run reaches the cluster from its worker."""
    inputs.bool(SCALE_OUT, default=False, label="Scale out: Ray, similarity index",
                description="Run the per-image work on Ray, or search candidates in a similarity index")  # fmt: skip
    if not ctx.params.get(SCALE_OUT):
        return
    address = inputs.str(
        "ray_address",
        label="Ray address",
        description=f"Empty: this process. '{LOCAL_RAY}': a Ray started here; 'auto': the cluster this "
        "machine belongs to; 'host:port': a cluster's head node. Results equal this process's",
    )
    if ray_address_param(ctx) and importlib.util.find_spec("ray") is None:
        address.invalid = True
        address.error_message = RAY_MISSING
    defaults = api_defaults(function)
    if "similarity_backend" in defaults:
        import fiftyone.brain as fob

        choices = types.DropdownView()
        choices.add_choice(NO_BACKEND, label="(none: the exact search)")
        for name in sorted(fob.brain_config.similarity_backends):
            choices.add_choice(name, label=name)
        inputs.enum(
            "similarity_backend",
            choices.values(),
            default=defaults["similarity_backend"] or NO_BACKEND,
            label="Similarity index",
            description="A fiftyone-brain backend (set up in the brain config) that proposes the candidate "
            "pairs; every candidate is still verified, so an index can miss a pair but never add one",
            view=choices,
        )


def ray_address_param(ctx):
    return (ctx.params.get("ray_address") or "").strip() if ctx.params.get(SCALE_OUT) else ""


def scale_out_params(ctx, function):
    """The bridge keyword arguments for what :func:`scale_out_inputs` asked: an
    ``executor`` (a Ray connection, made here) and ``similarity_backend`` (with its
    secrets as ``similarity_config``), each only when chosen. Without Ray installed, a
    ``ValueError`` that says how to get it."""
    arguments = {}
    address = ray_address_param(ctx)
    if address:
        try:
            arguments["executor"] = RayExecutor(None if address == LOCAL_RAY else address)
        except ImportError as error:
            raise ValueError(str(error)) from None
    backend = ctx.params.get("similarity_backend") if ctx.params.get(SCALE_OUT) else None
    if backend not in (None, "", NO_BACKEND) and "similarity_backend" in api_defaults(function):
        arguments["similarity_backend"] = backend
        settings = backend_secrets(ctx, backend)
        if settings:
            arguments["similarity_config"] = settings
    return arguments


def backend_secrets(ctx, backend):
    """``backend``'s settings among the plugin's secrets (``fiftyone.yml`` lists the
    similarity indexes' credentials under fiftyone-brain's own names,
    ``FIFTYONE_BRAIN_SIMILARITY_<BACKEND>_<SETTING>``), so what a team's secrets store
    holds reaches the index; values from the environment, as the brain config reads
    them, where FiftyOne has no store."""
    prefix = f"FIFTYONE_BRAIN_SIMILARITY_{backend.upper()}_"
    return {name[len(prefix) :].lower(): ctx.secrets[name] for name in ctx.secrets if name.startswith(prefix) and ctx.secrets[name]}


def run_key_input(inputs, ctx, view, method):
    """Text box for the run key of a ``method`` run (a ``bridge.methods.Method``) on
    ``view``, checked as the user types; the method's key by default.

    A key that holds a run says what that run covers and offers a fresh key; when that run
    covers samples ``view`` does not, the form asks for the "replace" box before it lets
    the run go ahead (``overwrite=True`` in Python)."""
    key = ctx.params.get("key", method.default_key)
    prop = inputs.str("key", default=method.default_key, required=True, label="Run key",
                      description="The run's fields are named after it: <key>_status, <key>_group, ...")  # fmt: skip
    try:  # the API's own rule (name, case twins, fields and views of others), the replacement aside
        validate_key(view, key, method.name, overwrite=True)
    except ValueError as error:
        prop.invalid = True
        free = f", e.g. {fresh_key(ctx.dataset, key)}" if isinstance(key, str) and key.isidentifier() else ""
        prop.error_message = f"{str(error)[0].upper()}{str(error)[1:]}{free}"
        return
    if not ctx.dataset.has_run(key):
        return
    fresh = fresh_key(ctx.dataset, key)
    run = RedundancyRun(ctx.dataset, key)
    inputs.view("existing_run", types.Notice(label=f"Key {key!r} holds {describe_run(run)}. Use the key {fresh!r} to keep it."))
    outside = samples_outside(view, key)
    if outside:
        inputs.view("replace_warning", types.Warning(
            label=f"{outside:,} of the samples run {key!r} covers are not among the {len(view):,} "
            "analysed now: replacing the run removes their results."))  # fmt: skip
        inputs.bool("replace", default=False, label=REPLACE_LABEL)
        if not ctx.params.get("replace"):
            prop.invalid = True
            prop.error_message = f"Tick '{REPLACE_LABEL}' below, or choose another key, e.g. {fresh}"


def describe_run(run):
    """``a run of wavelet clusters on 2,107 samples, stored 2026-11-28 01:23 UTC (threshold=0.45, ...)``."""
    n_samples = run.dataset.exists(f"{run.key}_status").count()
    used_by_grouping = {"score": "threshold", "threshold": "threshold", "distance": "radius", "kmeans": "n_clusters", "spectral": "n_clusters"}
    grouping = run.parameters.get("grouping")
    unused = {"threshold", "radius", "n_clusters"} - {used_by_grouping.get(grouping, "threshold")}
    shown = ", ".join(
        f"{name}={run.parameters[name]}" for name in run.method_info.summary
        if name not in unused and run.parameters.get(name) is not None
    )
    return f"a run of {method_title(run)} on {n_samples:,} samples, stored {run.timestamp:%Y-%m-%d %H:%M} UTC ({shown})"


def fresh_key(dataset, key):
    """The first of ``key_2``, ``key_3``, ... that names no run and no field yet."""
    schema = dataset.get_field_schema()
    number = 2
    while dataset.has_run(f"{key}_{number}") or f"{key}_{number}_status" in schema:
        number += 1
    return f"{key}_{number}"


@contextmanager
def app_wording(checkbox=REPLACE_LABEL):
    """Bridge refusals say "pass overwrite=True" or "pass skip_failures=True"; in the App
    they name the form's box."""
    try:
        yield
    except (ValueError, OSError) as error:
        boxes = {PYTHON_OVERWRITE: checkbox, PYTHON_SKIP: SKIP_LABEL}
        said = [argument for argument in boxes if argument in str(error)]
        if not said:
            raise
        raise type(error)(str(error).replace(said[0], f"tick '{boxes[said[0]]}'")) from None


def failures_in_place(what):
    """For operators the panels open: a failure of ``execute`` in the App becomes a result
    saying what failed and that nothing changed (``failed``), so the panel that opened it
    stays usable; delegated runs still fail as runs."""

    def decorate(execute):
        @functools.wraps(execute)
        def guarded(self, ctx):
            try:
                return execute(self, ctx)
            except (ValueError, OSError) as error:
                if ctx.delegated:
                    raise
                return {"failed": str(error), "summary": failure_summary(what, error)}

        return guarded

    return decorate


def failure_summary(what, error):
    """The result a failure caught in place shows: what failed, and that nothing changed."""
    return f"**{what} failed, nothing changed:** {error}"


def replace_param(ctx):
    return bool(ctx.params.get("replace", False))


REPORT_SECONDS = 0.5
"""The App hears a stage's count at most this often (a new stage and a stage's end at once)."""
HEARTBEAT_SECONDS = 2.0
"""A stage with no count to move (a candidate search) says how long it has run this often."""


def progress_reporter(send, label):
    """A FiftyOne progress callback that calls ``send(text, fraction)``, ``text`` naming
    ``label`` and the stage its bar counts (``bridge.progress``)."""
    last = {"text": None, "at": 0.0}

    def report(bar):
        text, now = stage_label(label, bar), time.monotonic()
        if text != last["text"] or bar.complete or now - last["at"] >= REPORT_SECONDS:
            last.update(text=text, at=now)
            send(text, bar.progress)

    return report


def stage_label(label, bar):
    """``"Wavelet clusters: scoring pairs"``: the run and the stage its progress bar counts."""
    stage = getattr(bar, "stage", None)
    return f"{label}: {stage}" if stage else label


def delegable_config(name, label, description, reports_progress=False):
    """OperatorConfig of long work: a dynamic form, run now or delegated to a worker;
    ``reports_progress``: ``execute`` is a generator (see ``analysis_steps``)."""
    return foo.OperatorConfig(
        name=name,
        label=label,
        description=description,
        dynamic=True,
        allow_immediate_execution=True,
        allow_delegated_execution=True,
        execute_as_generator=reports_progress,
    )


def analysis_steps(ctx, label, work, summarize, title, failing_in_place=None):
    """The ``execute`` of long work (an analysis, an export), as a generator.

    ``work(progress)`` does the work; run now in the App, it runs in a worker thread and
    its progress reaches the App's progress indicator with a percentage while it runs
    (FiftyOne 1.22 streams what a generator yields; ``ctx.set_progress`` in an immediate
    run only logs). Then the App reloads and shows ``summarize(result)`` under ``title``.
    A cancelled run says so; a failure ends with a result and an error notification
    saying what failed and why (an exception raised from a generator ends FiftyOne 1.22's
    stream with nothing shown), naming the work ``failing_in_place`` (e.g. "Export") or
    ``label``. Delegated, it runs in place, reports through ``ctx.set_progress`` and fails
    as a run (the runs page shows the message)."""
    if ctx.delegated:
        work(progress_reporter(lambda text, fraction: ctx.set_progress(progress=fraction, label=text), label))
        return
    updates, outcome, finished = queue.Queue(), {}, object()

    def run():
        try:
            outcome["result"] = work(progress_reporter(lambda text, fraction: updates.put((text, fraction)), label))
        except BaseException as error:  # raised again below, in the operator's thread
            outcome["error"] = error
        finally:
            updates.put(finished)

    threading.Thread(target=run, name=f"redundancy: {label}", daemon=True).start()
    shown, started = None, time.monotonic()
    while True:
        try:
            update = updates.get(timeout=HEARTBEAT_SECONDS)
        except queue.Empty:
            update = shown  # nothing new: say again, with the time the stage has taken
        if update is finished:
            break
        if update is None:
            continue
        if shown is None or update[0] != shown[0]:
            started = time.monotonic()
        shown, (text, fraction) = update, update
        elapsed = time.monotonic() - started
        took = f" · {elapsed:,.0f} s" if elapsed >= HEARTBEAT_SECONDS else ""
        yield ctx.ops.set_progress(label=f"{text} {fraction:.0%}{took} ({CANCEL_HINT})", progress=fraction)
    error = outcome.get("error")
    if isinstance(error, RunCancelled):
        title, summary = "Cancelled", f"**Cancelled.** {error}."
    elif isinstance(error, Exception):  # raised, it would end the App's stream with no word
        logger.error("%s failed", label, exc_info=error)
        title, summary = "Failed", failure_summary(failing_in_place or label, error)
        yield ctx.ops.notify(f"{failing_in_place or label} failed: {error}", variant="error")
    elif error is not None:
        raise error
    else:
        summary = f"**{title}.** {summarize(outcome['result'])}"  # show_output draws no title of its own
    yield ctx.ops.reload_dataset()
    yield ctx.ops.show_output(summary_output(title).to_json(), {"summary": summary})


def analysis_run(ctx, compute, arguments, label, summarize=None):
    """The ``execute`` of an analysis operator: ``compute`` (its bridge function) on the
    target view with the form's label field and ``arguments``, replacing a run only as the
    form asked, where its Scale out box says (:func:`scale_out_params`, made in the worker
    that runs it), through :func:`analysis_steps`."""

    def work(progress):
        with app_wording():
            return compute(ctx.target_view(), label_field=label_field_param(ctx), **arguments,
                           **scale_out_params(ctx, compute), progress=progress, overwrite=replace_param(ctx))  # fmt: skip

    yield from analysis_steps(ctx, label, work, summarize or run_summary_markdown, f"{label} done")


def run_summary_markdown(run):
    """What a finished analysis tells the user: counts, time, and where to look next."""
    counts = run.counts
    total = sum(counts.values())
    shown = " · ".join(f"**{counts.get(status, 0):,}** {status}" for status in ("redundant", "influential", "outlier", "representative", "unique"))
    n_groups = len(run.group_sizes())
    skipped = run.details.get("skipped") or []
    lines = [
        f"Run **`{run.key}`** stored: {total:,} samples analysed in {sum(run.timings.values()):.1f} s, {n_groups:,} group{'' if n_groups == 1 else 's'}.",
        shown,
    ]
    if skipped:
        lines.append(f"{len(skipped):,} unreadable images were skipped (listed in the run's `skipped`).")
    lines.append(f"Review the groups in the **Redundancy** panel or the **Embedding map** (run `{run.key}`), "
                 f"or open the saved view `{review_view_name(run.key)}`.")  # fmt: skip
    return "\n\n".join(lines)


def summary_output(title, ctx=None):
    """The result view every operator ends with: its ``summary`` as markdown (headed
    "Failed" when ``failures_in_place`` caught a failure)."""
    outputs = types.Object()
    outputs.str("summary", label="", view=types.MarkdownView())
    failed = ctx is not None and ctx.results.get("failed")
    return types.Property(outputs, view=types.View(label="Failed" if failed else title))


def runs_newest_first(dataset, keys=None):
    """The dataset's redundancy runs (or ``keys``), the latest first (the one a user most
    likely means)."""
    keys = list_runs(dataset) if keys is None else keys
    return sorted(keys, key=lambda key: dataset.get_run_info(key).timestamp, reverse=True)


def run_choice_input(inputs, ctx, label="Run", keys=None,
                     missing="This dataset has no redundancy runs yet: run an analysis first"):  # fmt: skip
    """Dropdown of the dataset's redundancy runs (or of ``keys``), latest first, as a
    strict choice. Returns the keys offered; none (with the warning ``missing``) when
    there are none."""
    keys = runs_newest_first(ctx.dataset, keys)
    if not keys:
        inputs.view("no_runs", types.Warning(label=missing))
        return keys
    choices = types.DropdownView()
    for key in keys:
        choices.add_choice(key, label=key)
    inputs.enum("key", keys, default=keys[0], required=True, label=label, view=choices)
    return keys


def split_summary_markdown(run):
    """What a finished train-vs-test run tells the user."""
    details = run.details
    return "\n\n".join([
        f"Run **`{run.key}`** stored in {sum(run.timings.values()):.1f} s: **{details['n_near_identical']:,}** of "
        f"{details['n_test']:,} test samples ({100.0 * details['share_near_identical']:.1f}%) have a near-identical "
        f"training image among {details['n_train']:,} (they are `redundant`); the "
        f"{len(details['least_similar_ids']):,} least similar test samples are `outlier`.",
        f"See the similarity histogram in the **Redundancy** panel (run `{run.key}`), and its "
        "*Least similar test samples* button.",
    ])  # fmt: skip
