"""Pair review and calibration (DESIGN.md, "One pair score", steps 4-5): the order in
which people review scored pairs, how their decisions override the scores, and the
precision of every cut estimated from the reviewed pairs (Wilson intervals).

Pairs are index pairs into one run's samples; nothing here knows about FiftyOne.
"""

from dataclasses import dataclass

import numpy as np

from .decisions import INFLUENTIAL
from .pair_score import CANNOT_LINK, ScoredPairs

SAME = "same"
DIFFERENT = "different"
LABELS_DIFFER = "labels_differ"
SKIPPED = "skipped"
DECISIONS = (SAME, DIFFERENT, LABELS_DIFFER, SKIPPED)
KEYS = {"y": SAME, "n": DIFFERENT, "l": LABELS_DIFFER, "s": SKIPPED}
"""The review keys: y same image, n different, l same image but labels disagree, s skip."""
ORDERS = ("uncertain", "highest", "random")
"""Review order: nearest the cut first; highest score first; random within the band
(the order whose answers estimate the band's precision without bias)."""
CUT_STEP = 0.01


def check_decision(decision):
    if decision not in DECISIONS:
        raise ValueError(f"a review decision is one of {DECISIONS}, got {decision!r}")
    return decision


def review_order(scores, cut, order="uncertain", band=(0.0, 1.0), seed=0):
    """Positions of the pairs whose score lies in ``band`` (inclusive), in review order
    (``ORDERS``); ties keep the stored order, and "random" is repeatable by ``seed``."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    scores = np.asarray(scores, dtype=np.float64)
    low, high = band
    inside = np.flatnonzero((scores >= low) & (scores <= high))
    if order == "uncertain":
        return inside[np.argsort(np.abs(scores[inside] - cut), kind="stable")]
    if order == "highest":
        return inside[np.argsort(-scores[inside], kind="stable")]
    return inside[np.random.default_rng(seed).permutation(len(inside))]


def decided_pairs(pairs, identities, first, second, decisions):
    """``(pairs, identities)`` with the reviewed pairs overriding what the run measured: a
    pair reviewed as different scores ``CANNOT_LINK`` (it never shares a group), and an
    image reviewed as different from its identical twin becomes an item of its own; a pair
    reviewed as the same image (labels agreeing or not) scores 1 (it joins first and stays
    joined), added when it was not stored. Skipped pairs keep their score."""
    first, second = np.asarray(first, dtype=np.int64), np.asarray(second, dtype=np.int64)
    low, high = np.minimum(first, second), np.maximum(first, second)
    decisions = np.asarray(decisions, dtype=object)
    different = decisions == DIFFERENT
    twins = different & (identities.canonical[low] == identities.canonical[high]) & (low != high)
    identities = identities.detached(high[twins])
    kept = (decisions != SKIPPED) & (low != high)
    width = int(max(len(identities), high.max(initial=0) + 1))
    # the latest decision on a pair wins (reviews come oldest first)
    keys, latest = np.unique((low[kept] * width + high[kept])[::-1], return_index=True)
    forced = np.where(different[kept][::-1][latest], CANNOT_LINK, 1.0)
    stored_low = np.minimum(pairs.first, pairs.second)
    stored_high = np.maximum(pairs.first, pairs.second)
    stored_keys = stored_low * width + stored_high
    score = np.array(pairs.score, dtype=np.float64)
    at = np.searchsorted(keys, stored_keys)
    hit = at < len(keys)
    hit[hit] = keys[at[hit]] == stored_keys[hit]
    score[hit] = forced[at[hit]]
    added = ~np.isin(keys, stored_keys)
    pairs = ScoredPairs(
        np.concatenate([stored_low, keys[added] // width]),
        np.concatenate([stored_high, keys[added] % width]),
        np.concatenate([score, forced[added]]),
    )
    return pairs, identities


def mark_influential(decisions, rows):
    """Every group holding one of ``rows`` (members of pairs reviewed as the same image
    with disagreeing labels) becomes influential: it has no representative to keep."""
    rows = np.asarray(rows, dtype=np.int64)
    groups = np.unique(decisions.group[rows]) if len(rows) else np.empty(0, dtype=np.int64)
    members = np.isin(decisions.group, groups[groups >= 0])
    decisions.status[members] = INFLUENTIAL
    decisions.representative[members] = -1
    return decisions


def wilson_interval(successes, trials, z=1.96):
    """Wilson score interval ``(low, high)`` of a binomial proportion (arrays welcome);
    ``(0, 1)`` where there are no trials."""
    successes = np.asarray(successes, dtype=np.float64)
    trials = np.asarray(trials, dtype=np.float64)
    safe = np.maximum(trials, 1)
    share = successes / safe
    denominator = 1 + z**2 / safe
    centre = (share + z**2 / (2 * safe)) / denominator
    spread = z * np.sqrt(share * (1 - share) / safe + z**2 / (4 * safe**2)) / denominator
    empty = trials == 0
    return np.where(empty, 0.0, np.clip(centre - spread, 0, 1)), np.where(empty, 1.0, np.clip(centre + spread, 0, 1))


@dataclass
class Calibration:
    """Precision of every cut, from the reviewed pairs at or above it."""

    cuts: np.ndarray
    reviewed: np.ndarray
    """Reviewed pairs (skips excluded) scoring at least each cut."""
    same: np.ndarray
    """Of those, the ones reviewed as the same image."""
    candidates: np.ndarray
    """Stored pairs scoring at least each cut."""
    precision: np.ndarray
    """``same / reviewed`` (NaN where nothing was reviewed)."""
    low: np.ndarray
    high: np.ndarray

    def at(self, cut):
        """``{"cut", "reviewed", "same", "candidates", "precision", "low", "high",
        "duplicates", "duplicates_low", "duplicates_high"}`` at the nearest cut at or
        below ``cut``: the estimated duplicate pairs above it are its candidates times
        the precision and its interval."""
        index = max(int(np.searchsorted(self.cuts, cut + 1e-9, side="right")) - 1, 0)
        candidates = int(self.candidates[index])
        precision = float(self.precision[index])
        return {
            "cut": float(self.cuts[index]),
            "reviewed": int(self.reviewed[index]),
            "same": int(self.same[index]),
            "candidates": candidates,
            "precision": None if np.isnan(precision) else precision,
            "low": float(self.low[index]),
            "high": float(self.high[index]),
            "duplicates": None if np.isnan(precision) else candidates * precision,
            "duplicates_low": candidates * float(self.low[index]),
            "duplicates_high": candidates * float(self.high[index]),
        }


def calibrate(candidate_scores, reviewed_scores, reviewed_same, floor=0.0, step=CUT_STEP):
    """The precision at every cut from ``floor`` to 1 by ``step``: among the reviewed
    pairs (``reviewed_scores``, with ``reviewed_same`` true for the same image) scoring
    at least the cut, the share that are the same image, with its 95% Wilson interval.
    The estimate holds for the pairs above the cut when the reviewed ones are a random
    sample of them (review order "random" over a band from the cut up)."""
    cuts = np.round(np.arange(floor, 1 + step / 2, step), 6)
    candidate_scores = np.sort(np.asarray(candidate_scores, dtype=np.float64))
    reviewed_scores = np.asarray(reviewed_scores, dtype=np.float64)
    reviewed_same = np.asarray(reviewed_same, dtype=bool)
    order = np.argsort(reviewed_scores)
    sorted_scores, sorted_same = reviewed_scores[order], reviewed_same[order]
    same_from = np.concatenate([np.cumsum(sorted_same[::-1])[::-1], [0]])
    start = np.searchsorted(sorted_scores, cuts - 1e-9, side="left")
    reviewed = len(sorted_scores) - start
    same = same_from[start]
    candidates = len(candidate_scores) - np.searchsorted(candidate_scores, cuts - 1e-9, side="left")
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(reviewed > 0, same / np.maximum(reviewed, 1), np.nan)
    low, high = wilson_interval(same, reviewed)
    return Calibration(cuts, reviewed, same, candidates, precision, low, high)
