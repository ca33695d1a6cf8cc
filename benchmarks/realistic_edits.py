"""Realistic-edit benchmark: how each analysis finds copies made the way people make them.

    .venv/bin/python benchmarks/realistic_edits.py [--cifar 10000] [--copies 100]

Pools of real images that nobody here made: CIFAR-10 training images (../shared/data),
the demo's scikit-image photographs at full size plus ``lfw_subset``, and the demo's
handwritten digits. For ``--copies`` images of a pool per edit, one copy with that edit of
``realistic_edits.EDITS`` is made at the image's own resolution and then brought to the
analysis size (32x32) as the analyses read it. The other images of the pool are the
natural negatives (same-class look-alikes included). CIFAR-10 also holds real copies of
its own (one white car photographed and augmented dozens of times, and many more):
``cifar_audited_pairs.csv`` lists the pairs of the default 10,000-image pool that any
analysis scored high, each looked at by eye; those judged the same photograph (or unsure)
are not counted as negatives, and the report says how many of the audited copies each
analysis finds at its cut. The other pools have no such list, so their precision columns
count their own real copies (``lfw_subset``'s non-face crops of one picture, near-identical
digits) against the analyses.

For each analysis, every pair it scores: per edit, the average precision of the
(original, copy) pairs against the negatives, the recall at precision 0.95, and the recall
at the analysis's default cut; then the share of natural images that the default cut
flags. Runs on core/ only, no database. Writes ``benchmarks/output/realistic_edits.md``.
"""

import argparse
import os
import sys
import time

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fiftyone_redundancy.core.pair_score import score_within  # noqa: E402
from fiftyone_redundancy.realistic_edits import EDITS, HEAVY, OPTIONAL, apply_edit  # noqa: E402
from fiftyone_redundancy.core.ssim import SSIMIndex  # noqa: E402
from fiftyone_redundancy.core.ssim_analysis import neighbor_pairs  # noqa: E402
from fiftyone_redundancy.core.wavelet_analysis import (  # noqa: E402
    WaveletParameters,
    coarse_coefficients,
    wavelet_features,
)

SIZE = 32
BEFORE_WAVELET_CUT = 0.12  # the wavelet analysis's distance cut before the pair score
BEFORE_SSIM_CUT = 0.9


def to_analysis_size(pixels):
    """An image as the analyses read it: RGB, resized to 32x32 (bilinear, antialiased)."""
    image = Image.fromarray(pixels).convert("RGB")
    if image.size != (SIZE, SIZE):
        image = image.resize((SIZE, SIZE), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.float32) / 255.0


AUDITED = os.path.join(HERE, "cifar_audited_pairs.csv")


def cifar_pool(count, seed=0):
    """``count`` random CIFAR-10 training images, and ``{(i, j): verdict}`` for the pairs
    of them (indices into the pool) that the audit found to be copies or could not tell."""
    from cifar import CACHE, ensure_extracted

    ensure_extracted()
    folder = os.path.join(CACHE, "train")
    names = sorted(os.path.join(c, f) for c in os.listdir(folder) for f in os.listdir(os.path.join(folder, c)))
    chosen = np.random.default_rng(seed).choice(len(names), count, replace=False)
    position = {names[i]: k for k, i in enumerate(chosen)}
    audited = {}
    with open(AUDITED) as handle:
        for line in handle:
            first, _, rest = line.strip().partition(",")
            second, _, verdict = rest.partition(",")
            if verdict in ("copy", "unsure") and first in position and second in position:
                audited[tuple(sorted((position[first], position[second])))] = verdict
    return [np.asarray(Image.open(os.path.join(folder, names[i])).convert("RGB")) for i in chosen], audited


def demo_pools():
    """The demo's photographs and lfw crops (one pool), and its digits (another)."""
    from fiftyone_redundancy.demo_data import demo_images

    records = [r for r in demo_images() if r["planted_transform"] is None or r["planted_transform"] == "original"]
    photos = [r["pixels"] for r in records if r["source"] in ("skimage", "lfw_subset")]
    digits = [r["pixels"] for r in records if r["source"] == "digits"]
    return photos, digits


