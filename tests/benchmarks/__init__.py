"""Tests of the benchmarks in ``benchmarks/`` and their shared helpers."""
