"""The type checker's configuration (setup.cfg's [mypy] sections, run by ``make lint``): strict on ``mentor_env.core``.

mypy reads ``strict = True`` in a per-module section as the global flag, so the
core section names --strict's flags one by one; these tests read the options
mypy itself gives each module from setup.cfg.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

mypy_main = pytest.importorskip("mypy.main", reason="mypy comes with the dev extra")
mypy_options = pytest.importorskip("mypy.options")

ROOT = Path(__file__).resolve().parents[1]
# The per-module flags `mypy --strict` turns on (mypy 2.4.1), with the value it gives each.
STRICT_FLAGS = {
    "check_untyped_defs": True,
    "disallow_any_generics": True,
    "disallow_incomplete_defs": True,
    "disallow_subclassing_any": True,
    "disallow_untyped_calls": True,
    "disallow_untyped_decorators": True,
    "disallow_untyped_defs": True,
    "extra_checks": True,
    "implicit_reexport": False,
    "strict_equality": True,
    "warn_return_any": True,
    "warn_unused_ignores": True,
}


def options(arguments: list[str]) -> Any:
    """The global options mypy makes of ``arguments``."""
    return mypy_main.process_options(arguments)[1]


def flags(module_options: Any) -> dict[str, bool]:
    return {name: getattr(module_options, name) for name in STRICT_FLAGS}


def test_strict_flags_are_the_per_module_flags_of_mypy_strict(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no configuration file: mypy's defaults
    default, strict = options(["-c", "pass"]), options(["--strict", "-c", "pass"])
    changed = {
        name: getattr(strict, name)
        for name in mypy_options.PER_MODULE_OPTIONS
        if getattr(strict, name) != getattr(default, name)
    }
    assert changed == STRICT_FLAGS


@pytest.mark.parametrize("module", ["mentor_env.core", "mentor_env.core.env", "mentor_env.core.tools"])
def test_core_is_checked_strictly(monkeypatch, module):
    monkeypatch.chdir(ROOT)
    assert flags(options(["--config-file", "setup.cfg"]).clone_for_module(module)) == STRICT_FLAGS


@pytest.mark.parametrize("module", ["mentor_env", "mentor_env.play.rollouts", "mentor_env.domains.calc"])
def test_the_rest_of_the_package_keeps_mypys_defaults(monkeypatch, module):
    monkeypatch.chdir(ROOT)
    checked = flags(options(["--config-file", "setup.cfg"]).clone_for_module(module))
    assert checked == {name: not value for name, value in STRICT_FLAGS.items()}


def test_the_global_options(monkeypatch):
    monkeypatch.chdir(ROOT)
    configured = options(["--config-file", "setup.cfg"])
    assert configured.files == ["mentor_env"]
    assert configured.python_version == (3, 10)
    assert configured.warn_redundant_casts is True
    assert configured.clone_for_module("tqdm.auto").ignore_missing_imports is True
    assert configured.clone_for_module("numpy").ignore_missing_imports is False
