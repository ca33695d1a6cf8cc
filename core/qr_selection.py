"""Column selection under a condition-number bound (Algorithm 1, step 3).

Pivoted QR orders the coefficient columns from most to least independent; we keep the
longest leading run whose condition number stays below ``tau``. ``|R_kk|`` can only shrink
along the pivot order and ``cond(R[:m, :m]) >= |R_11| / |R_mm|``, so the factorization may
stop as soon as ``|R_kk| < |R_11| / tau``; the exact 2-norm condition of the leading block is
then non-decreasing in ``m``, which a bisection over ``m`` exploits.

The paper's published code also ranks columns by their Laplacian score (He, Cai and Niyogi
2005: how well a column preserves the neighbourhoods of the rows); ``method="laplacian"``
keeps the longest run of best-scoring columns under the same bound. Appending a column
never lowers a matrix's condition number, so the bisection holds for any order.
"""

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from .streaming import DiskRows, gram

SELECTIONS = ("gram", "qr", "laplacian")


@dataclass
class ColumnSelection:
    """Which columns of ``W`` to keep, in pivot order, and why."""

    kept_columns: np.ndarray
    """Column indices into ``W``, most independent first."""
    condition_number: float
    """2-norm condition number of ``W[:, kept_columns]`` (NaN when no selection ran)."""
    pivot_magnitudes: np.ndarray
    """``|R_kk|`` for every pivot step that was computed."""
    applied: bool
    """False when ``n <= d``: the paper selects columns only for tall matrices."""


def select_columns(coefficients, tau=1e5, method="qr"):
    """Select the most independent columns of ``coefficients`` (n x d) with cond < ``tau``.

    ``method="qr"`` runs LAPACK's pivoted QR (``scipy.linalg.qr(pivoting=True)``) on all
    rows, the paper's exact procedure. ``method="gram"`` runs a pivoted Cholesky of the
    Gram matrix ``W^T W`` with early stop: the same pivots and ``R`` in exact arithmetic
    (``W^T W = R^T R``), one BLAS-3 product over the rows instead of a QR of all of them.
    ``method="laplacian"`` orders the columns by ``laplacian_scores`` (best first) instead
    of by pivots. ``coefficients`` may be a ``streaming.DiskRows``: ``"gram"`` reads it
    chunk by chunk (a d x d matrix in memory); the others read it whole.
    """
    if tau <= 1:
        raise ValueError(f"tau must be greater than 1, got {tau}")
    if not isinstance(coefficients, DiskRows):
        coefficients = np.asarray(coefficients, dtype=np.float64)
    n, d = coefficients.shape
    if n <= d:
        return ColumnSelection(np.arange(d), float("nan"), np.empty(0), applied=False)

    if method == "gram":
        r_factor, pivots = _pivoted_cholesky(gram(coefficients), tau)
    elif method in ("qr", "laplacian") and isinstance(coefficients, DiskRows):
        return select_columns(coefficients.read(), tau, method)
    elif method == "qr":
        r_factor, pivots = scipy.linalg.qr(coefficients, mode="r", pivoting=True)
        r_factor = r_factor[:d]
    elif method == "laplacian":
        pivots = np.argsort(laplacian_scores(coefficients), kind="stable")
        # R of the columns in score order: the same singular values as those columns
        r_factor = scipy.linalg.qr(coefficients[:, pivots], mode="r")[0][:d]
        magnitudes = np.abs(np.diag(r_factor))
        n_kept = _largest_block_under_bound(r_factor, magnitudes, tau, early_stop=False)
        return ColumnSelection(pivots[:n_kept].copy(), _condition(r_factor, n_kept), magnitudes, applied=True)
    else:
        raise ValueError(f"method must be 'qr', 'gram' or 'laplacian', got {method!r}")

    magnitudes = np.abs(np.diag(r_factor))
    n_kept = _largest_block_under_bound(r_factor, magnitudes, tau)
    condition = _condition(r_factor, n_kept)
    return ColumnSelection(pivots[:n_kept].copy(), condition, magnitudes, applied=True)


