"""What users do with a run's decisions: tag for review, override a representative, build
the curated view (one run, or the union/intersection of several), export it with a
manifest of what was left out, and (only when confirmed) delete."""

import csv
import os
import shutil
from functools import reduce

import fiftyone as fo
from fiftyone import ViewField as F

from ..core.decisions import INFLUENTIAL, OUTLIER, REDUNDANT, REPRESENTATIVE, STATUSES
from .runs import RedundancyRun, RunWriter, holding, require_run
from .samples import is_classification

TAGGED_STATUSES = (REDUNDANT, INFLUENTIAL, OUTLIER)
EXCLUDED_STATUSES = (REDUNDANT, OUTLIER)
COMBINE = ("union", "intersection")
EXPORT_FORMATS = {
    "FiftyOneDataset": fo.types.FiftyOneDataset,
    "ImageClassificationDirectoryTree": fo.types.ImageClassificationDirectoryTree,
    "COCO": fo.types.COCODetectionDataset,
    "YOLO": fo.types.YOLOv5Dataset,
    "CSV": fo.types.CSVDataset,
}
MANIFEST_COLUMNS = ("filepath", "label", "status", "run_key", "representative_filepath", "score")


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


def tag_preview(dataset, keys, statuses=TAGGED_STATUSES, tag_names=None):
    """``{tag: number of samples it would be added to}`` (samples already tagged count)."""
    return {tag: len(view) for tag, view in _tag_views(dataset, keys, statuses, tag_names).items()}


def tag_samples(dataset, keys, statuses=TAGGED_STATUSES, tag_names=None):
    """Tag the samples each status marks in any of the runs ``keys`` (tag name: the status,
    or ``tag_names[status]``). Existing tags are kept; each run records the samples this
    call tagged, so ``untag_samples`` removes only those. Returns ``tag_preview``'s counts."""
    keys = _run_keys(dataset, keys)
    with holding(dataset, keys):
        views = _tag_views(dataset, keys, statuses, tag_names)
        added = {}
        for tag, view in views.items():
            added[tag] = view.match_tags(tag, bool=False).values("id")
            view.tag_samples(tag)
        for key in keys:
            results = dataset.load_run_results(key, cache=False)
            tagged = dict(getattr(results, "tagged", None) or {})
            for tag, ids in added.items():
                tagged[tag] = sorted(set(tagged.get(tag, [])) | set(ids))
            results.tagged = tagged
            dataset.save_run_results(key, results)
        return {tag: len(view) for tag, view in views.items()}


def untag_samples(dataset, keys, statuses=TAGGED_STATUSES, tag_names=None):
    """Remove the tags ``tag_samples`` added through the runs ``keys`` from the samples
    they mark; a tag the sample had before (or got from elsewhere) stays. Returns
    ``{tag: number of samples untagged}``."""
    keys = _run_keys(dataset, keys)
    with holding(dataset, keys):
        views = _tag_views(dataset, keys, statuses, tag_names)
        records = {key: dataset.load_run_results(key, cache=False) for key in keys}
        untagged = {}
        for tag, view in views.items():
            ours = set().union(*((getattr(results, "tagged", None) or {}).get(tag, []) for results in records.values()))
            untagged[tag] = {sample_id for sample_id in view.match_tags(tag).values("id") if sample_id in ours}
            dataset.select(list(untagged[tag])).untag_samples(tag)
        for key, results in records.items():
            tagged = getattr(results, "tagged", None)
            if tagged:
                results.tagged = {tag: [i for i in ids if i not in untagged.get(tag, ())] for tag, ids in tagged.items()}
                dataset.save_run_results(key, results)
        return {tag: len(ids) for tag, ids in untagged.items()}


def _tag_views(dataset, keys, statuses, tag_names):
    keys = _run_keys(dataset, keys)
    tag_names = tag_names or {}
    views = {}
    for status in _statuses(statuses):
        tag = tag_names.get(status, status)
        expression = reduce(lambda a, b: a | b, [_marked(key, [status]) for key in keys])
        views[tag] = dataset.match(expression)
    return views


def set_representative(dataset, key, sample_id):
    """Make ``sample_id`` the kept member of its group in run ``key``: the group's
    statuses and representative fields change, nothing else; the run records the
    override."""
    with RunWriter(dataset, key):
        run = RedundancyRun(dataset, key)
        if run.method == "split_similarity":
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
        results = run._results
        results.overrides = list(getattr(results, "overrides", None) or []) + [
            {"group": int(group), "representative": sample_id, "previous": previous[0] if previous else None}
        ]
        dataset.save_run_results(key, results)
        return RedundancyRun(dataset, key)


def curated_view(dataset, keys, exclude=EXCLUDED_STATUSES, combine="union"):
    """The samples to train on: without those the runs mark with a status in ``exclude``.

    ``combine="union"`` drops a sample that any run marks; ``"intersection"`` only one that
    every run marks (e.g. drop only what both the wavelet and the SSIM run call redundant).
    Built from match expressions, so it can be saved whatever the dataset's size.
    """
    return dataset.match(~_exclusion(dataset, keys, exclude, combine))


def excluded_view(dataset, keys, exclude=EXCLUDED_STATUSES, combine="union"):
    """The samples ``curated_view`` leaves out."""
    return dataset.match(_exclusion(dataset, keys, exclude, combine))


