"""The panels without a browser: their figures on inputs whose answer is known, and their
handlers run headlessly through FiftyOne's executor on a stored run (what the App would
receive: state and data patches, and the view it is told to show)."""

import os

import fiftyone.core.view as fov
import fiftyone.operators as foo
import numpy as np
import pytest
from fiftyone import ViewField as F

import fiftyone_redundancy.api as fr
from fiftyone_redundancy.panels import figures
from fiftyone_redundancy.panels.redundancy import NO_RUNS

pytestmark = pytest.mark.slow

PLUGIN = "@fiftyone-redundancy/redundancy"


def call_panel(dataset, panel, method, state=None, **params):
    """Run one panel handler as the App would; returns (state patches, data patches,
    other App requests) merged in order."""
    result = foo.execute_operator(
        f"{PLUGIN}/{panel}",
        ctx=dict(dataset=dataset, params={"__method__": method, "panel_id": "p1", "panel_state": dict(state or {}), **params}),
    )
    assert result.error is None, result.error
    state, data, requests = dict(state or {}), {}, []
    for request in result.to_json()["executor"]["requests"]:
        uri, sent = request["operator_uri"], request["params"]
        if uri == "patch_panel_state":
            state.update(sent["state"])
        elif uri == "patch_panel_data":
            data.update(sent["data"])
        elif uri != "clear_panel_data":
            requests.append(request)
    return state, data, requests


def shown_ids(dataset, serialized_view):
    """The sample ids, in order, of a view the panel told the App to show."""
    return fov.DatasetView._build(dataset, serialized_view).values("id")


def revision_data(state, data, name):
    return data[f"{name}_{state['revision']}"]


def table_rows(state, data, name="groups"):
    """The rows of a table the panel sent, as ``{column: value}``."""
    table = revision_data(state, data, name)
    return [dict(zip(table["columns"], row)) for row in table["rows"]]


# --- figures ---------------------------------------------------------------------------


def test_every_point_is_drawn_when_they_fit():
    chosen = figures.choose_points(["unique"] * 10 + ["redundant"] * 2, max_points=12)
    assert list(chosen.indices) == list(range(12)) and not chosen.downsampled
    assert figures.downsample_note(chosen, ["unique"] * 12) == ""


def test_downsampling_keeps_every_flagged_point_and_says_so():
    statuses = np.array(["unique"] * 50_000, dtype=object)
    flagged = np.arange(0, 50_000, 100)  # 500 flagged samples
    statuses[flagged] = "redundant"
    chosen = figures.choose_points(statuses, max_points=20_000)
    assert len(chosen.indices) == 20_000 and set(flagged) <= set(chosen.indices)
    assert len(set(chosen.indices)) == 20_000
    note = figures.downsample_note(chosen, statuses)
    assert "Showing 20,000 of 50,000 points (every flagged sample" in note


def test_downsampling_samples_flagged_points_when_they_alone_exceed_the_cap():
    statuses = ["redundant"] * 30 + ["unique"] * 10
    chosen = figures.choose_points(statuses, max_points=20)
    assert len(chosen.indices) == 20 and all(statuses[i] == "redundant" for i in chosen.indices)
    assert "20 of 30 flagged samples" in figures.downsample_note(chosen, statuses)


def test_map_links_each_redundant_point_to_its_representative():
    points = [[0, 0], [1, 1], [5, 5], [9, 9]]
    ids = ["rep", "copy", "alone", "far"]
    statuses = ["representative", "redundant", "unique", "outlier"]
    representatives = ["rep", "rep", None, None]
    traces, _ = figures.embedding_map(points, ids, statuses, representatives)
    links = traces[0]
    assert links["mode"] == "lines" and links["x"] == [1, 0, None] and links["y"] == [1, 0, None]
    by_name = {trace["name"]: trace["ids"] for trace in traces[1:]}
    assert by_name == {
        "unique (kept) (1)": ["alone"],
        "redundant (1)": ["copy"],
        "outlier (1)": ["far"],
        "representative (kept) (1)": ["rep"],
    }


