"""What the benchmarks share: the machine and package versions, atomic plots, steps to reach a target.

Every result file goes through :mod:`mentor_env.core.files` (atomic writes, folder locks).
"""

from __future__ import annotations

import io
import os
import platform
import sys
from pathlib import Path
from typing import Any, Iterable

import gymnasium
import numpy as np

import mentor_env
from mentor_env.core.files import write_bytes_atomically

# Packages whose version is recorded when the benchmark has imported them (they set its numbers).
_RECORDED_IF_USED = ("torch", "transformers", "accelerate", "stable_baselines3", "matplotlib")


def machine() -> dict[str, Any]:
    """Platform, CPUs, device, Python and the versions of the packages in use.

    Only packages the benchmark has already imported are listed, so a benchmark
    of the environments alone neither pays for nor reports torch.
    """
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "mentor_env": mentor_env.__version__,
        "gymnasium": gymnasium.__version__,
        "numpy": np.__version__,
    }
    for name in _RECORDED_IF_USED:
        if name in sys.modules:
            info[name] = getattr(sys.modules[name], "__version__", "unknown")
    torch = sys.modules.get("torch")
    info["device"] = torch.cuda.get_device_name(0) if torch is not None and torch.cuda.is_available() else "cpu"
    return info


def save_figure(figure: Any, path: Path, dpi: int = 110) -> Path:
    """Save a matplotlib figure as PNG, atomically, and close it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    plt.close(figure)
    return write_bytes_atomically(path, buffer.getvalue())


def steps_to_reach(curve: Iterable[tuple[int, float]], target: float) -> int | None:
    """The first step count at which a learning curve of ``(steps, success)`` reaches ``target`` (None: never)."""
    for steps, success in curve:
        if success >= target:
            return steps
    return None
