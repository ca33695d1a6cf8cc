"""Feature maps of a trained torch model (the thesis method, step 1): a forward hook on a
chosen layer captures its output for every image, in batches (image files decoded one
batch ahead, each image under the time bound of ``images.load_images``); or, with
an executor, batches of image files as Ray tasks, each worker building the model once
from its source (``ModelSource``)."""

import hashlib
import io
import os
import pickle
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as WaitTimeout
from dataclasses import dataclass

import numpy as np

from .devices import resolve_device
from .extras import installed

if installed("torch"):
    import torch
else:  # the [features] extra is missing: bridge.features refuses feature maps, saying so
    torch = None
from . import images as image_files
from .images import load_image
from .parameters import check_declared, declared

TASK_IMAGES = 1024
"""Images per Ray task of a distributed extraction (rounded up to whole batches, so every
forward pass sees the batch a single process would)."""


@dataclass
class ExtractionParameters:
    """How images are fed to the model, validated in one place."""

    image_size: int = 32
    """The side the images are resized to (an int, or ``(width, height)``)."""
    normalize: str = "imagenet"
    """"imagenet": ImageNet's channel means and deviations, as torchvision models expect;
    "none": pixels in [0, 1]."""
    pool: bool = True
    """Average a convolutional layer's output over its spatial positions."""
    batch_size: int = declared(64, "Batch size", integer=True, at_least=1)
    num_workers: int = declared(None, "DataLoader workers", "Empty: chosen from the CPU count", integer=True, at_least=0)
    """DataLoader workers; None: from the CPU count (``loader_workers``)."""

    def __post_init__(self):
        check_declared(self)


def load_model(path=None, architecture=None, num_classes=None, trust_model_file=False):
    """A torch model from a file: TorchScript, or a torchvision ``architecture`` name whose
    weights (a state dict) are in ``path``, both read without running code from the file
    (``weights_only``); a pickled ``nn.Module`` only with ``trust_model_file``, since
    unpickling runs whatever code the file carries. Nothing is downloaded: torchvision
    models are built with ``weights=None``."""
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
        pass
    try:
        model = torch.load(path, map_location="cpu", weights_only=not trust_model_file)
    except pickle.UnpicklingError as error:
        if "safe_globals" not in str(error):  # not a pickled object: a broken file
            raise
        raise ValueError(
            f"{path} holds a pickled model, and loading it would run any code the file "
            "carries; save it as TorchScript (torch.jit.save(torch.jit.script(model), path)) "
            "or save its state_dict and give its torchvision architecture, or pass "
            "trust_model_file=True if you trust whoever wrote the file"
        ) from None
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


def check_layer(model, layer):
    """Refuse a ``layer`` the model cannot be hooked at; returns its named modules."""
    modules = dict(model.named_modules())
    if layer is not None and layer not in modules:
        raise ValueError(f"the model has no layer {layer!r}; its layers are {layer_names(model)[:20]}...")
    if layer is not None and isinstance(model, torch.jit.ScriptModule):
        raise ValueError(
            "a TorchScript model cannot be hooked at an inner layer; use layer=None for its "
            "output, or save the model with torch.save(model) (or give its torchvision "
            "architecture and state dict)"
        )
    return modules


