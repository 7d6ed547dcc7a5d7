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
