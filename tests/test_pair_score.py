"""The pair score on real photographs (scikit-image's, bundled offline) and copies made with
the edits real copies carry: each kind of copy is found, distinct photographs stay apart,
and the fused score rises with each signal."""

import numpy as np
import pytest
from PIL import Image
from skimage import data

from fiftyone_redundancy.core.alignment import AlignedSimilarity
from fiftyone_redundancy.core.arrays import to_numpy
from fiftyone_redundancy.core.devices import resolve_device
from fiftyone_redundancy.core.frames import frame_widths, trim_frames
from fiftyone_redundancy.core.grouping import score_groups
from fiftyone_redundancy.core.pair_score import (
    DEFAULT_THRESHOLD,
    PairScoreParameters,
    PairScorer,
    ScoredPairs,
    fuse,
    score_within,
)
from fiftyone_redundancy.realistic_edits import EDITS, HEAVY, OPTIONAL, apply_edit

# distinct pictures (cat and chelsea are one picture; the motorcycle is a stereo pair)
PHOTOS = ("astronaut", "camera", "coffee", "rocket", "coins", "clock", "page", "text",
          "brick", "grass", "gravel", "moon", "immunohistochemistry", "retina", "cell",
          "hubble_deep_field", "chelsea", "colorwheel", "microaneurysms")  # fmt: skip
SOURCES = ("astronaut", "coffee", "camera", "chelsea", "coins")
HARD_SOURCES = ("rocket", "clock")
"""Photographs whose copies the default cut misses for some edits: the rocket is mostly
flat sky, where a sub-pixel re-sampling costs more than a one-pixel shift of the image
itself (the discount's reference), and a bright border on the low-contrast clock changes
its standardisation. Their copies are still ranked first (``test_hard_photographs...``)."""
KNOWN_WEAK = ("down_up",)
"""An edit the default cut does not always reach on these photographs (see the README's
benchmark): a 2x down-and-up re-scale. Its copies are still ranked first."""


def originals():
    return {name: np.asarray(getattr(data, name)()) for name in PHOTOS}


def analysis_size(pixels):
    return np.asarray(Image.fromarray(pixels).convert("RGB").resize((32, 32), Image.Resampling.BILINEAR), dtype=np.float32) / 255


@pytest.fixture(scope="module")
def photos():
    return originals()


def scores_with_copies(photos, edit, parameters=None, sources=SOURCES):
    """Pool of every photograph plus one ``edit`` copy of each source; returns the copies'
    scores with their original (the lower of both orders) and their highest with any other
    photograph."""
    rng = np.random.default_rng(0)
    names = list(photos)
    pool = [analysis_size(photos[name]) for name in names]
    copies = [analysis_size(apply_edit(photos[name], edit, rng)) for name in sources]
    scorer = PairScorer(np.stack(pool + copies), parameters)
    own, others = [], []
    for number, name in enumerate(sources):
        copy = len(pool) + number
        values = scorer.score(np.full(len(pool), copy), np.arange(len(pool)))
        # the pair's order is arbitrary: the copy is zoomed in one order, the original in the other
        reversed_order = scorer.score([names.index(name)], [copy])[0]
        own.append(min(values[names.index(name)], reversed_order))
        others.append(np.delete(values, names.index(name)).max())
    return np.array(own), np.array(others)


@pytest.mark.parametrize("edit", [e for e in EDITS if e not in HEAVY + OPTIONAL + KNOWN_WEAK])
def test_each_edit_is_recovered_on_real_photographs(photos, edit):
    own, others = scores_with_copies(photos, edit)
    assert np.all(own >= DEFAULT_THRESHOLD), f"{edit}: scores with the original {own.round(3)}"
    assert np.all(own > others), f"{edit}: another photograph scores higher"


@pytest.mark.parametrize("edit", KNOWN_WEAK)
def test_weak_edits_still_rank_their_original_first(photos, edit):
    own, others = scores_with_copies(photos, edit)
    assert np.all(own > others)


@pytest.mark.parametrize("edit", ["shift_1px", "crop_10", "border", "text"])
def test_hard_photographs_still_rank_their_copies_first(photos, edit):
    own, others = scores_with_copies(photos, edit, sources=HARD_SOURCES)
    assert np.all(own >= others)


