"""The Pair review panel in the real App (headless Chromium through Playwright, as in
``test_panels_browser.py``, whose fixtures and helpers this reuses): ten pairs reviewed by
keyboard, answered from the demo's planted truth; the decisions land in the run and the
tags, the calibration plot changes, and "Apply this cut" changes the Redundancy panel's
counts. Screenshots go to ``tests/artifacts/`` (the README's come from here)."""

import os
import re

import pytest

import fiftyone_redundancy.api as fr
from fiftyone_redundancy.bridge.review import DEFAULT_TAGS
from fiftyone_redundancy.core.review import DIFFERENT, SAME
from test_panels_browser import app, browser, form_input, open_panel, page, screenshot  # noqa: F401 (fixtures)
from test_review import same_image

pytestmark = pytest.mark.slow

REVIEWED = 10
NEW_CUT = 0.8


@pytest.fixture(scope="module")
def app_dataset(small_demo_dataset):
    """The small demo with one SSIM run; persistent so the App's server process sees it."""
    dataset = small_demo_dataset.clone("test-demo-review")
    dataset.persistent = True
    fr.compute_ssim_clusters(dataset, label_field="ground_truth", key="ssim", mode="sparse", progress=False)
    yield dataset
    dataset.delete()


def calibration_traces(page):
    """What the Pair review panel's calibration plot draws: ``{trace name: y values}``."""
    return page.evaluate(
        """() => { const gd = document.querySelector('[data-cy="panel-content-pair_review"] .js-plotly-plot');
            return Object.fromEntries((gd.data || []).map(t => [t.name, Array.from(t.y || [])])); }"""
    )


def test_ten_pairs_reviewed_by_keyboard_change_the_calibration_and_apply_recuts(page, app_dataset):
    truth = same_image(app_dataset)
    before = fr.load_run(app_dataset, "ssim").counts
    open_panel(page, "redundancy_panel")
    redundancy = page.locator('[data-cy="panel-content-redundancy_panel"]')
    redundancy.get_by_text(f"{before['redundant']} redundant (").wait_for()

    open_panel(page, "pair_review")
    panel = page.locator('[data-cy="panel-content-pair_review"]')
    panel.get_by_text("0 pairs reviewed in run").wait_for()
    panel.get_by_text("none of them is reviewed yet").wait_for()
    page.wait_for_function("""() => document.querySelector('[data-cy="panel-content-pair_review"] img[src^="data:image/png"]')""")
    empty = calibration_traces(page)
    screenshot(page, "pair_review", focus=panel.get_by_text("Same image (y)"))

    id_of = {os.path.basename(path): sample_id for sample_id, path in zip(*app_dataset.values(["id", "filepath"]))}
    answers = []
    for count in range(1, REVIEWED + 1):
        text = panel.inner_text()  # the file names the panel shows, answered from the planted truth
        pair = tuple(id_of[re.search(rf"{side}: (\S+)", text).group(1)] for side in ("Left", "Right"))
        decision = SAME if truth(*pair) else DIFFERENT
        answers.append((pair, decision))
        panel.get_by_text("reviewed in run").first.click()  # focus on the panel, not a text box
        page.keyboard.press("y" if decision == SAME else "n")
        panel.get_by_text(f"{count} pair{'' if count == 1 else 's'} reviewed in run").wait_for()

    stored = {(r["a"], r["b"]): r["decision"] for r in fr.load_reviews(app_dataset, "ssim")}
    assert stored == {tuple(sorted(pair)): decision for pair, decision in answers}
    tags = dict(zip(*app_dataset.values(["id", "tags"])))
    for pair, decision in answers:
        assert all(DEFAULT_TAGS[decision] in tags[sample_id] for sample_id in pair)
    reviewed = calibration_traces(page)
    assert reviewed != empty and max(reviewed["reviewed pairs ≥ cut"]) == REVIEWED
    screenshot(page, "pair_review_calibrated", focus=panel.locator(".js-plotly-plot"))

    # both band edges typed one after the other: the panel settles on what was typed
    form_input(page, "Band from").fill("0.5")
    form_input(page, "to").fill("0.9")
    panel.get_by_text("stored pairs scoring 0.5–0.9").wait_for()
    page.wait_for_timeout(3000)
    assert form_input(page, "Band from").input_value() == "0.5" and form_input(page, "to").input_value() == "0.9"
    assert "stored pairs scoring 0.5–0.9" in panel.inner_text()
    form_input(page, "Band from").fill("0.3")
    form_input(page, "to").fill("1")
    panel.get_by_text("stored pairs scoring 0.3–1 reviewed").wait_for()

    form_input(page, "Cut").fill(str(NEW_CUT))
    panel.get_by_text(f"Cut {NEW_CUT}:", exact=True).wait_for()
    panel.get_by_role("button", name="Apply this cut").click()
    panel.get_by_text(f"re-cut at {NEW_CUT}").wait_for()
    app_dataset.reload()  # the run was stored again by the App's server process
    after = fr.load_run(app_dataset, "ssim")
    assert after.parameters["threshold"] == NEW_CUT and after.counts != before
    assert after.details["recut"]["reviews_applied"] == REVIEWED

    redundancy.get_by_text(f"{after.counts['redundant']} redundant (").wait_for()  # the open panel follows
    screenshot(page, "pair_review_applied", focus=panel.get_by_text(f"re-cut at {NEW_CUT}"))
    redundancy.get_by_text(f"grouped by the pair-score threshold {NEW_CUT}").wait_for()

