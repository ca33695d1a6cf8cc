"""``compute_wavelet_clusters``: Algorithm 1 on a FiftyOne view."""

import tempfile

from ..core.devices import resolve_device
from ..core.pair_score import DEFAULT_THRESHOLD
from ..core.wavelet_analysis import WaveletParameters, analyze_wavelet_clusters
from . import runs
from .progress import SCORING, stage_progress
from .samples import image_size_tuple, read_embeddings, read_view
from .similarity import index_search

METHOD = "wavelet_clusters"


def compute_wavelet_clusters(
    samples,
    label_field=None,
    key="wavelet",
    image_size=32,
    color="rgb",
    wavelet="db1",
    level=2,
    mode="periodization",
    approximation_only=True,
    normalization="contrast",
    tau=1e5,
    selection="gram",
    grouping="score",
    threshold=DEFAULT_THRESHOLD,
    radius=0.12,
    n_clusters=0.94,
    random_state=0,
    device=None,
    pair_score=None,
    embeddings_field=None,
    similarity_backend=None,
    similarity_config=None,
    executor=None,
    num_workers=4,
    skip_failures=False,
    progress=None,
    overwrite=False,
):
    """Find redundant and influential images of ``samples`` with wavelet clusters.

    Every image is resized to ``image_size`` (an int for square, or ``(width, height)``)
    in ``color`` mode ("rgb" or "gray"), normalized (``normalization``: "contrast",
    "mean" or "none") and transformed with a ``level``-level 2-D DWT of family ``wavelet``
    (only the coarsest approximation when ``approximation_only``); when there are more
    images than coefficients, pivoted QR keeps the most independent coefficients with
    condition number below ``tau`` (``selection="gram"``, the default, factors the Gram
    matrix ``W^T W`` with the same pivots and stops early; ``"qr"`` factors ``W`` itself;
    ``"laplacian"`` keeps the columns with the best Laplacian scores instead, as the paper's
    published code offers, under the same bound).

    ``grouping="score"`` (the default) scores each image with its nearest neighbours in
    the selected coefficients (and by a shift-free descriptor, and in ``embeddings_field``
    when given) with the plugin's pair score, which tolerates shifts, re-crops, colour
    grades and grey versions, and groups images whose pair score with every other member
    is at least ``threshold`` (complete linkage). ``pair_score`` (a dict or
    ``PairScoreParameters``) tunes candidates and verification, e.g. ``{"flips": True}``.
    ``grouping="distance"`` groups images whose unit-length coefficient vectors are all
    within ``radius`` of each other (fast, mild copies only); ``grouping="kmeans"`` is the
    paper's k-means into ``n_clusters`` clusters (a count, or a fraction of the view's
    size; the paper used 0.94 for CIFAR-10). In each cluster of 2+ images with one label
    the most central image is kept (``representative``) and the rest are ``redundant``;
    clusters with several labels (``label_field``) are ``influential``.

    Writes ``{key}_status``, ``{key}_group``, ``{key}_representative`` and ``{key}_score``
    on the samples of the view and stores a run under ``key``. ``device`` (None, "cpu" or
    "cuda") picks where wavelets and the neighbour search run: a GPU when there is one;
    both give the same groups. ``progress`` is FiftyOne's: None/True/False, or a callback
    made with ``fo.report_progress``. An unreadable image raises an error naming it; with
    ``skip_failures`` such samples are left out and listed in the run's ``skipped``.
    Returns a :class:`RedundancyRun`.
    ``similarity_backend`` (a fiftyone-brain similarity backend: "sklearn", "lancedb",
    "milvus", "qdrant", ...; ``similarity_config``: its settings, else the brain
    config's) finds the pair score's candidates through that index instead of the exact
    blocked search; every candidate is still verified, so an index can miss a pair but
    never add one.
    ``executor`` (``fr.RayExecutor()`` for a local Ray, ``fr.RayExecutor("auto")`` or
    ``fr.RayExecutor("host:port")`` for a cluster; the ``[distributed]`` extra) decodes
    the images and verifies the candidate pairs as Ray tasks; the groups are the same.
    Images are decoded by chunks into a temporary folder (removed after the run) and read
    back by chunks, so memory stays bounded at a million images with
    ``grouping="distance"``.
    ``overwrite``: a key that holds a run covering samples outside ``samples`` is refused
    unless True (those samples would lose the run's fields); a re-run on the same samples
    (or more) replaces the run either way.
    """
    size = image_size_tuple(image_size)
    parameters = WaveletParameters(
        wavelet=wavelet,
        level=level,
        mode=mode,
        approximation_only=approximation_only,
        normalization=normalization,
        tau=tau,
        selection=selection,
        grouping=grouping,
        threshold=threshold,
        radius=radius,
        n_clusters=n_clusters,
        random_state=random_state,
        device=device,
        pair_score=pair_score,
    )
    with runs.RunWriter(samples._dataset, key) as writer, tempfile.TemporaryDirectory(prefix="redundancy-") as folder:
        runs.validate_key(samples, key, METHOD, overwrite=overwrite)
        sample_ids, labels, images, decode_seconds, skipped = read_view(
            samples, label_field, size, color, num_workers, progress, skip_failures, writer.raise_if_cancelled, folder,
            executor,
        )
        embeddings = read_embeddings(samples, embeddings_field, sample_ids)

        runs.checkpoint("decoded")
        search = None
        if similarity_backend is not None:
            search = index_search(samples, sample_ids, similarity_backend, **(similarity_config or {}))
        analysis = analyze_wavelet_clusters(
            images, labels, parameters, embeddings,
            stage_progress(progress, SCORING, writer.raise_if_cancelled, "pairs"), search, executor,
        )  # fmt: skip
        runs.checkpoint("analysed")
        details = {
            "timings": {"decode": decode_seconds, **analysis.timings},
            "skipped": skipped,
            "coefficients_shape": list(analysis.coefficients_shape),
            "kept_columns": [int(column) for column in analysis.selection.kept_columns],
            "condition_number": analysis.selection.condition_number,
            "selection_applied": analysis.selection.applied,
            "device": resolve_device(device),
            "sample_ids": sample_ids,
            "points": analysis.points.round(5).tolist(),
        }
        if analysis.pairs is not None:
            details["pairs"] = analysis.pairs.as_record()
        config = {
            "label_field": label_field,
            "image_size": list(size),
            "color": color,
            "embeddings_field": embeddings_field,
            "similarity_backend": similarity_backend,
            **runs.parameters_record(parameters),
        }
        return runs.store_run(writer, samples, METHOD, config, sample_ids, analysis.decisions, details)
