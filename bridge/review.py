"""Pair review on a stored run: decisions on scored pairs (stored with the run, one
document per pair in ``runs.REVIEWS``, and as sample tags the user chooses), the
calibration they give, CSV exchange, and ``recut_run``, which cuts a run again from its
stored pairs with the decisions overriding the scores.

A run stores its scored pairs as indices into ``details["sample_ids"]``; reviews name the
two samples by id (and the CSV by file path), so they survive re-runs and re-cuts.
"""

import csv
import math
import os
import threading
import time
from datetime import datetime, timezone

import numpy as np

from ..core.decisions import REDUNDANT
from ..core.families import Identities
from ..core.grouping import decide_on_pairs
from ..core.split_similarity import split_decisions_at
from ..core.parameters import check_number
from ..core.timing import timed
from ..core.pair_score import STORED_FLOOR, ScoredPairs, require_threshold
from ..core.review import (
    DECISIONS,
    DIFFERENT,
    KEYS,
    LABELS_DIFFER,
    SAME,
    SKIPPED,
    calibrate,
    check_decision,
    decided_pairs,
    mark_influential,
    review_order,
)
from . import runs
from .curation import FORMULA_STARTS, spreadsheet_safe
from .documented import documented
from .samples import changed_media, paths_of, read_labels

DEFAULT_TAGS = {SAME: "pair:same", DIFFERENT: "pair:different", LABELS_DIFFER: "pair:labels_differ"}
"""The tag each decision puts on both samples of the pair, unless the user names another."""
CSV_COLUMNS = ("file_a", "file_b", "score", "decision", "when")
_cache_lock = threading.Lock()
_tables = {}
_indexed = set()


class PairTable:
    """A run's stored scored pairs, read once per stored run (the panel's events reuse it)."""

    def __init__(self, run):
        details = run.details
        if "pairs" not in details:
            raise ValueError(
                f"run {run.key!r} (a run of {run.method_info.label}) stores no scored pairs: only runs that group by the "
                "pair score can be reviewed or re-cut. Run wavelet clusters (grouping='score') or SSIM "
                "(grouping='threshold') first"
            )
        self.key, self.method = run.key, run.method
        self.parameters = run.parameters
        self.threshold = float(run.parameters.get("threshold", STORED_FLOOR))
        self.sample_ids = list(details["sample_ids"])
        self.row_of = {sample_id: row for row, sample_id in enumerate(self.sample_ids)}
        self.pairs = ScoredPairs(**details["pairs"])
        self.identities = Identities.from_record(details.get("identities"), len(self.sample_ids))
        self._orders = {}

    def order(self, cut, order, band, seed=0):
        """Review order of the stored pairs (``core.review.review_order``), computed once."""
        name = (round(cut, 6), order, tuple(round(edge, 6) for edge in band), seed)
        if name not in self._orders:
            self._orders[name] = review_order(self.pairs.score, cut, order, band, seed)
        return self._orders[name]


def recuttable_runs(dataset):
    """Keys of the runs ``recut_run`` can cut again: the reviewable ones and the
    train-vs-test splits (a split's cut only decides which best matches are leaks)."""
    return [key for key in runs.list_runs(dataset)
            if _reviewable(dataset, key) or runs.method_of(dataset, key).compares_splits]  # fmt: skip


def reviewable_runs(dataset):
    """Keys of the runs decided on their stored pairs alone: they can be reviewed and re-cut."""
    return [key for key in runs.list_runs(dataset) if _reviewable(dataset, key)]


def _reviewable(dataset, key):
    """Whether run ``key`` was grouped by the pair-score cut over its stored pairs alone."""
    grouping = runs.method_of(dataset, key).recut_grouping
    return grouping is not None and grouping == getattr(dataset.get_run_info(key).config, "grouping", None)


