"""The panels in the real App: `fo.launch_app(remote=True)` serves a dataset with completed
runs of every kind, Debian's Chromium (driven by Playwright) opens each panel, and the
tests assert what a user sees and what a click does. Screenshots go to
``tests/artifacts/`` (ignored by git; the README's come from here).

Without Chromium or Playwright these tests skip, unless REDUNDANCY_BROWSER_TESTS=required
(scripts/test.sh sets it, so CI fails rather than skips); REDUNDANCY_BROWSER_TESTS=skip
skips them anyway.
"""

import json
import os
import re
import shutil
import socket
import time

import numpy as np
import pytest

import fiftyone as fo

import fiftyone_redundancy.api as fr
from fiftyone_redundancy.core.images import load_images

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "artifacts")
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TIMEOUT_MS = 60_000

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

if os.environ.get("REDUNDANCY_BROWSER_TESTS") == "skip":
    pytest.skip("REDUNDANCY_BROWSER_TESTS=skip", allow_module_level=True)
if CHROMIUM is None or sync_playwright is None:
    reason = "needs Debian's chromium (apt-get install chromium) and playwright (pip install playwright)"
    if os.environ.get("REDUNDANCY_BROWSER_TESTS") == "required":
        raise RuntimeError(f"browser tests are required here but cannot run: {reason}")
    pytest.skip(reason, allow_module_level=True)


@pytest.fixture(scope="module")
def app_dataset(small_demo_dataset):
    """The small demo with a run of each kind; persistent so the App's server process sees it."""
    dataset = small_demo_dataset.clone("test-demo-panels")
    dataset.persistent = True
    fr.compute_wavelet_clusters(dataset, label_field="ground_truth", key="wavelet", progress=False)
    fr.compute_ssim_clusters(dataset, label_field="ground_truth", key="ssim", progress=False)
    fr.compute_split_similarity(dataset, key="split", progress=False)
    pixels = load_images(dataset.values("filepath"), (16, 16), "gray", 2)
    dataset.set_values("pixels", [p.ravel().astype(float).tolist() for p in pixels])
    fr.compute_feature_clusters(
        dataset, embeddings_field="pixels", label_field="ground_truth", key="features", progress=False
    )
    yield dataset
    dataset.delete()


@pytest.fixture(scope="module")
def app(app_dataset):
    """The real App server on a free port, and a session that follows its state."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    session = fo.launch_app(app_dataset, remote=True, port=port, address="127.0.0.1")
    waited = time.monotonic()  # on a loaded machine the server takes a while: the session retries every 10 s
    while not session._client._connected and time.monotonic() - waited < 180:
        time.sleep(0.5)
    yield session, f"http://127.0.0.1:{port}/datasets/{app_dataset.name}"
    session.close()


@pytest.fixture(scope="module")
def browser():
    os.makedirs(ARTIFACTS, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(app, browser, app_dataset, request):
    """The App opened on the dataset, the grid loaded, the App's own pop-ups dismissed."""
    session, url = app
    session.view = None
    session.spaces = None  # the default layout: only the grid, no panel left open
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url, wait_until="load")
    grid_count(page, len(app_dataset)).wait_for()
    dismiss_enterprise_offer(page)
    yield page
    page.screenshot(path=os.path.join(ARTIFACTS, f"end-of-{request.node.name}.png"))
    page.close()


def dismiss_enterprise_offer(page):
    """The open-source App pops up an "Explore Enterprise" card over the panel bar."""
    try:
        page.get_by_text("Dismiss", exact=True).click(timeout=10_000)
    except PlaywrightTimeout:
        pass


def grid_count(page, count):
    """The grid's sample count, as the App prints it above the grid."""
    return page.get_by_text(f"{count:,} samples", exact=True)


def open_panel(page, name):
    """The "+" beside the Samples tab, then the panel's entry in the "Custom" list."""
    page.locator('[data-cy="new-panel-btn"]').first.click()
    page.locator(f'[data-cy="new-panel-option-{name}"]').click()


