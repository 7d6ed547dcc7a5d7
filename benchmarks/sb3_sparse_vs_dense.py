"""Stable-Baselines3 PPO on the structured Calc env: sparse vs MENTOR vs dense teacher-guided rewards.

    python -m benchmarks.sb3_sparse_vs_dense                      # the committed run (a few minutes, 2 CPUs)
    python -m benchmarks.sb3_sparse_vs_dense --timesteps 150000   # longer runs

For each reward mode (``sparse``, ``mentor``, ``dense``) and seed, PPO
(``MultiInputPolicy``) trains on ``mentor/Calc-Structured-v0`` over the train
split's tasks of the chosen difficulty for the same number of env steps, and is
evaluated every ``--eval-every`` steps, with the deterministic policy, on held-out
test-split tasks of the same difficulty (each played once). Whatever the
training reward, evaluation reports the success rate, every mode's mean return,
the rate of exact tool-set match with the teacher and the share of calls that
returned an error.

Writes ``results.json`` (config, package versions, machine, seeds, every
evaluation point of every run, summary) and ``learning_curves.png`` (success and
tool-set match against env steps, mean and ±1 std band over seeds) to
``--out`` (default ``benchmarks/results/sb3_sparse_vs_dense/``), both atomically,
and prints a table: final success per mode (mean ± std over seeds) and, for
mentor and dense, the env steps their mean curve needs to reach the success the
sparse mean curve ends at, as a fraction of the run.

Needs the ``sb3`` extra (stable-baselines3, matplotlib).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.reporting import machine, save_figure, steps_to_reach
from mentor_env.core.files import lock_folder, write_text_atomically

MODES = ("sparse", "mentor", "dense")
RETURN_MODES = ("sparse", "mentor", "dense")
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "sb3_sparse_vs_dense"


@dataclass
class Config:
    modes: tuple[str, ...] = MODES
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    difficulties: tuple[int, ...] = (1,)
    total_timesteps: int = 61_440
    eval_every: int = 6_144
    eval_tasks: int = 109  # test-split tasks of the chosen difficulties (level 1 has 109)
    workers: int = 2
    n_envs: int = 16
    # PPO (Stable-Baselines3 defaults elsewhere)
    n_steps: int = 64
    batch_size: int = 256
    n_epochs: int = 10
    learning_rate: float = 1e-3
    gamma: float = 0.99
    # the structured env: slots sized for level 1-2 tasks (at most 7 numbers, 2 calls; a square's 4 sides)
    env_kwargs: dict[str, Any] = field(
        default_factory=lambda: {
            "max_turns": 8,
            "question_slots": 8,
            "result_slots": 2,
            "constants": [4],
            "lean_info": True,
        }
    )


def _tasks(split: str, difficulties: tuple[int, ...]) -> list:
    from mentor_env.core.splits import load_split
    from mentor_env.domains import get_domain

    return [task for task in load_split(get_domain("calc"), split) if task.meta.get("difficulty") in difficulties]


class PredictPolicy:
    """A Stable-Baselines3 model's deterministic policy as a slot policy of :func:`mentor_env.play.rollouts.run_episodes`."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def start(self, slot: int, env: Any, observation: Any, info: dict[str, Any]) -> None:
        pass

    def act(self, slots: Any, observations: Any, infos: Any) -> list[Any]:
        return [self.model.predict(observation, deterministic=True)[0] for observation in observations]

    def observe(self, slot: int, action: Any, observation: Any, info: dict[str, Any], done: bool) -> None:
        pass

    def finish(self, slot: int) -> None:
        return None


def evaluate(model: Any, env: Any, tasks: list) -> dict[str, float]:
    """Deterministic policy, each task once; success, mean returns, tool-set match, error share."""
    from mentor_env.play.rollouts import run_episodes

    episodes = run_episodes(PredictPolicy(model), [env], [{"seed": 0, "options": {"task": task}} for task in tasks], batch_size=1)
    calls = sum(e.tool_calls for e in episodes)
    failed = sum(len(e.errors) for e in episodes)
    n = len(tasks)
    return {
        "success": sum(e.correct for e in episodes) / n,
        "tool_set_match": sum(e.components.get("tool_set_match", 0.0) == 1.0 for e in episodes) / n,
        "call_error_rate": failed / calls if calls else 0.0,
        **{f"return_{mode}": sum(e.returns[mode] for e in episodes) / n for mode in RETURN_MODES},
    }