def extract_features(model, layer, images, batch_size=ExtractionParameters.batch_size, num_workers=None,
                     device=None, pool=ExtractionParameters.pool, progress=None):  # fmt: skip
    """Output of ``layer`` for every image of ``images`` (``ImageFiles``, a torch
    ``Dataset`` of CHW tensors, or an array (n, C, H, W)), one flattened row per image
    (for ``ImageFiles`` that skip failures, per readable image: ``images.failures`` names
    the others); ``layer=None`` takes the model's own output. ``pool`` averages convolutional maps (N,
    C, H, W) over H and W first. ``num_workers`` None: ``loader_workers``. ``progress(done,
    total)`` after each batch, and at least every ``images.POLL_SECONDS`` while image files
    are slow to read (a cancel raised there stops the extraction at once). TorchScript
    models take no hooks: only their output.

    Batches go channels-last (oneDNN's fast layout for convolutions) under
    ``torch.inference_mode``; to a GPU from pinned memory without blocking."""
    modules = check_layer(model, layer)
    device = resolve_device(device)
    model = model.to(device, memory_format=torch.channels_last).eval()
    workers = loader_workers(device) if num_workers is None else num_workers
    done = 0

    def waiting():
        if progress is not None:
            progress(done, len(images))

    if isinstance(images, ImageFiles):
        batches = images.batches(batch_size, workers, pin=device == "cuda", waiting=waiting)
    else:
        if isinstance(images, np.ndarray):
            images = torch.utils.data.TensorDataset(torch.as_tensor(images, dtype=torch.float32))
        loader = torch.utils.data.DataLoader(
            images, batch_size=batch_size, num_workers=workers, pin_memory=device == "cuda"
        )
        batches = (batch[0] if isinstance(batch, (tuple, list)) else batch for batch in loader)
    captured = []

    def hook(_module, _inputs, output):
        output = output[0] if isinstance(output, (tuple, list)) else output
        if pool and output.ndim == 4:
            output = output.mean(dim=(2, 3))
        captured.append(output.detach().flatten(1).float().cpu())

    handle = modules[layer].register_forward_hook(hook) if layer is not None else None
    try:
        with torch.inference_mode():
            for batch in batches:
                done = min(done + batch_size, len(images))  # the inputs this batch covers, read or skipped
                if len(batch):
                    batch = batch.to(device, non_blocking=True)
                    output = model(batch.contiguous(memory_format=torch.channels_last) if batch.ndim == 4 else batch)
                    if handle is None:
                        hook(None, None, output)
                waiting()
    finally:
        if handle is not None:
            handle.remove()
        batches.close()  # stops the decoding ahead of the model
    return torch.cat(captured).numpy() if captured else np.empty((0, 0), dtype=np.float32)


class _Stopped(Exception):
    """The extraction ended while the next batch was decoding: the decoding stops too."""


class ImageFiles:
    """Image files as CHW float tensors of one size, decoded in batches by
    ``images.load_images`` (threads; each image under its time bound, so a file on a
    storage that stopped answering is named instead of waited on), one batch ahead of the
    model; ``load_image`` decodes a large JPEG near the target size with PIL's draft mode.
    Also a map-style torch dataset, one image per index. ``mean``/``std`` (per channel)
    normalize as the model was trained, e.g. ImageNet's. With ``skip_failures`` an
    unreadable file is left out of its batch and named in ``failures`` (``{index:
    reason}``), as ``images.load_images`` does; without it, it stops the extraction."""

    def __init__(self, paths, size=(32, 32), color="rgb", mean=None, std=None, skip_failures=False):
        self.paths, self.size, self.color = list(paths), tuple(size), color
        self.skip_failures, self.failures = skip_failures, {}
        self.mean = None if mean is None else torch.tensor(mean, dtype=torch.float32)[:, None, None]
        self.std = None if std is None else torch.tensor(std, dtype=torch.float32)[:, None, None]

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        return self._tensors(load_image(self.paths[index], self.size, self.color)[None])[0]

    def _tensors(self, pixels):
        """(n, H, W, C) pixels as (n, C, H, W) tensors (channels-last in memory), normalized."""
        images = torch.from_numpy(pixels).permute(0, 3, 1, 2)
        return images if self.mean is None else (images - self.mean) / self.std

    def batches(self, batch_size, workers, pin=False, waiting=None):
        """The images in order, ``batch_size`` at a time; the next batch decodes (in
        ``workers`` threads) while the caller works on this one. ``waiting()`` is called
        every ``images.POLL_SECONDS`` while the caller waits on a batch (a cancel raised
        there stops the decoding too)."""
        stopped = threading.Event()

        def stop_if_asked(_done, _total):
            if stopped.is_set():
                raise _Stopped

        def decode(start):
            pixels = image_files.load_images(
                self.paths[start : start + batch_size], self.size, self.color, workers, stop_if_asked, self.skip_failures
            )
            if self.skip_failures:
                pixels, failures = pixels
                self.failures.update({start + index: reason for index, reason in failures.items()})
            batch = self._tensors(pixels)
            return batch.pin_memory() if pin else batch

        starts = range(0, len(self.paths), batch_size)
        if not starts:
            return
        ahead = ThreadPoolExecutor(max_workers=1)
        try:
            pending = ahead.submit(decode, starts[0])
            for following in [*starts[1:], None]:
                while True:
                    try:
                        batch = pending.result(timeout=image_files.POLL_SECONDS)
                        break
                    except WaitTimeout:
                        if waiting is not None:
                            waiting()
                pending = None if following is None else ahead.submit(decode, following)
                yield batch
        finally:  # never waits on a stuck read
            stopped.set()
            ahead.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class ModelSource:
    """How a Ray worker builds the model: loaded from ``path`` (a whole model, or the state
    dict of a torchvision ``architecture``) as ``load_model`` does, or, for a model given
    as an object (or an architecture without a checkpoint, whose weights are random), from
    its serialized bytes, sent once to Ray's object store (``digest`` names them). Each
    worker process builds it once and keeps it (``_worker_model``)."""

    path: str = None
    architecture: str = None
    num_classes: int = None
    stamp: tuple = None
    """The file's size and modification time: a file changed since loads again."""
    digest: str = None
    trusted: bool = False
    """Whether the file may hold a pickled model (``load_model``'s ``trust_model_file``)."""