def choose_run(page, name, key):
    """Pick ``key`` in the run dropdown of panel ``name``."""
    choose_option(page, page.locator(f'[data-cy="panel-content-{name}"] [role="combobox"]').first, key)


def choose_option(page, opener, option):
    """Open the menu at ``opener`` and pick ``option``, again if the panel drew itself anew
    under the open menu (as panels do when they load their runs or a plot once more)."""
    for attempt in range(3):
        try:
            opener.click()
            page.get_by_role("option", name=option, exact=True).click(timeout=15_000)
            return
        except PlaywrightError:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")


def screenshot(page, name, focus=None):
    """Save what the page shows, scrolled so that ``focus`` (a locator) is in view."""
    for _ in range(3 if focus is not None else 0):
        try:
            focus.scroll_into_view_if_needed(timeout=10000)
            break
        except PlaywrightError:  # drawn again meanwhile (the App may load a run twice): its successor
            pass  # the picture is evidence, not the assertion: taken as the page stands after three tries
    page.wait_for_timeout(1500)  # let plotly finish drawing
    page.screenshot(path=os.path.join(ARTIFACTS, f"{name}.png"))


def test_redundancy_panel_shows_the_counts_and_a_group_click_fills_the_grid(page, app, app_dataset):
    run = fr.load_run(app_dataset, "features")
    open_panel(page, "redundancy_panel")
    choose_run(page, "redundancy_panel", "features")
    counts = run.counts
    for status in ("redundant", "influential", "outlier"):
        page.get_by_text(f"{counts[status]} {status} (").first.wait_for()
    assert page.locator(".js-plotly-plot").count() >= 1
    largest = run.largest_groups()[0]
    size = run.group_sizes()[largest]
    screenshot(page, "redundancy_panel")

    page.locator("table tbody tr").first.click()
    grid_count(page, size).wait_for()
    page.mouse.move(5, 500)  # away from the table, so no row is merely hovered
    page.wait_for_function(  # the clicked row is highlighted: its cells differ from the next row's
        """() => { const rows = document.querySelectorAll('[data-cy="panel-content-redundancy_panel"] table tbody tr');
            const colour = row => getComputedStyle(row.querySelector('td')).backgroundColor;
            return rows.length > 1 && colour(rows[0]) !== colour(rows[1]); }"""
    )
    session, _ = app
    shown = session.view
    assert shown.values("id") == run.group_view(largest).values("id")
    assert shown.first()["features_status"] in ("representative", "influential")
    screenshot(page, "redundancy_panel_group")


def test_redundancy_panel_draws_the_ssim_spectrum_and_the_split_histogram(page, app_dataset):
    open_panel(page, "redundancy_panel")
    choose_run(page, "redundancy_panel", "ssim")
    page.get_by_text("Laplacian spectrum.").wait_for()
    page.get_by_text("γ = 0.4").wait_for()
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length === 2")  # counts and spectrum
    screenshot(page, "redundancy_panel_ssim", focus=page.locator(".js-plotly-plot").nth(1))

    page.get_by_role("button", name="Tag for review…").click()  # the tag operator, this run chosen
    redundant = fr.tag_preview(app_dataset, ["ssim"])["redundant"]
    page.get_by_text(f"{redundant} samples as redundant").wait_for()
    screenshot(page, "tag_operator_from_panel")
    page.keyboard.press("Escape")

    split = fr.load_run(app_dataset, "split")
    choose_run(page, "redundancy_panel", "split")
    details = split.details
    page.get_by_text(f"{details['n_near_identical']} of {details['n_test']} test samples").wait_for()
    page.get_by_text(f"near-identical ≥ {split.parameters['threshold']}").wait_for()
    screenshot(page, "redundancy_panel_split", focus=page.locator(".js-plotly-plot").nth(1))
    page.get_by_role("button", name="Least similar test samples").click()
    grid_count(page, len(details["least_similar_ids"])).wait_for()


