"""Batched wavelet coefficients equal PyWavelets' per-image transform."""

import numpy as np
import pytest
import pywt
from skimage import data
from skimage.transform import resize

from fiftyone_redundancy.core.images import normalize_images
from fiftyone_redundancy.core.devices import resolve_device
from fiftyone_redundancy.core.wavelets import wavelet_coefficients


def per_image_reference(image, wavelet, level, mode):
    """Row of W the slow way: each channel transformed alone, channels last."""
    channels = image[..., None] if image.ndim == 2 else image
    arrays = []
    for channel in range(channels.shape[-1]):
        coeffs = pywt.wavedec2(channels[..., channel], wavelet, mode=mode, level=level)
        arrays.append(pywt.coeffs_to_array(coeffs)[0])
    return np.stack(arrays, axis=-1).reshape(-1)


@pytest.mark.parametrize(
    "wavelet,level,mode", [("db1", 1, "periodization"), ("db2", 2, "symmetric"), ("sym4", 1, "periodization")]
)
def test_coefficients_equal_pywavelets_per_image(wavelet, level, mode):
    rng = np.random.default_rng(0)
    astronaut = resize(data.astronaut(), (32, 32), anti_aliasing=True)
    images = np.concatenate([astronaut[None], rng.random((3, 32, 32, 3))])
    rows = wavelet_coefficients(images, wavelet, level, mode)
    for image, row in zip(images, rows):
        np.testing.assert_allclose(row, per_image_reference(image, wavelet, level, mode), atol=1e-12)


def test_grayscale_batches_transform_each_image():
    images = np.random.default_rng(1).random((5, 16, 16))
    rows = wavelet_coefficients(images, "db1", 2)
    assert rows.shape == (5, 256)
    np.testing.assert_allclose(rows[3], per_image_reference(images[3], "db1", 2, "periodization"))


def test_approximation_only_keeps_the_coarsest_band():
    images = np.random.default_rng(2).random((4, 32, 32, 3))
    rows = wavelet_coefficients(images, "db1", 2, approximation_only=True)
    expected = pywt.wavedec2(images[2, ..., 1], "db1", mode="periodization", level=2)[0]
    assert rows.shape == (4, 8 * 8 * 3)
    np.testing.assert_allclose(rows[2].reshape(8, 8, 3)[..., 1], expected)


def test_too_deep_level_is_refused_with_the_usable_range():
    with pytest.raises(ValueError, match="between 1 and"):
        wavelet_coefficients(np.zeros((2, 8, 8)), "db1", level=5)


def test_contrast_normalization_makes_exposure_copies_identical():
    image = np.random.default_rng(3).random((1, 8, 8, 3)).astype(np.float32)
    copies = np.concatenate([image, image * 0.5 + 0.2, np.full_like(image, 0.7)])
    normalized = normalize_images(copies, "contrast")
    np.testing.assert_allclose(normalized[0], normalized[1], atol=1e-5)
    assert np.all(normalized[2] == 0)  # a constant image has no pattern


@pytest.mark.parametrize("wavelet,level", [("db1", 2), ("db2", 1), ("sym4", 2)])
def test_torch_transform_equals_pywavelets(wavelet, level):
    # The GPU path's arithmetic, run on the CPU so it is checked on every machine.
    from fiftyone_redundancy.core.wavelets import torch_wavedec2

    images = np.random.default_rng(6).random((3, 32, 32, 3))
    expected = pywt.wavedec2(images, wavelet, mode="periodization", level=level, axes=(1, 2))
    got = torch_wavedec2(images, wavelet, level, "cpu")
    np.testing.assert_allclose(got[0], expected[0], atol=1e-12)
    for expected_bands, got_bands in zip(expected[1:], got[1:]):
        for expected_band, got_band in zip(expected_bands, got_bands):
            np.testing.assert_allclose(got_band, expected_band, atol=1e-12)


@pytest.mark.skipif(resolve_device(None) != "cuda", reason="no CUDA GPU here")
def test_gpu_coefficients_equal_cpu_coefficients():
    images = np.random.default_rng(7).random((64, 32, 32, 3)).astype(np.float32)
    cpu = wavelet_coefficients(images, "db2", 2, device="cpu")
    gpu = wavelet_coefficients(images, "db2", 2, device="cuda")
    np.testing.assert_allclose(gpu, cpu, atol=1e-5)
