"""Stored runs of this plugin: fields on samples plus a FiftyOne run record.

Every analysis writes the DESIGN.md contract for each sample of the analysed view,
``{key}_status``, ``{key}_group``, ``{key}_representative`` and ``{key}_score``, and
registers a run whose config carries ``method`` (``redundancy.<analysis>``) and the
parameters, and whose results carry counts, timings and the panel's projection.
"""

import os
import time

import fiftyone as fo
from fiftyone import ViewField as F

from ..core.decisions import INFLUENTIAL, REPRESENTATIVE, STATUSES
from .samples import read_labels

METHOD_PREFIX = "redundancy."
STAGING_PREFIX = "redundancy_staging_"
FIELD_TYPES = {
    "status": fo.StringField,
    "group": fo.IntField,
    "representative": fo.StringField,
    "score": fo.FloatField,
}


def parameters_record(parameters):
    """A parameters dataclass as JSON-able run config values (nested dataclasses as
    dicts, tuples as lists)."""
    import dataclasses

    return json_ready(dataclasses.asdict(parameters))


def json_ready(value):
    if isinstance(value, dict):
        return {name: json_ready(item) for name, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return value


def run_fields(key, extra_suffixes=()):
    """The sample fields a run under ``key`` owns: the contract's, plus any extras."""
    return [f"{key}_{suffix}" for suffix in (*FIELD_TYPES, *extra_suffixes)]


def validate_key(samples, key, method, extra_suffixes=(), overwrite=False):
    """Check that ``key`` can hold a run of ``method`` on ``samples`` without touching
    anything else (see ``check_replacement`` for ``overwrite``)."""
    if not isinstance(key, str) or not key.isidentifier():
        raise ValueError(f"run key {key!r} must be a Python identifier, e.g. 'wavelet'")
    dataset = samples._dataset
    if dataset.has_run(key):
        existing = dataset.get_run_info(key).config.method
        if existing != METHOD_PREFIX + method:
            raise ValueError(
                f"run key {key!r} already holds a {existing!r} run on dataset "
                f"{dataset.name!r}; choose another key or delete that run first"
            )
        check_replacement(samples, key, overwrite)
        return
    schema = dataset.get_field_schema()
    taken = [name for name in run_fields(key, extra_suffixes) if name in schema]
    if taken:
        raise ValueError(
            f"fields {taken} already exist on dataset {dataset.name!r} but belong to no "
            f"run of this plugin; choose another key than {key!r}"
        )


class ReplacementRefused(ValueError):
    """A new run would replace one that covers samples it does not; nothing changed."""


def samples_outside(samples, key):
    """How many samples the run under ``key`` covers that ``samples`` does not: they would
    lose their ``{key}_*`` fields if a run on ``samples`` replaced it."""
    dataset = samples._dataset
    field = f"{key}_status"
    if not dataset.has_sample_field(field):
        return 0
    return dataset.exists(field).count() - samples.exists(field).count()


def check_replacement(samples, key, overwrite=False):
    """Refuse (brain-style) to replace the run under ``key`` by a run on ``samples`` that
    leaves out samples the stored run covers, unless ``overwrite=True``."""
    n_outside = samples_outside(samples, key)
    if n_outside and not overwrite:
        raise ReplacementRefused(
            f"run key {key!r} holds a run on {samples._dataset.exists(f'{key}_status').count()} "
            f"samples of dataset {samples._dataset.name!r}; {n_outside} of them are outside the "
            "samples given now and would lose their results. Choose another key, or pass "
            "overwrite=True to replace that run"
        )


def store_run(samples, key, method, parameters, sample_ids, decisions, details,
              extra_fields=None):  # fmt: skip
    """Write ``decisions`` (index-aligned with ``sample_ids``) as fields and register the run.

    ``extra_fields`` maps more field suffixes to ``(field type, values)``. Nothing is half
    written: the values go to staging fields first; only once all are written is a
    previous run under ``key`` deleted (so samples outside the new view keep no stale
    values) and the staging fields renamed into place. If writing fails, the staging
    fields are removed and the dataset is as it was.
    """
    dataset = samples._dataset
    started = time.perf_counter()
    columns = {
        "status": [str(status) for status in decisions.status],
        "group": [int(group) for group in decisions.group],
        "representative": [sample_ids[i] if i >= 0 else None for i in decisions.representative],
        "score": [float(score) for score in decisions.score],
    }
    field_types = dict(FIELD_TYPES)
    for suffix, (field_type, values) in (extra_fields or {}).items():
        field_types[suffix] = field_type
        columns[suffix] = values
    staging = {f"{STAGING_PREFIX}{key}_{suffix}": f"{key}_{suffix}" for suffix in field_types}
    try:
        for (stage, _), (suffix, field_type) in zip(staging.items(), field_types.items()):
            dataset.add_sample_field(stage, field_type)
            samples.set_values(stage, dict(zip(sample_ids, columns[suffix])), key_field="id")
    except BaseException:
        _drop_fields(dataset, staging)
        raise

    if dataset.has_run(key):
        delete_run(dataset, key)
    dataset.rename_sample_fields(staging)
    details["fields"] = list(staging.values())
    config = dataset.init_run(method=METHOD_PREFIX + method, **parameters)
    dataset.register_run(key, config)
    details["timings"]["write"] = time.perf_counter() - started
    results = dataset.init_run_results(
        key, counts=decisions.counts(), n_samples=len(sample_ids), **details
    )
    dataset.save_run_results(key, results)
    run = RedundancyRun(dataset, key)
    dataset.save_view(review_view_name(key), run.groups_view(), overwrite=True)
    return run


def _drop_fields(dataset, names):
    schema = dataset.get_field_schema()
    for name in names:
        if name in schema:
            dataset.delete_sample_field(name)


def review_view_name(key):
    """Every run saves its groups (largest first, representative first) under this name."""
    return f"{key}-review"


def list_runs(dataset, method=None):
    """Keys of this plugin's runs on ``dataset``, optionally of one ``method``."""
    keys = []
    for key in dataset.list_runs():
        stored = dataset.get_run_info(key).config.method or ""
        if stored.startswith(METHOD_PREFIX) and (
            method is None or stored == METHOD_PREFIX + method
        ):
            keys.append(key)
    return keys


def delete_run(dataset, key):
    """Delete the run under ``key`` and the fields it wrote."""
    require_run(dataset, key)
    schema = dataset.get_field_schema()
    for field in _owned_fields(dataset, key):
        if field in schema:
            dataset.delete_sample_field(field)
    if dataset.has_saved_view(review_view_name(key)):
        dataset.delete_saved_view(review_view_name(key))
    dataset.delete_run(key)


def rename_run(dataset, key, new_key):
    """Rename a run and its fields."""
    require_run(dataset, key)
    if not isinstance(new_key, str) or not new_key.isidentifier():
        raise ValueError(f"run key {new_key!r} must be a Python identifier")
    if dataset.has_run(new_key):
        raise ValueError(f"run key {new_key!r} is already taken on {dataset.name!r}")
    old_fields = _owned_fields(dataset, key)
    new_fields = [new_key + name[len(key) :] for name in old_fields]
    dataset.rename_sample_fields(dict(zip(old_fields, new_fields)))
    dataset.rename_run(key, new_key)
    results = dataset.load_run_results(new_key, cache=False)
    results.fields = new_fields
    dataset.save_run_results(new_key, results)
    if dataset.has_saved_view(review_view_name(key)):
        dataset.delete_saved_view(review_view_name(key))
    dataset.save_view(review_view_name(new_key), RedundancyRun(dataset, new_key).groups_view())


def _owned_fields(dataset, key):
    results = dataset.load_run_results(key, cache=False)
    return list(getattr(results, "fields", None) or run_fields(key))


def require_run(dataset, key):
    """Refuse, with the dataset's runs, a key that holds no run of this plugin."""
    if key not in list_runs(dataset):
        raise ValueError(
            f"dataset {dataset.name!r} has no redundancy run {key!r}; "
            f"its runs are {list_runs(dataset)}"
        )


class RedundancyRun:
    """A stored analysis: parameters, counts, timings, and the views it implies."""

    def __init__(self, dataset, key):
        require_run(dataset, key)
        self.dataset = dataset
        self.key = key
        info = dataset.get_run_info(key)
        self.method = info.config.method[len(METHOD_PREFIX) :]
        self.parameters = {
            name: value
            for name, value in info.config.serialize().items()
            if name not in ("method", "cls", "type")
        }
        self.timestamp = info.timestamp
        self._results = dataset.load_run_results(key, cache=False)

    @property
    def counts(self):
        """Samples per status, e.g. ``{"redundant": 12, ...}``."""
        return dict(self._results.counts)

    @property
    def timings(self):
        """Seconds per stage of the analysis."""
        return dict(self._results.timings)

    @property
    def details(self):
        """Everything the run stored beyond counts (timings, selection, projection...)."""
        return {
            name: getattr(self._results, name)
            for name in self._results.attributes()
            if name not in ("cls",)
        }

    @property
    def fields(self):
        """The sample fields this run wrote."""
        return list(self._results.fields)

    def view(self, statuses=None):
        """Samples of the run, optionally only those whose status is in ``statuses``."""
        status_field = f"{self.key}_status"
        view = self.dataset.exists(status_field)
        if statuses is not None:
            statuses = [statuses] if isinstance(statuses, str) else list(statuses)
            unknown = set(statuses) - set(STATUSES)
            if unknown:
                raise ValueError(f"unknown statuses {sorted(unknown)}; use {STATUSES}")
            view = view.match(F(status_field).is_in(statuses))
        return view

    def groups_view(self):
        """Samples in groups, group by group (largest first), each representative first."""
        group, status = f"{self.key}_group", f"{self.key}_status"
        return self._in_groups().sort_by([(F(group), 1), ((F(status) == REPRESENTATIVE), -1)])

    def _in_groups(self):
        return self.dataset.match(F(f"{self.key}_group") >= 0)

    def group_view(self, group):
        """One group's samples, representative first."""
        return self.groups_view().match(F(f"{self.key}_group") == int(group))

    def least_similar_view(self):
        """Split-similarity runs: the test samples least similar to all training
        samples, least similar first."""
        ids = self.details.get("least_similar_ids")
        if ids is None:
            raise ValueError(f"run {self.key!r} is a {self.method} run; only split-similarity runs rank test samples")
        return self.dataset.select(ids, ordered=True)

    def group_sizes(self):
        """``{group number: size}`` for every group of 2+ samples."""
        return self._in_groups().count_values(f"{self.key}_group")

    def label_field(self):
        """The run's label field, or None when it had none or the field is gone since."""
        name = self.parameters.get("label_field")
        return name if name and self.dataset.has_sample_field(name) else None

    def largest_groups(self):
        """Group numbers, largest group first (ties by number): the panel's table order."""
        return _largest_first(self.group_sizes())

    def group_rows(self, limit=None):
        """One row per group of 2+ samples, largest first: ``{"group", "size", "labels",
        "kind", "representative"}``. The kind follows the stored decision (a group of
        influential samples mixes labels), so it holds even if the label field is gone;
        mixed-label groups have no representative."""
        view = self._in_groups()
        groups, statuses, paths = view.values([f"{self.key}_group", f"{self.key}_status", "filepath"])
        labels = read_labels(view, self.label_field()) or [None] * len(groups)
        members = {}
        for group, status, path, label in zip(groups, statuses, paths, labels):
            row = members.setdefault(group, {"size": 0, "labels": set(), "representative": "", "mixed": False})
            row["size"] += 1
            row["mixed"] |= status == INFLUENTIAL
            row["labels"].add("(none)" if label is None else str(label))
            if status == REPRESENTATIVE:
                row["representative"] = os.path.basename(path)
        rows = []
        sizes = {group: row["size"] for group, row in members.items()}
        for group in _largest_first(sizes)[:limit]:
            distinct = sorted(members[group]["labels"])
            rows.append({
                "group": group,
                "size": members[group]["size"],
                "labels": ", ".join(distinct),
                "kind": "mixed labels" if members[group]["mixed"] else "same label",
                "representative": members[group]["representative"] or "—",
            })  # fmt: skip
        return rows

    def map_columns(self):
        """What the embedding map draws, aligned with the stored projection:
        ``(sample ids, 2-D points, 3-D points or None, statuses, representative ids,
        labels or None)``, without samples deleted since the run."""
        details = self.details
        view = self.view()
        ids, statuses, representatives = view.values(
            ["id", f"{self.key}_status", f"{self.key}_representative"]
        )
        row_of = {sample_id: row for row, sample_id in enumerate(ids)}
        kept = [i for i, sample_id in enumerate(details["sample_ids"]) if sample_id in row_of]
        rows = [row_of[details["sample_ids"][i]] for i in kept]
        labels = read_labels(view, self.label_field())
        points_3d = details.get("points_3d")
        return (
            [ids[row] for row in rows],
            [details["points"][i] for i in kept],
            None if points_3d is None else [points_3d[i] for i in kept],
            [statuses[row] for row in rows],
            [representatives[row] for row in rows],
            None if labels is None else [labels[row] for row in rows],
        )

    def summary(self):
        """A few readable lines: counts per status and the time it took."""
        total = sum(self.counts.values())
        lines = [f"run {self.key!r} ({self.method}) on {total} samples:"]
        for status in STATUSES:
            count = self.counts.get(status, 0)
            lines.append(f"  {status:<15}{count:>7}  ({100.0 * count / max(total, 1):5.1f}%)")
        lines.append(f"  time: {sum(self.timings.values()):.1f} s ({_format_timings(self.timings)})")
        return "\n".join(lines)

    def __repr__(self):
        return f"<RedundancyRun {self.key!r} method={self.method!r} counts={self.counts}>"


def _largest_first(sizes):
    """Group numbers by size, largest first, ties by number: one order for table and clicks."""
    return sorted(sizes, key=lambda group: (-sizes[group], group))


def _format_timings(timings):
    return ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in timings.items())
