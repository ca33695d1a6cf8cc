"""Incremental runs (issue 29): ``fr.update_run`` after samples are added, deleted or their
files changed gives a fresh run's fields and pairs, decoding only the new images; what it
keeps on disk is named by the run and goes with it; what it cannot update it refuses."""

import os

import numpy as np
import pytest
from PIL import Image

import fiftyone as fo
import fiftyone_redundancy.api as fr
from fiftyone_redundancy.bridge.update import updatable_runs


F = fo.ViewField
CONTRACT = ("status", "group", "representative", "score")


LEVEL = 1
"""The demo's 510 images have fewer than the 768 level-1 coefficients: the column selection
keeps them all whatever is added (at the default level 2 the selection, 84 of 192
columns, moves with each image added or removed; the pairs' evidence is reused all the
same: ``test_an_update_whose_columns_change...``)."""


@pytest.fixture
def growing(small_demo_dataset, tmp_path):
    """The small demo without one planted family and one copy of another (held back to be
    added later), a wavelet run kept for updates, and the held-back samples."""
    dataset = small_demo_dataset.clone()
    groups = [group for group in dataset.distinct("planted_group") if group is not None]
    family = dataset.match((F("planted_group") == groups[0]) & (F("planted") == "near_duplicate"))
    copy = dataset.match((F("planted_group") == groups[1]) & (F("planted_transform") != "original")).limit(1)
    held = [sample.copy() for sample in [*family, *copy]]
    dataset.delete_samples(family.values("id") + copy.values("id"))
    fr.compute_wavelet_clusters(dataset, label_field="ground_truth", level=LEVEL, update_folder=str(tmp_path / "store"),
                                progress=False)  # fmt: skip
    yield dataset, held, tmp_path
    dataset.delete()


def jpeg_copies(dataset, tmp_path, count):
    """New samples: JPEG re-saves of the first ``count`` photographs of the dataset (new
    copies of pictures it holds)."""
    samples = []
    for number, sample in enumerate(dataset.match(F("source") != "digits").limit(count)):
        path = tmp_path / f"resaved_{number}.jpg"
        Image.open(sample.filepath).convert("RGB").save(path, quality=70)
        samples.append(fo.Sample(filepath=str(path), ground_truth=fo.Classification(label=sample.ground_truth.label)))
    return samples


def assert_fresh(dataset):
    """The updated run under "wavelet" equals a fresh run of the same parameters."""
    level = fr.load_run(dataset, "wavelet").parameters["level"]
    fresh = fr.compute_wavelet_clusters(dataset, label_field="ground_truth", level=level, key="fresh", progress=False)
    updated = fr.load_run(dataset, "wavelet")
    ids = dataset.values("id")
    for suffix in CONTRACT:
        assert dataset.values(f"wavelet_{suffix}") == dataset.values(f"fresh_{suffix}"), suffix
    assert updated.details["sample_ids"] == fresh.details["sample_ids"] == ids
    for column in ("first", "second", "score"):
        assert np.array_equal(updated.details["pairs"][column], fresh.details["pairs"][column]), column
    assert updated.counts == fresh.counts and updated.details["kept_columns"] == fresh.details["kept_columns"]
    fr.delete_run(dataset, "fresh")
    return updated


def store_folders(tmp_path):
    return sorted(os.listdir(tmp_path / "store"))


def test_update_after_adding_copies_and_a_new_family_decodes_only_them(growing):
    dataset, held, tmp_path = growing
    before = store_folders(tmp_path)
    added = held + jpeg_copies(dataset, tmp_path, 2)
    dataset.add_samples(added, progress=False)
    run = fr.update_run(dataset, "wavelet", progress=False)
    assert run.details["update"]["decoded"] == len(added)
    assert run.details["update"]["reused_images"] == len(dataset) - len(added)
    assert run.details["update"]["reused_pairs"] > 0
    updated = assert_fresh(dataset)
    family = dataset.match(F("planted_group") == held[0]["planted_group"])
    assert len(set(family.values("wavelet_group"))) == 1 and family.first()["wavelet_group"] >= 0
    resaved = dataset.match(F("filepath").contains_str("resaved_"))
    assert all(group >= 0 for group in resaved.values("wavelet_group"))
    after = store_folders(tmp_path)
    assert len(after) == 1 and after != before and updated.details["update_store"]["folder"].endswith(after[0])


