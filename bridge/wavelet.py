"""``compute_wavelet_clusters``: Algorithm 1 on a FiftyOne view."""

from ..core.wavelet_analysis import WaveletParameters, analyze_wavelet_clusters
from .analysis import ImageReading, run_image_analysis
from .documented import documented
from .methods import WAVELET
from .similarity import check_index_config, index_search
from .update_store import update_keeper


@documented
def compute_wavelet_clusters(
    samples,
    label_field=None,
    key=WAVELET.default_key,
    image_size=ImageReading.image_size,
    color=ImageReading.color,
    wavelet=WaveletParameters.wavelet,
    level=WaveletParameters.level,
    mode=WaveletParameters.mode,
    approximation_only=WaveletParameters.approximation_only,
    normalization=WaveletParameters.normalization,
    tau=WaveletParameters.tau,
    selection=WaveletParameters.selection,
    grouping=WaveletParameters.grouping,
    threshold=WaveletParameters.threshold,
    radius=WaveletParameters.radius,
    n_clusters=WaveletParameters.n_clusters,
    random_state=WaveletParameters.random_state,
    device=WaveletParameters.device,
    pair_score=WaveletParameters.pair_score,
    embeddings_field=None,
    similarity_backend=None,
    similarity_config=None,
    executor=None,
    num_workers=ImageReading.num_workers,
    skip_failures=ImageReading.skip_failures,
    update_folder=None,
    progress=None,
    overwrite=False,
):
    """Find redundant and influential images of ``samples`` with wavelet clusters
    (Yousefzadeh 2020, Algorithm 1).

    Every image is resized, normalized and described by its 2-D wavelet coefficients;
    when there are more images than coefficients, pivoted QR keeps the most independent
    coefficients under the condition-number bound ``tau``. Images are grouped (by the
    pair score by default); in each group of 2+ images with one label the most central
    image is kept (``representative``) and the rest are ``redundant``; groups with
    several labels are ``influential``. Writes ``{key}_status``, ``{key}_group``,
    ``{key}_representative`` and ``{key}_score`` on the samples and stores a run under
    ``key``. The paper's exact procedure is ``level=1, approximation_only=False,
    normalization="none", grouping="kmeans", n_clusters=0.94``.

    Args:
        wavelet: a discrete PyWavelets family ("db1" is Haar)
        level: the number of decomposition levels
        mode: PyWavelets' signal extension mode
        approximation_only: keep only the coarsest approximation coefficients (tolerant
            of small shifts, crops and re-encoding)
        normalization: per-image normalization before the transform: "contrast"
            (brightness and contrast), "mean" (brightness) or "none" (the paper)
        tau: the condition-number bound of the kept coefficients
        selection: how columns are kept: "gram" (pivoted QR of ``W^T W``, stopped early),
            "qr" (pivoted QR of ``W``) or "laplacian" (the best Laplacian scores, as the
            paper's published code offers, under the same bound)
        grouping: "score" (each image's nearest neighbours verified by the plugin's pair
            score, which tolerates shifts, re-crops, colour grades and grey copies,
            grouped by minimax linkage at ``threshold``), "distance" (unit coefficient
            vectors within ``radius``: fast, mild copies only) or "kmeans" (the paper's
            k-means into ``n_clusters``)
        threshold: ``grouping="score"``: the pair score every member of a group reaches
            with the member kept
        radius: ``grouping="distance"``: the Euclidean distance of unit coefficient vectors
        n_clusters: ``grouping="kmeans"``: a count, or a fraction of the view's size (the
            paper used 0.94 for CIFAR-10)
        random_state: the seed of k-means and the projection
        device: where wavelets, the neighbour search and the pair score run: None (a CUDA
            GPU when there is one), "cpu" or "cuda"; both give the same groups
        pair_score: a dict or ``PairScoreParameters`` tuning candidates and verification,
            e.g. ``{"flips": True}``; None: the pair score's defaults
        similarity_backend: a fiftyone-brain similarity backend ("sklearn", "lancedb",
            "milvus", "qdrant", ...) that finds the pair score's candidates instead of the
            exact blocked search; every candidate is still verified, so an index can miss
            a pair but never add one. None: the blocked search
        executor: ``fr.RayExecutor()`` (a local Ray), ``fr.RayExecutor("auto")`` or
            ``fr.RayExecutor("host:port")`` (a cluster; the ``[distributed]`` extra)
            decodes the images and verifies the candidate pairs as Ray tasks, with the
            same groups; None: this process. With an executor, or past about 2 GiB of
            decoded pixels (about 90,000 32x32 colour images for ``grouping="score"``),
            images are decoded by chunks into a temporary folder and read back by
            chunks, so memory stays bounded at a million images

    Returns:
        a :class:`RedundancyRun`
    """
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
    check_index_config(similarity_backend, similarity_config)
    keeper = update_keeper(update_folder, similarity_backend, executor)
    return wavelet_run(samples, parameters, key, label_field, image_size, color, embeddings_field, similarity_backend,
                       similarity_config, executor, num_workers, skip_failures, progress, overwrite, keeper)  # fmt: skip


def wavelet_run(samples, parameters, key, label_field, image_size, color, embeddings_field, similarity_backend,
                similarity_config, executor, num_workers, skip_failures, progress, overwrite, keeper=None):  # fmt: skip
    """``compute_wavelet_clusters`` once its arguments are checked; an update
    (``bridge.update``) runs it with the stored arguments and a ``keeper`` that reuses
    what the run kept."""

    def analyze(images, labels, embeddings, pairs_progress, sample_ids):
        search = index_search(samples, sample_ids, similarity_backend, similarity_config)
        known = None if keeper is None else keeper.known(sample_ids)
        analysis = analyze_wavelet_clusters(
            images, labels, parameters, embeddings, pairs_progress, search, executor, known
        )  # fmt: skip
        details = {
            "coefficients_shape": list(analysis.coefficients_shape),
            "kept_columns": [int(column) for column in analysis.selection.kept_columns],
            "condition_number": analysis.selection.condition_number,
            "selection_applied": analysis.selection.applied,
        }
        if analysis.pairs is not None:
            details["pairs"] = analysis.pairs.as_record()
        return analysis, details

    return run_image_analysis(
        samples, WAVELET, parameters, analyze, key, label_field, image_size, color,
        embeddings_field, num_workers, skip_failures, parameters.device, progress, overwrite,
        streamed=True, executor=executor, config={"similarity_backend": similarity_backend},
        pair_scored=parameters.grouping == "score", keeper=keeper,
    )  # fmt: skip
