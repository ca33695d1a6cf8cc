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


def test_rows_taken_from_disk_are_the_rows_asked_for_in_any_order(tmp_path):
    rows = streaming.DiskRows(500, (3, 2), np.float32, tmp_path)
    values = np.random.default_rng(0).random((500, 3, 2)).astype(np.float32)
    rows.write(0, values)
    for indices in ([7, 3, 3, 499, 0, 1, 2], [], [-1, 4], np.arange(500)[::-1], [[1, 2], [3, 4]]):
        np.testing.assert_array_equal(rows.take(indices), values[np.asarray(indices, dtype=np.int64)])
    with pytest.raises(IndexError, match="row indices must lie in"):
        rows.take([500])


TAKE_SCATTERED_ROWS = """
import resource, sys, numpy as np
from fiftyone_redundancy.core.streaming import ImageStore
store = ImageStore(100_000, (32, 32, 3), sys.argv[1])
for start in range(0, 100_000, 10_000):
    store.write(start, np.full((10_000, 32, 32, 3), start // 10_000, dtype=np.uint8))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
taken = store.take(np.arange(0, 100_000, 20))
assert taken.shape == (5_000, 32, 32, 3) and taken[-1].max() == 9 / 255
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def test_taking_scattered_rows_holds_only_those_rows_in_memory(tmp_path):
    """A shard's images are rows scattered over the store (a million images' is 3 GB):
    read through a memory map, the pages mapped around each row counted in resident
    memory (2 GiB for 30,000 rows: the million-image run's peak). 5,000 rows of a
    300 MB store are 60 MB as floats."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", TAKE_SCATTERED_ROWS, str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout) < 150  # MiB; through a memory map, 300 or more


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
