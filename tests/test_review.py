"""Pair review, calibration and re-cut on the small demo's real image files, whose planted
truth answers every review."""

import os

import numpy as np
import pytest

from fiftyone import ViewField as F

import fiftyone_redundancy.api as fr
from fiftyone_redundancy.bridge.review import DEFAULT_TAGS, pair_table, recuttable_runs, reviewable_runs
from fiftyone_redundancy.core.pair_score import DEFAULT_THRESHOLD, STORED_FLOOR
from fiftyone_redundancy.core.review import DIFFERENT, LABELS_DIFFER, SAME, review_order


RUN_FIELDS = ("status", "group", "representative", "score")


@pytest.fixture(scope="module")
def reviewed(small_demo_dataset):
    """A clone with a wavelet run and a sparse SSIM run at the default cut."""
    dataset = small_demo_dataset.clone()
    fr.compute_wavelet_clusters(dataset, label_field="ground_truth", key="wavelet", progress=False)
    fr.compute_ssim_clusters(dataset, label_field="ground_truth", key="ssim", mode="sparse", progress=False)
    yield dataset
    dataset.delete()


def run_values(dataset, key):
    ids = sorted(dataset.exists(f"{key}_status").values("id"))
    view = dataset.select(ids, ordered=True)
    return {suffix: view.values(f"{key}_{suffix}") for suffix in RUN_FIELDS}


def same_image(dataset):
    """The planted truth per pair of sample ids: an original and its planted copies (or
    look-alike, leak) share ``planted_group``; scikit-image's cat and chelsea are one photo."""
    ids, groups, paths = dataset.values(["id", "planted_group", "filepath"])
    group_of = dict(zip(ids, groups))
    name_of = {sample_id: os.path.basename(path) for sample_id, path in zip(ids, paths)}
    natural = {frozenset(("photo_cat.png", "photo_chelsea.png"))}

    def answer(id_a, id_b):
        if group_of[id_a] is not None and group_of[id_a] == group_of[id_b]:
            return True
        return frozenset((name_of[id_a], name_of[id_b])) in natural

    return answer


@pytest.fixture
def unreviewed(reviewed):
    """The module's runs without reviews, at the default cut, before and after a test."""
    yield reviewed
    for key in ("wavelet", "ssim"):
        while fr.undo_review(reviewed, key) is not None:
            pass
        if fr.load_run(reviewed, key).parameters["threshold"] != DEFAULT_THRESHOLD or key == "wavelet":
            fr.recut_run(reviewed, key, DEFAULT_THRESHOLD)


@pytest.mark.parametrize("key, where", [("wavelet", "median"), ("ssim", "low")])
def test_a_recut_at_t_equals_a_fresh_run_at_t(reviewed, key, where):
    dataset = reviewed
    before = run_values(dataset, key)
    scores = fr.load_run(dataset, key).details["pairs"]["score"]
    # a cut that changes the groups: half the grouped pairs fall out, or the low ones join
    threshold = round(float(np.median(scores[scores >= DEFAULT_THRESHOLD])), 3) if where == "median" else 0.35
    recut = fr.recut_run(dataset, key, threshold)
    assert recut.parameters["threshold"] == threshold and recut.details["recut"]["previous_threshold"] == DEFAULT_THRESHOLD
    compute = fr.compute_wavelet_clusters if key == "wavelet" else fr.compute_ssim_clusters
    extra = {"mode": "sparse"} if key == "ssim" else {}
    fresh = compute(dataset, label_field="ground_truth", key=f"fresh_{key}", threshold=threshold, progress=False, **extra)
    assert recut.counts == fresh.counts
    assert run_values(dataset, key) == run_values(dataset, f"fresh_{key}")
    for column, values in fresh.details["pairs"].items():
        np.testing.assert_array_equal(values, recut.details["pairs"][column])
    assert run_values(dataset, key) != before  # the cut mattered
    fr.recut_run(dataset, key, DEFAULT_THRESHOLD)  # and back: the default cut's run again
    assert run_values(dataset, key) == before


