"""Every environment id of the suite, registered in this one place."""

from __future__ import annotations

import gymnasium as gym

# id -> entry point. Keyword arguments of gym.make go to ToolUseEnv.
ENV_IDS: dict[str, str] = {
    "mentor/Calc-v0": "mentor_env.domains.calc:CalcEnv",
}


def register_envs() -> None:
    """Register the ids with Gymnasium (idempotent; ``import mentor_env`` calls it)."""
    for env_id, entry_point in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point)
