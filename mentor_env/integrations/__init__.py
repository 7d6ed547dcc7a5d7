"""Glue for RL trainers that score whole completions: TRL (:mod:`.trl`) and verl (:mod:`.verl`).

Both rest on :mod:`mentor_env.integrations.scoring`, which reads a completion the way the
environment reads turns, so a trainer's rewards equal the environment's.
The reward functions need nothing beyond the library; building a Hugging Face
dataset and running TRL need the ``trl`` extra (``pip install 'mentor-env[trl]'``).
"""

from __future__ import annotations

from typing import Any


def require(module: str, extra: str = "trl") -> Any:
    """Import ``module`` or raise an ImportError that names the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"this needs the {module!r} package: pip install 'mentor-env[{extra}]' (or pip install {module})"
        ) from exc


# Where the committed SFT warm start of the tiny student sits in a clone of the repository.
WARM_START = ("agents", "checkpoints", "tiny-calc-sft")


def warm_start_path() -> str:
    """The path of the committed tiny-student warm start (``agents/checkpoints/tiny-calc-sft``).

    It is a Hugging Face model folder (``AutoModelForCausalLM`` /
    ``AutoTokenizer``) in the repository, not in the installed package: this
    finds it next to the ``mentor_env`` folder of a clone (an editable or
    in-place install), from any working directory.

    Raises:
        FileNotFoundError: the package does not sit in a clone; copy the
            folder from the repository and pass its path instead.
    """
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2].joinpath(*WARM_START)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"the tiny student's warm start is not at {folder}: it ships with the repository, not the package. "
            "Copy agents/checkpoints/tiny-calc-sft from a clone and pass its path, or use any chat model"
        )
    return str(folder)
