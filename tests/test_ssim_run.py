"""compute_ssim_clusters and compute_split_similarity on the demo's real image files."""

import fiftyone.operators as foo
import numpy as np
import pytest
from fiftyone import ViewField as F

import fiftyone_redundancy.api as fr
from fiftyone_redundancy.core.families import Identities
from fiftyone_redundancy.core.grouping import score_matrix
from fiftyone_redundancy.core.pair_score import ScoredPairs

pytestmark = pytest.mark.slow

PLUGIN = "@fiftyone-redundancy/redundancy"


@pytest.fixture(scope="module")
def ssim_runs(small_demo_dataset):
    dataset = small_demo_dataset.clone()
    dense = fr.compute_ssim_clusters(dataset, label_field="ground_truth", key="dense", mode="dense", progress=False)
    sparse = fr.compute_ssim_clusters(dataset, label_field="ground_truth", key="sparse", mode="sparse", progress=False)
    yield dataset, dense, sparse
    dataset.delete()


def test_dense_and_sparse_modes_score_alike_and_find_the_same_copies(ssim_runs):
    dataset, dense, sparse = ssim_runs
    assert dense.details["mode_used"] == "dense" and sparse.details["mode_used"] == "sparse"
    # the candidates of sparse mode are a subset of all pairs, scored the same way
    dense_scores = pair_scores(dense)
    for pair, score in pair_scores(sparse).items():
        if pair in dense_scores:
            # torch batches the pairs differently; the stricter score of images that say little
            # (core/detail.py) stretches such a difference up to five times
            assert score == pytest.approx(dense_scores[pair], abs=5e-4)
    # every planted copy is grouped with its original in both modes
    for key in ("dense", "sparse"):
        planted = dataset.match(F("planted") == "near_duplicate")
        by_group = {}
        for group, found in zip(planted.values("planted_group"), planted.values(f"{key}_group")):
            by_group.setdefault(group, set()).add(found)
        assert all(len(found) == 1 and -1 not in found for found in by_group.values()), key


def pair_scores(run):
    pairs = run.details["pairs"]
    ids = run.details["sample_ids"]
    return {
        tuple(sorted((ids[a], ids[b]))): score
        for a, b, score in zip(pairs["first"], pairs["second"], pairs["score"])
    }


def test_exact_and_reencoded_copies_are_grouped_and_lookalikes_influential(ssim_runs):
    dataset, dense, _ = ssim_runs
    for transform in ("exact", "jpeg"):
        for copy in dataset.match(F("planted_transform") == transform):
            original = dataset.match(
                (F("planted_group") == copy.planted_group) & (F("planted_transform") == "original")
            ).first()
            assert copy.dense_group >= 0 and copy.dense_group == original.dense_group
    lookalikes = dataset.match(F("planted") == "lookalike")
    assert set(lookalikes.values("dense_status")) == {"influential"}


def test_ssim_run_stores_its_spectrum_and_scores(ssim_runs):
    dataset, dense, sparse = ssim_runs
    spectrum = np.array(dense.details["spectrum"])
    assert len(spectrum) == len(dataset) and np.all(np.diff(spectrum) >= -1e-9)
    assert abs(spectrum[0]) < 1e-6  # a Laplacian always has a zero eigenvalue
    assert len(sparse.details["spectrum"]) == 50
    # minimax linkage: every redundant image's pair with the image kept for it reaches the
    # cut (pairs count for pictures: an identical copy's for its twin's)
    ids = dense.details["sample_ids"]
    row = {sample_id: index for index, sample_id in enumerate(ids)}
    picture = Identities.from_record(dense.details["identities"], len(ids)).canonical
    stored = dense.details["pairs"]
    matrix = score_matrix(len(ids), ScoredPairs(*(np.asarray(stored[column]) for column in ("first", "second", "score"))))
    redundant = dense.view(["redundant"])
    kept = [(picture[row[a]], picture[row[b]]) for a, b in zip(redundant.values("id"), redundant.values("dense_representative"))]
    scores = [1.0 if a == b else matrix[a, b] for a, b in kept]
    assert len(scores) > 3 and min(scores) >= dense.parameters["threshold"] - 1e-6


def test_spectral_grouping_with_a_given_number_of_clusters(small_dataset):
    view = small_dataset.match(F("source") == "skimage")
    run = fr.compute_ssim_clusters(view, key="spec", grouping="spectral", n_clusters=len(view) - 3, progress=False)
    assert run.details["n_clusters_used"] == len(view) - 3
    assert len(run.group_sizes()) + run.counts["unique"] == len(view) - 3


def test_dense_mode_past_the_memory_budget_is_refused_with_the_fix(small_dataset):
    with pytest.raises(ValueError, match="use mode='sparse'"):
        fr.compute_ssim_clusters(small_dataset, mode="dense", memory_budget_gb=0.001, progress=False)


def test_every_leak_is_found_with_its_training_partner(small_dataset):
    run = fr.compute_split_similarity(small_dataset, label_field="ground_truth", progress=False)
    leaks = small_dataset.match_tags("test").match(F("planted") == "leak")
    assert len(leaks) == 6
    for leak in leaks:
        partner = small_dataset.match_tags("train").match(
            (F("planted") == "leak") & (F("planted_group") == leak.planted_group)
        ).first()
        assert leak.split_best_match == partner.id
        assert leak.split_status == "redundant" and leak.split_representative == partner.id
        assert small_dataset[partner.id].split_status == "representative"
    assert run.details["n_near_identical"] >= 6
    assert run.details["share_near_identical"] == run.details["n_near_identical"] / len(small_dataset.match_tags("test"))


