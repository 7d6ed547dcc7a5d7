"""Tests of ``mentor_env.play``: teachers, generation, evaluation."""