def test_the_samples_the_grid_shows_are_ringed_in_a_last_trace_even_when_downsampled_away():
    points = [[0, 0], [1, 1], [5, 5], [9, 9]]
    ids = ["rep", "copy", "alone", "far"]
    args = (points, ids, ["representative", "redundant", "unique", "unique"], ["rep", "rep", None, None])
    hover = ["rep.png", "copy.png", "alone.png", "far.png"]
    plain, _ = figures.embedding_map(*args, hover=hover, max_points=3)
    traces, _ = figures.embedding_map(*args, hover=hover, shown=["far", "alone", "copy", "deleted since"], max_points=3)
    assert [{**t, "marker": {**t["marker"], "opacity": 1.0}} for t in traces[1:-1]] == plain[1:]  # the others fade
    assert {t["marker"]["opacity"] for t in traces[1:-1]} == {figures.FADED} and traces[0] == plain[0]
    drawn = {sample_id for trace in plain[1:] for sample_id in trace["ids"]}
    assert len(drawn & {"alone", "far"}) == 1  # one unique point downsampled away...
    ring = traces[-1]
    assert ring["name"] == "shown in the grid (3)" and ring["ids"] == ["copy", "alone", "far"]  # ...yet ringed
    assert (ring["x"], ring["y"], ring["text"]) == ([1, 5, 9], [1, 5, 9], ["copy.png", "alone.png", "far.png"])
    assert ring["marker"]["line"]["width"] > 0 and ring["marker"]["size"] > plain[1]["marker"]["size"]
    redundant, unique = figures.STATUS_COLORS["redundant"], figures.STATUS_COLORS["unique"]
    assert ring["marker"]["color"] == [redundant, unique, unique]  # each in its own colour


def test_map_colored_by_label_and_in_3d():
    points = [[0, 0, 0], [1, 1, 1], [2, 2, 2]]
    traces, _ = figures.embedding_map(
        points, ["a", "b", "c"], ["unique"] * 3, [None] * 3, colors=["cat", "dog", "cat"]
    )
    assert [(t["type"], t["name"], t["ids"]) for t in traces] == [
        ("scatter3d", "cat (2)", ["a", "c"]),
        ("scatter3d", "dog (1)", ["b"]),
    ]
    assert traces[0]["z"] == [0.0, 2.0]


def test_the_spectrum_drawn_covers_the_choice_of_k():
    assert figures.spectrum_shown(510, 7) == 50
    assert figures.spectrum_shown(510, 40) == 120
    assert figures.spectrum_shown(30, 7) == 30


def test_spectrum_marks_the_chosen_k_and_the_gap_threshold():
    traces = figures.spectrum_chart([0.0, 0.0, 0.1, 2.0, 2.1])
    assert np.allclose(traces[1]["y"], [0.0, 0.1, 1.9, 0.1])
    layout = figures.spectrum_layout(n_clusters=3, gamma=0.4)
    k_line, gamma_line = layout["shapes"]
    assert k_line["x0"] == 3.5 and gamma_line["y0"] == 0.4 and gamma_line["yref"] == "y2"


# --- handlers on stored runs -----------------------------------------------------------


def test_redundancy_panel_without_runs_says_how_to_make_one(small_dataset):
    state, data, _ = call_panel(small_dataset, "redundancy_panel", "on_load")
    assert state["summary_md"] == NO_RUNS and state["key"] is None


def test_redundancy_panel_loads_counts_and_groups_largest_first(small_dataset):
    run = fr.compute_wavelet_clusters(small_dataset, label_field="ground_truth", key="wavelet", progress=False)
    state, data, _ = call_panel(small_dataset, "redundancy_panel", "on_load")
    assert state["key"] == "wavelet"
    assert f"**{run.counts['redundant']:,}** redundant" in state["summary_md"]
    assert revision_data(state, data, "status_chart")[0]["x"] == [run.counts[s] for s in
        ("representative", "redundant", "influential", "outlier", "unique")]  # fmt: skip
    rows = table_rows(state, data)
    sizes = run.group_sizes()
    assert [row["size"] for row in rows] == sorted(sizes.values(), reverse=True)
    assert len(rows) == len(sizes) and rows[0]["group"] == run.largest_groups()[0]


def test_mixed_label_groups_list_their_labels_and_have_no_representative(small_dataset):
    run = fr.compute_wavelet_clusters(small_dataset, label_field="ground_truth", key="wavelet", progress=False)
    lookalikes = small_dataset.match(F("planted") == "lookalike")
    planted_groups = set(lookalikes.values("wavelet_group"))
    rows = {row["group"]: row for row in run.group_rows()}
    for group in planted_groups:
        labels = set(small_dataset.match(F("wavelet_group") == group).values("ground_truth.label"))
        assert rows[group]["kind"] == "mixed labels"
        assert rows[group]["labels"] == ", ".join(sorted(labels)) and len(labels) == 2
        assert rows[group]["representative"] == "—"


