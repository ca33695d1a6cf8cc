"""Bad inputs, each with a clear message naming the sample and the fix, or skipped and
reported (``skip_failures``), never a stack trace from deep inside a library.

The catalogue (input -> what happens):
- missing file, truncated JPEG, a text file named .png -> ImageReadError naming the file,
  "fix or remove the sample, or pass skip_failures=True"; with skip_failures the run
  completes and lists them under ``skipped`` with the reason
- grayscale, RGBA, palette, 16-bit, float, a 4000x3000 image, mixed sizes -> decoded
  and resized; the 16-bit, RGBA and palette copies of one photo group with it
- empty view, a single sample -> "needs at least 2"
- a missing label field / one of the wrong type -> names the field and the choices
- samples with no label -> a label of their own (a group mixing them is influential)
- fewer samples than requested clusters -> "between 1 and the number of samples"
- NaN features -> names the rows; constant features -> analysed, no crash
- video samples -> "these analyses need images"
- a grouped dataset -> names its slices and how to analyse one; one slice is analysed
- a phone photo stored on its side with EXIF orientation 6 -> turned upright on decode (as
  the App shows it), so it groups with its upright copy
- a CMYK JPEG -> decoded to the same picture as its RGB original
- unicode file names (accents, CJK, emoji, spaces) -> read and grouped like any other
- two samples with the same file path -> one group, one of them kept
- a subset run on a key holding a run over more samples -> refused unless overwrite=True
  (tests/test_operators.py); the form asks with its Replace box
- export into a folder holding other files, with or without overwrite -> refused, nothing
  deleted; bad format/label field/run/status/combine -> refused before the disk is touched;
  an export interrupted midway -> the earlier export stays as it was; an existing deletion
  manifest -> never replaced (tests/test_curation.py)
- a decompression-bomb PNG -> ImageReadError naming it; skip_failures skips it
- keys starting with '_', equal but for case to another run's, or whose review view a
  user saved -> refused before anything is written
- a user's field ``{key}_crossings``, a user's ``redundant`` tags, a taken rename target
  -> left as they are, with a message
- views repeating samples, patches views, splits spanning datasets, set_representative on
  a split run -> refused
- NaN, infinite, negative, fractional or boolean numbers where they make no sense, an
  image_size of 0 or 4096, a split threshold of -5 -> refused naming the parameter
- one status name where a list is expected -> read as that one status
- unloadable model files, models returning a dict, ragged or string embeddings -> named
  with the fix
- a lease held by a live writer -> refused naming it; one left by a dead writer -> taken
  over, the staging fields its lease and the staging ledger name removed (a field merely
  named like one stays: tests/test_safe_by_construction.py)
"""

import math
import os
from datetime import timedelta

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps
from skimage import data

import fiftyone as fo
import fiftyone.core.odm as foo
import fiftyone.core.runs as fors
import fiftyone_redundancy.api as fr
from fiftyone_redundancy.bridge import runs, samples
from fiftyone_redundancy.core.feature_analysis import FeatureParameters, analyze_features
from fiftyone_redundancy.core.images import ImageReadError, load_image
from fiftyone_redundancy.core.pair_score import DEFAULT_THRESHOLD
from fiftyone_redundancy.core.ssim_analysis import SSIMParameters
from fiftyone_redundancy.core.wavelet_analysis import WaveletParameters


@pytest.fixture
def odd_files(tmp_path):
    photo = Image.fromarray(data.coffee()).resize((64, 48))
    paths = {}

    def save(name, image, **kwargs):
        path = tmp_path / name
        image.save(path, **kwargs)
        paths[name.split(".")[0]] = str(path)

    save("rgb.png", photo)
    save("gray.png", photo.convert("L"))
    rgba = photo.convert("RGBA")
    save("rgba.png", rgba)
    save("palette.png", photo.convert("P", palette=Image.Palette.ADAPTIVE, colors=256))
    sixteen = (np.asarray(photo.convert("L"), dtype=np.uint16) * 257)
    save("sixteen.png", Image.fromarray(sixteen))
    save("large.jpg", Image.fromarray(data.astronaut()).resize((4000, 3000)), quality=90)
    save("other.png", Image.fromarray(data.camera()).resize((20, 30)))
    save("gray_twin.png", photo.convert("L"))
    good_jpeg = tmp_path / "whole.jpg"
    photo.save(good_jpeg, quality=90)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good_jpeg.read_bytes()[:400])
    paths["truncated"] = str(truncated)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    paths["text"] = str(text)
    paths["missing"] = str(tmp_path / "missing.png")
    return paths