def pair_table(dataset, key):
    """The ``PairTable`` of run ``key``, cached until the run is stored again."""
    runs.require_dataset(dataset)
    if not dataset.has_run(key):
        runs.require_run(dataset, key)  # says which runs there are
    name = (str(dataset._doc.id), key, dataset.get_run_info(key).timestamp)
    with _cache_lock:
        table = _tables.get(name)
    if table is None:
        table = PairTable(runs.RedundancyRun(dataset, key))
        with _cache_lock:
            for stale in [other for other in _tables if other[:2] == name[:2]]:
                del _tables[stale]
            _tables[name] = table
    return table


def _collection():
    collection = runs.contract._reviews()
    if collection.full_name not in _indexed:
        collection.create_index([("dataset_id", 1), ("key", 1), ("a", 1), ("b", 1)], unique=True)
        _indexed.add(collection.full_name)
    return collection


def _where(dataset, key, **more):
    return {"dataset_id": str(dataset._doc.id), "key": key, **more}


def _ordered(id_a, id_b):
    if id_a == id_b:
        raise ValueError(f"a pair needs two different samples, got {id_a} twice")
    return (id_a, id_b) if id_a < id_b else (id_b, id_a)


@documented
def load_reviews(dataset, key):
    """Every decision on run ``key``, oldest first.

    Args:

    Returns:
        a list of dicts with ``a``, ``b`` (sample ids), ``decision``, ``score``, ``when``
    """
    found = _collection().find(_where(dataset, key), {"_id": 0, "a": 1, "b": 1, "decision": 1, "score": 1, "when": 1, "recorded": 1})
    return sorted(found, key=lambda review: review["recorded"])


@documented
def review_pair(dataset, key, id_a, id_b, decision, tags=None, when=None, score=None):
    """Record a reviewer's decision on two samples of run ``key``; a later decision on
    the pair replaces the earlier one. Both samples get the decision's tag (tags they had
    before are kept).

    Args:
        key: the run's key (a run that stores scored pairs)
        id_a: the id of one sample
        id_b: the id of the other sample
        decision: "same" (the same image), "different", "labels_differ" (the same image
            with disagreeing labels) or "skipped"
        tags: ``{decision: tag}`` for tags other than ``DEFAULT_TAGS``
        when: the decision's time (UTC); None: now
        score: the pair score to record where the run stored none (e.g. from an imported
            CSV); the run's stored score wins

    Returns:
        the recorded decision, a dict with ``a``, ``b``, ``decision``, ``score``, ``when``
    """
    check_decision(decision)
    if when is not None and not isinstance(when, datetime):
        raise ValueError(f"when must be a datetime (UTC) or None, got {when!r}")
    if score is not None:
        check_number("score", score)
    for sample_id in (id_a, id_b):
        if not isinstance(sample_id, str):
            raise ValueError(f"sample ids must be strings (sample.id), got {sample_id!r}")
    id_a, id_b = _ordered(id_a, id_b)
    table = pair_table(dataset, key)
    missing = [sample_id for sample_id in (id_a, id_b) if sample_id not in table.row_of]
    if missing:
        raise ValueError(f"sample {missing[0]} is not in run {key!r}; review pairs of the run's samples")
    stored = _stored_score(table, id_a, id_b)
    score = score if stored is None else stored
    previous = _collection().find_one(_where(dataset, key, a=id_a, b=id_b))
    if previous is not None:
        _untag(dataset, key, previous, exclude_self=True)
    tag = (tags or DEFAULT_TAGS).get(decision)
    added = []
    if tag:
        pair = dataset.select([id_a, id_b])
        added = pair.match_tags(tag, bool=False).values("id")
        pair.tag_samples(tag)
    record = {
        "decision": decision,
        "score": score,
        "when": when or datetime.now(timezone.utc).replace(tzinfo=None),
        "recorded": time.time_ns(),
        "tag": tag,
        "added": added,
    }
    _collection().update_one(_where(dataset, key, a=id_a, b=id_b), {"$set": record}, upsert=True)
    return record


