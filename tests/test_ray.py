"""Decoding, pair verification and feature extraction as Ray tasks give the
single-process run: locally with two workers, from an operator, and on the real two-node
cluster scripts/test.sh starts."""

import os
import time

import numpy as np
import pytest

from fiftyone import ViewField as F

import fiftyone_redundancy.api as fr
from fiftyone_redundancy.bridge import analysis
from fiftyone_redundancy.core import features, pair_score

pytestmark = pytest.mark.slow

ray = pytest.importorskip("ray", reason="the [distributed] extra installs ray")


def run_fields(dataset, key):
    return dataset.values([f"{key}_{suffix}" for suffix in ("status", "group", "representative", "score")])


@pytest.fixture(scope="module")
def single_process(small_demo_dataset):
    """The single-process run, streamed through the on-disk store as a Ray run always is
    (in memory, a small view's chunked sums differ in the scores' fifth decimal)."""
    dataset = small_demo_dataset.clone()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(analysis, "IN_MEMORY_BYTES", 0)
        run = fr.compute_wavelet_clusters(dataset, label_field="ground_truth", key="single", progress=False)
    yield dataset, run
    dataset.delete()


@pytest.fixture
def fresh_ray(monkeypatch):
    """A Ray connection of the test's own, and shards small enough for several tasks."""
    monkeypatch.setattr(pair_score.shards, "SHARD_PAIRS", 200)
    ray.shutdown()
    yield
    ray.shutdown()


def assert_same_run(dataset, single, distributed):
    assert run_fields(dataset, "single") == run_fields(dataset, distributed.key)
    for column, values in single.details["pairs"].items():
        np.testing.assert_array_equal(values, distributed.details["pairs"][column])
    assert single.counts["redundant"] > 0


def test_local_ray_with_two_workers_gives_the_single_process_run(single_process, fresh_ray):
    dataset, single = single_process
    executor = fr.RayExecutor(num_workers=2)
    assert ray.cluster_resources()["CPU"] == 2
    distributed = fr.compute_wavelet_clusters(
        dataset, label_field="ground_truth", key="distributed", executor=executor, progress=False
    )
    assert_same_run(dataset, single, distributed)


def test_ray_is_handed_a_few_shards_per_cpu_at_a_time(fresh_ray):
    """Shards are read (from disk, at a million images) as Ray is ready for them: at most
    ``PENDING_PER_CPU`` per CPU are pending, never all of them at once."""
    from fiftyone_redundancy.core.parallel import PENDING_PER_CPU

    executor = fr.RayExecutor(num_workers=2)
    drawn = []

    def shards():
        for number in range(40):
            drawn.append(number)
            yield number

    results = executor.map(lambda number: -number, shards())
    assert next(results) == 0 and len(drawn) <= 2 * PENDING_PER_CPU
    assert list(results) == [-number for number in range(1, 40)] and len(drawn) == 40


@pytest.mark.skipif(not os.environ.get("REDUNDANCY_RAY_ADDRESS"), reason="scripts/test.sh starts the Ray cluster")
def test_a_real_two_node_ray_cluster_gives_the_single_process_run(single_process, fresh_ray):
    dataset, single = single_process
    executor = fr.RayExecutor(os.environ["REDUNDANCY_RAY_ADDRESS"])
    for _ in range(60):  # the second node may still be joining
        if len(executor.nodes) == 2:
            break
        time.sleep(1)
    assert len(executor.nodes) == 2
    distributed = fr.compute_wavelet_clusters(
        dataset, label_field="ground_truth", key="distributed", executor=executor, progress=False
    )
    assert_same_run(dataset, single, distributed)


def small_cnn():
    """An untrained CNN with fixed weights (from torch.nn only, so a worker unpickles it)."""
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(4),
        torch.nn.Flatten(), torch.nn.Linear(512, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10),
    ).eval()  # fmt: skip


def test_feature_maps_on_two_ray_workers_equal_the_single_process_run(small_dataset, fresh_ray, monkeypatch, tmp_path):
    import torch

    from fiftyone_redundancy.bridge.features import IMAGENET_MEAN, IMAGENET_STD

    monkeypatch.setattr(features, "TASK_IMAGES", 64)  # several tasks of two batches of 32
    model, path = small_cnn(), str(tmp_path / "cnn.pt")
    torch.save(model, path)
    paths = small_dataset.values("filepath")
    options = dict(layer="8", label_field="ground_truth", batch_size=32, progress=False)
    fr.compute_feature_clusters(small_dataset, model_path=path, trust_model_file=True, key="single", **options)
    executor = fr.RayExecutor(num_workers=2)

    # the activations: each worker built the model from the file, or from the object sent once
    expected = features.extract_features(model, "8", features.ImageFiles(paths, mean=IMAGENET_MEAN, std=IMAGENET_STD), 32, 0)
    for source, payload in (features.model_source(model, path, trusted=True), features.model_source(model)):
        assert (source.path is None) == (payload is not None)
        found, failures = features.extract_features_sharded(executor, source, payload, "8", paths, mean=IMAGENET_MEAN, std=IMAGENET_STD, batch_size=32)
        np.testing.assert_allclose(found, expected, rtol=1e-6, atol=1e-7)
        assert failures == {}

    # the run: reduction and clustering in the driver decide as one process does
    fr.compute_feature_clusters(small_dataset, model_path=path, trust_model_file=True, key="from_file", executor=executor, **options)
    fr.compute_feature_clusters(small_dataset, model=model, key="from_object", executor=executor, **options)
    single = fr.load_run(small_dataset, "single")
    for key in ("from_file", "from_object"):
        assert run_fields(small_dataset, key) == run_fields(small_dataset, "single")
        np.testing.assert_allclose(fr.load_run(small_dataset, key).details["points_3d"], single.details["points_3d"], atol=1e-4)
    assert single.counts["redundant"] > 0 and single.counts["outlier"] > 0