def test_framed_copies_are_found_among_natural_images(photos):
    # a border or letterbox bars move every pixel of the picture: only trimming them finds
    # the copy (core/frames.py), both as a candidate and in the verification
    rng = np.random.default_rng(1)
    names = list(photos)
    pool = [analysis_size(photos[name]) for name in names]
    copies = [analysis_size(apply_edit(photos[name], edit, rng)) for name in SOURCES for edit in ("border", "letterbox")]
    pairs = score_within(np.stack(pool + copies))
    found = set(zip(pairs.first.tolist(), pairs.second.tolist()))
    for number, name in enumerate(n for n in SOURCES for _ in range(2)):
        pair = (names.index(name), len(pool) + number)
        assert pair in found, f"{name}: copy {number % 2} not scored with its original"
        score = pairs.score[(pairs.first == pair[0]) & (pairs.second == pair[1])][0]
        assert score >= DEFAULT_THRESHOLD, f"{name}: {score:.3f}"
    natural = (pairs.first < len(pool)) & (pairs.second < len(pool))
    assert np.all(pairs.score[natural] < DEFAULT_THRESHOLD)


def test_frames_are_bands_of_one_color_on_opposite_sides():
    rng = np.random.default_rng(0)
    picture = rng.random((32, 32, 3)).astype(np.float32)
    letterboxed = picture.copy()
    letterboxed[:4], letterboxed[-4:] = 0, 0
    sky = picture.copy()
    sky[:6] = 0.8  # a flat sky along one edge is not a frame
    bordered = np.full((32, 32, 3), 0.3, dtype=np.float32)
    bordered[2:-2, 2:-2] = picture[2:-2, 2:-2]
    widths = frame_widths(np.stack([picture, letterboxed, sky, bordered]))
    assert widths.tolist() == [[0, 0, 0, 0], [4, 4, 0, 0], [6, 0, 0, 0], [2, 2, 2, 2]]
    framed, trimmed = trim_frames(np.stack([picture, letterboxed, sky, bordered]))
    assert framed.tolist() == [1, 3] and trimmed.shape == (2, 32, 32, 3)
    assert np.abs(trimmed[1] - bordered).mean() > 0.1  # the frame is gone


def test_mirrored_copies_count_only_when_asked(photos):
    own, _ = scores_with_copies(photos, "hflip")
    assert np.all(own < DEFAULT_THRESHOLD)
    own, others = scores_with_copies(photos, "hflip", PairScoreParameters(flips=True))
    assert np.all(own >= DEFAULT_THRESHOLD) and np.all(own > others)


def test_distinct_photographs_stay_apart(photos):
    images = np.stack([analysis_size(pixels) for pixels in photos.values()])
    pairs = score_within(images)
    assert np.all(pairs.score < DEFAULT_THRESHOLD)
    assert np.all(score_groups(len(images), pairs, DEFAULT_THRESHOLD) == np.arange(len(images)))


def test_fine_patterns_are_no_copies_of_flat_or_dark_pictures(photos):
    """A half-pixel refinement averages a one-pixel checkerboard (or stripes) to flat grey,
    which would match any flat or nearly flat picture: such a window is no alignment
    (``alignment.REFINED_CONTRAST``). Against three real ``lfw_subset`` crops (black,
    nearly black, a bright one with a dark band; the checkerboard scored 1.0, 0.995 and
    0.867 against them) and the smooth sky of another photograph, each pattern stays below
    the cut."""
    rows, columns = np.indices((32, 32))
    patterns = [(rows + columns) % 2, rows % 2, columns % 2]  # checkerboard, stripes both ways
    patterns = [np.repeat(pattern[..., None], 3, axis=2).astype(np.float32) for pattern in patterns]
    faces = data.lfw_subset()
    flat = [analysis_size((faces[index] * 255).astype(np.uint8)) for index in (152, 174, 188)]
    flat.append(analysis_size(photos["rocket"][:120, :120]))
    scorer = PairScorer(np.stack(patterns + flat))
    first, second = np.divmod(np.arange(len(patterns) * len(flat)), len(flat))
    scores = scorer.score(first, second + len(patterns))
    assert np.all(scores < DEFAULT_THRESHOLD), scores.reshape(len(patterns), len(flat)).round(2)


def test_a_one_pixel_roll_and_a_ten_percent_recrop_score_as_copies(photos):
    image = analysis_size(photos["astronaut"])
    rolled = np.roll(image, 1, axis=1)
    recrop = analysis_size(np.asarray(Image.fromarray(photos["astronaut"]).crop((26, 26, 486, 486))))
    scorer = PairScorer(np.stack([image, rolled, recrop]))
    assert np.all(scorer.score([0, 0], [1, 2]) >= DEFAULT_THRESHOLD)


