"""Families of copies (DESIGN.md, "Families"): every copy of one picture, two or two hundred,
is one group.

Two passes make a family whole whatever its size:

1. **Identical pictures first.** Images whose decoded pixels (at the analysis size) are
   identical are one item for everything that follows, found by one hash per image;
   constant images (blank, one colour) are one item per colour. Neither needs the pair
   score, and a family of identical copies never depends on how many candidates an image
   has.
2. **Tentative groups completed.** A candidate list of k per image cannot prove that a
   family of 3k is one group: inside each connected component of the verified pairs that
   reach ``STORED_FLOOR``, the pairs never scored are scored (``completion_pairs``,
   bounded per component and in all), so the linkage sees every pair of a family.

Groups are then cut by minimax linkage (``grouping.score_groups``), which keeps a family
of edited copies whole around the member every other is a copy of (two edits of one
picture can score below the cut with each other) while two different pictures never join
through a chain (every member of a group reaches the cut with its prototype).
"""

import hashlib
from dataclasses import dataclass

import numpy as np

from .streaming import row_chunks

CONSTANT_RANGE = 4 / 255
"""An image is constant (blank, one colour) when no channel varies by more than this
(4 of 255 levels)."""
COLOR_TOLERANCE = 8 / 255
"""Constant images group with those whose colour is within this, channel by channel
(complete linkage: every two members of a colour group are this close)."""
COLOR_LINKAGE_ROWS = 4096
"""Past this many distinct constant images, their colours are grouped on a grid of
``COLOR_TOLERANCE`` steps instead of by complete linkage (an m x m matrix)."""
COMPLETED_MEMBERS = 1000
"""Tentative groups (components of the pairs at or above ``STORED_FLOOR``) of up to this
many distinct images have every pair scored; larger ones keep the pairs their members'
candidate searches found."""
COMPLETED_PAIRS_PER_IMAGE = 20
"""Completion scores at most this many pairs per image of the run in all (plus
``COMPLETED_PAIRS_MINIMUM``), smallest components first."""
COMPLETED_PAIRS_MINIMUM = 1_000_000


@dataclass
class Identities:
    """Which images are the same picture before any pair is scored, index-aligned with
    the analysed images."""

    canonical: np.ndarray
    """The row of the first image identical to each (itself when it has none); constant
    images point at the first image of their colour group."""
    constant: np.ndarray
    """True for images of one colour."""

    @classmethod
    def none(cls, n):
        """Every image its own item (runs stored before identities were found)."""
        return cls(np.arange(n, dtype=np.int64), np.zeros(n, dtype=bool))

    def __len__(self):
        return len(self.canonical)

    @property
    def scored(self):
        """The rows the pair score compares: one per picture, constant images left out."""
        return np.flatnonzero((self.canonical == np.arange(len(self))) & ~self.constant)

    def applied_to(self, cluster_labels):
        """``cluster_labels`` (any grouping's) with every image in its picture's cluster
        and each colour of constant images a cluster of its own."""
        labels = np.asarray(cluster_labels)[self.canonical].astype(np.int64)
        offset = int(labels.max(initial=-1)) + 1
        labels[self.constant] = offset + self.canonical[self.constant]
        return labels

    def counts(self):
        """``{"identical": images identical to an earlier one, "constant": images of one
        colour}``: what the run reports."""
        copies = self.canonical != np.arange(len(self))
        return {"identical": int(np.count_nonzero(copies & ~self.constant)), "constant": int(np.count_nonzero(self.constant))}

    def detached(self, rows):
        """These identities with ``rows`` made items of their own (a reviewer said they
        differ from their identical twin); another member of their class takes over as
        the class's first where a detached row led it."""
        canonical = self.canonical.copy()
        for row in np.asarray(rows, dtype=np.int64):
            members = np.flatnonzero(canonical == canonical[row])
            if len(members) < 2:
                continue
            rest = members[members != row]
            canonical[rest] = rest[0]
            canonical[row] = row
        return Identities(canonical, self.constant.copy())

    def as_record(self):
        """The run record's form: base64 bytes of the canonical rows (int32) and the
        constant flags (uint8), as ``ScoredPairs.as_record`` stores pairs."""
        import base64

        return {
            "encoding": "base64",
            "canonical": base64.b64encode(self.canonical.astype("<i4").tobytes()).decode("ascii"),
            "constant": base64.b64encode(self.constant.astype(np.uint8).tobytes()).decode("ascii"),
        }

    @classmethod
    def from_record(cls, record, n):
        """``as_record``'s identities, or none for a run stored without them."""
        import base64

        if not record:
            return cls.none(n)
        canonical = np.frombuffer(base64.b64decode(record["canonical"]), dtype="<i4").astype(np.int64)
        constant = np.frombuffer(base64.b64decode(record["constant"]), dtype=np.uint8).astype(bool)
        return cls(canonical, constant)


