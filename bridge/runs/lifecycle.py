"""A run's life after its checks: stored (all or nothing), re-cut, amended, renamed,
deleted, or ended without a run; every change goes through a ``transaction.RunWriter``
commit."""

import fiftyone.core.odm as foo

from ...core.timing import timed
from ...version import VERSION
from ..documented import documented
from .contract import (
    ENDINGS,
    FIELD_TYPES,
    METHOD_PREFIX,
    _columns,
    _map_of,
    _now,
    _owned_fields,
    _owned_map,
    _owned_review_view,
    _reviews,
    _run_record,
    review_view_name,
)
from .faults import RunCancelled, checkpoint
from .keys import _check_map_free, _saved_view_holder, _view_taken_error, check_key_name
from .record import RedundancyRun, _require_run
from .transaction import RunWriter, _bulk_set, _lease_id, holding


def record_ending(dataset, key, error):
    """Note that the analysis under ``key`` ended without storing a run, and why."""
    outcome = "cancelled" if isinstance(error, RunCancelled) else "failed"
    foo.get_db_conn()[ENDINGS].replace_one(
        {"_id": _lease_id(dataset, key)},
        {"dataset_id": str(dataset._doc.id), "key": key, "outcome": outcome, "message": str(error), "at": _now()},
        upsert=True,
    )


def unstored_endings(dataset):
    """The analyses of ``dataset`` that failed or were cancelled since the run under
    their key was last stored (or with none stored): ``[{key, outcome, message, at}]``,
    latest first."""
    endings = foo.get_db_conn()[ENDINGS].find({"dataset_id": str(dataset._doc.id)}, sort=[("at", -1)])
    return [
        ending for ending in endings
        if not dataset.has_run(ending["key"]) or dataset.get_run_info(ending["key"]).timestamp < ending["at"]
    ]  # fmt: skip


def store_changes(writer, samples, method, parameters, sample_ids, decisions, details):
    """``store_run`` for a run whose samples stay the same (a re-cut): the commit records
    and applies only the field values that differ from the stored ones, so a change to a
    few groups of a large run writes a few documents, all or nothing as ``store_run``."""
    dataset, key = samples._dataset, writer.key
    details["timings"].pop("write", None)  # the re-cut's own write replaces the run's
    with timed(details["timings"], "write"):
        columns = _columns(sample_ids, decisions)
        fields = [f"{key}_{suffix}" for suffix in columns]
        stored = dict(zip(samples.values("id"), zip(*samples.values(fields))))
        updates = {}
        for row, sample_id in enumerate(sample_ids):
            new = [columns[suffix][row] for suffix in columns]
            if list(stored[sample_id]) != new:
                updates[sample_id] = {field: value for field, value, old in zip(fields, new, stored[sample_id]) if value != old}
        details["tagged"] = getattr(dataset.load_run_results(key, cache=False), "tagged", None) or {}
        details["fields"] = _owned_fields(dataset, key)
        details["review_view"] = _owned_review_view(dataset, key)
        details["map"] = _map_of(key, details)
    writer.commit({
        "key": key,
        "drop_fields": [],
        "drop_view": None,
        "drop_map": _owned_map(dataset, key),
        "drop_run": key,
        "renames": {},
        "updates": updates,
        "run": _run_record(method, parameters, sample_ids, decisions, details),
    })  # fmt: skip
    return RedundancyRun(dataset, key)


