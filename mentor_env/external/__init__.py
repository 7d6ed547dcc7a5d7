"""Evaluation sets that someone else wrote, served through our environments.

* :mod:`mentor_env.external.bfcl`: ``mentor/BFCL-v0``, the Berkeley Function
  Calling Leaderboard's single-turn categories, read from the ``bfcl-eval``
  wheel's data files (each task brings its own functions).
* :mod:`mentor_env.external.reasoning_gym`: procedurally generated tasks of
  ``reasoning-gym`` that the Calc and Dates tools can solve, served as the
  ``ood-reasoning-gym`` split of ``mentor/Calc-v0`` and ``mentor/Dates-v0``.

Neither package is needed to import :mod:`mentor_env`; each module says which
it needs, and raises an :class:`ImportError` naming the install when it is missing.
"""
