"""Command lines declared by dataclasses: every field is a flag, and its ``metadata["help"]`` is the flag's help.

:class:`transformers.HfArgumentParser` reads the fields' type hints: ``learning_rate`` is ``--learning-rate`` (and
``--learning_rate``); ``int | None`` takes an int and keeps the field's default when left out; a ``bool`` takes
``--flag`` (or ``--flag false``), and one that defaults to True also ``--no-flag``; ``Literal[...]`` lists its
choices; ``list[str]`` takes one or more values. Adding a setting is adding a field with its help: nothing here
names a field. ``tuple`` fields are not supported by the parser (declare ``list`` with a ``default_factory``).

A flag of an earlier version fails with what replaced it (:data:`RETIRED_FLAGS`), any other unknown flag with
argparse's ``unrecognized arguments``. Command lines built with plain ``argparse`` (the benchmarks,
:mod:`agents.baselines`) add the retired flags that concern them with :func:`retire_flags`.
"""

from __future__ import annotations

import argparse
from typing import Any, Iterable, Sequence

# Flags earlier versions took and what replaced them: one name per concept across the command lines.
RETIRED_FLAGS: dict[str, str] = {
    "--init-from": (
        "pass the weights to start from as --model (a built-in student's name or a local model directory, "
        "such as an SFT output or a PPO run's final/)"
    ),
    "--output-dir": "the output folder is --out",
    "--json": "the output file is --out",
}


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The description as written (it holds example commands) and each flag's default after its help.

    A required flag has no default to show, and a ``--no-<flag>`` switch would show the default of the value it
    clears, as if it were its own.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.required or action.nargs == 0:
            return action.help
        return super()._get_help_string(action)


class RetiredFlag(argparse.Action):
    """A flag that no longer exists: using it stops the parser with the flag that replaced it."""

    def __init__(self, option_strings: list[str], dest: str, replacement: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs="?", default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kwargs)
        self.replacement = replacement

    def __call__(self, parser: argparse.ArgumentParser, namespace: Any, values: Any, option_string: Any = None) -> None:
        parser.error(f"{option_string} was removed: {self.replacement}")


def retire_flags(parser: argparse.ArgumentParser, flags: Iterable[str] = tuple(RETIRED_FLAGS)) -> None:
    """Adds each of ``flags`` (keys of :data:`RETIRED_FLAGS`) to ``parser``, in both spellings of its name.

    Both spellings because ``HfArgumentParser`` takes ``--output_dir`` as well as ``--output-dir``: the retired
    flag must stop either.
    """
    for flag in flags:
        if flag not in RETIRED_FLAGS:
            raise ValueError(f"expected a retired flag ({', '.join(RETIRED_FLAGS)}), got {flag!r}")
        names = dict.fromkeys([flag, "--" + flag[2:].replace("-", "_")])  # one name when it has no dash
        parser.add_argument(*names, action=RetiredFlag, replacement=RETIRED_FLAGS[flag])


def declared_parser(config_types: Sequence[type], description: str) -> argparse.ArgumentParser:
    """An ``HfArgumentParser`` with one flag per field of ``config_types`` (dataclasses), and the retired flags."""
    from transformers import HfArgumentParser

    parser = HfArgumentParser(list(config_types), description=description, formatter_class=HelpFormatter)
    retire_flags(parser)
    return parser


def parse_declared(config_types: Sequence[type], argv: Sequence[str] | None, description: str) -> tuple[Any, ...]:
    """One instance of each dataclass of ``config_types`` from ``argv`` (None: ``sys.argv[1:]``).

    Unknown flags, and a ValueError a dataclass raises on its values (its ``__post_init__`` checks), stop the
    parser as argparse's own errors do (exit status 2, the usage and the message on stderr). No ``.args`` file
    next to the script is read.
    """
    parser = declared_parser(config_types, description)
    try:
        *configs, unknown = parser.parse_args_into_dataclasses(
            args=None if argv is None else list(argv), return_remaining_strings=True, look_for_args_file=False
        )
    except ValueError as exc:
        parser.error(str(exc))
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return tuple(configs)
