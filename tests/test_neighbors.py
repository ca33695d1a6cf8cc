"""Radius pairs: the k-d tree route, the blocked route and a GPU agree with brute force."""

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform

from fiftyone_redundancy.core import neighbors
from fiftyone_redundancy.core.clustering import threshold_clusters, unit_rows
from fiftyone_redundancy.core.devices import resolve_device
from fiftyone_redundancy.core.neighbors import radius_pairs


def clustered_unit_rows(seed=0, n_centres=300, dimension=48):
    """Unit vectors: distinct patterns plus tight copies of some, and a few near the cut."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_centres, dimension))
    copies = centres[rng.integers(0, n_centres, 200)] + rng.normal(0, 0.02, (200, dimension))
    return unit_rows(np.vstack([centres, copies]))


def brute_force_pairs(points, radius):
    distances = squareform(pdist(points))
    i, j = np.nonzero(np.triu(distances <= radius, k=1))
    return {(int(a), int(b)) for a, b in zip(i, j)}


def as_set(pairs):
    return {(int(a), int(b)) for a, b in pairs}


@pytest.mark.parametrize("radius", [0.05, 0.12, 0.3])
def test_tree_route_finds_exactly_the_brute_force_pairs(radius):
    points = clustered_unit_rows()
    assert as_set(radius_pairs(points, radius, device="cpu")) == brute_force_pairs(points, radius)


def test_blocked_route_is_used_when_too_many_candidates_and_agrees(monkeypatch):
    points = clustered_unit_rows(seed=1)
    monkeypatch.setattr(neighbors, "MAX_CANDIDATES", 0)
    assert neighbors._projected_candidates(points, 0.12) is None
    assert as_set(radius_pairs(points, 0.12, device="cpu")) == brute_force_pairs(points, 0.12)


def test_fewer_than_two_rows_have_no_pairs():
    assert radius_pairs(np.ones((1, 3)), 0.5).shape == (0, 2)


def test_unknown_or_missing_device_is_refused():
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("tpu")
    if resolve_device(None) == "cpu":
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")


@pytest.mark.skipif(resolve_device(None) != "cuda", reason="no CUDA GPU here")
def test_gpu_gives_the_same_groups_as_the_cpu():
    points = clustered_unit_rows(seed=2)
    cpu = threshold_clusters(points, 0.12, device="cpu")
    gpu = threshold_clusters(points, 0.12, device="cuda")
    np.testing.assert_array_equal(cpu, gpu)
