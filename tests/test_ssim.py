"""Batched SSIM agrees with skimage.metrics.structural_similarity."""

import numpy as np
import pytest
from skimage import data
from skimage.metrics import structural_similarity
from skimage.transform import resize

from fiftyone_redundancy.core.devices import resolve_device
from fiftyone_redundancy.core.ssim import SSIMIndex

WANG = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)


def real_images(size=32):
    photos = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
    return np.stack([resize(photo, (size, size), anti_aliasing=True) for photo in photos])


def reference(a, b, **options):
    channel_axis = -1 if a.ndim == 3 else None
    return structural_similarity(a, b, channel_axis=channel_axis, **{**WANG, **options})


def test_color_pairs_of_real_photographs_agree_with_skimage():
    images = real_images()
    noisy = np.clip(images + np.random.default_rng(0).normal(0, 0.05, images.shape), 0, 1)
    stack = np.concatenate([images, noisy])
    index = SSIMIndex(stack)
    first, second = np.triu_indices(len(stack), k=1)
    expected = [reference(stack[i], stack[j]) for i, j in zip(first, second)]
    np.testing.assert_allclose(index.pairs(first, second), expected, atol=1e-4)


def test_grayscale_random_pairs_agree_with_skimage():
    rng = np.random.default_rng(1)
    images = rng.random((6, 24, 40))
    index = SSIMIndex(images)
    for i, j in [(0, 1), (2, 5), (3, 3)]:
        assert index.pairs([i], [j])[0] == pytest.approx(reference(images[i], images[j]), abs=1e-4)


def test_uniform_window_and_other_data_range_agree_with_skimage():
    rng = np.random.default_rng(2)
    images = rng.random((3, 32, 32, 3)) * 255
    index = SSIMIndex(images, data_range=255, gaussian_weights=False, win_size=7)
    expected = reference(images[0], images[1], gaussian_weights=False, win_size=7, data_range=255)
    assert index.pairs([0], [1])[0] == pytest.approx(expected, abs=1e-4)


def test_identical_images_score_one_and_against_another_index():
    images = real_images()
    train, test = SSIMIndex(images), SSIMIndex(images[::-1].copy())
    np.testing.assert_allclose(train.pairs([0, 1], [3, 2], other=test), [1.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(train.one_to_many(0)[0], 1.0)


def test_images_smaller_than_the_window_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="resize images to at least 11"):
        SSIMIndex(np.zeros((2, 8, 8)))


@pytest.mark.skipif(resolve_device(None) != "cuda", reason="no CUDA GPU here")
def test_gpu_values_equal_cpu_values():
    images = real_images()
    first, second = np.triu_indices(len(images), k=1)
    cpu = SSIMIndex(images, device="cpu").pairs(first, second)
    gpu = SSIMIndex(images, device="cuda").pairs(first, second)
    np.testing.assert_allclose(gpu, cpu, atol=1e-5)
