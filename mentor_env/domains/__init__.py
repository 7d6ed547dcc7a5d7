"""Task domains: one module each (tools, generator, scripted teacher, judge)."""

from __future__ import annotations

import importlib

from mentor_env.core.domain import Domain

# name -> "module:Class"; imported on first use so that `import mentor_env` stays light.
DOMAINS: dict[str, str] = {
    "calc": "mentor_env.domains.calc:CalcDomain",
    "units": "mentor_env.domains.units:UnitsDomain",
    "dates": "mentor_env.domains.dates:DatesDomain",
    "lookup": "mentor_env.domains.lookup:LookupDomain",
    "table": "mentor_env.domains.table:TableDomain",
}

_instances: dict[str, Domain] = {}


def get_domain(name: str) -> Domain:
    """The domain called ``name`` (one shared instance per process)."""
    if name not in DOMAINS:
        raise KeyError(f"unknown domain {name!r}; known domains: {sorted(DOMAINS)}")
    if name not in _instances:
        module_name, class_name = DOMAINS[name].split(":")
        _instances[name] = getattr(importlib.import_module(module_name), class_name)()
    return _instances[name]
