"""Tag, override, combine, export and delete, on the small demo dataset with real runs."""

import csv
import os

import fiftyone as fo
import pytest
from fiftyone import ViewField as F

import fiftyone_redundancy.api as fr



@pytest.fixture(scope="module")
def analyzed_source(small_demo_dataset):
    dataset = small_demo_dataset.clone()
    fr.compute_wavelet_clusters(dataset, label_field="ground_truth", key="wavelet", progress=False)
    fr.compute_ssim_clusters(dataset, label_field="ground_truth", key="ssim", mode="sparse", progress=False)
    yield dataset
    dataset.delete()


@pytest.fixture
def analyzed(analyzed_source):
    """A copy of a dataset with a wavelet run and a sparse SSIM run (their fields, records
    and review views copied with it), which a test may change freely."""
    dataset = analyzed_source.clone()
    yield dataset
    dataset.delete()


def ids_with(dataset, key, statuses):
    return {i for i, s in zip(dataset.values("id"), dataset.values(f"{key}_status")) if s in statuses}


def test_tagging_matches_the_preview_and_keeps_existing_tags(analyzed):
    before = analyzed.count_sample_tags()
    preview = fr.tag_preview(analyzed, ["wavelet"], tag_names={"redundant": "drop_me"})
    counts = fr.tag_samples(analyzed, ["wavelet"], tag_names={"redundant": "drop_me"})
    assert counts == preview
    tags = analyzed.count_sample_tags()
    assert tags["drop_me"] == preview["drop_me"] == len(ids_with(analyzed, "wavelet", {"redundant"}))
    assert tags["influential"] == len(ids_with(analyzed, "wavelet", {"influential"}))
    assert tags["train"] == before["train"] and tags["test"] == before["test"]
    fr.untag_samples(analyzed, ["wavelet"], tag_names={"redundant": "drop_me"})
    assert analyzed.count_sample_tags() == before


def test_tagging_several_runs_tags_the_union(analyzed):
    counts = fr.tag_samples(analyzed, ["wavelet", "ssim"], statuses=["redundant"])
    marked = ids_with(analyzed, "wavelet", {"redundant"}) | ids_with(analyzed, "ssim", {"redundant"})
    tagged = set(analyzed.match_tags("redundant").values("id"))
    assert counts == {"redundant": len(tagged)}
    assert_families_keep_a_member(analyzed, ["wavelet", "ssim"], set(analyzed.values("id")) - tagged, marked)


def test_overriding_a_representative_updates_exactly_that_group(analyzed):
    group = analyzed.match((F("planted") == "near_duplicate") & (F("wavelet_status") == "redundant")).first().wavelet_group
    members = analyzed.match(F("wavelet_group") == group)
    chosen = members.match(F("wavelet_status") == "redundant").first().id
    outside = analyzed.match(F("wavelet_group") != group)
    before = {field: outside.values(field) for field in ("wavelet_status", "wavelet_representative")}

    run = fr.set_representative(analyzed, "wavelet", chosen)

    assert analyzed[chosen].wavelet_status == "representative"
    assert analyzed[chosen].wavelet_representative is None
    others = members.match(F("_id") != analyzed[chosen]._id)
    assert set(others.values("wavelet_status")) == {"redundant"}
    assert set(others.values("wavelet_representative")) == {chosen}
    assert {field: outside.values(field) for field in before} == before
    assert run.details["overrides"][-1]["representative"] == chosen


def test_every_run_saves_a_review_view_that_follows_it(analyzed):
    view = analyzed.load_saved_view("wavelet-review")
    assert view.values("id") == fr.load_run(analyzed, "wavelet").groups_view().values("id")
    statuses, groups = view.values("wavelet_status"), view.values("wavelet_group")
    assert all(statuses[i] in ("representative", "influential") for i in range(len(groups)) if i == 0 or groups[i] != groups[i - 1])
    fr.rename_run(analyzed, "wavelet", "wav2")
    assert analyzed.has_saved_view("wav2-review") and not analyzed.has_saved_view("wavelet-review")
    fr.delete_run(analyzed, "wav2")
    assert not analyzed.has_saved_view("wav2-review")


def test_an_influential_group_has_no_representative_to_override(analyzed):
    sample = analyzed.match(F("wavelet_status") == "influential").first()
    with pytest.raises(ValueError, match="mixes labels"):
        fr.set_representative(analyzed, "wavelet", sample.id)