def test_the_fused_score_rises_with_each_signal():
    grid = np.linspace(0, 1, 11)
    for descriptor in (0.9, 0.995, 1.0):
        assert np.all(np.diff(fuse(grid, np.full(11, descriptor))) >= 0)
    assert np.all(np.diff(fuse(np.full(11, 0.3), 0.98 + 0.02 * grid)) >= 0)
    assert fuse([0.3], [0.999])[0] > fuse([0.3], [0.99])[0]
    with_embeddings = fuse(np.full(11, 0.5), np.full(11, 0.9), grid)
    assert np.all(np.diff(with_embeddings) > 0)
    assert fuse([0.5], [0.9])[0] == 0.5  # without embeddings: the pixel evidence alone


def test_embeddings_add_candidates_and_raise_the_score(photos):
    images = np.stack([analysis_size(pixels) for pixels in photos.values()])
    embeddings = np.random.default_rng(0).normal(size=(len(images), 8))
    embeddings[1] = embeddings[0] + 0.01  # the "model" says astronaut and camera are alike
    plain = PairScorer(images).score([0], [1])[0]
    fused = PairScorer(images, embeddings=embeddings).score([0], [1])[0]
    assert fused > plain
    pairs = score_within(images, PairScoreParameters(n_neighbors=1), embeddings)
    assert (0, 1) in set(zip(pairs.first.tolist(), pairs.second.tolist()))


def test_a_run_keeps_every_pair_at_or_above_the_floor_rounded():
    rng = np.random.default_rng(0)
    first, second = np.triu_indices(50, k=1)
    scores = rng.uniform(0.2, 1, len(first))
    pairs = ScoredPairs(first, second, scores).stored()
    assert len(pairs.score) == np.count_nonzero(scores >= 0.3) and pairs.score.min() >= 0.3
    np.testing.assert_array_equal(pairs.score, np.round(scores[scores >= 0.3], 5))


def test_smooth_images_need_stronger_evidence_than_detailed_ones(photos):
    smooth = analysis_size(np.asarray(Image.fromarray(photos["moon"]).resize((8, 8))))
    detailed = analysis_size(photos["gravel"])
    baselines = to_numpy(AlignedSimilarity(np.stack([smooth, detailed])).baselines)
    assert baselines[0] > baselines[1]


@pytest.mark.skipif(resolve_device(None) != "cuda", reason="needs a CUDA GPU")
def test_gpu_and_cpu_give_the_same_scores(photos):
    images = np.stack([analysis_size(pixels) for pixels in photos.values()])
    rng = np.random.default_rng(0)
    first, second = rng.integers(0, len(images), 200), rng.integers(0, len(images), 200)
    cpu = PairScorer(images, PairScoreParameters(device="cpu")).score(first, second)
    gpu = PairScorer(images, PairScoreParameters(device="cuda")).score(first, second)
    assert np.allclose(cpu, gpu, atol=1e-3)


def test_copies_on_disk_searched_by_inverted_file_and_verified_in_shards_score_as_in_memory(photos, tmp_path, monkeypatch):
    """The million-image path on a small set: images and descriptors read from disk by
    chunks, candidates from the inverted-file index, pairs verified in shards (each shard
    reads its images from disk): every stored pair and score as in memory."""
    from fiftyone_redundancy.core import pair_score, streaming

    rng = np.random.default_rng(1)
    pool = [analysis_size(pixels) for pixels in photos.values()]
    copies = [analysis_size(apply_edit(photos[name], edit, rng)) for name in SOURCES for edit in ("border", "jpeg_q50", "shift_2px", "crop_10")]
    images = np.rint(np.stack(pool + copies) * 255) / 255
    in_memory = score_within(images)

    store = streaming.ImageStore(len(images), images.shape[1:], tmp_path)
    store.write(0, images)
    monkeypatch.setattr(streaming, "CHUNK_ROWS", 8)
    monkeypatch.setattr(pair_score.candidates, "EXACT_SEARCH_ROWS", 0)
    monkeypatch.setattr(pair_score.shards, "SHARD_PAIRS", 16)
    timings = {}
    on_disk = score_within(store, timings=timings)
    assert set(timings) == {"pair_candidates", "pair_verification", "pair_completion"}
    assert in_memory.above(DEFAULT_THRESHOLD).score.size >= len(copies)
    np.testing.assert_array_equal(on_disk.first, in_memory.first)
    np.testing.assert_array_equal(on_disk.second, in_memory.second)
    np.testing.assert_allclose(on_disk.score, in_memory.score, atol=1e-5)


