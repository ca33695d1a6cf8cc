"""numpy (what runs where torch is not installed) gives the pair score, SSIM and the
neighbour searches that torch on the CPU gives, on real photographs and their realistic
copies; and the plugin imports, registers and scores with torch, torchvision, umap-learn
and hdbscan unimportable."""

import subprocess

import numpy as np
import pytest
from PIL import Image
from skimage import data

from fiftyone_redundancy.core import neighbors
from fiftyone_redundancy.core.devices import ARRAYS_VARIABLE, array_library, resolve_device
from fiftyone_redundancy.core.extras import installed
from fiftyone_redundancy.core.frames import resize_operator
from fiftyone_redundancy.core.grouping import score_groups
from fiftyone_redundancy.core.pair_score import DEFAULT_THRESHOLD, candidate_neighbors, score_within
from fiftyone_redundancy.core.ssim import SSIMIndex
from fiftyone_redundancy.realistic_edits import EDITS, apply_edit

needs_torch = pytest.mark.skipif(not installed("torch"), reason="compares with torch, which is not installed here")
PHOTOS = ("astronaut", "camera", "coffee", "rocket", "coins", "clock", "page", "text", "brick", "grass",
          "gravel", "moon", "retina", "cell", "chelsea", "colorwheel")  # fmt: skip


def analysis_size(pixels):
    image = Image.fromarray(np.asarray(pixels)).convert("RGB").resize((32, 32), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.float32) / 255


@pytest.fixture(scope="module")
def copies():
    """Every photograph, and a copy of five of them under every realistic edit (the
    pair score's hard cases: re-crops, shifts, colour grades, frames, overlays)."""
    rng = np.random.default_rng(0)
    photos = {name: np.asarray(getattr(data, name)()) for name in PHOTOS}
    edited = [apply_edit(photos[name], edit, rng) for name in PHOTOS[:5] for edit in EDITS]
    return np.stack([analysis_size(pixels) for pixels in [*photos.values(), *edited]])


def with_library(monkeypatch, library, compute):
    monkeypatch.setenv(ARRAYS_VARIABLE, library)
    assert array_library() == library
    result = compute()
    monkeypatch.delenv(ARRAYS_VARIABLE)
    return result


@needs_torch
def test_the_pair_score_on_numpy_equals_torch(copies, monkeypatch):
    by_torch = with_library(monkeypatch, "torch", lambda: score_within(copies))
    by_numpy = with_library(monkeypatch, "numpy", lambda: score_within(copies))
    assert len(by_torch.score) > 200  # every copy with its original, and look-alikes
    np.testing.assert_array_equal(by_numpy.first, by_torch.first)
    np.testing.assert_array_equal(by_numpy.second, by_torch.second)
    # float32 either way, summed in other orders: stored scores (rounded to 5 decimals)
    # differ by a few 1e-5 at most, where a smooth image's discount magnifies rounding
    np.testing.assert_allclose(by_numpy.score, by_torch.score, atol=1e-4)
    groups = [score_groups(len(copies), pairs, DEFAULT_THRESHOLD) for pairs in (by_torch, by_numpy)]
    np.testing.assert_array_equal(*groups)
    assert groups[0].max() >= 4  # groups, not only singletons, agree


@needs_torch
def test_pairs_verified_side_by_side_score_as_one_after_another(copies):
    """On the CPU the aligned similarity's batches run on as many threads as torch has,
    one torch thread each (``parallel.local_map``): the scores are those of one batch
    after another on one thread, and torch gets its threads back."""
    import torch

    from fiftyone_redundancy.core.alignment import AlignedSimilarity

    first, second = np.triu_indices(len(copies), k=1)
    threads = torch.get_num_threads()
    scores = {}
    try:
        for count in (1, 3):
            torch.set_num_threads(count)
            similarity = AlignedSimilarity(copies, device="cpu", batch_pairs=97)
            scores[count] = similarity.raw_pairs(first, second)
            assert torch.get_num_threads() == count
    finally:
        torch.set_num_threads(threads)
    assert len(first) > 20 * 97  # many batches: each thread runs several
    np.testing.assert_array_equal(scores[3], scores[1])


@needs_torch
def test_items_mapped_side_by_side_are_read_a_few_ahead_and_an_early_stop_gives_torch_its_threads_back():
    """``local_map`` holds at most one item per thread (a million images' shards are
    never all in memory), keeps the order, and a consumer that stops (a cancel) leaves
    torch's thread count as it found it."""
    import torch

    from fiftyone_redundancy.core.parallel import local_map

    threads = torch.get_num_threads()
    read = []

    def items():
        for number in range(40):
            read.append(number)
            yield number

    try:
        torch.set_num_threads(3)
        results = local_map(lambda number: number * number, items(), "cpu")
        for taken, result in enumerate(results):
            assert result == taken * taken
            assert len(read) <= taken + 3  # the taken one and at most three more
            if taken == 9:
                break
        results.close()
        assert torch.get_num_threads() == 3
        assert list(local_map(lambda number: -number, iter(range(7)), "cpu")) == [-n for n in range(7)]
    finally:
        torch.set_num_threads(threads)


