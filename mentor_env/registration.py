"""Every environment id of the suite, registered in this one place."""

from __future__ import annotations

import gymnasium as gym

# id -> entry point. Keyword arguments of gym.make go to ToolUseEnv.
ENV_IDS: dict[str, str] = {
    "mentor/Calc-v0": "mentor_env.domains.calc:CalcEnv",
    "mentor/Units-v0": "mentor_env.domains.units:UnitsEnv",
    "mentor/Dates-v0": "mentor_env.domains.dates:DatesEnv",
    "mentor/Lookup-v0": "mentor_env.domains.lookup:LookupEnv",
    "mentor/Table-v0": "mentor_env.domains.table:TableEnv",
    # Out-of-domain evaluation sets that others wrote (mentor_env.external; needs bfcl-eval).
    "mentor/BFCL-v0": "mentor_env.external.bfcl:BFCLEnv",
    # Numeric spaces for agents without a language model (Stable-Baselines3).
    "mentor/Calc-Structured-v0": "mentor_env.structured:make_structured_calc",
}

# domain name -> its text env id ("calc" -> "mentor/Calc-v0"), for cross-domain evaluations.
DOMAIN_ENV_IDS: dict[str, str] = {
    entry_point.split(":")[0].rsplit(".", 1)[1]: env_id
    for env_id, entry_point in ENV_IDS.items()
    if entry_point.startswith("mentor_env.domains.")
}


def register_envs() -> None:
    """Register the ids with Gymnasium (idempotent; ``import mentor_env`` calls it).

    The ids are registered with ``disable_env_checker=True``: Gymnasium 1.x's
    passive checker breaks the next episode after a ``reset`` that raised (it
    marks the reset as checked, keeps no data, then raises ``TypeError`` inside
    its own check of the first ``step``). Our tests run Gymnasium's full
    ``check_env`` over every id instead; ``gym.make(id, disable_env_checker=False)``
    still turns the passive checker on.
    """
    for env_id, entry_point in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, disable_env_checker=True)
