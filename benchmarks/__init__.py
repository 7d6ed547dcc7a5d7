"""Benchmarks, run from the repository root as ``python -m benchmarks.<name>``; results/ holds committed outputs."""