def dataset_of(paths, name):
    dataset = fo.Dataset()
    dataset.add_samples([fo.Sample(filepath=p, ground_truth=fo.Classification(label="x")) for p in paths])
    return dataset


def test_every_pil_mode_decodes_to_the_same_picture(odd_files):
    gray = load_image(odd_files["gray"], (32, 32), "gray")
    for name in ("sixteen", "gray_twin"):
        np.testing.assert_allclose(load_image(odd_files[name], (32, 32), "gray"), gray, atol=1 / 255)
    rgb = load_image(odd_files["rgb"])
    np.testing.assert_allclose(load_image(odd_files["rgba"]), rgb, atol=1 / 255)
    assert np.abs(load_image(odd_files["palette"]) - rgb).mean() < 0.03
    assert load_image(odd_files["large"]).shape == (32, 32, 3)


@pytest.mark.parametrize("broken", ["truncated", "text", "missing"])
def test_unreadable_files_are_named_with_the_fix(odd_files, broken):
    dataset = dataset_of([odd_files["rgb"], odd_files["gray"], odd_files[broken]], broken)
    with pytest.raises(ImageReadError, match=r"skip_failures=True") as error:
        fr.compute_wavelet_clusters(dataset, progress=False)
    assert odd_files[broken] in str(error.value)
    assert "wavelet" not in dataset.list_runs()


def test_skip_failures_reports_them_and_analyzes_the_rest(odd_files):
    readable = ["rgb", "gray", "rgba", "palette", "sixteen", "large", "other", "gray_twin"]
    broken = ["truncated", "text", "missing"]
    dataset = dataset_of([odd_files[n] for n in readable + broken], "skip")
    run = fr.compute_wavelet_clusters(dataset, skip_failures=True, progress=False)
    skipped = run.details["skipped"]
    assert sorted(item["filepath"] for item in skipped) == sorted(odd_files[n] for n in broken)
    assert all("cannot decode" in item["reason"] or "does not exist" in item["reason"] for item in skipped)
    assert dataset.count("wavelet_status") == len(readable)
    status = dict(zip(dataset.values("filepath"), dataset.values("wavelet_group")))
    # the photo in colour (RGB, RGBA) and in gray (8-bit, 16-bit) is one group: the pair
    # score compares colour-normalised luminance, so a grey version is a copy; the camera
    # is in no group
    versions = {status[odd_files[n]] for n in ("rgb", "rgba", "gray", "sixteen", "gray_twin")}
    assert len(versions) == 1 and -1 not in versions
    assert status[odd_files["other"]] == -1
    ssim = fr.compute_ssim_clusters(dataset, skip_failures=True, progress=False)
    assert len(ssim.details["skipped"]) == 3


def test_empty_single_and_video_views_are_refused(odd_files):
    dataset = dataset_of([odd_files["rgb"]], "single")
    with pytest.raises(ValueError, match="needs at least 2"):
        fr.compute_wavelet_clusters(dataset, progress=False)
    with pytest.raises(ValueError, match="needs at least 2"):
        fr.compute_ssim_clusters(dataset.limit(0), progress=False)
    video = fo.Dataset()
    video.add_samples([fo.Sample(filepath=f"/tmp/clip{i}.mp4") for i in range(3)])
    with pytest.raises(ValueError, match="need images"):
        fr.compute_wavelet_clusters(video, progress=False)


def test_fewer_samples_than_clusters_and_unlabeled_samples(odd_files):
    dataset = dataset_of([odd_files["rgb"], odd_files["gray"], odd_files["gray_twin"]], "few")
    with pytest.raises(ValueError, match="between 1 and the number of samples"):
        fr.compute_wavelet_clusters(dataset, grouping="kmeans", n_clusters=10, progress=False)
    twin = dataset.match(fo.ViewField("filepath") == odd_files["gray_twin"]).first()
    twin.ground_truth = None
    twin.save()
    run = fr.compute_wavelet_clusters(dataset, label_field="ground_truth", progress=False)
    assert run.counts["influential"] >= 2  # a labelled and an unlabelled copy disagree


