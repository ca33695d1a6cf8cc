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
"""

import numpy as np
import pytest
from PIL import Image, ImageOps
from skimage import data

import fiftyone as fo
import fiftyone_redundancy.api as fr
from fiftyone_redundancy.core.feature_analysis import FeatureParameters, analyze_features
from fiftyone_redundancy.core.images import ImageReadError, load_image


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


def test_skip_failures_reports_them_and_analyses_the_rest(odd_files):
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


def test_a_grouped_dataset_is_refused_with_its_slices_and_one_slice_is_analysed(odd_files):
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