def test_union_and_intersection_of_two_runs(analyzed):
    wavelet = ids_with(analyzed, "wavelet", {"redundant", "outlier"})
    ssim = ids_with(analyzed, "ssim", {"redundant", "outlier"})
    assert wavelet - ssim and ssim - wavelet and wavelet & ssim  # the two runs differ
    everything = set(analyzed.values("id"))
    union = set(fr.curated_view(analyzed, ["wavelet", "ssim"], combine="union").values("id"))
    both = set(fr.curated_view(analyzed, ["wavelet", "ssim"], combine="intersection").values("id"))
    assert_families_keep_a_member(analyzed, ["wavelet", "ssim"], union, wavelet | ssim)
    assert both == everything - (wavelet & ssim)  # a representative is never marked by both


def families(dataset, key):
    """{group: ids} of the run's families (a representative and its redundant copies)."""
    view = dataset.match(F(f"{key}_status").is_in(["representative", "redundant"]))
    members = {}
    for sample_id, group in zip(view.values("id"), view.values(f"{key}_group")):
        members.setdefault(group, set()).add(sample_id)
    return members


def assert_families_keep_a_member(dataset, keys, kept, marked):
    """``kept`` leaves out what the runs mark (``marked``) but for one member of each
    family that would otherwise lose all of them, and keeps everything else."""
    everything = set(dataset.values("id"))
    spared = kept & marked
    assert kept == (everything - marked) | spared
    every_family = [members for key in keys for members in families(dataset, key).values()]
    assert all(members & kept for members in every_family)
    assert spared, "two runs that disagree on representatives leave some family wholly marked"
    wholly_marked = [members for members in every_family if members <= marked]
    assert all(members & spared for members in wholly_marked)
    assert len(spared) <= len(wholly_marked)


