"""What a run keeps so that it can be updated (``compute_wavelet_clusters(...,
update_folder=...)``, ``bridge.update``), and how an update reads it back.

A run's update store is one folder, named after the dataset, the key and the attempt
that wrote it, under the user's ``update_folder``: the decoded images (uint8 where they
are exactly what the decoder gave, else float32), their file paths, and the evidence of
every pair the run verified (rows into the run's ``sample_ids``; ``known_pairs``). The lease records the
folder before it is created and the run record names it after the commit
(``RunWriter.record_staging_folder``, ``runs.lifecycle._owned_folders``): it is deleted through those
records only, when the run is replaced, updated or deleted, or its writer died first.
"""

import json
import os
import time

import numpy as np

from ..core.known_pairs import KnownScores
from ..core.pair_score.scorer import EVIDENCE
from ..core.streaming import unit_floats
from . import runs
from .samples import media_record, read_images, read_labels, read_view, readable_rows, require_images

IMAGES, PAIRS, _, PATHS = runs.UPDATE_STORE_FILES  # embeddings.npy: written by 0.5.0's stores only


def update_keeper(update_folder, similarity_backend=None, executor=None):
    """The ``UpdateKeeper`` of an analysis asked to keep its run for updates (None when
    ``update_folder`` is None), refused with a scale-out it cannot keep."""
    if update_folder is None:
        return None
    if similarity_backend is not None or executor is not None:
        raise ValueError(
            "update_folder keeps a run to update in this process with the blocked candidate "
            "search: leave out similarity_backend and executor, or update_folder"
        )
    return UpdateKeeper(update_folder)


def kept_config(keeper, skip_failures):
    """What a run kept for updates adds to its stored config, for ``update_run`` to run it
    again: nothing without a ``keeper``."""
    return {} if keeper is None else {"skip_failures": skip_failures, "update_folder": keeper.parent}


