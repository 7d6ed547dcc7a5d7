"""Tests of ``mentor_env.integrations`` (scoring, TRL, verl) and the OpenEnv server ``mentor_env.serve``."""
