"""``python -m benchmarks.env_throughput --quick`` runs and writes complete JSON (no timing assertions)."""

from __future__ import annotations

import json
import math
from typing import Any, Iterator

from benchmarks import env_throughput
from mentor_env.core.rewards import REWARD_MODES
from mentor_env.domains import DOMAINS


def numbers(value: Any) -> Iterator[float]:
    """Every int and float inside ``value`` (bools excluded)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from numbers(item)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value


def test_quick_run_writes_every_section(tmp_path, capsys):
    path = tmp_path / "results" / "env_throughput.json"
    env_throughput.main(["--quick", "--out", str(path)])
    report = json.loads(path.read_text())
    settings = report["settings"]
    assert settings["quick"] is True
    assert {"platform", "python", "cpus", "gymnasium"} <= set(report["machine"])
    assert not list(path.parent.glob("*.tmp"))

    for section in ("reset", "teacher_steps", "hostile_steps"):
        assert {row["domain"] for row in report[section]} == set(DOMAINS), section
    assert {(row["domain"], row["source"]) for row in report["reset"]} == {
        (domain, source) for domain in DOMAINS for source in ("generated", "split")
    }
    assert all(row["correct_rate"] == 1.0 for row in report["teacher_steps"])

    for row in report["hostile_steps"]:
        assert row["raised"] == 0, row["exceptions"]
        assert row["steps"] == row["actions"] * settings["repeats"]
        assert set(row["us_per_action"]) == {
            "broken_json",
            "unknown_tool",
            "wrong_argument_types",
            "huge_string",
            "oversized_action",
            "deeply_nested_json",
            "unclosed_boxed",
            "fake_tool_response",
            "none_action",
            "integer_action",
            "many_calls",
        }

    modes = {row["name"] for row in report["rewards"] if row["kind"] == "mode"}
    assert modes == set(REWARD_MODES)

    assert {(row["mode"], row["num_envs"]) for row in report["vector"]} == {
        (mode, n) for mode in ("sync", "async") for n in (1, 2, 4, 8)
    }
    for row in report["vector"]:
        assert row["env_steps"] == row["vector_steps"] * row["num_envs"]

    values = list(
        numbers({key: report[key] for key in ("reset", "teacher_steps", "hostile_steps", "rewards", "vector")})
    )
    counters = {"raised", "autoreset_steps", "episodes"}  # may legitimately be 0 in a short run
    positive = list(
        numbers(
            [
                {key: value for key, value in row.items() if key not in counters}
                for key in ("reset", "teacher_steps", "hostile_steps", "rewards", "vector")
                for row in report[key]
            ]
        )
    )
    assert values and all(math.isfinite(value) for value in values)
    assert all(value > 0 for value in positive)
    assert "### Vector envs" in capsys.readouterr().out