@documented
def undo_review(dataset, key):
    """Take back the latest decision recorded on run ``key`` (and the tags it added).

    Args:

    Returns:
        the decision taken back, or None when there is none
    """
    latest = _collection().find_one(_where(dataset, key), sort=[("recorded", -1)])
    if latest is None:
        return None
    _untag(dataset, key, latest, exclude_self=True)
    _collection().delete_one({"_id": latest["_id"]})
    return latest


def _untag(dataset, key, review, exclude_self):
    """Remove the tag ``review`` added from its samples that no other review with the same
    tag still covers; a sample still covered keeps the tag, and that review inherits the
    right to remove it later."""
    tag = review.get("tag")
    if not tag:
        return
    others = _where(dataset, key, tag=tag)
    if exclude_self:
        others["_id"] = {"$ne": review["_id"]}
    for sample_id in review.get("added", []):
        heir = _collection().find_one({**others, "$or": [{"a": sample_id}, {"b": sample_id}]})
        if heir is None:
            dataset.select([sample_id]).untag_samples(tag)
        else:
            _collection().update_one({"_id": heir["_id"]}, {"$addToSet": {"added": sample_id}})


def _stored_score(table, id_a, id_b):
    rows = sorted((table.row_of[id_a], table.row_of[id_b]))
    pairs = table.pairs
    hit = np.flatnonzero(
        (np.minimum(pairs.first, pairs.second) == rows[0]) & (np.maximum(pairs.first, pairs.second) == rows[1])
    )
    return float(pairs.score[hit[0]]) if len(hit) else None


def reviewed_rows(table, reviews):
    """The reviews of ``table``'s run as rows: ``(first, second, decision, score)``
    arrays, leaving out pairs with a sample no longer in the run."""
    kept = [review for review in reviews if review["a"] in table.row_of and review["b"] in table.row_of]
    first = np.array([table.row_of[review["a"]] for review in kept], dtype=np.int64)
    second = np.array([table.row_of[review["b"]] for review in kept], dtype=np.int64)
    decisions = np.array([review["decision"] for review in kept], dtype=object)
    scores = np.array([np.nan if review.get("score") is None else review["score"] for review in kept], dtype=np.float64)
    return first, second, decisions, scores


@documented
def calibration(dataset, key, reviews=None):
    """The precision of every cut of run ``key``, estimated from its reviewed pairs
    (skipped pairs and pairs without a stored score do not count).

    Args:
        reviews: :func:`load_reviews`'s answer, when the caller has it; None reads them

    Returns:
        a ``core.review.Calibration``: ``at(cut)`` gives the precision with its Wilson
        interval
    """
    table = pair_table(dataset, key)
    reviews = load_reviews(dataset, key) if reviews is None else reviews
    _, _, decisions, scores = reviewed_rows(table, reviews)
    counted = (decisions != SKIPPED) & np.isfinite(scores)
    same = np.isin(decisions[counted], [SAME, LABELS_DIFFER])
    return calibrate(table.pairs.score, scores[counted], same, floor=STORED_FLOOR)


@documented
def preview_cut(dataset, key, threshold):
    """What :func:`recut_run` at ``threshold`` would give run ``key``, computed the same
    way but writing nothing (no lease, no field, no record): trying a cut is free, only
    ``recut_run`` writes.

    Args:
        key: a run :func:`recut_run` takes
        threshold: the cut to try

    Returns:
        ``{"counts": {status: samples}, "groups": groups of two or more}``
    """
    _require_recut_threshold(threshold)
    run = runs.RedundancyRun(dataset, key)
    cut = _recut_split if run.method_info.compares_splits else _recut_pairs
    outcome = cut(dataset, run, threshold)[2]
    return {"counts": outcome.counts(), "groups": len(np.unique(outcome.group[outcome.group >= 0]))}


def _require_recut_threshold(threshold):
    require_threshold(threshold)
    if threshold < STORED_FLOOR:
        raise ValueError(
            f"threshold {threshold} is below {STORED_FLOOR}, the lowest pair score a run stores: a "
            f"re-cut there would miss pairs a fresh run finds. Run the analysis again with threshold={threshold}"
        )