class UpdateKeeper:
    """Keeps a run's update store under ``parent``; with ``key``, first reads the store
    of the run stored under that key, for an update that decodes only new or changed
    images and verifies only pairs not scored before."""

    def __init__(self, parent, key=None):
        self.parent = os.path.abspath(os.fspath(parent))
        self.key = key
        self.report = {}
        self._known = None
        self._reused = None  # current row -> stored row, -1 for an image decoded now
        self._previous = None

    def read(self, samples, label_field, size, color, workers, progress, skip_failures, check, folder, executor):
        """``samples.read_view``'s answer; for an update, the stored images of the samples
        whose file is unchanged and the decoded images of the others, in view order, as a
        fresh run reads them."""
        if self.key is None:
            read = read_view(samples, label_field, size, color, workers, progress, skip_failures, check, folder, executor)
            self.report = {"decoded": len(read[0]), "reused_images": 0}
            return read
        require_images(samples)
        started = time.perf_counter()
        previous = self._previous = runs.RedundancyRun(samples._dataset, self.key).stored_details
        store = previous["update_store"]["folder"]
        ids, paths = samples.values("id"), samples.values("filepath")
        labels = read_labels(samples, label_field)
        stored_row = {sample_id: row for row, sample_id in enumerate(previous["sample_ids"])}
        with open(os.path.join(store, PATHS)) as handle:
            stored_paths = json.load(handle)
        stored_media = _signatures(previous["media"])
        media_now = _signatures(media_record(paths))
        reused = np.full(len(ids), -1)
        for row, sample_id in enumerate(ids):
            old = stored_row.get(sample_id, -1)
            if old >= 0 and stored_paths[old] == paths[row] and np.array_equal(stored_media[old], media_now[row]):
                reused[row] = old
        new = np.flatnonzero(reused < 0)
        stored_images = np.load(os.path.join(store, IMAGES), mmap_mode="r")
        images = np.empty((len(ids), *stored_images.shape[1:]), dtype=np.float32)
        old_rows = np.flatnonzero(reused >= 0)
        images[old_rows] = _as_decoded(stored_images[reused[old_rows]])
        reused_ids = {ids[row] for row in old_rows}
        skipped, repaired = [], [record for record in previous.get("repaired", []) if record["id"] in reused_ids]
        kept = np.ones(len(ids), dtype=bool)
        if len(new):
            view = samples.select([ids[row] for row in new], ordered=True)
            read, decoded, skipped, repaired_now = read_images(view, size, color, workers, progress, skip_failures, check)
            kept[new] = False
            kept[new[read]] = True
            images[new[read]] = decoded
            repaired += repaired_now
        sample_ids, labels = readable_rows(ids, labels, np.flatnonzero(kept), skipped)
        self._reused = reused[kept]
        self.report = {"decoded": int(len(new)), "reused_images": int(len(old_rows))}
        return sample_ids, labels, images[kept], time.perf_counter() - started, skipped, repaired

    def known(self, sample_ids):
        """The ``KnownScores`` of the batch ``read`` gave: for an update, the stored
        evidence of the pairs whose two images are reused (``known_pairs``). A store
        written before the evidence was kept (0.5.0) gives none: every pair is verified."""
        if self.key is None:
            self._known = KnownScores(len(sample_ids))
            return self._known
        store = self._previous["update_store"]["folder"]
        stored = np.load(os.path.join(store, PAIRS))
        if "evidence" not in stored or stored["evidence"].shape[1:] != (len(EVIDENCE),):
            self._known = KnownScores(len(sample_ids))
            return self._known
        current = np.full(len(self._previous["sample_ids"]), -1)
        reused = np.flatnonzero(self._reused >= 0)
        current[self._reused[reused]] = reused
        first, second = current[stored["first"]], current[stored["second"]]
        both = (first >= 0) & (second >= 0)
        self._known = KnownScores(len(sample_ids), first[both], second[both], stored["evidence"][both])
        return self._known

    def keep(self, writer, sample_ids, images):
        """Write this run's store (recorded in ``writer``'s lease first) and return the
        details the run records: ``update_store`` (its folder) and ``update`` (images
        decoded and reused, pairs verified and reused)."""
        folder = os.path.join(self.parent, f"{writer.dataset._doc.id}-{writer.key}-{writer.attempt}")
        os.makedirs(self.parent, exist_ok=True)
        writer.record_staging_folder(folder)
        os.makedirs(folder)
        images = np.asarray(images)
        as_bytes = np.rint(images * 255.0).astype(np.uint8)
        exact = np.array_equal(unit_floats(as_bytes), images)
        np.save(os.path.join(folder, IMAGES), as_bytes if exact else images)
        pairs, evidence = (self._known or KnownScores(len(sample_ids))).verified()
        np.savez(os.path.join(folder, PAIRS), first=pairs[:, 0], second=pairs[:, 1], evidence=evidence)
        paths = dict(zip(*writer.dataset.select(sample_ids).values(["id", "filepath"])))
        with open(os.path.join(folder, PATHS), "w") as handle:
            json.dump([paths[sample_id] for sample_id in sample_ids], handle)
        known = self._known
        report = {**self.report, "verified_pairs": known.scored if known else 0, "reused_pairs": known.reused if known else 0}
        return {"update_store": {"folder": folder, "dataset_id": str(writer.dataset._doc.id)}, "update": report}


def _signatures(record):
    """The ``(size, mtime)`` rows of a ``samples.media_record``."""
    import base64

    return np.frombuffer(base64.b64decode(record["signatures"]), dtype="<i8").reshape(-1, 2)


def _as_decoded(stored):
    """Stored images as the decoder's float32 values (uint8 ``k`` is ``k / 255``, as
    ``streaming.ImageStore`` reads them)."""
    stored = np.asarray(stored)
    return unit_floats(stored) if stored.dtype == np.uint8 else stored.astype(np.float32)
