"""How responsive the panels are on a 50,000-sample run::

    .venv/bin/python benchmarks/panels_cifar.py [--limit N] [--no-browser]

Imports CIFAR-10 (../shared/data) once, runs the wavelet analysis once (kept as run
``wavelet`` on the persistent dataset), then prints the time each panel handler takes
headlessly and the size of what it sends to the App, and (unless --no-browser) the time
from opening each panel in the real App in Chromium until its figure is drawn.
"""

import argparse
import json
import os
import shutil
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cifar import load_cifar  # noqa: E402

PLUGIN = "@fiftyone-redundancy/redundancy"
KEY = "wavelet"


def timed_handler(dataset, panel, method, state=None, **params):
    import fiftyone.operators as foo

    started = time.perf_counter()
    result = foo.execute_operator(
        f"{PLUGIN}/{panel}",
        ctx=dict(dataset=dataset, params={"__method__": method, "panel_id": "bench", "panel_state": state or {}, **params}),
    )
    seconds = time.perf_counter() - started
    assert result.error is None, result.error
    requests = result.to_json()["executor"]["requests"]
    state = dict(state or {})
    for request in requests:
        if request["operator_uri"] == "patch_panel_state":
            state.update(request["params"]["state"])
    return seconds, len(json.dumps(requests)), state


def headless(dataset):
    from fiftyone import ViewField as F

    print(f"{'panel handler':<44}{'seconds':>9}{'sent (MB)':>11}")
    rows = []
    seconds, size, state = timed_handler(dataset, "redundancy_panel", "on_load", state={"key": KEY})
    rows.append(("Redundancy: open", seconds, size))
    seconds, size, _ = timed_handler(dataset, "redundancy_panel", "show_group", state=state, row=0)
    rows.append(("Redundancy: click the largest group", seconds, size))
    seconds, size, state = timed_handler(dataset, "embedding_map", "on_load", state={"key": KEY})
    rows.append(("Embedding map: open (colour by status)", seconds, size))
    note = state["note_md"].split("\n\n")[-1]
    seconds, size, _ = timed_handler(dataset, "embedding_map", "on_change_color", state=state, value="label")
    rows.append(("Embedding map: colour by label", seconds, size))
    lasso = [{"id": sample_id} for sample_id in dataset.take(1000, seed=0).values("id")]
    seconds, size, _ = timed_handler(dataset, "embedding_map", "on_selected", state=state, data=lasso)
    rows.append(("Embedding map: lasso 1,000 points", seconds, size))
    member = dataset.match(F(f"{KEY}_status") == "representative").first().id
    seconds, size, _ = timed_handler(dataset, "embedding_map", "on_click", state=state, id=member)
    rows.append(("Embedding map: click a group's point", seconds, size))
    for name, seconds, size in rows:
        print(f"{name:<44}{seconds:>9.2f}{size / 2**20:>11.2f}")
    print(f"on screen: {note}")


def browser(dataset):
    """Seconds from clicking a panel's entry until its figure is drawn, in the real App."""
    import fiftyone as fo
    from playwright.sync_api import sync_playwright

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    session = fo.launch_app(dataset, remote=True, port=port, address="127.0.0.1")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    drawn = "n => Array.from(document.querySelectorAll('.js-plotly-plot')).some(gd => (gd.data || []).some(t => (t.ids || []).length > 0 || t.type === 'bar'))"
    try:
        with sync_playwright() as playwright:
            engine = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
            for panel in ("redundancy_panel", "embedding_map"):
                session.spaces = None
                page = engine.new_page(viewport={"width": 1600, "height": 1000})
                page.set_default_timeout(300_000)
                page.goto(f"http://127.0.0.1:{port}/datasets/{dataset.name}", wait_until="load")
                page.get_by_text(f"{len(dataset):,} samples", exact=True).wait_for()
                try:
                    page.get_by_text("Dismiss", exact=True).click(timeout=10_000)
                except Exception:
                    pass
                page.locator('[data-cy="new-panel-btn"]').first.click()
                started = time.perf_counter()
                page.locator(f'[data-cy="new-panel-option-{panel}"]').click()
                page.wait_for_function(drawn, arg=0)
                print(f"browser: {panel} drawn {time.perf_counter() - started:.1f} s after opening")
                page.close()
            engine.close()
    finally:
        session.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="use a random N of the 50,000 images")
    parser.add_argument("--no-browser", action="store_true", help="headless handler timings only")
    args = parser.parse_args()

    import fiftyone_redundancy.api as fr

    dataset = load_cifar(args.limit)
    if KEY not in fr.list_runs(dataset):
        print(f"computing the wavelet run on {len(dataset):,} images once ...")
        fr.compute_wavelet_clusters(dataset, label_field="ground_truth", key=KEY)
    run = fr.load_run(dataset, KEY)
    print(f"dataset {dataset.name!r}: {len(dataset):,} samples; run {KEY!r}: {run.counts}")
    headless(dataset)
    if not args.no_browser:
        browser(dataset)


if __name__ == "__main__":
    main()
