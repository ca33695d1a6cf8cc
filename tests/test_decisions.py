"""The keep / redundant / influential rule."""

import numpy as np

from fiftyone_redundancy.core.decisions import decide, nearest_to_mean
from fiftyone_redundancy.core.grouping import picture_centrality

FEATURES = np.array(
    [[0.0, 0.0], [0.1, 0.0], [0.05, 0.01], [5.0, 5.0], [5.1, 5.0], [9.0, 9.0], [3.0, 0.0], [3.0, 0.2], [3.0, 0.1]]
)
CLUSTERS = np.array([0, 0, 0, 1, 1, 2, 3, 3, 3])


def test_same_label_cluster_keeps_the_member_nearest_the_centre():
    decisions = decide(CLUSTERS, nearest_to_mean(FEATURES), labels=["a", "a", "a", "b", "c", "a", "d", "d", "d"])
    assert list(decisions.status[:3]) == ["redundant", "redundant", "representative"]
    assert list(decisions.representative[:3]) == [2, 2, -1]
    assert list(decisions.status[6:]) == ["redundant", "redundant", "representative"]
    assert list(decisions.representative[6:]) == [8, 8, -1]


def test_mixed_label_cluster_is_influential_and_points_nowhere():
    decisions = decide(CLUSTERS, nearest_to_mean(FEATURES), labels=["a", "a", "a", "b", "c", "a", "d", "d", "d"])
    assert list(decisions.status[3:5]) == ["influential", "influential"]
    assert list(decisions.representative[3:5]) == [-1, -1]


def test_singletons_are_unique_without_a_group():
    decisions = decide(CLUSTERS, nearest_to_mean(FEATURES))
    assert decisions.status[5] == "unique" and decisions.group[5] == -1
    assert decisions.score[5] == 0


def test_without_labels_every_group_is_one_label():
    decisions = decide(CLUSTERS, nearest_to_mean(FEATURES))
    assert decisions.counts() == {
        "representative": 3, "redundant": 5, "influential": 0, "outlier": 0, "unique": 1
    }


def test_groups_are_numbered_largest_first():
    decisions = decide(CLUSTERS, nearest_to_mean(FEATURES))
    assert decisions.group[0] == 0 and decisions.group[6] == 1  # both size 3, first row first
    assert decisions.group[3] == 2


def test_missing_labels_count_as_their_own_label():
    decisions = decide(np.array([0, 0]), nearest_to_mean(FEATURES[:2]), labels=["a", None])
    assert list(decisions.status) == ["influential", "influential"]


def test_score_is_the_distance_to_the_centre():
    decisions = decide(CLUSTERS, nearest_to_mean(FEATURES))
    centre = FEATURES[3:5].mean(axis=0)
    assert np.isclose(decisions.score[3], np.linalg.norm(FEATURES[3] - centre))


def test_similarity_centrality_keeps_the_member_most_similar_to_the_others():
    similarity = np.array([[1.0, 0.9, 0.5], [0.9, 1.0, 0.8], [0.5, 0.8, 1.0]])
    decisions = decide(np.array([0, 0, 0]), picture_centrality(similarity, np.arange(3)))
    assert list(decisions.status) == ["redundant", "representative", "redundant"]
    np.testing.assert_allclose(decisions.score, [0.7, 0.85, 0.65])


def test_identical_copies_count_once_each_in_the_centrality():
    # images 3 and 4 are identical to picture 2: picture 2 is now the most central one
    similarity = np.array([[1.0, 0.9, 0.6], [0.9, 1.0, 0.8], [0.6, 0.8, 1.0]])
    padded = np.pad(similarity, ((0, 2), (0, 2)))
    decisions = decide(np.zeros(5, dtype=int), picture_centrality(padded, np.array([0, 1, 2, 2, 2])))
    assert list(decisions.status) == ["redundant", "redundant", "representative", "redundant", "redundant"]
    np.testing.assert_allclose(decisions.score, [(0.9 + 1.8) / 4, (0.9 + 2.4) / 4] + [(0.6 + 0.8 + 2) / 4] * 3)
