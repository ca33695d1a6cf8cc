"""Independent chunks of a stage (decoding, verification) run as Ray tasks (the optional
``[distributed]`` extra): locally with ``ray.init()``, or on a team's cluster by address.
We write no scheduler: Ray places the tasks, retries them and returns their results in
order. Without an executor every stage runs in this process, as before.

Only embarrassingly parallel work goes to Ray; anything that decides across images (the
candidate search, grouping) stays in the driver, so a distributed run groups exactly as
a single process does.
"""


class RayExecutor:
    """Maps a function over items as Ray tasks. ``address``: None starts a local Ray
    (``ray.init()``) with ``num_workers`` CPUs (all by default); ``"auto"`` or
    ``"host:port"`` joins a running cluster.
    Ray is imported only here, when an executor is made."""

    def __init__(self, address=None, num_workers=None):
        import ray

        self.address = address
        if not ray.is_initialized():
            options = {"include_dashboard": False, "log_to_driver": False}
            if address is None:  # a Ray of this process's own, even where a cluster runs
                address, options["num_cpus"] = "local", num_workers
            ray.init(address=address, **options)
        self._ray = ray

    def map(self, function, items):
        """``function(item)`` for every item, as Ray tasks; results in item order (a
        generator: each result as soon as it and those before it are done)."""
        remote = self._ray.remote(function)
        references = [remote.remote(item) for item in items]
        for reference in references:
            yield self._ray.get(reference)

    @property
    def nodes(self):
        """Alive nodes of the cluster this executor runs on."""
        return [node for node in self._ray.nodes() if node.get("Alive")]


def run_map(executor, function, items):
    """``function`` over ``items`` with ``executor`` (a ``RayExecutor``), or in this
    process when it is None."""
    return map(function, items) if executor is None else executor.map(function, items)
