"""The wavelet analysis at 1,000,000 images on one machine: the 50,000 CIFAR-10 training
images plus edited copies of them (``realistic_edits.py``), end to end through FiftyOne.

    .venv/bin/python benchmarks/million.py [--size 1000000] [--grouping distance] [--prepare-only]

The images are written once as small JPEGs under ``~/.cache/fiftyone-redundancy-million``
(outside the repository) and imported once into the persistent dataset
``redundancy-million-<size>``; both are reused when present, and the import time is
reported on its own (kept in the dataset's ``info``). Each copy records its source image
(``source``) and its edit (``edit``), so the answer is known.

Prints the time per stage, the peak resident memory (sampled every 0.2 s, and
``ru_maxrss``), the counts, and a projection to 10,000,000 images on a cluster, labelled
as projected.
"""

import argparse
import os
import resource
import sys
import threading
import time

os.environ.setdefault("FIFTYONE_DO_NOT_TRACK", "true")
os.environ.setdefault("FIFTYONE_DATABASE_VALIDATION", "false")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from cifar import CACHE as CIFAR_CACHE  # noqa: E402
from cifar import ensure_extracted  # noqa: E402

IMAGES = os.path.join(os.path.expanduser("~"), ".cache", "fiftyone-redundancy-million")
PER_FOLDER = 1000


def cifar_files():
    """``(path, label)`` of the 50,000 training JPEGs, in a fixed order."""
    ensure_extracted()
    folder = os.path.join(CIFAR_CACHE, "train")
    return [
        (os.path.join(folder, label, name), label)
        for label in sorted(os.listdir(folder))
        for name in sorted(os.listdir(os.path.join(folder, label)))
    ]


def _write_copies(task):
    """Worker: write copies ``start..stop`` (copy ``i`` edits original ``i % 50000``)."""
    from PIL import Image

    from fiftyone_redundancy.realistic_edits import EDITS, OPTIONAL, apply_edit

    start, stop, originals = task
    edits = [edit for edit in EDITS if edit not in OPTIONAL]
    rng = np.random.default_rng(start)
    rows = []
    for number in range(start, stop):
        path, label = originals[number % len(originals)]
        edit = edits[int(rng.integers(len(edits)))]
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
        target = os.path.join(IMAGES, f"{number // PER_FOLDER:04d}", f"{number:07d}.jpg")
        if not os.path.exists(target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            Image.fromarray(apply_edit(pixels, edit, rng)).save(target, quality=90)
        rows.append((target, label, number % len(originals), edit))
    return rows


def prepare(size, workers=2):
    """The persistent dataset of ``size`` images (imported once) and the seconds the
    import took (writing the copies included)."""
    import multiprocessing

    import fiftyone as fo

    name = f"redundancy-million-{size}"
    if fo.dataset_exists(name):
        dataset = fo.load_dataset(name)
        if dataset.info.get("complete"):
            return dataset, dataset.info["import_seconds"]
        fo.delete_dataset(name)  # an import that was interrupted: this script's own dataset
    started = time.perf_counter()
    originals = cifar_files()
    dataset = fo.Dataset(name)
    dataset.persistent = True
    samples = [
        fo.Sample(filepath=path, ground_truth=fo.Classification(label=label), source=i, edit="original")
        for i, (path, label) in enumerate(originals[: min(size, len(originals))])
    ]
    dataset.add_samples(samples, progress=False)
    step = 50_000
    tasks = [
        (start, min(start + step // workers, size), originals)
        for start in range(len(originals), size, step // workers)
    ]
    with multiprocessing.Pool(workers) as pool:
        for done, rows in enumerate(pool.imap(_write_copies, tasks), 1):
            dataset.add_samples(
                [
                    fo.Sample(filepath=path, ground_truth=fo.Classification(label=label), source=source, edit=edit)
                    for path, label, source, edit in rows
                ],
                progress=False,
            )
            print(f"  imported {len(dataset)} of {size} ({time.perf_counter() - started:.0f} s)", flush=True)
    seconds = time.perf_counter() - started
    dataset.info.update({"complete": True, "import_seconds": seconds})
    dataset.save()
    return dataset, seconds


class PeakMemory:
    """Highest resident set size of this process seen by a sampling thread (GiB)."""

    def __init__(self, every=0.2):
        self.every, self.peak, self._stop = every, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._stop.wait(self.every):
            with open("/proc/self/statm") as statm:
                self.peak = max(self.peak, int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE"))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join()

    @property
    def gib(self):
        return self.peak / 2**30


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--grouping", default="distance", help="the wavelet analysis's grouping")
    parser.add_argument("--prepare-only", action="store_true", help="write and import the images, then stop")
    args = parser.parse_args()

    dataset, import_seconds = prepare(args.size)
    print(f"dataset {dataset.name}: {len(dataset)} samples; import {import_seconds:.0f} s (once, reused after)")
    if args.prepare_only:
        return

    import fiftyone_redundancy.api as fr

    if "million" in fr.list_runs(dataset):  # time a first run, not a replacement
        fr.delete_run(dataset, "million")
    started = time.perf_counter()
    with PeakMemory() as memory:
        run = fr.compute_wavelet_clusters(
            dataset, label_field="ground_truth", key="million", grouping=args.grouping, progress=False
        )
    wall = time.perf_counter() - started
    peak_maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

    print(f"\n{'stage (measured)':<44}{'seconds':>10}{'images/s':>12}")
    for stage, seconds in run.timings.items():
        print(f"{stage:<44}{seconds:>10.1f}{len(dataset) / max(seconds, 1e-9):>12.0f}")
    print(f"{'end to end (wall)':<44}{wall:>10.1f}{len(dataset) / wall:>12.0f}")
    print(f"{'peak RSS, sampled (GiB)':<44}{memory.gib:>10.2f}")
    print(f"{'peak RSS, ru_maxrss (GiB)':<44}{peak_maxrss:>10.2f}")
    for status, count in run.counts.items():
        print(f"  {status:<15}{count:>9}  ({100 * count / len(dataset):.2f}%)")

    # Projection, not a measurement: 10x the images; the per-image stages (decode,
    # wavelets) spread over a cluster's cores through Ray; the others (selection,
    # grouping, decisions, projection, write) stay on one node and grow linearly.
    cores = 64
    parallel = sum(s for stage, s in run.timings.items() if stage in ("decode", "wavelets"))
    serial = sum(run.timings.values()) - parallel
    projected = 10 * parallel * 2 / cores + 10 * serial
    print(
        f"\nPROJECTED (not measured): 10,000,000 images, decode and wavelets on a {cores}-core Ray "
        f"cluster, the rest on one node: about {projected / 60:.0f} min"
    )

if __name__ == "__main__":
    main()
