"""The curated view exported to a folder, all or nothing: written to a hidden staging folder
(recorded before it is made, so a killed export's folder is removed by that record, never
by its name) and swapped in, with a record of what it wrote, so that a later export
replaces only files this plugin wrote."""

import csv
import json
import os
import secrets
import shutil
import socket
import unicodedata
from datetime import datetime, timezone

import yaml

import fiftyone as fo
import fiftyone.core.odm as foo

from ...core.parameters import check_choice, check_flag
from ..documented import documented
from ..runs import list_runs, review_view_name
from ..samples import is_classification
from .manifest import _check_label_field, spreadsheet_safe, write_manifest
from .views import COMBINE, EXCLUDED_STATUSES, UNION, _run_keys, _statuses, curated_view, excluded_view

EXPORT_FORMATS = {
    "FiftyOneDataset": fo.types.FiftyOneDataset,
    "ImageClassificationDirectoryTree": fo.types.ImageClassificationDirectoryTree,
    "COCO": fo.types.COCODetectionDataset,
    "YOLO": fo.types.YOLOv5Dataset,
    "CSV": fo.types.CSVDataset,
}
EXPORT_RECORD = "redundancy-export.json"  # in every export folder: what it holds, and that this plugin wrote it
EXPORT_WRITER = "fiftyone-redundancy"
EXPORT_WORKSPACES = "redundancy_export_workspaces"
"""One document per export in progress, naming its hidden staging folder before it is made:
the next export removes a killed one's folder because this record names it, never by its name."""
FOLDER_NAME_LIMIT = 200


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
