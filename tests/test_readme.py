"""The README's example runs, and its numbers are those of the committed results file."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_usage_example_runs():
    code = re.search(r"```python\n(.*?)```", README, re.DOTALL).group(1)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr


def test_baseline_table_matches_the_results_file():
    results = json.loads((ROOT / "benchmarks/results/baselines-calc-v0.json").read_text())["results"]
    for agent, row in results.items():
        modes = row["mean_return"]
        cells = [f"{row['success_rate']:.3f}", f"{row['mean_tool_calls']:.2f}"] + [
            f"{modes[m]:.3f}" for m in ("sparse", "mentor", "mentor_partial", "mentor_nomatch", "mentor_f1", "dense")
        ]
        assert f"| {agent} | " + " | ".join(cells) + " |" in README
