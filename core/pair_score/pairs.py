"""Scored pairs as a run stores them (``ScoredPairs``): the verified pairs at or above
``STORED_FLOOR``, kept in the run record as base64 columns."""

import base64
from dataclasses import dataclass

import numpy as np

from .parameters import STORED_FLOOR

RECORD_TYPES = {"first": "<i4", "second": "<i4", "score": "<f8"}
"""How a run record stores each column of its pairs (``ScoredPairs.as_record``)."""
CANNOT_LINK = -1e6
"""The score of a pair a reviewer said differs: no group holds it (``grouping.minimax_linkage``
never merges two clusters with such a pair between them)."""


@dataclass
class ScoredPairs:
    """Verified candidate pairs of one image set (or query x index), with their score;
    what a run stores so that a later cut recomputes nothing."""

    first: np.ndarray
    second: np.ndarray
    score: np.ndarray
    raw: np.ndarray = None
    """The verified similarity before discount and fusion, where it was kept."""

    def stored(self):
        """The pairs a run keeps and decides on: those at or above ``STORED_FLOOR``,
        scores rounded to five decimals (what a re-cut reads back)."""
        kept = self.above(STORED_FLOOR)
        return ScoredPairs(kept.first, kept.second, np.round(kept.score, 5))

    def as_record(self):
        """The columns for a run record, each the base64 text of its little-endian bytes
        (``RECORD_TYPES``): the million-image benchmark's 6.6 million pairs are 140 MB of
        text this way,
        where JSON lists of numbers would take gigabytes of Python objects to write and to
        read back."""
        if len(self.first) and max(self.first.max(), self.second.max()) >= 2**31:
            raise ValueError("a run record stores pairs of at most 2**31 items")
        return {"encoding": "base64"} | {
            name: base64.b64encode(np.asarray(getattr(self, name), dtype=kind).tobytes()).decode("ascii")
            for name, kind in RECORD_TYPES.items()
        }

    @staticmethod
    def columns_of(record):
        """The columns of a stored record (``as_record``'s, or the plain lists that runs
        stored before it) as arrays: ``{"first", "second", "score"}``."""
        columns = {}
        for name, stored in RECORD_TYPES.items():
            kind = np.float64 if name == "score" else np.int64
            if record.get("encoding") == "base64":
                columns[name] = np.frombuffer(base64.b64decode(record[name]), dtype=stored).astype(kind)
            else:
                columns[name] = np.asarray(record[name], dtype=kind)
        return columns

    @staticmethod
    def concatenate(parts):
        """The pairs of every part, one after another (their scores only)."""
        return ScoredPairs(*(np.concatenate([getattr(part, name) for part in parts]) for name in ("first", "second", "score")))

    def above(self, threshold):
        keep = self.score >= threshold
        return ScoredPairs(self.first[keep], self.second[keep], self.score[keep])
