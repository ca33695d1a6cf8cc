"""Test session setup: a real MongoDB started by FiftyOne in a temporary folder (or the
server named by FIFTYONE_DATABASE_URI), this repository as the plugin (beside stand-ins for
FiftyOne's runs operators), and the demo dataset built once from real images written to
disk."""

import atexit
import os
import shutil
import sys
import tempfile
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SCRATCH = tempfile.mkdtemp(prefix="redundancy-tests-")


@atexit.register
def _remove_scratch():
    """The images and plugin link go at exit; the database folder stays, because another
    FiftyOne process of this user (a second test run, the App) may have attached to the
    database this run started, and its mongod keeps serving from that folder."""
    for name in os.listdir(_SCRATCH):
        if name != "db":
            shutil.rmtree(os.path.join(_SCRATCH, name), ignore_errors=True)


_PLUGINS = os.path.join(_SCRATCH, "plugins")
os.makedirs(_PLUGINS)
os.symlink(ROOT, os.path.join(_PLUGINS, "fiftyone-redundancy"))
# stand-ins for FiftyOne's runs operators (tests/test_fiftyone_runs.py)
os.symlink(os.path.join(ROOT, "tests", "runs_plugin"), os.path.join(_PLUGINS, "runs-operators"))

os.environ["FIFTYONE_PLUGINS_DIR"] = _PLUGINS
os.environ.setdefault("FIFTYONE_DO_NOT_TRACK", "true")
os.environ.setdefault("FIFTYONE_DATABASE_VALIDATION", "false")
os.environ["FIFTYONE_DATABASE_NAME"] = f"redundancy-tests-{uuid.uuid4().hex[:8]}"
if not os.environ.get("FIFTYONE_DATABASE_URI"):
    os.environ["FIFTYONE_DATABASE_DIR"] = os.path.join(_SCRATCH, "db")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def scratch_dir():
    return _SCRATCH


@pytest.fixture(scope="session")
def demo_dataset(scratch_dir):
    """The full demo dataset (real images with planted truth), built once."""
    from fiftyone_redundancy.demo_data import load_demo_dataset

    return load_demo_dataset("test-demo", os.path.join(scratch_dir, "demo-images"))


@pytest.fixture(scope="session")
def small_demo_dataset(scratch_dir):
    """The demo's planted structure over 20 digits per class: for tests that re-run."""
    from fiftyone_redundancy.demo_data import load_demo_dataset

    return load_demo_dataset(
        "test-demo-small", os.path.join(scratch_dir, "demo-small-images"), digits_per_class=20
    )


@pytest.fixture
def small_dataset(small_demo_dataset):
    """A fresh clone of the small demo dataset that a test may change freely."""
    dataset = small_demo_dataset.clone()
    yield dataset
    dataset.delete()


@pytest.fixture
def python_without(tmp_path):
    """``python_without(excluded, with_package=True)``: the command and environment of a
    Python subprocess that sees this Python's packages except those whose folders in
    site-packages start with one of ``excluded``: a folder of links to the others, run
    with ``python -S`` (no site-packages of its own, no .pth files, so no editable install
    of this package either); ``with_package`` links this checkout in as
    ``fiftyone_redundancy``."""
    import site

    def make(excluded=(), with_package=True):
        packages = tmp_path / "site-packages"
        packages.mkdir()
        for folder in site.getsitepackages():
            for entry in os.listdir(folder):
                if not entry.lower().startswith(tuple(excluded)) and not entry.endswith(".pth"):
                    (packages / entry).symlink_to(os.path.join(folder, entry))
        paths = [str(packages)]
        if with_package:
            (tmp_path / "fiftyone_redundancy").symlink_to(ROOT)
            paths.insert(0, str(tmp_path))
        return [sys.executable, "-S"], {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}

    return make


def pytest_sessionfinish(session, exitstatus):
    if "fiftyone" not in sys.modules:  # core-only runs never started a database
        return
    try:
        import fiftyone as fo

        for name in fo.list_datasets():
            if name.startswith("test-demo"):
                fo.delete_dataset(name)
        if "FIFTYONE_DATABASE_URI" in os.environ:
            import fiftyone.core.odm as foo

            foo.get_db_client().drop_database(os.environ["FIFTYONE_DATABASE_NAME"])
    except Exception as error:  # cleanup must not mask the test result
        print(f"cleanup failed: {error}", file=sys.stderr)


WRITER = os.path.join(ROOT, "tests", "writer_process.py")


@pytest.fixture(scope="module")
def writers():
    """Two fork servers of writer processes (``writer_process.py``: two writers may run at
    once), started once this process has connected, so they use its database."""
    import subprocess

    import fiftyone.core.odm as foo

    foo.get_db_conn()
    processes = [
        subprocess.Popen([sys.executable, WRITER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    yield processes
    for process in processes:
        process.stdin.close()
        process.wait(timeout=60)
