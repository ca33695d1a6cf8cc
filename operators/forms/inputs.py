"""Form inputs shared by the operators, each reading its defaults and options from the
bridge (the parameters dataclasses' declarations, ``api_defaults``, the ``{value: words}``
tables in ``core/``), with the checks that run while the user types, and the bridge
arguments each input's value becomes."""

import importlib.util
import inspect

import fiftyone as fo
import fiftyone.operators.types as types

from ...bridge.runs import RedundancyRun, list_runs, samples_outside, validate_key
from ...bridge.samples import classification_fields
from ...bridge.analysis import ImageReading
from ...bridge.choices import RAY_MISSING, PairScoreParameters, RayExecutor, applies, declarations

NO_LABELS = "(none)"
REPLACE_LABEL = "Replace the run stored under this key"
SKIP_LABEL = ImageReading.__dataclass_fields__["skip_failures"].metadata["label"]
NO_EMBEDDINGS = "(none)"
SCALE_OUT = "scale_out"
NO_BACKEND = "(none)"
LOCAL_RAY = "local"


def api_defaults(function):
    """``{argument: default}`` of a bridge function: the form offers the defaults the
    Python API has (which read the parameters dataclasses), so the operators write none."""
    return {
        name: argument.default
        for name, argument in inspect.signature(function).parameters.items()
        if argument.default is not inspect.Parameter.empty
    }


def declared_input(inputs, parameters, name, **options):
    """The input of a parameter declared in its dataclass (``core.parameters.declared``
    and its siblings): a number (its bounds as the form's min and max), a choice among
    its table, a box or a text, with its default, label and description, all from that
    one declaration; the dataclass still checks the value when the run starts."""
    declaration = {item.name: item for item in declarations(parameters)}[name]
    words = declaration.metadata
    shown = {"default": declaration.default, "label": words["label"], "description": words["description"], **options}
    if words["kind"] == "choice":
        return choice_input(inputs, name, words["choices"], radio=words["radio"], **shown)
    if words["kind"] == "flag":
        return inputs.bool(name, **shown)
    if words["kind"] == "text":
        return inputs.str(name, **shown)
    bounds = words["bounds"]
    limits = {"min": bounds.get("at_least", bounds.get("above")), "max": bounds.get("at_most", bounds.get("below"))}
    number = inputs.int if bounds.get("integer") else inputs.float
    return number(name, **{**{limit: value for limit, value in limits.items() if value is not None}, **shown})


def offered(ctx, parameters, leave_out=()):
    """The names of the declared fields of ``parameters`` a form offers while it holds
    ``ctx.params``: those not declared ``offered=False`` nor in ``leave_out``, which
    apply to the values chosen so far (``when``), in field order."""
    return [
        item.name for item in declarations(parameters)
        if item.metadata["offered"] and item.name not in leave_out and applies(parameters, item, ctx.params)
    ]  # fmt: skip


def parameter_inputs(inputs, ctx, parameters, leave_out=(), options=None):
    """One input per field of ``parameters`` the form offers (``offered``), each built
    from its declaration (``declared_input``; ``options``: ``{name: input keywords}``
    where one form needs more), so adding a declared field adds its input. Returns the
    names offered."""
    names = offered(ctx, parameters, leave_out)
    for name in names:
        declared_input(inputs, parameters, name, **(options or {}).get(name, {}))
    return names


def parameter_arguments(ctx, *classes):
    """The bridge arguments for the declared fields of ``classes`` that the form offers
    and holds a value for (``user_arguments``): what ``parameter_inputs`` asked, read back."""
    return {name: value for parameters in classes for name, value in user_arguments(ctx, offered(ctx, parameters)).items()}


def user_arguments(ctx, names):
    """The bridge arguments among ``names`` that the form holds a value for (a cleared box
    holds None or empty text): only these are passed on, the rest keep the API's defaults."""
    return {name: ctx.params[name] for name in names if ctx.params.get(name) not in (None, "")}


def choice_input(inputs, name, choices, default, label, radio=False, **options):
    """An enum of ``choices``, the ``{value: words}`` table the declaration names, so a
    form lists no option of its own; the API's default is marked as such."""
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


def pair_score_inputs(inputs, ctx, view):
    """The pair score's user-facing choices: those ``PairScoreParameters`` offers
    (mirrored copies), and an embeddings field as a further signal (the fields of the
    view that hold vectors)."""
    parameter_inputs(inputs, ctx, PairScoreParameters)
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
        "pair_score": parameter_arguments(ctx, PairScoreParameters) or None,
        "embeddings_field": None if embeddings in (None, NO_EMBEDDINGS) else embeddings,
    }


def update_folder_input(inputs, ctx):
    """The optional folder where an analysis keeps its run for ``update_run`` (checked
    against the Scale out box, which such a run cannot use)."""
    folder = inputs.str(
        "update_folder",
        label="Keep for updates in this folder (optional)",
        description="A folder on the server where the run keeps its decoded images and pair scores, so that "
        "'Redundancy: update a run' later decodes only added or changed images. Empty: keep nothing",
    )
    if ctx.params.get("update_folder") and ctx.params.get(SCALE_OUT):
        folder.invalid = True
        folder.error_message = "A run kept for updates runs in this process: untick scale out, or leave this empty"


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
    parameters = run.method_info.parameters
    unused = {item.name for item in declarations(parameters) if not applies(parameters, item, run.parameters)}
    shown = ", ".join(
        f"{name}={run.parameters[name]}" for name in run.method_info.summary
        if name not in unused and run.parameters.get(name) is not None
    )
    return f"a run of {run.title} on {n_samples:,} samples, stored {run.timestamp:%Y-%m-%d %H:%M} UTC ({shown})"


def fresh_key(dataset, key):
    """The first of ``key_2``, ``key_3``, ... that names no run and no field yet."""
    schema = dataset.get_field_schema()
    number = 2
    while dataset.has_run(f"{key}_{number}") or f"{key}_{number}_status" in schema:
        number += 1
    return f"{key}_{number}"


def replace_param(ctx):
    return bool(ctx.params.get("replace", False))


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


def titled(inputs, title):
    """A form with its title (the App shows none above a form without one)."""
    return types.Property(inputs, view=types.View(label=title))
