"""Reference agents, run from the repository root as ``python -m agents.<name>``.

They use only the environment's public contract (``reset``, ``step``, ``info``
and, for the teacher replay, ``env.unwrapped.task``), so each one doubles as an
example of plugging a policy into the suite.
"""
