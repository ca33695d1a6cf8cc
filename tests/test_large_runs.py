"""A run whose record is larger than one MongoDB document (a million samples' ids,
points and pairs) is committed through GridFS and leaves no file behind."""

import fiftyone.core.odm as foo

import fiftyone_redundancy.api as fr
from fiftyone_redundancy.bridge import runs


def test_a_run_record_over_the_limit_goes_through_gridfs(small_dataset, monkeypatch):
    monkeypatch.setattr(runs.transaction, "COMMIT_TEXT_LIMIT", 1000)  # every record counts as large here
    put = []
    original = runs.transaction._stored_change
    monkeypatch.setattr(runs.transaction, "_stored_change", lambda text: put.append(len(text)) or original(text))
    run = fr.compute_wavelet_clusters(small_dataset, label_field="ground_truth", key="big", progress=False)
    assert put and put[0] > 1000
    assert fr.load_run(small_dataset, "big").counts == run.counts
    assert len(small_dataset.values("big_status")) == len(small_dataset)
    assert foo.get_db_conn()[runs.COMMIT_FILES + ".files"].count_documents({}) == 0
