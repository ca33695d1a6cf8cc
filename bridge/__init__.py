"""The one layer that touches FiftyOne: reads views, calls ``core``, writes fields and runs."""
