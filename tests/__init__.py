"""The test suite (a package, so that `tests.conftest` is ours even where another installed distribution ships a top-level `tests`, as verl does)."""