def test_clicking_a_group_row_shows_that_group_representative_first(small_dataset):
    run = fr.compute_wavelet_clusters(small_dataset, label_field="ground_truth", key="wavelet", progress=False)
    state, data, _ = call_panel(small_dataset, "redundancy_panel", "on_load")
    assert revision_data(state, data, "groups")["selected_rows"] == []
    _, data, requests = call_panel(small_dataset, "redundancy_panel", "show_group", state=state, event_args={}, row=2)
    assert revision_data(state, data, "groups")["selected_rows"] == [2]  # the clicked row is highlighted
    (set_view,) = [r for r in requests if r["operator_uri"] == "set_view"]
    group = run.largest_groups()[2]
    shown = shown_ids(small_dataset, set_view["params"]["view"])
    assert shown == run.group_view(group).values("id") and len(shown) == run.group_sizes()[group]
    assert small_dataset[shown[0]]["wavelet_status"] == "representative"


def test_ssim_and_split_runs_load_their_charts(small_dataset):
    fr.compute_ssim_clusters(small_dataset, label_field="ground_truth", key="ssim", progress=False)
    split = fr.compute_split_similarity(small_dataset, key="split", progress=False)
    state, data, _ = call_panel(small_dataset, "redundancy_panel", "on_change_run", value="ssim")
    spectrum = revision_data(state, data, "spectrum")[0]["y"]
    stored = fr.load_run(small_dataset, "ssim").details["spectrum"]
    assert spectrum == stored[: max(50, 3 * state["spectrum_k"])] and len(stored) == len(small_dataset)
    assert f"k = {state['spectrum_k']}" in state["spectrum_md"].replace("**", "")
    state, data, _ = call_panel(small_dataset, "redundancy_panel", "on_change_run", value="split")
    histogram = revision_data(state, data, "histogram")[0]["x"]
    assert len(histogram) == split.details["n_test"] and state["threshold"] == split.parameters["threshold"]
    assert f"**{split.details['n_near_identical']:,}** of {split.details['n_test']:,} test samples" in state["summary_md"]


def test_embedding_map_draws_every_sample_once_and_offers_only_runs_with_points(small_dataset):
    run = fr.compute_wavelet_clusters(small_dataset, label_field="ground_truth", key="wavelet", progress=False)
    fr.compute_split_similarity(small_dataset, key="split", progress=False)
    state, data, _ = call_panel(small_dataset, "embedding_map", "on_load")
    assert state["key"] == "wavelet"  # the split run, though newer, has no map
    traces = revision_data(state, data, "embedding")
    drawn = [sample_id for trace in traces for sample_id in trace.get("ids", [])]
    assert sorted(drawn) == sorted(small_dataset.values("id"))
    links = traces[0]
    assert len(links["x"]) == 3 * run.counts["redundant"]
    assert state["has_labels"] and not state["has_3d"]


def test_lasso_selection_selects_and_shows_those_samples(small_dataset):
    fr.compute_wavelet_clusters(small_dataset, label_field="ground_truth", key="wavelet", progress=False)
    state, _, _ = call_panel(small_dataset, "embedding_map", "on_load")
    chosen = small_dataset.take(7, seed=1).values("id")
    lasso = [{"id": sample_id, "trace": "unique"} for sample_id in chosen] + [{"id": None, "trace": "links"}]
    state, _, requests = call_panel(small_dataset, "embedding_map", "on_selected", state=state, data=lasso)
    uris = {r["operator_uri"]: r["params"] for r in requests}
    selected = uris["set_selected_samples"]["samples"]
    assert sorted(s["id"] if isinstance(s, dict) else s for s in selected) == sorted(chosen)
    assert sorted(shown_ids(small_dataset, uris["set_view"]["view"])) == sorted(chosen)
    assert state["selection_md"].startswith("**7** samples selected")


def ring(state, data):
    """The ids the map rings as shown in the grid (none: no such trace)."""
    traces = revision_data(state, data, "embedding")
    return [sample_id for trace in traces if trace["name"].startswith("shown in the grid") for sample_id in trace["ids"]]


