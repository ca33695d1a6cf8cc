"""Low-dimensional projections of analysis features for the embedding panel."""

import numpy as np

from .streaming import DiskRows, column_means, gram, row_chunks


def pca_projection(features, n_components=2):
    """Project rows onto their first ``n_components`` principal axes (zero-padded when
    the features have fewer dimensions or rows than that). Exact PCA from the d x d
    scatter matrix, read by chunks, so a ``streaming.DiskRows`` of a million rows needs
    no more memory than the points; each axis is signed as scikit-learn signs it (its
    largest loading positive), so a run gives the same picture every time."""
    if not isinstance(features, DiskRows):
        features = np.asarray(features, dtype=np.float64)
    n, d = features.shape
    usable = min(n_components, d, n)
    points = np.zeros((n, n_components))
    if usable > 0 and n > 1:
        mean = column_means(features)
        _, axes = np.linalg.eigh(gram(features, mean))
        top = axes[:, ::-1][:, :usable]
        signs = np.sign(top[np.abs(top).argmax(axis=0), np.arange(usable)])
        top = top * np.where(signs == 0, 1, signs)
        for start, chunk in row_chunks(features):
            points[start : start + len(chunk), :usable] = (np.asarray(chunk, dtype=np.float64) - mean) @ top
    return points
