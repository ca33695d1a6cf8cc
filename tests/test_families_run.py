"""Families through FiftyOne (issue 24): identical files grouped whatever their number, a
family that keeps a member when its representative is deleted, re-cuts that notice changed
files, and degenerate inputs (a constant embeddings field, NaN pixels) answered in words."""

import os
import shutil

import numpy as np
import pytest
from PIL import Image
from skimage import data

import fiftyone as fo
import fiftyone_redundancy.api as fr



@pytest.fixture
def copies_dataset(small_demo_dataset, tmp_path):
    """The small demo plus 30 byte-identical files of one photograph and 6 blank files (4
    black, 2 white), as a user's scraped folder holds them."""
    dataset = small_demo_dataset.clone()
    source = tmp_path / "photo.png"
    Image.fromarray(np.ascontiguousarray(data.coffee()[:, ::-1])).save(source)  # a picture the demo does not hold
    samples = []
    for number in range(30):
        path = tmp_path / f"copy_{number:02d}.png"
        shutil.copyfile(source, path)
        samples.append(fo.Sample(filepath=str(path), ground_truth=fo.Classification(label="photo"), tags=["train"]))
    for number, color in enumerate([(0, 0, 0)] * 4 + [(255, 255, 255)] * 2):
        path = tmp_path / f"blank_{number}.jpg"
        Image.new("RGB", (40 + number, 30), color).save(path, quality=80)
        samples.append(fo.Sample(filepath=str(path), ground_truth=fo.Classification(label="blank"), tags=["train"]))
    dataset.add_samples(samples, progress=False)
    yield dataset
    dataset.delete()


def groups_of(dataset, key, pattern):
    view = dataset.match(fo.ViewField("filepath").contains_str(pattern))
    return view.values(f"{key}_group"), view.values(f"{key}_status")


def test_identical_files_and_blanks_are_whole_groups_in_every_analysis(copies_dataset):
    fr.compute_wavelet_clusters(copies_dataset, label_field="ground_truth", progress=False)
    fr.compute_ssim_clusters(copies_dataset, label_field="ground_truth", mode="sparse", key="ssim", progress=False)
    for key in ("wavelet", "ssim"):
        groups, statuses = groups_of(copies_dataset, key, "copy_")
        assert len(set(groups)) == 1 and groups[0] >= 0 and statuses.count("representative") == 1
        for color in ("blank_0", "blank_1", "blank_2", "blank_3"), ("blank_4", "blank_5"):
            found = [groups_of(copies_dataset, key, name)[0][0] for name in color]
            assert len(set(found)) == 1 and found[0] >= 0
        assert groups_of(copies_dataset, key, "blank_0")[0][0] != groups_of(copies_dataset, key, "blank_4")[0][0]
    run = fr.load_run(copies_dataset, "wavelet")
    found = run.details["identical"]  # the demo holds identical and blank images of its own too
    assert found["identical"] >= 29 and found["constant"] >= 6
    assert f"identical to another image: {found['identical']:,}; one colour (blank): {found['constant']:,}" in run.summary()


def test_a_family_whose_representative_was_deleted_keeps_one_member(copies_dataset, tmp_path_factory):
    run = fr.compute_wavelet_clusters(copies_dataset, label_field="ground_truth", progress=False)
    family = copies_dataset.match(fo.ViewField("filepath").contains_str("copy_"))
    representative = family.match(fo.ViewField("wavelet_status") == "representative").values("id")
    copies_dataset.delete_samples(representative)
    assert "29 redundant sample(s) point at a representative deleted since the run" in fr.load_run(copies_dataset, "wavelet").summary()
    kept = fr.curated_view(copies_dataset, ["wavelet"]).match(fo.ViewField("filepath").contains_str("copy_"))
    assert len(kept) == 1
    fr.tag_samples(copies_dataset, ["wavelet"], statuses="redundant")
    assert len(family.match_tags("redundant")) == 28
    export_dir = str(tmp_path_factory.mktemp("curated") / "export")  # outside the media's folder
    summary = fr.export_curated(copies_dataset, ["wavelet"], export_dir)
    exported = fo.Dataset.from_dir(export_dir, fo.types.FiftyOneDataset)
    assert len(exported.match(fo.ViewField("filepath").contains_str("copy_"))) == 1, summary
    exported.delete()


def test_two_runs_that_keep_each_others_copies_never_drop_a_whole_family(copies_dataset):
    fr.compute_wavelet_clusters(copies_dataset, label_field="ground_truth", key="first", progress=False)
    fr.compute_wavelet_clusters(copies_dataset, label_field="ground_truth", key="second", progress=False)
    family = copies_dataset.match(fo.ViewField("filepath").contains_str("copy_"))
    ids = family.values("id")
    # the second run (as another analysis might) keeps another copy and marks the first run's one
    family.set_values("second_status", ["representative" if i == ids[-1] else "redundant" for i in ids])
    family.set_values("second_representative", [None if i == ids[-1] else ids[-1] for i in ids])
    kept = fr.curated_view(copies_dataset, ["first", "second"], combine="union")
    assert len(kept.match(fo.ViewField("filepath").contains_str("copy_"))) == 1


def test_a_recut_refuses_a_run_whose_image_files_changed(copies_dataset):
    fr.compute_wavelet_clusters(copies_dataset, label_field="ground_truth", progress=False)
    fr.recut_run(copies_dataset, "wavelet", 0.6)
    path = copies_dataset.match(fo.ViewField("filepath").contains_str("copy_07")).first().filepath
    Image.fromarray(data.astronaut()).save(path)
    before = copies_dataset.values("wavelet_status")
    with pytest.raises(ValueError, match=r"1 image file\(s\) of run 'wavelet' changed or went missing since it ran .*copy_07"):
        fr.recut_run(copies_dataset, "wavelet", 0.5)
    assert copies_dataset.values("wavelet_status") == before


def test_a_constant_embeddings_field_is_refused_with_the_reason(small_dataset):
    rng = np.random.default_rng(0)
    constant = np.tile(rng.normal(size=16), (len(small_dataset), 1))
    small_dataset.set_values("flat_embedding", constant + rng.normal(scale=1e-4, size=constant.shape))
    with pytest.raises(ValueError, match="'flat_embedding' are all \\(nearly\\) the same direction"):
        fr.compute_wavelet_clusters(small_dataset, embeddings_field="flat_embedding", progress=False)
    assert not small_dataset.has_sample_field("wavelet_status")


def test_nan_pixels_of_a_float_image_are_read_and_reported(tmp_path):
    values = (data.camera() / 255.0).astype(np.float32)
    values[10, 10] = np.nan
    path = str(tmp_path / "float.tif")
    Image.fromarray(values, mode="F").save(path)
    dataset = fo.Dataset()
    dataset.add_samples([fo.Sample(filepath=path), fo.Sample(filepath=path.replace(".tif", "2.tif"))], progress=False)
    Image.fromarray(np.full((64, 64), 0.5, dtype=np.float32), mode="F").save(path.replace(".tif", "2.tif"))
    try:
        run = fr.compute_wavelet_clusters(dataset, progress=False)
        repaired = run.details["repaired"]
        assert len(repaired) == 1 and repaired[0]["filepath"] == path
        assert "1 of 262,144 pixels are NaN or infinite" in repaired[0]["reason"]
        assert "had NaN or infinite pixels" in run.summary()
        from fiftyone_redundancy.core.images import load_image

        pixels = load_image(path, (32, 32), "gray")
        assert np.isfinite(pixels).all() and pixels.std() > 0.1  # the picture, not a black square
    finally:
        dataset.delete()