def test_embedding_map_links_points_and_a_click_or_lasso_fills_the_grid(page, app, app_dataset):
    run = fr.load_run(app_dataset, "wavelet")
    open_panel(page, "embedding_map")
    choose_run(page, "embedding_map", "wavelet")
    wait_for_trace(page, f"redundant ({run.counts['redundant']})")
    wait_for_trace(page, "redundant → representative")
    assert len(trace_ids(page)) == len(app_dataset)  # every point drawn once, none stale
    screenshot(page, "embedding_map")

    group = run.largest_groups()[0]
    click_member(page, run, group)
    session, _ = app
    size = run.group_sizes()[group]
    grid_count(page, size).wait_for()
    wait_for_trace(page, f"shown in the grid ({size})")  # the group is ringed and named
    page.get_by_text(f"Group {group} of run wavelet: {size} samples shown in the grid").wait_for()
    assert sorted(ringed(page)) == sorted(session.view.values("id"))
    page.get_by_role("button", name="Clear selection").click()
    grid_count(page, len(app_dataset)).wait_for()
    page.wait_for_function("() => !document.body.innerText.includes('shown in the grid')")  # text and ring gone
    assert ringed(page) == []

    corners = plot_box(page)
    expected = points_inside(run, corners["data"])
    assert 0 < expected < len(app_dataset)
    lasso(page, corners["pixels"])
    grid_count(page, expected).wait_for()
    assert sorted(session.selected) == sorted(session.view.values("id"))
    page.get_by_text(f"{expected} samples selected").wait_for()
    wait_for_trace(page, f"shown in the grid ({expected})")  # drawn again, the lasso's points ringed
    assert sorted(ringed(page)) == sorted(session.selected)
    screenshot(page, "embedding_map_lasso", focus=page.locator(".js-plotly-plot").last)

    other = run.largest_groups()[1]  # a click after the lasso: the text names the group, not the lasso
    click_member(page, run, other)
    size = run.group_sizes()[other]
    grid_count(page, size).wait_for()
    page.get_by_text(f"Group {other} of run wavelet: {size} samples shown in the grid").wait_for()
    assert page.get_by_text("samples selected").count() == 0
    wait_for_trace(page, f"shown in the grid ({size})")
    assert sorted(ringed(page)) == sorted(session.view.values("id")) and not session.selected
    screenshot(page, "embedding_map_group_after_lasso", focus=page.locator(".js-plotly-plot").last)


def click_member(page, run, group):
    """Click the map's point of the last sample of ``group``."""
    member = run.group_view(group).last()
    point = run.details["points"][run.details["sample_ids"].index(member.id)]
    page.mouse.click(*plot_pixel(page, point))


def ringed(page):
    """The sample ids the last plot rings as shown in the grid."""
    return page.evaluate(
        """() => { const plots = document.querySelectorAll('.js-plotly-plot');
            return plots[plots.length - 1].data.filter(t => (t.name || '').startsWith('shown in the grid'))
                .flatMap(t => t.ids); }"""
    )


def test_embedding_map_colors_by_label_and_shows_3d_feature_maps(page, app_dataset):
    open_panel(page, "embedding_map")
    page.get_by_text("Colour by").wait_for()
    page.get_by_label("label", exact=True).check()
    face_count = app_dataset.count_values("ground_truth.label")["face"]
    wait_for_trace(page, f"face ({face_count})")
    screenshot(page, "embedding_map_labels")

    choose_run(page, "embedding_map", "features")
    page.get_by_label("3-D").check()
    wait_for_trace(page, f"face ({face_count})", kind="scatter3d")
    assert len(trace_ids(page)) == len(app_dataset)
    screenshot(page, "embedding_map_3d")


def wait_for_trace(page, name, kind=None):
    """Wait until a plot of the page draws a trace (a legend entry) called ``name``."""
    page.wait_for_function(
        """([name, kind]) => Array.from(document.querySelectorAll('.js-plotly-plot')).some(
            gd => (gd.data || []).some(t => t.name === name && (!kind || t.type === kind)))""",
        arg=[name, kind],
    )


