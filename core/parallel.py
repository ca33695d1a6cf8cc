"""Independent chunks of a stage (decoding, verification) run as Ray tasks (the optional
``[distributed]`` extra): locally with ``ray.init()``, or on a team's cluster by address.
We write no scheduler: Ray places the tasks, retries them and returns their results in
order. Without an executor every stage runs in this process, as before.

Only embarrassingly parallel work goes to Ray; anything that decides across images (the
candidate search, grouping) stays in the driver, so a distributed run groups exactly as
a single process does.
"""

import collections
import contextlib
import sys
from concurrent.futures import ThreadPoolExecutor

from .devices import array_library, resolve_device

RAY_MISSING = (
    "Ray is not installed here: install the [distributed] extra (pip install "
    "'fiftyone-redundancy[distributed]') where the analysis runs, or run without an "
    "executor (no Ray address)"
)

PENDING_PER_CPU = 2
"""Tasks submitted ahead per CPU of the cluster: every CPU stays busy while the next
task's data travels."""

PACKAGE = __name__.rpartition(".core.")[0]
"""The name this package was imported under: ``fiftyone_redundancy`` as an installed
package; a name of FiftyOne's (``fiftyone.plugins.orgs...``) when its plugin loader
imported it, which no Ray worker can import, so its functions then travel by value."""


class RayExecutor:
    """Maps a function over items as Ray tasks. ``address``: None starts a local Ray
    (``ray.init()``) with ``num_workers`` CPUs (all by default); ``"auto"`` or
    ``"host:port"`` joins a running cluster.
    Ray is imported only here, when an executor is made."""

    def __init__(self, address=None, num_workers=None):
        try:
            import ray
        except ImportError as error:
            raise ImportError(RAY_MISSING) from error

        self.address = address
        if not ray.is_initialized():
            options = {"include_dashboard": False, "log_to_driver": False}
            if address is None:  # a Ray of this process's own, even where a cluster runs
                address, options["num_cpus"] = "local", num_workers
            ray.init(address=address, **options)
        if PACKAGE.startswith("fiftyone.plugins."):  # imported by FiftyOne's plugin loader
            ray.cloudpickle.register_pickle_by_value(sys.modules[PACKAGE])
        self._ray = ray

    def map(self, function, items, shared=None):
        """``function(item)`` for every item, as Ray tasks; results in item order (a
        generator: each result as soon as it and those before it are done). ``items``
        (an iterable, e.g. shards read from disk as they are asked for) is submitted
        ``PENDING_PER_CPU`` tasks per cluster CPU ahead of the results taken, Ray's
        pattern for limiting pending tasks, so a million images' shards are never all in
        the object store at once. ``shared`` (e.g. a serialized model) is put in Ray's
        object store once and passed to every call as ``function(item, shared)``,
        instead of being sent with every task."""
        remote = self._ray.remote(function)
        extra = () if shared is None else (self._ray.put(shared),)
        most_pending = max(1, int(PENDING_PER_CPU * self._ray.cluster_resources().get("CPU", 1)))
        pending = collections.deque()
        for item in items:
            pending.append(remote.remote(item, *extra))
            if len(pending) >= most_pending:
                yield self._ray.get(pending.popleft())
        while pending:
            yield self._ray.get(pending.popleft())

    @property
    def nodes(self):
        """Alive nodes of the cluster this executor runs on."""
        return [node for node in self._ray.nodes() if node.get("Alive")]


def run_map(executor, function, items, shared=None):
    """``function`` over ``items`` with ``executor`` (a ``RayExecutor``), or in this
    process when it is None (``shared``: as ``RayExecutor.map``)."""
    if executor is not None:
        return executor.map(function, items, shared)
    return (function(item) if shared is None else function(item, shared) for item in items)


def local_map(function, items, device=None):
    """``function`` over ``items`` in this process, results in order. Where array work runs
    on the CPU with torch (``devices``), as many items at a time as torch has threads, each
    call's operations on one thread (torch's own threads split small operations poorly:
    the aligned similarity's batches of pairs run 1.5x faster on 2 cores), reading at most
    that many items ahead; else one after another. A call's values do not depend on the
    threads. A Ray worker has one thread, so its tasks stay one after another."""
    threads = _torch_cpu_threads(device)
    if threads < 2:
        yield from map(function, items)
        return
    with _one_torch_thread(), ThreadPoolExecutor(threads) as pool:
        pending = collections.deque()
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) >= threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _torch_cpu_threads(device):
    if array_library() != "torch" or resolve_device(device) != "cpu":
        return 1
    import torch

    return torch.get_num_threads()


@contextlib.contextmanager
def _one_torch_thread():
    """torch on one thread while the block runs (the count is the process's: set back after)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
