"""What one run, or several runs together, mark: the curated view (what is kept) and the
excluded view (what is left out), keeping one member of each family whose representative
is gone."""

from functools import reduce

from fiftyone import ViewField as F

from ...core.decisions import INFLUENTIAL, OUTLIER, REDUNDANT, REPRESENTATIVE, STATUSES
from ...core.parameters import check_choice
from ..documented import documented
from ..runs import require_run

TAGGED_STATUSES = (REDUNDANT, INFLUENTIAL, OUTLIER)
EXCLUDED_STATUSES = (REDUNDANT, OUTLIER)
UNION = "union"
COMBINE = {UNION: "Drop what any run marks", "intersection": "Drop only what every run marks"}
"""How several runs' marks combine, in the words the forms offer them."""


def _run_keys(dataset, keys):
    """The run keys asked for, each checked to exist (without loading its results)."""
    keys = [keys] if isinstance(keys, str) else list(keys)
    if not keys:
        raise ValueError("choose at least one run")
    for key in keys:
        require_run(dataset, key)
    return keys


def _statuses(statuses):
    """A list of statuses from one name or several, each checked: a single string is one
    status, never its characters."""
    statuses = [statuses] if isinstance(statuses, str) else list(statuses)
    unknown = sorted(set(statuses) - set(STATUSES))
    if unknown:
        raise ValueError(f"unknown statuses {unknown}; use some of {list(STATUSES)}")
    return statuses


def _marked(key, statuses):
    return F(f"{key}_status").is_in(list(statuses))


@documented
def curated_view(dataset, keys, exclude=EXCLUDED_STATUSES, combine=UNION):
    """The samples to train on: without those the runs mark with a status in ``exclude``.
    Built from match expressions, so it can be saved whatever the dataset's size.

    Args:

    Returns:
        a view of ``dataset``
    """
    return dataset.match(~_exclusion(dataset, keys, exclude, combine))


@documented
def excluded_view(dataset, keys, exclude=EXCLUDED_STATUSES, combine=UNION):
    """The samples :func:`curated_view` leaves out.

    Args:

    Returns:
        a view of ``dataset``
    """
    return dataset.match(_exclusion(dataset, keys, exclude, combine))


def curated_part(samples, keys, exclude=EXCLUDED_STATUSES, combine=UNION):
    """:func:`curated_view` within ``samples`` (a view of the runs' dataset, such as a
    training part): the one member kept of a family is chosen among the family's members
    in ``samples``, so no family present there loses every member."""
    return samples.match(~_exclusion(samples, keys, exclude, combine))


def _exclusion(dataset, keys, exclude, combine):
    """The match expression of the samples left out of ``dataset`` (or a view of it):
    those the runs mark (all of them, or any), except the one member kept of each family
    that would otherwise lose every member (``_kept_of_families``)."""
    check_choice("combine", combine, COMBINE)
    keys, exclude = _run_keys(dataset._dataset, keys), _statuses(exclude)
    marks = reduce((lambda a, b: a | b) if combine == UNION else (lambda a, b: a & b), [_marked(key, exclude) for key in keys])
    kept = _kept_of_families(dataset, keys, exclude, marks)
    if not kept:
        return marks
    from bson import ObjectId

    return marks & ~F("_id").is_in([ObjectId(sample_id) for sample_id in kept])


def _kept_of_families(dataset, keys, exclude, marks):
    """Ids of samples kept although marked, so that no family (a group of one label: a
    representative and its redundant copies) loses every member it still has: where a
    representative was deleted, or another run marks it, the member the run ranks first
    (its representative when present, else the highest score) is kept. Nothing is kept
    back when the user leaves out representatives themselves."""
    if REPRESENTATIVE in exclude:
        return []
    excluded = set(dataset.match(marks).values("id"))
    kept = set()
    if not excluded:
        return []
    for key in keys:
        families = {}
        view = dataset.match(F(f"{key}_status").is_in([REPRESENTATIVE, REDUNDANT]))
        for sample_id, group, status, score in zip(*view.values(["id", f"{key}_group", f"{key}_status", f"{key}_score"])):
            families.setdefault(group, []).append((status != REPRESENTATIVE, -(score or 0.0), sample_id))
        for members in families.values():
            if all(sample_id in excluded and sample_id not in kept for _, _, sample_id in members):
                kept.add(min(members)[2])
    return sorted(kept)
