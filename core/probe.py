"""The decision-boundary probe (Yousefzadeh 2020, section 5.3): how often a classifier's
prediction changes along the straight path between two images."""

import numpy as np


def boundary_crossings(predict, first, second, steps=32):
    """Count class changes of ``predict`` along ``(1 - a) * first + a * second`` for
    ``steps + 1`` evenly spaced ``a`` in [0, 1]. ``predict`` maps a batch (stacked along a
    new first axis) to class indices. Returns ``(crossings, predicted classes)``."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    first, second = np.asarray(first, dtype=np.float32), np.asarray(second, dtype=np.float32)
    if first.shape != second.shape:
        raise ValueError(f"the two inputs differ in shape: {first.shape} and {second.shape}")
    alphas = np.linspace(0, 1, steps + 1, dtype=np.float32).reshape(-1, *([1] * first.ndim))
    path = (1 - alphas) * first + alphas * second
    classes = np.asarray(predict(path)).reshape(-1)
    return int(np.count_nonzero(classes[1:] != classes[:-1])), classes


def torch_classifier(model, device="cpu"):
    """``predict`` for ``boundary_crossings`` from a torch classifier (argmax of logits)."""
    import torch

    model = model.to(device).eval()

    def predict(batch):
        with torch.no_grad():
            return model(torch.as_tensor(batch, device=device)).argmax(dim=1).cpu().numpy()

    return predict
