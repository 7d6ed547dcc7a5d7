"""Every exception class of the project survives a pickle round trip with its type, message and attributes.

An exception raised in a worker process reaches its parent pickled (a
``ProcessPoolExecutor`` future, a ``multiprocessing`` pool, a vector env's
error queue). One that does not unpickle breaks the whole pool: the parent
sees ``BrokenProcessPool`` or a ``TypeError`` from ``__init__`` instead of
the error. The classes are found by walking the packages, so a new one is
covered without touching this file; one whose ``__init__`` takes an argument
of a type with no sample below fails here until a sample is added.
"""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
import types
import typing
from pathlib import Path
from typing import Any

import pytest

PACKAGES = ("mentor_env", "agents", "benchmarks")
# One value per annotated type an exception's __init__ may take; not the parameters' defaults, so that a
# class that drops an argument on the way back is caught.
SAMPLES: dict[Any, Any] = {
    str: "a sample message",
    int: 4242,
    float: 2.5,
    bool: True,
    Path: Path("/tmp/sample/folder"),
    type(None): None,
}


def _project_modules() -> list[types.ModuleType]:
    modules = []
    for name in PACKAGES:
        package = importlib.import_module(name)
        modules.append(package)
        for info in pkgutil.walk_packages(package.__path__, f"{name}."):
            modules.append(importlib.import_module(info.name))
    return modules


def _in_project(cls: type) -> bool:
    return cls.__module__.split(".")[0] in PACKAGES


def project_exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined in the project's modules, and their subclasses made at run time."""
    found: dict[str, type[BaseException]] = {}
    pending = [
        value
        for module in _project_modules()
        for value in vars(module).values()
        if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == module.__name__
    ]
    while pending:
        cls = pending.pop()
        name = f"{cls.__module__}.{cls.__qualname__}"
        if _in_project(cls) and found.setdefault(name, cls) is cls:
            pending.extend(cls.__subclasses__())
    return found


def _sample(annotation: Any, where: str) -> Any:
    if annotation in SAMPLES:
        return SAMPLES[annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for option in typing.get_args(annotation):
            if option is not type(None) and option in SAMPLES:
                return SAMPLES[option]
    raise AssertionError(f"{where}: no sample value for a {annotation!r}; add one to SAMPLES in {__file__}")


def sample_instance(cls: type[BaseException]) -> BaseException:
    """An instance of ``cls`` built from sample values of its ``__init__``'s annotated parameters."""
    owner = next(klass for klass in cls.__mro__ if "__init__" in vars(klass))
    if not _in_project(owner):  # a builtin's __init__: it takes the message
        return cls("a sample message")
    hints = typing.get_type_hints(owner.__init__)
    arguments = {}
    for parameter in list(inspect.signature(owner.__init__).parameters.values())[1:]:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        arguments[parameter.name] = _sample(
            hints.get(parameter.name, inspect.Parameter.empty), f"{cls.__qualname__}({parameter.name})"
        )
    return cls(**arguments)


def test_every_exception_class_of_the_project_survives_a_pickle_round_trip():
    from mentor_env.core.sandbox import _rebuild_exception

    _rebuild_exception("other", "SomeToolsOwnError", "raised in the child")  # a ChildError subclass made at run time
    classes = project_exception_classes()
    assert {
        "mentor_env.core.files.FolderLockedError",
        "mentor_env.core.errors.ToolError",
        "mentor_env.core.errors.ToolTimeout",
        "mentor_env.core.sandbox.ChildError",
        "mentor_env.core.sandbox.SomeToolsOwnError",
        "mentor_env.domains.scripted.TeacherFailed",
    } <= set(classes)
    failures = []
    for name, cls in sorted(classes.items()):
        original = sample_instance(cls)
        original.added_later = ["an attribute set after __init__"]
        try:
            copy = pickle.loads(pickle.dumps(original))
        except Exception as exc:  # noqa: BLE001 - every failing class is listed below, not only the first
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        same = (type(copy), str(copy), copy.args, vars(copy)) == (
            type(original),
            str(original),
            original.args,
            vars(original),
        )
        if not same:
            failures.append(f"{name}: came back as {type(copy).__qualname__}({str(copy)!r}, {vars(copy)})")
    assert failures == []


def test_a_folder_locked_error_keeps_its_folder_and_pid():
    from mentor_env.core.files import FolderLockedError

    copy = pickle.loads(pickle.dumps(FolderLockedError(Path("/runs/medium"), 31337)))
    assert (copy.folder, copy.pid) == (Path("/runs/medium"), 31337)
    assert str(copy).startswith("/runs/medium is in use by process 31337 (it holds /runs/medium/.lock)")
    assert pickle.loads(pickle.dumps(FolderLockedError(Path("/x"), None))).pid is None


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_round_trips_hold_for_every_pickle_protocol(protocol):
    from mentor_env.core.files import FolderLockedError
    from mentor_env.core.sandbox import _rebuild_exception

    for original in (FolderLockedError(Path("/a"), 7), _rebuild_exception("other", "ParseTrouble", "line 3")):
        copy = pickle.loads(pickle.dumps(original, protocol=protocol))
        assert (type(copy).__name__, str(copy)) == (type(original).__name__, str(original))
