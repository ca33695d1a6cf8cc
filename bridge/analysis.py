"""The sequence every analysis runs, written once: take the run key's lease and check the
key, read the view, analyse, store the decisions and the run record all or nothing.

``analysis_writer`` is the first step for every analysis; ``run_image_analysis`` is the
whole sequence for an analysis of one view's images (wavelet and SSIM clusters), which
hands only its ``analyze`` step in.
"""

from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from ..core.devices import resolve_device
from ..core.images import COLORS
from ..core.pair_score import HELD_BYTES_PER_VALUE
from ..core.parameters import declared, declared_choice, declared_flag
from ..core.streaming import scratch_folder
from ..core.timing import stages_reported
from . import runs
from .progress import DECODING, StageProgress
from .samples import (MAX_IMAGE_SIDE, MIN_IMAGE_SIDE, check_memory, image_size_tuple, media_record, paths_of,
                      read_embeddings, read_view)  # fmt: skip
from .update_store import kept_config


@dataclass(frozen=True)
class ImageReading:
    """How an image analysis reads a view: the declarations of the bridge functions'
    reading arguments (checked by ``image_size_tuple`` and the decoder, which also take
    a ``(width, height)`` pair), which the forms offer as they offer an analysis'."""

    skip_failures: bool = declared_flag(False, "Skip unreadable images",
                                        "Leave them out and list them in the run instead of stopping")  # fmt: skip
    image_size: int = declared(32, "Image size", "Images are resized to this square size",
                               integer=True, at_least=MIN_IMAGE_SIDE, at_most=MAX_IMAGE_SIDE)  # fmt: skip
    color: str = declared_choice("rgb", COLORS, "Colour mode")
    num_workers: int = 4


IN_MEMORY_BYTES = 2 * 1024**3
"""A streamed analysis decodes a batch up to this size in memory (50,000 CIFAR images are
0.6 GiB): writing and reading it back by chunks costs a quarter more decoding time. The
two paths sum the wavelets by different chunks, so some pair scores differ in the fifth
decimal."""


IN_MEMORY_HELD_BYTES = 4 * 1024**3
"""A pair-score analysis of a batch in memory prepares every image once and holds about
``pair_score.HELD_BYTES_PER_VALUE`` per decoded value (2.3 GiB for 50,000 CIFAR images):
the fastest way while that stays under this. Past it the images are decoded to disk and
verified in shards read from there (each image prepared once per shard that touches it)."""


def batch_bytes(count, size, color):
    """Bytes of ``count`` float32 images of ``size`` (width, height) in ``color``."""
    return count * size[0] * size[1] * (3 if color == "rgb" else 1) * 4


def require_memory(n_images, size, color):
    """Refuse, before a minute of decoding and a lease, a pair-score analysis that would
    run this machine out of memory partway (it holds every image: a million 32x32 colour
    images need about 43 GiB)."""
    check_memory(n_images, size, color, HELD_BYTES_PER_VALUE,
                 "analyse a smaller view (or each class), use a smaller image_size or color='gray', or "
                 "run wavelet clusters, which read their images from disk (bounded memory at a million images)")  # fmt: skip


def _identities_record(analysis):
    """What a run stores of its analysis's identical and constant images (``core.families``):
    the identities a re-cut reuses, and how many there were."""
    identities = getattr(analysis, "identities", None)
    if identities is None:
        return {}
    return {"identities": identities.as_record(), "identical": identities.counts()}


@contextmanager
def analysis_writer(samples, method, key, overwrite=False, extra_suffixes=()):
    """The lease on ``key`` (``runs.RunWriter``), once ``key`` is checked to take a run of
    ``method`` (a ``bridge.methods.Method``) on ``samples`` (``runs.validate_key``); an
    analysis that ends without a run leaves how it ended (``runs.record_ending``)."""
    with runs.RunWriter(samples._dataset, key) as writer:
        try:
            runs.validate_key(samples, key, method.name, extra_suffixes, overwrite=overwrite)
            writer.note_progress(DECODING)
            yield writer
        except Exception as error:
            runs.record_ending(samples._dataset, key, error)
            raise


