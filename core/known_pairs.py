"""Pair evidence verified before, reused by an update of a run (``bridge.update``).

A pair score fuses what it takes from its two images alone (``pair_score.EVIDENCE``: the
verified similarity, with frames trimmed, and the pair's reproduction), the costly part,
with the cosines of the run's descriptor and embeddings, which cost a dot product. The
evidence of a pair of unchanged images does not change when the run selects other
wavelet columns or the embeddings change: so an update looks it up and fuses it with
the descriptor and embeddings it has now, as a fresh run fuses the evidence it verifies.
``pair_score.score_within`` asks a ``KnownScores`` first and verifies only the pairs it
does not know, and records the evidence of every pair it used, so that the next update
knows them all.
"""

import numpy as np

from .pair_score.scorer import EVIDENCE


class KnownScores:
    """Evidence (rows of ``pair_score.EVIDENCE``) of pairs ``(first, second)`` of the
    current image set (rows, either order); ``verified`` collects every pair a run scored
    (looked up or verified), ``reused`` and ``scored`` count them."""

    def __init__(self, n, first=(), second=(), evidence=None):
        self.n = int(n)
        first, second = np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64)
        keys = self._keys(np.stack([first, second], axis=1).reshape(-1, 2))
        order = np.argsort(keys, kind="stable")
        self._keys_sorted = keys[order]
        evidence = np.empty((0, len(EVIDENCE))) if evidence is None else np.asarray(evidence, dtype=np.float64)
        self._evidence = evidence.reshape(-1, len(EVIDENCE))[order]
        self._verified = []
        self.reused = 0
        self.scored = 0

    def _keys(self, pairs):
        return np.minimum(pairs[:, 0], pairs[:, 1]) * self.n + np.maximum(pairs[:, 0], pairs[:, 1])

    def lookup(self, pairs):
        """``(known, evidence)`` for ``pairs`` (rows ``(first, second)``): which were
        verified before, and their evidence rows (NaN where not)."""
        keys = self._keys(np.asarray(pairs, dtype=np.int64).reshape(-1, 2))
        at = np.minimum(np.searchsorted(self._keys_sorted, keys), max(len(self._keys_sorted) - 1, 0))
        known = (self._keys_sorted[at] == keys) if len(self._keys_sorted) else np.zeros(len(keys), dtype=bool)
        evidence = np.full((len(keys), len(EVIDENCE)), np.nan)
        evidence[known] = self._evidence[at[known]]
        return known, evidence

    def record(self, pairs, evidence, n_scored):
        """Note the evidence a run used for ``pairs``, ``n_scored`` of them verified now."""
        evidence = np.asarray(evidence, dtype=np.float64).reshape(-1, len(EVIDENCE))
        self._verified.append((np.asarray(pairs, dtype=np.int64).reshape(-1, 2), evidence))
        self.scored += int(n_scored)
        self.reused += len(evidence) - int(n_scored)

    def verified(self):
        """``(pairs, evidence)`` of every pair this run scored, each once."""
        if not self._verified:
            return np.empty((0, 2), dtype=np.int64), np.empty((0, len(EVIDENCE)))
        pairs = np.concatenate([pairs for pairs, _ in self._verified])
        evidence = np.concatenate([evidence for _, evidence in self._verified])
        _, first = np.unique(self._keys(pairs), return_index=True)
        return pairs[first], evidence[first]
