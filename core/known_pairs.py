"""Pair scores verified before, reused by an update of a run (``bridge.update``).

A pair score depends on its two images alone (their pixels, their own prepared values)
and on the run's descriptor rows, which are fixed while the wavelet analysis keeps the
same columns: so a pair of unchanged images scored by an earlier run is scored again,
bit for bit, by a lookup. ``pair_score.score_within`` asks a ``KnownScores`` first and
verifies only the pairs it does not know, and records every score it used, so that the
next update knows them all. A split run (``split_similarity``) keeps each (test, training)
pair's score and raw similarity, ``(score, raw)`` rows, the same way.
"""

import numpy as np


class KnownScores:
    """Scores of pairs ``(first, second)`` of the current image set (rows, either order),
    valid for the descriptor of ``kept_columns``; a score is a number or a row of them
    (a split's ``(score, raw)``). ``verified`` collects every pair a run scored (looked up
    or verified), ``reused`` and ``scored`` count them."""

    def __init__(self, n, first=(), second=(), score=(), kept_columns=None):
        self.n = int(n)
        self.kept_columns = None if kept_columns is None else np.asarray(kept_columns, dtype=np.int64)
        first, second = np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64)
        keys = self._keys(np.stack([first, second], axis=1).reshape(-1, 2))
        order = np.argsort(keys, kind="stable")
        self._keys_sorted = keys[order]
        score = np.asarray(score, dtype=np.float64)
        self._scores = score.reshape(len(keys), *score.shape[1:])[order]
        self._verified = []
        self.reused = 0
        self.scored = 0

    def _keys(self, pairs):
        return np.minimum(pairs[:, 0], pairs[:, 1]) * self.n + np.maximum(pairs[:, 0], pairs[:, 1])

    def use_columns(self, kept_columns):
        """Keep these scores only where the run keeps ``kept_columns`` again (with other
        columns the descriptor, and so any score, may differ: all are verified anew)."""
        kept_columns = np.asarray(kept_columns, dtype=np.int64)
        if self.kept_columns is None or not np.array_equal(self.kept_columns, kept_columns):
            self._keys_sorted, self._scores = self._keys_sorted[:0], self._scores[:0]
        self.kept_columns = kept_columns
        return self

    def lookup(self, pairs):
        """``(known, scores)`` for ``pairs`` (rows ``(first, second)``): which were scored
        before, and their scores (NaN where not)."""
        keys = self._keys(np.asarray(pairs, dtype=np.int64).reshape(-1, 2))
        at = np.minimum(np.searchsorted(self._keys_sorted, keys), max(len(self._keys_sorted) - 1, 0))
        known = (self._keys_sorted[at] == keys) if len(self._keys_sorted) else np.zeros(len(keys), dtype=bool)
        scores = np.full((len(keys), *self._scores.shape[1:]), np.nan)
        scores[known] = self._scores[at[known]]
        return known, scores

    def record(self, pairs, scores, n_scored):
        """Note the scores a run used for ``pairs``, ``n_scored`` of them verified now."""
        self._verified.append((np.asarray(pairs, dtype=np.int64).reshape(-1, 2), np.asarray(scores, dtype=np.float64)))
        self.scored += int(n_scored)
        self.reused += len(scores) - int(n_scored)

    def verified(self):
        """``(pairs, scores)`` of every pair this run scored, each once."""
        if not self._verified:
            return np.empty((0, 2), dtype=np.int64), np.empty(0)
        pairs = np.concatenate([pairs for pairs, _ in self._verified])
        scores = np.concatenate([scores for _, scores in self._verified])
        _, first = np.unique(self._keys(pairs), return_index=True)
        return pairs[first], scores[first]
