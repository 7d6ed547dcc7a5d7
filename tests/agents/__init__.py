"""Tests of the reference agents in ``agents/``."""
