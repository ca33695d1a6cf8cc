"""Where array work runs, and with which library: torch when it is installed (on a CUDA GPU
when one is present, else on the CPU), else numpy and scipy on the CPU.

torch comes with the ``[features]`` extra. Without it every analysis but feature maps runs
on numpy, with the same results (``core.arrays``; ``tests/test_arrays.py`` compares the
two). ``FIFTYONE_REDUNDANCY_ARRAYS=numpy`` asks for numpy where torch is installed too.
"""

import glob
import os

from .extras import FEATURES_EXTRA, installed

ARRAYS_VARIABLE = "FIFTYONE_REDUNDANCY_ARRAYS"
ARRAY_LIBRARIES = ("torch", "numpy")


def array_library():
    """``"torch"`` when it is installed and ``FIFTYONE_REDUNDANCY_ARRAYS`` does not say
    ``numpy``; else ``"numpy"``."""
    chosen = os.environ.get(ARRAYS_VARIABLE) or None
    if chosen not in (None, *ARRAY_LIBRARIES):
        raise ValueError(f"{ARRAYS_VARIABLE} must be one of {ARRAY_LIBRARIES} or unset, got {chosen!r}")
    if chosen == "torch" and not installed("torch"):
        raise ValueError(f"{ARRAYS_VARIABLE}=torch, but torch is not installed here; {FEATURES_EXTRA}")
    return "torch" if chosen != "numpy" and installed("torch") else "numpy"


def resolve_device(device=None):
    """``"cuda"`` when asked for, or when None and a CUDA GPU is visible to torch; else
    ``"cpu"``."""
    if device not in (None, "cpu", "cuda"):
        raise ValueError(f"device must be None (automatic), 'cpu' or 'cuda', got {device!r}")
    if device == "cpu":
        return "cpu"
    if array_library() == "numpy":
        if device == "cuda":
            reason = f"{ARRAYS_VARIABLE}=numpy" if installed("torch") else f"torch is not installed; {FEATURES_EXTRA}"
            raise ValueError(f"device='cuda' was requested but no CUDA GPU is available ({reason})")
        return "cpu"
    if device is None and not glob.glob("/dev/nvidia[0-9]*"):
        return "cpu"  # no NVIDIA device node: skip importing torch (2 s) just to ask
    import torch

    available = torch.cuda.is_available()
    if device == "cuda" and not available:
        raise ValueError("device='cuda' was requested but no CUDA GPU is available to torch")
    return "cuda" if available else "cpu"