def read_manifest(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("dataset_type", ["FiftyOneDataset", "ImageClassificationDirectoryTree", "CSV"])
def test_export_reimports_the_kept_samples_with_labels_and_lists_the_dropped(analyzed, tmp_path, dataset_type):
    export_dir = str(tmp_path / dataset_type)
    summary = fr.export_curated(analyzed, ["wavelet"], export_dir, dataset_type, label_field="ground_truth")
    kept = fr.curated_view(analyzed, ["wavelet"])
    dropped = analyzed.match(F("wavelet_status").is_in(["redundant", "outlier"]))
    assert summary["kept"] == len(kept) and summary["dropped"] == len(dropped) > 0
    assert summary["dropped_by_status"]["wavelet"]["redundant"] == len(dropped)

    expected = sorted(kept.values("ground_truth.label"))
    if dataset_type == "CSV":
        rows = read_manifest(os.path.join(export_dir, "labels.csv"))
        assert sorted(row["label"] for row in rows) == expected
        assert {row["filepath"] for row in rows} == set(kept.values("filepath"))
    else:
        reimported = fo.Dataset.from_dir(
            dataset_dir=export_dir, dataset_type=getattr(fo.types, dataset_type), label_field="ground_truth"
        )
        assert sorted(reimported.values("ground_truth.label")) == expected
        reimported.delete()

    manifest = read_manifest(summary["manifest"])
    assert {row["filepath"] for row in manifest} == set(dropped.values("filepath"))
    by_path = dict(zip(analyzed.values("id"), analyzed.values("filepath")))
    for row in manifest:
        sample = analyzed[dict(zip(dropped.values("filepath"), dropped.values("id")))[row["filepath"]]]
        assert row["status"] == sample.wavelet_status and row["run_key"] == "wavelet"
        assert row["label"] == sample.ground_truth.label
        assert row["representative_filepath"] == by_path[sample.wavelet_representative]


@pytest.mark.parametrize("dataset_type", ["COCO", "YOLO"])
def test_detection_formats_round_trip(analyzed, tmp_path, dataset_type):
    boxes = [
        fo.Detections(detections=[fo.Detection(label=label, bounding_box=[0.1, 0.1, 0.8, 0.8])])
        for label in analyzed.values("ground_truth.label")
    ]
    analyzed.set_values("objects", boxes)
    with pytest.raises(ValueError, match="holds detections"):
        fr.export_curated(analyzed, ["wavelet"], str(tmp_path / "bad"), dataset_type, label_field="ground_truth")
    export_dir = str(tmp_path / dataset_type)
    summary = fr.export_curated(analyzed, ["wavelet"], export_dir, dataset_type, label_field="objects")
    kwargs = {"split": "val"} if dataset_type == "YOLO" else {"label_types": "detections"}
    reimported = fo.Dataset.from_dir(
        dataset_dir=export_dir, dataset_type=fr.EXPORT_FORMATS[dataset_type], label_field="objects", **kwargs
    )
    assert len(reimported) == summary["kept"]
    assert sorted(reimported.values("objects.detections.label", unwind=True)) == sorted(
        fr.curated_view(analyzed, ["wavelet"]).values("ground_truth.label")
    )
    reimported.delete()


def folder_state(folder):
    """Every file under ``folder`` with its content: what a refused export must not change."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_a_folder_holding_other_files_is_never_emptied_even_with_overwrite(analyzed, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "thesis.txt").write_text("four years of work")
    for overwrite in (False, True):
        with pytest.raises(FileExistsError, match=r"thesis.txt.*never deleted"):
            fr.export_curated(analyzed, ["wavelet"], str(folder), overwrite=overwrite)
    assert folder_state(folder) == {"thesis.txt": b"four years of work"}
    assert os.listdir(tmp_path) == ["out"]  # no temporary folder left beside it


def test_an_earlier_export_is_replaced_only_with_overwrite(analyzed, tmp_path):
    folder = tmp_path / "out"
    fr.export_curated(analyzed, ["wavelet"], str(folder), "FiftyOneDataset")
    first = folder_state(folder)
    assert any(name.startswith("data/") for name in first) and "redundancy-export.json" in first
    with pytest.raises(FileExistsError, match="earlier export; pass overwrite=True"):
        fr.export_curated(analyzed, ["wavelet"], str(folder), "CSV", label_field="ground_truth")
    assert folder_state(folder) == first
    summary = fr.export_curated(analyzed, ["wavelet"], str(folder), "CSV", label_field="ground_truth", overwrite=True)
    assert sorted(folder_state(folder)) == ["excluded.csv", "labels.csv", "redundancy-export.json"]
    assert summary["export_dir"] == str(folder) and os.listdir(tmp_path) == ["out"]


@pytest.mark.parametrize("bad", [
    {"dataset_type": "TFRecords"},
    {"label_field": "no_such_field"},
    {"keys": ["no_such_run"]},
    {"exclude": ["redundent"]},
    {"combine": "both"},
    {"dataset_type": "COCO", "label_field": "ground_truth"},
])  # fmt: skip
def test_bad_arguments_leave_an_earlier_export_untouched_even_with_overwrite(analyzed, tmp_path, bad):
    folder = tmp_path / "out"
    fr.export_curated(analyzed, ["wavelet"], str(folder), "CSV", label_field="ground_truth")
    before = folder_state(folder)
    arguments = {"keys": ["wavelet"], "dataset_type": "CSV", "label_field": "ground_truth", **bad}
    with pytest.raises(ValueError):
        fr.export_curated(analyzed, export_dir=str(folder), overwrite=True, **arguments)
    assert folder_state(folder) == before and os.listdir(tmp_path) == ["out"]


def test_taken_names_and_a_file_as_folder_are_refused_before_anything_is_written(analyzed, tmp_path):
    analyzed.save_view("mine", analyzed.limit(3))
    taken = fo.Dataset("someone-elses")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("notes")
    try:
        for arguments, message in [
            (dict(new_dataset="someone-elses"), "already exists"),
            (dict(saved_view="mine"), "already has a saved view 'mine'.*overwrite=True"),
        ]:
            with pytest.raises(ValueError, match=message):
                fr.export_curated(analyzed, ["wavelet"], str(tmp_path / "out"), **arguments)
        with pytest.raises(FileExistsError, match="is a file, not a folder"):
            fr.export_curated(analyzed, ["wavelet"], str(a_file))
        assert sorted(os.listdir(tmp_path)) == ["notes.txt"] and len(taken) == 0
        assert len(analyzed.load_saved_view("mine")) == 3
    finally:
        taken.delete()


def test_an_export_that_fails_midway_leaves_the_earlier_one_in_place(analyzed, tmp_path):
    folder = tmp_path / "out"
    fr.export_curated(analyzed, ["wavelet"], str(folder), "CSV", label_field="ground_truth")
    before = folder_state(folder)

    def interrupt(progress_bar):
        raise KeyboardInterrupt("stopped by the user")

    with pytest.raises(KeyboardInterrupt):
        fr.export_curated(analyzed, ["wavelet"], str(folder), overwrite=True,
                          progress=fo.report_progress(interrupt, dt=0.0))  # fmt: skip
    assert folder_state(folder) == before and os.listdir(tmp_path) == ["out"]


def test_curated_view_can_become_a_dataset_or_a_saved_view(analyzed, tmp_path):
    summary = fr.export_curated(
        analyzed, ["wavelet"], str(tmp_path / "out"), new_dataset="curated-copy", saved_view="curated"
    )
    copy = fo.load_dataset("curated-copy")
    assert len(copy) == summary["kept"] == len(analyzed.load_saved_view("curated"))
    copy.delete()


def test_the_deletion_manifest_never_replaces_an_existing_file(analyzed, tmp_path):
    earlier = tmp_path / "deleted.csv"
    earlier.write_text("the record of an earlier deletion")
    count = len(analyzed)
    with pytest.raises(FileExistsError, match="never replaced"):
        fr.delete_excluded(analyzed, ["wavelet"], str(earlier), confirm=True)
    with pytest.raises(IsADirectoryError, match="give the manifest a file name"):
        fr.delete_excluded(analyzed, ["wavelet"], str(tmp_path), confirm=True)
    assert len(analyzed) == count and earlier.read_text() == "the record of an earlier deletion"


def test_nothing_is_deleted_without_confirmation(analyzed, tmp_path):
    count = len(analyzed)
    dropped = set(analyzed.match(F("wavelet_status").is_in(["redundant", "outlier"])).values("filepath"))
    manifest = str(tmp_path / "deleted.csv")
    with pytest.raises(PermissionError, match="confirm=True"):
        fr.delete_excluded(analyzed, ["wavelet"], manifest)
    assert len(analyzed) == count and not os.path.exists(manifest)
    deleted = fr.delete_excluded(analyzed, ["wavelet"], manifest, confirm=True)
    assert deleted == len(dropped) and len(analyzed) == count - deleted
    assert {row["filepath"] for row in read_manifest(manifest)} == dropped
    assert not set(analyzed.values("filepath")) & dropped


PLUGIN = "@fiftyone-redundancy/redundancy"


def run_operator(name, dataset, params, selected=None):
    import fiftyone.operators as foo

    ctx = dict(dataset=dataset, params=params)
    if selected is not None:
        ctx["selected"] = selected
    return foo.execute_operator(f"{PLUGIN}/{name}", ctx=ctx)


def shown_output(result):
    """``(title, summary)`` of what a generator operator showed the App at its end."""
    assert result.error is None, result.error
    (shown,) = [r["params"] for r in result.to_json()["executor"]["requests"] if r["operator_uri"] == "show_output"]
    return shown["outputs"]["view"]["label"], shown["results"]["summary"]


def form_text(dataset, name, params):
    from fiftyone.operators.executor import ExecutionContext
    from fiftyone.operators.registry import OperatorRegistry

    operator = OperatorRegistry().get_operator(f"{PLUGIN}/{name}")
    ctx = ExecutionContext(request_params={"dataset_name": dataset.name, "params": params})
    return str(operator.resolve_input(ctx).to_json())


def test_tag_operator_tags_what_its_form_announces(analyzed):
    params = {"keys": ["wavelet"], "use_influential": False, "use_outlier": False}
    expected = len(ids_with(analyzed, "wavelet", {"redundant"}))
    assert f"**{expected}** samples as `redundant`" in form_text(analyzed, "tag_redundancy", params)
    result = run_operator("tag_redundancy", analyzed, params)
    assert result.error is None, result.error
    assert result.result["counts"] == {"redundant": expected} == {"redundant": analyzed.count_sample_tags()["redundant"]}
    run_operator("untag_redundancy", analyzed, params)
    assert "redundant" not in analyzed.count_sample_tags()


def test_export_and_delete_operators(analyzed, tmp_path):
    result = run_operator("export_curated", analyzed, {"keys": ["wavelet"], "export_dir": str(tmp_path / "x"),
                                                       "dataset_type": "CSV", "label_field": "ground_truth"})  # fmt: skip
    title, summary = shown_output(result)
    assert title == "Curated set exported"
    labels = [r["params"]["label"] for r in result.to_json()["executor"]["requests"] if r["operator_uri"] == "set_progress"]
    assert labels and labels[-1].startswith("Exporting 100%")  # the App shows how far the export is
    assert f"Exported **{len(fr.curated_view(analyzed, ['wavelet'])):,}** samples" in summary
    assert len(list(csv.reader(open(tmp_path / "x" / "labels.csv")))) >= len(fr.curated_view(analyzed, ["wavelet"]))
    count = len(analyzed)
    from fiftyone.operators.executor import ExecutionError

    with pytest.raises(ExecutionError, match="confirm"):  # the form requires the box
        run_operator("delete_excluded", analyzed, {"keys": ["wavelet"], "manifest_path": str(tmp_path / "m.csv")})
    with pytest.raises(ExecutionError, match="needs confirm=True"):
        run_operator("delete_excluded", analyzed, {"keys": ["wavelet"], "manifest_path": str(tmp_path / "m.csv"), "confirm": False})
    assert len(analyzed) == count and not os.path.exists(tmp_path / "m.csv")
    done = run_operator("delete_excluded", analyzed, {"keys": ["wavelet"], "manifest_path": str(tmp_path / "m.csv"), "confirm": True})
    assert done.error is None, done.error
    assert len(analyzed) == count - done.result["deleted"]


def test_set_representative_operator_on_the_selected_sample(analyzed):
    chosen = analyzed.match(F("wavelet_status") == "redundant").first().id
    result = run_operator("set_representative", analyzed, {"key": "wavelet"}, selected=[chosen])
    assert result.error is None, result.error
    assert analyzed[chosen].wavelet_status == "representative"


def test_every_curation_operator_ends_with_a_readable_summary(analyzed, tmp_path):
    params = {"keys": ["wavelet"], "use_influential": False, "use_outlier": False}
    redundant = len(ids_with(analyzed, "wavelet", {"redundant"}))
    tagged = run_operator("tag_redundancy", analyzed, params).result["summary"]
    assert tagged.startswith(f"Tagged **{redundant:,}** samples `redundant` (runs wavelet) in ")
    untagged = run_operator("untag_redundancy", analyzed, params).result["summary"]
    assert untagged.startswith(f"Removed the tags from **{redundant:,}** samples `redundant`")
    assert "Existing tags are never removed by tagging" not in form_text(analyzed, "untag_redundancy", params)

    folder = tmp_path / "out"
    exported = run_operator("export_curated", analyzed, {"keys": ["wavelet"], "export_dir": str(folder),
                                                         "dataset_type": "CSV", "label_field": "ground_truth"})  # fmt: skip
    kept, dropped = len(fr.curated_view(analyzed, ["wavelet"])), len(fr.excluded_view(analyzed, ["wavelet"]))
    text = shown_output(exported)[1]
    assert f"Exported **{kept:,}** samples as CSV to `{folder}`" in text
    assert f"Left out **{dropped:,}** (run `wavelet`: " in text and f"`{folder / 'excluded.csv'}`" in text

    chosen = analyzed.match(F("wavelet_status") == "redundant").first()
    changed = run_operator("set_representative", analyzed, {"key": "wavelet"}, selected=[chosen.id]).result["summary"]
    assert changed.startswith(f"`{os.path.basename(chosen.filepath)}` now represents group **{chosen.wavelet_group}**")

    manifest = tmp_path / "deleted.csv"
    deleted = run_operator("delete_excluded", analyzed, {"keys": ["wavelet"], "manifest_path": str(manifest), "confirm": True})
    assert deleted.result["summary"].startswith(f"Deleted **{deleted.result['deleted']:,}** samples from dataset")


def test_run_choices_are_strict_and_newest_first(analyzed, tmp_path):
    fr.compute_wavelet_clusters(analyzed, key="z_latest", progress=False)
    form = form_text(analyzed, "tag_redundancy", {})
    assert "'default': ['z_latest']" in form and "'allow_user_input': False" in form
    typed = form_text(analyzed, "tag_redundancy", {"keys": ["nope"]})  # typed + Enter: a message, no traceback
    assert "No run named 'nope'; choose among z_latest, ssim, wavelet" in typed
    from fiftyone.operators.executor import ExecutionError

    with pytest.raises(ExecutionError, match="No run named 'nope'"):
        run_operator("tag_redundancy", analyzed, {"keys": ["nope"]})
    folder = tmp_path / "theirs"
    folder.mkdir()
    (folder / "thesis.txt").write_text("keep me")
    form = form_text(analyzed, "export_curated", {"keys": ["wavelet"], "export_dir": str(folder), "overwrite": True})
    assert "never deleted: choose an empty or new folder" in form
    with pytest.raises(ExecutionError, match="never deleted"):  # the form refuses it before anything runs
        run_operator("export_curated", analyzed, {"keys": ["wavelet"], "export_dir": str(folder), "overwrite": True})
    assert os.listdir(folder) == ["thesis.txt"]


def test_an_export_failing_in_the_app_says_so_as_its_result_and_changes_nothing(analyzed):
    result = run_operator("export_curated", analyzed, {"keys": ["wavelet"], "export_dir": "/proc/no-exports-here"})
    # not an uncaught error that would replace the panel that opened the form
    title, summary = shown_output(result)
    assert title == "Failed" and summary.startswith("**Export failed, nothing changed:** cannot write in /proc")
    assert not os.path.exists("/proc/no-exports-here")
