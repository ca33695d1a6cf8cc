"""Repairing a leaky split (issue 29): every family of copies that spans the training and
test sides moves, whole, to one side, chosen so that each side keeps its size and each
class its share.

A family here is a connected component of links between images (a test image and the
training images it leaks from, identical images, the groups of a within-set run): it
spans the split when it holds images of both sides. Families that do not span stay where
they are. The spanning ones are assigned greedily, largest first: each goes to the side
that leaves the test side's count of every class closest to its target (the class's test
share before the repair, times the class's size), the test side's total closest to its
size before, by squared deviations relative to the targets; ties are broken by a seeded
random order (then the side that moves fewer images), so a repair is repeatable. Largest first, because a large family moved
late could not be balanced by the small ones left.
"""

from dataclasses import dataclass

import numpy as np

from .parameters import check_declared, declared

TRAIN, TEST = 0, 1


@dataclass
class RepairParameters:
    """Parameters of a split repair, validated in one place."""

    tolerance: float = declared(0.05, "Tolerance", "How far the test side's size and each class's test count "
                                "may move (share of before)", at_least=0, at_most=1)  # fmt: skip
    """How far the test side's size and each class's count on the test side may move, as
    a share of the count before the repair (one image is always allowed): a repair that
    cannot keep within it is refused, not written."""
    seed: int = declared(0, "Seed (breaks ties)", integer=True, at_least=0)
    """Breaks ties between families of one size, so a repair is repeatable."""

    def __post_init__(self):
        check_declared(self)


@dataclass
class SplitRepair:
    """The repaired sides (``TRAIN`` / ``TEST`` per image) and what moved."""

    sides: np.ndarray
    moved: np.ndarray
    """True for the images that changed side."""
    families: list
    """The spanning families (image indices), in the order they were assigned."""


def spanning_families(sides, links):
    """The connected components of ``links`` (pairs of image indices) that hold images of
    both sides, each as a sorted array of image indices."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    sides = np.asarray(sides)
    n = len(sides)
    links = np.asarray(links, dtype=np.int64).reshape(-1, 2)
    graph = sp.coo_matrix((np.ones(len(links)), (links[:, 0], links[:, 1])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    order = np.argsort(component, kind="stable")
    families = np.split(order, np.flatnonzero(np.diff(component[order])) + 1)
    return [family for family in families if len(family) > 1 and len(np.unique(sides[family])) == 2]


def repair_split(sides, labels, families, seed=0):
    """``SplitRepair`` moving each of ``families`` (from ``spanning_families``) wholly to
    one side (see the module). ``labels``: a class per image, or None (one class)."""
    sides = np.asarray(sides, dtype=np.int64).copy()
    original = sides.copy()
    codes = np.zeros(len(sides), dtype=np.int64) if labels is None else np.unique(np.asarray(labels, dtype=str), return_inverse=True)[1]
    n_classes = int(codes.max(initial=0)) + 1
    target = np.bincount(codes[sides == TEST], minlength=n_classes).astype(np.float64)
    target_total = target.sum()
    counts = target.copy()
    rng = np.random.default_rng(seed)
    tie_break = rng.permutation(len(families))
    order = sorted(range(len(families)), key=lambda k: (-len(families[k]), tie_break[k]))
    for k in order:
        family = families[k]
        present = np.bincount(codes[family][sides[family] == TEST], minlength=n_classes)
        whole = np.bincount(codes[family], minlength=n_classes)
        options = []
        for side, in_test in ((TRAIN, counts - present), (TEST, counts - present + whole)):
            deviation = ((in_test - target) ** 2 / np.maximum(target, 1)).sum()
            deviation += (in_test.sum() - target_total) ** 2 / max(target_total, 1)
            options.append((deviation, np.count_nonzero(original[family] != side), side, in_test))
        _, _, side, in_test = min(options, key=lambda option: option[:2])
        sides[family] = side
        counts = in_test
    return SplitRepair(sides, sides != original, [families[k] for k in order])


def repair_report(original, repaired, labels=None):
    """What a repair did, for the user: per class, how many images moved to training and
    to test, and each side's size and the class's test share before and after."""
    original, repaired = np.asarray(original), np.asarray(repaired)
    labels = np.full(len(original), "(all)", dtype=object) if labels is None else np.asarray(labels, dtype=object)
    rows = []
    for label in sorted(set(map(str, labels))):
        of = np.array([str(value) == label for value in labels])
        size = int(of.sum())
        rows.append({
            "class": label,
            "to_train": int(np.count_nonzero(of & (original == TEST) & (repaired == TRAIN))),
            "to_test": int(np.count_nonzero(of & (original == TRAIN) & (repaired == TEST))),
            "test_before": int(np.count_nonzero(of & (original == TEST))),
            "test_after": int(np.count_nonzero(of & (repaired == TEST))),
            "test_share_before": float(np.count_nonzero(of & (original == TEST)) / size),
            "test_share_after": float(np.count_nonzero(of & (repaired == TEST)) / size),
        })  # fmt: skip
    return rows


def tolerance_misses(report, tolerance):
    """The rows of ``repair_report`` (plus one for the whole test side, class ``(all)``)
    whose test count moved by more than ``tolerance`` times the count before (and more
    than one image), worst first, each with its ``change``."""
    whole = {"class": "(test side)", "test_before": sum(row["test_before"] for row in report),
             "test_after": sum(row["test_after"] for row in report)}  # fmt: skip
    misses = []
    for row in [*report, whole]:
        change = abs(row["test_after"] - row["test_before"])
        if change > max(tolerance * row["test_before"], 1):
            misses.append({**row, "change": change / max(row["test_before"], 1)})
    return sorted(misses, key=lambda row: -row["change"])