@documented
def recut_run(dataset, key, threshold):
    """Cut run ``key`` again at pair score ``threshold`` from the scored pairs it
    stored, without reading an image: the new groups and statuses equal those of a fresh
    run of the same analysis at ``threshold``, except where reviews decide: a pair reviewed
    as different is never in one group, a pair reviewed as the same image always is (the
    representative rule still applies), and a group holding a pair reviewed as the same
    image with disagreeing labels is influential. Written through the run's lease like a
    run (all or nothing, even if killed), but only the values that change are written; the
    run keeps its reviews and tags and records the re-cut. A train-vs-test run is cut again
    from each test image's best match and score: which test images leak changes, as in a
    fresh run at ``threshold`` (reviews do not apply to it).

    Args:
        key: the key of a wavelet run grouped by "score", an SSIM run grouped by
            "threshold", or a train-vs-test run
        threshold: the new cut; below the storage floor (``STORED_FLOOR``) it is refused,
            since pairs under it were not kept and such a cut could not equal a fresh run

    Returns:
        the :class:`RedundancyRun`
    """
    _require_recut_threshold(threshold)
    timing = {}
    with runs.RunWriter(dataset, key) as writer:
        with timed(timing, "recut"):
            run = runs.RedundancyRun(dataset, key)
            _require_unchanged_media(dataset, run)
            cut = _recut_split if run.method_info.compares_splits else _recut_pairs
            samples, sample_ids, outcome, reviews_applied, changed = cut(dataset, run, threshold)
        return _store_recut(writer, run, samples, sample_ids, outcome, threshold, reviews_applied, timing["recut"], **changed)


def _require_unchanged_media(dataset, run):
    """Refuse to re-cut a run whose image files changed since it scored them (its stored
    scores would describe images that are no longer there)."""
    details = run.stored_details
    if "media" not in details:
        return
    changed = changed_media(details["media"], paths_of(dataset, details["sample_ids"]))
    if changed:
        raise ValueError(
            f"{len(changed):,} image file(s) of run {run.key!r} changed or went missing since it ran "
            f"(e.g. {changed[0]}): its stored scores no longer describe them. Run the analysis again"
        )


def _recut_pairs(dataset, run, threshold):
    """A run decided on its stored pairs, cut at ``threshold`` with the reviews applied:
    ``(samples, sample ids, decisions, reviews applied, changed details)``."""
    key = run.key
    grouping = run.method_info.recut_grouping
    if grouping is None or run.parameters.get("grouping") != grouping:
        raise ValueError(
            f"run {key!r} is a run of {run.method_info.label} grouped by {run.parameters.get('grouping', 'its own rule')!r}; "
            "only wavelet runs with grouping='score', SSIM runs with grouping='threshold' and "
            "train-vs-test splits are cut from what they stored. Run the analysis again at the new threshold"
        )
    table = PairTable(run)
    samples = run.view()
    ids = samples.values("id")
    if len(ids) != len(table.sample_ids) or set(ids) != set(table.sample_ids):
        raise ValueError(
            f"the samples of run {key!r} changed since it ran ({len(table.sample_ids):,} then, "
            f"{len(ids):,} with its fields now); run the analysis again on the dataset as it is now"
        )
    first, second, decisions, _ = reviewed_rows(table, load_reviews(dataset, key))
    pairs, identities = decided_pairs(table.pairs, table.identities, first, second, decisions)
    labels = read_labels(samples, run.label_field())
    if labels is not None:  # in the run's order
        label_of = dict(zip(ids, labels))
        labels = [label_of[sample_id] for sample_id in table.sample_ids]
    _, outcome = decide_on_pairs(pairs, threshold, identities, labels)
    conflicts = decisions == LABELS_DIFFER
    outcome = mark_influential(outcome, np.concatenate([first[conflicts], second[conflicts]]))
    reviews_applied = int(np.count_nonzero(decisions != SKIPPED))
    return samples, table.sample_ids, outcome, reviews_applied, {}


