"""The SB3 sparse-vs-dense benchmark: profiles, saved runs and resuming, and summary.md's statistics by hand."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks import sb3_sparse_vs_dense as sb3
from benchmarks.sb3_sparse_vs_dense import PROFILES, Config, parse_args

PPO_SETTINGS = {"n_envs": 16, "n_steps": 64, "batch_size": 256, "n_epochs": 10, "learning_rate": 1e-3, "gamma": 0.99}


# --- profiles and the command line ---


def test_the_quick_profile_is_the_committed_budget():
    quick = PROFILES["quick"]
    assert (quick.total_timesteps, quick.eval_every, quick.seeds) == (61_440, 6_144, (0, 1, 2, 3, 4))
    assert (quick.modes, quick.difficulties, quick.eval_tasks, quick.workers) == (
        ("sparse", "mentor", "dense"),
        (1,),
        109,
        2,
    )
    assert {name: getattr(quick, name) for name in PPO_SETTINGS} == PPO_SETTINGS


def test_the_medium_profile_is_four_times_the_budget_with_the_same_seeds_and_ppo():
    medium = PROFILES["medium"]
    assert (medium.total_timesteps, medium.eval_every, medium.seeds) == (245_760, 12_288, (0, 1, 2, 3, 4))
    assert (medium.workers, medium.eval_tasks) == (2, 109)
    assert {name: getattr(medium, name) for name in PPO_SETTINGS} == PPO_SETTINGS
    assert medium.env_kwargs == PROFILES["quick"].env_kwargs


def test_results_go_under_runs_by_default_and_flags_override_the_profile():
    name, config, out = parse_args([])
    assert (name, config.total_timesteps, out) == ("quick", 61_440, Path("runs/sb3_sparse_vs_dense-quick"))
    name, config, out = parse_args(["--profile", "medium"])
    assert (name, config.total_timesteps, config.eval_every, out) == (
        "medium",
        245_760,
        12_288,
        Path("runs/sb3_sparse_vs_dense-medium"),
    )
    argv = [
        "--profile",
        "medium",
        "--timesteps",
        "1000",
        "--eval-every",
        "500",
        "--seeds",
        "3",
        "7",
        "--modes",
        "sparse",
        "dense",
    ]
    argv += ["--workers", "1", "--eval-tasks", "5", "--out", "benchmarks/results/x"]
    name, config, out = parse_args(argv)
    assert name == "medium" and out == Path("benchmarks/results/x")
    assert (config.total_timesteps, config.eval_every, config.seeds, config.modes) == (
        1000,
        500,
        (3, 7),
        ("sparse", "dense"),
    )
    assert (config.workers, config.eval_tasks, config.n_envs) == (1, 5, 16)


def test_harder_levels_widen_the_slots_without_changing_the_profile():
    _, config, _ = parse_args(["--difficulty", "3"])
    assert (config.env_kwargs["question_slots"], config.env_kwargs["result_slots"]) == (16, 8)
    assert (PROFILES["quick"].env_kwargs["question_slots"], PROFILES["quick"].env_kwargs["result_slots"]) == (8, 2)


def test_the_fingerprint_ignores_workers_only():
    base = Config()
    assert len(sb3.fingerprint(base)) == 64  # a sha256 hex digest
    assert sb3.fingerprint(replace(base, workers=7)) == sb3.fingerprint(base)
    assert sb3.fingerprint(replace(base, total_timesteps=61_441)) != sb3.fingerprint(base)
    assert sb3.fingerprint(replace(base, seeds=(0, 1))) != sb3.fingerprint(base)
    assert sb3.fingerprint(PROFILES["medium"]) != sb3.fingerprint(PROFILES["quick"])


# --- saved runs ---


def test_a_saved_run_of_another_config_is_refused_before_anything_runs(tmp_path):
    path = tmp_path / "runs" / "sparse-seed0.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"fingerprint": "0" * 64, "mode": "sparse", "seed": 0, "seconds": 1.0, "evals": []}))
    with pytest.raises(ValueError, match=r"runs/sparse-seed0\.json was saved by another config"):
        sb3.run(Config(modes=("sparse",), seeds=(0,)), "quick", tmp_path, "test")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]  # no results written


MICRO = Config(
    modes=("sparse", "dense"), seeds=(0,), total_timesteps=256, eval_every=128, eval_tasks=4, workers=1,
    n_envs=2, n_steps=64, batch_size=64, n_epochs=2,
)  # fmt: skip


def test_a_rerun_loads_the_saved_runs_and_redoes_only_the_missing_one(tmp_path, capsys):
    pytest.importorskip("stable_baselines3")
    pytest.importorskip("matplotlib")
    first = sb3.run(MICRO, "micro", tmp_path, "python -m benchmarks.sb3_sparse_vs_dense (test)")
    printed = capsys.readouterr().out
    assert "[sb3] run 1/2 started: sparse seed 0" in printed and "[sb3] run 2/2 done: dense seed 0 in " in printed
    assert (
        f"[sb3] wrote {tmp_path / 'results.json'}, {tmp_path / 'summary.md'}, {tmp_path / 'learning_curves.png'}"
        in printed
    )
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["dense-seed0.json", "sparse-seed0.json"]
    saved = json.loads((tmp_path / "runs" / "sparse-seed0.json").read_text())
    assert saved["fingerprint"] == sb3.fingerprint(MICRO)
    assert [point["steps"] for point in saved["evals"]] == [0, 128, 256]
    results = json.loads((tmp_path / "results.json").read_text())
    assert (results["profile"], results["torch_threads"]) == ("micro", 1)
    assert results["command"] == "python -m benchmarks.sb3_sparse_vs_dense (test)"
    assert set(results["summary"]["paired"]) == {"dense - sparse"}
    assert (tmp_path / "summary.md").read_text() in printed

    saved["marker"] = "kept from the first run"
    (tmp_path / "runs" / "sparse-seed0.json").write_text(json.dumps(saved))
    (tmp_path / "runs" / "dense-seed0.json").unlink()
    second = sb3.run(replace(MICRO, workers=2), "micro", tmp_path, "again")  # workers: not in the fingerprint
    printed = capsys.readouterr().out
    assert f"[sb3] sparse seed 0: done earlier ({tmp_path / 'runs' / 'sparse-seed0.json'})" in printed
    assert "[sb3] run 1/1 started: dense seed 0" in printed and "[sb3] run 1/1 done: dense seed 0 in " in printed
    assert "sparse seed 0 in" not in printed and "run 2/" not in printed
    assert [run["mode"] for run in second["runs"]] == ["sparse", "dense"]
    assert second["runs"][0]["marker"] == "kept from the first run"
    assert "marker" not in second["runs"][1]
    assert (tmp_path / "runs" / "dense-seed0.json").exists()
    # One torch thread and the same seed: the redone run matches the first one.
    assert second["runs"][1]["evals"] == first["runs"][1]["evals"]


# --- summary.md from hand-made runs ---


def _hand_made_run(mode: str, seed: int, middle: float, final: float) -> dict:
    evals = [
        {"steps": steps, "success": success, "tool_set_match": 0.5}
        for steps, success in ((0, 0.0), (50, middle), (100, final))
    ]
    return {"mode": mode, "seed": seed, "seconds": 60.0, "wall_seconds": 60.0, "evals": evals}


def _hand_made_results() -> dict:
    config = Config(seeds=(0, 1, 2), total_timesteps=100, eval_every=50, eval_tasks=4)
    middles = {"sparse": (0.1, 0.2, 0.3), "mentor": (0.3, 0.3, 0.3), "dense": (0.1, 0.2, 0.3)}
    finals = {"sparse": (0.1, 0.2, 0.3), "mentor": (0.2, 0.2, 0.3), "dense": (0.2, 0.4, 0.4)}
    runs = [
        _hand_made_run(mode, seed, middles[mode][seed], finals[mode][seed])
        for seed in config.seeds
        for mode in config.modes
    ]
    return sb3.build_results(config, "hand-made", runs, "by hand", wall=180.0)


def test_paired_differences_by_hand():
    paired = _hand_made_results()["summary"]["paired"]
    assert list(paired) == ["mentor - sparse", "dense - sparse"]
    dense = paired["dense - sparse"]
    # differences 0.1, 0.2, 0.1: mean 0.1333, sd 0.0577, se 0.0333, t(0.975, 2) = 4.303 -> ±0.1434; t = 4, p = 0.0572
    assert dense["differences"] == pytest.approx([0.1, 0.2, 0.1])
    assert dense["mean"] == pytest.approx(0.13333, abs=1e-5)
    assert dense["half_width"] == pytest.approx(0.14342, abs=1e-4)
    assert dense["p_value"] == pytest.approx(0.0572, abs=1e-3)
    # differences 0.1, 0, 0: mean 0.0333, the same sd and interval; t = 1, p = 0.4226
    assert paired["mentor - sparse"]["mean"] == pytest.approx(0.03333, abs=1e-5)
    assert paired["mentor - sparse"]["p_value"] == pytest.approx(0.4226, abs=1e-3)


def test_summary_md_from_hand_made_runs():
    results = _hand_made_results()
    text = sb3.summary_markdown(results)
    lines = text.splitlines()
    assert lines[0] == "# SB3 PPO on mentor/Calc-Structured-v0: sparse vs mentor vs dense rewards, profile hand-made"
    setup = lines[2]
    assert setup.startswith(
        "Set-up: Stable-Baselines3 PPO (MultiInputPolicy) on mentor/Calc-Structured-v0, Calc level 1, profile hand-made: "
    )
    assert "3 training rewards × 3 seed(s) [0, 1, 2], 100 env steps per run (9 runs, 900 env steps in all)" in setup
    assert "deterministic evaluation every 50 steps on the first 4 test-split tasks (each once). Machine: " in setup
    assert "with 1 thread per run, 2 worker(s); 9.0 min of runs." in setup
    assert f"{results['machine']['cpus']} CPUs" in setup
    # The existing table (the README's rows): final success mean ± std (ddof 0), final tool-set match, steps to sparse's final.
    assert "| sparse | 0.200 ± 0.082 | 0.500 | (reference) |" in lines
    assert "| mentor | 0.233 ± 0.047 | 0.500 | 50 (0.50 of the run) |" in lines
    assert "| dense | 0.333 ± 0.094 | 0.500 | 50 (0.50 of the run) |" in lines
    # The paired table: mentor +3.3 ± 14.3 -> [-11.0, +17.7], dense +13.3 ± 14.3 -> [-1.0, +27.7].
    start = lines.index("| comparison | final success difference (points) | 95% interval | p |")
    assert lines[start + 1 : start + 4] == [
        "|---|---|---|---|",
        "| mentor - sparse | +3.3 | ±14.3 [-11.0, +17.7] | 0.423 |",
        "| dense - sparse | +13.3 | ±14.3 [-1.0, +27.7] | 0.057 |",
    ]
    assert (
        "Separation at the end of the budget: mentor - sparse: not separated (the 95% interval includes 0); "
        "dense - sparse: not separated (the 95% interval includes 0)."
    ) in lines
    # Mean success at step 50 (nearest half of 100) and at 100: sparse 0.2 -> 0.2, mentor 0.3 -> 0.233, dense 0.2 -> 0.333.
    assert lines[-1] == (
        "Second half of the budget (mean success at 50 → 100 env steps; plateaued: a change under 2 points): "
        "sparse plateaued (0.200 → 0.200, +0.0 points), mentor still falling (0.300 → 0.233, -6.7 points), "
        "dense still rising (0.200 → 0.333, +13.3 points)."
    )


def test_no_spread_and_a_clear_separation_are_reported_as_such():
    config = Config(seeds=(0, 1, 2), total_timesteps=100, eval_every=50)
    # quarters: the differences are exact in binary, so "no spread" is exactly no spread
    finals = {"sparse": (0.25, 0.5, 0.75), "mentor": (0.5, 0.75, 1.0), "dense": (0.75, 1.0, 1.0)}
    runs = [
        _hand_made_run(mode, seed, finals[mode][seed], finals[mode][seed])
        for seed in config.seeds
        for mode in config.modes
    ]
    lines = sb3.summary_markdown(sb3.build_results(config, "quick", runs, "by hand", wall=1.0)).splitlines()
    # mentor: +0.25 on every seed (no spread); dense: 0.5, 0.5, 0.25: mean 0.4167, sd 0.1443, se 0.0833,
    # 4.303 x 0.0833 = ±0.3586 -> [+5.8, +77.5]
    assert "| mentor - sparse | +25.0 | n/a (no spread) | n/a |" in lines
    assert any(line.startswith("| dense - sparse | +41.7 | ±35.9 [+5.8, +77.5] | ") for line in lines)
    assert (
        "mentor - sparse: no spread over seeds to test; dense - sparse: separated, above sparse (the 95% interval excludes 0)."
        in lines[-3]
    )
    assert "sparse plateaued (0.500 → 0.500, +0.0 points)" in lines[-1]


def test_the_committed_results_still_have_the_summary_the_readme_reads():
    root = Path(__file__).resolve().parents[2]
    summary = json.loads((root / "benchmarks/results/sb3_sparse_vs_dense/results.json").read_text())["summary"]
    config = Config()
    table = sb3.table(config, summary)  # the committed summary renders with today's table
    for mode in config.modes:
        success = summary[mode]["success"]
        assert f"| {mode} | {success['mean'][-1]:.3f} ± {success['std'][-1]:.3f} |" in table