def test_the_map_rings_what_the_grid_shows_and_its_text_says_what_that_is(small_dataset):
    fr.compute_wavelet_clusters(small_dataset, key="other", progress=False)
    run = fr.compute_wavelet_clusters(small_dataset, label_field="ground_truth", key="wavelet", progress=False)
    state, _, _ = call_panel(small_dataset, "embedding_map", "on_load")
    chosen = small_dataset.take(7, seed=1).values("id")
    lasso = [{"id": sample_id} for sample_id in chosen + chosen[:2]]  # ringed points come twice
    state, data, _ = call_panel(small_dataset, "embedding_map", "on_selected", state=state, data=lasso)
    assert sorted(ring(state, data)) == sorted(chosen) and state["selection_md"].startswith("**7** samples selected")
    for change, value in (("on_change_color", "label"), ("on_change_run", "other"), ("on_change_run", "wavelet")):
        state, data, _ = call_panel(small_dataset, "embedding_map", change, state=state, value=value)
        assert state["key"] == value or change == "on_change_color"  # the map is drawn anew: the grid is the same
        assert sorted(ring(state, data)) == sorted(chosen) and state["selection_md"].startswith("**7** samples selected")

    group = run.largest_groups()[0]
    members = run.group_view(group).values("id")
    state, data, requests = call_panel(small_dataset, "embedding_map", "on_click", state=state, id=members[-1])
    assert sorted(ring(state, data)) == sorted(members) and state["shown_ids"] == members
    assert state["selection_md"] == f"Group {group} of run `wavelet`: **{len(members)}** samples shown in the grid."
    assert "clear_selected_samples" in [r["operator_uri"] for r in requests]  # the lasso's selection is gone

    alone = run.view("unique").first()
    state, data, _ = call_panel(small_dataset, "embedding_map", "on_click", state=state, id=alone.id)
    assert ring(state, data) == [alone.id]
    assert state["selection_md"] == f"`{os.path.basename(alone.filepath)}` shown alone in the grid: it is in no group of run `wavelet`."

    state, data, _ = call_panel(small_dataset, "embedding_map", "clear_selection", state=state)
    assert ring(state, data) == [] and state["selection_md"] == ""


def test_reload_shows_a_run_recomputed_under_the_same_key(small_dataset):
    fr.compute_wavelet_clusters(small_dataset, label_field="ground_truth", key="wavelet", progress=False)
    state, _, _ = call_panel(small_dataset, "redundancy_panel", "on_load")
    wider = fr.compute_wavelet_clusters(
        small_dataset, label_field="ground_truth", key="wavelet", threshold=0.3, progress=False
    )
    reloaded, data, _ = call_panel(small_dataset, "redundancy_panel", "reload", state=state)
    assert reloaded["revision"] == state["revision"] + 1
    assert f"**{wider.counts['redundant']:,}** redundant" in reloaded["summary_md"]
    assert reloaded["summary_md"] != state["summary_md"]
    assert len(table_rows(reloaded, data)) == min(len(wider.group_sizes()), 100)


def test_clicking_a_point_shows_its_group_or_the_sample_alone(small_dataset):
    run = fr.compute_wavelet_clusters(small_dataset, label_field="ground_truth", key="wavelet", progress=False)
    state, _, _ = call_panel(small_dataset, "embedding_map", "on_load")
    group = run.largest_groups()[0]
    redundant = run.group_view(group).match(F("wavelet_status") == "redundant").first().id
    _, _, requests = call_panel(small_dataset, "embedding_map", "on_click", state=state, id=redundant)
    (set_view,) = [r for r in requests if r["operator_uri"] == "set_view"]
    assert shown_ids(small_dataset, set_view["params"]["view"]) == run.group_view(group).values("id")
    alone = run.view("unique").first().id
    _, _, requests = call_panel(small_dataset, "embedding_map", "on_click", state=state, id=alone)
    (set_view,) = [r for r in requests if r["operator_uri"] == "set_view"]
    assert shown_ids(small_dataset, set_view["params"]["view"]) == [alone]


def test_embedding_map_leaves_out_samples_deleted_since_the_run(small_dataset):
    fr.compute_wavelet_clusters(small_dataset, label_field="ground_truth", key="wavelet", progress=False)
    small_dataset.delete_samples(small_dataset.take(5, seed=2))
    state, data, _ = call_panel(small_dataset, "embedding_map", "on_load", state={"color_by": "label"})
    traces = revision_data(state, data, "embedding")
    drawn = [sample_id for trace in traces for sample_id in trace.get("ids", [])]
    assert sorted(drawn) == sorted(small_dataset.values("id"))
    faces = small_dataset.count_values("ground_truth.label")["face"]
    assert f"face ({faces})" in [trace["name"] for trace in traces]


