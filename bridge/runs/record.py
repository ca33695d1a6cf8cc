"""A stored run as a reader sees it (``RedundancyRun``), and which runs a dataset holds."""

from fiftyone import ViewField as F

from ...core.decisions import REDUNDANT, STATUSES
from ...core.pair_score import ScoredPairs
from ...core.spectral import clusters_from_spectrum
from ...core.ssim_analysis import SSIMParameters
from ..documented import documented
from ..methods import method_named
from . import tables
from .contract import METHOD_PREFIX, _groups_view
from .keys import require_dataset
from .transaction import recover

GROUPING_WORDS = {"spectral": "spectral clustering", "threshold": "threshold grouping"}
"""Groupings that change what a run's groups are, in words (SSIM's two)."""


@documented
def list_runs(dataset, method=None):
    """The keys of this plugin's runs on ``dataset``, after cleaning up what dead
    writers left.

    Args:
        method: only runs of this analysis (its name in ``bridge.methods.METHODS``, e.g.
            "wavelet_clusters"); None: all

    Returns:
        a list of run keys
    """
    require_dataset(dataset)
    recover(dataset)
    return _plugin_runs(dataset, method)


def method_of(dataset, key):
    """The description (``bridge.methods.Method``) of the analysis run ``key`` stored."""
    return method_named(dataset.get_run_info(key).config.method[len(METHOD_PREFIX) :])


def _plugin_runs(dataset, method=None):
    keys = []
    for key in dataset.list_runs():
        stored = dataset.get_run_info(key).config.method or ""
        if stored.startswith(METHOD_PREFIX) and (
            method is None or stored == METHOD_PREFIX + method
        ):
            keys.append(key)
    return keys


def require_run(dataset, key):
    """Refuse, with the dataset's runs, a key that holds no run of this plugin (after
    cleaning up what dead writers left)."""
    require_dataset(dataset)
    recover(dataset)
    _require_run(dataset, key)


def _require_run(dataset, key):
    """``require_run`` for a caller that holds the key's lease (no recovery pass)."""
    if key not in _plugin_runs(dataset):
        raise ValueError(
            f"dataset {dataset.name!r} has no redundancy run {key!r}; "
            f"its runs are {_plugin_runs(dataset)}"
        )


