"""Graph-Laplacian spectrum, the eigen-gap choice of the number of clusters, and spectral
clustering on a similarity graph (Algorithm 2, steps 2-3)."""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .parameters import check_choice

RULES = {"largest_gap": "Largest eigen-gap", "paper": "Gaps larger than gamma (the paper)"}
"""The eigen-gap rules, in the words the forms offer them."""
SHIFT_INVERT_LIMIT = 20_000


def affinity_from_similarity(similarity):
    """SSIM lies in [-1, 1]; an affinity must not be negative: clip to [0, 1] (dense or
    sparse), with a zero diagonal."""
    if sp.issparse(similarity):
        affinity = similarity.tocsr(copy=True)
        affinity.data = np.clip(affinity.data, 0, 1)
        affinity.setdiag(0)
        affinity.eliminate_zeros()
        return affinity
    affinity = np.clip(np.asarray(similarity, dtype=np.float64), 0, 1)
    np.fill_diagonal(affinity, 0)
    return affinity


def laplacian_spectrum(affinity, n_eigenvalues=None):
    """Smallest eigenvalues of the unnormalized Laplacian ``L = D - A``, ascending.

    Dense: all of them (``eigvalsh``). Sparse, or when ``n_eigenvalues`` is smaller than
    n: the ``n_eigenvalues`` smallest by Lanczos (``eigsh``): in shift-invert mode up to
    ``SHIFT_INVERT_LIMIT`` rows, beyond that (where the sparse LU would fill in) as the
    largest eigenvalues of ``c I - L``, which needs only products with ``L``.
    """
    n = affinity.shape[0]
    if sp.issparse(affinity) or (n_eigenvalues is not None and n_eigenvalues < n - 1):
        from scipy.sparse.linalg import eigsh

        laplacian = sp.csgraph.laplacian(sp.csr_matrix(affinity)).astype(np.float64)
        count = min(n_eigenvalues or 50, n - 1)
        if n > SHIFT_INVERT_LIMIT:
            return smallest_by_shifted_lanczos(laplacian, count)
        values = eigsh(laplacian, k=count, sigma=-1e-3, which="LM", return_eigenvectors=False)
        return np.sort(values)
    laplacian = np.diag(affinity.sum(axis=1)) - affinity
    return np.linalg.eigvalsh(laplacian)


def smallest_by_shifted_lanczos(laplacian, count):
    """The ``count`` smallest eigenvalues of a sparse Laplacian as ``c - (largest of
    c I - L)``, with ``c`` twice the largest degree (an upper bound of the spectrum).

    Lanczos from one start vector finds a repeated eigenvalue once; the one repetition
    that carries meaning, the zero eigenvalue (once per connected component), is counted
    exactly from the components instead.
    """
    from scipy.sparse.linalg import LinearOperator, eigsh

    n_components = sp.csgraph.connected_components(laplacian, directed=False)[0]
    zeros = min(n_components, count)
    bound = 2 * float(np.abs(laplacian.diagonal()).max()) or 1.0
    shifted = LinearOperator(
        laplacian.shape, matvec=lambda x: bound * x - laplacian @ x, dtype=np.float64
    )
    values = eigsh(shifted, k=count, which="LA", tol=1e-8, return_eigenvectors=False)
    nonzero = np.sort(bound - values)
    nonzero = nonzero[nonzero > 1e-8 * bound]
    return np.concatenate([np.zeros(zeros), nonzero[: count - zeros]])


def clusters_from_spectrum(eigenvalues, rule="largest_gap", gamma=0.4):
    """Number of clusters from an ascending spectrum.

    ``"largest_gap"``: the k at which ``lambda_{k+1} - lambda_k`` is largest (the usual
    eigen-gap heuristic: k clusters give k near-zero eigenvalues). ``"paper"``: the number
    of consecutive gaps larger than ``gamma``, as Yousefzadeh (2020) states it (gamma 0.4
    gave 454 clusters for 500 CIFAR images); it depends on the similarity's scale.
    """
    eigenvalues = np.sort(np.asarray(eigenvalues, dtype=np.float64))
    check_choice("rule", rule, RULES)
    if len(eigenvalues) < 2:
        return 1
    gaps = np.diff(eigenvalues)
    if rule == "paper":
        return max(1, int(np.count_nonzero(gaps > gamma)))
    return int(np.argmax(gaps)) + 1


ZERO_TOLERANCE = 1e-8
"""An eigenvalue this close to zero (relative to the largest, at least 1) is zero: one
per connected component of the graph, however a solver rounds it (about -1e-16)."""


@dataclass(frozen=True)
class SpectrumReading:
    """What an ascending Laplacian spectrum says: ``n_zero`` zero eigenvalues (the
    graph's connected components, or a lower bound when ``all_zero``: every computed
    eigenvalue is zero), the ``past_zero`` eigenvalues after that block, and the largest
    gap among them (``gap`` between eigenvalues ``gap_after`` and ``gap_after + 1``,
    1-based; None where fewer than two lie past the zero block)."""

    n_computed: int
    n_zero: int
    past_zero: tuple
    gap_after: int = None
    gap: float = None

    @property
    def all_zero(self):
        return self.n_zero == self.n_computed


def read_spectrum(eigenvalues, shown=5):
    """A :class:`SpectrumReading` of ``eigenvalues`` (ascending), with the first ``shown``
    eigenvalues past the zero block."""
    values = np.sort(np.asarray(eigenvalues, dtype=np.float64))
    tolerance = ZERO_TOLERANCE * max(1.0, float(np.abs(values).max(initial=0.0)))
    n_zero = int(np.count_nonzero(values <= tolerance))
    past = values[n_zero:]
    gap_after = gap = None
    if n_zero and len(past):
        with_last_zero = values[n_zero - 1 :]
        gaps = np.diff(with_last_zero)
        step = int(np.argmax(gaps))
        gap_after, gap = n_zero + step, float(gaps[step])
    return SpectrumReading(len(values), n_zero, tuple(float(v) for v in past[:shown]), gap_after, gap)


def spectral_clusters(affinity, n_clusters, random_state=0):
    """Cluster label per row by spectral clustering of the precomputed ``affinity``."""
    from sklearn.cluster import SpectralClustering

    n = affinity.shape[0]
    if not 1 <= n_clusters <= n:
        raise ValueError(f"n_clusters must be between 1 and {n}, got {n_clusters}")
    if n_clusters == n:
        return np.arange(n)
    if n_clusters == 1:
        return np.zeros(n, dtype=np.int64)
    model = SpectralClustering(
        n_clusters=n_clusters,
        affinity="precomputed",
        assign_labels="cluster_qr",
        random_state=random_state,
    )
    return model.fit_predict(affinity)