def test_panels_still_open_when_the_runs_label_field_is_gone(small_dataset):
    fr.compute_wavelet_clusters(small_dataset, label_field="ground_truth", key="wavelet", progress=False)
    small_dataset.delete_sample_field("ground_truth")
    state, data, _ = call_panel(small_dataset, "embedding_map", "on_load", state={"color_by": "label"})
    assert state["color_by"] == "status" and not state["has_labels"]
    state, data, _ = call_panel(small_dataset, "redundancy_panel", "on_load")
    rows = table_rows(state, data)
    assert {row["labels"] for row in rows} == {"(none)"}
    run = fr.load_run(small_dataset, "wavelet")
    influential_groups = set(run.view("influential").values("wavelet_group"))
    assert {row["group"] for row in rows if row["kind"] == "mixed labels"} == influential_groups


def test_a_row_click_on_a_run_deleted_since_reloads_instead_of_showing_another_run(small_dataset):
    fr.compute_wavelet_clusters(small_dataset, key="kept", progress=False)
    fr.compute_wavelet_clusters(small_dataset, key="doomed", progress=False)
    state, _, _ = call_panel(small_dataset, "redundancy_panel", "on_load")
    assert state["key"] == "doomed" and [key for key, _ in state["runs_listed"]] == ["doomed", "kept"]
    fr.delete_run(small_dataset, "doomed")
    state, _, requests = call_panel(small_dataset, "redundancy_panel", "show_group", state=state, event_args={}, row=0)
    assert state["key"] == "kept" and "set_view" not in [r["operator_uri"] for r in requests]
    fr.compute_wavelet_clusters(small_dataset, key="added", progress=False)
    state, _, _ = call_panel(small_dataset, "redundancy_panel", "on_change_ctx", state=state)
    assert [key for key, _ in state["runs_listed"]] == ["added", "kept"] and state["key"] == "kept"


def test_a_failing_panel_event_shows_its_message_in_place(small_dataset):
    fr.compute_wavelet_clusters(small_dataset, key="wavelet", progress=False)
    state, _, _ = call_panel(small_dataset, "redundancy_panel", "on_load")
    state, _, requests = call_panel(small_dataset, "redundancy_panel", "show_least_similar", state=state)
    assert state["error_md"].startswith("**Show least similar failed:**") and "only split-similarity runs" in state["error_md"]
    assert "set_view" not in [r["operator_uri"] for r in requests]
    state, _, requests = call_panel(small_dataset, "redundancy_panel", "show_redundant", state=state)
    assert not state["error_md"] and "set_view" in [r["operator_uri"] for r in requests]


def test_threshold_ssim_runs_are_not_headed_spectral_and_map_points_name_their_file(small_dataset):
    fr.compute_ssim_clusters(small_dataset, label_field="ground_truth", key="ssim", progress=False)
    state, _, _ = call_panel(small_dataset, "redundancy_panel", "on_load")
    assert "SSIM (threshold grouping)" in state["summary_md"] and "spectral" not in state["summary_md"].split("\n")[0]
    state, data, _ = call_panel(small_dataset, "embedding_map", "on_load")
    run = fr.load_run(small_dataset, "ssim")
    member = run.group_view(run.largest_groups()[0]).first()
    texts = {i: t for trace in revision_data(state, data, "embedding")[1:] for i, t in zip(trace["ids"], trace["text"])}
    assert texts[member.id] == (
        f"{os.path.basename(member.filepath)} · label {member.ground_truth.label} · group {member.ssim_group}"
    )


def test_run_details_show_the_pair_score_parameters_by_name(small_dataset):
    from fiftyone_redundancy.panels.redundancy import details_markdown

    run = fr.compute_wavelet_clusters(small_dataset, key="detailed", pair_score={"flips": True}, progress=False)
    text = details_markdown(run)
    assert "`pair_score.flips=True`" in text and "`pair_score.n_neighbors=10`" in text and "OrderedDict" not in text


def test_the_spectrum_caption_counts_components_and_drops_a_chart_of_zeros(small_dataset):
    from fiftyone_redundancy.core.spectral import read_spectrum
    from fiftyone_redundancy.panels.redundancy import spectrum_caption

    run = fr.compute_ssim_clusters(small_dataset, label_field="ground_truth", key="ssim", progress=False)
    caption = spectrum_caption(run, 1, 50, read_spectrum([0.0] * 50), 129)
    assert "at least 50 connected components" in caption and "129 groups" in caption and "k = " not in caption
    assert "grouped by the pair-score threshold 0.45" in caption
    caption = spectrum_caption(run, 2, 4, read_spectrum([0.0, 0.0, 0.5, 2.0]), 3).replace("**", "")
    assert "2 zero eigenvalues: the graph has 2 connected components" in caption
    assert "Next eigenvalues: 0.5, 2." in caption and "follows eigenvalue 3: the spectrum suggests 3 clusters" in caption


