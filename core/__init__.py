"""Algorithms on arrays. Never imports fiftyone, so it runs (and benchmarks) anywhere."""