def _store_recut(writer, run, samples, sample_ids, outcome, threshold, reviews_applied, seconds, **changed):
    """Store a re-cut of ``run``: its details but those the commit writes anew, with the
    ``changed`` ones and a record of the re-cut, its parameters at the new threshold."""
    details = {
        name: value for name, value in run.stored_details.items()
        if name not in ("counts", "n_samples", "fields", "review_view", "overrides", "tagged")
    }  # fmt: skip
    details.update(timings=dict(details["timings"]), **changed)
    details["recut"] = {
        "threshold": threshold,
        "previous_threshold": float(run.parameters["threshold"]),
        "reviews_applied": reviews_applied,
        "seconds": seconds,
    }
    parameters = {**run.parameters, "threshold": threshold}
    return runs.store_changes(writer, samples, run.method, parameters, sample_ids, outcome, details)


def _recut_split(dataset, run, threshold):
    """A train-vs-test run at another leak cut, from the best match and score of each test
    image it stored (reviews do not apply: a split's decisions are per test image); returns
    what ``_recut_pairs`` does."""
    details = run.details
    if "sample_ids" not in details:
        raise ValueError(
            f"run {run.key!r} was stored before splits could be re-cut (it lacks its sample order); "
            f"run compute_split_similarity again, then re-cut it"
        )
    ids, n_test = list(details["sample_ids"]), int(details["n_test"])
    samples = run.view()
    matches = dict(zip(*samples.values(["id", f"{run.key}_best_match"])))
    if set(matches) != set(ids):
        raise ValueError(
            f"the samples of run {run.key!r} changed since it ran; run compute_split_similarity again"
        )
    train_row = {sample_id: row for row, sample_id in enumerate(ids[n_test:])}
    row_of = {sample_id: row for row, sample_id in enumerate(ids)}
    outcome = split_decisions_at(
        [train_row.get(matches[sample_id], -1) for sample_id in ids[:n_test]],
        [-np.inf if value is None else value for value in details["best_similarities"]],
        [row_of[sample_id] for sample_id in details["least_similar_ids"]],
        threshold,
        len(ids) - n_test,
        ScoredPairs(**details["pairs"]) if "pairs" in details else None,
        Identities.from_record(details.get("identities"), len(ids)) if "identities" in details else None,
    )
    leaks = int(np.count_nonzero(outcome.status[:n_test] == REDUNDANT))
    return samples, ids, outcome, 0, {"n_near_identical": leaks, "share_near_identical": leaks / n_test}


@documented
def export_reviews(dataset, key, path):
    """Write run ``key``'s decisions to a CSV file, so a team can share a review
    (columns ``file_a, file_b, score, decision, when``: the two images' file paths, their
    stored pair score, the decision and its UTC time in ISO 8601).

    Args:
        path: the CSV file to write; an existing file is refused

    Returns:
        the number of rows written
    """
    if os.path.exists(path):
        raise ValueError(f"{path} already exists; choose a new file name (nothing was written)")
    reviews = load_reviews(dataset, key)
    ids = sorted({review[side] for review in reviews for side in ("a", "b")})
    paths = dict(zip(*dataset.select(ids).values(["id", "filepath"]))) if ids else {}
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for review in reviews:
            if review["a"] in paths and review["b"] in paths:
                score = "" if review.get("score") is None else f"{review['score']:.5f}"
                files = [spreadsheet_safe(paths[review[side]]) for side in ("a", "b")]
                writer.writerow([*files, score, review["decision"], review["when"].isoformat()])
    return len(reviews)