def test_the_inverted_file_search_finds_planted_neighbors_and_never_the_row_itself():
    from fiftyone_redundancy.core.pair_score import candidate_neighbors, inverted_file_neighbors

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(40, 32)).astype(np.float32)
    rows = centres[rng.integers(0, 40, 6000)] + rng.normal(scale=0.5, size=(6000, 32)).astype(np.float32)
    rows[5000:] = rows[:1000] + rng.normal(scale=0.01, size=(1000, 32)).astype(np.float32)  # near copies
    found = inverted_file_neighbors(rows, 5)
    assert found.shape == (6000, 5) and not np.any(found == np.arange(6000)[:, None])
    assert np.mean(found[:1000, 0] == np.arange(5000, 6000)) > 0.99
    assert np.mean(found[5000:, 0] == np.arange(1000)) > 0.99
    exact = candidate_neighbors(rows, rows, 5, exclude_self=True)
    recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(found, exact)])
    assert 0.8 < recall  # approximate beyond the nearest, as an index is


def test_shards_in_locality_order_touch_few_images():
    """Pairs of 50 separate groups of five, in random order: in locality order each shard of
    ten pairs (a group's worth) touches about one group's images; in the order given,
    nearly twenty."""
    from fiftyone_redundancy.core.pair_score import locality_order

    rng = np.random.default_rng(0)
    items = rng.permutation(250).reshape(50, 5)
    pairs = np.array([(g[a], g[b]) for g in items for a in range(5) for b in range(a + 1, 5)])
    pairs = np.sort(pairs[rng.permutation(len(pairs))], axis=1)
    order = locality_order(pairs, 250)
    assert sorted(order.tolist()) == list(range(len(pairs)))

    def touched(ordered):
        return np.mean([len(np.unique(ordered[start : start + 10])) for start in range(0, len(ordered), 10)])

    assert touched(pairs[order]) <= 7 and touched(pairs) > 15


def test_shards_score_each_pair_as_one_scorer_per_image_set(photos, monkeypatch):
    """Shards of a few pairs, within the photographs and between edited copies (framed
    ones among them) and the photographs, give each pair the score and raw similarity
    that one scorer per image set gives it, in the order the pairs were asked."""
    from fiftyone_redundancy.core.pair_score import shard_side, shards, verify_sharded

    rng = np.random.default_rng(2)
    pool = np.stack([analysis_size(pixels) for pixels in photos.values()])
    copies = np.stack([analysis_size(apply_edit(photos[name], edit, rng)) for name in SOURCES for edit in ("border", "shift_2px")])
    pool_embeddings, copy_embeddings = rng.normal(size=(len(pool), 8)), rng.normal(size=(len(copies), 8))
    parameters = PairScoreParameters()
    monkeypatch.setattr(shards, "SHARD_PAIRS", 7)

    within = np.stack(np.triu_indices(len(pool), k=1), axis=1)[rng.permutation(len(pool) * (len(pool) - 1) // 2)]
    scores, raw = verify_sharded(None, parameters, within, shard_side(pool, parameters, pool_embeddings))
    expected = PairScorer(pool, parameters, pool_embeddings).score_and_raw(within[:, 0], within[:, 1])
    np.testing.assert_allclose(scores, expected[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(raw, expected[1], rtol=0, atol=1e-6)

    across = np.stack(np.nonzero(np.ones((len(copies), len(pool)), dtype=bool)), axis=1)
    query, index = shard_side(copies, parameters, copy_embeddings), shard_side(pool, parameters, pool_embeddings)
    scores, raw = verify_sharded(None, parameters, across, query, index)
    index_scorer = PairScorer(pool, parameters, pool_embeddings)
    expected = PairScorer(copies, parameters, copy_embeddings).score_and_raw(across[:, 0], across[:, 1], index_scorer)
    np.testing.assert_allclose(scores, expected[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(raw, expected[1], rtol=0, atol=1e-6)
    assert scores.max() > DEFAULT_THRESHOLD  # the copies found their photographs
