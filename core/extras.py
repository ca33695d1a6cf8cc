"""The optional dependencies: what the ``[features]`` extra brings and what to say where it
is missing. Without it every analysis but feature maps runs, on numpy (``core.arrays``)."""

import importlib.util

FEATURES = {"torch": "torch", "torchvision": "torchvision", "umap": "umap-learn", "hdbscan": "hdbscan"}
"""The ``[features]`` extra, module by module (and the package that brings each)."""
FEATURES_EXTRA = (
    "install the [features] extra (pip install 'fiftyone-redundancy[features]'; for a plugin "
    "downloaded with `fiftyone plugins download`: pip install torch torchvision umap-learn hdbscan)"
)
"""How to install what feature maps (and a GPU) need: the end of every message about it."""


_INSTALLED = {}
"""``installed``'s answers. A dict, not ``functools.cache``, as ``arrays._TORCH_ARRAYS``."""


def installed(module):
    """Whether ``module`` can be imported here (found without importing it: torch takes 2 s)."""
    if module not in _INSTALLED:
        _INSTALLED[module] = importlib.util.find_spec(module) is not None
    return _INSTALLED[module]


def missing_features():
    """The packages of the ``[features]`` extra that are not installed here."""
    return [package for module, package in FEATURES.items() if not installed(module)]


def require_features(what):
    """Refuse ``what`` (e.g. "feature maps") up front where the ``[features]`` extra is
    incomplete, naming what is missing and how to install it."""
    missing = missing_features()
    if missing:
        raise ImportError(f"{what}: {', '.join(missing)} not installed here; {FEATURES_EXTRA}")