def test_nan_and_constant_features():
    with pytest.raises(ValueError, match=r"rows \[2\]"):
        analyze_features(np.where(np.arange(30).reshape(10, 3) == 7, np.nan, 1.0))
    analysis = analyze_features(np.ones((40, 6)), None, FeatureParameters(p_outlier=0.05, p_similar=0.2))
    assert len(analysis.decisions.status) == 40


def photo_pair_dataset(tmp_path, copies):
    """The coffee photo as ``upright.jpg`` plus ``copies`` ({file name: PIL image, or
    (image, save options)}), and three unrelated photos, as one dataset."""
    photo = Image.fromarray(data.coffee()).resize((96, 64))
    paths = {}
    for name, image in {"upright.jpg": photo, **copies(photo)}.items():
        image, options = image if isinstance(image, tuple) else (image, {})
        paths[name] = str(tmp_path / name)
        image.save(paths[name], quality=95, **options)
    for name in ("astronaut", "chelsea", "rocket"):
        paths[name] = str(tmp_path / f"{name}.jpg")
        Image.fromarray(getattr(data, name)()).convert("RGB").resize((96, 64)).save(paths[name], quality=95)
    return dataset_of(list(paths.values()), "photos"), paths


def groups_by_path(dataset, key="wavelet"):
    return dict(zip(dataset.values("filepath"), dataset.values(f"{key}_group")))


def test_a_photo_stored_on_its_side_with_exif_orientation_groups_with_its_upright_copy(tmp_path):
    def sideways(photo):
        exif = Image.Exif()
        exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
        return {"phone.jpg": (photo.rotate(90, expand=True), {"exif": exif})}

    dataset, paths = photo_pair_dataset(tmp_path, sideways)
    with Image.open(paths["phone.jpg"]) as stored:
        assert stored.size == (64, 96) and ImageOps.exif_transpose(stored).size == (96, 64)
    assert np.abs(load_image(paths["phone.jpg"], (48, 32)) - load_image(paths["upright.jpg"], (48, 32))).mean() < 0.02
    fr.compute_wavelet_clusters(dataset, progress=False)
    groups = groups_by_path(dataset)
    assert groups[paths["phone.jpg"]] == groups[paths["upright.jpg"]] >= 0
    assert all(groups[paths[name]] == -1 for name in ("astronaut", "chelsea", "rocket"))


def test_cmyk_jpegs_and_unicode_file_names_are_read_like_any_other(tmp_path):
    dataset, paths = photo_pair_dataset(tmp_path, lambda photo: {
        "cmyk.jpg": photo.convert("CMYK"),
        "café 東京 ☕.jpg": photo,
    })  # fmt: skip
    assert np.abs(load_image(paths["cmyk.jpg"]) - load_image(paths["upright.jpg"])).mean() < 0.02
    fr.compute_wavelet_clusters(dataset, progress=False)
    groups = groups_by_path(dataset)
    assert groups[paths["cmyk.jpg"]] == groups[paths["café 東京 ☕.jpg"]] == groups[paths["upright.jpg"]] >= 0


def test_two_samples_of_one_file_are_one_group_keeping_one(tmp_path):
    dataset, paths = photo_pair_dataset(tmp_path, lambda photo: {})
    dataset.add_sample(fo.Sample(filepath=paths["upright.jpg"], ground_truth=fo.Classification(label="x")))
    run = fr.compute_wavelet_clusters(dataset, label_field="ground_truth", progress=False)
    twins = dataset.match(fo.ViewField("filepath") == paths["upright.jpg"])
    assert len(set(twins.values("wavelet_group"))) == 1
    assert sorted(twins.values("wavelet_status")) == ["redundant", "representative"]
    assert run.counts["redundant"] == 1


