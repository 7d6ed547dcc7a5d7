"""Task domains: the suite's one table of domains, and the lookup that every entry point uses.

Each row of :data:`DOMAINS` names a domain, the Gymnasium id of its text env
and that env's default arguments; the env ids, ``DOMAIN_ENV_IDS`` and every
"which domain is this" lookup (``gym.make``, :func:`mentor_env.integrations.scoring.score_completion`,
the TRL and verl adapters) are derived from it. A domain written outside the
package joins the table through :func:`mentor_env.register_domain`.

Each built-in domain is a package (``calc``, ``units``, ``dates``, ``lookup``,
``table``: tools, question templates, the scripted teacher's plan, the judge)
built on what they share: :mod:`~mentor_env.domains.base` (the
:class:`~mentor_env.domains.base.GeneratedDomain` generate driver),
:mod:`~mentor_env.domains.scripted` (scripted teachers and the call-graph
solver) and :mod:`~mentor_env.domains.answers` (judge helpers). A new
generated domain subclasses ``GeneratedDomain`` with its tools, system prompt,
levels and a ``draw`` that returns a question with its teacher plan.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Mapping

from mentor_env.core.domain import Domain


@dataclass(frozen=True)
class DomainEntry:
    """One row of the suite.

    Attributes:
        env_id: the Gymnasium id of the domain's text env.
        source: ``"module:Class"`` (imported on first use, so that
            ``import mentor_env`` stays light) or a domain object.
        env_kwargs: default keyword arguments of that env (``gym.make`` overrides them).
    """

    env_id: str
    source: str | Domain
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)


# domain name -> its row.
DOMAINS: dict[str, DomainEntry] = {
    "calc": DomainEntry("mentor/Calc-v0", "mentor_env.domains.calc:CalcDomain"),
    "units": DomainEntry("mentor/Units-v0", "mentor_env.domains.units:UnitsDomain"),
    "dates": DomainEntry("mentor/Dates-v0", "mentor_env.domains.dates:DatesDomain"),
    # Looking up takes a search, a read or two, then the question's follow-up.
    "lookup": DomainEntry("mentor/Lookup-v0", "mentor_env.domains.lookup:LookupDomain", {"max_turns": 12}),
    "table": DomainEntry("mentor/Table-v0", "mentor_env.domains.table:TableDomain"),
}

_instances: dict[str, Domain] = {}


def get_domain(name: str) -> Domain:
    """The domain called ``name`` (one shared instance per process)."""
    entry = DOMAINS.get(name)
    if entry is None:
        raise KeyError(f"unknown domain {name!r}; known domains: {sorted(DOMAINS)}")
    if not isinstance(entry.source, str):
        return entry.source
    if name not in _instances:
        module_name, class_name = entry.source.split(":")
        _instances[name] = getattr(importlib.import_module(module_name), class_name)()
    return _instances[name]
