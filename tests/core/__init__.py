"""Tests of ``mentor_env.core``: the env, tools, parsing, rewards, splits, sandbox, files."""
