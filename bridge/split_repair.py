"""``repair_split``: a stored train-vs-test run's split, repaired so that no family of
copies spans it, written to a new field the user names (``core/split_repair.py`` decides)."""

import time
from dataclasses import dataclass

import fiftyone as fo
import numpy as np

from ..core.families import Identities
from ..core.pair_score import ScoredPairs
from ..core.split_repair import TEST, TRAIN, RepairParameters, repair_report, repair_split as assign_sides, spanning_families, tolerance_misses
from . import runs
from .documented import documented
from .review import _require_unchanged_media
from .samples import read_labels

SIDE_NAMES = {TRAIN: "train", TEST: "test"}
"""The values the repaired split field holds, so that ``compute_split_similarity(...,
split_field=<it>)`` reads it with its default ``train`` and ``test``."""


@dataclass
class RepairedSplit:
    """What a repair wrote and moved: ``field`` (the new split field), ``moved_ids`` (the
    samples whose side changed), ``families`` (how many spanning families moved whole),
    ``by_class`` (``core.split_repair.repair_report``'s rows)."""

    key: str
    field: str
    moved_ids: list
    families: int
    by_class: list
    seconds: float

    def summary(self):
        """A few readable lines: the families, the moves, and each class's test side."""
        to_train = sum(row["to_train"] for row in self.by_class)
        to_test = sum(row["to_test"] for row in self.by_class)
        before = sum(row["test_before"] for row in self.by_class)
        after = sum(row["test_after"] for row in self.by_class)
        lines = [
            f"split of run {self.key!r} repaired into field {self.field!r}: {self.families:,} families of copies "
            f"spanned the split; {len(self.moved_ids):,} images moved ({to_train:,} to train, {to_test:,} to test); "
            f"test side {before:,} -> {after:,} images",
            f"  {'class':<16}{'to train':>9}{'to test':>9}{'test before':>13}{'test after':>12}{'share before':>14}{'share after':>13}",
        ]
        for row in self.by_class:
            lines.append(
                f"  {row['class'][:15]:<16}{row['to_train']:>9,}{row['to_test']:>9,}{row['test_before']:>13,}"
                f"{row['test_after']:>12,}{row['test_share_before']:>14.1%}{row['test_share_after']:>13.1%}"
            )
        return "\n".join(lines)


@documented
def repair_split(dataset, key, output_field, label_field=None, within_runs=None,
                 tolerance=RepairParameters.tolerance, seed=RepairParameters.seed):  # fmt: skip
    """Repair the split that train-vs-test run ``key`` compared: every family of copies
    that spans it (test images and the training images they leak from at the run's
    threshold, identical images, and the groups of ``within_runs``) moves whole to one
    side, chosen greedily, largest family first, so that the test side keeps its size and
    each class its test share (``core.split_repair``). Only ``output_field`` is written
    (``"train"`` / ``"test"`` for every sample the run compared); the split's own tags
    and fields are never changed. The field belongs to the run from then on: deleting the
    run, or running it again under ``key``, removes it. A fresh split run on it
    (``split_field=output_field``) finds no leak at the run's threshold among the copies
    the families hold.

    Args:
        key: the key of a train-vs-test run (:func:`compute_split_similarity`)
        output_field: the new split field: a name no field has, or one an earlier repair
            of this run wrote (it is replaced)
        label_field: the classes whose test shares are kept; None: the run's label field,
            or one class when it had none
        within_runs: keys of within-set runs (wavelet, SSIM, feature maps) whose groups
            also move whole: copies inside one side that the split run never compared
        tolerance: how far the test side's size and each class's count on the test side
            may move, as a share of the count before (one image is always allowed); a
            repair that cannot keep within it is refused and nothing is written
        seed: breaks ties between families of one size, so a repair is repeatable

    Returns:
        a :class:`RepairedSplit` (``summary()`` says what moved, by class)
    """
    started = time.perf_counter()
    parameters = RepairParameters(tolerance=tolerance, seed=seed)
    _check_field_name(output_field)
    within_runs = [within_runs] if isinstance(within_runs, str) else list(within_runs or [])
    with runs.RunWriter(dataset, key) as writer:
        run = runs.RedundancyRun(dataset, key)
        if not run.method_info.compares_splits:
            raise ValueError(
                f"run {key!r} is a {run.method} run; a split is repaired from a train-vs-test run: "
                "run compute_split_similarity first and pass its key"
            )
        details = run.details
        sample_ids, n_test = list(details["sample_ids"]), int(details["n_test"])
        if set(run.view().values("id")) != set(sample_ids):
            raise ValueError(f"the samples of run {key!r} changed since it ran; run compute_split_similarity again")
        _require_unchanged_media(dataset, run)
        repairs = dict(getattr(run._results, "repairs", None) or {})
        problem = output_field_problem(dataset, key, output_field)
        if problem:
            raise ValueError(problem)
        label_field = label_field or run.label_field()
        labels = _in_order(dataset, sample_ids, label_field)
        sides = np.where(np.arange(len(sample_ids)) < n_test, TEST, TRAIN)
        links = _family_links(dataset, run, details, sample_ids, within_runs)
        families = spanning_families(sides, links)
        repair = assign_sides(sides, labels, families, parameters.seed)
        report = repair_report(sides, repair.sides, labels)
        misses = tolerance_misses(report, parameters.tolerance)
        if misses:
            worst = misses[0]
            raise ValueError(
                f"moving the {len(families):,} spanning families whole changes the test count of class "
                f"{worst['class']!r} from {worst['test_before']:,} to {worst['test_after']:,} ({worst['change']:.1%}), "
                f"more than tolerance={parameters.tolerance}; nothing was written. Pass a larger tolerance, "
                "or drop the leaked test samples instead (the run's redundant ones)"
            )
        moved_ids = [sample_ids[i] for i in np.flatnonzero(repair.moved)]
        result = RepairedSplit(key, output_field, moved_ids, len(families), report, time.perf_counter() - started)
        repairs[output_field] = {
            "label_field": label_field, "within_runs": within_runs, "tolerance": parameters.tolerance,
            "seed": parameters.seed, "threshold": float(run.parameters["threshold"]), "families": len(families),
            "moved": len(moved_ids), "by_class": report, "seconds": result.seconds,
        }  # fmt: skip
        _commit(writer, dataset, run, sample_ids, repair.sides, output_field, repairs)
    return result