def build(pool, copies_per_edit, edits, rng):
    """The pool at analysis size plus ``copies_per_edit`` copies per edit, each of another
    original (pools smaller than all the copies are used in several rounds, each round a
    separate set): ``[(images, family, edit)]``. ``family`` names the original of each
    image (its own index for natural images); ``edit`` is None for natural images."""
    natural = [to_analysis_size(pixels) for pixels in pool]
    wanted = [edit for edit in edits for _ in range(copies_per_edit)]
    rng.shuffle(wanted)
    per_round = max(1, len(pool) // 2)
    rounds = []
    for start in range(0, len(wanted), per_round):
        round_edits = wanted[start : start + per_round]
        sources = rng.choice(len(pool), len(round_edits), replace=False)
        images = list(natural) + [to_analysis_size(apply_edit(pool[s], e, rng)) for s, e in zip(sources, round_edits)]
        family = list(range(len(pool))) + [int(s) for s in sources]
        edit_of = [None] * len(pool) + list(round_edits)
        rounds.append((np.stack(images), np.array(family), np.array(edit_of, dtype=object)))
    return rounds


def score_pair_score(images, parameters=None):
    pairs = score_within(images, parameters)
    return pairs.first, pairs.second, pairs.score


def score_before_wavelet(images):
    """The wavelet analysis before the pair score: cosine of the kept coefficients,
    grouped within a distance of 0.12 (cosine >= 1 - 0.12**2 / 2)."""
    features, _, _ = wavelet_features(images, WaveletParameters())
    points = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    first, second = neighbor_pairs(points, 10).T
    return first, second, np.einsum("ij,ij->i", points[first], points[second])


def score_before_ssim(images):
    """The sparse SSIM analysis before the pair score: plain SSIM with the 10 nearest
    neighbours by raw coarse wavelets."""
    first, second = neighbor_pairs(coarse_coefficients(images), 10).T
    return first, second, SSIMIndex(images).pairs(first, second)


METHODS = {
    "wavelet (before)": (score_before_wavelet, 1 - BEFORE_WAVELET_CUT**2 / 2),
    "ssim (before)": (score_before_ssim, BEFORE_SSIM_CUT),
}


def collect(first, second, score, family, edit_of, cut, audited=None):
    """The best score of each copy with its original (-inf where no pair was scored), per
    edit; the scores of pairs of different families (negatives) that are not ``audited``
    copies of each other; the share of natural images that ``cut`` pairs with another
    natural image not audited as a copy of it; and the audited pairs found at ``cut``."""
    natural = np.array([e is None for e in edit_of])
    families = np.sort(np.stack([family[first], family[second]], axis=1), axis=1)
    audited = audited or {}
    known = np.array([tuple(pair) in audited for pair in families.tolist()], dtype=bool)
    negative = (family[first] != family[second]) & ~known
    best = {}
    for a, b, value in zip(first, second, score):
        for copy, other in ((a, b), (b, a)):
            if edit_of[copy] is not None and family[copy] == other:
                best[copy] = max(best.get(copy, -np.inf), value)
    found = {}
    for copy in np.flatnonzero(~natural):
        found.setdefault(edit_of[copy], []).append(best.get(copy, -np.inf))
    flagged = (score >= cut) & natural[first] & natural[second] & negative
    share = len(set(first[flagged].tolist()) | set(second[flagged].tolist())) / natural.sum()
    found_pairs = families[known & (score >= cut) & natural[first] & natural[second]].tolist()
    audited_found = {tuple(pair) for pair in found_pairs if audited[tuple(pair)] == "copy"}
    return found, score[negative], share, audited_found


def _ranking_metrics(positives, negatives, cut):
    """AP (missed positives count as never retrieved), recall at precision >= 0.95, and
    recall at ``cut``."""
    values = np.concatenate([positives, negatives])
    truth = np.concatenate([np.ones(len(positives), bool), np.zeros(len(negatives), bool)])
    order = np.argsort(-values, kind="stable")
    truth, values = truth[order], values[order]
    retrieved = np.isfinite(values)
    hits = np.cumsum(truth & retrieved)
    precision = hits / np.arange(1, len(truth) + 1)
    average_precision = float(np.sum(precision[truth & retrieved]) / max(len(positives), 1))
    good = precision >= 0.95
    recall_at_95 = float(hits[good].max() / len(positives)) if good.any() else 0.0
    return average_precision, recall_at_95, float(np.mean(positives >= cut))


def run(pools, copies_per_edit, methods, seed=0, edits=EDITS):
    """``{pool: {method: (per-edit metrics, natural share flagged, seconds, pairs, audited
    copies found)}}``; ``pools``: ``{name: (images, audited pairs)}``."""
    table = {}
    for pool_name, (pool, audited) in pools.items():
        rounds = build(pool, copies_per_edit, edits, np.random.default_rng(seed))
        table[pool_name] = {}
        for method, (scorer, cut) in methods.items():
            started = time.perf_counter()
            positives, negatives, flagged_share, n_pairs, audited_found = {}, [], [], 0, set()
            for images, family, edit_of in rounds:
                first, second, score = scorer(images)
                n_pairs += len(score)
                found, negative, share, known = collect(first, second, score, family, edit_of, cut, audited)
                for edit, values in found.items():
                    positives.setdefault(edit, []).extend(values)
                negatives.append(negative)
                flagged_share.append(share)
                audited_found |= known
            negatives = np.concatenate(negatives)
            metrics = {e: _ranking_metrics(np.array(positives[e]), negatives, cut) for e in edits if e in positives}
            seconds = time.perf_counter() - started
            table[pool_name][method] = (metrics, float(np.mean(flagged_share)), seconds, n_pairs, len(audited_found))
    return table


def format_table(table, pool, methods, audited_copies=0):
    rows = table[pool]
    header = "| edit | " + " | ".join(
        f"{m}: AP / R@P.95 / R@cut" for m in methods
    ) + " |"
    lines = [header, "|---|" + "---:|" * len(methods)]
    edits = next(iter(rows.values()))[0]
    for edit in edits:
        mark = " (heavy)" if edit in HEAVY else " (optional)" if edit in OPTIONAL else ""
        cells = [" / ".join(f"{v:.2f}" for v in rows[m][0][edit]) for m in methods]
        lines.append(f"| {edit}{mark} | " + " | ".join(cells) + " |")
    for label, picked in (("all but heavy and optional", lambda e: e not in HEAVY + OPTIONAL),):
        cells = []
        for m in methods:
            values = np.array([rows[m][0][e] for e in edits if picked(e)])
            cells.append(" / ".join(f"{v:.2f}" for v in values.mean(axis=0)))
        lines.append(f"| mean, {label} | " + " | ".join(cells) + " |")
    lines.append("| natural images flagged at the cut (audited copies apart) | " + " | ".join(f"{100 * rows[m][1]:.2f}%" for m in methods) + " |")
    if audited_copies:
        lines.append(f"| audited real copies found at the cut (of {audited_copies}) | " + " | ".join(f"{rows[m][4]}" for m in methods) + " |")
    lines.append("| seconds (pairs scored) | " + " | ".join(f"{rows[m][2]:.1f} ({rows[m][3]:,})" for m in methods) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cifar", type=int, default=10000, help="natural CIFAR-10 images")
    parser.add_argument("--copies", type=int, default=100, help="copies per edit and pool")
    args = parser.parse_args()
    photos, digits = demo_pools()
    pools = {"CIFAR-10": cifar_pool(args.cifar), "photographs + lfw": (photos, {}), "digits": (digits, {})}
    from fiftyone_redundancy.core.pair_score import DEFAULT_THRESHOLD as cut

    methods = dict(METHODS)
    methods["pair score"] = (score_pair_score, cut)
    table = run(pools, args.copies, methods)
    report = []
    for pool in pools:
        images, audited = pools[pool]
        report.append(f"### {pool} ({len(images)} natural images, {args.copies} copies per edit)\n")
        copies = sum(verdict == "copy" for verdict in audited.values())
        report.append(format_table(table, pool, list(methods), copies) + "\n")
    text = "\n".join(report)
    print(text)
    os.makedirs(os.path.join(HERE, "output"), exist_ok=True)
    with open(os.path.join(HERE, "output", "realistic_edits.md"), "w") as handle:
        handle.write(text)


if __name__ == "__main__":
    main()