class RedundancyRun:
    """A stored analysis: parameters, counts, timings, and the views it implies."""

    def __init__(self, dataset, key):
        require_run(dataset, key)
        self.dataset = dataset
        self.key = key
        info = dataset.get_run_info(key)
        self.method = info.config.method[len(METHOD_PREFIX) :]
        self.parameters = {
            name: value
            for name, value in info.config.serialize().items()
            if name not in ("method", "cls", "type")
        }
        self.timestamp = info.timestamp
        self._results = dataset.load_run_results(key, cache=False)

    @property
    def method_info(self):
        """The analysis' description (``bridge.methods.Method``): its label, map, views."""
        return method_named(self.method)

    @property
    def title(self):
        """The run's analysis in words, with its grouping where that says how it grouped."""
        grouping = GROUPING_WORDS.get(self.parameters.get("grouping"))
        return self.method_info.label if grouping is None else f"{self.method_info.label} ({grouping})"

    @property
    def version(self):
        """The version of the plugin that last wrote the run (None: one before 0.2.0)."""
        return getattr(self._results, "version", None)

    @property
    def counts(self):
        """Samples per status, e.g. ``{"redundant": 12, ...}``."""
        return dict(self._results.counts)

    @property
    def timings(self):
        """Seconds per stage of the analysis."""
        return dict(self._results.timings)

    @property
    def stored_details(self):
        """The details as the run record holds them (its pairs encoded): what a rename or
        a re-cut stores again."""
        return {name: getattr(self._results, name) for name in self._results.attributes() if name not in ("cls",)}

    @property
    def details(self):
        """Everything the run stored beyond counts (timings, selection, projection...).
        Stored pairs come as arrays (``{"first", "second", "score"}``, whichever way the
        run stored them). An SSIM run stored before runs kept their eigen-gap count gets
        it from its stored spectrum, as its analysis would have stored it."""
        details = self.stored_details
        if "pairs" in details:
            details["pairs"] = ScoredPairs.columns_of(details["pairs"])
        if "spectrum" in details and "eigengap_clusters" not in details:
            details["eigengap_clusters"] = clusters_from_spectrum(
                details["spectrum"], self.parameters.get("rule", SSIMParameters.rule), self.parameters.get("gamma", SSIMParameters.gamma)
            )
        return details

    @property
    def fields(self):
        """The sample fields this run wrote."""
        return list(self._results.fields)

    def view(self, statuses=None):
        """Samples of the run, optionally only those whose status is in ``statuses``."""
        status_field = f"{self.key}_status"
        view = self.dataset.exists(status_field)
        if statuses is not None:
            statuses = [statuses] if isinstance(statuses, str) else list(statuses)
            unknown = set(statuses) - set(STATUSES)
            if unknown:
                raise ValueError(f"unknown statuses {sorted(unknown)}; use {STATUSES}")
            view = view.match(F(status_field).is_in(statuses))
        return view

    def groups_view(self):
        """Samples in groups, group by group (largest first), each representative first."""
        return _groups_view(self.dataset, self.key)

    def _in_groups(self):
        return self.dataset.match(F(f"{self.key}_group") >= 0)

    def group_view(self, group):
        """One group's samples, representative first."""
        return self.groups_view().match(F(f"{self.key}_group") == int(group))

    def least_similar_view(self):
        """Split-similarity runs: the test samples least similar to all training
        samples, least similar first."""
        if "least_similar_view" not in self.method_info.views:
            raise ValueError(f"run {self.key!r} is a {self.method} run; only split-similarity runs rank test samples")
        return self.dataset.select(self.details["least_similar_ids"], ordered=True)

    def group_sizes(self):
        """``{group number: size}`` for every group of 2+ samples."""
        return self._in_groups().count_values(f"{self.key}_group")

    def label_field(self):
        """The run's label field, or None when it had none or the field is gone since."""
        name = self.parameters.get("label_field")
        return name if name and self.dataset.has_sample_field(name) else None

    def largest_groups(self):
        """Group numbers, largest group first (ties by number): the panel's table order."""
        return tables.largest_first(self.group_sizes())

    def group_rows(self, limit=None):
        """One row per group of 2+ samples, largest first (``tables.group_rows``)."""
        return tables.group_rows(self, limit)

    def map_columns(self):
        """What the embedding map draws (``tables.map_columns``)."""
        return tables.map_columns(self)

    def summary(self):
        """A few readable lines: counts per status, what was found before the pair score,
        what was repaired or has changed since, and the time it took."""
        total = sum(self.counts.values())
        lines = [f"run {self.key!r} ({self.method}) on {total} samples:"]
        for status in STATUSES:
            count = self.counts.get(status, 0)
            lines.append(f"  {status:<15}{count:>7}  ({100.0 * count / max(total, 1):5.1f}%)")
        identical = getattr(self._results, "identical", None)
        if identical and any(identical.values()):
            lines.append(f"  identical to another image: {identical['identical']:,}; one colour (blank): {identical['constant']:,}")
        repaired = getattr(self._results, "repaired", None)
        if repaired:
            lines.append(f"  {len(repaired):,} image(s) had NaN or infinite pixels, read as their lowest value (details['repaired'])")
        orphans = self.orphaned()
        if orphans:
            lines.append(
                f"  {orphans:,} redundant sample(s) point at a representative deleted since the run: "
                "the curated view keeps one member of each such family; run the analysis again to choose anew"
            )
        lines.append(f"  time: {sum(self.timings.values()):.1f} s ({_format_timings(self.timings)})")
        return "\n".join(lines)

    def orphaned(self):
        """How many redundant samples point at a representative no longer in the dataset."""
        representatives = set(self.view([REDUNDANT]).distinct(f"{self.key}_representative")) - {None}
        if not representatives:
            return 0
        from bson import ObjectId

        present = set(self.dataset.select([ObjectId(i) for i in representatives]).values("id"))
        missing = list(representatives - present)
        return self.dataset.match(F(f"{self.key}_representative").is_in(missing)).count() if missing else 0

    def __repr__(self):
        return f"<RedundancyRun {self.key!r} method={self.method!r} counts={self.counts}>"


def _format_timings(timings):
    return ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in timings.items())