def run_one(job: tuple[Config, str, int]) -> dict[str, Any]:
    """Train one (mode, seed) and evaluate it along the way."""
    config, mode, seed = job
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    from mentor_env.structured import make_structured_calc

    torch.set_num_threads(1)
    train_tasks = _tasks("train", config.difficulties)
    eval_tasks = _tasks("test", config.difficulties)[: config.eval_tasks]
    venv = make_vec_env(
        lambda: make_structured_calc(tasks=train_tasks, reward_mode=mode, **config.env_kwargs),
        n_envs=config.n_envs,
        seed=seed,
    )
    eval_env = make_structured_calc(tasks=eval_tasks, reward_mode=mode, **config.env_kwargs)
    model = PPO(
        "MultiInputPolicy",
        venv,
        n_steps=config.n_steps,
        batch_size=config.batch_size,
        n_epochs=config.n_epochs,
        learning_rate=config.learning_rate,
        gamma=config.gamma,
        seed=seed,
        device="cpu",
        verbose=0,
    )
    points = [{"steps": 0, **evaluate(model, eval_env, eval_tasks)}]
    started = time.perf_counter()
    while model.num_timesteps < config.total_timesteps:
        chunk = min(config.eval_every, config.total_timesteps - model.num_timesteps)
        model.learn(chunk, reset_num_timesteps=False)
        points.append({"steps": int(model.num_timesteps), **evaluate(model, eval_env, eval_tasks)})
    venv.close()
    return {"mode": mode, "seed": seed, "seconds": time.perf_counter() - started, "evals": points}