@needs_torch
def test_ssim_on_numpy_equals_torch_and_skimage(copies, monkeypatch):
    from skimage.metrics import structural_similarity

    first, second = np.triu_indices(24, k=1)
    by_torch = with_library(monkeypatch, "torch", lambda: SSIMIndex(copies[:24]).pairs(first, second))
    by_numpy = with_library(monkeypatch, "numpy", lambda: SSIMIndex(copies[:24]).pairs(first, second))
    np.testing.assert_allclose(by_numpy, by_torch, atol=1e-5)
    i, j = first[7], second[7]
    expected = structural_similarity(copies[i], copies[j], channel_axis=-1, data_range=1.0, gaussian_weights=True,
                                     sigma=1.5, use_sample_covariance=False)  # fmt: skip
    assert by_numpy[7] == pytest.approx(expected, abs=1e-4)


@needs_torch
def test_neighbor_searches_on_numpy_equal_torch(monkeypatch):
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((400, 40))
    rows = np.vstack([centres, centres[:100] + rng.normal(0, 0.05, (100, 40))])
    component = rng.integers(0, 5, len(rows))

    def searches():
        nearest, distances = neighbors.nearest_neighbors(rows, 6)
        queries, foreign, foreign_distances = neighbors.foreign_neighbors(rows, component, k=3)
        candidates = candidate_neighbors(rows, rows, 6, exclude_self=True)
        within = neighbors._blocked_candidates(rows, 2.0, "cpu")
        return nearest, distances, candidates, queries, foreign, foreign_distances, within

    by_torch = with_library(monkeypatch, "torch", searches)
    by_numpy = with_library(monkeypatch, "numpy", searches)
    assert len(by_torch[-1]) >= 100  # the planted pairs are within the radius
    for torch_result, numpy_result in zip(by_torch, by_numpy):
        np.testing.assert_allclose(numpy_result, torch_result)


@needs_torch
def test_frame_trimming_resizes_as_torch_antialiased_bilinear():
    import torch
    import torch.nn.functional as F

    picture = np.random.default_rng(4).random((23, 19, 3), dtype=np.float32)
    for size in [(32, 32), (12, 30)]:
        expected = F.interpolate(torch.as_tensor(picture).permute(2, 0, 1)[None], size=size, mode="bilinear",
                                 align_corners=False, antialias=True)[0].permute(1, 2, 0).numpy()  # fmt: skip
        resized = np.einsum("ah,hwc,bw->abc", resize_operator(23, size[0]), picture, resize_operator(19, size[1]))
        np.testing.assert_allclose(resized, expected, atol=1e-6)


def test_numpy_is_asked_for_by_name_and_cuda_then_refused(monkeypatch):
    monkeypatch.setenv(ARRAYS_VARIABLE, "numpy")
    assert resolve_device(None) == "cpu"
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda")
    monkeypatch.setenv(ARRAYS_VARIABLE, "jax")
    with pytest.raises(ValueError, match="must be one of"):
        array_library()


FEATURES_PACKAGES = ("torch", "functorch", "torchgen", "torchvision", "umap", "hdbscan")
"""The [features] extra's packages, by their folders in site-packages (and metadata)."""

WITHOUT_FEATURES = """
import importlib.util, sys
import numpy as np
import fiftyone_redundancy as fr
from fiftyone_redundancy.core.devices import array_library
from fiftyone_redundancy.core.pair_score import score_within

class Plugin:
    registered = []
    def register(self, item):
        self.registered.append(item.__name__)

plugin = Plugin()
sys.modules["fiftyone_redundancy"].register(plugin)
images = np.random.default_rng(0).random((40, 32, 32, 3), dtype=np.float32)
images[20:] = np.clip(images[:20] + 0.02, 0, 1)  # 20 planted copies
pairs = score_within(images)
print(array_library(), len(plugin.registered), int((pairs.score >= 0.45).sum()), importlib.util.find_spec("torch"))
assert not any(name.partition(".")[0] in ("torch", "umap", "hdbscan") for name in sys.modules)
try:
    fr.compute_feature_clusters(None, embeddings_field="x")
except ImportError as error:
    print(error)
"""


def test_the_plugin_registers_and_scores_without_the_features_extra(python_without):
    command, env = python_without(FEATURES_PACKAGES)
    env.pop(ARRAYS_VARIABLE, None)
    result = subprocess.run([*command, "-c", WITHOUT_FEATURES], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    library, registered, copies, torch_spec = result.stdout.splitlines()[0].split()
    assert (library, int(copies), torch_spec) == ("numpy", 20, "None")
    assert int(registered) == 21  # every operator and panel fiftyone.yml lists
    assert "torch, torchvision, umap-learn, hdbscan not installed here" in result.stdout
    assert "pip install 'fiftyone-redundancy[features]'" in result.stdout
