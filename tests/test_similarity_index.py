"""Candidate search through fiftyone-brain similarity indexes: the embedded scikit-learn
index and an on-disk LanceDB index give the same run, and every planted copy is found."""

import pytest

import fiftyone_redundancy.api as fr
from fiftyone_redundancy.demo_data import score_planted

pytest.importorskip("lancedb", reason="the [distributed] extra installs lancedb")


def run_fields(dataset, key):
    return dataset.values([f"{key}_{suffix}" for suffix in ("status", "group", "representative", "score")])


def deciding_pairs(run):
    """The stored pairs at or above the run's cut (near-ties below it may differ: the
    two indexes rank equal distances in their own order)."""
    pairs = run.details["pairs"]
    cut = run.parameters["threshold"]
    return {(a, b) for a, b, score in zip(pairs["first"], pairs["second"], pairs["score"]) if score >= cut}


def test_embedded_and_on_disk_indexes_give_the_same_run(small_dataset, tmp_path):
    embedded = fr.compute_wavelet_clusters(
        small_dataset, label_field="ground_truth", key="embedded", similarity_backend="sklearn", progress=False
    )
    on_disk = fr.compute_wavelet_clusters(
        small_dataset, label_field="ground_truth", key="ondisk", similarity_backend="lancedb",
        similarity_config={"uri": str(tmp_path / "lancedb")}, progress=False,
    )  # fmt: skip
    assert run_fields(small_dataset, "embedded") == run_fields(small_dataset, "ondisk")
    assert deciding_pairs(embedded) == deciding_pairs(on_disk)
    assert embedded.parameters["similarity_backend"] == "sklearn"
    score = score_planted(small_dataset, "ondisk")
    assert score["near_duplicate"][0] == score["near_duplicate"][1] > 0, score["misses"]
    assert not small_dataset.list_brain_runs()  # the indexes left no brain run behind
