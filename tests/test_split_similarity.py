"""Train-vs-test similarity on real photographs with planted leaks and far-away images."""

import numpy as np
import pytest
from skimage import data
from skimage.transform import resize

from fiftyone_redundancy.core.split_similarity import SplitParameters, split_similarity


def photos(size=32):
    names = ["astronaut", "chelsea", "coffee", "rocket", "camera", "coins", "moon", "brick",
             "grass", "gravel", "clock", "page", "text", "immunohistochemistry", "retina"]  # fmt: skip
    images = []
    for name in names:
        image = getattr(data, name)()
        image = np.stack([image] * 3, axis=-1) if image.ndim == 2 else image[..., :3]
        images.append(resize(image, (size, size), anti_aliasing=True))
    return np.stack(images)


@pytest.mark.parametrize("mode", ["exhaustive", "candidates"])
def test_leaks_find_their_training_partner_and_far_images_rank_last(mode):
    rng = np.random.default_rng(0)
    train = photos()
    leaks = np.clip(train[[2, 7, 11]] + rng.normal(0, 0.01, (3, 32, 32, 3)), 0, 1)
    far = rng.random((2, 32, 32, 3))  # noise: like nothing in training
    darker = photos()[[0]] * 0.5  # a re-exposed copy counts as a copy: the pair score normalises brightness
    test = np.concatenate([leaks, far, darker])
    parameters = SplitParameters(n_least_similar=2, mode=mode, pair_score={"n_neighbors": 3})
    result = split_similarity(train, test, parameters)
    assert list(result.best_match[:3]) == [2, 7, 11]
    assert result.best_match[5] == 0
    assert result.near_identical.tolist() == [True, True, True, False, False, True]
    assert sorted(result.least_similar) == [3, 4]
    assert result.mode == mode


def test_within_class_compares_only_same_group():
    train = photos()
    test = train[[4]].copy()
    groups = np.array(["a"] * len(train), dtype=object)
    groups[4] = "b"
    result = split_similarity(train, test, train_groups=groups, test_groups=["a"])
    assert result.best_match[0] != 4 and not result.near_identical[0]


def test_both_modes_give_a_pair_the_same_score_so_an_update_may_switch_mode():
    """What a split update's lookups rest on: a pair's score and raw similarity are its two
    images' alone, whichever mode (and candidate search) compared them. Copies of smooth
    images score by the descriptor, whose rows both modes must normalise alike."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(0)
    train = np.concatenate([photos(), gaussian_filter(photos(), (0, 2, 2, 0))])
    test = np.clip(train[[1, 2, 3, 10, 15, 18]] + rng.normal(0, 0.004, (6, 32, 32, 3)), 0, 1)
    exhaustive, candidates = (split_similarity(train, test, SplitParameters(mode=mode, pair_score={"n_neighbors": 5}))
                              for mode in ("exhaustive", "candidates"))  # fmt: skip
    assert list(candidates.best_match) == list(exhaustive.best_match) == [1, 2, 3, 10, 15, 18]
    assert np.array_equal(candidates.best_similarity, exhaustive.best_similarity)
    assert np.array_equal(candidates.closest_raw, exhaustive.closest_raw)
