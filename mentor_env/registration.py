"""Every environment id of the suite, registered in one place, :func:`register_domain` for your own,
and :func:`served_tasks`, the tasks an id serves.

The text envs come from the domain table (:data:`mentor_env.domains.DOMAINS`):
each row's id is registered with :func:`make_domain_env` as its entry point
and the row's default arguments as the spec's kwargs, so
``gym.spec("mentor/Lookup-v0").kwargs`` shows them.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from mentor_env.core.domain import Domain
from mentor_env.core.env import ToolUseEnv
from mentor_env.core.task import Task
from mentor_env.domains import DOMAINS, DomainEntry, get_domain

# Envs that are not a suite domain's text env: id -> entry point.
DERIVED_ENV_IDS: dict[str, str] = {
    # Out-of-domain evaluation sets that others wrote (mentor_env.external; needs bfcl-eval).
    "mentor/BFCL-v0": "mentor_env.external.bfcl:BFCLEnv",
    # Numeric spaces for agents without a language model (Stable-Baselines3).
    "mentor/Calc-Structured-v0": "mentor_env.structured:make_structured_calc",
}

# domain name -> its text env id ("calc" -> "mentor/Calc-v0"), for cross-domain evaluations.
DOMAIN_ENV_IDS: dict[str, str] = {name: entry.env_id for name, entry in DOMAINS.items()}
# Every id of the suite: the text envs', then the derived ones.
ENV_IDS: list[str] = [*DOMAIN_ENV_IDS.values(), *DERIVED_ENV_IDS]


def make_domain_env(domain: str, **kwargs: Any) -> ToolUseEnv:
    """The entry point of every text env id: a :class:`ToolUseEnv` over the named domain."""
    return ToolUseEnv(get_domain(domain), **kwargs)


def _register(name: str, entry: DomainEntry) -> None:
    gym.register(
        id=entry.env_id,
        entry_point="mentor_env.registration:make_domain_env",
        kwargs={"domain": name, **entry.env_kwargs},
        disable_env_checker=True,
    )


def register_envs() -> None:
    """Register the ids with Gymnasium (idempotent; ``import mentor_env`` calls it).

    The ids are registered with ``disable_env_checker=True``: Gymnasium 1.x's
    passive checker breaks the next episode after a ``reset`` that raised (it
    marks the reset as checked, keeps no data, then raises ``TypeError`` inside
    its own check of the first ``step``). Our tests run Gymnasium's full
    ``check_env`` over every id instead; ``gym.make(id, disable_env_checker=False)``
    still turns the passive checker on.
    """
    for name, entry in DOMAINS.items():
        if entry.env_id not in gym.registry:
            _register(name, entry)
    for env_id, entry_point in DERIVED_ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, disable_env_checker=True)


def register_domain(domain: Domain, env_id: str | None = None, **env_kwargs: Any) -> str:
    """Add a domain of your own to the suite; returns its env id.

    After this, ``gym.make(env_id)``, :func:`mentor_env.integrations.scoring.score_completion`
    (``domain=name``), the TRL reward functions and verl's ``compute_score``
    all know the domain, as they know the built-in ones.

    Args:
        domain: an object with the :class:`~mentor_env.core.domain.Domain`
            attributes (``name``, ``tools``, ``system_prompt``,
            ``difficulties``, ``generate``, ``judge``).
        env_id: its Gymnasium id (default ``"mentor/<Name>-v0"``).
        env_kwargs: default arguments of its env (``max_turns=...``).

    Raises:
        TypeError: ``domain`` lacks a Domain attribute.
        ValueError: the name or the id is taken by something else.

    Envs made in another process (an async vector env started with ``spawn``,
    a Ray worker) need the same call there, as for any Gymnasium id registered
    at run time.
    """
    missing = [
        attribute
        for attribute in ("name", "tools", "system_prompt", "difficulties", "generate", "judge")
        if not hasattr(domain, attribute)
    ]
    if missing:
        raise TypeError(
            f"a domain needs name, tools, system_prompt, difficulties, generate and judge; {type(domain).__name__} lacks {missing}"
        )
    name = domain.name
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        raise ValueError(
            f"a domain name must be a lowercase identifier (it is the tasks' 'domain' field), got {name!r}"
        )
    env_id = env_id if env_id is not None else f"mentor/{name.capitalize()}-v0"
    entry = DOMAINS.get(name)
    if entry is not None:
        if entry.source is domain and entry.env_id == env_id:
            return env_id  # the same registration again
        raise ValueError(f"the domain name {name!r} is taken (by {entry.source!r}, env id {entry.env_id!r})")
    if env_id in gym.registry:
        raise ValueError(f"the env id {env_id!r} is already registered with Gymnasium")
    entry = DomainEntry(env_id, domain, dict(env_kwargs))
    _register(name, entry)  # first: Gymnasium refuses a malformed id before the tables change
    DOMAINS[name] = entry
    DOMAIN_ENV_IDS[name] = env_id
    ENV_IDS.insert(len(DOMAIN_ENV_IDS) - 1, env_id)
    return env_id


def served_tasks(env_id: str, **env_kwargs: Any) -> list[Task] | None:
    """The tasks that ``gym.make(env_id, **env_kwargs)`` serves, in its order (a new list each call).

    With ``split=``, ``dataset=`` or ``tasks=`` an env holds a fixed list of
    tasks: a reset draws one from it (at the env's ``difficulty`` filter, which
    this applies too), and ``options={"task_id": ...}`` picks one by id.
    Without them it generates a task from each reset's seed, and this returns
    None. It is the public way to read a split's tasks (a trainer's pool, an
    evaluation's list) without reaching into ``env.unwrapped``.

    Raises:
        TypeError: the env is not one of this suite's tool-use envs (it holds no ``tasks``).
        ValueError: what ``gym.make`` raises for the arguments (an unknown split, a bad difficulty).
    """
    env = gym.make(env_id, **env_kwargs)
    try:
        served = env.get_wrapper_attr("served_tasks")
    except AttributeError:
        raise TypeError(f"{env_id} is not a mentor-env tool-use env: it has no served_tasks method") from None
    finally:
        env.close()
    tasks: list[Task] | None = served()
    return tasks
