"""Tags for review on the samples runs mark (added and taken back under the runs' leases),
and a representative chosen by hand."""

from functools import reduce

from fiftyone import ViewField as F

from ...core.decisions import INFLUENTIAL, REDUNDANT, REPRESENTATIVE
from ..documented import documented
from ..runs import RedundancyRun, RunWriter, holding, update_results
from .views import TAGGED_STATUSES, UNION, _exclusion, _marked, _run_keys, _statuses


@documented
def tag_preview(dataset, keys, statuses=TAGGED_STATUSES, tag_names=None):
    """How many samples :func:`tag_samples` would tag (samples already tagged count).

    Args:
        statuses: the statuses whose samples are tagged

    Returns:
        ``{tag: number of samples}``
    """
    return {tag: len(view) for tag, view in _tag_views(dataset, keys, statuses, tag_names).items()}


@documented
def tag_samples(dataset, keys, statuses=TAGGED_STATUSES, tag_names=None):
    """Tag the samples each status marks in any of the runs ``keys``. Existing tags are
    kept; each run records the samples this call tagged, so :func:`untag_samples` removes
    only those.

    Args:
        statuses: the statuses whose samples are tagged

    Returns:
        ``{tag: number of samples}``, as :func:`tag_preview`
    """
    keys = _run_keys(dataset, keys)
    with holding(dataset, keys):
        views = _tag_views(dataset, keys, statuses, tag_names)
        added = {tag: view.match_tags(tag, bool=False).values("id") for tag, view in views.items()}

        def record_tags(results):
            tagged = dict(getattr(results, "tagged", None) or {})
            for tag, ids in added.items():
                tagged[tag] = sorted(set(tagged.get(tag, [])) | set(ids))
            results.tagged = tagged

        # intent before action: a kill after the record leaves tags untag_samples still removes
        for key in keys:
            update_results(dataset, key, record_tags)
        for tag, ids in added.items():
            dataset.select(ids).tag_samples(tag)
        return {tag: len(view) for tag, view in views.items()}


@documented
def untag_samples(dataset, keys, statuses=TAGGED_STATUSES, tag_names=None):
    """Remove the tags :func:`tag_samples` added through the runs ``keys`` from the
    samples they mark; a tag the sample had before (or got from elsewhere) stays.

    Args:
        statuses: the statuses whose tags are removed

    Returns:
        ``{tag: number of samples untagged}``
    """
    keys = _run_keys(dataset, keys)
    with holding(dataset, keys):
        views = _tag_views(dataset, keys, statuses, tag_names, keep_families=False)
        records = {key: dataset.load_run_results(key, cache=False) for key in keys}
        untagged = {}
        for tag, view in views.items():
            ours = set().union(*((getattr(results, "tagged", None) or {}).get(tag, []) for results in records.values()))
            untagged[tag] = {sample_id for sample_id in view.match_tags(tag).values("id") if sample_id in ours}
            dataset.select(list(untagged[tag])).untag_samples(tag)
        def forget_tags(results):
            tagged = getattr(results, "tagged", None) or {}
            results.tagged = {tag: [i for i in ids if i not in untagged.get(tag, ())] for tag, ids in tagged.items()}

        for key in keys:
            update_results(dataset, key, forget_tags)
        return {tag: len(ids) for tag, ids in untagged.items()}


def _tag_views(dataset, keys, statuses, tag_names, keep_families=True):
    """``{tag: view}`` of the samples each status marks in any of the runs; with
    ``keep_families`` the redundant tag spares the one member kept of a family that would
    otherwise have every member tagged (as ``curated_view`` keeps it)."""
    keys = _run_keys(dataset, keys)
    tag_names = tag_names or {}
    views = {}
    for status in _statuses(statuses):
        tag = tag_names.get(status, status)
        expression = reduce(lambda a, b: a | b, [_marked(key, [status]) for key in keys])
        if status == REDUNDANT and keep_families:
            expression = _exclusion(dataset, keys, [REDUNDANT], UNION)
        views[tag] = dataset.match(expression)
    return views


@documented
def set_representative(dataset, key, sample_id):
    """Make ``sample_id`` the kept member of its group in run ``key``: the group's
    statuses and representative fields change, nothing else; the run records the
    override. Refused for groups of mixed labels and for train-vs-test runs.

    Args:
        sample_id: the id of a sample in one of the run's groups

    Returns:
        the :class:`RedundancyRun`
    """
    with RunWriter(dataset, key):
        run = RedundancyRun(dataset, key)
        if run.method_info.compares_splits:
            raise ValueError(
                f"run {key!r} compares a test split with a training split: its representatives "
                "are the training images that test images leak from, not a choice to override. "
                "Drop or move the leaked test samples instead"
            )
        sample = dataset[sample_id]
        group = sample[f"{key}_group"]
        if group is None or group < 0:
            raise ValueError(f"sample {sample_id} is in no group of run {key!r}")
        members = dataset.match(F(f"{key}_group") == group)
        if sample[f"{key}_status"] == INFLUENTIAL:
            raise ValueError(
                f"group {group} of run {key!r} mixes labels (influential): it has no "
                "representative to change; relabel its samples or tag them for review"
            )
        previous = members.match(F(f"{key}_status") == REPRESENTATIVE).values("id")
        ids = members.values("id")
        members.set_values(f"{key}_status", [REPRESENTATIVE if i == sample_id else REDUNDANT for i in ids])
        members.set_values(f"{key}_representative", [None if i == sample_id else sample_id for i in ids])
        override = {"group": int(group), "representative": sample_id, "previous": previous[0] if previous else None}

        def record_override(results):
            results.overrides = list(getattr(results, "overrides", None) or []) + [override]

        update_results(dataset, key, record_override)
        return RedundancyRun(dataset, key)
