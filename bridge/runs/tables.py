"""What the panels draw from a stored run (``record.RedundancyRun``): its group table, one
row per group largest first, and the columns of its embedding map."""

from collections import namedtuple

from ...core.decisions import INFLUENTIAL, REPRESENTATIVE
from ..samples import distinct_names, label_path

MapColumns = namedtuple("MapColumns", "sample_ids points points_3d statuses representatives labels groups names")
"""What the embedding map draws, one entry per point (``map_columns``); ``labels`` None
for a run without a label field, ``names`` each file by a name no other sample shares."""


def _columns(view, fields, labels_at):
    """``view.values`` of ``fields`` and of the labels at ``labels_at`` (``label_path``)
    in one pass: the labels None without a label field, else a list per sample."""
    values = view.values(fields + ([labels_at] if labels_at else []))
    return (*values[: len(fields)], values[len(fields)] if labels_at else None)


def group_rows(run, limit=None):
    """One row per group of 2+ samples, largest first: ``{"group", "size", "labels",
    "kind", "representative"}`` (its file, by a name no other member shares). The kind follows the stored decision (a group of
    influential samples mixes labels), so it holds even if the label field is gone;
    mixed-label groups have no representative."""
    view = run._in_groups()
    groups, statuses, paths, labels = _columns(
        view, [f"{run.key}_group", f"{run.key}_status", "filepath"], label_path(view, run.label_field())
    )
    labels = labels or [None] * len(groups)
    members = {}
    for group, status, name, label in zip(groups, statuses, distinct_names(paths), labels):
        row = members.setdefault(group, {"size": 0, "labels": set(), "representative": "", "mixed": False})
        row["size"] += 1
        row["mixed"] |= status == INFLUENTIAL
        row["labels"].add("(none)" if label is None else str(label))
        if status == REPRESENTATIVE:
            row["representative"] = name
    rows = []
    sizes = {group: row["size"] for group, row in members.items()}
    for group in largest_first(sizes)[:limit]:
        distinct = sorted(members[group]["labels"])
        rows.append({
            "group": group,
            "size": members[group]["size"],
            "labels": ", ".join(distinct),
            "kind": "mixed labels" if members[group]["mixed"] else "same label",
            "representative": members[group]["representative"] or "—",
        })  # fmt: skip
    return rows


def map_columns(run):
    """``MapColumns`` aligned with the stored projection, without samples deleted since
    the run, read in one pass over the samples."""
    details = run.details
    view = run.view()
    ids, statuses, representatives, groups, paths, labels = _columns(
        view,
        ["id", f"{run.key}_status", f"{run.key}_representative", f"{run.key}_group", "filepath"],
        label_path(view, run.label_field()),
    )
    names = distinct_names(paths)
    row_of = {sample_id: row for row, sample_id in enumerate(ids)}
    kept = [i for i, sample_id in enumerate(details["sample_ids"]) if sample_id in row_of]
    rows = [row_of[details["sample_ids"][i]] for i in kept]
    points_3d = details["points_3d"] if run.method_info.map_3d else None
    return MapColumns(
        [ids[row] for row in rows],
        [details["points"][i] for i in kept],
        None if points_3d is None else [points_3d[i] for i in kept],
        [statuses[row] for row in rows],
        [representatives[row] for row in rows],
        None if labels is None else [labels[row] for row in rows],
        [groups[row] for row in rows],
        [names[row] for row in rows],
    )


def largest_first(sizes):
    """Group numbers by size, largest first, ties by number: one order for table and clicks."""
    return sorted(sizes, key=lambda group: (-sizes[group], group))
