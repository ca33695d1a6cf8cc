"""Families of copies on real images (issue 24): any number of identical copies, blank
images, and large families of edited copies are one group in every analysis, while the
ordinary images around them (real digits, faces and photographs, bundled offline) are not
dragged in."""

import io

import numpy as np
import pytest
from PIL import Image, ImageOps
from skimage import data
from sklearn.datasets import load_digits

from fiftyone_redundancy.core.families import Identities, completion_pairs, find_identities
from fiftyone_redundancy.core.grouping import decide_on_pairs, score_groups, score_matrix
from fiftyone_redundancy.core.pair_score import CANNOT_LINK, DEFAULT_THRESHOLD, PairScorer, ScoredPairs
from fiftyone_redundancy.core.split_similarity import split_decisions, split_similarity
from fiftyone_redundancy.core.ssim_analysis import SSIMParameters, analyze_ssim
from fiftyone_redundancy.core.wavelet_analysis import analyze_wavelet_clusters
from fiftyone_redundancy.realistic_edits import apply_edit

SOURCE = "coffee"
"""The photograph whose copies make the families (not among the ordinary images)."""
PHOTOS = ("astronaut", "camera", "rocket", "coins", "clock", "page", "text", "brick", "grass",
          "gravel", "moon", "immunohistochemistry", "retina", "cell", "hubble_deep_field",
          "chelsea", "colorwheel", "microaneurysms")  # fmt: skip


def analysis_size(pixels):
    image = Image.fromarray(np.asarray(pixels, dtype=np.uint8)).convert("RGB")
    return np.asarray(image.resize((32, 32), Image.Resampling.BILINEAR), dtype=np.float32) / 255


@pytest.fixture(scope="module")
def ordinary():
    """140 real images nobody copied: photographs, faces and handwritten digits."""
    photos = [analysis_size(getattr(data, name)()) for name in PHOTOS]
    faces = [analysis_size(face * 255) for face in data.lfw_subset()[:60]]
    digits = load_digits()
    picked = np.concatenate([np.flatnonzero(digits.target == label)[:6] for label in range(10)])
    blown_up = [analysis_size(Image.fromarray((digits.images[i] * 255 / 16).astype(np.uint8)).resize((32, 32))) for i in picked]
    return np.stack(photos + faces + blown_up)


def light_edits(count, seed=0):
    """``count`` lightly edited copies of ``SOURCE`` at its own size (the edits of the issue:
    JPEG re-encodes, brightness +-10%, one-pixel shifts, grey, a one-pixel crop on each
    side, pixels at the 32-pixel scale), at the analysis size."""
    rng = np.random.default_rng(seed)
    original = getattr(data, SOURCE)()
    image = Image.fromarray(original)
    unit = max(1, round(min(image.size) / 32))
    copies = []
    for number in range(count):
        kind = number % 5
        if kind == 0:
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=int(rng.integers(30, 96)))
            edited = Image.open(buffer).convert("RGB")
        elif kind == 1:
            edited = Image.fromarray(np.clip(original * rng.uniform(0.9, 1.1), 0, 255).astype(np.uint8))
        elif kind == 2:
            edited = Image.fromarray(apply_edit(original, "shift_1px", rng))
        elif kind == 3:
            edited = ImageOps.grayscale(image).convert("RGB")
        else:
            width, height = image.size
            edited = image.crop((unit, unit, width - unit, height - unit)).resize(image.size, Image.Resampling.BICUBIC)
        copies.append(analysis_size(np.asarray(edited)))
    return np.stack(copies)


def family_outcome(cluster_labels, statuses, family):
    """(number of groups the family is split into, members kept, outsiders in its groups)."""
    groups = np.unique(cluster_labels[family])
    outsiders = np.setdiff1d(np.flatnonzero(np.isin(cluster_labels, groups)), family)
    kept = np.count_nonzero(statuses[family] != "redundant")
    return len(groups), kept, len(outsiders)


