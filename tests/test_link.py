"""``fiftyone-redundancy-link`` puts the installed package where FiftyOne loads plugins
from, and never touches anything it did not make there."""

import os

import pytest

from fiftyone_redundancy import link


def test_the_package_is_linked_once_into_the_plugins_folder(tmp_path):
    plugins = tmp_path / "plugins"  # made when missing
    assert link.main(["--plugins-dir", str(plugins)]) == 0
    made = plugins / link.LINK_NAME
    assert os.path.realpath(made) == os.path.realpath(link.PACKAGE_DIR)
    assert (made / "fiftyone.yml").is_file() and (made / "__init__.py").is_file()
    assert link.link(str(plugins)).startswith("already linked")


def test_a_downloaded_copy_in_its_place_is_left_alone(tmp_path):
    downloaded = tmp_path / link.LINK_NAME
    downloaded.mkdir()
    (downloaded / "fiftyone.yml").write_text("name: mine\n")
    with pytest.raises(FileExistsError, match="is not a link to this package"):
        link.link(str(tmp_path))
    assert link.main(["--plugins-dir", str(tmp_path)]) == 1
    assert link.unlink(str(tmp_path)).startswith("no link to this package")
    assert (downloaded / "fiftyone.yml").read_text() == "name: mine\n"


def test_remove_takes_away_its_own_link_only(tmp_path):
    link.link(str(tmp_path))
    assert link.main(["--plugins-dir", str(tmp_path), "--remove"]) == 0
    assert not os.path.lexists(tmp_path / link.LINK_NAME)
    assert os.path.isfile(os.path.join(link.PACKAGE_DIR, "fiftyone.yml"))  # the package itself stays


def test_a_link_to_another_copy_of_the_plugin_or_to_nothing_is_replaced(tmp_path):
    other = tmp_path / "old-checkout"
    other.mkdir()
    (other / "fiftyone.yml").write_text(f"name: '{link.PLUGIN_NAME}'\n")
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / link.LINK_NAME).symlink_to(other)
    assert link.link(str(tmp_path / "plugins")).startswith("linked")
    assert os.path.realpath(tmp_path / "plugins" / link.LINK_NAME) == os.path.realpath(link.PACKAGE_DIR)
    (other / "fiftyone.yml").write_text("name: '@someone/else'\n")
    os.unlink(tmp_path / "plugins" / link.LINK_NAME)
    (tmp_path / "plugins" / link.LINK_NAME).symlink_to(other)
    with pytest.raises(FileExistsError):
        link.link(str(tmp_path / "plugins"))
