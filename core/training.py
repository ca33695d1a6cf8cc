"""A fast small classifier, trained from scratch to measure what a curation costs: the
shape of Keller Jordan's airbench94 (2024; 94% on CIFAR-10 in seconds on one A100),
itself after Page's fast CIFAR ResNet: a stem, three conv groups each halving the image
(widths 64/256/256 at full size), batch norm, GELU, a global max pool (the penultimate
layer, ``pool``), a linear head scaled down; SGD with Nesterov momentum, label smoothing,
a triangular learning rate, flips and 2-pixel translations, flip averaging at test time.
``TrainingBudget`` scales it down (width, epochs, image size) so a CPU run fits minutes.

On the CPU the same seed gives the same model and numbers (``torch.manual_seed`` inside a
forked RNG, a seeded generator for the batches and augmentation); on a GPU, cuDNN's
kernels may differ in the last bits between runs."""

import time
from dataclasses import dataclass

import numpy as np

from .devices import resolve_device
from .extras import installed
from .parameters import check_number

if installed("torch"):
    import torch
    from torch import nn
else:  # the [features] extra is missing: bridge.curation_cost refuses, saying so
    torch = nn = None

PENULTIMATE = "pool"
"""The layer whose output feeds the head: the features a class-wise analysis clusters."""


@dataclass
class TrainingBudget:
    """How much network and training one run gets; ``BUDGETS`` names two."""

    epochs: int = 10
    width: int = 64
    """The first group's channels; the other two have four times as many (64/256/256)."""
    image_size: int = 32
    batch_size: int = 512
    learning_rate: float = 0.75
    """The peak, for a batch of 512 (scaled with the batch size): airbench94's 11.5 per
    1,024 of a summed loss, for a mean loss."""
    weight_decay: float = 1.3e-3
    """airbench94's, for a mean loss (its decoupled 0.0153 per 1,024 over that rate)."""
    label_smoothing: float = 0.2

    def __post_init__(self):
        self.epochs = check_number("epochs", self.epochs, integer=True, at_least=1)
        self.width = check_number("width", self.width, integer=True, at_least=4)
        self.image_size = check_number("image_size", self.image_size, integer=True, at_least=8)
        self.batch_size = check_number("batch_size", self.batch_size, integer=True, at_least=1)
        self.learning_rate = check_number("learning_rate", self.learning_rate, above=0)
        self.weight_decay = check_number("weight_decay", self.weight_decay, at_least=0)
        self.label_smoothing = check_number("label_smoothing", self.label_smoothing, at_least=0, below=1)


BUDGETS = {
    "gpu": TrainingBudget(),
    "cpu": TrainingBudget(epochs=8, width=16, image_size=16, batch_size=256),
}
"""``"gpu"``: the full-size network (airbench94's widths, 10 epochs at 32 px); ``"cpu"``:
a quarter of the width at 16 px for 8 epochs: 14 s and 61% test accuracy on 8,000 CIFAR-10
images on 2 cores (4 epochs: 9 s, 49%)."""


def training_budget(budget):
    """A ``TrainingBudget`` from one, a name of ``BUDGETS``, or a dict of its fields."""
    if isinstance(budget, TrainingBudget):
        return budget
    if isinstance(budget, str):
        if budget not in BUDGETS:
            raise ValueError(f"budget must be one of {sorted(BUDGETS)}, a dict of TrainingBudget's fields, or a TrainingBudget; got {budget!r}")
        return BUDGETS[budget]
    if isinstance(budget, dict):
        return TrainingBudget(**budget)
    raise ValueError(f"budget must be one of {sorted(BUDGETS)}, a dict or a TrainingBudget, got {budget!r}")


def conv_group(channels_in, channels_out):
    """Two 3x3 convolutions with a 2x2 max pool after the first (airbench's ConvGroup)."""
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False),
        nn.MaxPool2d(2),
        nn.BatchNorm2d(channels_out),
        nn.GELU(),
        nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(channels_out),
        nn.GELU(),
    )


