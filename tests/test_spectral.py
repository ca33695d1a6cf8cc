"""Laplacian spectrum, eigen-gap rules and spectral clustering on known structure."""

import numpy as np
import pytest
import scipy.sparse as sp

from fiftyone_redundancy.core.spectral import (
    affinity_from_similarity,
    clusters_from_spectrum,
    laplacian_spectrum,
    spectral_clusters,
)


def block_similarity(sizes, inside=0.9, outside=0.05, noise=0.02, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    similarity = np.where(labels[:, None] == labels[None], inside, outside)
    similarity = similarity + rng.uniform(-noise, noise, similarity.shape)
    similarity = (similarity + similarity.T) / 2
    np.fill_diagonal(similarity, 1.0)
    return similarity, labels


@pytest.mark.parametrize("sizes", [[5, 5, 5], [3, 7, 4, 6, 2, 8], [10] * 12])
def test_largest_gap_recovers_the_number_of_blocks(sizes):
    similarity, _ = block_similarity(sizes)
    spectrum = laplacian_spectrum(affinity_from_similarity(similarity))
    assert clusters_from_spectrum(spectrum, "largest_gap") == len(sizes)


def test_paper_rule_counts_gaps_larger_than_gamma():
    assert clusters_from_spectrum([0, 0.1, 1.0, 1.2, 2.0, 2.05], "paper", gamma=0.4) == 2
    assert clusters_from_spectrum([0, 0.1, 0.2], "paper", gamma=0.4) == 1


def test_sparse_lanczos_spectrum_matches_the_dense_one():
    similarity, _ = block_similarity([6, 4, 5, 7])
    affinity = affinity_from_similarity(np.where(similarity > 0.5, similarity, 0))
    dense = laplacian_spectrum(affinity)
    sparse = laplacian_spectrum(sp.csr_matrix(affinity), n_eigenvalues=8)
    np.testing.assert_allclose(sparse, dense[:8], atol=1e-8)


def test_shifted_lanczos_for_large_graphs_matches_the_dense_spectrum():
    from fiftyone_redundancy.core.spectral import smallest_by_shifted_lanczos

    similarity, _ = block_similarity([6, 4, 5, 7])
    affinity = affinity_from_similarity(np.where(similarity > 0.5, similarity, 0))
    laplacian = sp.csgraph.laplacian(sp.csr_matrix(affinity))
    np.testing.assert_allclose(
        smallest_by_shifted_lanczos(laplacian, 8), laplacian_spectrum(affinity)[:8], atol=1e-6
    )


def test_spectral_clustering_recovers_the_blocks():
    similarity, labels = block_similarity([3, 7, 4, 6, 2, 8])
    found = spectral_clusters(affinity_from_similarity(similarity), 6)
    assert len(set(zip(found, labels))) == 6  # a one-to-one match of clusters and blocks


def test_negative_ssim_never_becomes_an_affinity():
    affinity = affinity_from_similarity(np.array([[1.0, -0.3], [-0.3, 1.0]]))
    assert affinity.min() == 0 and affinity[0, 0] == 0


def test_a_spectrum_is_read_as_components_the_eigenvalues_past_them_and_the_largest_gap():
    from fiftyone_redundancy.core.spectral import read_spectrum

    reading = read_spectrum([1e-17, -1e-16, 0.5, 0.6, 2.0])
    assert (reading.n_zero, reading.past_zero, reading.gap_after) == (2, (0.5, 0.6, 2.0), 4)
    assert reading.gap == pytest.approx(1.4) and not reading.all_zero
    assert read_spectrum([0.0, 0.9, 1.0]).gap_after == 1  # one component, then the jump to 0.9
    flat = read_spectrum([-1e-16] * 50)  # e.g. 50 of a sparse graph's 129 components
    assert flat.all_zero and flat.n_zero == 50 and flat.gap_after is None
