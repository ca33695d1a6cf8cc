"""Make the FiftyOne App see the pip-installed plugin: FiftyOne loads plugins only from its
plugins folder (``fo.config.plugins_dir``), so this links the installed package's folder
there (it holds ``fiftyone.yml``)::

    fiftyone-redundancy-link            # or: python -m fiftyone_redundancy.link
    fiftyone-redundancy-link --remove   # removes that link, and only that

Run it once after ``pip install fiftyone-redundancy``, in the environment FiftyOne runs
in, then restart the App. A plugin downloaded with ``fiftyone plugins download`` needs
no link: it is in the plugins folder already.
"""

import argparse
import os
import sys

import yaml

LINK_NAME = "fiftyone-redundancy"
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(PACKAGE_DIR, "fiftyone.yml")) as _manifest:
    PLUGIN_NAME = yaml.safe_load(_manifest)["name"]


def link_path(plugins_dir):
    return os.path.join(plugins_dir, LINK_NAME)


def ours(path):
    """Whether ``path`` is a link to this package's folder (the only thing ``--remove``
    removes)."""
    return os.path.islink(path) and os.path.realpath(path) == os.path.realpath(PACKAGE_DIR)


def stale(path):
    """Whether ``path`` is a link to another copy of this plugin, or to nothing (a checkout
    moved or deleted since): replacing a link loses nothing."""
    if not os.path.islink(path):
        return False
    manifest = os.path.join(path, "fiftyone.yml")
    if not os.path.exists(manifest):
        return not os.path.exists(path)
    with open(manifest) as handle:
        return yaml.safe_load(handle).get("name") == PLUGIN_NAME


def link(plugins_dir):
    """Link this package into ``plugins_dir`` (replacing a ``stale`` link); returns what
    was done, in words. Refuses (``FileExistsError``) where something else has the
    link's name."""
    path = link_path(plugins_dir)
    if ours(path):
        return f"already linked: {path} -> {PACKAGE_DIR}"
    if stale(path):
        os.unlink(path)
    if os.path.lexists(path):
        raise FileExistsError(
            f"{path} exists and is not a link to this package ({PACKAGE_DIR}): a downloaded copy of "
            "the plugin, or something else of that name. Nothing was changed; remove or rename it "
            "yourself if the installed package should take its place"
        )
    os.makedirs(plugins_dir, exist_ok=True)
    os.symlink(PACKAGE_DIR, path, target_is_directory=True)
    return f"linked {path} -> {PACKAGE_DIR}; restart the App to see the plugin's operators and panels"


def unlink(plugins_dir):
    path = link_path(plugins_dir)
    if not ours(path):
        return f"no link to this package at {path}: nothing removed"
    os.unlink(path)
    return f"removed the link {path}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--remove", action="store_true", help="remove the link this command made")
    parser.add_argument("--plugins-dir", help="FiftyOne's plugins folder (default: fo.config.plugins_dir)")
    args = parser.parse_args(argv)
    plugins_dir = args.plugins_dir
    if plugins_dir is None:
        import fiftyone as fo

        plugins_dir = fo.config.plugins_dir
    if not plugins_dir:
        parser.error("FiftyOne has no plugins folder configured: set FIFTYONE_PLUGINS_DIR or pass --plugins-dir")
    try:
        print(unlink(plugins_dir) if args.remove else link(plugins_dir))
    except OSError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
