"""Properties of core/ that must hold on any data (hypothesis)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fiftyone_redundancy.core.clustering import threshold_clusters
from fiftyone_redundancy.core.decisions import decide, nearest_to_mean
from fiftyone_redundancy.core.feature_analysis import FeatureParameters, analyze_features


def partition(labels):
    groups = {}
    for index, label in enumerate(labels):
        groups.setdefault(label, []).append(index)
    return sorted(tuple(sorted(members)) for members in groups.values())


@st.composite
def planted_rows(draw):
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    n_originals = draw(st.integers(2, 25))
    originals = rng.standard_normal((n_originals, 12))
    copies = draw(st.lists(st.integers(0, n_originals - 1), max_size=20))
    rows = np.vstack([originals, originals[copies] + rng.normal(0, 0.005, (len(copies), 12))])
    labels = [f"class{int(i) % 3}" for i in range(n_originals)] + [f"class{i % 3}" for i in copies]
    return rows, labels, rng.permutation(len(rows))


@settings(max_examples=40, deadline=None)
@given(planted_rows())
def test_groups_do_not_depend_on_sample_order(case):
    rows, _, order = case
    before = partition(threshold_clusters(rows, 0.1))
    shuffled = threshold_clusters(rows[order], 0.1)
    # map the shuffled rows' labels back to the original row numbers
    back = np.empty(len(rows), dtype=np.int64)
    back[order] = shuffled
    assert partition(back) == before


@settings(max_examples=40, deadline=None)
@given(planted_rows(), st.permutations(["class0", "class1", "class2"]))
def test_relabelling_classes_changes_no_decision(case, renaming):
    rows, labels, _ = case
    clusters = threshold_clusters(rows, 0.1)
    mapping = dict(zip(["class0", "class1", "class2"], renaming))
    a = decide(clusters, nearest_to_mean(rows), labels)
    b = decide(clusters, nearest_to_mean(rows), [mapping[label] for label in labels])
    assert list(a.status) == list(b.status) and list(a.representative) == list(b.representative)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 1000))
def test_a_fixed_random_state_repeats_the_feature_analysis(seed):
    rows = np.random.default_rng(seed).standard_normal((60, 8))
    parameters = FeatureParameters(p_outlier=0.05, p_similar=0.2, random_state=seed)
    first, second = analyze_features(rows, None, parameters), analyze_features(rows, None, parameters)
    assert list(first.decisions.status) == list(second.decisions.status)
    np.testing.assert_array_equal(first.points_2d, second.points_2d)


@st.composite
def scored_pairs(draw):
    """Scored pairs of up to 30 pictures as a run stores them: scores in [0.3, 1] (distinct,
    as measured scores are), a few pairs reviewed as different."""
    from fiftyone_redundancy.core.pair_score import CANNOT_LINK, ScoredPairs

    rng = np.random.default_rng(draw(st.integers(0, 10_000)))
    n = draw(st.integers(2, 30))
    first, second = np.triu_indices(n, k=1)
    kept = rng.random(len(first)) < draw(st.floats(0.05, 0.6))
    score = rng.uniform(0.3, 1.0, kept.sum())
    score[rng.random(len(score)) < 0.05] = CANNOT_LINK
    return n, ScoredPairs(first[kept], second[kept], score)


@settings(max_examples=60, deadline=None)
@given(scored_pairs())
def test_every_group_holds_a_copy_of_its_kept_image_and_no_pair_said_to_differ(case):
    from fiftyone_redundancy.core.families import Identities
    from fiftyone_redundancy.core.grouping import decide_on_pairs, score_matrix
    from fiftyone_redundancy.core.pair_score import CANNOT_LINK, DEFAULT_THRESHOLD

    n, pairs = case
    labels, decisions = decide_on_pairs(pairs, DEFAULT_THRESHOLD, Identities.none(n))
    matrix = score_matrix(n, pairs).toarray()
    redundant = np.flatnonzero(decisions.status == "redundant")
    assert np.all(matrix[redundant, decisions.representative[redundant]] >= DEFAULT_THRESHOLD)
    same_group = labels[:, None] == labels[None, :]
    assert not np.any(same_group & (matrix <= CANNOT_LINK))


@settings(max_examples=60, deadline=None)
@given(scored_pairs(), st.integers(0, 10_000))
def test_groups_do_not_depend_on_the_order_of_pictures_or_pairs(case, seed):
    from fiftyone_redundancy.core.grouping import score_groups
    from fiftyone_redundancy.core.pair_score import DEFAULT_THRESHOLD, ScoredPairs

    n, pairs = case
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pairs.score))
    renumber = rng.permutation(n)
    moved = ScoredPairs(renumber[pairs.first[order]], renumber[pairs.second[order]], pairs.score[order])
    labels = score_groups(n, pairs, DEFAULT_THRESHOLD)
    moved_labels = score_groups(n, moved, DEFAULT_THRESHOLD)
    assert partition(labels) == partition(moved_labels[renumber])


@settings(max_examples=60, deadline=None)
@given(scored_pairs(), st.floats(0.31, 0.95), st.floats(0.0, 0.3))
def test_a_higher_cut_only_splits_groups(case, cut, raise_by):
    from fiftyone_redundancy.core.grouping import score_groups

    n, pairs = case
    lower = score_groups(n, pairs, cut)
    higher = score_groups(n, pairs, min(1.0, cut + raise_by))
    # each group at the higher cut lies inside one group at the lower cut
    assert all(len(set(lower[higher == label])) == 1 for label in np.unique(higher))
