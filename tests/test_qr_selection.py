"""Pivoted-QR column selection under the condition-number bound."""

import numpy as np
import pytest
import scipy.linalg

from fiftyone_redundancy.core.qr_selection import select_columns


def known_matrix(n=400, scales=None, seed=0):
    """n x d matrix with orthogonal columns of known norms, in a shuffled order: pivoted QR
    must pick the columns by decreasing norm, and cond(first m) = scale[0] / scale[m-1]."""
    rng = np.random.default_rng(seed)
    scales = np.array(scales if scales is not None else [1, 1e-1, 1e-2, 1e-3, 1e-4, 3e-6, 1e-7, 1e-8])
    order = rng.permutation(len(scales))
    basis, _ = np.linalg.qr(rng.standard_normal((n, len(scales))))
    return basis * scales[order], order, scales


def test_qr_keeps_columns_in_scipy_pivot_order():
    matrix, order, _ = known_matrix()
    _, _, pivots = scipy.linalg.qr(matrix, pivoting=True)
    selection = select_columns(matrix, tau=1e5, method="qr")
    expected_by_norm = np.argsort(order)  # column holding scale 0, then scale 1, ...
    np.testing.assert_array_equal(pivots, expected_by_norm)
    np.testing.assert_array_equal(selection.kept_columns, pivots[: len(selection.kept_columns)])


def test_kept_columns_meet_the_bound_and_one_more_would_not():
    matrix, _, _ = known_matrix()
    selection = select_columns(matrix, tau=1e5, method="qr")
    assert len(selection.kept_columns) == 5  # cond of 5 columns = 1e4; of 6 = 3.3e5
    assert np.linalg.cond(matrix[:, selection.kept_columns]) < 1e5
    _, _, pivots = scipy.linalg.qr(matrix, pivoting=True)
    assert np.linalg.cond(matrix[:, pivots[:6]]) >= 1e5 * (1 - 1e-9)
    assert selection.condition_number == pytest.approx(1e4, rel=1e-6)


def test_gram_route_stops_early_with_the_same_columns():
    matrix, _, _ = known_matrix()
    by_qr = select_columns(matrix, tau=1e5, method="qr")
    by_gram = select_columns(matrix, tau=1e5, method="gram")
    np.testing.assert_array_equal(by_gram.kept_columns, by_qr.kept_columns)
    assert len(by_gram.pivot_magnitudes) < matrix.shape[1]  # stopped before the end


def test_well_conditioned_matrix_keeps_every_column():
    matrix = np.random.default_rng(4).standard_normal((300, 20))
    selection = select_columns(matrix, tau=1e5)
    assert sorted(selection.kept_columns) == list(range(20))
    assert selection.condition_number == pytest.approx(np.linalg.cond(matrix), rel=1e-8)


def test_wide_matrix_is_left_alone_as_in_the_paper():
    selection = select_columns(np.ones((10, 30)), tau=1e5)
    assert not selection.applied
    assert list(selection.kept_columns) == list(range(30))


def test_duplicate_columns_are_dropped():
    base = np.random.default_rng(5).standard_normal((100, 4))
    matrix = np.hstack([base, base[:, :2]])  # two exact copies: rank 4
    selection = select_columns(matrix, tau=1e5)
    assert len(selection.kept_columns) == 4
    assert np.linalg.matrix_rank(matrix[:, selection.kept_columns]) == 4


def test_gram_and_qr_keep_the_same_columns_of_real_wavelet_coefficients():
    from sklearn.datasets import load_digits

    from fiftyone_redundancy.core.wavelets import wavelet_coefficients

    coefficients = wavelet_coefficients(load_digits().images, "db1", 1)  # 1,797 x 64
    by_qr = select_columns(coefficients, tau=1e3, method="qr")
    by_gram = select_columns(coefficients, tau=1e3, method="gram")
    kept = len(by_qr.kept_columns)
    assert 0 < kept < 64  # the bound bites: digits have blank borders
    # Near-equal small pivots may swap between the two factorizations; the leading
    # columns, the count and the bound must not change.
    assert len(by_gram.kept_columns) == kept
    np.testing.assert_array_equal(by_gram.kept_columns[:50], by_qr.kept_columns[:50])
    assert np.linalg.cond(coefficients[:, by_gram.kept_columns]) < 1e3


def test_laplacian_scores_rank_the_columns_that_follow_the_neighborhoods_first():
    from fiftyone_redundancy.core.qr_selection import laplacian_scores

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(8, 3)) * 5  # three columns carry cluster structure
    rows = np.repeat(centres, 50, axis=0) + rng.normal(scale=0.1, size=(400, 3))
    noise = rng.normal(size=(400, 5))  # five carry none
    features = np.hstack([noise[:, :2], rows, noise[:, 2:]])
    scores = laplacian_scores(features)
    assert set(np.argsort(scores)[:3]) == {2, 3, 4}
    assert scores[[2, 3, 4]].max() < 0.05 < 0.2 < scores[[0, 1, 5, 6, 7]].min()


def test_laplacian_selection_keeps_best_scored_columns_under_the_bound():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(300, 6))
    features = np.hstack([base, base[:, :2] + 1e-7 * rng.normal(size=(300, 2))])  # two near-copies
    selection = select_columns(features, tau=1e3, method="laplacian")
    assert selection.applied and selection.condition_number < 1e3
    kept = set(selection.kept_columns.tolist())
    assert not ({0, 6} <= kept or {1, 7} <= kept)  # never a column with its near-copy
    assert np.linalg.cond(features[:, selection.kept_columns]) == pytest.approx(selection.condition_number)