def summarise(config: Config, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and std curves per mode; final success; steps to reach sparse's final success."""
    curves: dict[str, Any] = {}
    for mode in config.modes:
        mine = [run for run in runs if run["mode"] == mode]
        steps = [point["steps"] for point in mine[0]["evals"]]
        keys = [key for key in mine[0]["evals"][0] if key != "steps"]
        curves[mode] = {"steps": steps}
        for key in keys:
            values = np.array([[point[key] for point in run["evals"]] for run in mine])
            curves[mode][key] = {"mean": values.mean(axis=0).tolist(), "std": values.std(axis=0).tolist()}
        final = np.array([run["evals"][-1]["success"] for run in mine])
        curves[mode]["final_success_mean"] = float(final.mean())
        curves[mode]["final_success_std"] = float(final.std())
    if "sparse" in curves:
        target = curves["sparse"]["final_success_mean"]
        for mode in config.modes:
            if mode == "sparse":
                continue
            reached = None
            if target > 0:
                # The tolerance absorbs the rounding between two means of the same numbers.
                reached = steps_to_reach(zip(curves[mode]["steps"], curves[mode]["success"]["mean"]), target - 1e-12)
            curves[mode]["steps_to_sparse_final"] = reached
            curves[mode]["fraction_of_run_to_sparse_final"] = None if reached is None else reached / config.total_timesteps
    return curves


def plot(config: Config, summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    colours = {"sparse": "tab:gray", "mentor": "tab:blue", "dense": "tab:red"}
    for axis, key, label in ((axes[0], "success", "success rate"), (axes[1], "tool_set_match", "tool-set match with the teacher")):
        for mode in config.modes:
            steps = np.array(summary[mode]["steps"])
            mean = np.array(summary[mode][key]["mean"])
            std = np.array(summary[mode][key]["std"])
            axis.plot(steps, mean, label=mode, color=colours.get(mode))
            axis.fill_between(steps, np.clip(mean - std, 0, 1), np.clip(mean + std, 0, 1), alpha=0.2, color=colours.get(mode))
        axis.set_xlabel("env steps")
        axis.set_ylabel(label)
        axis.set_ylim(-0.02, 1.02)
        axis.grid(alpha=0.3)
    axes[0].legend(title="training reward", loc="upper left")
    levels = ", ".join(map(str, config.difficulties))
    figure.suptitle(
        f"SB3 PPO on mentor/Calc-Structured-v0 (level {levels}): held-out test tasks, deterministic policy, "
        f"mean ± std over {len(config.seeds)} seeds",
        fontsize=10,
    )
    figure.tight_layout()
    save_figure(figure, path, dpi=120)


def table(config: Config, summary: dict[str, Any]) -> str:
    lines = [
        "| training reward | final success (mean ± std) | final tool-set match | steps to sparse's final success |",
        "|---|---|---|---|",
    ]
    target = summary.get("sparse", {}).get("final_success_mean")
    for mode in config.modes:
        row = summary[mode]
        success = f"{row['final_success_mean']:.3f} ± {row['final_success_std']:.3f}"
        match = f"{row['tool_set_match']['mean'][-1]:.3f}"
        if mode == "sparse":
            reach = "(reference)"
        elif not target:
            reach = "n/a (sparse ends at 0)"
        elif row["steps_to_sparse_final"] is None:
            reach = "not reached"
        else:
            reach = f"{row['steps_to_sparse_final']} ({row['fraction_of_run_to_sparse_final']:.2f} of the run)"
        lines.append(f"| {mode} | {success} | {match} | {reach} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = Config()
    parser.add_argument("--timesteps", type=int, default=defaults.total_timesteps, help="env steps per run")
    parser.add_argument("--eval-every", type=int, default=defaults.eval_every)
    parser.add_argument("--eval-tasks", type=int, default=defaults.eval_tasks)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(defaults.seeds))
    parser.add_argument("--modes", nargs="+", default=list(defaults.modes), choices=MODES)
    parser.add_argument("--difficulty", type=int, nargs="+", default=list(defaults.difficulties))
    parser.add_argument("--workers", type=int, default=defaults.workers, help="parallel runs (processes)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    with lock_folder(args.out):  # one run per results folder: a second one fails at once
        return _run(args, argv)


def _run(args: argparse.Namespace, argv: list[str] | None) -> dict[str, Any]:
    """The runs, results.json and the plot (``main`` holds the folder's lock)."""
    config = Config(
        modes=tuple(args.modes),
        seeds=tuple(args.seeds),
        difficulties=tuple(args.difficulty),
        total_timesteps=args.timesteps,
        eval_every=args.eval_every,
        eval_tasks=args.eval_tasks,
        workers=args.workers,
    )
    if max(config.difficulties) > 2:
        # Level 3+ tasks need more slots than the level 1-2 layout provides.
        config.env_kwargs.update(question_slots=16, result_slots=8, constants=[1, 1.5, 2, 4, 60, 100])
    jobs = [(config, mode, seed) for seed in config.seeds for mode in config.modes]
    started = time.perf_counter()
    if config.workers > 1:
        with multiprocessing.get_context("spawn").Pool(config.workers, maxtasksperchild=1) as pool:
            runs = pool.map(run_one, jobs, chunksize=1)
    else:
        runs = [run_one(job) for job in jobs]
    wall = time.perf_counter() - started
    summary = summarise(config, runs)
    results = {
        "benchmark": "sb3_sparse_vs_dense",
        "command": " ".join(["python -m benchmarks.sb3_sparse_vs_dense", *(sys.argv[1:] if argv is None else argv)]),
        "env_id": "mentor/Calc-Structured-v0",
        "train_tasks": "calc train split, levels " + ", ".join(map(str, config.difficulties)),
        "eval_tasks": f"first {config.eval_tasks} calc test-split tasks of those levels, deterministic policy, each once",
        "config": asdict(config),
        "machine": machine(),
        "wall_seconds": wall,
        "summary": summary,
        "runs": runs,
    }
    out = Path(args.out)
    write_text_atomically(out / "results.json", json.dumps(results, indent=1) + "\n")
    plot(config, summary, out / "learning_curves.png")
    print(f"{len(runs)} runs of {config.total_timesteps} env steps in {wall:.0f} s ({config.workers} workers); wrote {out}")
    print(table(config, summary))
    return results


if __name__ == "__main__":
    main()
