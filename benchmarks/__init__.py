"""Scripts that print figures and ratios measured in one run (``python benchmarks/NAME.py``),
and what they share with the test suite: ``checkpoints.py`` and ``architectures.py`` (models to
convert), ``killing.py`` and ``kill9_scenarios.py`` (kill -9 at chosen moments). The tests import
these; nothing here imports the tests."""
