"""Pairs of the realistic-edit benchmark's 10,000 CIFAR-10 images that the pair score puts
at the default cut and ``cifar_audited_pairs.csv`` does not list as copies: a montage to
look at (is each a copy the audit never saw, or a look-alike?).

    .venv/bin/python benchmarks/unaudited_pairs.py

Writes ``benchmarks/output/unaudited_pairs.png`` (the 40 highest, score under each pair).
"""

import os
import sys

import numpy as np
from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import realistic_edits as bench  # noqa: E402
from fiftyone_redundancy.core.pair_score import DEFAULT_THRESHOLD  # noqa: E402

CELL = 96


def main():
    images, audited = bench.cifar_pool(10000)
    first, second, score = bench.score_pair_score(np.stack([bench.to_analysis_size(image) for image in images]))
    at_cut = score >= DEFAULT_THRESHOLD
    pairs = sorted(
        ((int(a), int(b), float(s)) for a, b, s in zip(first[at_cut], second[at_cut], score[at_cut]) if (int(a), int(b)) not in audited),
        key=lambda pair: -pair[2],
    )  # fmt: skip
    print(f"{len(pairs)} pairs at the cut {DEFAULT_THRESHOLD} not audited as copies, "
          f"{len({i for a, b, _ in pairs for i in (a, b)})} images")  # fmt: skip
    shown = pairs[:40]
    sheet = Image.new("RGB", (CELL * 2 * 4 + 30, (CELL + 18) * max(1, (len(shown) + 3) // 4)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (a, b, s) in enumerate(shown):
        x, y = (k % 4) * (CELL * 2 + 10), (k // 4) * (CELL + 18)
        sheet.paste(Image.fromarray(images[a]).resize((CELL, CELL)), (x, y))
        sheet.paste(Image.fromarray(images[b]).resize((CELL, CELL)), (x + CELL, y))
        draw.text((x + 2, y + CELL + 2), f"{s:.3f}", fill="black")
    os.makedirs(os.path.join(HERE, "output"), exist_ok=True)
    path = os.path.join(HERE, "output", "unaudited_pairs.png")
    sheet.save(path)
    print(f"montage: {path}")


if __name__ == "__main__":
    main()
