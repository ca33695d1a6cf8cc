"""Where array work runs: a CUDA GPU through torch when one is present, else the CPU."""

import glob


def resolve_device(device=None):
    """``"cuda"`` when asked for, or when None and a CUDA GPU is visible; else ``"cpu"``."""
    if device not in (None, "cpu", "cuda"):
        raise ValueError(f"device must be None (automatic), 'cpu' or 'cuda', got {device!r}")
    if device == "cpu":
        return "cpu"
    if device is None and not glob.glob("/dev/nvidia[0-9]*"):
        return "cpu"  # no NVIDIA device node: skip importing torch (2 s) just to ask
    try:
        import torch

        available = torch.cuda.is_available()
    except ImportError:
        available = False
    if device == "cuda" and not available:
        raise ValueError("device='cuda' was requested but no CUDA GPU is available to torch")
    return "cuda" if available else "cpu"