def test_a_worker_builds_the_model_once_and_again_when_its_file_changes(tmp_path):
    import torch

    model, path = small_cnn(), str(tmp_path / "cnn.pt")
    torch.save(model, path)
    source, payload = features.model_source(model, path, trusted=True)
    built = features._worker_model(source, payload)  # what a task calls in its worker
    assert features._worker_model(source, payload) is built
    time.sleep(0.01)
    torch.save(torch.nn.Sequential(torch.nn.Flatten()), path)
    changed, _ = features.model_source(model, path, trusted=True)
    assert changed != source and isinstance(features._worker_model(changed), torch.nn.Sequential)
    assert len(features._worker_model(changed)) == 1

@pytest.mark.parametrize("mode", ["sparse", "dense"])
def test_ssim_on_two_ray_workers_equals_the_single_process_run(small_dataset, fresh_ray, mode):
    # sparse: 510 images' candidates; dense: every pair of 80 images (3,160): shards of 200 pairs
    view = small_dataset if mode == "sparse" else small_dataset.match(F("planted") == "near_duplicate").limit(80)
    options = dict(label_field="ground_truth", mode=mode, progress=False)
    single = fr.compute_ssim_clusters(view, key="single", **options)
    distributed = fr.compute_ssim_clusters(view, key="distributed", executor=fr.RayExecutor(num_workers=2), **options)
    assert_same_run(small_dataset, single, distributed)
    assert distributed.details["mode_used"] == mode


SPLIT_SUFFIXES = ("status", "group", "representative", "score", "best_match", "best_similarity")


@pytest.mark.parametrize("mode", ["candidates", "exhaustive"])
def test_a_split_on_two_ray_workers_equals_the_single_process_run(small_dataset, fresh_ray, monkeypatch, mode):
    monkeypatch.setattr(pair_score.shards, "SHARD_PAIRS", 50)  # each of ~30 test images has 10+ candidates: many shards
    train, test = small_dataset.match_tags("train"), small_dataset.match_tags("test")
    if mode == "exhaustive":  # every pair: a part of each split keeps it short
        train, test = train.limit(60), test.limit(20)
    options = dict(train=train, test=test, mode=mode, progress=False)
    single = fr.compute_split_similarity(small_dataset, key="single", **options)
    distributed = fr.compute_split_similarity(small_dataset, key="distributed", executor=fr.RayExecutor(num_workers=2), **options)
    for suffix in SPLIT_SUFFIXES:
        assert small_dataset.values(f"single_{suffix}") == small_dataset.values(f"distributed_{suffix}"), suffix
    for name in ("closest_similarities", "least_similar_ids", "mode_used"):
        assert single.details[name] == distributed.details[name], name
    for column, values in single.details["pairs"].items():
        np.testing.assert_array_equal(values, distributed.details["pairs"][column])
    assert single.details["mode_used"] == mode
    assert mode == "exhaustive" or single.details["n_near_identical"] >= 6  # the planted leaks


PLUGIN = "@fiftyone-redundancy/redundancy"


@pytest.mark.parametrize("delegated", [False, True], ids=["in the App", "delegated"])
def test_an_operator_asked_for_a_local_ray_gives_the_single_process_run(single_process, fresh_ray, delegated):
    import fiftyone.operators as foo
    from fiftyone.operators.delegated import DelegatedOperationService

    dataset, single = single_process
    uri = f"{PLUGIN}/compute_wavelet_clusters"
    key = "queued_on_ray" if delegated else "on_ray"
    params = {"key": key, "label_field": "ground_truth", "scale_out": True, "ray_address": "local",
              "view_target": "DATASET"}  # fmt: skip
    result = foo.execute_operator(uri, ctx=dict(dataset=dataset, params=params), request_delegation=delegated)
    if delegated:  # queued, then run by a delegated-operation worker, which starts the Ray
        assert result.delegated and key not in fr.list_runs(dataset)
        DelegatedOperationService().execute_queued_operations(operator=uri, dataset_name=dataset.name)
        dataset.reload()
    assert result.error is None, result.error
    notices = [r["params"]["message"] for r in (result.to_json().get("executor") or {}).get("requests", []) if r["operator_uri"] == "notify"]
    assert key in fr.list_runs(dataset), notices
    assert ray.is_initialized()
    # the operator's modules are FiftyOne's plugin copies, which no worker can import: they travel by value
    assert any(name.startswith("fiftyone.plugins.") for name in ray.cloudpickle.cloudpickle._PICKLE_BY_VALUE_MODULES)
    assert_same_run(dataset, single, fr.load_run(dataset, key))