def test_a_cut_below_the_stored_floor_is_refused_and_nothing_changes(reviewed):
    before = run_values(reviewed, "wavelet")
    with pytest.raises(ValueError, match=f"below {STORED_FLOOR}"):
        fr.recut_run(reviewed, "wavelet", 0.2)
    assert run_values(reviewed, "wavelet") == before


def test_a_different_decision_splits_a_group_and_a_same_decision_joins_one(unreviewed):
    dataset = unreviewed
    run = fr.load_run(dataset, "wavelet")
    table = pair_table(dataset, "wavelet")
    pairs, ids = table.pairs, table.sample_ids
    # a group of two whose one pair scores above the cut
    sizes = run.group_sizes()
    group = next(g for g, size in sorted(sizes.items()) if size == 2)
    id_a, id_b = run.group_view(group).values("id")
    fr.review_pair(dataset, "wavelet", id_a, id_b, DIFFERENT)
    # a stored pair below the cut, of two samples in no group, with one label
    labels = dict(zip(*dataset.values(["id", "ground_truth.label"])))
    groups = dict(zip(*dataset.values(["id", "wavelet_group"])))
    below = [
        (ids[i], ids[j]) for i, j, s in zip(pairs.first, pairs.second, pairs.score)
        if s < DEFAULT_THRESHOLD and groups[ids[i]] == -1 and groups[ids[j]] == -1 and labels[ids[i]] == labels[ids[j]]
    ]  # fmt: skip
    assert below, "the demo has stored pairs below the cut"
    id_c, id_d = below[0]
    fr.review_pair(dataset, "wavelet", id_c, id_d, SAME)

    recut = fr.recut_run(dataset, "wavelet", DEFAULT_THRESHOLD)
    after = {i: (g, s, r) for i, g, s, r in zip(*dataset.values(["id", "wavelet_group", "wavelet_status", "wavelet_representative"]))}
    assert after[id_a][0] == -1 and after[id_b][0] == -1  # split: both alone now
    assert after[id_c][0] == after[id_d][0] >= 0  # joined, one kept, one redundant
    assert sorted([after[id_c][1], after[id_d][1]]) == ["redundant", "representative"]
    assert recut.details["recut"]["reviews_applied"] == 2
    assert recut.counts["unique"] == run.counts["unique"]  # two left groups, two joined one


def test_a_labels_differ_decision_makes_its_group_influential(unreviewed):
    dataset = unreviewed
    run = fr.load_run(dataset, "wavelet")
    same_label_group = next(
        g for g in run.largest_groups() if set(run.group_view(g).values("wavelet_status")) == {"representative", "redundant"}
    )
    id_a, id_b = run.group_view(same_label_group).values("id")[:2]
    fr.review_pair(dataset, "wavelet", id_a, id_b, LABELS_DIFFER)
    fr.recut_run(dataset, "wavelet", DEFAULT_THRESHOLD)
    members = dataset.select([id_a, id_b])
    assert set(members.values("wavelet_status")) == {"influential"}
    assert set(members.values("wavelet_representative")) == {None}


