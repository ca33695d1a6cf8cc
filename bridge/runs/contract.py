"""The contract every run of this plugin keeps in the database (DESIGN.md): the fields
``{key}_status``, ``{key}_group``, ``{key}_representative`` and ``{key}_score`` on each
sample of the analysed view, a review view and (for runs with a map) a brain
visualization run named after the key, a run record whose config carries ``method``
(``redundancy.<analysis>``) and the parameters, and the collections beside the datasets.
"""

from datetime import datetime, timezone

import fiftyone as fo
import fiftyone.core.odm as foo
from fiftyone import ViewField as F

from ...core.decisions import REPRESENTATIVE
from ...version import VERSION
from ..methods import METHODS

METHOD_PREFIX = "redundancy."
STAGING_PREFIX = "redundancy_staging_"
FIELD_TYPES = {
    "status": fo.StringField,
    "group": fo.IntField,
    "representative": fo.StringField,
    "score": fo.FloatField,
}
EXTRA_SUFFIXES = ("best_match", "best_similarity", "crossings", "embedding", "repair")
"""Field suffixes beyond the contract that some runs write (split runs, the probe,
feature-map runs that store their features), and the staging field of a split repair
(whose field the user names)."""
LEASES = "redundancy_leases"
STAGING_LEDGER = "redundancy_staging_fields"
"""One document per staging field a writer is about to create (dataset, key, attempt,
name): the only record by which a staging field is ever deleted, so a user's field is
never taken for one because of its name. A dead attempt's entries stay, so a write of
its that lands late is still known."""
UPDATE_STORE_FILES = ("images.npy", "pairs.npz", "embeddings.npy", "paths.json")
"""The files an update store holds (``bridge.update_store``): all a run ever writes in the
folder its record names, and all that removing that folder deletes (``embeddings.npy``:
written by 0.5.0's stores only)."""
COMMIT_FILES = "redundancy_commits"
REVIEWS = "redundancy_reviews"
"""Pair-review decisions of each run (``bridge/review.py``): a document per reviewed pair,
so that a decision is one write and reviewers working at once never overwrite each other."""
ENDINGS = "redundancy_endings"
"""How each analysis that stored no run ended (failed or cancelled), one document per
dataset and key, so a run started in a tab closed since still says what became of it."""


def run_fields(key, extra_suffixes=()):
    """The sample fields a run under ``key`` owns: the contract's, plus any extras."""
    return [f"{key}_{suffix}" for suffix in (*FIELD_TYPES, *extra_suffixes)]


def review_view_name(key):
    """Every run saves its groups (largest first, representative first) under this name."""
    return f"{key}-review"


def map_brain_key(key):
    """Runs with a map store it as a brain visualization run under this key."""
    return f"{key}_map"


def _map_of(key, details):
    """The brain key under which run ``key``, stored with ``details``, keeps its map (None:
    a run without a map)."""
    return map_brain_key(key) if "points" in details else None


def method_words(stored):
    """A stored run's method as a user reads it: ``a run of SSIM`` for this plugin's
    (never its internal name), ``a run of method 'x'`` for another tool's."""
    name = (stored or "")[len(METHOD_PREFIX) :] if (stored or "").startswith(METHOD_PREFIX) else None
    if name in METHODS:
        return f"a run of {METHODS[name].label}"
    return f"a run of method {stored!r}" if name is None else "a run of an unknown analysis of this plugin"


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


def _columns(sample_ids, decisions):
    """The contract's field values per suffix, index-aligned with ``sample_ids``."""
    return {
        "status": [str(status) for status in decisions.status],
        "group": [int(group) for group in decisions.group],
        "representative": [sample_ids[i] if i >= 0 else None for i in decisions.representative],
        "score": [float(score) for score in decisions.score],
    }


def _run_record(method, parameters, sample_ids, decisions, details):
    """The run record a commit registers: method, parameters, and results with counts."""
    results = {"counts": decisions.counts(), "n_samples": len(sample_ids), **details, "version": VERSION}
    return {"method": METHOD_PREFIX + method, "parameters": parameters, "results": results}


def _groups_view(dataset, key):
    """Samples in groups, group by group (largest first), each representative first."""
    group, status = f"{key}_group", f"{key}_status"
    return dataset.match(F(group) >= 0).sort_by([(F(group), 1), ((F(status) == REPRESENTATIVE), -1)])


def _owned_fields(dataset, key):
    results = dataset.load_run_results(key, cache=False)
    return list(getattr(results, "fields", None) or run_fields(key))


def _owned_review_view(dataset, key):
    """The review view run ``key`` saved (runs stored before this was recorded: its
    standard name)."""
    results = dataset.load_run_results(key, cache=False)
    return getattr(results, "review_view", review_view_name(key)) if results is not None else None


def _owned_map(dataset, key):
    """The brain visualization run that run ``key`` stored (None: none, or a run stored
    before maps were)."""
    results = dataset.load_run_results(key, cache=False)
    return getattr(results, "map", None) if results is not None else None


def _now():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _leases():
    return foo.get_db_conn()[LEASES]


def _reviews():
    return foo.get_db_conn()[REVIEWS]


def _ledger():
    return foo.get_db_conn()[STAGING_LEDGER]
