"""Feature maps of a trained torch model (the thesis method, step 1): a forward hook on a
chosen layer captures its output for every image, batched through a DataLoader."""

import os
import warnings

import numpy as np
import torch

from .devices import resolve_device


def load_model(path=None, architecture=None, num_classes=None):
    """A torch model from a file: a whole model (TorchScript, or a pickled ``nn.Module``),
    or a torchvision ``architecture`` name whose weights (a state dict) are in ``path``.
    Nothing is downloaded: torchvision models are built with ``weights=None``."""
    if architecture is not None:
        import torchvision

        if architecture not in torchvision.models.list_models():
            raise ValueError(
                f"unknown torchvision architecture {architecture!r}; e.g. resnet18, "
                "mobilenet_v3_small, efficientnet_b0"
            )
        kwargs = {} if num_classes is None else {"num_classes": num_classes}
        model = torchvision.models.get_model(architecture, weights=None, **kwargs)
        if path is not None:
            state = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(state.get("state_dict", state) if isinstance(state, dict) else state)
        return model.eval()
    if path is None:
        raise ValueError("give a model file, or a torchvision architecture (with a checkpoint)")
    try:
        with warnings.catch_warnings():  # torch.jit.load warns that it is deprecated
            warnings.simplefilter("ignore", FutureWarning)
            return torch.jit.load(path, map_location="cpu").eval()
    except (RuntimeError, ValueError):
        model = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(model, torch.nn.Module):
        raise ValueError(
            f"{path} holds a {type(model).__name__}, not a model; for a state dict pass the "
            "torchvision architecture it belongs to"
        )
    return model.eval()


def layer_names(model):
    """Names of the model's submodules that a hook can capture, in forward order."""
    return [name for name, _ in model.named_modules() if name]


def loader_workers(device):
    """DataLoader workers for this machine: decoding shares the CPU with the model on a
    CPU-only machine (one worker per core beyond the first), and feeds a GPU with every
    core but one (at most 8)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(8, cores - 1) if device == "cuda" else min(4, max(cores - 1, 0))


def extract_features(model, layer, images, batch_size=64, num_workers=None, device=None,
                     pool=True, progress=None):  # fmt: skip
    """Output of ``layer`` for every image of ``images`` (a torch ``Dataset`` of CHW
    tensors, or an array (n, C, H, W)), one flattened row per image; ``layer=None`` takes
    the model's own output. ``pool`` averages convolutional maps (N, C, H, W) over H and W
    first. ``num_workers`` None: ``loader_workers``. ``progress(done, total)``. TorchScript
    models take no hooks: only their output.

    Batches go channels-last (oneDNN's fast layout for convolutions) under
    ``torch.inference_mode``, to a GPU from pinned memory without blocking, through the
    model traced and frozen for inference where it can be (``_compiled``)."""
    modules = dict(model.named_modules())
    if layer is not None and layer not in modules:
        raise ValueError(f"the model has no layer {layer!r}; its layers are {layer_names(model)[:20]}...")
    scripted = isinstance(model, torch.jit.ScriptModule)
    if layer is not None and scripted:
        raise ValueError(
            "a TorchScript model cannot be hooked at an inner layer; use layer=None for its "
            "output, or save the model with torch.save(model) (or give its torchvision "
            "architecture and state dict)"
        )
    device = resolve_device(device)
    model = model.to(device, memory_format=torch.channels_last).eval()
    if isinstance(images, np.ndarray):
        images = torch.utils.data.TensorDataset(torch.as_tensor(images, dtype=torch.float32))
    workers = loader_workers(device) if num_workers is None else num_workers
    loader = torch.utils.data.DataLoader(
        images, batch_size=batch_size, num_workers=workers, pin_memory=device == "cuda"
    )
    eager = LayerOutput(model, layer, pool).eval()
    forward, captured = None, []
    for batch in loader:
        batch = batch[0] if isinstance(batch, (tuple, list)) else batch
        batch = batch.to(device, non_blocking=True)
        batch = batch.contiguous(memory_format=torch.channels_last) if batch.ndim == 4 else batch
        if forward is None:
            forward = eager if scripted else _compiled(eager, batch) or eager
        with torch.inference_mode():
            try:
                output = forward(batch)
            except RuntimeError:
                if forward is eager:
                    raise
                forward = eager  # traced with a shape this batch does not have
                output = forward(batch)
        captured.append(output.float().cpu())
        if progress is not None:
            progress(sum(map(len, captured)), len(images))
    return torch.cat(captured).numpy()


class LayerOutput(torch.nn.Module):
    """``model`` answering with the output of its ``layer`` (None: its own output), the
    first item of a tuple, averaged over H and W when ``pool`` and convolutional, one
    flattened row per image."""

    def __init__(self, model, layer, pool):
        super().__init__()
        self.model, self.layer, self.pool = model, layer, pool

    def forward(self, batch):
        captured = []
        handle = None
        if self.layer is not None:
            hooked = dict(self.model.named_modules())[self.layer]
            handle = hooked.register_forward_hook(lambda _module, _inputs, output: captured.append(output))
        try:
            output = self.model(batch)
        finally:
            if handle is not None:
                handle.remove()
        output = captured[0] if captured else output
        output = output[0] if isinstance(output, (tuple, list)) else output
        if self.pool and output.ndim == 4:
            output = output.mean(dim=(2, 3))
        return output.flatten(1)


def _compiled(module, example):
    """``module`` traced on ``example``, frozen and optimised for inference (batch norm
    folded into convolutions, oneDNN layouts): half the CPU time of eager resnet18 at
    32 px. None when the model cannot be traced (data-dependent control flow...)."""
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's warnings about Python values
            return torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(module, example)))
    except (RuntimeError, TypeError, ValueError, AttributeError, torch.jit.Error):
        return None


class ImageFiles(torch.utils.data.Dataset):
    """Image files as CHW float tensors of one size, decoded in DataLoader workers so a
    large view streams instead of being held in memory (``load_image`` decodes a large
    JPEG near the target size with PIL's draft mode). ``mean``/``std`` (per channel)
    normalize as the model was trained, e.g. ImageNet's."""

    def __init__(self, paths, size=(32, 32), color="rgb", mean=None, std=None):
        self.paths, self.size, self.color = list(paths), tuple(size), color
        self.mean = None if mean is None else torch.tensor(mean, dtype=torch.float32)[:, None, None]
        self.std = None if std is None else torch.tensor(std, dtype=torch.float32)[:, None, None]

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        from .images import load_image

        image = torch.from_numpy(load_image(self.paths[index], self.size, self.color)).permute(2, 0, 1)
        if self.mean is not None:
            image = (image - self.mean) / self.std
        return image