class FastNet(nn.Module if nn is not None else object):
    """The classifier; ``pool`` is its penultimate layer (one vector per image)."""

    def __init__(self, num_classes, width=64):
        super().__init__()
        stem = max(8, 3 * width // 8)  # airbench's 24 channels at width 64
        self.stem = nn.Sequential(nn.Conv2d(3, stem, 3, padding=1, bias=False), nn.BatchNorm2d(stem), nn.GELU())
        self.groups = nn.Sequential(conv_group(stem, width), conv_group(width, 4 * width), conv_group(4 * width, 4 * width))
        self.pool = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten())
        self.head = nn.Linear(4 * width, num_classes, bias=False)

    def forward(self, images):
        return self.head(self.pool(self.groups(self.stem(images)))) / 9.0  # airbench's output scale


def augment(images, generator):
    """Each image flipped left-right with probability 1/2 and shifted by up to 2 pixels
    (reflect-padded), drawn from ``generator``."""
    count, _, height, width = images.shape
    flips = (torch.rand(count, generator=generator) < 0.5).to(images.device)
    images = torch.where(flips[:, None, None, None], images.flip(3), images)
    padded = nn.functional.pad(images, (2, 2, 2, 2), mode="reflect")
    shifts = torch.randint(0, 5, (2,), generator=generator).tolist()  # one shift per batch: a slice, not a gather
    return padded[:, :, shifts[0] : shifts[0] + height, shifts[1] : shifts[1] + width]


