"""What the benchmarks share: the machine and package versions, atomic plots, steps to reach a target, paired statistics over seeds.

Every result file goes through :mod:`mentor_env.core.files` (atomic writes, folder locks).
"""

from __future__ import annotations

import io
import math
import os
import platform
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

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


# --- statistics over seeds ----------------------------------------------------------------


def student_t_cdf(t: float, dof: int) -> float:
    """P(T <= t) for Student's t with ``dof`` degrees of freedom (numerical integration of the density)."""
    if dof < 1:
        raise ValueError(f"dof must be at least 1, got {dof}")
    log_norm = math.lgamma((dof + 1) / 2) - math.lgamma(dof / 2) - 0.5 * math.log(dof * math.pi)
    # Substituting x = tan(u) keeps the heavy tails finite: the integral runs over (-pi/2, atan(t)).
    u = np.linspace(-math.pi / 2, math.atan(t), 20001)[1:]
    x = np.tan(u)
    density = np.exp(log_norm - (dof + 1) / 2 * np.log1p(x * x / dof)) / np.cos(u) ** 2
    return float(min(1.0, max(0.0, np.trapezoid(density, u))))


def student_t_quantile(probability: float, dof: int) -> float:
    """The ``probability`` quantile of Student's t (bisection on :func:`student_t_cdf`)."""
    if not 0 < probability < 1:
        raise ValueError(f"probability must be in (0, 1), got {probability}")
    low, high = -1e3, 1e3
    for _ in range(80):
        middle = (low + high) / 2
        low, high = (middle, high) if student_t_cdf(middle, dof) < probability else (low, middle)
    return (low + high) / 2


def confidence_interval(values: Sequence[float]) -> tuple[float, float]:
    """Mean and the half-width of a 95% Student-t interval over seeds (0 with one seed)."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return mean, 0.0
    half = student_t_quantile(0.975, len(values) - 1) * float(np.std(values, ddof=1)) / math.sqrt(len(values))
    return mean, half


def paired_difference(treated: Sequence[float], control: Sequence[float]) -> dict[str, Any]:
    """The paired t-test of ``treated - control`` over seeds (the same seed's runs side by side).

    Returns the mean difference, its 95% interval (``low``, ``high``,
    ``half_width``), the two-sided p-value, the seeds, and ``detectable``: the
    smallest true difference this test would find with 80% power at the 5%
    level, (t_0.975 + t_0.80) x standard error. With one seed, or no spread at
    all, the interval and p-value are ``None``.
    """
    if len(treated) != len(control):
        raise ValueError(f"paired runs must match seed for seed: {len(treated)} against {len(control)}")
    differences = np.asarray(treated, dtype=float) - np.asarray(control, dtype=float)
    seeds = len(differences)
    mean = float(differences.mean()) if seeds else float("nan")
    result: dict[str, Any] = {"mean": mean, "seeds": seeds, "differences": differences.tolist()}
    spread = float(differences.std(ddof=1)) if seeds > 1 else 0.0
    if seeds < 2 or spread == 0.0:
        return {**result, "low": None, "high": None, "half_width": None, "p_value": None, "detectable": None}
    dof = seeds - 1
    error = spread / math.sqrt(seeds)
    critical = student_t_quantile(0.975, dof)
    t = mean / error
    return {
        **result,
        "low": mean - critical * error,
        "high": mean + critical * error,
        "half_width": critical * error,
        "p_value": 2 * (1 - student_t_cdf(abs(t), dof)),
        "detectable": (critical + student_t_quantile(0.8, dof)) * error,
    }