def test_update_after_deletions_equals_a_fresh_run(growing):
    dataset, _, _ = growing
    grouped = dataset.match(F("wavelet_status") == "representative").limit(2).values("id")
    dataset.delete_samples(grouped + dataset.match(F("wavelet_group") < 0).limit(5).values("id"))
    run = fr.update_run(dataset, "wavelet", progress=False)
    assert run.details["update"]["decoded"] == 0 and run.details["update"]["verified_pairs"] < run.details["update"]["reused_pairs"]
    assert_fresh(dataset)


def test_an_update_whose_columns_change_reuses_the_pairs_evidence(small_dataset, tmp_path):
    """The selection keeps other columns after a deletion, so every pair's descriptor
    cosine changes: the stored evidence is fused with the new one, none verified again."""
    before = fr.compute_wavelet_clusters(small_dataset, label_field="ground_truth", update_folder=str(tmp_path / "store"),
                                         progress=False)  # fmt: skip
    small_dataset.delete_samples(small_dataset.skip(5).limit(3))  # insertion order: the same three each time
    run = fr.update_run(small_dataset, "wavelet", progress=False)
    assert run.details["kept_columns"] != before.details["kept_columns"]
    assert run.details["update"]["decoded"] == 0 and run.details["update"]["reused_pairs"] > 0
    assert run.details["update"]["verified_pairs"] < run.details["update"]["reused_pairs"] / 10
    assert_fresh(small_dataset)


def test_a_store_kept_by_0_5_is_updated_by_verifying_its_pairs_again(small_dataset, tmp_path):
    """0.5.0 kept fused scores, valid only for its columns: such a store reuses its
    images, and every pair is verified again."""
    run = fr.compute_wavelet_clusters(small_dataset, label_field="ground_truth", update_folder=str(tmp_path / "store"),
                                      progress=False)  # fmt: skip
    pairs = os.path.join(run.details["update_store"]["folder"], "pairs.npz")
    stored = np.load(pairs)
    np.savez(pairs, first=stored["first"], second=stored["second"], score=stored["evidence"][:, 1], kept_columns=[])
    small_dataset.delete_samples(small_dataset.skip(5).limit(3))
    run = fr.update_run(small_dataset, "wavelet", progress=False)
    assert run.details["update"]["decoded"] == 0 and run.details["update"]["reused_pairs"] == 0
    assert run.details["update"]["verified_pairs"] > 0
    assert_fresh(small_dataset)


def test_update_after_adds_deletes_and_a_changed_file(growing):
    dataset, held, tmp_path = growing
    dataset.delete_samples(dataset.match(F("wavelet_status") == "redundant").limit(3).values("id"))
    changed = dataset.match(F("source") == "digits").first()
    other = dataset.match(F("source") != "digits").first()
    path = tmp_path / "changed.png"
    Image.open(changed.filepath).save(path)
    changed.filepath = str(path)
    changed.save()
    Image.open(other.filepath).convert("RGB").resize((64, 64)).save(path)  # its file now holds another picture
    dataset.add_samples(held, progress=False)
    run = fr.update_run(dataset, "wavelet", progress=False)
    assert run.details["update"]["decoded"] == len(held) + 1
    assert_fresh(dataset)


def test_store_goes_with_the_run_and_clones_never_touch_it(growing):
    dataset, _, tmp_path = growing
    clone = dataset.clone()
    with pytest.raises(ValueError, match="stored on another dataset"):
        fr.update_run(clone, "wavelet")
    clone.delete_samples(clone.take(2, seed=0))
    fr.compute_wavelet_clusters(clone, label_field="ground_truth", progress=False, overwrite=True)  # replaces the copied record
    fr.delete_run(clone, "wavelet")
    clone.delete()
    assert len(store_folders(tmp_path)) == 1  # the original's store stays
    fr.update_run(dataset, "wavelet", progress=False)
    fr.delete_run(dataset, "wavelet")
    assert store_folders(tmp_path) == []