def test_far_test_images_rank_least_similar(small_dataset):
    run = fr.compute_split_similarity(small_dataset, n_least_similar=3, progress=False)
    least = run.least_similar_view()
    # the two noise images are like nothing in training; the far checkerboard is a shifted
    # copy of the planted training checkerboard as far as an aligned comparison goes
    names = [path.rsplit("/", 1)[-1] for path in least.values("filepath")]
    assert {"far_speckle.png", "far_colour_noise.png"} <= set(names) and len(least) == 3
    assert set(least.values("split_status")) == {"outlier"}
    # ranked by the raw similarity of the closest training image, least first
    closest = dict(zip(small_dataset.match_tags("test").values("id"), run.details["closest_similarities"]))
    similarities = [closest[sample_id] for sample_id in least.values("id")]
    assert similarities == sorted(similarities)
    assert similarities == sorted(value for value in closest.values() if value is not None)[:3]


def test_candidate_mode_and_within_class_agree_on_the_leaks(small_dataset):
    run = fr.compute_split_similarity(
        small_dataset, label_field="ground_truth", within_class=True, mode="candidates", key="cand", progress=False
    )
    assert run.details["mode_used"] == "candidates"
    leaks = small_dataset.match_tags("test").match(F("planted") == "leak")
    assert set(leaks.values("cand_status")) == {"redundant"}
    # within class: every best match carries the test sample's label
    tests = small_dataset.match_tags("test").exists("cand_best_match")
    for sample in tests:
        assert small_dataset[sample.cand_best_match].ground_truth.label == sample.ground_truth.label


def test_splits_from_a_field_and_bad_splits(small_dataset):
    small_dataset.set_values("split", ["test" if "test" in tags else "train" for tags in small_dataset.values("tags")])
    run = fr.compute_split_similarity(small_dataset, split_field="split", key="byfield", progress=False)
    assert run.details["n_test"] == len(small_dataset.match_tags("test"))
    with pytest.raises(ValueError, match="the test split is empty"):
        fr.compute_split_similarity(small_dataset, test="holdout", progress=False)
    with pytest.raises(ValueError, match="needs a label_field"):
        fr.compute_split_similarity(small_dataset, within_class=True, progress=False)


def test_deleting_a_split_run_removes_its_extra_fields(small_dataset):
    fr.compute_split_similarity(small_dataset, key="tmp", progress=False)
    fr.delete_run(small_dataset, "tmp")
    assert not [name for name in small_dataset.get_field_schema() if name.startswith("tmp_")]


def test_operators_write_what_the_python_api_writes(small_dataset):
    view = small_dataset.match(F("source") != "skimage")
    result = foo.execute_operator(
        f"{PLUGIN}/compute_ssim_clusters",
        ctx=dict(view=view, params={"key": "op_ssim", "mode": "sparse", "label_field": "ground_truth", "view_target": "CURRENT_VIEW"}),
    )
    assert result.error is None, result.error
    fr.compute_ssim_clusters(view, label_field="ground_truth", key="py_ssim", mode="sparse", progress=False)
    assert view.values("op_ssim_status") == view.values("py_ssim_status")

    result = foo.execute_operator(
        f"{PLUGIN}/compute_split_similarity",
        ctx=dict(dataset=small_dataset, params={"key": "op_split", "train": "train", "test": "test", "view_target": "DATASET"}),
    )
    assert result.error is None, result.error
    fr.compute_split_similarity(small_dataset, key="py_split", progress=False)
    assert small_dataset.values("op_split_best_match") == small_dataset.values("py_split_best_match")
    assert fr.load_run(small_dataset, "op_split").details["least_similar_ids"] == fr.load_run(small_dataset, "py_split").details["least_similar_ids"]


def test_an_embeddings_field_adds_candidates_and_raises_the_scores(small_dataset):
    view = small_dataset.match(F("source") == "skimage")
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(view), 16))
    view.set_values("embedding", [list(map(float, v)) for v in vectors])
    plain = fr.compute_ssim_clusters(view, key="plain", mode="sparse", progress=False)
    fused = fr.compute_ssim_clusters(view, key="fused", mode="sparse", embeddings_field="embedding", progress=False)
    assert fused.parameters["embeddings_field"] == "embedding"
    plain_scores, fused_scores = pair_scores(plain), pair_scores(fused)
    # random embeddings: the fused score is a weighted mean, so it differs from the pixels alone
    common = set(plain_scores) & set(fused_scores)
    assert common and any(abs(plain_scores[p] - fused_scores[p]) > 1e-3 for p in common)


def test_a_broken_embeddings_field_is_refused_with_the_fix(small_dataset):
    view = small_dataset.match(F("source") == "skimage")
    with pytest.raises(ValueError, match="does not exist"):
        fr.compute_ssim_clusters(view, embeddings_field="nope", progress=False)
    vectors = np.random.default_rng(0).normal(size=(len(small_dataset) - 1, 2)).tolist() + [[1.0, 2.0, 3.0]]
    small_dataset.set_values("ragged", vectors)
    with pytest.raises(ValueError, match="lengths"):
        fr.compute_split_similarity(small_dataset, embeddings_field="ragged", key="ragged_split", progress=False)
