"""The cost of a curation, estimated by training: repeatable for a seed, refused where it
cannot apply, and the dataset left exactly as it was."""

import time

import fiftyone as fo
import fiftyone.operators as foo
import numpy as np
import pytest
from fiftyone import ViewField as F

import fiftyone_redundancy.api as fr
from fiftyone_redundancy.core.training import copies_across, held_out_split


TINY = {"epochs": 1, "width": 4, "image_size": 16, "batch_size": 64}
"""A budget of a few seconds on the small demo set: what is tested is the procedure."""


@pytest.fixture(scope="module")
def analyzed(small_demo_dataset):
    dataset = small_demo_dataset.clone()
    fr.compute_wavelet_clusters(dataset, label_field="ground_truth", key="wavelet", progress=False)
    yield dataset
    dataset.delete()


def snapshot(dataset):
    """Everything a change to the dataset would show in: samples, schema, runs, views."""
    dataset.reload()
    return (
        [sample.to_dict(include_private=True) for sample in dataset],
        sorted(dataset.get_field_schema()),
        dataset.list_runs(),
        dataset.list_saved_views(),
        dataset.count_sample_tags(),
    )


def test_the_same_seed_gives_the_same_numbers_and_the_dataset_is_unchanged(analyzed):
    before = snapshot(analyzed)
    first = fr.curation_cost(analyzed, "wavelet", "ground_truth", budget=TINY, seeds=[0], device="cpu")
    second = fr.curation_cost(analyzed, "wavelet", "ground_truth", budget=TINY, seeds=[0], device="cpu")
    assert [row.accuracies for row in first.rows] == [row.accuracies for row in second.rows]
    assert snapshot(analyzed) == before
    full, curated = first.rows
    redundant = analyzed.count_values("wavelet_status").get("redundant", 0)
    assert redundant > 0 and curated.n_train < full.n_train
    assert full.n_train - curated.n_train <= redundant
    assert first.n_test + first.n_test_removed + full.n_train == len(analyzed)
    assert "| curated |" in first.table() and first.device.startswith("CPU") and first.device in first.table()


def test_the_test_part_holds_no_copy_of_a_training_image(analyzed):
    labels = analyzed.values("ground_truth.label")
    groups = analyzed.values("wavelet_group")
    train, test = held_out_split(labels, 0.2, 0)
    leaked = copies_across([groups], train, test)
    assert len(leaked) > 0  # the demo plants copies; some fall on both sides of a random split
    trained = {groups[row] for row in train if groups[row] >= 0}
    assert all(groups[row] in trained for row in leaked)
    assert not any(groups[row] in trained for row in np.setdiff1d(test, leaked))
    cost = fr.curation_cost(analyzed, "wavelet", "ground_truth", budget=TINY, seeds=[0], device="cpu")
    assert cost.n_test_removed == len(leaked)


def test_unlabelled_data_is_refused_with_what_to_do(analyzed):
    with pytest.raises(ValueError, match="needs labels: pass label_field"):
        fr.curation_cost(analyzed, "wavelet", None, budget=TINY)
    unlabelled = analyzed.clone()
    try:
        sample = unlabelled.first()
        sample.ground_truth = None
        sample.save()
        with pytest.raises(ValueError, match=f"1 samples have no 'ground_truth' label \\(e.g. sample {sample.id}\\)"):
            fr.curation_cost(unlabelled, "wavelet", "ground_truth", budget=TINY)
    finally:
        unlabelled.delete()


def test_a_class_too_small_to_hold_out_is_refused(analyzed):
    label = analyzed.first().ground_truth.label
    keep = analyzed.match(F("ground_truth.label") == label).limit(3).values("id")
    view = analyzed.match(F("ground_truth.label") != label).concat(analyzed.select(keep))
    with pytest.raises(ValueError, match=f"class '{label}' of 'ground_truth' has 3 samples"):
        fr.curation_cost(view, "wavelet", "ground_truth", budget=TINY)


def test_an_unknown_run_is_refused(analyzed):
    with pytest.raises(ValueError, match="has no redundancy run 'nope'"):
        fr.curation_cost(analyzed, "nope", "ground_truth", budget=TINY)


def test_the_operator_reports_the_table_and_is_delegated_by_default(analyzed):
    operator = foo.get_operator("@fiftyone-redundancy/redundancy/estimate_curation_cost")
    assert operator.config.default_choice_to_delegated and operator.config.allow_delegated_execution
    result = foo.execute_operator(
        "@fiftyone-redundancy/redundancy/estimate_curation_cost",
        ctx=dict(view=analyzed.view(), params={"keys": ["wavelet"], "label_field": "ground_truth", "budget": "cpu",
                                                "n_seeds": 1, "view_target": "DATASET"}),  # fmt: skip
    )
    assert result.error is None, result.error
    assert [row["name"] for row in result.result["rows"]] == ["full", "curated"]
    assert "| curated |" in result.result["summary"]


def test_a_cancel_stops_it_at_the_next_step_and_changes_nothing(analyzed):
    before = snapshot(analyzed)
    asked = []

    def cancel_once(_bar):
        if not asked:
            asked.append(fr.cancel_run(analyzed, "wavelet"))
            time.sleep(1.0)  # the holder looks for a cancel request twice a second

    with pytest.raises(fr.RunCancelled, match="cancelled"):
        fr.curation_cost(analyzed, "wavelet", "ground_truth", budget=TINY, seeds=[0], device="cpu",
                         progress=fo.report_progress(cancel_once, dt=0.0))  # fmt: skip
    assert asked == [True]
    assert snapshot(analyzed) == before
    assert fr.runs_in_progress(analyzed) == {}