def test_a_grouped_dataset_is_refused_with_its_slices_and_one_slice_is_analyzed(odd_files):
    dataset = fo.Dataset()
    dataset.add_group_field("group", default="left")
    for left, right in (("rgb", "gray"), ("rgba", "gray_twin"), ("other", "sixteen")):
        group = fo.Group()
        dataset.add_samples([fo.Sample(filepath=odd_files[left], group=group.element("left")),
                             fo.Sample(filepath=odd_files[right], group=group.element("right"))])  # fmt: skip
    with pytest.raises(ValueError, match=r"grouped dataset \(slices \['left', 'right'\]\).*select_group_slices\('left'\)"):
        fr.compute_wavelet_clusters(dataset, progress=False)
    run = fr.compute_wavelet_clusters(dataset.select_group_slices("left"), progress=False)
    assert sum(run.counts.values()) == 3
    groups = groups_by_path(dataset.select_group_slices("left"))
    assert groups[odd_files["rgb"]] == groups[odd_files["rgba"]] >= 0 and groups[odd_files["other"]] == -1


@pytest.fixture
def twins(odd_files):
    """rgb, gray and its exact copy gray_twin, other: one redundant sample (a twin) by the
    distance grouping (the pair score also groups rgb with its grey version)."""
    dataset = dataset_of([odd_files[n] for n in ("rgb", "gray", "gray_twin", "other")], "twins")
    fr.compute_wavelet_clusters(dataset, key="wave", grouping="distance", progress=False)
    assert dataset.count_values("wave_status")["redundant"] == 1
    return dataset


def state(dataset):
    """Everything a refused call must leave as it was."""
    dataset.reload()
    schema = dataset.get_field_schema()
    return (
        sorted(schema), dataset.list_runs(), dataset.list_saved_views(),
        {name: dataset.values(name) for name in schema if name != "last_modified_at"},
    )  # fmt: skip


def test_a_decompression_bomb_is_named_and_skippable(odd_files, tmp_path, monkeypatch):
    bomb = tmp_path / "bomb.png"
    Image.new("L", (100, 100)).save(bomb)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)  # over twice this is a bomb: 100x100, not 64x48
    dataset = dataset_of([odd_files["rgb"], odd_files["gray"], str(bomb)], "bomb")
    with pytest.raises(ImageReadError, match="skip_failures=True") as error:
        fr.compute_wavelet_clusters(dataset, progress=False)
    assert str(bomb) in str(error.value)
    run = fr.compute_wavelet_clusters(dataset, skip_failures=True, progress=False)
    assert [item["filepath"] for item in run.details["skipped"]] == [str(bomb)]


@pytest.mark.parametrize("key,message", [("_hidden", "does not start with '_'"), ("Wave", "differs only in case")])
def test_keys_fiftyone_cannot_keep_apart_are_refused_before_writing(twins, key, message):
    before = state(twins)
    with pytest.raises(ValueError, match=message):
        fr.compute_wavelet_clusters(twins, key=key, progress=False)
    assert state(twins) == before


def test_a_users_saved_view_named_like_the_review_view_is_kept(twins):
    twins.save_view("mine-review", twins.limit(1))
    before = state(twins)
    with pytest.raises(ValueError, match="not created by this plugin"):
        fr.compute_wavelet_clusters(twins, key="mine", progress=False)
    assert state(twins) == before and len(twins.load_saved_view("mine-review")) == 1


@pytest.mark.parametrize("taken", ["view", "field"])
def test_rename_checks_every_target_name_first(twins, taken):
    if taken == "view":
        twins.save_view("other-review", twins.limit(1))
    else:
        twins.add_sample_field("other_score", fo.FloatField)
    before = state(twins)
    with pytest.raises(ValueError, match="other"):
        fr.rename_run(twins, "wave", "other")
    assert state(twins) == before
    renamed = fr.rename_run(twins, "wave", "wave2")
    assert renamed.fields == ["wave2_status", "wave2_group", "wave2_representative", "wave2_score"]
    assert twins.has_saved_view("wave2-review") and not twins.has_saved_view("wave-review")
    recased = fr.rename_run(twins, "wave2", "Wave2")  # one lease and one view slug for both
    assert recased.fields[0] == "Wave2_status"
    assert "Wave2-review" in twins.list_saved_views() and "wave2-review" not in twins.list_saved_views()


def test_the_probe_never_writes_a_users_crossings_field(twins):
    twins.add_sample_field("wave_crossings", fo.IntField)
    twins.set_values("wave_crossings", [7] * len(twins))
    with pytest.raises(ValueError, match="was not written by run 'wave'"):
        fr.compute_boundary_crossings(twins, "wave", model=torch.nn.Linear(3, 2))
    fr.delete_run(twins, "wave")
    assert twins.values("wave_crossings") == [7] * len(twins)