def run_image_analysis(samples, method, parameters, analyze, key, label_field, image_size, color,
                       embeddings_field, num_workers, skip_failures, device, progress, overwrite,
                       streamed=False, executor=None, config=None, holds_images=False,
                       pair_scored=False, keeper=None):  # fmt: skip
    """Run ``method`` on the images of ``samples`` and store it under ``key``.

    ``analyse(images, labels, embeddings, progress, sample_ids)`` does the analysis on
    the decoded batch and returns ``(analysis, details)``: the analysis has
    ``decisions``, ``timings`` and ``points`` (its 2-D map), the details are what this
    method stores beyond every image run's (decode time, skipped samples, device, sample
    ids, map). ``streamed``: ``analyze`` reads a batch past ``IN_MEMORY_BYTES`` (or any
    batch, with ``executor``) from a temporary on-disk store it is decoded into by chunks
    (``samples.read_view``), by ``executor`` when given; ``pair_scored``: a streamed
    analysis that scores pairs, also read from disk past ``IN_MEMORY_HELD_BYTES``.
    ``holds_images``: the analysis holds every image in memory even when streamed (SSIM's
    pair score), and is refused before anything starts where this machine's free memory
    cannot hold it. The run's config is the reading arguments, ``parameters`` (a
    dataclass) and ``config``. ``keeper`` (``update_store.UpdateKeeper``): the run keeps
    its images and pair scores for updates (reads them too, for an update), in memory."""
    size = image_size_tuple(image_size)
    if holds_images:
        require_memory(len(samples), size, color)
    decoded = batch_bytes(len(samples), size, color)
    held = decoded * HELD_BYTES_PER_VALUE / 4 if pair_scored else 0
    on_disk = streamed and (executor is not None or decoded > IN_MEMORY_BYTES or held > IN_MEMORY_HELD_BYTES)
    if keeper is not None and on_disk:
        raise ValueError(
            f"a run kept for updates holds its images in memory; {len(samples):,} images at {size} "
            "are past what this analysis holds in memory: leave out update_folder, or analyse a smaller view"
        )
    with ExitStack() as stack:
        writer = stack.enter_context(analysis_writer(samples, method, key, overwrite))
        folder = stack.enter_context(scratch_folder()) if on_disk else None
        read = read_view if keeper is None else keeper.read
        sample_ids, labels, images, decode_seconds, skipped, repaired = read(
            samples, label_field, size, color, num_workers, progress, skip_failures, writer.raise_if_cancelled,
            folder, executor,
        )  # fmt: skip
        embeddings = read_embeddings(samples, embeddings_field, sample_ids)
        media = media_record(paths_of(samples, sample_ids))
        runs.checkpoint("decoded")
        stages = StageProgress(progress, writer.raise_if_cancelled, writer.note_progress)
        with stages_reported(stages.hear):
            analysis, method_details = analyze(
                images, labels, embeddings, lambda done, total: stages.counted(done, total, "pairs"), sample_ids
            )  # fmt: skip
        runs.checkpoint("analysed")
        stages.hear("write", False)
        details = {
            "timings": {"decode": decode_seconds, **analysis.timings},
            "skipped": skipped,
            "repaired": repaired,
            "media": media,
            **_identities_record(analysis),
            **method_details,
            "device": resolve_device(device),
            "sample_ids": sample_ids,
            "points": analysis.points.round(5).tolist(),
        }
        if keeper is not None:
            details.update(keeper.keep(writer, sample_ids, images))
        config = {
            "label_field": label_field,
            "image_size": list(size),
            "color": color,
            "embeddings_field": embeddings_field,
            **(config or {}),
            **kept_config(keeper, skip_failures),
            **runs.parameters_record(parameters),
        }
        run = runs.store_run(writer, samples, method.name, config, sample_ids, analysis.decisions, details)
        stages.hear("write", True)
        return run