def trace_ids(page):
    """The sample ids of every point the last plot draws."""
    return page.evaluate(
        """() => { const plots = document.querySelectorAll('.js-plotly-plot');
            return plots[plots.length - 1].data.flatMap(t => t.ids || []); }"""
    )


def plot_box(page):
    """A box over the middle of the map: its pixel corners on the page and its data range."""
    return page.evaluate(
        """() => {
            const plot = document.querySelectorAll('.js-plotly-plot');
            const gd = plot[plot.length - 1];
            gd.scrollIntoView({block: "center"});
            const layout = gd._fullLayout, size = layout._size;
            const box = gd.getBoundingClientRect();
            const px = [size.l + 0.25 * size.w, size.l + 0.6 * size.w];
            const py = [size.t + 0.25 * size.h, size.t + 0.75 * size.h];
            return {
                pixels: [[box.left + px[0], box.top + py[0]], [box.left + px[1], box.top + py[1]]],
                data: {
                    x: px.map(p => layout.xaxis.p2d(p - size.l)),
                    y: py.map(p => layout.yaxis.p2d(p - size.t)),
                },
            };
        }"""
    )


def plot_pixel(page, point):
    """Where on the page the last plot draws the data point ``(x, y)``."""
    return page.evaluate(
        """([x, y]) => {
            const plot = document.querySelectorAll('.js-plotly-plot');
            const gd = plot[plot.length - 1];
            gd.scrollIntoView({block: "center"});
            const layout = gd._fullLayout, size = layout._size;
            const box = gd.getBoundingClientRect();
            return [box.left + size.l + layout.xaxis.d2p(x), box.top + size.t + layout.yaxis.d2p(y)];
        }""",
        point,
    )


def points_inside(run, box):
    points = np.asarray(run.details["points"])
    (x0, x1), (y0, y1) = sorted(box["x"]), sorted(box["y"])
    inside = (points[:, 0] > x0) & (points[:, 0] < x1) & (points[:, 1] > y0) & (points[:, 1] < y1)
    return int(np.count_nonzero(inside))


def lasso(page, corners):
    """Drag a rectangular lasso through the given corners, in small steps as a hand would."""
    (left, top), (right, bottom) = corners
    path = [(left, top), (right, top), (right, bottom), (left, bottom), (left, top)]
    page.mouse.move(*path[0])
    page.mouse.down()
    for (x0, y0), (x1, y1) in zip(path, path[1:]):
        for step in np.linspace(0, 1, 12)[1:]:
            page.mouse.move(x0 + step * (x1 - x0), y0 + step * (y1 - y0))
    page.mouse.up()


def form_input(page, label):
    """The text box under the operator form's field ``label``."""
    return page.get_by_text(label, exact=True).locator("xpath=following::input[1]")


