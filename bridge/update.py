"""``update_run``: a stored wavelet, SSIM or split run brought up to date after samples were
added, removed or changed (issue 29), equal to a fresh run of its parameters on the
samples now.

What is reused: the decoded images of the samples whose file is unchanged (path, size,
modification time) and the evidence of every pair of two such images that the run
verified (``known_pairs``: what a pair score takes from its two images alone, fused again
with the descriptor and embeddings of the run now). What is done again: decoding only
the new and changed images; the steps over the whole set, which are cheap per image but
global (identical images, wavelets, the column selection, the candidate search, whose
principal axes and nearest neighbours move with every image added or removed, the
grouping, the decisions and the map); and the verification of only the candidate pairs
not verified before (mostly pairs with a new image): the result is always the fresh
run's. A split run is kept the same way, both splits' images and its (test, training)
pairs (``bridge.split.split_run``).
"""

import os

from .analysis import ImageReading
from .documented import documented
from .methods import SPLIT, SSIM, WAVELET
from .runs import METHOD_PREFIX, RedundancyRun, list_runs, method_of, method_words, require_run
from .split import split_run
from .ssim import ssim_run
from .update_store import UpdateKeeper
from .wavelet import wavelet_run


def _image_run(runner):
    """An update of a run of one view's images (``wavelet_run``, ``ssim_run``) from its
    stored config."""

    def run_again(samples, key, config, parameters, progress, overwrite, keeper):
        return runner(
            samples, parameters, key, config["label_field"], tuple(config["image_size"]), config["color"],
            config["embeddings_field"], None, None, None, ImageReading.num_workers, config["skip_failures"],
            progress, overwrite, keeper,
        )  # fmt: skip

    return run_again


def _split_run(samples, key, config, parameters, progress, overwrite, keeper):
    """An update of a split run from its stored config: the splits are read again by the
    tags or ``split_field`` values it stored (a split given as views is refused a store
    when it is computed)."""
    return split_run(
        samples, parameters, key, config["train"], config["test"], config["split_field"], config["label_field"],
        config["within_class"], tuple(config["image_size"]), config["color"], config["embeddings_field"], None, None,
        None, ImageReading.num_workers, config["skip_failures"], progress, overwrite, keeper,
    )  # fmt: skip


RUNNERS = {WAVELET.name: _image_run(wavelet_run), SSIM.name: _image_run(ssim_run), SPLIT.name: _split_run}
"""The analyses whose runs can be kept for updates, and how each runs again from its
stored config, parameters and an update's keeper."""


@documented
def update_run(samples, key, progress=None, overwrite=False):
    """Bring the wavelet, SSIM or split run ``key`` up to date on ``samples`` (usually the
    whole dataset, after samples were added, deleted or their files changed): the result
    equals a fresh :func:`compute_wavelet_clusters` (or :func:`compute_ssim_clusters`,
    :func:`compute_split_similarity`) with the run's parameters on ``samples``, but only
    the new and changed images are decoded and only the pairs not verified before are
    scored. The run must have been
    stored with ``update_folder``; its store is replaced by the updated one, under the
    same lease and commit as any run.

    Args:
        key: the key of a wavelet, SSIM or split run stored with ``update_folder``

    Returns:
        a :class:`RedundancyRun`; its ``details["update"]`` counts the images decoded
        and reused and the pairs verified and reused
    """
    dataset = samples._dataset
    require_run(dataset, key)
    run = RedundancyRun(dataset, key)
    if run.method not in RUNNERS:
        raise ValueError(
            f"run {key!r} on dataset {dataset.name!r} is {method_words(METHOD_PREFIX + run.method)}; "
            f"update_run brings {WAVELET.label}, {SSIM.label} and {SPLIT.label} runs up to date: run its analysis again instead"
        )
    compute = f"{run.method_info.function_name}(..., update_folder=...)"
    store = run.stored_details.get("update_store")
    if store is None:
        raise ValueError(
            f"run {key!r} on dataset {dataset.name!r} kept nothing to update from; run "
            f"{compute} once, then update that run"
        )
    if store.get("dataset_id") != str(dataset._doc.id):
        raise ValueError(
            f"run {key!r} was stored on another dataset and copied here with it (a clone); its "
            f"update store belongs to that dataset. Run {compute} on {dataset.name!r} first"
        )
    if not os.path.isdir(store["folder"]):
        raise ValueError(
            f"the update store of run {key!r} ({store['folder']}) is gone; run {compute} again"
        )
    config = run.parameters
    names = run.method_info.parameters.__dataclass_fields__
    parameters = run.method_info.parameters(**{name: config[name] for name in names if name in config})
    return RUNNERS[run.method](samples, key, config, parameters, progress, overwrite, UpdateKeeper(config["update_folder"], key))


def updatable_runs(dataset):
    """The keys of the wavelet, SSIM and split runs of ``dataset`` that keep an update store of
    its own."""
    return [
        key for key in list_runs(dataset) if method_of(dataset, key).name in RUNNERS
        if (RedundancyRun(dataset, key).stored_details.get("update_store") or {}).get("dataset_id") == str(dataset._doc.id)
    ]  # fmt: skip