@documented
def import_reviews(dataset, key, path, tags=None):
    """Read decisions from a CSV written by :func:`export_reviews` (or by hand, with
    the same columns; ``y``/``n``/``l``/``s`` stand for the decisions) into run ``key``.
    Files are matched by path, else by their folder and file name when one sample of the
    run has both (a bare file name: by the name alone); a row older than the pair's
    current decision is left out. Every row is checked before anything is recorded; a
    UTF-8 byte-order mark is accepted.

    Args:
        path: the CSV file to read
        tags: ``{decision: tag}`` for tags other than ``DEFAULT_TAGS``

    Returns:
        ``{"imported", "older", "unmatched"}``: how many rows each
    """
    table = pair_table(dataset, key)
    ids, paths = dataset.select(table.sample_ids).values(["id", "filepath"])
    by_path = dict(zip(paths, ids))
    names = {}
    for sample_id, filepath in zip(ids, paths):
        names.setdefault(os.path.basename(filepath), []).append((sample_id, filepath))
    try:
        rows = _read_review_rows(path, by_path, names)
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path} is not UTF-8 text (byte {error.start} cannot be read); save it as UTF-8, as "
            "export_reviews writes it"
        ) from None
    counts = {"imported": 0, "older": 0, "unmatched": 0}
    for (id_a, id_b), decision, when, score in rows:
        if id_a is None or id_b is None or id_a == id_b:
            counts["unmatched"] += 1
            continue
        current = _collection().find_one(_where(dataset, key, a=min(id_a, id_b), b=max(id_a, id_b)))
        if current is not None and when is not None and current["when"] >= when:
            counts["older"] += 1
            continue
        review_pair(dataset, key, id_a, id_b, decision, tags=tags, when=when, score=score)
        counts["imported"] += 1
    return counts


def _read_review_rows(path, by_path, names):
    """The checked rows of a review CSV, ``(pair of sample ids or None, decision, when,
    score)``; a short row, or a field past the csv module's limit, is refused naming its
    line."""
    rows = []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        try:
            missing = set(CSV_COLUMNS) - set(reader.fieldnames or [])
            if missing:
                raise ValueError(f"{path} lacks the columns {sorted(missing)}; it needs {', '.join(CSV_COLUMNS)}")
            for line, row in enumerate(reader, start=2):
                if any(row.get(column) is None for column in CSV_COLUMNS):
                    raise ValueError(f"{path}, line {line}: a short row; every row needs {', '.join(CSV_COLUMNS)}")
                decision = KEYS.get(row["decision"].strip(), row["decision"].strip())
                if decision not in DECISIONS:
                    raise ValueError(f"{path}, line {line}: decision {row['decision'][:40]!r} is not one of {DECISIONS} (or y/n/l/s)")
                try:
                    when = datetime.fromisoformat(row["when"].strip()) if row["when"].strip() else None
                    score = float(row["score"]) if row["score"].strip() else None
                except ValueError as error:
                    raise ValueError(f"{path}, line {line}: {str(error)[:200]}") from None
                if score is not None and not math.isfinite(score):
                    raise ValueError(f"{path}, line {line}: score {score} is not a finite number")
                if when is not None and when.tzinfo is not None:
                    when = when.astimezone(timezone.utc).replace(tzinfo=None)
                pair = [_match(_unescaped(file), by_path, names) for file in (row["file_a"], row["file_b"])]
                rows.append((pair, decision, when, score))
        except csv.Error as error:
            raise ValueError(f"{path}, line {reader.line_num + 1}: {error}; fix the file") from None
    return rows


def _unescaped(cell):
    """A cell as written before ``spreadsheet_safe`` escaped it against spreadsheets."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in FORMULA_STARTS else cell


def _match(file, by_path, names):
    """The sample of ``file``: the one at that path, else the one sample with that folder
    and file name (a file that only shares its name with a sample is not that sample)."""
    file = file.strip()
    if file in by_path:
        return by_path[file]
    parts = [part for part in file.replace("\\", "/").split("/") if part]
    if not parts:
        return None
    candidates = names.get(parts[-1], [])
    if len(parts) > 1:
        candidates = [(i, p) for i, p in candidates if os.path.basename(os.path.dirname(p)) == parts[-2]]
    return candidates[0][0] if len(candidates) == 1 else None
