"""What users do with a run's decisions: tag for review, override a representative, build
the curated view (one run, or the union/intersection of several), export it with a
manifest of what was left out, and (only when confirmed) delete."""

import csv
import json
import os
import secrets
import shutil
import socket
import unicodedata
from datetime import datetime, timezone
from functools import reduce

import yaml

import fiftyone as fo
import fiftyone.core.odm as foo
from fiftyone import ViewField as F

from ..core.decisions import INFLUENTIAL, OUTLIER, REDUNDANT, REPRESENTATIVE, STATUSES
from ..core.parameters import check_choice, check_flag
from .documented import documented
from .runs import RedundancyRun, RunWriter, holding, list_runs, require_run, review_view_name, update_results
from .samples import classification_fields, is_classification

TAGGED_STATUSES = (REDUNDANT, INFLUENTIAL, OUTLIER)
EXCLUDED_STATUSES = (REDUNDANT, OUTLIER)
UNION = "union"
COMBINE = {UNION: "Drop what any run marks", "intersection": "Drop only what every run marks"}
"""How several runs' marks combine, in the words the forms offer them."""
EXPORT_FORMATS = {
    "FiftyOneDataset": fo.types.FiftyOneDataset,
    "ImageClassificationDirectoryTree": fo.types.ImageClassificationDirectoryTree,
    "COCO": fo.types.COCODetectionDataset,
    "YOLO": fo.types.YOLOv5Dataset,
    "CSV": fo.types.CSVDataset,
}
MANIFEST_COLUMNS = ("filepath", "label", "status", "run_key", "representative_filepath", "score")
EXPORT_RECORD = "redundancy-export.json"  # in every export folder: what it holds, and that this plugin wrote it
EXPORT_WRITER = "fiftyone-redundancy"
EXPORT_WORKSPACES = "redundancy_export_workspaces"
"""One document per export in progress, naming its hidden staging folder before it is made:
the next export removes a killed one's folder because this record names it, never by its name."""
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FOLDER_NAME_LIMIT = 200


def spreadsheet_safe(cell):
    """A CSV cell a spreadsheet shows as text: a string starting with ``= + - @``, a tab or
    a carriage return (read as a formula) gets a leading ``'``; numbers stay numbers."""
    return f"'{cell}" if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) else cell


def safe_folder_name(label):
    """``label`` as one folder name that cannot leave its parent: path separators, control
    and other non-printable characters become ``_``, leading and trailing spaces and dots
    go, an empty result is ``_``, and it is cut to ``FOLDER_NAME_LIMIT`` characters."""
    name = "".join(
        "_" if char in "/\\:" or unicodedata.category(char).startswith("C") else char for char in str(label)
    ).strip(" .")
    return name[:FOLDER_NAME_LIMIT] or "_"


def label_folders(labels):
    """``{label: folder name}`` for the labels whose name is not a safe folder name as it
    stands; two labels never share a folder (a clash gets ``_2``, ``_3``...)."""
    labels = sorted({label for label in labels if label is not None}, key=str)
    taken = {label for label in labels if safe_folder_name(label) == label}
    folders = {}
    for label in labels:
        if label in taken:
            continue
        name, number = safe_folder_name(label), 2
        while name in taken:
            name, number = f"{safe_folder_name(label)[:FOLDER_NAME_LIMIT - 8]}_{number}", number + 1
        taken.add(name)
        folders[label] = name
    return folders


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


def _exclusion(dataset, keys, exclude, combine):
    """The match expression of the samples left out: those the runs mark (all of them, or
    any), except the one member kept of each family that would otherwise lose every
    member (``_kept_of_families``)."""
    check_choice("combine", combine, COMBINE)
    keys, exclude = _run_keys(dataset, keys), _statuses(exclude)
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


@documented
def write_manifest(dataset, keys, path, exclude=EXCLUDED_STATUSES, combine=UNION, label_field=None):
    """CSV of every excluded sample: file, label, status, run key, representative's file,
    score (one row per run that marks it). An existing file at ``path`` is never replaced
    (it may be the record of an earlier deletion): the CSV is written to a temporary
    sibling and moved into place.

    Args:
        path: the CSV file to write (a new file)
        label_field: a ``Classification`` field for the label column

    Returns:
        the number of excluded samples
    """
    keys, exclude = _run_keys(dataset, keys), _statuses(exclude)
    _check_label_field(dataset, label_field)
    _check_new_file(path)
    return _write_rows(dataset, keys, path, excluded_view(dataset, keys, exclude, combine), exclude, label_field)


