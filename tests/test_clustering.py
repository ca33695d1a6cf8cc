"""Grouping: the threshold route finds the same planted groups as k-means."""

import numpy as np
import pytest

from fiftyone_redundancy.core.clustering import (
    kmeans_clusters,
    resolve_n_clusters,
    threshold_clusters,
)


def partition(cluster_labels):
    groups = {}
    for index, label in enumerate(cluster_labels):
        groups.setdefault(label, []).append(index)
    return sorted(tuple(members) for members in groups.values())


def planted_points(n_originals=40, dimension=64, seed=0):
    """Distinct random patterns, some with 1-3 slightly perturbed copies."""
    rng = np.random.default_rng(seed)
    originals = rng.standard_normal((n_originals, dimension))
    rows, truth = [], []
    for index, original in enumerate(originals):
        copies = int(rng.integers(0, 4)) if index % 2 == 0 else 0
        for _ in range(1 + copies):
            rows.append(original + rng.normal(0, 0.01, dimension))
            truth.append(index)
    order = rng.permutation(len(rows))
    return np.array(rows)[order], np.array(truth)[order]


def test_resolve_n_clusters_accepts_counts_and_fractions():
    assert resolve_n_clusters(7, 10) == 7
    assert resolve_n_clusters(0.94, 50000) == 47000
    assert resolve_n_clusters(1.0, 10) == 10
    for bad in (0, 11, 1.5, -0.2, "10", True):
        with pytest.raises(ValueError):
            resolve_n_clusters(bad, 10)


def test_threshold_route_recovers_planted_groups():
    points, truth = planted_points()
    assert partition(threshold_clusters(points, threshold=0.1)) == partition(truth)


def test_threshold_route_matches_kmeans_with_the_true_count():
    points, truth = planted_points(seed=1)
    by_kmeans = kmeans_clusters(points, n_clusters=len(set(truth)), random_state=0)
    by_threshold = threshold_clusters(points, threshold=0.1)
    assert partition(by_threshold) == partition(by_kmeans) == partition(truth)


def test_kmeans_fraction_sets_the_number_of_clusters():
    points, _ = planted_points(seed=2)
    labels = kmeans_clusters(points, n_clusters=0.5, random_state=0)
    assert len(set(labels)) == round(0.5 * len(points))


def test_complete_linkage_does_not_chain_a_line_of_neighbors():
    # 10 unit vectors along an arc, each 0.08 from the next: all linked at 0.1, but the
    # ends are far apart, so no group may span more than 0.1.
    angles = np.arange(10) * 0.08
    points = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    labels = threshold_clusters(points, threshold=0.1)
    for members in partition(labels):
        spread = angles[list(members)].max() - angles[list(members)].min()
        assert spread <= 0.1
    assert len(set(labels)) >= 5


def test_scale_does_not_matter_only_direction():
    points, truth = planted_points(seed=3)
    scaled = points * np.random.default_rng(0).uniform(0.5, 20, (len(points), 1))
    assert partition(threshold_clusters(scaled, 0.1)) == partition(truth)
