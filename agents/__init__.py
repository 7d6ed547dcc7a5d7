"""Reference agents, run from the repository root as ``python -m agents.<name>``.

They use only the environment's public contract (``reset``, ``step``, ``info``,
and :func:`mentor_env.served_tasks` for the tasks of a split) and the library's
own players (:class:`mentor_env.play.teachers.ReplayPolicy` replays the
teacher), so each one doubles as an example of plugging a policy into the suite.
"""
