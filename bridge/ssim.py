"""``compute_ssim_clusters``: Algorithm 2 on a FiftyOne view."""

from ..core.pair_score import pair_score_parameters
from ..core.ssim_analysis import SSIMParameters, analyze_ssim
from ..core.streaming import in_memory
from .analysis import ImageReading, run_image_analysis
from .documented import documented
from .methods import SSIM
from .similarity import check_index_config, index_search
from .update_store import update_keeper


@documented
def compute_ssim_clusters(
    samples,
    label_field=None,
    key=SSIM.default_key,
    image_size=ImageReading.image_size,
    color=ImageReading.color,
    mode=SSIMParameters.mode,
    grouping=SSIMParameters.grouping,
    threshold=SSIMParameters.threshold,
    n_clusters=SSIMParameters.n_clusters,
    rule=SSIMParameters.rule,
    gamma=SSIMParameters.gamma,
    n_eigenvalues=SSIMParameters.n_eigenvalues,
    memory_budget_gb=SSIMParameters.memory_budget_gb,
    random_state=SSIMParameters.random_state,
    device=None,
    pair_score=None,
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
    """Group structurally similar images of ``samples`` by the plugin's pair score
    (Yousefzadeh 2020, Algorithm 2): SSIM (Wang et al. 2004, 11x11 Gaussian window) at
    the best alignment of the two images' colour-normalised luminance over small shifts
    and zooms, so re-crops, shifts, colour grades and grey versions score as copies.

    The Laplacian spectrum of the pair-score graph is stored with the run, with the
    number of clusters its eigen-gaps give. Then the decision rule: one label per group
    keeps the member most similar to the others (``representative``), the rest are
    ``redundant``; mixed labels: ``influential``. Writes ``{key}_status``,
    ``{key}_group``, ``{key}_representative`` and ``{key}_score`` on the samples and
    stores a run under ``key``.

    Args:
        mode: "dense" (the pair score of every pair, refused past ``memory_budget_gb``),
            "sparse" (each image with its candidates, its nearest neighbours by the pair
            score's descriptors: scales to 50,000+ images) or "auto" (dense when it fits)
        grouping: "threshold" (minimax linkage of the pair score at ``threshold``) or
            "spectral" (spectral clustering into ``n_clusters``)
        threshold: ``grouping="threshold"``: the pair score every member of a group reaches
            with the member kept
        n_clusters: ``grouping="spectral"``: the number of clusters; None takes it from
            the spectrum by ``rule``
        rule: the eigen-gap rule: "largest_gap", or "paper" (the number of eigen-gaps
            larger than ``gamma``)
        gamma: the eigen-gap size of ``rule="paper"``
        n_eigenvalues: how many of the smallest Laplacian eigenvalues are computed (all
            of them for a dense run of up to 5,000 images)
        memory_budget_gb: the memory a dense run may take
        random_state: the seed of spectral clustering and the projection
        device: where the pair score runs: None (a CUDA GPU when there is one), "cpu" or
            "cuda"
        pair_score: a dict or ``PairScoreParameters``: ``{"verification": "ssim"}`` gives
            skimage's plain SSIM of the images as they are (equal to
            ``skimage.metrics.structural_similarity`` within 1e-4); other keys tune
            candidates and verification, e.g. ``{"flips": True}`` or
            ``{"n_neighbors": 20}``. None: the pair score's defaults
        similarity_backend: a fiftyone-brain similarity backend ("sklearn", "lancedb",
            "milvus", "qdrant", ...) that finds the sparse mode's candidates instead of the
            exact blocked search (a dense run scores every pair and needs none); every
            candidate is still verified, so an index can miss a pair but never add one.
            None: the blocked search
        executor: ``fr.RayExecutor()`` (a local Ray), ``fr.RayExecutor("auto")`` or
            ``fr.RayExecutor("host:port")`` (a cluster; the ``[distributed]`` extra)
            decodes the images by chunks and verifies the pairs in shards as Ray tasks,
            with the same scores and groups; None: this process

    Returns:
        a :class:`RedundancyRun`
    """
    parameters = SSIMParameters(
        mode=mode,
        grouping=grouping,
        threshold=threshold,
        n_clusters=n_clusters,
        rule=rule,
        gamma=gamma,
        n_eigenvalues=n_eigenvalues,
        memory_budget_gb=memory_budget_gb,
        random_state=random_state,
        pair_score=pair_score_parameters(pair_score, device),
    )
    check_index_config(similarity_backend, similarity_config)
    keeper = update_keeper(update_folder, similarity_backend, executor)
    return ssim_run(samples, parameters, key, label_field, image_size, color, embeddings_field, similarity_backend,
                    similarity_config, executor, num_workers, skip_failures, progress, overwrite, keeper)  # fmt: skip


def ssim_run(samples, parameters, key, label_field, image_size, color, embeddings_field, similarity_backend,
             similarity_config, executor, num_workers, skip_failures, progress, overwrite, keeper=None):  # fmt: skip
    """``compute_ssim_clusters`` once its arguments are checked; an update
    (``bridge.update``) runs it with the stored arguments and a ``keeper`` that reuses
    what the run kept."""

    def analyze(images, labels, embeddings, pairs_progress, sample_ids):
        search = index_search(samples, sample_ids, similarity_backend, similarity_config)
        known = None if keeper is None else keeper.known(sample_ids)
        analysis = analyze_ssim(in_memory(images), labels, parameters, embeddings, pairs_progress, search, executor, known)
        return analysis, {
            "mode_used": analysis.mode,
            "n_clusters_used": int(analysis.n_clusters),
            "spectrum": [float(value) for value in analysis.spectrum],
            "eigengap_clusters": int(analysis.eigengap_clusters),
            "pairs": analysis.pairs.as_record(),
        }

    return run_image_analysis(
        samples, SSIM, parameters, analyze, key, label_field, image_size, color,
        embeddings_field, num_workers, skip_failures, parameters.device, progress, overwrite,
        streamed=executor is not None, executor=executor, config={"similarity_backend": similarity_backend}, holds_images=True, keeper=keeper,
    )  # fmt: skip