def _exclusion(dataset, keys, exclude, combine):
    if combine not in COMBINE:
        raise ValueError(f"combine must be one of {COMBINE}, got {combine!r}")
    marks = [_marked(key, _statuses(exclude)) for key in _run_keys(dataset, keys)]
    return reduce((lambda a, b: a | b) if combine == "union" else (lambda a, b: a & b), marks)


def write_manifest(dataset, keys, path, exclude=EXCLUDED_STATUSES, combine="union", label_field=None):
    """CSV of every excluded sample: file, label, status, run key, representative's file,
    score (one row per run that marks it). Returns the number of excluded samples."""
    keys, exclude = _run_keys(dataset, keys), _statuses(exclude)
    dropped = excluded_view(dataset, keys, exclude, combine)
    filepaths = dict(zip(dataset.values("id"), dataset.values("filepath")))
    labels = _labels(dropped, label_field)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MANIFEST_COLUMNS)
        dropped_paths = dropped.values("filepath")
        for key in keys:
            statuses = dropped.values(f"{key}_status")
            representatives = dropped.values(f"{key}_representative")
            scores = dropped.values(f"{key}_score")
            for index, filepath in enumerate(dropped_paths):
                if statuses[index] in exclude:
                    writer.writerow([filepath, labels[index], statuses[index], key,
                                     filepaths.get(representatives[index], ""), scores[index]])  # fmt: skip
    return len(dropped)


def _labels(view, label_field):
    """Manifest labels: a classification's label, else the field's value (any type)."""
    if label_field is None:
        return [""] * len(view)
    if is_classification(view.get_field(label_field)):
        return view.values(f"{label_field}.label")
    return view.values(label_field)


def export_curated(dataset, keys, export_dir, dataset_type="FiftyOneDataset", label_field=None,
                   exclude=EXCLUDED_STATUSES, combine="union", export_media=True,
                   new_dataset=None, saved_view=None, overwrite=False, progress=None):  # fmt: skip
    """Export the curated view to ``export_dir`` in a standard format, with
    ``excluded.csv`` listing every excluded sample; optionally also as a new FiftyOne
    dataset (``new_dataset``: its name) or a saved view (``saved_view``: its name).
    An ``export_dir`` that holds files is refused unless ``overwrite`` (then it is emptied
    first, so no file of an earlier export lingers). Returns what happened: counts kept
    and dropped by status, and the paths."""
    if os.path.isdir(export_dir) and os.listdir(export_dir):
        if not overwrite:
            raise FileExistsError(
                f"{export_dir} is not empty; choose another folder or pass overwrite=True"
            )
        shutil.rmtree(export_dir)
    if dataset_type not in EXPORT_FORMATS:
        raise ValueError(f"dataset_type must be one of {sorted(EXPORT_FORMATS)}, got {dataset_type!r}")
    exclude = _statuses(exclude)
    kept = curated_view(dataset, keys, exclude, combine)
    kwargs = {}
    if dataset_type == "CSV":
        fields = {"filepath": "filepath"}
        if label_field:
            fields[f"{label_field}.label" if is_classification(dataset.get_field(label_field)) else label_field] = "label"
        kwargs = dict(fields=fields, abs_paths=True, export_media=False)
    else:
        if dataset_type != "FiftyOneDataset" and label_field is None:
            raise ValueError(f"exporting as {dataset_type} needs a label_field")
        if label_field is not None:
            kwargs["label_field"] = label_field
        kwargs["export_media"] = export_media
        if dataset_type in ("COCO", "YOLO") and is_classification(dataset.get_field(label_field)):
            raise ValueError(
                f"{dataset_type} holds detections; {label_field!r} holds classifications: "
                "export as ImageClassificationDirectoryTree, FiftyOneDataset or CSV"
            )
    kept.export(export_dir=export_dir, dataset_type=EXPORT_FORMATS[dataset_type], progress=progress, **kwargs)
    manifest = os.path.join(export_dir, "excluded.csv")
    n_dropped = write_manifest(dataset, keys, manifest, exclude, combine, label_field)
    dropped = excluded_view(dataset, keys, exclude, combine)
    dropped_by_status = {}
    for key in _run_keys(dataset, keys):
        counts = dropped.count_values(f"{key}_status")
        dropped_by_status[key] = {status: counts.get(status, 0) for status in exclude}
    if new_dataset:
        kept.clone(new_dataset, persistent=True)
    if saved_view:
        dataset.save_view(saved_view, kept, overwrite=True)
    return {
        "export_dir": export_dir,
        "manifest": manifest,
        "kept": len(kept),
        "dropped": n_dropped,
        "dropped_by_status": dropped_by_status,
    }


def delete_excluded(dataset, keys, manifest_path, confirm=False, exclude=EXCLUDED_STATUSES,
                    combine="union", label_field=None):  # fmt: skip
    """Delete the excluded samples from the dataset: only with ``confirm=True``, and only
    after writing their manifest to ``manifest_path``. Returns how many were deleted."""
    if confirm is not True:
        raise PermissionError(
            "deleting samples from the dataset needs confirm=True; export the curated view "
            "instead to leave the dataset as it is"
        )
    count = write_manifest(dataset, keys, manifest_path, exclude, combine, label_field)
    dataset.delete_samples(excluded_view(dataset, keys, exclude, combine))
    return count
