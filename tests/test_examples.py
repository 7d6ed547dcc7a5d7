"""Every script in examples/ runs as a newcomer runs it (``python examples/<name>.py`` from a clone) and prints
what its docstring promises (issue 23)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"

# Each example, what it needs installed, and lines its output must hold (values fixed by seeds and split tasks).
CASES = {
    "quickstart": (
        (),
        [
            'the teacher\'s first turn \'<tool_call>\\n{"name": "subtract", "arguments": {"a": 62, "b": 88}}\\n</tool_call>\': dense reward +0.167',
            'a wrong turn \'<tool_call>{"name": "sqrt", "arguments": {"x": 7}}</tool_call>\': dense reward +0.000 (a valid call, off the teacher\'s path)',
            "the dense reward tells them apart on turn 1: True",
        ],
    ),
    "custom_domain": (
        (),
        [
            "mentor/Strings-v0: What is 'stressed' spelled backwards?",
            "episode over: True, correct 1, return 1.100",
            "score_completion of the same turns: 1.100",
        ],
    ),
    "trl_environment_factory": (
        ("datasets",),
        [
            "factory.reward of the teacher's completion: 1.100 (step rewards [0.0, 0.0, 0.0, 1.1])",
            "reward_func('mentor') of a right answer without the teacher's tools: 0.800",
            "warnings from our helpers: 0",
        ],
    ),
    "openenv_client": (
        ("openenv.core.env_server.http_server",),
        [
            "mentor/Calc-v0: correct 1, session on mentor/Calc-v0",
            "mentor/Units-v0: correct 1, session on mentor/Units-v0",
            "mentor_env.serve: stopped by SIGINT",
        ],
    ),
    "sb3": (("stable_baselines3",), ["trained 256 env steps"]),
    "verl_agent_loop": (
        (),
        [
            "sum_numbers{'numbers': [101, 185, 17, 94]} -> '397', tool reward +0.500",
            "final answer 'The answer is \\\\boxed{397}.': turn score +0.600, done True, correct 1",
            "episode return (calculate_score): 1.100",
            "compute_score of the response text: score 1.100, acc 1",
        ],
    ),
    "ppo_one_minute": (("transformers", "accelerate"), ["update 0: validation success", "torch threads 1"]),
    "token_level_teacher": (
        ("transformers", "accelerate"),
        ["update 0: validation success", "update 2: teacher reward per token -", "torch threads 1"],
    ),
}


def run_example(name: str) -> subprocess.CompletedProcess:
    """``python examples/<name>.py`` from the repository root, on this checkout's code, one thread."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    return subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py")], cwd=REPO, env=env, capture_output=True, text=True, timeout=180
    )


def test_every_example_is_tested_and_says_what_it_shows_and_how_long_it_takes():
    assert sorted(path.stem for path in EXAMPLES.glob("*.py")) == sorted(CASES)
    for name in CASES:
        doc = ast.get_docstring(ast.parse((EXAMPLES / f"{name}.py").read_text()))
        assert doc and f"python examples/{name}.py" in doc and " s on 2 CPUs" in doc, name


@pytest.mark.parametrize("name", list(CASES))
def test_the_example_runs_and_prints_what_it_promises(name):
    needs, lines = CASES[name]
    for module in needs:
        pytest.importorskip(module)
    result = run_example(name)
    assert result.returncode == 0, result.stderr[-3000:]
    printed = result.stdout.splitlines()
    for line in lines:
        assert any(line in out for out in printed), (line, result.stdout[-3000:])