def find_identities(*image_sets):
    """``Identities`` of ``(n, h, w[, c])`` images in [0, 1] (arrays or
    ``streaming.DiskRows``, read by chunks; several sets are numbered one after another):
    one BLAKE2 hash of each image's pixels at 8 bits, and the colour of each constant
    one."""
    n = sum(len(images) for images in image_sets)
    canonical = np.arange(n, dtype=np.int64)
    constant = np.zeros(n, dtype=bool)
    colors = {}
    first_of = {}
    offset = 0
    for images in image_sets:
        for start, chunk in row_chunks(images):
            levels = np.rint(np.asarray(chunk, dtype=np.float32) * 255).astype(np.uint8)
            pixels = levels.reshape(len(levels), -1, levels.shape[-1] if levels.ndim == 4 else 1)
            flat = (pixels.max(axis=1).astype(np.int16) - pixels.min(axis=1)).max(axis=1) <= CONSTANT_RANGE * 255
            for position, row in enumerate(levels):
                index = offset + start + position
                canonical[index] = first_of.setdefault(hashlib.blake2b(row.tobytes(), digest_size=16).digest(), index)
                if flat[position]:
                    constant[index] = True
                    if canonical[index] == index:
                        colors[index] = pixels[position].mean(axis=0) / 255
        offset += len(images)
    if colors:
        rows = np.fromiter(colors, dtype=np.int64, count=len(colors))
        leader = rows[_color_groups(np.stack([colors[row] for row in rows]))]
        canonical[constant] = leader[np.searchsorted(rows, canonical[constant])]
    return Identities(canonical, constant)


def _color_groups(colors):
    """For each colour (rows, in order), the position of the first colour of its group:
    complete linkage at ``COLOR_TOLERANCE`` (Chebyshev), or a grid past
    ``COLOR_LINKAGE_ROWS`` colours."""
    if len(colors) == 1:
        return np.zeros(1, dtype=np.int64)
    if len(colors) <= COLOR_LINKAGE_ROWS:
        from scipy.cluster.hierarchy import fcluster, linkage
        from scipy.spatial.distance import pdist

        labels = fcluster(linkage(pdist(colors, "chebyshev"), "complete"), COLOR_TOLERANCE, "distance")
    else:
        cells = np.floor(colors / COLOR_TOLERANCE).astype(np.int64)
        _, labels = np.unique(cells, axis=0, return_inverse=True)
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    return first[inverse.reshape(-1)]


def completion_pairs(n, first, second, score, floor):
    """The pairs never scored inside each tentative group: a connected component of the
    scored pairs ``(first, second)`` reaching ``floor``, of at most ``COMPLETED_MEMBERS``
    images, smallest components first, until ``COMPLETED_PAIRS_PER_IMAGE * n +
    COMPLETED_PAIRS_MINIMUM`` pairs (``n``: the images of the run). Returns ``(k, 2)``
    pairs, first < second."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    first, second = np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64)
    close = np.asarray(score) >= floor
    if not close.any():
        return np.empty((0, 2), dtype=np.int64)
    graph = sp.coo_matrix((np.ones(int(close.sum())), (first[close], second[close])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    members = np.unique(np.concatenate([first[close], second[close]]))
    members = members[np.argsort(component[members], kind="stable")]
    groups = np.split(members, np.flatnonzero(np.diff(component[members])) + 1)
    groups = sorted((group for group in groups if 2 < len(group) <= COMPLETED_MEMBERS), key=len)
    scored = np.unique(_keys(np.minimum(first, second), np.maximum(first, second), n))
    budget = COMPLETED_PAIRS_PER_IMAGE * n + COMPLETED_PAIRS_MINIMUM
    added = []
    for group in groups:
        group = np.sort(group)
        low, high = np.triu_indices(len(group), k=1)
        keys = _keys(group[low], group[high], n)
        position = np.minimum(np.searchsorted(scored, keys), len(scored) - 1)
        new = keys[scored[position] != keys]
        if len(new) > budget:
            break
        budget -= len(new)
        added.append(new)
    keys = np.concatenate(added) if added else np.empty(0, dtype=np.int64)
    return np.stack([keys // n, keys % n], axis=1)


def _keys(first, second, n):
    return np.asarray(first, dtype=np.int64) * n + np.asarray(second, dtype=np.int64)
