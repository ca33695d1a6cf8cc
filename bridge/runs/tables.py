"""What the panels draw from a stored run (``record.RedundancyRun``): its group table, one
row per group largest first, and the columns of its embedding map."""

from ...core.decisions import INFLUENTIAL, REPRESENTATIVE
from ..samples import distinct_names, read_labels


def group_rows(run, limit=None):
    """One row per group of 2+ samples, largest first: ``{"group", "size", "labels",
    "kind", "representative"}`` (its file, by a name no other member shares). The kind follows the stored decision (a group of
    influential samples mixes labels), so it holds even if the label field is gone;
    mixed-label groups have no representative."""
    view = run._in_groups()
    groups, statuses, paths = view.values([f"{run.key}_group", f"{run.key}_status", "filepath"])
    labels = read_labels(view, run.label_field()) or [None] * len(groups)
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
    """What the embedding map draws, aligned with the stored projection:
    ``(sample ids, 2-D points, 3-D points or None, statuses, representative ids,
    labels or None)``, without samples deleted since the run."""
    details = run.details
    view = run.view()
    ids, statuses, representatives = view.values(
        ["id", f"{run.key}_status", f"{run.key}_representative"]
    )
    row_of = {sample_id: row for row, sample_id in enumerate(ids)}
    kept = [i for i, sample_id in enumerate(details["sample_ids"]) if sample_id in row_of]
    rows = [row_of[details["sample_ids"][i]] for i in kept]
    labels = read_labels(view, run.label_field())
    points_3d = details["points_3d"] if run.method_info.map_3d else None
    return (
        [ids[row] for row in rows],
        [details["points"][i] for i in kept],
        None if points_3d is None else [points_3d[i] for i in kept],
        [statuses[row] for row in rows],
        [representatives[row] for row in rows],
        None if labels is None else [labels[row] for row in rows],
    )


def largest_first(sizes):
    """Group numbers by size, largest first, ties by number: one order for table and clicks."""
    return sorted(sizes, key=lambda group: (-sizes[group], group))