def output_field_problem(dataset, key, name):
    """Why ``name`` cannot take run ``key``'s repaired split (None: it can): a field that
    exists is written only when an earlier repair of that run wrote it."""
    if dataset.has_sample_field(name) and name not in (getattr(dataset.load_run_results(key, cache=False), "repairs", None) or {}):
        return (
            f"field {name!r} already exists on dataset {dataset.name!r} and was not written by a "
            f"repair of run {key!r}; choose a new field name (your split's own fields are never changed)"
        )
    return None


def _check_field_name(name):
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        raise ValueError(
            f"output_field {name!r} must be a field name: a Python identifier that does not start "
            "with '_', e.g. 'repaired_split'"
        )


def _in_order(dataset, sample_ids, label_field):
    """The labels of ``label_field`` in the run's sample order (None: no field)."""
    if label_field is None:
        return None
    label_of = dict(zip(dataset.values("id"), read_labels(dataset, label_field)))
    return [label_of[sample_id] for sample_id in sample_ids]


def _family_links(dataset, run, details, sample_ids, within_runs):
    """Pairs of rows (the run's order) that belong to one family: the stored pairs at the
    run's threshold, identical images, and the members of each group of ``within_runs``."""
    n = len(sample_ids)
    pairs = ScoredPairs(**details["pairs"])
    cut = pairs.score >= float(run.parameters["threshold"])
    links = [np.stack([pairs.first[cut], pairs.second[cut]], axis=1)]
    identities = Identities.from_record(details.get("identities"), n)
    links.append(np.stack([np.arange(n), identities.canonical], axis=1))
    row_of = {sample_id: row for row, sample_id in enumerate(sample_ids)}
    for within in within_runs:
        other = runs.RedundancyRun(dataset, within)
        if other.method_info.compares_splits:
            raise ValueError(f"within_runs names {within!r}, a train-vs-test run; name runs within one set (wavelet, SSIM, feature maps)")
        rows, groups = [], []
        for sample_id, group in zip(*other.view().values(["id", f"{within}_group"])):
            if group is not None and group >= 0 and sample_id in row_of:
                rows.append(row_of[sample_id])
                groups.append(group)
        rows, groups = np.asarray(rows, dtype=np.int64), np.asarray(groups, dtype=np.int64)
        order = np.argsort(groups, kind="stable")
        rows, groups = rows[order], groups[order]
        same = np.flatnonzero(groups[1:] == groups[:-1])  # each member with the next of its group
        links.append(np.stack([rows[same], rows[same + 1]], axis=1))
    return np.concatenate(links)


def _commit(writer, dataset, run, sample_ids, sides, output_field, repairs):
    """Write the repaired sides to a staging field, then commit through the run's lease:
    an earlier repair's field of this name goes, the staging field takes its name, and
    the run's record owns it (all or nothing, even if the process is killed)."""
    staging = writer.staging_name(f"{run.key}_repair")
    writer.record_staging([staging])
    dataset.add_sample_field(staging, fo.StringField)
    runs.write_columns(dataset, sample_ids, {staging: [SIDE_NAMES[int(side)] for side in sides]})
    fields = run.fields + ([output_field] if output_field not in run.fields else [])
    results = {"counts": run.counts, **run.stored_details, "fields": fields, "repairs": repairs}
    writer.commit({
        "key": run.key,
        "drop_fields": [output_field] if dataset.has_sample_field(output_field) else [],
        "drop_view": None,
        "drop_map": None,
        "drop_run": None,
        "renames": {staging: output_field},
        "run": {"method": runs.METHOD_PREFIX + run.method, "parameters": run.parameters, "results": results},
    })  # fmt: skip
