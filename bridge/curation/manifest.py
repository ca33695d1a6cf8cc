"""The manifest of what is left out (a CSV a spreadsheet reads as text), and the deletion
of the excluded samples, only after their manifest is written."""

import csv
import os

from ...core.parameters import check_choice
from ..documented import documented
from ..runs import holding
from ..samples import classification_fields, is_classification
from .views import COMBINE, EXCLUDED_STATUSES, UNION, _run_keys, _statuses, excluded_view

MANIFEST_COLUMNS = ("filepath", "label", "status", "run_key", "representative_filepath", "score")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell):
    """A CSV cell a spreadsheet shows as text: a string starting with ``= + - @``, a tab or
    a carriage return (read as a formula) gets a leading ``'``; numbers stay numbers."""
    return f"'{cell}" if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) else cell


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