def with_family(ordinary, copies):
    """The ordinary images followed by ``copies`` of ``SOURCE``, and the family's rows."""
    original = analysis_size(getattr(data, SOURCE)())
    images = np.concatenate([ordinary, original[None], copies])
    return images, np.arange(len(ordinary), len(images))


ANALYSES = {
    "wavelet": lambda images: analyze_wavelet_clusters(images),
    "ssim sparse": lambda images: analyze_ssim(images, parameters=SSIMParameters(mode="sparse")),
    "ssim dense": lambda images: analyze_ssim(images, parameters=SSIMParameters(mode="dense")),
}


@pytest.mark.parametrize("analysis", ANALYSES)
@pytest.mark.parametrize("copies", [2, 11, 12, 30, 60, 200])
def test_any_number_of_identical_copies_is_one_group_that_keeps_one(ordinary, analysis, copies):
    original = analysis_size(getattr(data, SOURCE)())
    images, family = with_family(ordinary, np.repeat(original[None], copies - 1, axis=0))
    result = ANALYSES[analysis](images)
    assert family_outcome(result.cluster_labels, result.decisions.status, family) == (1, 1, 0)


@pytest.mark.parametrize("analysis", ANALYSES)
@pytest.mark.parametrize("copies", [40, 200])
def test_a_large_family_of_edited_copies_is_one_group(ordinary, analysis, copies):
    images, family = with_family(ordinary, light_edits(copies - 1))
    result = ANALYSES[analysis](images)
    assert family_outcome(result.cluster_labels, result.decisions.status, family) == (1, 1, 0)


def split_groups(train, test, threshold=DEFAULT_THRESHOLD):
    result = split_similarity(train, test)
    return split_decisions(result, len(train), result.pairs_test_first(), threshold), result


@pytest.mark.parametrize("family_kind", ["identical 30", "identical 200", "edited 40", "edited 200"])
def test_a_family_spanning_the_split_is_one_group(ordinary, family_kind):
    kind, size = family_kind.split()
    original = analysis_size(getattr(data, SOURCE)())
    copies = np.repeat(original[None], int(size), axis=0) if kind == "identical" else light_edits(int(size))
    train = np.concatenate([ordinary[::2], copies[::2]])
    test = np.concatenate([ordinary[1::2], copies[1::2]])
    decisions, result = split_groups(train, test)
    n_test = len(test)
    family = np.concatenate([np.arange(len(ordinary[1::2]), n_test), n_test + np.arange(len(ordinary[::2]), len(train))])
    assert len(np.unique(decisions.group[family])) == 1 and decisions.group[family[0]] >= 0
    assert np.all(decisions.status[family[family < n_test]] == "redundant")
    assert np.all(decisions.status[family[family >= n_test]] == "representative")
    outsiders = np.setdiff1d(np.flatnonzero(decisions.group == decisions.group[family[0]]), family)
    assert len(outsiders) == 0
    assert result.near_identical[: len(ordinary[1::2])].sum() <= 1  # the ordinary test images do not leak


def test_blank_images_group_by_color_and_apart_from_ordinary_images(ordinary):
    def blank(color, jpeg=False):
        image = Image.new("RGB", (64, 48), color)
        if jpeg:
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=75)
            image = Image.open(buffer).convert("RGB")
        return analysis_size(np.asarray(image))

    blanks = [blank((0, 0, 0))] * 5 + [blank((0, 0, 0), jpeg=True), blank((1, 1, 1)), blank((2, 0, 1))]
    blanks += [blank((255, 255, 255))] * 4 + [blank((254, 254, 254), jpeg=True)]
    blanks += [blank((30, 90, 200)), blank((31, 91, 199), jpeg=True)]
    images = np.concatenate([ordinary, np.stack(blanks)])
    black, white, blue = (len(ordinary) + np.arange(start, stop) for start, stop in ((0, 8), (8, 13), (13, 15)))
    for analysis in ("wavelet", "ssim sparse"):
        result = ANALYSES[analysis](images)
        for members in (black, white, blue):
            assert family_outcome(result.cluster_labels, result.decisions.status, members) == (1, 1, 0), analysis
    assert find_identities(images).counts() == {"identical": 0, "constant": 15}


