"""The two candidate descriptors, which fail in different ways: the coarse wavelet
approximation of the contrast-normalised colour image (finds re-crops, re-scales and
colour changes) and the low-frequency Fourier magnitudes of the standardised luminance
(unchanged by a shift, so it finds shifted and grey copies)."""

import numpy as np

from ..alignment import luminance, standardize
from ..images import normalize_images
from ..streaming import map_rows
from ..wavelets import wavelet_coefficients

FOURIER_BAND = 6
"""Fourier magnitudes of frequencies up to this many cycles per image enter the shift-free
descriptor (13 x 7 values at 32 x 32)."""


def candidate_descriptors(images, device=None, wavelet=None):
    """The two candidate descriptors of ``images`` (n, h, w[, c]) in [0, 1], unit rows;
    ``wavelet`` (rows per image) stands for the first one when a caller already has it.
    ``images`` (and ``wavelet``) may be a ``streaming.DiskRows``: the descriptors are then
    made chunk by chunk into files beside it."""
    if wavelet is None:
        wavelet = map_rows(images, lambda chunk: coarse_wavelet_descriptor(chunk, device))
    return [map_rows(wavelet, unit_rows), map_rows(images, fourier_descriptor)]


def fourier_descriptor(images):
    """Low-frequency Fourier magnitudes of the standardised luminance under a Hann window
    (unit rows): a shift leaves them nearly as they are, and the window keeps the edges,
    which a shift or a re-crop replaces, from weighing as much as the centre."""
    standard = standardize(luminance(images)) - 0.5
    height, width = standard.shape[1:]
    window = np.outer(np.hanning(height + 2)[1:-1], np.hanning(width + 2)[1:-1]).astype(np.float32)
    spectrum = np.abs(np.fft.rfft2(standard * window))
    band = np.concatenate(
        [spectrum[:, : FOURIER_BAND + 1, : FOURIER_BAND + 1], spectrum[:, -FOURIER_BAND:, : FOURIER_BAND + 1]],
        axis=1,
    )
    return unit_rows(np.log1p(band))


def coarse_wavelet_descriptor(images, device=None):
    """The coarse wavelet descriptor: level-2 Haar approximation of the contrast-normalised
    image (rows per image, not yet unit)."""
    return wavelet_coefficients(normalize_images(images, "contrast"), "db1", 2, "periodization", True, device)


def unit_rows(features):
    """Rows centred and scaled to unit length (constant rows become zero)."""
    features = np.asarray(features, dtype=np.float32).reshape(len(features), -1)
    centred = features - features.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    return np.divide(centred, norms, out=np.zeros_like(centred), where=norms > 1e-9)