def folder_state(folder):
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_export_from_the_panel_never_empties_a_folder_of_other_files(page, app_dataset, tmp_path):
    folder = tmp_path / "my-thesis"
    folder.mkdir()
    (folder / "thesis.txt").write_text("four years of work")
    open_panel(page, "redundancy_panel")
    page.get_by_role("button", name="Export curated…").click()
    form_input(page, "Export directory").fill(str(folder))
    page.get_by_text("Replace an earlier export in this folder", exact=True).click()
    page.get_by_text("they are never deleted: choose an empty or new folder").wait_for()
    screenshot(page, "export_refuses_a_folder_of_other_files")
    assert page.get_by_role("button", name="Execute").is_disabled()
    assert folder_state(folder) == {"thesis.txt": b"four years of work"}

    earlier = tmp_path / "earlier-export"  # the same folder twice: the form asks for the box
    fr.export_curated(app_dataset, ["wavelet"], str(earlier), "CSV", label_field="ground_truth")
    form_input(page, "Export directory").fill(str(earlier))
    page.get_by_text("Replace an earlier export in this folder", exact=True).click()  # untick
    page.get_by_text("holds an earlier export; tick 'Replace an earlier export in this folder'").wait_for()
    page.get_by_text("Replace an earlier export in this folder", exact=True).click()
    page.get_by_role("button", name="Execute").click()
    page.get_by_text("Curated set exported").wait_for()
    with open(earlier / "redundancy-export.json") as handle:
        record = json.load(handle)
    assert record["format"] == "FiftyOneDataset" and "labels.csv" not in os.listdir(earlier)
    page.get_by_text(f"Exported {len(fr.curated_view(app_dataset, record['keys'])):,} samples as FiftyOneDataset").wait_for()
    screenshot(page, "export_result")
    page.get_by_role("button", name="Done").click()

    page.get_by_role("button", name="Export curated…").click()  # a folder that cannot be created: it fails
    form_input(page, "Export directory").fill("/proc/no-exports-here")
    page.get_by_role("button", name="Execute").click()
    page.get_by_text("Export failed, nothing changed: cannot write in /proc").wait_for()
    screenshot(page, "export_failed")
    page.get_by_role("button", name="Done").click()
    choose_run(page, "redundancy_panel", "ssim")  # the panel still answers
    page.get_by_text("Laplacian spectrum.").wait_for()
    assert folder_state(folder) == {"thesis.txt": b"four years of work"}


def test_a_subset_run_on_the_key_of_a_full_run_asks_first(page, app, app_dataset):
    full = fr.compute_wavelet_clusters(app_dataset, key="everything", progress=False)
    session, _ = app
    chosen = app_dataset.take(68, seed=1).values("id")
    session.selected = chosen
    page.get_by_text("68", exact=True).first.wait_for()  # the selection badge
    page.keyboard.press("`")
    page.keyboard.type("wavelet clusters")
    page.keyboard.press("Enter")
    form_input(page, "Run key").fill("everything")
    page.get_by_text(f"Key 'everything' holds a run of wavelet clusters on {len(app_dataset):,} samples").wait_for()
    page.get_by_text(f"{len(app_dataset) - 68:,} of the samples run 'everything' covers").wait_for()
    screenshot(page, "subset_run_asks_first")
    assert page.get_by_role("button", name="Execute").is_disabled()
    assert app_dataset.count("everything_status") == len(app_dataset) and full.key == "everything"

    page.get_by_text("Replace the run stored under this key", exact=True).click()
    page.get_by_role("button", name="Execute").click()
    page.get_by_text("Wavelet clusters done").wait_for()
    page.get_by_text("Run everything stored: 68 samples analysed").wait_for()
    screenshot(page, "wavelet_result")
    assert app_dataset.count("everything_status") == 68


def open_operator(page, words):
    """The operator browser (the ` key), filtered by ``words``, first match opened."""
    page.keyboard.press("`")
    page.keyboard.type(words)
    page.keyboard.press("Enter")


def test_a_refused_key_is_flagged_and_a_failing_analysis_shows_its_reason(page, app_dataset, tmp_path):
    open_operator(page, "wavelet clusters")
    execute = page.get_by_role("button", name="Execute")
    form_input(page, "Run key").fill("SSIM")  # beside the run 'ssim'
    page.get_by_text("differs only in case from run 'ssim'").wait_for()
    assert execute.is_disabled()
    screenshot(page, "refused_key_flagged")
    form_input(page, "Run key").fill("_hidden")
    page.get_by_text("must be a Python identifier that does not start with '_'").wait_for()
    assert execute.is_disabled()

    missing = str(tmp_path / "moved-away.png")
    added = app_dataset.add_sample(fo.Sample(filepath=missing))
    try:
        form_input(page, "Run key").fill("broken")
        page.wait_for_function("() => [...document.querySelectorAll('button')].some(b => b.innerText === 'Execute' && !b.disabled)")
        execute.click()
        page.get_by_text("Wavelet clusters failed, nothing changed:").wait_for()
        assert page.get_by_text(missing).count() >= 1  # the result and the notification name the file
        screenshot(page, "failing_analysis_shows_its_reason")
    finally:
        app_dataset.delete_samples(added)
    app_dataset.reload()
    assert "broken" not in fr.list_runs(app_dataset)


