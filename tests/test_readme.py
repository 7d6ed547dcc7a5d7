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


def test_sb3_medium_tables_are_the_committed_summary():
    from benchmarks.sb3_sparse_vs_dense import summary_markdown

    folder = ROOT / "benchmarks/results/sb3_sparse_vs_dense-medium"
    results = json.loads((folder / "results.json").read_text())
    summary = (folder / "summary.md").read_text()
    assert summary == summary_markdown(results) and results["profile"] == "medium"
    rows = [line for line in summary.splitlines() if line.startswith("| ")]
    assert len(rows) == 4 + 3  # final success: header, 3 modes; paired: header, 2 comparisons
    for row in rows:
        assert row in README, row
    for line in summary.splitlines():
        if line.startswith(("Separation", "Second half")):
            assert _flat(line) in _flat(README), line


def test_sparse_vs_dense_tables_are_the_committed_summary():
    from benchmarks.sparse_vs_dense import summary_markdown

    folder = ROOT / "benchmarks/results/sparse_vs_dense-medium-tiny"
    results = json.loads((folder / "results.json").read_text())
    summary = (folder / "summary.md").read_text()
    assert summary == summary_markdown(results, results["summary"])
    assert results["profile_name"] == "medium"
    rows = [line for line in summary.splitlines() if line.startswith("| ")]
    # success: header, column groups, task counts, 5 policies; paired differences: header, 5 comparisons;
    # tool use: header, 5 policies
    assert len(rows) == 8 + 6 + 6
    for row in rows:
        assert row in README, row
    # The power reached and the headline, word for word.
    for line in summary.splitlines():
        if line.startswith(("**Verdict.**", "Power on", "- Headline", "- Columns where")):
            assert _flat(line) in _flat(README), line
    for name in ("learning_curves.png", "paired_differences.png", "similarity_vs_success.png"):
        assert (folder / name).stat().st_size > 10_000, name


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_learning_numbers_are_the_committed_ones():
    results = json.loads((ROOT / "benchmarks/results/ppo_learning-tiny.json").read_text())
    runs = results["runs"]
    afters = ", ".join(f"{run['after']:.3f}" for run in runs)
    sentence = (
        f"From {runs[0]['before']:.3f}, the six seeds ended at {afters} (+{100 * results['mean_gain']:.1f} points on "
        f"average, a seed-to-seed standard deviation of {100 * results['after_std']:.1f})."
    )
    assert sentence in _flat(README)
    assert [run["seed"] for run in runs] == [0, 1, 2, 3, 4, 5]


def test_sanity_ladder_table_is_the_committed_summary():
    from benchmarks.rl_sanity import summary_markdown

    folder = ROOT / "benchmarks/results/rl_sanity-tiny"
    results = json.loads((folder / "results.json").read_text())
    summary = (folder / "summary.md").read_text()
    assert summary == summary_markdown(results["summary"])
    for row in summary.splitlines():
        if row.startswith("| ") and not row.startswith("| rung |"):
            assert row in README, row


def test_task_signal_table_is_the_committed_measurement():
    results = json.loads((ROOT / "benchmarks/results/task_signal-tiny-multi-sft.json").read_text())["results"]
    for r in results:
        row = (
            f"| {r['candidate'].split(':')[1]} | {r['greedy_success']:.3f} | {r['sampled_success']:.3f} | {r['pass_at_k']:.3f} | "
            f"{r['mixed_success']:.2f} | {r['mixed_groups']['sparse']:.2f} | {r['mixed_groups']['mentor']:.2f} |"
        )
        assert row in README, row