def test_decisions_land_in_the_run_and_as_tags_and_undo_takes_back_only_what_it_added(unreviewed):
    dataset = unreviewed
    table = pair_table(dataset, "wavelet")
    (i, j), (k, m) = [(table.sample_ids[a], table.sample_ids[b]) for a, b in zip(table.pairs.first[:2], table.pairs.second[:2])]
    dataset.select([i]).tag_samples("keep me")  # the user's own tag, and one that the review also uses
    dataset.select([i]).tag_samples(DEFAULT_TAGS[SAME])
    fr.review_pair(dataset, "wavelet", i, j, SAME)
    fr.review_pair(dataset, "wavelet", k, m, DIFFERENT, tags={DIFFERENT: "not a copy"})
    stored = fr.load_reviews(dataset, "wavelet")
    assert [(r["a"], r["b"], r["decision"]) for r in stored] == [(min(i, j), max(i, j), SAME), (min(k, m), max(k, m), DIFFERENT)]
    assert stored[0]["score"] == pytest.approx(float(table.pairs.score[0]))
    assert set(dataset.select([k, m]).values("tags")[0]) >= {"not a copy"}

    fr.undo_review(dataset, "wavelet")
    fr.undo_review(dataset, "wavelet")
    assert fr.load_reviews(dataset, "wavelet") == []
    tags = dict(zip(*dataset.values(["id", "tags"])))
    assert {"keep me", DEFAULT_TAGS[SAME]} <= set(tags[i])  # it was there before the review
    assert DEFAULT_TAGS[SAME] not in tags[j] and "not a copy" not in tags[k] + tags[m]


def test_reviews_export_to_csv_and_import_into_another_run(unreviewed, tmp_path):
    dataset = unreviewed
    table = pair_table(dataset, "wavelet")
    decisions = [SAME, DIFFERENT, LABELS_DIFFER]
    for (a, b), decision in zip(zip(table.pairs.first, table.pairs.second), decisions):
        fr.review_pair(dataset, "wavelet", table.sample_ids[a], table.sample_ids[b], decision)
    path = tmp_path / "review.csv"
    assert fr.export_reviews(dataset, "wavelet", str(path)) == 3
    header = path.read_text().splitlines()[0]
    assert header == "file_a,file_b,score,decision,when"
    with pytest.raises(ValueError, match="already exists"):
        fr.export_reviews(dataset, "wavelet", str(path))

    assert fr.import_reviews(dataset, "ssim", str(path)) == {"imported": 3, "older": 0, "unmatched": 0}
    assert fr.import_reviews(dataset, "ssim", str(path))["older"] == 3  # the same rows again change nothing
    mine = {(r["a"], r["b"], r["decision"], r["when"]) for r in fr.load_reviews(dataset, "wavelet")}
    theirs = {(r["a"], r["b"], r["decision"], r["when"]) for r in fr.load_reviews(dataset, "ssim")}
    assert mine == theirs