def train_classifier(images, labels, num_classes, budget, seed, device=None, progress=None):
    """A ``FastNet`` trained on ``images`` (float tensor (n, 3, s, s), normalised) and
    ``labels`` (int tensor) from the seed ``seed``. ``progress(done, total)`` hears each
    step and may raise to stop."""
    budget = training_budget(budget)
    device = resolve_device(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = FastNet(num_classes, budget.width).to(device, memory_format=torch.channels_last)
    generator = torch.Generator().manual_seed(seed)
    batch = min(budget.batch_size, len(images))
    steps_per_epoch = max(1, len(images) // batch)  # drop the last partial batch, as airbench does
    total = budget.epochs * steps_per_epoch
    scale = batch / 512
    decay, no_decay = [], []
    for parameter in model.parameters():
        (no_decay if parameter.ndim <= 1 else decay).append(parameter)
    optimizer = torch.optim.SGD(
        [{"params": decay, "weight_decay": budget.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=budget.learning_rate * scale, momentum=0.85, nesterov=True,
    )  # fmt: skip
    warmup = max(1, total // 5)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: (step + 1) / warmup if step < warmup else max(0.0, (total - step) / (total - warmup + 1))
    )
    loss_of = nn.CrossEntropyLoss(label_smoothing=budget.label_smoothing)
    images, labels = images.to(device), labels.to(device)  # once: batches and augmentation stay there
    model.train()
    done = 0
    for _ in range(budget.epochs):
        order = torch.randperm(len(images), generator=generator)
        for step in range(steps_per_epoch):
            chosen = order[step * batch : (step + 1) * batch].to(device)
            inputs = augment(images[chosen], generator).contiguous(memory_format=torch.channels_last)
            loss = loss_of(model(inputs), labels[chosen])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            done += 1
            if progress is not None:
                progress(done, total)
    return model.eval()


def predict(model, images, device=None, batch_size=1024):
    """Predicted classes of ``images``, the logits of each image and its mirror averaged."""
    device = resolve_device(device)
    predictions = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            inputs = images[start : start + batch_size].to(device, memory_format=torch.channels_last)
            logits = model(inputs) + model(inputs.flip(3))
            predictions.append(logits.argmax(1).cpu())
    return torch.cat(predictions) if predictions else torch.zeros(0, dtype=torch.long)


def accuracy(model, images, labels, device=None):
    """The share of ``images`` whose predicted class is their label."""
    return float((predict(model, images, device) == labels).float().mean()) if len(labels) else float("nan")


def as_tensors(images, labels, mean, std):
    """``(n, h, w, 3)`` float images in [0, 1] and class indices as the tensors training
    takes: channels first, normalised by ``mean`` and ``std`` per channel."""
    pixels = (np.asarray(images, dtype=np.float32) - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))), torch.as_tensor(labels, dtype=torch.long)


@dataclass
class TrainingScore:
    """One training run: its seed, training set size, test accuracy and seconds."""

    seed: int
    n_train: int
    accuracy: float
    seconds: float


def train_and_score(images, labels, train, test, num_classes, budget, seeds, device=None, progress=None):
    """One model per seed trained on the rows ``train`` of ``images``/``labels`` and scored
    on the rows ``test``: a ``TrainingScore`` each. ``progress(seed, done, total)``."""
    scores = []
    train, test = torch.as_tensor(np.asarray(train, dtype=np.int64)), torch.as_tensor(np.asarray(test, dtype=np.int64))
    for seed in seeds:
        started = time.perf_counter()
        heard = None if progress is None else (lambda done, total, seed=seed: progress(seed, done, total))
        model = train_classifier(images[train], labels[train], num_classes, budget, seed, device, heard)
        score = accuracy(model, images[test], labels[test], device)
        scores.append(TrainingScore(int(seed), len(train), score, time.perf_counter() - started))
    return scores


def held_out_split(labels, test_fraction, seed):
    """``(training rows, test rows)``: ``round(test_fraction * n_c)`` rows of each class
    ``c`` (at least one, and one fewer than the class) drawn from ``seed`` are the test
    part, the rest the training part, both sorted."""
    check_number("test_fraction", test_fraction, above=0, below=1)
    labels = np.asarray(labels, dtype=object)
    generator = np.random.default_rng(seed)
    test = []
    for label in sorted(set(labels.tolist()), key=str):
        rows = np.flatnonzero(labels == label)
        count = min(max(1, round(test_fraction * len(rows))), len(rows) - 1)
        test.extend(generator.choice(rows, count, replace=False).tolist())
    test = np.sort(np.asarray(test, dtype=np.int64))
    return np.setdiff1d(np.arange(len(labels)), test), test


def copies_across(groups, train, test):
    """The rows of ``test`` whose group (in any of ``groups``: per run, one group number
    per row, negative or None for none) has a member among the rows ``train``: a test
    sample with a near-identical training image, which a clean test set leaves out."""
    leaked = set()
    for numbers in groups:
        numbers = np.asarray([-1 if number is None else number for number in numbers], dtype=np.int64)
        trained = {number for number in numbers[train].tolist() if number >= 0}
        leaked.update(int(row) for row in test if numbers[row] in trained)
    return np.asarray(sorted(leaked), dtype=np.int64)


@dataclass
class ScoredRow:
    """One row of a curation's cost: what was trained on and each seed's score."""

    name: str
    scores: list

    @property
    def n_train(self):
        return self.scores[0].n_train

    @property
    def accuracies(self):
        return [score.accuracy for score in self.scores]

    @property
    def mean(self):
        return float(np.mean(self.accuracies))

    @property
    def sd(self):
        """The sample standard deviation over the seeds (0 for one seed)."""
        return float(np.std(self.accuracies, ddof=1)) if len(self.scores) > 1 else 0.0

    @property
    def seconds(self):
        """Seconds per training (mean over the seeds), the test included."""
        return float(np.mean([score.seconds for score in self.scores]))

    def as_dict(self):
        return {"name": self.name, "n_train": self.n_train, "accuracy_mean": self.mean, "accuracy_sd": self.sd,
                "accuracies": self.accuracies, "seconds_per_training": self.seconds}  # fmt: skip


def score_table(rows, device):
    """A markdown table of ``rows`` (``ScoredRow``), naming the device."""
    lines = [
        f"| training set | images | test accuracy (mean ± sd, {len(rows[0].scores)} seeds) | seconds per training ({device}) |",
        "|---|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(f"| {row.name} | {row.n_train:,} | {100 * row.mean:.2f}% ± {100 * row.sd:.2f} | {row.seconds:.1f} |")
    return "\n".join(lines)
