"""Decoding and pair verification as Ray tasks give the single-process run: locally with
two workers, and on the real two-node cluster scripts/test.sh starts."""

import os
import time

import pytest

import fiftyone_redundancy.api as fr
from fiftyone_redundancy.bridge import analysis
from fiftyone_redundancy.core import pair_score

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
    monkeypatch.setattr(pair_score, "SHARD_PAIRS", 200)
    ray.shutdown()
    yield
    ray.shutdown()


def assert_same_run(dataset, single, distributed):
    assert run_fields(dataset, "single") == run_fields(dataset, "distributed")
    assert single.details["pairs"] == distributed.details["pairs"]
    assert single.counts["redundant"] > 0


def test_local_ray_with_two_workers_gives_the_single_process_run(single_process, fresh_ray):
    dataset, single = single_process
    executor = fr.RayExecutor(num_workers=2)
    assert ray.cluster_resources()["CPU"] == 2
    distributed = fr.compute_wavelet_clusters(
        dataset, label_field="ground_truth", key="distributed", executor=executor, progress=False
    )
    assert_same_run(dataset, single, distributed)


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