def test_identities_hash_decoded_pixels_and_group_constant_images_by_color():
    photo = analysis_size(data.astronaut())
    nearly = photo.copy()
    nearly[0, 0, 0] = min(1.0, nearly[0, 0, 0] + 2 / 255)  # one pixel two levels brighter: not identical
    grey = np.full((32, 32, 3), 0.5, dtype=np.float32)
    darker_grey = np.full((32, 32, 3), 0.45, dtype=np.float32)  # 13 levels darker: another colour
    images = np.stack([photo, nearly, photo, grey, grey * 1.004, darker_grey])
    identities = find_identities(images)
    assert identities.canonical.tolist() == [0, 1, 0, 3, 3, 5]
    assert identities.constant.tolist() == [False, False, False, True, True, True]
    assert identities.scored.tolist() == [0, 1]
    assert identities.counts() == {"identical": 1, "constant": 3}
    again = Identities.from_record(identities.as_record(), len(images))
    assert again.canonical.tolist() == identities.canonical.tolist() and again.constant.tolist() == identities.constant.tolist()
    # two sets are numbered one after the other (the split's test images, then its training ones)
    assert find_identities(images[:2], images[2:]).canonical.tolist() == [0, 1, 0, 3, 3, 5]


def test_a_family_larger_than_its_candidate_lists_is_completed():
    # five images whose scored pairs form a path at the floor: every missing pair is asked for
    first, second = np.array([0, 1, 2, 3, 7]), np.array([1, 2, 3, 4, 8])
    scores = np.array([0.9, 0.8, 0.35, 0.7, 0.95])
    added = completion_pairs(10, first, second, scores, floor=0.3)
    expected = {(0, 2), (0, 3), (0, 4), (1, 3), (1, 4), (2, 4)}  # 7-8 is complete already
    assert set(map(tuple, added.tolist())) == expected


def test_a_family_stays_whole_around_its_original_but_never_chains():
    # an original (0) and six edits scoring 0.9 with it and 0.2 (or nothing) with each other:
    # one group kept as the original (average linkage split it: each edit's mean with the
    # family is under the cut)
    family = [(0, k, 0.9) for k in range(1, 7)] + [(a, b, 0.2) for a in range(1, 7) for b in range(a + 1, 7) if (a + b) % 2]
    # a line of pictures, each scoring 0.85 with the next only: its ends never share a group
    line = [(k, k + 1, 0.85) for k in range(10, 15)]
    # two families of three, whole, and one false pair between them: two groups
    families = [(20, 21, 0.95), (20, 22, 0.95), (21, 22, 0.95), (23, 24, 0.95), (23, 25, 0.95), (24, 25, 0.95), (22, 23, 0.6)]
    # three near-identical edits (31-33) and a fourth (34), each a copy of 30 alone: 30 is kept,
    # though 31's mean score with the group is higher (34 would be redundant to a non-copy)
    kept_for_all = [(30, k, 0.5) for k in range(31, 35)] + [(31, 32, 0.95), (31, 33, 0.95), (32, 33, 0.95)]
    first, second, score = (np.array(column) for column in zip(*(family + line + families + kept_for_all)))
    pairs = ScoredPairs(first, second, score)
    labels = score_groups(35, pairs, DEFAULT_THRESHOLD)
    assert len(set(labels[:7])) == 1
    assert labels[10] != labels[15] and labels[10] != labels[12] and labels[11] != labels[14]
    assert len(set(labels[20:23])) == 1 and len(set(labels[23:26])) == 1 and labels[20] != labels[23]
    assert len(set(labels[30:35])) == 1
    _, decisions = decide_on_pairs(pairs, DEFAULT_THRESHOLD, Identities.none(35))
    assert decisions.status[0] == "representative" and set(decisions.representative[1:7]) == {0}
    assert decisions.status[30] == "representative" and set(decisions.representative[31:35]) == {30}


