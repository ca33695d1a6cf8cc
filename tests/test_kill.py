"""Runs survive kill -9 and a second writer. A writer process SIGKILLs itself at every
checkpoint of a run (lease, decode, analysis, each staging write, each step of the
commit) and of a rename, or is killed from outside at moments between them; two processes
write one key at once. After each, the dataset holds the complete old run or the complete
new run, nothing of the attempt that lost, and no staging field.

The writers are forked from tests/writer_process.py; the checkpoints and the hooks that
kill or hold a writer are ``checkpoint`` in bridge/runs/faults.py."""

import json
import os
import time

import fiftyone.core.odm as foo
import numpy as np
import pytest

import fiftyone_redundancy.api as fr
from fiftyone_redundancy.bridge.runs import FIELD_TYPES, LEASES, STAGING_PREFIX

pytestmark = pytest.mark.slow

CALLS = {
    # call: (key, old threshold on the first SMALL samples, new threshold on all, extra suffixes)
    "wavelet": ("wave", 0.12, 0.3, ()),
    "split": ("split", 0.9, 0.5, ("best_match", "best_similarity")),
}
SMALL = 12


@pytest.fixture(scope="module")
def dataset(small_demo_dataset):
    """24 demo images, tagged train and test alternately, persistent so forked writers
    may open it."""
    dataset = small_demo_dataset.limit(24).clone(persistent=True)
    for index, sample in enumerate(dataset.iter_samples(autosave=True)):
        sample.tags = ["train" if index % 2 == 0 else "test"]
    yield dataset
    dataset.delete()



def compute(call, samples, key, threshold):
    """A run that may replace one on more samples (the test checks nothing outside stays)."""
    compute_run = fr.compute_wavelet_clusters if call == "wavelet" else fr.compute_split_similarity
    return compute_run(samples, key=key, threshold=threshold, num_workers=1, progress=False, overwrite=True)


def field_values(dataset, key, suffixes):
    ids = dataset.values("id")
    return {suffix: dict(zip(ids, dataset.values(f"{key}_{suffix}"))) for suffix in suffixes}


def reference(dataset, call, samples, threshold):
    """What a complete run holds: every field's value per sample (None outside the run)."""
    _, _, _, extra = CALLS[call]
    run = compute(call, samples, "reference", threshold)
    values = field_values(dataset, "reference", (*FIELD_TYPES, *extra))
    counts = run.counts
    fr.delete_run(dataset, "reference")
    return {"values": values, "counts": counts, "threshold": threshold}


def send(writer, job, tmp_path, name):
    job = {"dataset": job.pop("dataset_name"), "outcome": str(tmp_path / f"{name}.json"), **job}
    writer.stdin.write(json.dumps(job) + "\n")
    writer.stdin.flush()
    return job


def answer(writer, dataset):
    """How the writer ended; ``dataset`` is recovered and reloaded to see what it changed."""
    ended = json.loads(writer.stdout.readline())
    fr.list_runs(dataset)
    dataset.reload()
    return ended


def assert_one_complete_run(dataset, call, references, key=None):
    """The run under ``key`` (by default the call's) is whole and is one of
    ``references``; nothing else of any attempt is left. Returns the index of the
    reference it matches."""
    default_key, _, _, extra = CALLS[call]
    key = key or default_key
    assert fr.list_runs(dataset).count(key) == 1  # also recovers what a dead writer left
    schema = dataset.get_field_schema()
    assert [name for name in schema if name.startswith(STAGING_PREFIX)] == []
    assert foo.get_db_conn()[LEASES].count_documents({"dataset_id": str(dataset._doc.id)}) == 0
    run = fr.load_run(dataset, key)
    matches = [i for i, ref in enumerate(references) if ref["threshold"] == run.parameters["threshold"]]
    assert len(matches) == 1
    expected = references[matches[0]]
    assert field_values(dataset, key, (*FIELD_TYPES, *extra)) == expected["values"]
    assert run.counts == expected["counts"]
    assert sorted(run.fields) == sorted(f"{key}_{suffix}" for suffix in (*FIELD_TYPES, *extra))
    assert dataset.has_saved_view(f"{key}-review")
    assert len(dataset.load_saved_view(f"{key}-review")) == len(run.groups_view())
    # its map for FiftyOne's Embeddings panel (a split run has none), and no other attempt's
    maps = set(dataset.list_brain_runs())
    assert (f"{key}_map" in maps) == bool(run.method_info.map_space)
    assert maps <= {f"{other}_map" for other in fr.list_runs(dataset)}  # each of a stored run
    if run.method_info.map_space:
        assert len(dataset.load_brain_results(f"{key}_map", cache=False).points) == len(run.view())  # written by another process
    return matches[0]