def test_untag_removes_only_the_tags_the_plugin_added(twins):
    redundant = twins.match(fo.ViewField("wave_status") == "redundant").first()
    redundant.tags.append("redundant")  # the user's own, before the plugin's
    redundant.save()
    other = twins.match(fo.ViewField("wave_status") == "unique").first()
    other.tags.append("redundant")
    other.save()
    fr.tag_samples(twins, "wave", statuses="redundant")
    assert twins.count_sample_tags()["redundant"] == 2
    removed = fr.untag_samples(twins, "wave", statuses="redundant")
    assert removed == {"redundant": 0} and twins.count_sample_tags()["redundant"] == 2
    # a tag the plugin added stays removable after the key is computed again
    twins.untag_samples("redundant")
    fr.tag_samples(twins, "wave", statuses="redundant")
    fr.compute_wavelet_clusters(twins, key="wave", progress=False)
    assert fr.untag_samples(twins, "wave", statuses="redundant") == {"redundant": 1}
    assert "redundant" not in twins.count_sample_tags()


def test_one_status_name_is_one_status(twins):
    assert len(fr.curated_view(twins, "wave", exclude="redundant")) == len(twins) - 1
    assert fr.tag_preview(twins, "wave", statuses="redundant") == {"redundant": 1}
    with pytest.raises(ValueError, match="unknown statuses"):
        fr.curated_view(twins, "wave", exclude="redundnat")


def test_views_it_cannot_analyze_are_refused(twins):
    before = state(twins)
    with pytest.raises(ValueError, match="more than once"):
        fr.compute_wavelet_clusters(twins.limit(2).concat(twins.limit(2)), key="twice", progress=False)
    for sample in twins.iter_samples(autosave=True):
        sample["boxes"] = fo.Detections(detections=[fo.Detection(label="a", bounding_box=[0.1, 0.1, 0.5, 0.5])])
    datasets = set(fo.list_datasets())
    with pytest.raises(ValueError, match="patches, frames or clips"):
        fr.compute_wavelet_clusters(twins.to_patches("boxes"), key="patches", progress=False)
    assert set(fo.list_datasets()) == datasets
    other = twins.clone()
    with pytest.raises(ValueError, match="a run stays on one dataset"):
        fr.compute_split_similarity(twins, train=other.limit(2), test=twins.skip(2), key="leak", progress=False)
    twins.delete_sample_field("boxes")
    assert state(twins) == before


def test_set_representative_is_refused_on_split_runs(twins):
    split = fr.compute_split_similarity(twins, train=twins.limit(2), test=twins.skip(2), key="leak", progress=False)
    with pytest.raises(ValueError, match="compares a test split"):
        fr.set_representative(twins, split.key, twins.first().id)


def test_the_split_analysis_accepts_skip_failures(odd_files):
    dataset = dataset_of([odd_files[n] for n in ("rgb", "gray", "gray_twin", "missing")], "split-skip")
    run = fr.compute_split_similarity(dataset, train=dataset.limit(2), test=dataset.skip(2), skip_failures=True, progress=False)
    assert [item["filepath"] for item in run.details["skipped"]] == [odd_files["missing"]]
    assert run.details["n_test"] == 1


@pytest.mark.parametrize(
    "parameters,arguments,message",
    [
        (WaveletParameters, dict(threshold=math.nan), r"threshold \(a pair score\) must be a finite number"),
        (WaveletParameters, dict(tau=math.nan), "tau must be a finite number"),
        (WaveletParameters, dict(tau=math.inf), "tau must be a finite number"),
        (WaveletParameters, dict(level=1.5), "level must be a whole number"),
        (WaveletParameters, dict(level=True), "level must be a finite whole number"),
        (WaveletParameters, dict(n_clusters=math.nan), "n_clusters must be a finite number"),
        (WaveletParameters, dict(random_state=-1), "random_state must be at least 0"),
        (WaveletParameters, dict(approximation_only="no"), "approximation_only must be True or False"),
        (SSIMParameters, dict(threshold=math.nan), "threshold .* must be a finite number"),
        (SSIMParameters, dict(gamma=math.nan), "gamma must be a finite number"),
        (SSIMParameters, dict(gamma=-1), "gamma must be greater than 0"),
        (SSIMParameters, dict(n_clusters=2.5), "n_clusters must be a whole number"),
        (SSIMParameters, dict(n_eigenvalues=0), "n_eigenvalues must be at least 2"),
        (SSIMParameters, dict(memory_budget_gb=math.inf), "memory_budget_gb must be a finite number"),
        (FeatureParameters, dict(min_cluster_size=1), "min_cluster_size must be at least 2"),
        (FeatureParameters, dict(n_reduce="50"), "n_reduce must be a finite whole number"),
        (FeatureParameters, dict(classwise="yes"), "classwise must be True or False"),
    ],
)
def test_parameters_refuse_numbers_that_make_no_sense(parameters, arguments, message):
    with pytest.raises(ValueError, match=message):
        parameters(**arguments)