def model_source(model, path=None, architecture=None, num_classes=None, trusted=False):
    """``(ModelSource, serialized model or None)`` for ``model`` (already loaded by the
    caller, here from ``path``/``architecture`` when given): a checkpoint file is loaded
    again by each worker (it must be readable there, like the images); otherwise the
    module itself travels, once (``torch.save``, or ``torch.jit.save`` for TorchScript)."""
    if path is not None and os.path.isfile(path):
        path = os.path.abspath(path)
        status = os.stat(path)
        return ModelSource(path, architecture, num_classes, (status.st_size, status.st_mtime_ns), trusted=trusted), None
    buffer = io.BytesIO()
    if isinstance(model, torch.jit.ScriptModule):
        torch.jit.save(model, buffer)
    else:
        torch.save(model, buffer)
    payload = np.frombuffer(buffer.getvalue(), dtype=np.uint8)  # read in place from Ray's store
    return ModelSource(digest=hashlib.sha1(payload).hexdigest()), payload


_MODELS = {}
"""The model a Ray worker process built last, by its ``ModelSource``."""


def _worker_model(source, payload=None):
    model = _MODELS.get(source)
    if model is None:
        if payload is None:
            model = load_model(source.path, source.architecture, source.num_classes, source.trusted)
        else:
            model = _model_from_bytes(payload)
        _MODELS.clear()  # one model per worker process at a time
        _MODELS[source] = model
    return model


def _model_from_bytes(payload):
    data = bytes(payload)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return torch.jit.load(io.BytesIO(data), map_location="cpu").eval()
    except (RuntimeError, ValueError):
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=False).eval()


def extract_features_sharded(executor, source, payload, layer, paths, size=(32, 32), mean=None, std=None,
                             batch_size=ExtractionParameters.batch_size, device=None,
                             pool=ExtractionParameters.pool, progress=None, skip_failures=False):  # fmt: skip
    """``extract_features`` of the image files ``paths`` as Ray tasks of ``executor``
    (``parallel.RayExecutor``): each task decodes ``TASK_IMAGES`` images (whole batches of
    ``batch_size``) and runs them through the model its worker built from ``source`` and
    ``payload`` (``model_source``); rows come back in path order. ``device`` is resolved on
    each worker. ``progress(done, total)`` after each task. Returns ``(rows, {index:
    reason})``: with ``skip_failures`` the rows of the readable images and the others named;
    without it an unreadable image stops the extraction."""
    from .parallel import run_map

    paths = list(paths)
    step = batch_size * max(1, -(-TASK_IMAGES // batch_size))
    starts = range(0, len(paths), step)
    tasks = [(source, layer, paths[start : start + step], tuple(size), mean, std, batch_size, device, pool, skip_failures)
             for start in starts]  # fmt: skip
    rows, failures = [], {}
    for start, (features, task_failures) in zip(starts, run_map(executor, _extract_task, tasks, payload)):
        rows.append(features)
        failures.update({start + index: reason for index, reason in task_failures.items()})
        if progress is not None:
            progress(min(start + step, len(paths)), len(paths))
    features = np.concatenate([part for part in rows if len(part)] or [np.empty((0, 0), dtype=np.float32)])
    return features, failures


def _extract_task(task, payload=None):
    source, layer, paths, size, mean, std, batch_size, device, pool, skip_failures = task
    files = ImageFiles(paths, size, "rgb", mean, std, skip_failures)
    return extract_features(_worker_model(source, payload), layer, files, batch_size, 0, device, pool), files.failures
