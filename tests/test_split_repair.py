"""Repairing a leaky split, on the assignment alone (core/split_repair.py): every spanning
family ends on one side, sizes and class shares stay near their targets, and a repair is
repeatable."""

import numpy as np

from fiftyone_redundancy.core.split_repair import TEST, TRAIN, repair_report, repair_split, spanning_families


def leaky_split(seed=0, n=3000, n_families=120):
    """``n`` images in three classes, 20% test, and ``n_families`` families of 2-8 copies
    of one class each, placed across both sides at random."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(["cat", "dog", "frog"], n, p=[0.5, 0.3, 0.2])
    sides = np.where(rng.random(n) < 0.2, TEST, TRAIN)
    links, members = [], rng.permutation(n)
    start = 0
    for _ in range(n_families):
        size = int(rng.integers(2, 9))
        family = members[start : start + size]
        start += size
        labels[family] = labels[family[0]]
        sides[family[: size // 2]] = TEST
        sides[family[size // 2 :]] = TRAIN
        links += [(family[0], other) for other in family[1:]]
    return sides, labels, np.array(links)


def test_every_spanning_family_moves_whole_and_nothing_else_moves():
    sides, labels, links = leaky_split()
    families = spanning_families(sides, links)
    assert len(families) == 120
    repair = repair_split(sides, labels, families)
    for family in families:
        assert len(np.unique(repair.sides[family])) == 1
    in_families = np.zeros(len(sides), dtype=bool)
    in_families[np.concatenate(families)] = True
    assert not np.any(repair.moved & ~in_families)
    assert len(spanning_families(repair.sides, links)) == 0


def test_sizes_and_class_shares_stay_near_their_targets():
    sides, labels, links = leaky_split()
    repair = repair_split(sides, labels, spanning_families(sides, links))
    assert abs(np.count_nonzero(repair.sides == TEST) - np.count_nonzero(sides == TEST)) <= 8
    for row in repair_report(sides, repair.sides, labels):
        assert abs(row["test_after"] - row["test_before"]) <= 8, row
    moved = sum(row["to_train"] + row["to_test"] for row in repair_report(sides, repair.sides, labels))
    assert moved == np.count_nonzero(repair.moved)


def test_a_repair_is_repeatable_and_the_seed_only_breaks_ties():
    sides, labels, links = leaky_split(seed=3)
    families = spanning_families(sides, links)
    first = repair_split(sides, labels, families, seed=7)
    again = repair_split(sides, labels, families, seed=7)
    assert np.array_equal(first.sides, again.sides)


def test_families_on_one_side_do_not_count_as_spanning():
    sides = np.array([TRAIN, TRAIN, TEST, TEST, TRAIN])
    families = spanning_families(sides, np.array([(0, 1), (2, 3), (3, 4)]))
    assert [family.tolist() for family in families] == [[2, 3, 4]]