def test_the_panels_share_the_run_last_chosen_until_a_run_is_stored(small_dataset):
    for key in ("wavelet", "other"):
        fr.compute_wavelet_clusters(small_dataset, key=key, progress=False)
    assert call_panel(small_dataset, "embedding_map", "on_load")[0]["key"] == "other"  # the latest
    call_panel(small_dataset, "redundancy_panel", "on_change_run", value="wavelet")
    assert call_panel(small_dataset, "embedding_map", "on_load")[0]["key"] == "wavelet"
    assert call_panel(small_dataset, "redundancy_panel", "on_load")[0]["key"] == "wavelet"
    fr.compute_wavelet_clusters(small_dataset, key="newest", progress=False)
    assert call_panel(small_dataset, "embedding_map", "on_load", state={"key": "wavelet"})[0]["key"] == "newest"


def test_a_score_reads_on_its_own_side_of_the_cut():
    from fiftyone_redundancy.panels.review import score_beside

    assert score_beside(0.4496, 0.45) == "0.4496" and score_beside(0.44996, 0.45) == "0.44996"
    assert score_beside(0.45, 0.45) == "0.450" and score_beside(0.812, 0.45) == "0.812"


def test_files_are_named_by_the_shortest_tail_no_other_shares():
    from fiftyone_redundancy.bridge.samples import distinct_names

    paths = ["/data/cat/0318.jpg", "/data/dog/0318.jpg", "/data/dog/0007.jpg", "/x/a/b.png", "/y/a/b.png"]
    assert distinct_names(paths) == ["cat/0318.jpg", "dog/0318.jpg", "0007.jpg", "x/a/b.png", "y/a/b.png"]


def database_state(dataset, key):
    dataset.reload()
    return dataset.values(f"{key}_status"), dataset.get_run_info(key).timestamp, sorted(dataset.get_field_schema())


def test_trying_a_cut_in_either_panel_writes_nothing_and_only_apply_writes(small_dataset):
    fr.compute_wavelet_clusters(small_dataset, label_field="ground_truth", key="wavelet", progress=False)
    before = database_state(small_dataset, "wavelet")
    preview = fr.preview_cut(small_dataset, "wavelet", 0.8)
    state, _, _ = call_panel(small_dataset, "redundancy_panel", "on_load")
    state, _, _ = call_panel(small_dataset, "redundancy_panel", "on_change_cut", state=state, value=0.8)
    assert f"**{preview['counts']['redundant']:,}** redundant" in state["preview_md"]
    assert f"in {preview['groups']:,} groups" in state["preview_md"] and "nothing is written" in state["preview_md"]
    review, _, _ = call_panel(small_dataset, "pair_review", "on_load")
    review, _, _ = call_panel(small_dataset, "pair_review", "on_change_cut", state=review, value=0.8)
    assert f"**{preview['counts']['redundant']:,}** redundant" in review["preview_md"]
    assert database_state(small_dataset, "wavelet") == before  # tried twice, nothing written

    state, _, _ = call_panel(small_dataset, "redundancy_panel", "apply_cut", state=state)
    assert fr.load_run(small_dataset, "wavelet").counts == preview["counts"]
    assert "re-cut at 0.8" in state["preview_md"]


def test_the_panel_shows_a_run_in_progress_with_its_stage_and_how_an_unstored_run_ended(small_dataset, tmp_path):
    from fiftyone_redundancy.bridge.runs import RunWriter

    with RunWriter(small_dataset, "elsewhere") as writer:  # e.g. started in a tab closed since
        writer.note_progress("verifying pairs", 0.25)
        state, _, _ = call_panel(small_dataset, "redundancy_panel", "on_load")
    assert "**Running now:** `elsewhere`, verifying pairs 25%" in state["activity_md"]

    sample = small_dataset.first()
    sample.filepath = str(tmp_path / "gone.png")
    sample.save()
    with pytest.raises(ValueError):
        fr.compute_wavelet_clusters(small_dataset, key="broken", progress=False)
    state, _, _ = call_panel(small_dataset, "redundancy_panel", "on_load")
    assert "**`broken` failed**" in state["activity_md"] and "gone.png" in state["activity_md"]
    assert "Running now" not in state["activity_md"]