def test_deleting_a_store_removes_only_the_files_it_wrote(growing):
    """A file someone else put in a run's store survives the run, with its folder."""
    dataset, _, tmp_path = growing
    (name,) = store_folders(tmp_path)
    folder = os.path.join(tmp_path, "store", name)
    notes = os.path.join(folder, "my-notes.txt")
    with open(notes, "w") as handle:
        handle.write("mine")
    fr.delete_run(dataset, "wavelet")
    assert os.listdir(folder) == ["my-notes.txt"]


def test_runs_it_cannot_update_are_refused_in_words(growing):
    dataset, _, _ = growing
    with pytest.raises(ValueError, match="has no redundancy run 'nothing'"):
        fr.update_run(dataset, "nothing")
    fr.compute_wavelet_clusters(dataset, key="plain", progress=False)
    with pytest.raises(ValueError, match="kept nothing to update from"):
        fr.update_run(dataset, "plain")
    dataset.set_values("vector", np.random.default_rng(0).random((len(dataset), 8)).tolist())
    fr.compute_feature_clusters(dataset, embeddings_field="vector", key="features", progress=False)
    with pytest.raises(ValueError, match="update_run brings wavelet clusters, SSIM and split similarity runs up to date"):
        fr.update_run(dataset, "features")


@pytest.mark.parametrize("mode", ["dense", "sparse"])
def test_an_ssim_run_is_updated_as_a_fresh_run_after_adds_and_deletes(small_demo_dataset, tmp_path, mode):
    dataset = small_demo_dataset.clone()
    held = dataset.match(F("planted") == "near_duplicate").limit(4)
    held_samples = [sample.copy() for sample in held]
    dataset.delete_samples(held.values("id"))
    fr.compute_ssim_clusters(dataset, label_field="ground_truth", mode=mode, update_folder=str(tmp_path / "store"),
                             progress=False)  # fmt: skip
    added = held_samples + jpeg_copies(dataset, tmp_path, 2)
    dataset.add_samples(added, progress=False)
    dataset.delete_samples(dataset.match(F("ssim_status") == "redundant").limit(2).values("id"))
    updated = fr.update_run(dataset, "ssim", progress=False)
    assert updated.details["update"]["decoded"] == len(added)
    assert updated.details["update"]["verified_pairs"] < updated.details["update"]["reused_pairs"]
    fresh = fr.compute_ssim_clusters(dataset, key="fresh", label_field="ground_truth", mode=mode, progress=False)
    for suffix in CONTRACT:
        assert dataset.values(f"ssim_{suffix}") == dataset.values(f"fresh_{suffix}"), suffix
    for column in ("first", "second", "score"):
        assert np.array_equal(updated.details["pairs"][column], fresh.details["pairs"][column]), column
    # the sparse eigen-solver starts from a random vector: its zero eigenvalues agree to 1e-15, not bit for bit
    assert np.allclose(updated.details["spectrum"], fresh.details["spectrum"], rtol=0, atol=1e-12)
    assert updated.details["mode_used"] == mode
    family = dataset.match(F("planted_group") == held_samples[0]["planted_group"])
    assert len(set(family.values("ssim_group"))) == 1 and family.first()["ssim_group"] >= 0
    dataset.delete()


@pytest.mark.parametrize("operator, key, params", [
    ("compute_wavelet_clusters", "wavelet", {"label_field": "ground_truth", "level": LEVEL}),
    ("compute_split_similarity", "split", {"label_field": "ground_truth", "train": "train", "test": "test"}),
])  # fmt: skip
def test_a_run_kept_for_updates_from_the_app_form_is_updated_by_the_update_operator(small_demo_dataset, tmp_path,
                                                                                    operator, key, params):  # fmt: skip
    import fiftyone.operators as foo

    plugin = "@fiftyone-redundancy/redundancy"
    dataset = small_demo_dataset.clone()
    held = dataset.match(F("planted") == "near_duplicate").limit(3)
    held_samples = [sample.copy() for sample in held]
    dataset.delete_samples(held.values("id"))
    params = {"key": key, **params, "update_folder": str(tmp_path / "store")}
    foo.execute_operator(f"{plugin}/{operator}", ctx=dict(dataset=dataset, params=params))
    assert fr.load_run(dataset, key).parameters["update_folder"] == str(tmp_path / "store")
    dataset.add_samples(held_samples, progress=False)
    result = foo.execute_operator(f"{plugin}/update_redundancy_run", ctx=dict(dataset=dataset, params={"key": key}))
    (shown,) = [r["params"] for r in result.to_json()["executor"]["requests"] if r["operator_uri"] == "show_output"]
    assert shown["results"]["summary"].startswith("**Run updated.** 3 images decoded")
    if key == "wavelet":  # the split's equality with a fresh run: test_a_split_run_is_updated_as_a_fresh_run...
        assert_fresh(dataset)
    dataset.delete()