def store_run(writer, samples, method, parameters, sample_ids, decisions, details,
              extra_fields=None):  # fmt: skip
    """Write ``decisions`` (index-aligned with ``sample_ids``) as fields and register the
    run under ``writer.key``, all or nothing, even if the process is killed.

    ``extra_fields`` maps more field suffixes to ``(field type, values)``. The values go
    to staging fields named after this attempt; then one update records the commit in
    the key's lease, and the commit drops the previous run's fields (so samples outside
    the new view keep no stale values), renames the staging fields into place, and
    registers the run. Killed before that update, the next call drops the staging
    fields (the old run stays); after it, the next call completes the commit.
    """
    dataset, key = samples._dataset, writer.key
    with timed(details["timings"], "write"):
        columns = _columns(sample_ids, decisions)
        field_types = dict(FIELD_TYPES)
        for suffix, (field_type, values) in (extra_fields or {}).items():
            field_types[suffix] = field_type
            columns[suffix] = values
        staging = {writer.staging_name(f"{key}_{suffix}"): f"{key}_{suffix}" for suffix in field_types}
        writer.record_staging(staging)
        for (stage, final), field_type in zip(staging.items(), field_types.values()):
            dataset.add_sample_field(stage, field_type)
            checkpoint(f"staging:{final}")
        write_columns(dataset, sample_ids, dict(zip(staging, columns.values())))

        previous = dataset.has_run(key)
        if previous:  # the tags an earlier run of this key added stay removable by untag
            details["tagged"] = getattr(dataset.load_run_results(key, cache=False), "tagged", None) or {}
        details["fields"] = list(staging.values())
        details["review_view"] = review_view_name(key)
        details["map"] = _map_of(key, details)
    writer.commit({
        "key": key,
        "drop_fields": _owned_fields(dataset, key) if previous else [],
        "drop_view": _owned_review_view(dataset, key) if previous else None,
        "drop_map": _owned_map(dataset, key) if previous else None,
        "drop_run": key if previous else None,
        "drop_folders": _owned_folders(dataset, key) if previous else [],
        "renames": staging,
        "run": _run_record(method, parameters, sample_ids, decisions, details),
    })  # fmt: skip
    return RedundancyRun(dataset, key)


WRITE_BATCH = 10_000


def write_columns(dataset, sample_ids, columns):
    """Write ``columns`` (field name -> values index-aligned with ``sample_ids``; the
    fields declared already) in bulk updates of ``WRITE_BATCH`` samples, each setting
    every field of one sample: 1.8 s for four fields of 50,000 samples, where one
    ``set_values`` per field took 8.7 s (``benchmarks/features_cifar.py --write-back``)."""
    fields = {name: dataset.get_field(name) for name in columns}
    for start in range(0, len(sample_ids), WRITE_BATCH):
        rows = {
            sample_ids[row]: {
                name: None if values[row] is None else fields[name].to_mongo(values[row]) for name, values in columns.items()
            }
            for row in range(start, min(start + WRITE_BATCH, len(sample_ids)))
        }
        _bulk_set(dataset, rows)
        checkpoint(f"written:{start + len(rows)}")


def _owned_folders(dataset, key):
    """The folders run ``key`` keeps on disk (its update store, ``bridge.update_store``),
    where its record says this dataset wrote them: a clone copies the record, never the
    right to delete the original's folder."""
    results = dataset.load_run_results(key, cache=False)
    store = getattr(results, "update_store", None) if results is not None else None
    return [store["folder"]] if store and store.get("dataset_id") == str(dataset._doc.id) else []


@documented
def delete_run(dataset, key):
    """Delete the run under ``key`` and the fields, review view and reviews it owns, and
    take back the review tags its reviews added (a sample another run's review with the
    same tag covers keeps it).

    Args:

    Returns:
        ``{tag: samples untagged}``
    """
    with RunWriter(dataset, key) as writer:
        _require_run(dataset, key)
        writer.commit({
            "key": key,
            "drop_fields": _owned_fields(dataset, key),
            "drop_view": _owned_review_view(dataset, key),
            "drop_map": _owned_map(dataset, key),
            "drop_run": key,
            "drop_folders": _owned_folders(dataset, key),
            "renames": {},
            "run": None,
        })  # fmt: skip
    untagged = _untag_reviews(dataset, key)
    _reviews().delete_many({"dataset_id": str(dataset._doc.id), "key": key})
    return untagged


def _untag_reviews(dataset, key):
    """Remove the tags the reviews of run ``key`` added (``added``: the samples that did
    not have them) where no review of another run with the same tag covers the sample;
    that review inherits the right to remove it later. ``{tag: samples untagged}``."""
    reviews = list(_reviews().find({"dataset_id": str(dataset._doc.id), "key": key, "tag": {"$ne": None}}))
    untagged = {}
    for tag in sorted({review["tag"] for review in reviews if review.get("tag")}):
        added = sorted({sample_id for review in reviews if review.get("tag") == tag for sample_id in review.get("added", [])})
        others = {"dataset_id": str(dataset._doc.id), "key": {"$ne": key}, "tag": tag}
        kept = set()
        for heir in _reviews().find({**others, "$or": [{"a": {"$in": added}}, {"b": {"$in": added}}]}):
            covered = {heir["a"], heir["b"]} & set(added)
            kept |= covered
            _reviews().update_one({"_id": heir["_id"]}, {"$addToSet": {"added": {"$each": sorted(covered)}}})
        tagged = dataset.select([sample_id for sample_id in added if sample_id not in kept]).match_tags(tag)
        untagged[tag] = len(tagged)
        tagged.untag_samples(tag)
    return {tag: count for tag, count in untagged.items() if count}


