"""Streaming: images and features on disk, read by chunks, give the in-memory results."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from fiftyone_redundancy.core import streaming
from fiftyone_redundancy.core.wavelet_analysis import WaveletParameters, analyze_wavelet_clusters


def digits_with_copies(n_originals=120, seed=0):
    """Real handwritten digits at 32x32 (as 8-bit values, the way images decode) and a
    brightened copy of every fourth one, with the index of each copy's original."""
    digits = load_digits().images[:n_originals] / 16.0
    images = np.kron(digits, np.ones((4, 4)))[..., None].repeat(3, axis=3)
    originals = np.arange(0, n_originals, 4)
    copies = np.clip(images[originals] * 0.9 + 0.05, 0, 1)
    batch = np.concatenate([images, copies])
    return (np.rint(batch * 255) / 255).astype(np.float32), originals


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(streaming, "CHUNK_ROWS", 16)


def test_image_store_reads_back_the_decoded_values_exactly(tmp_path, small_chunks):
    images, _ = digits_with_copies()
    store = streaming.ImageStore(len(images), images.shape[1:], tmp_path)
    for start, chunk in streaming.row_chunks(images):
        store.write(start, chunk)
    np.testing.assert_array_equal(store.read(), images)
    np.testing.assert_array_equal(store.take([5, 3, 140]), images[[5, 3, 140]])


def test_distance_grouping_from_disk_by_chunks_equals_in_memory(tmp_path, small_chunks):
    images, originals = digits_with_copies()
    parameters = WaveletParameters(grouping="distance")
    store = streaming.ImageStore(len(images), images.shape[1:], tmp_path)
    store.write(0, images)
    from_disk = analyze_wavelet_clusters(store, parameters=parameters)
    streaming.CHUNK_ROWS = len(images)  # one chunk: the in-memory path (undone by the fixture)
    in_memory = analyze_wavelet_clusters(images, parameters=parameters)
    copies = np.arange(len(originals)) + 120
    assert np.array_equal(from_disk.cluster_labels[copies], from_disk.cluster_labels[originals])
    assert len(set(from_disk.cluster_labels[originals])) == len(originals)  # one group per copy
    np.testing.assert_array_equal(from_disk.selection.kept_columns, in_memory.selection.kept_columns)
    np.testing.assert_array_equal(from_disk.cluster_labels, in_memory.cluster_labels)
    np.testing.assert_array_equal(from_disk.decisions.status, in_memory.decisions.status)
    np.testing.assert_allclose(from_disk.points, in_memory.points, atol=1e-9)


def test_score_grouping_from_disk_in_shards_equals_in_memory(tmp_path, small_chunks, monkeypatch):
    """The default grouping at a million images reads its images from disk by chunks and
    verifies its pairs in shards read from there: the in-memory pairs, groups and
    decisions."""
    from fiftyone_redundancy.core import pair_score

    images, originals = digits_with_copies()
    store = streaming.ImageStore(len(images), images.shape[1:], tmp_path)
    store.write(0, images)
    monkeypatch.setattr(pair_score.shards, "SHARD_PAIRS", 64)
    from_disk = analyze_wavelet_clusters(store)
    streaming.CHUNK_ROWS = len(images)  # one chunk: the in-memory path (undone by the fixture)
    in_memory = analyze_wavelet_clusters(images)
    copies = np.arange(len(originals)) + 120
    assert np.array_equal(from_disk.cluster_labels[copies], from_disk.cluster_labels[originals])
    np.testing.assert_array_equal(from_disk.pairs.first, in_memory.pairs.first)
    np.testing.assert_array_equal(from_disk.pairs.second, in_memory.pairs.second)
    np.testing.assert_allclose(from_disk.pairs.score, in_memory.pairs.score, atol=1e-5)
    np.testing.assert_array_equal(from_disk.cluster_labels, in_memory.cluster_labels)
    np.testing.assert_array_equal(from_disk.decisions.status, in_memory.decisions.status)


def test_the_scratch_folder_of_a_run_killed_outright_goes_with_the_next_run(tmp_path):
    """kill -9 leaves a streamed run's rows behind (gigabytes at a million images); the next
    run removes them, and leaves alone a live run's folder and any folder it cannot tell is
    a run's."""
    import os
    import subprocess
    import sys
    import tempfile

    killed = subprocess.run(
        [sys.executable, "-c", "import os, signal\nfrom fiftyone_redundancy.core import streaming\n"
         "with streaming.scratch_folder() as folder:\n    print(folder, flush=True)\n"
         "    os.kill(os.getpid(), signal.SIGKILL)"],
        capture_output=True, text=True,
    )  # fmt: skip
    orphan = killed.stdout.strip()
    assert killed.returncode == -9 and os.path.isdir(orphan)
    unmarked = tempfile.mkdtemp(prefix=streaming.SCRATCH_PREFIX)
    with streaming.scratch_folder() as live:
        with streaming.scratch_folder() as folder:
            assert not os.path.exists(orphan)
            assert os.path.isdir(live) and os.path.isdir(unmarked)
    assert not os.path.exists(folder) and not os.path.exists(live)
    os.rmdir(unmarked)