@pytest.mark.parametrize("call", ["wavelet", "split"])
def test_a_writer_killed_at_any_checkpoint_leaves_the_old_or_the_new_run(dataset, writers, tmp_path, call):
    key, old_threshold, new_threshold, _ = CALLS[call]
    old = reference(dataset, call, dataset.limit(SMALL), old_threshold)
    new = reference(dataset, call, dataset, new_threshold)
    assert old["values"] != new["values"]
    compute(call, dataset.limit(SMALL), key, old_threshold)

    job = {"dataset_name": dataset.name, "call": call, "key": key, "threshold": new_threshold}
    trace = tmp_path / f"{call}-trace.txt"
    send(writers[0], {**job, "env": {"FIFTYONE_REDUNDANCY_TRACE": str(trace)}}, tmp_path, "dry")
    assert answer(writers[0], dataset) == {"signal": 0, "ok": True}
    stages = trace.read_text().split()
    assert {"leased", "decoded", "analysed", "committing", "committed"} <= set(stages)
    assert assert_one_complete_run(dataset, call, [old, new]) == 1

    ended = []
    for kill_at in range(1, len(stages) + 1):
        compute(call, dataset.limit(SMALL), key, old_threshold)
        send(writers[0], {**job, "env": {"FIFTYONE_REDUNDANCY_KILL_AT": str(kill_at)}}, tmp_path, f"kill{kill_at}")
        assert answer(writers[0], dataset)["signal"] == 9, (kill_at, " ".join(stages))
        ended.append(assert_one_complete_run(dataset, call, [old, new]))
        # a next run on the smaller view leaves no value of the killed one outside it
        compute(call, dataset.limit(SMALL), key, old_threshold)
        assert assert_one_complete_run(dataset, call, [old, new]) == 0
    # killed before the commit was recorded: the old run; from then on: the new one
    committed_at = stages.index("committing")
    assert ended == [0] * committed_at + [1] * (len(stages) - committed_at)


def test_two_writers_on_one_key_give_one_complete_run_and_one_refusal(dataset, writers, tmp_path):
    key, _, _, _ = CALLS["wavelet"]
    references = [reference(dataset, "wavelet", dataset, threshold) for threshold in (0.12, 0.3)]
    for trial in range(20):
        hold, go = tmp_path / f"hold{trial}", tmp_path / f"go{trial}"
        jobs = [
            send(writer, {
                "dataset_name": dataset.name, "call": "wavelet", "key": key, "threshold": ref["threshold"],
                "ready": str(tmp_path / f"ready{trial}-{i}"), "go": str(go),
                "env": {"FIFTYONE_REDUNDANCY_HOLD": str(hold)},
            }, tmp_path, f"trial{trial}-{i}")  # fmt: skip
            for i, (writer, ref) in enumerate(zip(writers, references))
        ]
        while not all(os.path.exists(job["ready"]) for job in jobs):
            time.sleep(0.005)
        go.touch()
        # the lease holder waits at its "leased" checkpoint until the other has answered
        while not any(os.path.exists(job["outcome"]) for job in jobs):
            time.sleep(0.005)
        hold.touch()
        answers = [answer(writer, dataset) for writer in writers]
        refused = [a for a in answers if not a["ok"]]
        assert [a["ok"] for a in answers].count(True) == 1 and len(refused) == 1, answers
        assert refused[0]["error"].startswith("RunInProgressError")
        assert "is being written by process" in refused[0]["error"] and "since" in refused[0]["error"]
        winner = [a["ok"] for a in answers].index(True)
        assert assert_one_complete_run(dataset, "wavelet", references) == winner


def test_a_writer_killed_from_outside_at_any_moment_leaves_the_old_or_the_new_run(dataset, writers, tmp_path):
    """Kills between checkpoints too: inside decoding, the analysis, a database write."""
    key, old_threshold, new_threshold, _ = CALLS["wavelet"]
    old = reference(dataset, "wavelet", dataset.limit(SMALL), old_threshold)
    new = reference(dataset, "wavelet", dataset, new_threshold)
    job = {"dataset_name": dataset.name, "call": "wavelet", "key": key, "threshold": new_threshold}
    for trial, delay in enumerate(np.linspace(0.0, 1.5, 12)):
        compute("wavelet", dataset.limit(SMALL), key, old_threshold)
        send(writers[0], {**job, "kill_after": float(delay)}, tmp_path, f"outside{trial}")
        answer(writers[0], dataset)  # killed, or finished before the delay
        assert_one_complete_run(dataset, "wavelet", [old, new])