def test_throughput_tables_are_the_committed_ones():
    agent = json.loads((ROOT / "benchmarks/results/agent_throughput-tiny.json").read_text())["results"]
    for row in agent["updates"]:
        ours, before = row["ours"], row["baseline"]
        tokens, cpu = ours["generated_tokens_per_cpu_s"], ours["cpu_seconds_per_update"]
        wall = ours["wall_seconds_per_update"]
        assert (
            f"| {row['advantage']}, before | {before['generated_tokens_per_cpu_s']:.0f} | "
            f"{before['cpu_seconds_per_update']:.1f} | {before['wall_seconds_per_update']:.1f} |"
        ) in README, row["advantage"]
        assert (
            f"| {row['advantage']}, now | {tokens:.0f} (x{tokens / before['generated_tokens_per_cpu_s']:.2f}) | "
            f"{cpu:.1f} (x{before['cpu_seconds_per_update'] / cpu:.2f}) | "
            f"{wall:.1f} (x{before['wall_seconds_per_update'] / wall:.2f}) |"
        ) in README, row["advantage"]
    generation, trl = agent["generation"], agent["trl"]
    flat = _flat(README)
    assert f"(x{generation['one_turn_speedup']:.2f}), whole rollouts" in flat
    assert f"{generation['rollout_tokens_per_cpu_s']['hf']:.0f} (x{generation['rollout_speedup']:.2f})" in flat
    assert f"against {trl['trl']['completion_tokens_per_cpu_s']:.0f} (x{trl['speedup']:.2f})" in flat
    env = json.loads((ROOT / "benchmarks/results/env_throughput.json").read_text())
    reset = {row["domain"]: row for row in env["reset"] if row["source"] == "split"}
    hostile = {row["domain"]: row for row in env["hostile_steps"]}
    for row in env["teacher_steps"]:
        domain = row["domain"]
        line = f"| {domain} | {reset[domain]['us_per_reset']:.0f} | {row['us_per_step']:.0f} | {hostile[domain]['us_per_step']:.0f} |"
        assert line in README, line
    vector = {(row["mode"], row["num_envs"]): row["env_steps_per_s"] for row in env["vector"]}
    assert f"sync vector env runs {vector['sync', 8]:.0f} env steps/s at 8 envs and the async one {vector['async', 8]:.0f}" in _flat(README)
    dense = next(row for row in env["rewards"] if row["name"] == "dense")
    assert f"the `dense` reward takes {dense['us_per_call']:.1f} µs" in _flat(README)


def test_openenv_load_table_is_the_committed_one():
    results = json.loads((ROOT / "benchmarks/results/openenv_load.json").read_text())
    for row in results["throughput"]:
        line = (
            f"| {row['sessions']} | {row['requests_per_s']:.0f} | {row['episodes_per_s']:.0f} | {row['p50_ms']:.1f} | "
            f"{row['p99_ms']:.1f} | {row['errors']} | {row['server_threads_open']} | {row['server_rss_mb_open']:.0f} | "
            f"{row['server_sessions_after']} | {row['server_rss_mb_after']:.0f} |"
        )
        assert line in README, line
    churn = results["dying_clients"]
    assert all(row["sessions_left"] == 0 and row["failures"] == 0 for row in churn["rounds"])
    assert churn["isolation"]["foreign_answers"] == 0 and results["malformed"]["all_refused"]
    rss = ", ".join(f"{row['rss_mb']:.0f}" for row in churn["rounds"])
    assert f"resident memory {rss} MB" in _flat(README)


def test_fuzz_numbers_are_the_committed_ones():
    report = json.loads((ROOT / "benchmarks/results/fuzz_envs.json").read_text())
    domains = report["domains"]
    flat = _flat(README)
    assert sum(row["steps"] for row in domains) == 10**6 and {row["steps"] for row in domains} == {200_000}
    assert "played 10^6 steps, 200,000 on each text env" in flat
    assert sum(row["violations"] for row in domains) == 0 and "found 0 contract violations" in flat
    assert report["table_database_unchanged"] is True
    medians = sorted(row["step_ms"]["median"] for row in domains)
    assert f"median step {medians[0]:.2f}-{medians[-1]:.2f} ms" in flat
    slowest = max(row["step_ms"]["max"] for row in domains) / 1000
    assert f"the slowest {slowest:.2f} s" in flat