STAGE_WATCHER = """() => {
    window.stagesSeen = [];
    const look = () => {
        const found = document.body.innerText.match(/Wavelet clusters: ([a-z ]+?) \\d+%/);
        if (found && window.stagesSeen[window.stagesSeen.length - 1] !== found[1]) window.stagesSeen.push(found[1]);
    };
    new MutationObserver(look).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def test_an_analysis_names_each_stage_while_it_runs(page, app_dataset):
    open_operator(page, "wavelet clusters")
    form_input(page, "Run key").fill("watched")
    page.wait_for_function("() => [...document.querySelectorAll('button')].some(b => b.innerText === 'Execute' && !b.disabled)")
    page.evaluate(STAGE_WATCHER)
    page.get_by_role("button", name="Execute").click()
    page.get_by_text(re.compile(r"Wavelet clusters: [a-z ]+ \d+%")).first.wait_for()
    screenshot(page, "analysis_progress_stage")
    page.get_by_text("Wavelet clusters done").wait_for(timeout=180_000)
    seen = page.evaluate("() => window.stagesSeen")
    assert seen[0] == "decoding images" and seen[-1] == "writing results", seen
    # each stage is shown for STAGE_SHOWN_SECONDS at least, so even one of a few
    # milliseconds (the demo's grouping) is drawn on its own
    assert {"computing wavelets", "finding candidate pairs", "verifying pairs", "grouping"} <= set(seen), seen
    assert len(seen) == len(set(seen)), f"a stage came back after a later one: {seen}"


def test_a_cut_tried_in_the_panel_is_previewed_without_a_write(page, app_dataset):
    def stored():
        app_dataset.reload()
        return app_dataset.values("wavelet_status"), app_dataset.get_run_info("wavelet").timestamp

    before = stored()
    preview = fr.preview_cut(app_dataset, "wavelet", 0.8)
    open_panel(page, "redundancy_panel")
    choose_run(page, "redundancy_panel", "wavelet")
    for attempt in range(3):  # a panel still settling after the run choice may redraw the box (and its preview)
        form_input(page, "Try a cut").fill("0.8")
        try:
            page.get_by_text("At cut 0.8:").wait_for(timeout=20_000)
            page.get_by_text(f"{preview['counts']['redundant']:,} redundant").first.wait_for(timeout=20_000)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    screenshot(page, "cut_previewed_without_a_write", focus=page.get_by_text("At cut 0.8:"))
    assert stored() == before


PANEL_LAYOUT = """(name) => {
    const panel = document.querySelector(`[data-cy="panel-content-${name}"]`);
    const box = e => e.getBoundingClientRect();
    // all but a plot's drag handles, invisible, which reach a few pixels past its corners
    const drawn = [...panel.querySelectorAll('*')].filter(e => box(e).width > 0 && !e.closest('.draglayer'));
    const column = drawn.find(e => getComputedStyle(e).display === 'grid');  // the panel's items, one under another
    const inPlot = e => e.parentElement.closest('.js-plotly-plot') !== null;  // plotly clips its own layers
    const wider = e => e.scrollWidth > e.clientWidth + 1;
    const named = e => `${e.tagName.toLowerCase()} "${(e.innerText || '').slice(0, 40)}"`;
    return {
        right: Math.max(...drawn.map(e => box(e).right)),  // whatever the panel draws, text included
        window: window.innerWidth,
        beyond: drawn.filter(e => box(e).right > window.innerWidth + 1).map(e => `${named(e)} ${e.getAttribute("class")}`.slice(0, 120)),
        spilling: [...column.children].filter(item => drawn.some(
            e => item.contains(e) && box(e).height > 0 && box(e).bottom > box(item).bottom + 1)).map(item => item.innerText.slice(0, 40)),
        scrolling: [panel, ...drawn].filter(e => !inPlot(e) && wider(e)
            && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX)).map(named),
        clipped: drawn.filter(e => !inPlot(e) && wider(e) && getComputedStyle(e).overflowX === 'hidden').map(named),
        plots: [...panel.querySelectorAll('.js-plotly-plot')].map(gd => [gd._fullLayout.width, box(gd).width]),
        images: [...panel.querySelectorAll('img')].map(img => [img.naturalWidth / img.naturalHeight,
            box(img).width / box(img).height, getComputedStyle(img).objectFit]),
    };
}"""


def assert_the_panel_fits(page, name="redundancy_panel"):
    """Nothing right of the window, nothing scrolled sideways or cut off, no item drawn over
    the next, each plot drawn as wide as it is, each image drawn in its own aspect."""
    layout = page.evaluate(PANEL_LAYOUT, name)
    assert layout["right"] <= layout["window"] + 1, (
        f"the panel draws up to {layout['right']} px in a {layout['window']} px window: {layout['beyond'][:5]}"
    )
    assert layout["scrolling"] == [], f"scrolled sideways in a {layout['window']} px window: {layout['scrolling']}"
    assert layout["clipped"] == [], f"cut off at the right in a {layout['window']} px window: {layout['clipped']}"
    assert layout["spilling"] == [], f"drawn over the items below them: {layout['spilling']}"
    for drawn, element in layout["plots"]:
        assert abs(drawn - element) <= 1, f"a plot drawn {drawn} px wide in an element {element} px wide"
    for natural, shown, fit in layout["images"]:
        assert fit in ("contain", "scale-down") or abs(natural - shown) < 0.02, f"an image of aspect {natural:.2f} drawn at {shown:.2f}"


SHOWN_RUN = {  # each panel: the run it is opened on, and a text it shows once that run is loaded
    "redundancy_panel": ("ssim", "Laplacian spectrum."),
    "embedding_map": ("wavelet", "placed by"),
    "pair_review": ("wavelet", "pairs reviewed in run"),
}
DRAWN = """(name) => { const panel = document.querySelector(`[data-cy="panel-content-${name}"]`);
    const plots = [...panel.querySelectorAll('.js-plotly-plot')];
    return plots.length > 0 && plots.every(gd => gd._fullLayout && (gd.data || []).length > 0)
        && [...panel.querySelectorAll('img')].every(img => img.complete && img.naturalWidth > 0); }"""


@pytest.mark.parametrize("width", [1280, 1920, 960])
@pytest.mark.parametrize("name", list(SHOWN_RUN))
def test_the_panel_fits_its_width(page, app_dataset, name, width):
    """1,920 and 1,280 px windows, and 960 px: a 1,920 px screen split in half, the panel
    beside the grid in one half."""
    key, loaded = SHOWN_RUN[name]
    page.set_viewport_size({"width": width, "height": 1000})
    open_panel(page, name)
    choose_run(page, name, key)
    panel = page.locator(f'[data-cy="panel-content-{name}"]')
    panel.get_by_text(loaded).first.wait_for()
    page.wait_for_function(DRAWN, arg=name)
    screenshot(page, f"{name}_{width}px")
    for number in range(panel.locator(".js-plotly-plot").count()):
        screenshot(page, f"{name}_{width}px_plot{number + 1}", focus=panel.locator(".js-plotly-plot").nth(number))
    if panel.locator("table").count():
        screenshot(page, f"{name}_{width}px_table", focus=panel.locator("table"))
    assert_the_panel_fits(page, name)


def test_the_redundancy_panel_follows_a_window_made_narrower(page, app_dataset):
    page.set_viewport_size({"width": 1920, "height": 1000})
    open_panel(page, "redundancy_panel")
    choose_run(page, "redundancy_panel", "ssim")
    page.get_by_text("Laplacian spectrum.").wait_for()
    # scrolled down to the groups, the plots out of sight above: so a narrowing once left them 0 px high
    screenshot(page, "redundancy_panel_1920px_before_narrowing", focus=page.locator('[data-cy="panel-content-redundancy_panel"] table'))
    page.set_viewport_size({"width": 1280, "height": 1000})
    screenshot(page, "redundancy_panel_1920_then_1280px", focus=page.locator(".js-plotly-plot").nth(1))
    assert_the_panel_fits(page)


def test_a_run_deleted_from_the_app_disappears_from_the_open_panel(page, app_dataset):
    fr.compute_wavelet_clusters(app_dataset, key="doomed", progress=False)
    open_panel(page, "redundancy_panel")
    panel = page.locator('[data-cy="panel-content-redundancy_panel"]')
    panel.get_by_text("doomed", exact=True).first.wait_for()  # the latest run is shown first
    page.keyboard.press("`")
    page.keyboard.type("delete a run")
    page.keyboard.press("Enter")
    page.get_by_text("Run 'doomed' is a run of wavelet clusters").wait_for()
    form_input(page, "Type doomed to confirm").fill("doomed")
    screenshot(page, "delete_run_asks_for_the_key")
    page.get_by_role("button", name="Execute").click()
    page.get_by_text("Deleted run doomed and its fields").wait_for()
    page.get_by_role("button", name="Close").click()
    page.wait_for_function(
        """() => !document.querySelector('[data-cy="panel-content-redundancy_panel"]').innerText.includes('doomed')"""
    )
    screenshot(page, "panel_after_run_deleted")
    app_dataset.reload()  # deleted by the App's server process
    assert "doomed" not in fr.list_runs(app_dataset) and "doomed_status" not in app_dataset.get_field_schema()


def test_a_running_analysis_is_cancelled_from_the_app(page, app_dataset):
    from fiftyone_redundancy.bridge.runs import CANCEL_POLL_SECONDS, RunWriter

    grid_count(page, len(app_dataset)).click()  # the keyboard goes to the App
    page.keyboard.press("`")
    page.keyboard.type("cancel a running")
    page.keyboard.press("Enter")
    page.get_by_text("No redundancy analysis is running on this dataset now.").wait_for()
    page.get_by_role("button", name="Cancel", exact=True).click()
    with RunWriter(app_dataset, "long_run") as writer:  # a run in progress, e.g. from a notebook
        grid_count(page, len(app_dataset)).click()
        page.keyboard.press("`")
        page.keyboard.type("cancel a running")
        page.keyboard.press("Enter")
        page.get_by_text("It stops at its next progress step").wait_for()
        screenshot(page, "cancel_a_running_analysis")
        page.get_by_role("button", name="Execute").click()
        page.get_by_text("Asked run long_run to stop").wait_for()
        time.sleep(4 * CANCEL_POLL_SECONDS)
        with pytest.raises(fr.RunCancelled, match="by the App"):
            writer.raise_if_cancelled()
    assert fr.runs_in_progress(app_dataset) == {}


def test_fiftyones_embeddings_panel_draws_a_runs_map(page, app_dataset):
    """A run's 2-D map is also a brain visualization run (``<key>_map``): FiftyOne's own
    Embeddings panel lists it with the others and draws one point per sample of the run,
    coloured by any of the run's fields."""
    open_panel(page, "Embeddings")
    for key in ("wavelet", "ssim", "features"):  # the runs with a map (a split run has none)
        page.get_by_text(f"{key}_map", exact=True).wait_for()
    page.get_by_text("wavelet_map", exact=True).click()
    page.get_by_text(f"{len(app_dataset)} points", exact=True).wait_for()
    choose_option(page, page.get_by_text("Color by", exact=False).first, "wavelet_status")
    screenshot(page, "embeddings_panel_wavelet_map")
