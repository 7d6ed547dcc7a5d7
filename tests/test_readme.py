"""The README's example runs, and its numbers are those of the committed results file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mentor_env.domains import get_domain

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


SNIPPETS = re.findall(r"```python\n(.*?)```", README, re.DOTALL)


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_python_snippets_run(index, tmp_path):
    # Snippets refer to a user's file as my_tasks.jsonl; give them one.
    (tmp_path / "my_tasks.jsonl").write_text(get_domain("calc").generate(1).to_json() + "\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", SNIPPETS[index]], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr


def test_baseline_table_matches_the_results_file():
    results = json.loads((ROOT / "benchmarks/results/baselines-calc-v0.json").read_text())["results"]
    for agent, row in results.items():
        modes = row["mean_return"]
        cells = [f"{row['success_rate']:.3f}", f"{row['mean_tool_calls']:.2f}"] + [
            f"{modes[m]:.3f}" for m in ("sparse", "mentor", "mentor_partial", "mentor_nomatch", "mentor_f1", "dense")
        ]
        assert f"| {agent} | " + " | ".join(cells) + " |" in README


def test_sb3_table_matches_the_results_file():
    summary = json.loads((ROOT / "benchmarks/results/sb3_sparse_vs_dense/results.json").read_text())["summary"]
    for mode in ("sparse", "mentor", "dense"):
        success, match = summary[mode]["success"], summary[mode]["tool_set_match"]
        row = f"| {mode} | {success['mean'][-1]:.3f} ± {success['std'][-1]:.3f} | {match['mean'][-1]:.3f} |"
        assert row in README, row
