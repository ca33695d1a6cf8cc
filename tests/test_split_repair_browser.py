"""A leaky split repaired from the Redundancy panel in the real App (issue 29): the panel's
*Repair split…* button opens the operator on the shown run, the form refuses the user's
own split field as it is typed, and the repair writes only the new field. Screenshots go
to ``tests/artifacts/`` as the other browser tests' do."""

import socket
import time

import pytest

import fiftyone as fo
import fiftyone_redundancy.api as fr
from fiftyone import ViewField as F
from test_panels_browser import browser, choose_run, form_input, open_panel, page, screenshot  # noqa: F401

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app_dataset(small_demo_dataset):
    """The small demo (six planted leaks) with a split run; persistent for the App's server."""
    dataset = small_demo_dataset.clone("test-demo-repair")
    dataset.persistent = True
    fr.compute_split_similarity(dataset, key="split", label_field="ground_truth", progress=False)
    yield dataset
    dataset.delete()


@pytest.fixture(scope="module")
def app(app_dataset):
    """The real App server, as the other browser tests start it, once its session client
    has connected (on a loaded machine that takes a while after ``launch_app`` returns)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    session = fo.launch_app(app_dataset, remote=True, port=port, address="127.0.0.1")
    for _ in range(120):
        try:
            session.view = None
            break
        except RuntimeError:  # "Client is not connected" yet
            time.sleep(0.5)
    yield session, f"http://127.0.0.1:{port}/datasets/{app_dataset.name}"
    session.close()


def test_a_split_is_repaired_from_the_panel(page, app_dataset):
    tags = app_dataset.values("tags")
    open_panel(page, "redundancy_panel")
    choose_run(page, "redundancy_panel", "split")
    page.get_by_role("button", name="Repair split…").click()
    form_input(page, "New split field").fill("tags")
    page.get_by_text("field 'tags' already exists").first.wait_for()
    screenshot(page, "repair_refuses_the_users_field")
    form_input(page, "New split field").fill("repaired_split")
    form_input(page, "Tolerance").fill("0.7")  # about two test images per class here
    page.wait_for_timeout(1000)  # the form checks the field before Execute is enabled
    page.get_by_role("button", name="Execute").click()
    page.get_by_text("Split repaired", exact=True).wait_for()
    page.get_by_text("images moved").first.wait_for()
    screenshot(page, "repair_result")

    assert app_dataset.values("tags") == tags
    app_dataset.reload()
    leaks = app_dataset.match(F("planted") == "leak")
    by_group = {}
    for group, side in zip(leaks.values("planted_group"), leaks.values("repaired_split")):
        by_group.setdefault(group, set()).add(side)
    assert len(by_group) == 6 and all(len(sides) == 1 for sides in by_group.values())
    page.get_by_role("button", name="Close").click()
    page.get_by_role("button", name="Reload").click()  # the run's record changed, not its key or time
    page.get_by_text("Repaired split in field").first.wait_for()
    screenshot(page, "redundancy_panel_repaired_split")