@pytest.mark.parametrize(
    "arguments,message",
    [
        (dict(image_size=0), "image_size must be at least 4, got 0"),
        (dict(image_size=4096), "image_size must be at most 1024"),
        (dict(image_size=(32, 32, 3)), "one side or a"),
        (dict(threshold=-5), r"threshold \(a pair score\) must be greater than 0"),
        (dict(threshold=math.nan), "must be a finite number"),
        (dict(n_least_similar=-1), "n_least_similar must be at least 0"),
    ],
)
def test_split_arguments_are_checked(twins, arguments, message):
    before = state(twins)
    with pytest.raises(ValueError, match=message):
        fr.compute_split_similarity(twins, train=twins.limit(2), test=twins.skip(2), key="leak", progress=False, **arguments)
    assert state(twins) == before


def test_a_batch_too_large_for_memory_is_refused_with_the_estimate(twins, monkeypatch):
    monkeypatch.setattr(samples, "BYTES_PER_PIXEL_VALUE", 10**12 // 3072)  # as if each image needed a terabyte
    with pytest.raises(ValueError, match=r"need about .* GiB .* use a\s+smaller image_size"):
        fr.compute_wavelet_clusters(twins, key="big", image_size=1024, progress=False)
    assert "big" not in twins.list_runs()


def test_models_and_embeddings_it_cannot_use_are_named(twins, tmp_path):
    garbage = tmp_path / "model.pt"
    garbage.write_bytes(b"not a model at all")
    with pytest.raises(ValueError, match="cannot load a model from"):
        fr.compute_feature_clusters(twins, model_path=str(garbage), key="feat", progress=False)

    class Named(torch.nn.Module):
        def forward(self, batch):
            return {"logits": batch.mean(dim=(2, 3))}

    with pytest.raises(ValueError, match="wrap a model that returns a dict"):
        fr.compute_feature_clusters(twins, model=Named(), key="feat", progress=False)
    twins.set_values("ragged", [[1.0, 2.0], [1.0], [3.0, 4.0], [5.0, 6.0]])
    twins.set_values("words", ["a", "b", "c", "d"])
    for field in ("ragged", "words"):
        with pytest.raises(ValueError, match="one numeric vector per sample"):
            fr.compute_feature_clusters(twins, embeddings_field=field, key="feat", progress=False)
    assert "feat" not in twins.list_runs()


def test_a_live_writer_is_named_and_a_dead_ones_lease_is_taken_over(twins):
    with runs.RunWriter(twins, "wave"):
        with pytest.raises(runs.RunInProgressError, match=rf"being written by process {os.getpid()}"):
            fr.compute_wavelet_clusters(twins, key="wave", threshold=0.3, progress=False)
    assert fr.load_run(twins, "wave").parameters["threshold"] == DEFAULT_THRESHOLD
    # a writer on another host that died with its staging fields written
    stray = f"{runs.STAGING_PREFIX}0123456789ab_wave_status"
    late = f"{runs.STAGING_PREFIX}0123456789ab_wave_score"
    foo.get_db_conn()[runs.STAGING_LEDGER].insert_many([
        {"dataset_id": str(twins._doc.id), "key": "wave", "attempt": "0123456789ab", "name": name} for name in (stray, late)
    ])  # fmt: skip
    twins.add_sample_field(stray, fo.StringField)
    twins.add_sample_field("redundancy_staging_wave_group", fo.IntField)  # no record names it: a user's field
    now = runs.contract._now()
    foo.get_db_conn()[runs.LEASES].insert_one({
        "_id": runs.transaction._lease_id(twins, "wave"), "dataset_id": str(twins._doc.id), "key": "wave",
        "owner": {"host": "elsewhere", "pid": 1, "attempt": "0123456789ab"}, "since": now - timedelta(hours=1),
        "expires_at": now - timedelta(minutes=1), "staging": [stray],
    })  # fmt: skip
    run = fr.compute_wavelet_clusters(twins, key="wave", threshold=0.3, progress=False)
    assert run.parameters["threshold"] == 0.3
    staging = [name for name in twins.get_field_schema() if name.startswith("redundancy_staging")]
    assert staging == ["redundancy_staging_wave_group"]
    # a staging field with no lease any more (a dead writer's write that landed late): the ledger names it
    twins.add_sample_field(late, fo.FloatField)
    assert fr.list_runs(twins) == ["wave"]
    staging = [name for name in twins.get_field_schema() if name.startswith("redundancy_staging")]
    assert staging == ["redundancy_staging_wave_group"]


def test_feature_and_probe_arguments_are_checked(twins):
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        fr.compute_feature_clusters(twins, model=torch.nn.Flatten(), batch_size=0, key="feat", progress=False)
    with pytest.raises(ValueError, match="image_size must be at least 4"):
        fr.compute_feature_clusters(twins, model=torch.nn.Flatten(), image_size=0, key="feat", progress=False)
    with pytest.raises(ValueError, match="steps must be a finite whole number"):
        fr.compute_boundary_crossings(twins, "wave", model=torch.nn.Flatten(), steps=math.nan)
    assert "feat" not in twins.list_runs() and not twins.has_sample_field("wave_crossings")


def test_tag_names_with_dots_survive_a_recompute(twins):
    fr.tag_samples(twins, "wave", statuses="redundant", tag_names={"redundant": "v1.0.drop"})
    fr.compute_wavelet_clusters(twins, key="wave", threshold=0.2, progress=False)
    removed = fr.untag_samples(twins, "wave", statuses="redundant", tag_names={"redundant": "v1.0.drop"})
    assert removed == {"v1.0.drop": 1} and "v1.0.drop" not in twins.count_sample_tags()


def test_recovery_after_a_writer_died_between_fiftyones_data_and_schema_updates(twins, monkeypatch):
    """FiftyOne renames a field's values, then its schema entry: a kill in between leaves
    values under a name the schema lacks, which loading samples refuses. The next call
    still finishes the commit, and samples load again."""
    sample = twins.first()  # in memory: FiftyOne reloads such samples after field edits

    def rename_values_then_die(self, field_mapping):
        self._sample_collection.update_many({}, {"$rename": dict(field_mapping)})
        raise KeyboardInterrupt  # stands for SIGKILL: nothing after this line runs

    monkeypatch.setattr(fo.Dataset, "rename_sample_fields", rename_values_then_die)
    with pytest.raises(KeyboardInterrupt):
        fr.compute_wavelet_clusters(twins, key="wave", threshold=0.3, progress=False)
    monkeypatch.undo()
    assert "wave" in fr.list_runs(twins)  # recovers
    twins.reload()
    sample.reload()
    assert fr.load_run(twins, "wave").parameters["threshold"] == 0.3
    assert twins.count("wave_status") == len(twins) and sample.wave_status is not None
    assert not [name for name in twins.get_field_schema() if name.startswith("redundancy_staging")]


def test_recovery_after_a_writer_died_inside_fiftyones_saved_view_bookkeeping(twins, monkeypatch):
    """FiftyOne deletes a saved view's document, then the dataset's reference to it: a
    kill in between leaves a dangling reference. The next call repairs it and finishes."""

    def delete_document_then_die(self, name):
        self._get_saved_view_doc(name).delete()
        raise KeyboardInterrupt  # stands for SIGKILL

    monkeypatch.setattr(fo.Dataset, "delete_saved_view", delete_document_then_die)
    with pytest.raises(KeyboardInterrupt):
        fr.compute_wavelet_clusters(twins, key="wave", threshold=0.3, progress=False)
    monkeypatch.undo()
    assert "wave" in fr.list_runs(twins)  # recovers
    twins.reload()
    assert fr.load_run(twins, "wave").parameters["threshold"] == 0.3
    assert twins.list_saved_views() == ["wave-review"]
    assert len(twins.load_saved_view("wave-review")) == len(fr.load_run(twins, "wave").groups_view())


def test_recovery_after_a_writer_died_inside_fiftyones_run_bookkeeping(twins, monkeypatch):
    """The same for a run record: its document deleted, the dataset still naming it."""

    def delete_document_then_die(cls, samples, key, cleanup=True):
        samples._root_dataset._doc.runs[key].delete()
        raise KeyboardInterrupt  # stands for SIGKILL

    monkeypatch.setattr(fors.Run, "delete_run", classmethod(delete_document_then_die))
    with pytest.raises(KeyboardInterrupt):
        fr.compute_wavelet_clusters(twins, key="wave", threshold=0.3, progress=False)
    monkeypatch.undo()
    assert fr.list_runs(twins) == ["wave"]  # recovers
    twins.reload()
    assert fr.load_run(twins, "wave").parameters["threshold"] == 0.3


def test_a_pair_score_run_this_machine_cannot_hold_is_refused_up_front_or_streamed(small_dataset, monkeypatch):
    """As if each image needed a terabyte: SSIM and the split, which hold every image, are
    refused up front, with the way out, and nothing written; the wavelet analysis instead
    decodes to disk and verifies its pairs in shards read from there, and stores the run
    it stores in memory (the same groups and pairs; scores within 1e-4, as torch batches
    the pairs differently, so a representative may change where two members tie)."""
    from fiftyone_redundancy.bridge import analysis

    held = fr.compute_wavelet_clusters(small_dataset, key="held", progress=False)
    monkeypatch.setattr(analysis, "HELD_BYTES_PER_VALUE", 10**12 // 3072)
    fields = set(small_dataset.get_field_schema())
    for refused in (fr.compute_ssim_clusters, fr.compute_split_similarity):
        with pytest.raises(ValueError, match=r"need about [\d.]+ GiB for the analysis, and this machine has [\d.]+ GiB free; analyse a smaller"):
            refused(small_dataset, key="too_big", progress=False)
    assert set(small_dataset.get_field_schema()) == fields and small_dataset.list_runs() == ["held"]
    streamed = fr.compute_wavelet_clusters(small_dataset, key="streamed", progress=False)
    assert "pair_verification" in streamed.timings and streamed.counts == held.counts and held.counts["redundant"] > 0
    def groups(key):
        members = {}
        for sample_id, group in zip(*small_dataset.values(["id", f"{key}_group"])):
            members.setdefault(group, set()).add(sample_id)
        return {frozenset(ids) for group, ids in members.items() if group >= 0}

    assert groups("streamed") == groups("held")
    for column, values in held.details["pairs"].items():
        np.testing.assert_allclose(streamed.details["pairs"][column], values, atol=1e-4)


def test_feature_maps_name_an_unreadable_image_or_skip_it_and_describe_the_rest_as_without_it(odd_files):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten()).eval()
    readable = ["rgb", "gray", "rgba", "palette", "sixteen", "large", "other", "gray_twin"]
    broken = ["truncated", "text", "missing"]
    order = ["rgb", "truncated", "gray", "rgba", "text", "palette", "sixteen", "large", "missing", "other", "gray_twin"]
    dataset = dataset_of([odd_files[n] for n in order], "features-skip")
    options = dict(model=model, reduction="none", min_cluster_size=2, batch_size=3, store_features=True, progress=False)
    with pytest.raises(ImageReadError, match=r"skip_failures=True") as error:
        fr.compute_feature_clusters(dataset, **options)
    assert odd_files["truncated"] in str(error.value) and "features" not in dataset.list_runs()

    run = fr.compute_feature_clusters(dataset, skip_failures=True, **options)
    assert [item["filepath"] for item in run.details["skipped"]] == [odd_files[n] for n in order if n in broken]
    assert dataset.count("features_status") == len(readable)
    clean = dataset_of([odd_files[n] for n in order if n in readable], "features-clean")
    fr.compute_feature_clusters(clean, **options)
    # each readable sample keeps its own features: none shifted onto a neighbour's row
    skipped_run = dict(zip(dataset.values("filepath"), dataset.values("features_embedding")))
    for path, embedding in zip(clean.values("filepath"), clean.values("features_embedding")):
        np.testing.assert_allclose(skipped_run[path], embedding, rtol=1e-5, atol=1e-6)
