"""Failures never leave half-written results."""

import time

import pytest

import fiftyone_redundancy.api as fr
from fiftyone_redundancy.bridge.runs import CANCEL_POLL_SECONDS
from fiftyone_redundancy.core.pair_score import DEFAULT_THRESHOLD



def test_a_run_failing_midway_leaves_fields_and_runs_as_they_were(small_dataset, monkeypatch):
    fr.compute_wavelet_clusters(small_dataset, label_field="ground_truth", key="kept", progress=False)
    before = {name: small_dataset.values(name) for name in fr.load_run(small_dataset, "kept").fields}
    schema_before = set(small_dataset.get_field_schema())
    runs_before = small_dataset.list_runs()

    from fiftyone_redundancy.bridge import runs

    written = {}
    original = runs.lifecycle.write_columns

    def fail_halfway(dataset, sample_ids, columns):
        half = len(sample_ids) // 2  # the first half of the samples get every new value
        original(dataset, sample_ids[:half], {name: values[:half] for name, values in columns.items()})
        written.update({name: dataset.exists(name).count() for name in columns})
        raise RuntimeError("the database went away")

    monkeypatch.setattr(runs.lifecycle, "write_columns", fail_halfway)
    with pytest.raises(RuntimeError, match="went away"):
        fr.compute_wavelet_clusters(small_dataset, key="kept", threshold=0.3, progress=False)
    monkeypatch.undo()

    # half the samples held the new statuses (in a staging field) when it failed
    assert [count for name, count in written.items() if name.endswith("_status")] == [len(small_dataset) // 2]
    assert set(small_dataset.get_field_schema()) == schema_before
    assert small_dataset.list_runs() == runs_before
    assert {name: small_dataset.values(name) for name in before} == before
    assert fr.load_run(small_dataset, "kept").parameters["threshold"] == DEFAULT_THRESHOLD


def test_an_analysis_that_fails_before_writing_changes_nothing(small_dataset):
    schema_before = set(small_dataset.get_field_schema())
    with pytest.raises(ValueError):
        fr.compute_ssim_clusters(small_dataset, key="never", mode="dense", memory_budget_gb=1e-6, progress=False)
    assert set(small_dataset.get_field_schema()) == schema_before and "never" not in small_dataset.list_runs()


def test_runs_go_to_the_configured_database(small_dataset):
    """Under FIFTYONE_DATABASE_URI (a shared server) the tests really use that server."""
    import os

    import fiftyone as fo
    import fiftyone.core.odm as foo

    fr.compute_wavelet_clusters(small_dataset, key="where", progress=False)
    client = foo.get_db_conn().client
    host, port = client.address
    uri = os.environ.get("FIFTYONE_DATABASE_URI")
    if uri:
        assert fo.config.database_uri == uri and uri.endswith(f":{port}")
    assert foo.get_db_conn().name == os.environ["FIFTYONE_DATABASE_NAME"]
    assert "where" in fo.load_dataset(small_dataset.name).list_runs()


def test_a_cancelled_run_changes_nothing(small_dataset):
    fr.compute_wavelet_clusters(small_dataset, label_field="ground_truth", key="kept", progress=False)
    before = {name: small_dataset.values(name) for name in fr.load_run(small_dataset, "kept").fields}
    schema_before = set(small_dataset.get_field_schema())
    assert fr.cancel_run(small_dataset, "kept") is False  # nothing running

    asked = []

    def cancel_once(bar):
        if not asked:  # the first progress step asks, then gives the writer time to notice
            asked.append(fr.cancel_run(small_dataset, "kept"))
            time.sleep(4 * CANCEL_POLL_SECONDS)

    with pytest.raises(fr.RunCancelled, match="cancelled .* nothing was changed"):
        fr.compute_wavelet_clusters(small_dataset, key="kept", threshold=0.3, overwrite=True, progress=cancel_once)

    assert asked == [True]
    assert set(small_dataset.get_field_schema()) == schema_before
    assert {name: small_dataset.values(name) for name in before} == before
    assert fr.load_run(small_dataset, "kept").parameters["threshold"] == DEFAULT_THRESHOLD
    assert fr.runs_in_progress(small_dataset) == {}
    fr.compute_wavelet_clusters(small_dataset, key="kept", threshold=0.3, progress=False)  # the key is free again


def test_the_cancel_operator_stops_a_running_writer(small_dataset):
    import fiftyone.operators as foo

    from fiftyone_redundancy.bridge.runs import RunWriter

    uri = "@fiftyone-redundancy/redundancy/cancel_redundancy_run"
    idle = foo.execute_operator(uri, ctx=dict(dataset=small_dataset, params={"key": "busy"}))
    assert "not running" in idle.result["summary"]
    nothing = foo.execute_operator(uri, ctx=dict(dataset=small_dataset, params={}))  # the form had no run to offer
    assert nothing.error is None and "nothing to stop" in nothing.result["summary"]
    with RunWriter(small_dataset, "busy") as writer:
        assert list(fr.runs_in_progress(small_dataset)) == ["busy"]
        result = foo.execute_operator(uri, ctx=dict(dataset=small_dataset, params={"key": "busy"}))
        assert result.error is None and "Asked run `busy` to stop" in result.result["summary"]
        time.sleep(4 * CANCEL_POLL_SECONDS)
        with pytest.raises(fr.RunCancelled, match="by the App"):
            writer.raise_if_cancelled()
    assert fr.runs_in_progress(small_dataset) == {}