def test_a_rename_killed_at_any_checkpoint_leaves_the_run_under_one_key(dataset, writers, tmp_path):
    key, _, threshold, _ = CALLS["wavelet"]
    whole = reference(dataset, "wavelet", dataset, threshold)
    job = {"dataset_name": dataset.name, "call": "rename", "key": key, "new_key": "moved"}

    def start():
        for stale in set(fr.list_runs(dataset)) & {key, "moved"}:
            fr.delete_run(dataset, stale)
        compute("wavelet", dataset, key, threshold)

    start()
    trace = tmp_path / "rename-trace.txt"
    send(writers[0], {**job, "env": {"FIFTYONE_REDUNDANCY_TRACE": str(trace)}}, tmp_path, "rename-dry")
    assert answer(writers[0], dataset) == {"signal": 0, "ok": True}
    stages = trace.read_text().split()
    ended = []
    for kill_at in range(1, len(stages) + 1):
        start()
        send(writers[0], {**job, "env": {"FIFTYONE_REDUNDANCY_KILL_AT": str(kill_at)}}, tmp_path, f"rename{kill_at}")
        assert answer(writers[0], dataset)["signal"] == 9, (kill_at, " ".join(stages))
        present = [name for name in (key, "moved") if name in fr.list_runs(dataset)]
        assert len(present) == 1
        assert assert_one_complete_run(dataset, "wavelet", [whole], key=present[0]) == 0
        absent = {key, "moved"} - set(present)
        assert not [name for name in dataset.get_field_schema() if name.split("_")[0] in absent]
        assert not dataset.has_saved_view(f"{absent.pop()}-review")
        ended.append(present[0])
    committed_at = stages.index("committing")
    assert ended == [key] * committed_at + ["moved"] * (len(stages) - committed_at)


def test_a_recut_killed_at_any_checkpoint_leaves_the_old_or_the_new_cut(dataset, writers, tmp_path):
    """A re-cut commits only the values that change; killed anywhere, the run is the old
    cut or the new one. Here a review joins two unrelated images, so the cut changes."""
    key = CALLS["wavelet"][0]
    pair = dataset.values("id")[:2]
    old = reference(dataset, "wavelet", dataset, 0.3)
    compute("wavelet", dataset, "reference", 0.3)
    fr.review_pair(dataset, "reference", *pair, "same")
    new = {"counts": fr.recut_run(dataset, "reference", 0.31).counts, "threshold": 0.31}
    new["values"] = field_values(dataset, "reference", FIELD_TYPES)
    fr.delete_run(dataset, "reference")
    assert old["values"] != new["values"]
    compute("wavelet", dataset, key, 0.3)
    fr.review_pair(dataset, key, *pair, "same")  # kept by the runs that replace this one
    job = {"dataset_name": dataset.name, "call": "recut", "key": key, "threshold": 0.31}
    trace = tmp_path / "recut-trace.txt"
    send(writers[0], {**job, "env": {"FIFTYONE_REDUNDANCY_TRACE": str(trace)}}, tmp_path, "recut-dry")
    assert answer(writers[0], dataset) == {"signal": 0, "ok": True}
    stages = trace.read_text().split()
    assert {"committing", "updated", "committed"} <= set(stages)
    assert assert_one_complete_run(dataset, "wavelet", [old, new]) == 1

    ended = []
    for kill_at in range(1, len(stages) + 1):
        compute("wavelet", dataset, key, 0.3)
        send(writers[0], {**job, "env": {"FIFTYONE_REDUNDANCY_KILL_AT": str(kill_at)}}, tmp_path, f"recut{kill_at}")
        assert answer(writers[0], dataset)["signal"] == 9, (kill_at, " ".join(stages))
        ended.append(assert_one_complete_run(dataset, "wavelet", [old, new]))
    committed_at = stages.index("committing")
    assert ended == [0] * committed_at + [1] * (len(stages) - committed_at)
    fr.delete_run(dataset, key)