def _pivoted_cholesky(gram, tau):
    """Upper factor ``R`` (k x d) and pivots of a pivoted Cholesky, stopped when a pivot
    falls below ``|R_11| / tau`` (no later block can meet the bound)."""
    d = gram.shape[0]
    gram = gram.copy()
    pivots = np.arange(d)
    residual_diag = np.diag(gram).copy()
    r_factor = np.zeros((d, d))
    first = None
    for k in range(d):
        j = k + int(np.argmax(residual_diag[k:]))
        if j != k:
            pivots[[k, j]] = pivots[[j, k]]
            residual_diag[[k, j]] = residual_diag[[j, k]]
            gram[[k, j], :] = gram[[j, k], :]
            gram[:, [k, j]] = gram[:, [j, k]]
            r_factor[:k, [k, j]] = r_factor[:k, [j, k]]
        pivot = np.sqrt(max(residual_diag[k], 0.0))
        if first is None:
            first = pivot
        if pivot == 0 or pivot < first / tau:
            r_factor[k, k] = pivot
            return r_factor[: k + 1], pivots
        r_factor[k, k] = pivot
        row = (gram[k, k + 1 :] - r_factor[:k, k] @ r_factor[:k, k + 1 :]) / pivot
        r_factor[k, k + 1 :] = row
        residual_diag[k + 1 :] -= row**2
    return r_factor, pivots


def _condition(r_factor, m):
    if m == 0:
        return float("nan")
    singular_values = np.linalg.svd(r_factor[:m, :m], compute_uv=False)
    if singular_values[-1] == 0:
        return float("inf")
    return float(singular_values[0] / singular_values[-1])


def laplacian_scores(features, n_neighbors=5):
    """Laplacian score of each column of ``features`` (n x d), lower is better: how
    smoothly the column varies over the rows' ``n_neighbors``-nearest-neighbour graph
    (heat-kernel weights, width the mean squared neighbour distance), relative to its
    spread. Found by blocked top-k products (``neighbors.nearest_neighbors``), never an
    n x n matrix."""
    import scipy.sparse as sp

    from .neighbors import nearest_neighbors

    features = np.asarray(features, dtype=np.float64)
    n = len(features)
    neighbors, distances = nearest_neighbors(features, n_neighbors)
    rows = np.repeat(np.arange(n), neighbors.shape[1])
    squared = distances.reshape(-1) ** 2
    width = squared.mean() if squared.mean() > 0 else 1.0
    graph = sp.coo_matrix((np.exp(-squared / width), (rows, neighbors.reshape(-1))), shape=(n, n)).tocsr()
    graph = graph.maximum(graph.T)
    degree = np.asarray(graph.sum(axis=1)).ravel()
    centred = features - (degree @ features) / degree.sum()
    spread = degree @ centred**2
    smooth = (centred * (graph @ centred)).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(spread > 0, 1 - smooth / spread, np.inf)


def _largest_block_under_bound(r_factor, magnitudes, tau, early_stop=True):
    """Largest m with cond(R[:m, :m]) < tau, by bisection (the condition is monotone).
    ``early_stop``: in pivot order ``|R_mm|`` only shrinks, so the first ``|R_mm|`` below
    ``|R_11| / tau`` bounds the search."""
    if len(magnitudes) == 0 or magnitudes[0] == 0:
        return 0
    below = np.flatnonzero(magnitudes < magnitudes[0] / tau) if early_stop else []
    upper = int(below[0]) if len(below) else len(magnitudes)
    if _condition(r_factor, upper) < tau:
        return upper
    low, high = 1, upper  # cond at low is 1 < tau; cond at high >= tau
    while high - low > 1:
        middle = (low + high) // 2
        if _condition(r_factor, middle) < tau:
            low = middle
        else:
            high = middle
    return low
