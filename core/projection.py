"""Low-dimensional projections of analysis features for the embedding panel."""

import numpy as np
from sklearn.decomposition import PCA


def pca_projection(features, n_components=2, random_state=0):
    """Project rows onto their first ``n_components`` principal axes (zero-padded when
    the features have fewer dimensions or rows than that)."""
    features = np.asarray(features, dtype=np.float64)
    n, d = features.shape
    usable = min(n_components, d, n)
    points = np.zeros((n, n_components))
    if usable > 0 and n > 1:
        solver = "randomized" if min(n, d) > 10 * n_components else "full"
        points[:, :usable] = PCA(
            usable, svd_solver=solver, random_state=random_state
        ).fit_transform(features)
    return points
