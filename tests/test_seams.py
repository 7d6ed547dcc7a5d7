"""The seams between the project's parts.

The import graph has no cycle and keeps the layers below; every module of
``mentor_env`` imports on its own; a domain package exports its domain class
only; agents read an env through its public contract, never ``env.unwrapped``.

The graph is read from the source (``ast``), not from a running interpreter:
every ``import`` and ``from ... import`` counts, those inside functions and
under ``if TYPE_CHECKING`` included, with relative imports resolved. An edge
goes to the module that holds the imported name (``from mentor_env.core
import rewards`` is an edge to ``mentor_env.core.rewards``; ``from
mentor_env.core import Task`` one to the package ``mentor_env.core``).

The layers of ``mentor_env``, lowest first; a module imports modules of its
own layer and of the layers below, never of one above:

1. core: ``mentor_env.core``: the env, tools, parsing, rewards, splits; it
   names no domain.
2. domains: ``mentor_env.domains`` (the built-in domains and the suite's
   table of them), ``mentor_env.external`` (task sets that others wrote,
   served through the same env), ``mentor_env.registration`` (the table's
   ids registered with Gymnasium), ``mentor_env.tasks`` (the command that
   builds and checks the frozen splits) and ``mentor_env.structured`` (Calc
   behind fixed-size numeric spaces, registered beside the text envs).
3. play: ``mentor_env.play`` (policies, the episode loop, evaluation,
   teachers) and the package root ``mentor_env`` (its public names,
   ``mentor_env.evaluate`` among them).
4. integrations: ``mentor_env.integrations`` (scoring, sessions, TRL, verl)
   and the OpenEnv server, ``mentor_env.serve`` and ``mentor_env.serve_limits``.

Outside the package: ``agents`` may import ``mentor_env``; ``benchmarks`` may
import both; nothing in ``mentor_env`` imports ``agents`` or ``benchmarks``,
and ``agents`` never import ``benchmarks``.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("mentor_env", "agents", "benchmarks")

# Layer name -> the modules in it (a name covers the module and everything below it), lowest layer first.
LAYERS: dict[str, tuple[str, ...]] = {
    "core": ("mentor_env.core",),
    "domains": (
        "mentor_env.domains",
        "mentor_env.external",
        "mentor_env.registration",
        "mentor_env.tasks",
        "mentor_env.structured",
    ),
    "play": ("mentor_env.play",),
    "integrations": ("mentor_env.integrations", "mentor_env.serve", "mentor_env.serve_limits"),
}
# The package root alone (not what lies below it) sits in this layer.
ROOT_PACKAGE_LAYER = "play"
# Top-level package -> the top-level packages it must never import.
FORBIDDEN_PACKAGES = {"mentor_env": ("agents", "benchmarks"), "agents": ("benchmarks",)}


# --- the static graph ------------------------------------------------------------------------------


def module_name(path: Path, root: Path = ROOT) -> str:
    """The dotted name of the module at ``path`` (a package's ``__init__.py`` is the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path = ROOT, packages: Iterable[str] = PROJECT) -> dict[str, Path]:
    """Every module of ``packages`` under ``root``: dotted name -> file."""
    return {module_name(path, root): path for package in packages for path in sorted((root / package).rglob("*.py"))}


def _relative_base(module: str, is_package: bool, level: int) -> str:
    """The package that a relative import of ``level`` dots in ``module`` starts from."""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    if level - 1 > len(parts) - 1:
        raise ValueError(f"{module}: a relative import of {level} dots goes above the top-level package")
    return ".".join(parts[: len(parts) - (level - 1)])


def resolve(name: str, known: set[str]) -> str | None:
    """The project module that importing ``name`` reads: the longest known module ``name`` starts with, or None."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imported_modules(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``tree`` (the source of ``module``) imports, anywhere in it."""
    found: set[str | None] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(resolve(alias.name, known) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _relative_base(module, is_package, node.level) if node.level else ""
            source = ".".join(part for part in (base, node.module) if part)
            for alias in node.names:
                # `from package import submodule` reads the submodule; `from package import name`, the package.
                submodule = f"{source}.{alias.name}"
                found.add(submodule if submodule in known else resolve(source, known))
    return {target for target in found if target is not None and target != module}


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (each edge once)."""
    known = set(modules)
    return {
        module: imported_modules(ast.parse(path.read_text(encoding="utf-8")), module, path.name == "__init__.py", known)
        for module, path in modules.items()
    }


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """The modules reached from ``start`` by one import or more (``start`` itself only through a cycle)."""
    found: set[str] = set()
    pending = list(graph.get(start, ()))
    while pending:
        node = pending.pop()
        if node not in found:
            found.add(node)
            pending.extend(graph.get(node, ()))
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph``: each group of modules that all reach one another, sorted."""
    reach = {node: reachable(graph, node) for node in graph}
    groups = {
        frozenset({node} | {other for other in reach[node] if node in reach.get(other, ())})
        for node in graph
        if node in reach[node]
    }
    return sorted(sorted(group) for group in groups)


def layer_of(module: str) -> str | None:
    """The layer of a ``mentor_env`` module (None for one that no layer names)."""
    if module == "mentor_env":
        return ROOT_PACKAGE_LAYER
    matches = [
        (len(prefix), layer)
        for layer, prefixes in LAYERS.items()
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    return max(matches)[1] if matches else None


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Every edge that imports upward through the layers, or into a package its package must not import."""
    rank = {layer: index for index, layer in enumerate(LAYERS)}
    found = []
    for module, targets in sorted(graph.items()):
        top = module.partition(".")[0]
        for target in sorted(targets):
            if target.partition(".")[0] in FORBIDDEN_PACKAGES.get(top, ()):
                found.append(f"{module} imports {target}")
            elif top == "mentor_env" and target.partition(".")[0] == "mentor_env":
                here, there = layer_of(module), layer_of(target)
                if here is not None and there is not None and rank[there] > rank[here]:
                    found.append(f"{module} ({here}) imports {target} ({there})")
    return found


# --- the graph of this repository -----------------------------------------------------------------


def test_the_project_has_no_import_cycle():
    assert cycles(import_graph(project_modules())) == []


def test_every_mentor_env_module_sits_in_a_layer():
    unplaced = [module for module in project_modules(packages=("mentor_env",)) if layer_of(module) is None]
    assert unplaced == []


def test_no_module_imports_above_its_layer_or_into_a_forbidden_package():
    assert layer_violations(import_graph(project_modules())) == []


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph(project_modules())
    # ToolRuntime starts its sandbox lazily, inside a method; the sandbox needs only the clock and the errors.
    assert "mentor_env.core.sandbox" in graph["mentor_env.core.tools"]
    assert graph["mentor_env.core.sandbox"] == {"mentor_env.core.clock", "mentor_env.core.errors"}


def test_core_names_no_domain_package():
    graph = import_graph(project_modules(packages=("mentor_env",)))
    core = {module: targets for module, targets in graph.items() if layer_of(module) == "core"}
    assert sorted(core) == [
        "mentor_env.core", "mentor_env.core.clock", "mentor_env.core.domain", "mentor_env.core.env",
        "mentor_env.core.errors", "mentor_env.core.files", "mentor_env.core.messages", "mentor_env.core.parsing",
        "mentor_env.core.rewards", "mentor_env.core.sandbox", "mentor_env.core.spaces", "mentor_env.core.splits",
        "mentor_env.core.task", "mentor_env.core.text", "mentor_env.core.tools", "mentor_env.core.trajectory",
    ]  # fmt: skip
    assert {target for targets in core.values() for target in targets if layer_of(target) != "core"} == set()


# --- the checker on graphs made up here -------------------------------------------------------------


def _graph_of(sources: dict[str, str], tmp_path: Path) -> dict[str, set[str]]:
    for relative, source in sources.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return import_graph(project_modules(tmp_path, packages=("mentor_env", "agents", "benchmarks")))


SMALL_PACKAGE = {
    "mentor_env/__init__.py": "",
    "mentor_env/core/__init__.py": "from mentor_env.core.env import Env\n",
    "mentor_env/core/env.py": """
        from . import rewards as R
        import numpy

        def later():
            from ..domains.calc import CalcDomain
        """,
    "mentor_env/core/rewards.py": "from mentor_env.core import Env\n",
    "mentor_env/domains/__init__.py": "",
    "mentor_env/domains/calc.py": "import mentor_env.core.rewards\nfrom .. import core\n",
    "agents/__init__.py": "",
    "agents/ppo.py": "from benchmarks.reporting import table\n",
    "benchmarks/__init__.py": "",
    "benchmarks/reporting.py": "from agents import ppo\n",
}


def test_relative_and_function_level_imports_resolve_to_modules(tmp_path):
    graph = _graph_of(SMALL_PACKAGE, tmp_path)
    assert graph["mentor_env.core.env"] == {"mentor_env.core.rewards", "mentor_env.domains.calc"}
    assert graph["mentor_env.core.rewards"] == {"mentor_env.core"}
    assert graph["mentor_env.domains.calc"] == {"mentor_env.core.rewards", "mentor_env.core"}
    assert graph["benchmarks.reporting"] == {"agents.ppo"}


def test_cycles_and_violations_of_a_made_up_package_are_found(tmp_path):
    graph = _graph_of(SMALL_PACKAGE, tmp_path)
    assert cycles(graph) == [
        ["agents.ppo", "benchmarks.reporting"],
        # calc imports the core modules of the cycle, and env imports calc (a function-level import).
        ["mentor_env.core", "mentor_env.core.env", "mentor_env.core.rewards", "mentor_env.domains.calc"],
    ]
    assert layer_violations(graph) == [
        "agents.ppo imports benchmarks.reporting",
        "mentor_env.core.env (core) imports mentor_env.domains.calc (domains)",
    ]


def test_layers_of_named_modules():
    assert [layer_of(name) for name in ("mentor_env", "mentor_env.core.env", "mentor_env.external.bfcl")] == [
        "play",
        "core",
        "domains",
    ]
    assert [layer_of(name) for name in ("mentor_env.serve_limits", "mentor_env.servers", "agents.ppo")] == [
        "integrations",
        None,
        None,
    ]


# --- every module on its own ----------------------------------------------------------------------


def _outside_functions(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes of ``node`` that run when its module is imported (function bodies left out)."""
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield child
            yield from _outside_functions(child)


def third_party_imported_at_import_time(modules: dict[str, Path]) -> list[str]:
    """The top-level packages outside the project that ``modules`` import when they are imported."""
    found = set()
    for path in modules.values():
        for node in _outside_functions(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.partition(".")[0])
    return sorted(found - set(PROJECT) - {"__future__"})


def run_isolated_imports(modules: list[str], preload: list[str], python_path: list[Path]) -> dict[str, dict[str, str]]:
    """What :mod:`tests.isolated_imports` reports for ``modules``, each imported on its own."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(path) for path in python_path)}
    command = [sys.executable, "-m", "tests.isolated_imports", "--preload", *preload, "--", *modules]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_mentor_env_module_imports_on_its_own():
    modules = project_modules(packages=("mentor_env",))
    report = run_isolated_imports(sorted(modules), third_party_imported_at_import_time(modules), [ROOT])
    assert report["failed"] == {}


def test_an_import_that_needs_another_module_first_fails_on_its_own(tmp_path):
    package = tmp_path / "orderpkg"
    package.mkdir()
    (package / "__init__.py").write_text("registry = {}\n")
    (package / "first.py").write_text("import orderpkg\n\norderpkg.registry['first'] = 1\n")
    (package / "second.py").write_text("import orderpkg\n\nVALUE = orderpkg.registry['first']\n")
    (package / "optional.py").write_text("import a_package_that_is_not_installed_anywhere\n")
    together = subprocess.run(
        [sys.executable, "-c", "import orderpkg.first, orderpkg.second"], cwd=tmp_path, capture_output=True
    )
    assert together.returncode == 0  # in this order, in one interpreter, it works
    report = run_isolated_imports(
        ["orderpkg.first", "orderpkg.second", "orderpkg.optional"], ["json"], [ROOT, tmp_path]
    )
    assert list(report["failed"]) == ["orderpkg.second"]
    assert report["failed"]["orderpkg.second"].endswith("KeyError: 'first'")
    assert report["missing"] == {"orderpkg.optional": "a_package_that_is_not_installed_anywhere"}


# --- what a domain package offers ---------------------------------------------------------------------

# Each built-in domain package exports its domain class; the rest is imported from the module that defines it.
DOMAIN_PACKAGE_EXPORTS = {
    "mentor_env.domains.calc": ["CalcDomain"],
    "mentor_env.domains.units": ["UnitsDomain"],
    "mentor_env.domains.dates": ["DatesDomain"],
    "mentor_env.domains.lookup": ["LookupDomain"],
    "mentor_env.domains.table": ["TableDomain"],
}


def names_taken_from(packages: Iterable[str], files: Iterable[Path]) -> dict[str, set[str]]:
    """Package -> the names that ``files`` import from it with ``from package import ...`` (absolute imports)."""
    taken: dict[str, set[str]] = {package: set() for package in packages}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in taken:
                taken[node.module].update(alias.name for alias in node.names)
    return taken


def test_domain_packages_export_their_domain_class_only():
    import importlib

    assert {
        package: importlib.import_module(package).__all__ for package in DOMAIN_PACKAGE_EXPORTS
    } == DOMAIN_PACKAGE_EXPORTS


def test_nothing_imports_from_a_domain_package_what_it_does_not_export():
    files = [path for folder in (*PROJECT, "tests", "examples") for path in sorted((ROOT / folder).rglob("*.py"))]
    taken = names_taken_from(DOMAIN_PACKAGE_EXPORTS, files)
    assert {package: sorted(names - set(DOMAIN_PACKAGE_EXPORTS[package])) for package, names in taken.items()} == {
        package: [] for package in DOMAIN_PACKAGE_EXPORTS
    }


# --- what agents read of an env -----------------------------------------------------------------------


def attribute_reads(path: Path, attribute: str) -> list[int]:
    """The lines of ``path`` that read ``.attribute`` of anything."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return sorted(node.lineno for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == attribute)


def findings_in(folder: str, find: Callable[[Path], list[Any]]) -> dict[str, list[Any]]:
    """``find`` over every module under ``folder`` of the repository: path -> its findings, where there are some."""
    found = {str(path.relative_to(ROOT)): find(path) for path in sorted((ROOT / folder).rglob("*.py"))}
    return {path: items for path, items in found.items() if items}


def test_agents_never_reach_into_env_unwrapped():
    assert findings_in("agents", lambda path: attribute_reads(path, "unwrapped")) == {}


def test_attribute_reads_finds_unwrapped(tmp_path):
    path = tmp_path / "agent.py"
    path.write_text(
        "tasks = env.unwrapped.tasks\n# env.unwrapped in a comment\nname = 'env.unwrapped'\nx = a.b.unwrapped\n"
    )
    assert attribute_reads(path, "unwrapped") == [1, 4]


# --- what mentor_env reads from the repository around it ----------------------------------------------


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the docstring nodes of ``tree`` (module, classes, functions)."""
    owners = [
        node
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    return {
        id(owner.body[0].value)
        for owner in owners
        if owner.body and isinstance(owner.body[0], ast.Expr) and isinstance(owner.body[0].value, ast.Constant)
    }


def strings_naming(path: Path, folders: Iterable[str]) -> list[tuple[int, str]]:
    """The string literals of ``path`` (docstrings left out) that are one of ``folders`` or name a path in one."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            if any(node.value == folder or f"{folder}/" in node.value for folder in folders):
                found.append((node.lineno, node.value))
    return sorted(found)


def test_mentor_env_names_no_path_in_agents_or_benchmarks():
    # The wheel ships mentor_env alone: a path into agents/ or benchmarks/ exists only in a clone.
    assert findings_in("mentor_env", lambda path: strings_naming(path, ("agents", "benchmarks"))) == {}


def test_strings_naming_skips_docstrings_and_finds_parts_and_paths(tmp_path):
    path = tmp_path / "module.py"
    path.write_text(
        '"""Reads agents/checkpoints."""\n'
        'WHERE = ("agents", "checkpoints")\n'
        'def f():\n    """In benchmarks/results."""\n    return "see benchmarks/results/x.json"\n'
        'NOTE = "reference agents"\n'
    )
    assert strings_naming(path, ("agents", "benchmarks")) == [(2, "agents"), (5, "see benchmarks/results/x.json")]


def test_console_scripts_name_the_library_command_lines():
    import configparser
    import importlib

    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    lines = [line for line in parser["options.entry_points"]["console_scripts"].splitlines() if line.strip()]
    scripts = dict(tuple(part.strip() for part in line.split("=")) for line in lines)
    assert scripts == {"mentor-env-serve": "mentor_env.serve:main", "mentor-env-tasks": "mentor_env.tasks:main"}
    for target in scripts.values():  # installed packages only: nothing from agents/ or benchmarks/
        module, function = target.split(":")
        assert module.startswith("mentor_env.") and callable(getattr(importlib.import_module(module), function))