@documented
def rename_run(dataset, key, new_key):
    """Rename a run, its fields and its review view; every target name is checked
    before anything changes.

    Args:
        new_key: its new key

    Returns:
        the renamed :class:`RedundancyRun`
    """
    check_key_name(new_key)
    if new_key == key:
        return RedundancyRun(dataset, key)
    with holding(dataset, [key, new_key]) as writers:
        writers[0].commit({**_renaming(dataset, key, new_key), "key": new_key, "drop_run": key})
        _reviews().update_many({"dataset_id": str(dataset._doc.id), "key": key}, {"$set": {"key": new_key}})
    return RedundancyRun(dataset, new_key)


def rename_in_place(dataset, key, new_key):
    """``rename_run`` but for the move of the run record, which FiftyOne's own
    ``rename_run`` makes right after (``run_hooks.AnalysisRun.rename``): the fields,
    review view and reviews follow ``new_key``, and the record, still under ``key``,
    names them."""
    check_key_name(new_key)
    with holding(dataset, [key, new_key]) as writers:
        writers[0].commit({**_renaming(dataset, key, new_key), "key": key, "fields_key": new_key, "drop_run": None})
        _reviews().update_many({"dataset_id": str(dataset._doc.id), "key": key}, {"$set": {"key": new_key}})


def _renaming(dataset, key, new_key):
    """The change that renames run ``key`` to ``new_key`` (its fields, review view and
    record), after checking every target name; the caller holds both keys' leases."""
    run = RedundancyRun(dataset, key)
    old_fields = run.fields
    # the fields named after the key follow it; one the user named (a repaired split) stays
    named = set(getattr(run._results, "repairs", None) or {})
    new_fields = [name if name in named else new_key + name[len(key) :] for name in old_fields]
    if dataset.has_run(new_key):
        raise ValueError(f"run key {new_key!r} is already taken on {dataset.name!r}")
    schema = dataset.get_field_schema()
    taken = [new for old, new in zip(old_fields, new_fields) if new != old and new in schema]
    if taken:
        raise ValueError(
            f"fields {taken} already exist on dataset {dataset.name!r}; rename or delete "
            f"them, or choose another key than {new_key!r}"
        )
    twins = [k for k in dataset.list_runs() if k != key and k.lower() == new_key.lower()]
    if twins:
        raise ValueError(f"run key {new_key!r} differs only in case from run {twins[0]!r}; choose another key")
    holder = _saved_view_holder(dataset, review_view_name(new_key))
    owned_view = _owned_review_view(dataset, key)
    if holder is not None and holder != owned_view:
        raise _view_taken_error(dataset, holder, new_key)
    details = run.stored_details
    _check_map_free(dataset, new_key, _map_of(new_key, details))
    results = {"counts": run.counts, **details, "fields": new_fields, "review_view": review_view_name(new_key),
               "map": _map_of(new_key, details), "version": VERSION}  # fmt: skip
    return {
        "drop_fields": [],
        "drop_view": owned_view,
        "drop_map": _owned_map(dataset, key),
        "renames": {old: new for old, new in zip(old_fields, new_fields) if new != old},
        "run": {"method": METHOD_PREFIX + run.method, "parameters": run.parameters, "results": results},
    }


def update_results(dataset, key, change):
    """Apply ``change(results)`` to the stored results of run ``key`` and save them: the
    one way a run record is amended after its commit (tags added, representatives
    overridden). The caller holds the key's lease."""
    results = dataset.load_run_results(key, cache=False)
    change(results)
    dataset.save_run_results(key, results)


def add_fields(dataset, key, names):
    """Record the sample fields ``names`` as owned by run ``key`` (renamed and deleted
    with it), before they are written. The caller holds the key's lease."""

    def own(results):
        results.fields = list(results.fields) + [name for name in names if name not in results.fields]

    update_results(dataset, key, own)