def test_a_hand_written_csv_is_matched_by_file_name_and_checked_before_anything_is_recorded(unreviewed, tmp_path):
    dataset = unreviewed
    names = dict(zip(*dataset.values(["id", "filepath"])))
    (a, b), (c, d) = [dataset.values("id")[i : i + 2] for i in (0, 2)]
    good = tmp_path / "team.csv"
    good.write_text(
        "file_a,file_b,score,decision,when\n"
        f"{os.path.basename(names[a])},{os.path.basename(names[b])},,y,2026-01-02T03:04:05+00:00\n"
        f"elsewhere/{os.path.basename(names[c])},{names[d]},0.4,n,\n"
        "nobody.png,other.png,,n,\n"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(good.read_text() + f"{names[a]},{names[c]},,maybe,\n")
    with pytest.raises(ValueError, match="line 5: decision 'maybe'"):
        fr.import_reviews(dataset, "wavelet", str(bad))
    assert fr.load_reviews(dataset, "wavelet") == []
    # a path in another folder only shares its file name with a sample: not that sample
    assert fr.import_reviews(dataset, "wavelet", str(good)) == {"imported": 1, "older": 0, "unmatched": 2}
    decided = {(r["a"], r["b"]): r["decision"] for r in fr.load_reviews(dataset, "wavelet")}
    assert decided == {tuple(sorted((a, b))): SAME}



def test_reviews_follow_a_renamed_run_and_go_with_a_deleted_one(reviewed):
    dataset = reviewed
    fr.compute_wavelet_clusters(dataset.match(F("planted") == "near_duplicate").limit(60), key="short_lived", progress=False)
    table = pair_table(dataset, "short_lived")
    fr.review_pair(dataset, "short_lived", table.sample_ids[table.pairs.first[0]], table.sample_ids[table.pairs.second[0]], SAME)
    fr.rename_run(dataset, "short_lived", "renamed")
    assert [r["decision"] for r in fr.load_reviews(dataset, "renamed")] == [SAME]
    assert fr.load_reviews(dataset, "short_lived") == []
    fr.delete_run(dataset, "renamed")
    assert fr.load_reviews(dataset, "renamed") == []


def test_precision_from_50_random_reviews_contains_the_true_precision(unreviewed):
    dataset = unreviewed
    table = pair_table(dataset, "ssim")
    truth = same_image(dataset)
    ids = table.sample_ids
    pairs = [(ids[a], ids[b]) for a, b in zip(table.pairs.first, table.pairs.second)]
    cut = DEFAULT_THRESHOLD
    above = table.pairs.score >= cut
    true_precision = np.mean([truth(*pair) for pair, keep in zip(pairs, above) if keep])
    assert above.sum() >= 50

    for position in review_order(table.pairs.score, cut, "random", (cut, 1.0), seed=7)[:50]:
        fr.review_pair(dataset, "ssim", *pairs[position], SAME if truth(*pairs[position]) else DIFFERENT)
    estimate = fr.calibration(dataset, "ssim").at(cut)
    assert estimate["reviewed"] == 50 and estimate["candidates"] == above.sum()
    assert estimate["low"] <= true_precision <= estimate["high"]
    assert estimate["duplicates_low"] <= true_precision * above.sum() <= estimate["duplicates_high"]


def test_the_panel_shows_the_most_uncertain_pair_and_a_decision_moves_on(unreviewed):
    from test_panels import call_panel  # the App's way of calling a panel handler, headless

    from fiftyone_redundancy.panels.review import score_beside

    dataset = unreviewed
    state, data, _ = call_panel(dataset, "pair_review", "on_load", {"key": "ssim"})
    table = pair_table(dataset, "ssim")
    nearest = review_order(table.pairs.score, DEFAULT_THRESHOLD, "uncertain")[0]
    expected = sorted((table.sample_ids[table.pairs.first[nearest]], table.sample_ids[table.pairs.second[nearest]]))
    assert sorted(state["pair"]) == expected and state["controls"]["cut"] == DEFAULT_THRESHOLD
    images = state["images"]
    assert images["image_a"].startswith("/media?filepath=%2F") and images["image_difference"].startswith("data:image/png;base64,")
    assert f"pair score **{score_beside(float(table.pairs.score[nearest]), DEFAULT_THRESHOLD)}**" in state["pair_md"]
    assert f"[left]({images['image_a']})" in state["pair_md"] and f"[right]({images['image_b']})" in state["pair_md"]
    assert "**0** pairs reviewed" in state["progress_md"] and "none of them is reviewed" in state["calibration_md"]

    state, data, _ = call_panel(dataset, "pair_review", "same", state)
    assert [(r["a"], r["b"], r["decision"]) for r in fr.load_reviews(dataset, "ssim")] == [(*expected, SAME)]
    assert sorted(state["pair"]) != expected and "**1** pair reviewed" in state["progress_md"]
    traces = {trace["name"]: trace for trace in data[f"calibration_{state['revision']}"]}
    assert traces["reviewed pairs ≥ cut"]["y"][0] == 1  # the cut at the floor counts it
    assert set(traces["precision"]["y"]) == {1.0, None}  # one reviewed pair: known up to its score

    state, _, _ = call_panel(dataset, "pair_review", "undo", state)
    assert sorted(state["pair"]) == expected and fr.load_reviews(dataset, "ssim") == []

    state, _, _ = call_panel(dataset, "pair_review", "on_change_order", state, value="highest")
    best = int(np.argmax(table.pairs.score))
    assert state["controls"]["order"] == "highest"
    assert f"pair score **{score_beside(float(table.pairs.score[best]), DEFAULT_THRESHOLD)}**" in state["pair_md"]


def test_the_recut_operator_recuts_and_its_form_refuses_a_cut_below_the_floor(unreviewed):
    import fiftyone.operators as foo

    uri = "@fiftyone-redundancy/redundancy/recut_redundancy_run"
    result = foo.execute_operator(uri, ctx=dict(dataset=unreviewed, params={"key": "wavelet", "threshold": 0.7}))
    assert result.error is None, result.error
    run = fr.load_run(unreviewed, "wavelet")
    assert run.parameters["threshold"] == 0.7 and result.result["counts"] == run.counts
    assert result.result["summary"].startswith(f"Run **`wavelet`** re-cut from {DEFAULT_THRESHOLD} to **0.7** in ")
    with pytest.raises(Exception, match=f"Choose a cut from {STORED_FLOOR} to 1: lower pairs are not stored"):
        foo.execute_operator(uri, ctx=dict(dataset=unreviewed, params={"key": "wavelet", "threshold": 0.2}))
    assert fr.load_run(unreviewed, "wavelet").parameters["threshold"] == 0.7


def test_a_recut_split_equals_a_fresh_split_at_that_cut(reviewed):
    dataset = reviewed
    fr.compute_split_similarity(dataset, key="split", progress=False)
    before = run_values(dataset, "split")
    leaks = np.asarray([s for s in fr.load_run(dataset, "split").details["best_similarities"] if s is not None])
    threshold = round(float(np.median(leaks[leaks >= DEFAULT_THRESHOLD])), 3)  # half the leaks stay leaks
    recut = fr.recut_run(dataset, "split", threshold)
    fresh = fr.compute_split_similarity(dataset, key="fresh_split", threshold=threshold, progress=False)
    assert recut.counts == fresh.counts and recut.details["n_near_identical"] == fresh.details["n_near_identical"]
    assert run_values(dataset, "split") == run_values(dataset, "fresh_split") != before
    assert recut.details["recut"]["previous_threshold"] == DEFAULT_THRESHOLD
    assert "split" in recuttable_runs(dataset) and "split" not in reviewable_runs(dataset)  # re-cut, not reviewed
    fr.recut_run(dataset, "split", DEFAULT_THRESHOLD)
    assert run_values(dataset, "split") == before


def test_deleting_a_run_takes_back_the_review_tags_it_added_and_no_other(small_dataset):
    fr.compute_wavelet_clusters(small_dataset, key="first", progress=False)
    fr.compute_wavelet_clusters(small_dataset, key="second", progress=False)
    table = pair_table(small_dataset, "first")
    ids = table.sample_ids
    pairs = [(ids[first], ids[second]) for first, second in zip(table.pairs.first, table.pairs.second)]
    (a, b) = pairs[0]
    (c, d) = next(pair for pair in pairs if not {a, b} & set(pair))
    small_dataset.select([c]).tag_samples(DEFAULT_TAGS[SAME])  # the user's own tag, before any review
    fr.review_pair(small_dataset, "first", a, b, SAME)
    fr.review_pair(small_dataset, "first", c, d, SAME)
    fr.review_pair(small_dataset, "second", a, b, SAME)  # the other run's review covers a and b too
    assert fr.delete_run(small_dataset, "first") == {DEFAULT_TAGS[SAME]: 1}  # d alone
    tagged = set(small_dataset.match_tags(DEFAULT_TAGS[SAME]).values("id"))
    assert tagged == {a, b, c}
    assert fr.delete_run(small_dataset, "second") == {DEFAULT_TAGS[SAME]: 2}  # inherited from the first run's review
    assert set(small_dataset.match_tags(DEFAULT_TAGS[SAME]).values("id")) == {c}