def _write_rows(dataset, keys, path, dropped, exclude, label_field):
    """Write the manifest of the samples of ``dropped`` (see :func:`write_manifest`)."""
    filepaths = dict(zip(dataset.values("id"), dataset.values("filepath")))
    labels = _labels(dropped, label_field)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = f"{path}.writing"
    try:
        with open(partial, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(MANIFEST_COLUMNS)
            dropped_paths = dropped.values("filepath")
            for key in keys:
                statuses = dropped.values(f"{key}_status")
                representatives = dropped.values(f"{key}_representative")
                scores = dropped.values(f"{key}_score")
                for index, filepath in enumerate(dropped_paths):
                    if statuses[index] in exclude:
                        row = [filepath, labels[index], statuses[index], key,
                               filepaths.get(representatives[index], ""), scores[index]]  # fmt: skip
                        writer.writerow([spreadsheet_safe(cell) for cell in row])
        _check_new_file(path)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return len(dropped)


def _check_new_file(path):
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a folder; give the manifest a file name such as {os.path.join(path, 'deleted.csv')}")
    if os.path.lexists(path):
        raise FileExistsError(f"{path} already exists and is never replaced; choose a new file name for the manifest")


def _check_label_field(dataset, label_field):
    if label_field is not None and not dataset.has_sample_field(label_field):
        raise ValueError(
            f"label_field {label_field!r} does not exist on dataset {dataset.name!r}; "
            f"its label fields are {classification_fields(dataset)}"
        )


def _labels(view, label_field):
    """Manifest labels: a classification's label, else the field's value (any type)."""
    if label_field is None:
        return [""] * len(view)
    if is_classification(view.get_field(label_field)):
        return view.values(f"{label_field}.label")
    return view.values(label_field)


def export_dir_problem(export_dir, overwrite=False, overwrite_hint="pass overwrite=True", dataset=None):
    """Why ``export_dir`` cannot receive an export now, or None when it can.

    A missing or empty folder can; a folder holding an earlier export of this plugin
    (recognised by its ``redundancy-export.json``, which lists the files it wrote) only
    with ``overwrite`` (its ``overwrite_hint`` says how to ask): those files alone are
    replaced. Any other non-empty folder never, and, given ``dataset``, never a folder that
    holds or lies inside a folder of the dataset's media."""
    if os.path.lexists(export_dir) and not os.path.isdir(export_dir):
        return f"{export_dir} is a file, not a folder; choose a folder to export into"
    if dataset is not None:
        problem = _media_problem(dataset, export_dir)
        if problem:
            return problem
    if not os.path.isdir(export_dir) or not os.listdir(export_dir):
        return None
    record = _earlier_export(export_dir)
    if record is None:
        found = sorted(os.listdir(export_dir))
        shown = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
        return (
            f"{export_dir} holds files that no export of this plugin wrote ({shown}); "
            "they are never deleted: choose an empty or new folder"
        )
    if not overwrite:
        return f"{export_dir} holds an earlier export; {overwrite_hint} to replace it, or choose another folder"
    if not isinstance(record.get("files"), list):
        return (
            f"{export_dir} holds an export by an earlier version of this plugin, which did not "
            "record the files it wrote, so none of them can be told from yours; delete that "
            "export yourself or choose another folder"
        )
    return None


def _media_problem(dataset, export_dir):
    """Why ``export_dir`` must not receive an export of ``dataset``: it holds media files
    of the dataset, or lies inside a folder that does (replacing an export there could
    replace the media the dataset points at). None when it is apart from them."""
    target = os.path.realpath(export_dir)
    folders = {os.path.dirname(path) for path in dataset.values("filepath")}
    for folder in sorted({os.path.realpath(folder) for folder in folders}):
        if folder == target or folder.startswith(target.rstrip(os.sep) + os.sep):
            return (
                f"{export_dir} holds media files of dataset {dataset.name!r} (in {folder}); an "
                "export there could replace them: choose a folder outside the dataset's media"
            )
        if target.startswith(folder.rstrip(os.sep) + os.sep):
            return (
                f"{export_dir} lies inside {folder}, a folder of dataset {dataset.name!r}'s media "
                "files; choose a folder outside the dataset's media"
            )
    return None


def _earlier_export(export_dir):
    """The record of the earlier export of this plugin in ``export_dir``, or None."""
    try:
        with open(os.path.join(export_dir, EXPORT_RECORD)) as handle:
            record = json.load(handle)
        return record if record.get("written_by") == EXPORT_WRITER else None
    except (OSError, ValueError, AttributeError):
        return None


def _listed_files(export_dir, record):
    """The files an earlier export's record lists that are still plain files inside
    ``export_dir`` (a listed path leading outside it, or through a link, is ignored)."""
    root = os.path.realpath(export_dir)
    listed = []
    for relative in record.get("files", []):
        if not isinstance(relative, str) or os.path.isabs(relative):
            continue
        path = os.path.normpath(os.path.join(root, relative))
        if os.path.realpath(path) != path or not path.startswith(root + os.sep):
            continue
        if os.path.isfile(path) and not os.path.islink(path):
            listed.append(os.path.relpath(path, root))
    return listed


def _written_files(folder):
    """Every file under ``folder``, relative to it, sorted."""
    return sorted(
        os.path.relpath(os.path.join(parent, name), folder) for parent, _, names in os.walk(folder) for name in names
    )


class ExportRefused(FileExistsError):
    """The export folder cannot be written (see ``export_dir_problem``); nothing changed."""


@documented
def export_curated(dataset, keys, export_dir, dataset_type="FiftyOneDataset", label_field=None,
                   exclude=EXCLUDED_STATUSES, combine=UNION, export_media=True,
                   new_dataset=None, saved_view=None, overwrite=False, progress=None):  # fmt: skip
    """Export the curated view (:func:`curated_view`) to ``export_dir`` in a standard
    format, with ``excluded.csv`` listing every excluded sample and
    ``redundancy-export.json`` recording the export and every file it wrote.

    Every argument is checked before anything is written. The export is written to a
    temporary sibling folder and moved in only once complete, so a failure leaves
    ``export_dir`` as it was. A folder holding or inside the dataset's media is refused;
    in a directory tree, labels that are not safe folder names are written under safe
    ones (the record maps them).

    Args:
        export_dir: a new or empty folder, or one holding an earlier export of this plugin
        dataset_type: the format, a key of ``EXPORT_FORMATS``
        label_field: the labels exported with the samples (needed by every format but
            FiftyOneDataset) and in the label column of ``excluded.csv``
        export_media: also copy the media files
        new_dataset: also clone the curated view as a new dataset of this name
        saved_view: also save the curated view under this name
        overwrite: replace an earlier export of this plugin in ``export_dir`` (only the
            files its record lists; files added since stay) and a saved view
            ``saved_view``; a folder holding anything else is never emptied

    Returns:
        a dict of what happened: counts kept and dropped by status, and the paths
    """
    keys = _run_keys(dataset, keys)
    if dataset_type not in EXPORT_FORMATS:
        raise ValueError(f"dataset_type must be one of {sorted(EXPORT_FORMATS)}, got {dataset_type!r}")
    check_choice("combine", combine, COMBINE)
    exclude = _statuses(exclude)
    _check_label_field(dataset, label_field)
    kwargs = _export_kwargs(dataset, dataset_type, label_field, export_media)
    if new_dataset and fo.dataset_exists(new_dataset):
        raise ValueError(f"a dataset named {new_dataset!r} already exists; choose another name for the copy")
    _check_not_a_review_view(dataset, saved_view)
    if saved_view and dataset.has_saved_view(saved_view) and not overwrite:
        raise ValueError(
            f"dataset {dataset.name!r} already has a saved view {saved_view!r}; choose another name or pass overwrite=True"
        )
    if not isinstance(export_dir, (str, os.PathLike)) or not str(export_dir).strip():
        raise ValueError(f"export_dir must be a folder path, got {export_dir!r}")
    export_dir = os.path.abspath(os.fspath(export_dir))
    problem = export_dir_problem(export_dir, overwrite, dataset=dataset)
    if problem:
        raise ExportRefused(problem)

    parent, name = os.path.split(export_dir)
    _remove_killed_workspaces(parent)
    workspace = _new_workspace(parent, name)
    staging = os.path.join(workspace, name)
    try:
        kept = curated_view(dataset, keys, exclude, combine)
        folders = {}
        if dataset_type == "ImageClassificationDirectoryTree":
            folders = label_folders(kept.distinct(f"{label_field}.label"))
            if folders:
                kept = kept.map_labels(label_field, folders)
        kept.export(export_dir=staging, dataset_type=EXPORT_FORMATS[dataset_type], progress=progress, **kwargs)
        if dataset_type == "YOLO":
            _point_yolo_config_at(staging, export_dir)
        if dataset_type == "CSV":
            _escape_csv(os.path.join(staging, "labels.csv"))
        n_dropped = write_manifest(dataset, keys, os.path.join(staging, "excluded.csv"), exclude, combine, label_field)
        dropped = excluded_view(dataset, keys, exclude, combine)
        dropped_by_status = {}
        for key in keys:
            counts = dropped.count_values(f"{key}_status")
            dropped_by_status[key] = {status: counts.get(status, 0) for status in exclude}
        summary = {
            "export_dir": export_dir,
            "manifest": os.path.join(export_dir, "excluded.csv"),
            "kept": len(kept),
            "dropped": n_dropped,
            "dropped_by_status": dropped_by_status,
        }
        record = {"written_by": EXPORT_WRITER, "dataset": dataset.name, "keys": keys, "format": dataset_type,
                  "label_field": label_field, "exclude": list(exclude), "combine": combine,
                  "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **summary,
                  "label_folders": folders, "files": _written_files(staging) + [EXPORT_RECORD]}  # fmt: skip
        with open(os.path.join(staging, EXPORT_RECORD), "w") as handle:
            json.dump(record, handle, indent=2)
        _swap_in(staging, export_dir, overwrite, workspace)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
        _workspaces().delete_one({"_id": workspace})
    if new_dataset:
        kept.clone(new_dataset, persistent=True)
    if saved_view:
        dataset.save_view(saved_view, kept, overwrite=True)
    return summary


def _workspaces():
    return foo.get_db_conn()[EXPORT_WORKSPACES]


def _new_workspace(parent, name):
    """A hidden sibling folder (same disk, so files move by renaming) for the export being
    written, recorded (path, host, process) before it is made."""
    workspace = os.path.join(parent, f".{name}.writing-{secrets.token_hex(6)}")
    _workspaces().insert_one({"_id": workspace, "host": socket.gethostname(), "pid": os.getpid()})
    try:
        os.makedirs(parent, exist_ok=True)
        os.mkdir(workspace)
    except OSError as error:
        _workspaces().delete_one({"_id": workspace})
        raise OSError(f"cannot write in {parent} ({error.strerror}); choose a folder you can write to") from error
    return workspace


def _remove_killed_workspaces(parent):
    """Remove the staging folders in ``parent`` of exports whose process died (killed
    before it cleaned up): only folders a workspace record names, made by a process of
    this host that no longer exists."""
    for record in list(_workspaces().find({"host": socket.gethostname()})):
        workspace = record["_id"]
        if os.path.dirname(workspace) != parent or _process_exists(record["pid"]):
            continue
        shutil.rmtree(workspace, ignore_errors=True)
        _workspaces().delete_one({"_id": workspace})


def _process_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _escape_csv(path):
    """Rewrite the CSV at ``path`` with every cell made ``spreadsheet_safe``."""
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows([[spreadsheet_safe(cell) for cell in row] for row in rows])


def _check_not_a_review_view(dataset, saved_view):
    """Refuse a curated view saved under a run's review view name (or its URL slug): the
    run owns that view, and deleting the run would delete the user's view with it."""
    import fiftyone.core.utils as fou

    if not saved_view:
        return
    for key in list_runs(dataset):
        if fou.to_slug(saved_view) == fou.to_slug(review_view_name(key)):
            raise ValueError(
                f"saved view {saved_view!r} is run {key!r}'s review view (deleted with the run); "
                "choose another name for the curated view"
            )


def _export_kwargs(dataset, dataset_type, label_field, export_media):
    """``export()`` arguments for the format, refusing label fields the format cannot hold."""
    if dataset_type == "CSV":
        fields = {"filepath": "filepath"}
        if label_field:
            fields[f"{label_field}.label" if is_classification(dataset.get_field(label_field)) else label_field] = "label"
        return dict(fields=fields, abs_paths=True, export_media=False)
    if dataset_type != "FiftyOneDataset" and label_field is None:
        raise ValueError(f"exporting as {dataset_type} needs a label_field")
    if dataset_type in ("COCO", "YOLO") and is_classification(dataset.get_field(label_field)):
        raise ValueError(
            f"{dataset_type} holds detections; {label_field!r} holds classifications: "
            "export as ImageClassificationDirectoryTree, FiftyOneDataset or CSV"
        )
    check_flag("export_media", export_media)
    if dataset_type == "ImageClassificationDirectoryTree" and not export_media:
        raise ValueError(
            "an ImageClassificationDirectoryTree export is the images themselves, one folder per "
            "label: it needs export_media=True (or export as CSV or FiftyOneDataset without media)"
        )
    kwargs = {"export_media": export_media}
    if label_field is not None:
        kwargs["label_field"] = label_field
    return kwargs


def _point_yolo_config_at(staging, export_dir):
    """YOLOv5's dataset.yaml records the folder it was written to: the final one, here."""
    config_path = os.path.join(staging, "dataset.yaml")
    with open(config_path) as handle:
        config = yaml.safe_load(handle)
    config["path"] = export_dir
    with open(config_path, "w") as handle:
        yaml.safe_dump(config, handle, sort_keys=False)


def _swap_in(staging, export_dir, overwrite, workspace):
    """Put the finished export ``staging`` at ``export_dir``. Into a missing or empty
    folder it moves whole; over an earlier export, only the files that export's record
    lists are moved out (into ``workspace``, deleted with it) and the new files moved in,
    the record covering both meanwhile, so files added since are never touched."""
    problem = export_dir_problem(export_dir, overwrite)  # the folder may have changed meanwhile
    if problem:
        raise ExportRefused(problem)
    if not os.path.isdir(export_dir) or not os.listdir(export_dir):
        if os.path.isdir(export_dir):
            os.rmdir(export_dir)
        os.rename(staging, export_dir)
        return
    old = _listed_files(export_dir, _earlier_export(export_dir))
    new = _written_files(staging)
    clashes = [name for name in new if os.path.lexists(os.path.join(export_dir, name)) and name not in old]
    if clashes:
        raise ExportRefused(
            f"{export_dir} holds {clashes[0]}, which no export of this plugin wrote and which the "
            "new export would replace; move it or choose another folder"
        )
    _write_record(export_dir, workspace, {**_earlier_export(export_dir), "files": sorted(set(old) | set(new))})
    retired = os.path.join(workspace, "replaced")
    moved_out, moved_in = [], []
    try:
        for name in old:
            if name != EXPORT_RECORD:
                _move(os.path.join(export_dir, name), os.path.join(retired, name), export_dir)
                moved_out.append(name)
        for name in new:
            if name != EXPORT_RECORD:
                _move(os.path.join(staging, name), os.path.join(export_dir, name), staging)
                moved_in.append(name)
        os.replace(os.path.join(staging, EXPORT_RECORD), os.path.join(export_dir, EXPORT_RECORD))
    except BaseException:
        for name in moved_in:  # put the earlier export back as it was
            _move(os.path.join(export_dir, name), os.path.join(staging, name), export_dir)
        for name in moved_out:
            _move(os.path.join(retired, name), os.path.join(export_dir, name), retired)
        raise


def _move(source, target, root):
    """Move one file, making the target's folders and removing the source's folders (up
    to ``root``) that it leaves empty."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    os.replace(source, target)
    folder = os.path.dirname(source)
    while folder != root and folder.startswith(root + os.sep) and not os.listdir(folder):
        os.rmdir(folder)
        folder = os.path.dirname(folder)


def _write_record(export_dir, workspace, record):
    """Replace ``export_dir``'s export record in one rename."""
    partial = os.path.join(workspace, "record.json")
    with open(partial, "w") as handle:
        json.dump(record, handle, indent=2)
    os.replace(partial, os.path.join(export_dir, EXPORT_RECORD))


@documented
def delete_excluded(dataset, keys, manifest_path, confirm=False, exclude=EXCLUDED_STATUSES,
                    combine=UNION, label_field=None):  # fmt: skip
    """Delete the excluded samples from the dataset, only after writing their manifest: under
    the runs' leases (refused while another process writes one), from one snapshot, so
    exactly the samples the manifest lists are deleted.

    Args:
        manifest_path: the CSV to write first (a new file: an existing one is never
            replaced)
        confirm: must be True, or nothing is deleted
        label_field: a ``Classification`` field for the manifest's label column

    Returns:
        the number of samples deleted
    """
    if confirm is not True:
        raise PermissionError(
            "deleting samples from the dataset needs confirm=True; export the curated view "
            "instead to leave the dataset as it is"
        )
    keys, exclude = _run_keys(dataset, keys), _statuses(exclude)
    check_choice("combine", combine, COMBINE)
    _check_label_field(dataset, label_field)
    _check_new_file(manifest_path)
    with holding(dataset, keys):  # no re-cut or other deletion between the snapshot and the deletion
        doomed = excluded_view(dataset, keys, exclude, combine).values("id")  # the one snapshot
        count = _write_rows(dataset, keys, manifest_path, dataset.select(doomed, ordered=True), exclude, label_field)
        dataset.delete_samples(doomed)  # exactly the manifest's samples, written first
    return count