def test_every_redundant_image_is_a_copy_of_the_image_kept_for_it():
    # random scores: whatever the groups, each redundant row's pair with its kept row reaches the cut
    rng = np.random.default_rng(3)
    n = 60
    first, second = np.triu_indices(n, k=1)
    keep = rng.random(len(first)) < 0.25
    score = rng.choice([0.3, 0.4, 0.5, 0.7, 0.95], size=keep.sum())
    pairs = ScoredPairs(first[keep], second[keep], score)
    labels, decisions = decide_on_pairs(pairs, DEFAULT_THRESHOLD, Identities.none(n))
    matrix = score_matrix(n, pairs).toarray()
    redundant = np.flatnonzero(decisions.status == "redundant")
    assert len(redundant) > 10 and len(np.unique(labels)) < n - 10
    assert np.all(matrix[redundant, decisions.representative[redundant]] >= DEFAULT_THRESHOLD)
    # and every group has a prototype: a member reaching the cut with every other
    for members in (np.flatnonzero(labels == label) for label in np.unique(labels)):
        block = matrix[np.ix_(members, members)]
        assert np.any(block.min(axis=1) >= DEFAULT_THRESHOLD)


def test_a_pair_reviewed_as_different_is_never_in_one_group_even_with_identical_twins():
    identities = Identities(np.array([0, 0, 0, 3]), np.zeros(4, dtype=bool))
    pairs = ScoredPairs(np.array([0]), np.array([3]), np.array([0.95]))
    labels, decisions = decide_on_pairs(pairs, DEFAULT_THRESHOLD, identities)
    assert len(set(labels)) == 1 and decisions.counts()["redundant"] == 3
    # a copy of picture 0 said to differ from picture 3: the pair of pictures cannot link
    forced = ScoredPairs(np.array([0, 2]), np.array([3, 3]), np.array([0.95, CANNOT_LINK]))
    labels, _ = decide_on_pairs(forced, DEFAULT_THRESHOLD, identities)
    assert labels[0] == labels[1] == labels[2] != labels[3]


def test_two_different_writers_digits_are_no_copies_while_their_reencoded_copies_are():
    digits = load_digits()
    ones = np.flatnonzero(digits.target == 1)[:12]
    blown_up = np.stack([analysis_size(Image.fromarray((digits.images[i] * 255 / 16).astype(np.uint8)).resize((32, 32))) for i in ones])
    buffer = io.BytesIO()
    Image.fromarray((blown_up[0] * 255).astype(np.uint8)).save(buffer, format="JPEG", quality=70)
    reencoded = np.asarray(Image.open(buffer).convert("RGB"), dtype=np.float32) / 255
    scorer = PairScorer(np.concatenate([blown_up, reencoded[None]]))
    others = scorer.score(np.zeros(11, dtype=np.int64), np.arange(1, 12))
    assert np.all(others < DEFAULT_THRESHOLD), others.round(3)
    assert scorer.score([0], [12])[0] >= 0.9


def test_a_component_too_big_for_the_linkage_is_one_group_when_one_image_covers_it_else_refused():
    from fiftyone_redundancy.core.grouping import LARGEST_COMPONENT

    n = LARGEST_COMPONENT + 2
    # one image (0) that every other is a copy of: one group, found from the pairs alone
    star = ScoredPairs(np.zeros(n - 1, dtype=np.int64), np.arange(1, n), np.full(n - 1, 0.9))
    assert len(set(score_groups(n, star, DEFAULT_THRESHOLD))) == 1
    # a chain of that many with no image a copy of all: refused with the fix, not a dense square
    chain = ScoredPairs(np.arange(n - 1), np.arange(1, n), np.full(n - 1, 0.9))
    with pytest.raises(ValueError, match="use a higher threshold"):
        score_groups(n, chain, DEFAULT_THRESHOLD)
    # one pair said to differ inside the star: the linkage decides (and is refused here)
    with pytest.raises(ValueError, match="no image a copy of all"):
        score_groups(n, ScoredPairs(np.r_[star.first, 1], np.r_[star.second, 2], np.r_[np.full(n - 1, 0.9), CANNOT_LINK]), DEFAULT_THRESHOLD)
