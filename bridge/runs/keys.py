"""Checks on a run key before anything is written: a name FiftyOne can store, free of
fields, saved views and brain runs this plugin did not create, and a replacement that
drops no samples unless asked."""

import fiftyone as fo
import fiftyone.core.utils as fou

from ..methods import method_named
from .contract import (
    METHOD_PREFIX,
    STAGING_PREFIX,
    _owned_map,
    _owned_review_view,
    map_brain_key,
    method_words,
    review_view_name,
    run_fields,
)
from .faults import ReplacementRefused


def check_key_name(key):
    """Refuse, before anything is written, a key FiftyOne cannot store as a run."""
    if not isinstance(key, str) or not key.isidentifier() or key.startswith("_"):
        raise ValueError(
            f"run key {key!r} must be a Python identifier that does not start with '_', "
            "e.g. 'wavelet'"
        )
    if key.lower().startswith(STAGING_PREFIX):
        raise ValueError(
            f"run key {key!r} starts with {STAGING_PREFIX!r}, which names this plugin's "
            "unfinished fields; choose another key, e.g. 'wavelet'"
        )


def require_dataset(dataset):
    """Refuse a view where runs are read or changed: they belong to the dataset."""
    if not isinstance(dataset, fo.Dataset):
        if isinstance(dataset, fo.DatasetView):
            raise ValueError(
                f"this needs a dataset, got a view of {dataset.dataset_name!r}: runs belong to the whole "
                f"dataset; pass fo.load_dataset({dataset.dataset_name!r})"
            )
        raise ValueError(f"this needs a FiftyOne dataset, got {type(dataset).__name__} {dataset!r:.60}")


def validate_key(samples, key, method, extra_suffixes=(), overwrite=False):
    """Check that ``key`` can hold a run of ``method`` without touching anything else:
    no other run's key equal to it but for case, no field or saved view of that name
    that this plugin did not create; and a run on fewer samples replaces the stored one
    only with ``overwrite`` (see ``check_replacement``)."""
    check_key_name(key)
    dataset = samples._dataset
    twins = [other for other in dataset.list_runs() if other != key and other.lower() == key.lower()]
    if twins:
        raise ValueError(
            f"run key {key!r} differs only in case from run {twins[0]!r} on dataset "
            f"{dataset.name!r}; their review views would collide. Choose another key"
        )
    view_holder = _saved_view_holder(dataset, review_view_name(key))
    if method_named(method).map_space:
        _check_map_free(dataset, key, map_brain_key(key))
    if dataset.has_run(key):
        existing = dataset.get_run_info(key).config.method
        if existing != METHOD_PREFIX + method:
            raise ValueError(
                f"run key {key!r} already holds {method_words(existing)} on dataset "
                f"{dataset.name!r}; choose another key or delete that run first"
            )
        owned_view = _owned_review_view(dataset, key)
        if view_holder is not None and view_holder != owned_view:
            raise _view_taken_error(dataset, view_holder, key)
        check_replacement(samples, key, overwrite)
        return
    schema = dataset.get_field_schema()
    taken = [name for name in run_fields(key, extra_suffixes) if name in schema]
    if taken:
        raise ValueError(
            f"fields {taken} already exist on dataset {dataset.name!r} but belong to no "
            f"run of this plugin; choose another key than {key!r}"
        )
    if view_holder is not None:
        raise _view_taken_error(dataset, view_holder, key)


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


def _saved_view_holder(dataset, name):
    """The saved view whose name (or URL slug, which FiftyOne keeps unique) is ``name``'s."""
    slug = fou.to_slug(name)
    for existing in dataset.list_saved_views():
        if existing == name or fou.to_slug(existing) == slug:
            return existing
    return None


def _view_taken_error(dataset, holder, key):
    return ValueError(
        f"saved view {holder!r} on dataset {dataset.name!r} was not created by this plugin; "
        f"run {key!r} would save its review view under {review_view_name(key)!r}. Rename "
        "that view or choose another key"
    )


def _check_map_free(dataset, key, name):
    """Refuse a run ``key`` whose map would replace a brain run (``name``) it did not store."""
    if name and dataset.has_brain_run(name) and (not dataset.has_run(key) or _owned_map(dataset, key) != name):
        raise ValueError(
            f"brain run {name!r} on dataset {dataset.name!r} was not created by this plugin; run "
            f"{key!r} would store its map there (for FiftyOne's Embeddings panel). Rename or delete "
            "that brain run, or choose another key"
        )