SPLIT_FIELDS = (*CONTRACT, "best_match", "best_similarity")


def test_a_split_run_is_updated_as_a_fresh_run_after_adds_a_new_leak_a_delete_and_a_changed_file(small_demo_dataset, tmp_path):
    dataset = small_demo_dataset.clone()
    held = dataset.match_tags("test").limit(2).values("id") + dataset.match_tags("train").skip(5).limit(3).values("id")
    held_samples = [sample.copy() for sample in dataset.select(held)]
    dataset.delete_samples(held)
    fr.compute_split_similarity(dataset, label_field="ground_truth", update_folder=str(tmp_path / "store"), progress=False)
    before = store_folders(tmp_path)
    source = dataset.match_tags("train").match((F("source") != "digits") & (F("split_status") != "representative")).first()
    leak_path = tmp_path / f"leak{os.path.splitext(source.filepath)[1]}"
    with open(source.filepath, "rb") as original, open(leak_path, "wb") as copy:
        copy.write(original.read())  # a new exact copy of a training image in the test split
    leak = fo.Sample(filepath=str(leak_path), tags=["test"], ground_truth=fo.Classification(label=source.ground_truth.label))
    dataset.delete_samples(dataset.match_tags("test").limit(1))
    changed = dataset.match_tags("train").match(F("source") == "digits").first()
    other = dataset.match_tags("train").match(F("source") != "digits").last()
    path = tmp_path / "changed.png"
    Image.open(other.filepath).convert("RGB").resize((64, 64)).save(path)  # its file now holds another picture
    changed.filepath = str(path)
    changed.save()
    dataset.add_samples(held_samples + [leak], progress=False)

    updated = fr.update_run(dataset, "split", progress=False)
    assert updated.details["update"]["decoded"] == len(held_samples) + 2
    assert updated.details["update"]["reused_images"] == len(dataset) - len(held_samples) - 2
    assert 0 < updated.details["update"]["verified_pairs"] < updated.details["update"]["reused_pairs"]
    fresh = fr.compute_split_similarity(dataset, key="fresh", label_field="ground_truth", progress=False)
    for suffix in SPLIT_FIELDS:
        assert dataset.values(f"split_{suffix}") == dataset.values(f"fresh_{suffix}"), suffix
    for name in ("sample_ids", "least_similar_ids", "n_near_identical", "mode_used", "identities"):
        assert updated.details[name] == fresh.details[name], name
    for column in ("first", "second", "score"):
        assert np.array_equal(updated.details["pairs"][column], fresh.details["pairs"][column]), column
    new_leak = dataset.select(leak.id).first()
    assert new_leak.split_status == "redundant" and new_leak.split_representative == source.id
    after = store_folders(tmp_path)
    assert len(after) == 1 and after != before and updated.details["update_store"]["folder"].endswith(after[0])
    assert updatable_runs(dataset) == ["split"]
    fr.delete_run(dataset, "split")
    assert store_folders(tmp_path) == []
    dataset.delete()


def test_a_split_given_as_views_is_refused_a_store(small_dataset, tmp_path):
    train, test = small_dataset.match_tags("train"), small_dataset.match_tags("test")
    with pytest.raises(ValueError, match="a split given as two views cannot be kept for updates: .* Tag the splits"):
        fr.compute_split_similarity(small_dataset, train=train, test=test, update_folder=str(tmp_path / "store"))
    assert not os.path.exists(tmp_path / "store")
