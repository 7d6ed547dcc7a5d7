"""Stable-Baselines3 PPO on the structured Calc env: sparse vs MENTOR vs dense teacher-guided rewards.

    python -m benchmarks.sb3_sparse_vs_dense                      # profile quick: about 5 min on 2 CPUs
    python -m benchmarks.sb3_sparse_vs_dense --profile medium     # 4x the budget: longer curves, same seeds
    python -m benchmarks.sb3_sparse_vs_dense --out benchmarks/results/sb3_sparse_vs_dense   # to commit a result

For each reward mode (``sparse``, ``mentor``, ``dense``) and seed, PPO
(``MultiInputPolicy``) trains on ``mentor/Calc-Structured-v0`` over the train
split's tasks of the chosen difficulty for the same number of env steps, and is
evaluated every ``--eval-every`` steps, with the deterministic policy, on held-out
test-split tasks of the same difficulty (each played once). Whatever the
training reward, evaluation reports the success rate, every mode's mean return,
the rate of exact tool-set match with the teacher and the share of calls that
returned an error. Every run uses one torch thread; ``--workers`` runs go at once.

Profiles (:data:`PROFILES`; the same seeds 0-4 and PPO settings): ``quick``,
61,440 env steps per run evaluated every 6,144 (the committed result), and
``medium``, 245,760 env steps per run evaluated every 12,288. ``--timesteps``,
``--eval-every``, ``--eval-tasks``, ``--seeds``, ``--modes``, ``--difficulty``
and ``--workers`` override the profile.

Outputs go to ``--out`` (default ``runs/sb3_sparse_vs_dense-<profile>/``; pass
``--out benchmarks/results/...`` to commit one), every file atomically, and the
folder is locked while a run uses it. Each (mode, seed) run is saved to
``runs/<mode>-seed<seed>.json`` as it finishes, with a fingerprint of the
config (everything but ``workers``); a rerun on the same folder loads the
finished runs and only runs the missing ones, and refuses (``ValueError``) a
saved run of another config. At the end: ``results.json`` (config, profile,
command, torch threads, machine, seeds, every evaluation point of every run,
summary), ``summary.md`` (set-up, final success per mode, the paired
differences against sparse and whether the curves still move over the second
half of the budget; also printed) and ``learning_curves.png`` (success and
tool-set match against env steps, mean and ±1 std band over seeds).

Statistics: final success per mode (mean ± std over seeds); for mentor and
dense, the env steps their mean curve needs to reach the success the sparse
mean curve ends at, as a fraction of the run; and the paired difference in
final success against sparse, seed s against seed s (mean, 95% Student-t
interval, paired t-test p: :func:`benchmarks.reporting.paired_difference`).

Needs the ``sb3`` extra (stable-baselines3, matplotlib).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from benchmarks.processes import multiprocessing_pool
from benchmarks.reporting import machine, paired_difference, save_figure, steps_to_reach
from mentor_env.core.files import lock_folder, write_text_atomically

MODES = ("sparse", "mentor", "dense")
RETURN_MODES = ("sparse", "mentor", "dense")
TORCH_THREADS = 1  # torch threads per run (recorded in results.json)
PLATEAU_POINTS = 2.0  # a mean curve whose success moves less than this over the second half of the budget has plateaued


@dataclass
class Config:
    """The protocol of a run; each field's help is its metadata."""

    modes: tuple[str, ...] = field(default=MODES, metadata={"help": "training rewards, one run per mode and seed"})
    seeds: tuple[int, ...] = field(
        default=(0, 1, 2, 3, 4),
        metadata={"help": "paired across modes: seed s of every mode against seed s of sparse"},
    )
    difficulties: tuple[int, ...] = field(default=(1,), metadata={"help": "Calc levels trained on and evaluated on"})
    total_timesteps: int = field(default=61_440, metadata={"help": "env steps per run"})
    eval_every: int = field(
        default=6_144, metadata={"help": "env steps between evaluation points (plus one at step 0)"}
    )
    eval_tasks: int = field(
        default=109, metadata={"help": "test-split tasks of the chosen difficulties (level 1 has 109)"}
    )
    workers: int = field(
        default=2,
        metadata={"help": "runs at once, in separate processes (not in the fingerprint: it does not change a run)"},
    )
    n_envs: int = field(default=16, metadata={"help": "parallel training envs per run (SB3 DummyVecEnv)"})
    # PPO (Stable-Baselines3 defaults elsewhere)
    n_steps: int = field(default=64, metadata={"help": "env steps per env per rollout"})
    batch_size: int = field(default=256, metadata={"help": "minibatch size"})
    n_epochs: int = field(default=10, metadata={"help": "passes over each rollout"})
    learning_rate: float = field(default=1e-3, metadata={"help": "PPO's learning rate"})
    gamma: float = field(default=0.99, metadata={"help": "PPO's discount factor"})
    env_kwargs: dict[str, Any] = field(
        default_factory=lambda: {
            "max_turns": 8,
            "question_slots": 8,
            "result_slots": 2,
            "constants": [4],
            "lean_info": True,
        },
        metadata={
            "help": "the structured env: slots sized for level 1-2 tasks (at most 7 numbers, 2 calls; a square's 4 sides)"
        },
    )


PROFILES: dict[str, Config] = {
    "quick": Config(),  # the committed result: 61,440 env steps per run, about 5 min on 2 CPUs with 2 workers
    "medium": Config(total_timesteps=245_760, eval_every=12_288),  # 4x the budget, the same seeds and PPO settings
}

# command-line flag (argparse dest) -> Config field it overrides
_OVERRIDES = {
    "timesteps": "total_timesteps",
    "eval_every": "eval_every",
    "eval_tasks": "eval_tasks",
    "seeds": "seeds",
    "modes": "modes",
    "difficulty": "difficulties",
    "workers": "workers",
}


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

    episodes = run_episodes(
        PredictPolicy(model), [env], [{"seed": 0, "options": {"task": task}} for task in tasks], batch_size=1
    )
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

    torch.set_num_threads(TORCH_THREADS)
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


# --- saved runs and resuming -------------------------------------------------------------


def fingerprint(config: Config) -> str:
    """What makes two folders' runs interchangeable: sha256 of the config's JSON less ``workers``."""
    data = {key: value for key, value in asdict(config).items() if key != "workers"}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def run_path(out: Path, mode: str, seed: int) -> Path:
    """Where the (mode, seed) run is saved: ``<out>/runs/<mode>-seed<seed>.json``."""
    return Path(out) / "runs" / f"{mode}-seed{seed}.json"


def load_run(path: Path, expected: str) -> dict[str, Any] | None:
    """The run saved at ``path`` (None: not run yet); one saved with another config's fingerprint is refused."""
    if not path.exists():
        return None
    saved = json.loads(path.read_text())
    found = saved.pop("fingerprint", None)
    if found != expected:
        raise ValueError(
            f"{path} was saved by another config (fingerprint {found}, this run {expected}); "
            "use another --out, or delete the folder to start over"
        )
    return saved


def save_run(path: Path, run: dict[str, Any], config_fingerprint: str) -> Path:
    """Save one finished run with the config's fingerprint, atomically."""
    return write_text_atomically(path, json.dumps({"fingerprint": config_fingerprint, **run}) + "\n")


def _run_job(job: tuple[Config, str, int, str]) -> dict[str, Any]:
    """:func:`run_one` with a start line and the run's wall time (``label``: 'n/total')."""
    config, mode, seed, label = job
    print(f"[sb3] run {label} started: {mode} seed {seed}", flush=True)
    started = time.perf_counter()
    run = run_one((config, mode, seed))
    return {**run, "wall_seconds": time.perf_counter() - started}


def _execute(jobs: list[tuple[Config, str, int, str]], workers: int) -> Iterator[dict[str, Any]]:
    """The jobs' runs as they finish (in ``workers`` fresh processes each, or here with one worker)."""
    if workers > 1 and len(jobs) > 1:
        # spawn, and a fresh process per run: the parent may hold torch threads, which do not survive a fork.
        # The workers die with this process, however it ends (an orphan would go on computing a run).
        with multiprocessing_pool(min(workers, len(jobs)), maxtasksperchild=1) as pool:
            yield from pool.imap_unordered(_run_job, jobs, chunksize=1)
    else:
        for job in jobs:
            yield _run_job(job)


def run_all(config: Config, out: Path) -> list[dict[str, Any]]:
    """Every (mode, seed) run, seed by seed: the saved ones loaded, the missing ones run and saved as they finish."""
    expected = fingerprint(config)
    pairs = [(mode, seed) for seed in config.seeds for mode in config.modes]
    done: dict[tuple[str, int], dict[str, Any]] = {}
    for mode, seed in pairs:  # every saved run is checked before anything runs
        saved = load_run(run_path(out, mode, seed), expected)
        if saved is not None:
            done[(mode, seed)] = saved
            print(f"[sb3] {mode} seed {seed}: done earlier ({run_path(out, mode, seed)})", flush=True)
    todo = [pair for pair in pairs if pair not in done]
    labels = {pair: f"{number}/{len(todo)}" for number, pair in enumerate(todo, 1)}
    for run in _execute([(config, mode, seed, labels[(mode, seed)]) for mode, seed in todo], config.workers):
        pair = (run["mode"], run["seed"])
        save_run(run_path(out, *pair), run, expected)
        done[pair] = run
        print(
            f"[sb3] run {labels[pair]} done: {pair[0]} seed {pair[1]} in {run['wall_seconds'] / 60:.1f} min", flush=True
        )
    return [done[pair] for pair in pairs]


# --- summary -----------------------------------------------------------------------------


def _curves(mine: list[dict[str, Any]]) -> dict[str, Any]:
    """One mode's mean and std curves over its seeds, and its final success."""
    curves: dict[str, Any] = {"steps": [point["steps"] for point in mine[0]["evals"]]}
    for key in [key for key in mine[0]["evals"][0] if key != "steps"]:
        values = np.array([[point[key] for point in run["evals"]] for run in mine])
        curves[key] = {"mean": values.mean(axis=0).tolist(), "std": values.std(axis=0).tolist()}
    final = np.array([run["evals"][-1]["success"] for run in mine])
    curves["final_success_mean"] = float(final.mean())
    curves["final_success_std"] = float(final.std())
    return curves


def paired(config: Config, runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Final success of each mode minus sparse's, seed s against seed s (:func:`paired_difference`)."""
    finals = {(run["mode"], run["seed"]): run["evals"][-1]["success"] for run in runs}
    result: dict[str, dict[str, Any]] = {}
    if "sparse" not in config.modes:
        return result
    for mode in config.modes:
        if mode == "sparse":
            continue
        seeds = [seed for seed in config.seeds if (mode, seed) in finals and ("sparse", seed) in finals]
        result[f"{mode} - sparse"] = paired_difference(
            [finals[(mode, s)] for s in seeds], [finals[("sparse", s)] for s in seeds]
        )
    return result


def _nearest(steps: list[int], target: float) -> int:
    """The index of the eval point nearest to ``target`` env steps (the earlier one on a tie)."""
    return min(range(len(steps)), key=lambda index: (abs(steps[index] - target), index))


def second_half(config: Config, summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per mode: mean success at the eval point nearest half the budget and at the last one, and the trend."""
    result: dict[str, dict[str, Any]] = {}
    for mode in config.modes:
        steps, mean = summary[mode]["steps"], summary[mode]["success"]["mean"]
        middle = _nearest(steps, config.total_timesteps / 2)
        change = 100 * (mean[-1] - mean[middle])
        if abs(change) < PLATEAU_POINTS:
            trend = "plateaued"
        else:
            trend = "still rising" if change > 0 else "still falling"
        result[mode] = {"from_steps": steps[middle], "to_steps": steps[-1], "from_success": mean[middle],
                        "to_success": mean[-1], "change_points": change, "trend": trend}  # fmt: skip
    return result


def summarise(config: Config, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and std curves per mode; final success; steps to reach sparse's final success; paired differences.

    ``summary[mode]`` holds a mode's curves; ``summary["paired"]["<mode> - sparse"]`` the paired differences
    in final success; ``summary["second_half"][mode]`` the change of its mean curve over the budget's second half.
    """
    curves: dict[str, Any] = {mode: _curves([run for run in runs if run["mode"] == mode]) for mode in config.modes}
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
            curves[mode]["fraction_of_run_to_sparse_final"] = (
                None if reached is None else reached / config.total_timesteps
            )
    curves["paired"] = paired(config, runs)
    curves["second_half"] = second_half(config, curves)
    return curves


def plot(config: Config, summary: dict[str, Any], path: Path) -> None:
    """learning_curves.png: success and tool-set match against env steps, mean and ±1 std over seeds (atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    colours = {"sparse": "tab:gray", "mentor": "tab:blue", "dense": "tab:red"}
    for axis, key, label in (
        (axes[0], "success", "success rate"),
        (axes[1], "tool_set_match", "tool-set match with the teacher"),
    ):
        for mode in config.modes:
            steps = np.array(summary[mode]["steps"])
            mean = np.array(summary[mode][key]["mean"])
            std = np.array(summary[mode][key]["std"])
            axis.plot(steps, mean, label=mode, color=colours.get(mode))
            axis.fill_between(
                steps, np.clip(mean - std, 0, 1), np.clip(mean + std, 0, 1), alpha=0.2, color=colours.get(mode)
            )
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
    """Final success (mean ± std), final tool-set match and steps to sparse's final success, per mode."""
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


# --- summary.md --------------------------------------------------------------------------


def _difference_row(label: str, test: dict[str, Any]) -> str:
    points = f"{100 * test['mean']:+.1f}"
    if test["half_width"] is None:
        return f"| {label} | {points} | n/a (no spread) | n/a |"
    interval = f"±{100 * test['half_width']:.1f} [{100 * test['low']:+.1f}, {100 * test['high']:+.1f}]"
    return f"| {label} | {points} | {interval} | {test['p_value']:.3f} |"


def _separation(test: dict[str, Any]) -> str:
    if test["half_width"] is None:
        return "no spread over seeds to test"
    if test["low"] > 0:
        return "separated, above sparse (the 95% interval excludes 0)"
    if test["high"] < 0:
        return "separated, below sparse (the 95% interval excludes 0)"
    return "not separated (the 95% interval includes 0)"


def _setup(results: dict[str, Any]) -> str:
    config, info = results["config"], results["machine"]
    runs = len(config["modes"]) * len(config["seeds"])
    levels = ", ".join(map(str, config["difficulties"]))
    return (
        f"Set-up: Stable-Baselines3 PPO (MultiInputPolicy) on {results['env_id']}, Calc level {levels}, "
        f"profile {results['profile']}: {len(config['modes'])} training rewards × {len(config['seeds'])} seed(s) "
        f"{list(config['seeds'])}, {config['total_timesteps']:,} env steps per run ({runs} runs, "
        f"{runs * config['total_timesteps']:,} env steps in all), deterministic evaluation every {config['eval_every']:,} "
        f"steps on the first {config['eval_tasks']} test-split tasks (each once). Machine: {info['device']}, {info['cpus']} CPUs ({info['platform']}), "
        f"torch {info.get('torch', '?')} with {results['torch_threads']} thread per run, {config['workers']} worker(s); "
        f"{results['run_minutes']:.1f} min of runs."
    )


def summary_markdown(results: dict[str, Any]) -> str:
    """summary.md: the set-up, final success per mode, the paired differences, separation and plateaus."""
    config = Config(**{**results["config"], "modes": tuple(results["config"]["modes"])})
    summary = results["summary"]
    lines = [
        f"# SB3 PPO on {results['env_id']}: sparse vs mentor vs dense rewards, profile {results['profile']}",
        "",
        _setup(results),
        "",
        "Final success per training reward (mean ± std over seeds, held-out test tasks):",
        "",
        table(config, summary),
    ]
    if summary["paired"]:
        lines += [
            "",
            "Paired difference in final success against sparse, seed s against seed s (points; 95% Student-t interval; "
            "two-sided paired t-test p):",
            "",
            "| comparison | final success difference (points) | 95% interval | p |",
            "|---|---|---|---|",
            *(_difference_row(label, test) for label, test in summary["paired"].items()),
            "",
            "Separation at the end of the budget: "
            + "; ".join(f"{label}: {_separation(test)}" for label, test in summary["paired"].items())
            + ".",
        ]
    halves = summary["second_half"]
    first = next(iter(halves.values()))
    lines += [
        "",
        f"Second half of the budget (mean success at {first['from_steps']:,} → {first['to_steps']:,} env steps; "
        f"plateaued: a change under {PLATEAU_POINTS:g} points): "
        + ", ".join(
            f"{mode} {half['trend']} ({half['from_success']:.3f} → {half['to_success']:.3f}, {half['change_points']:+.1f} points)"
            for mode, half in halves.items()
        )
        + ".",
    ]
    return "\n".join(lines) + "\n"


# --- running it --------------------------------------------------------------------------


def build_results(
    config: Config, profile: str, runs: list[dict[str, Any]], command: str, wall: float
) -> dict[str, Any]:
    """What results.json holds: the set-up, the summary and every run."""
    return {
        "benchmark": "sb3_sparse_vs_dense",
        "profile": profile,
        "command": command,
        "env_id": "mentor/Calc-Structured-v0",
        "train_tasks": "calc train split, levels " + ", ".join(map(str, config.difficulties)),
        "eval_tasks": f"first {config.eval_tasks} calc test-split tasks of those levels, deterministic policy, each once",
        "config": asdict(config),
        "fingerprint": fingerprint(config),
        "torch_threads": TORCH_THREADS,
        "machine": machine(),
        "wall_seconds": wall,
        "run_minutes": sum(run.get("wall_seconds", run["seconds"]) for run in runs) / 60,
        "summary": summarise(config, runs),
        "runs": runs,
    }


def run(config: Config, profile: str, out: Path, command: str) -> dict[str, Any]:
    """The missing runs (resuming from ``out/runs``), results.json, summary.md and the plot; call it with ``out`` locked."""
    out = Path(out)
    pairs = len(config.modes) * len(config.seeds)
    print(f"[sb3] profile {profile}: {pairs} runs of {config.total_timesteps:,} env steps, {config.workers} worker(s); "
          f"writing to {out} (runs in {out / 'runs'})", flush=True)  # fmt: skip
    started = time.perf_counter()
    runs = run_all(config, out)
    import stable_baselines3  # noqa: F401  (so that machine() records the versions the runs used)
    import torch  # noqa: F401

    results = build_results(config, profile, runs, command, time.perf_counter() - started)
    paths = [write_text_atomically(out / "results.json", json.dumps(results, indent=1) + "\n")]
    text = summary_markdown(results)
    paths.append(write_text_atomically(out / "summary.md", text))
    plot(config, results["summary"], out / "learning_curves.png")
    paths.append(out / "learning_curves.png")
    print(text, flush=True)
    print("[sb3] wrote " + ", ".join(map(str, paths)) + f" and {len(runs)} runs in {out / 'runs'}", flush=True)
    return results


def config_for(profile: str, overrides: dict[str, Any] | None = None) -> Config:
    """The profile's config with ``overrides`` (Config fields) applied; the profile itself is left as it is."""
    base = PROFILES[profile]
    config = replace(base, env_kwargs=copy.deepcopy(base.env_kwargs), **(overrides or {}))
    if max(config.difficulties) > 2:
        # Level 3+ tasks need more slots than the level 1-2 layout provides.
        config.env_kwargs.update(question_slots=16, result_slots=8, constants=[1, 1.5, 2, 4, 60, 100])
    return config


def default_out(profile: str) -> Path:
    """Where a profile's results go without ``--out``: ``runs/sb3_sparse_vs_dense-<profile>``."""
    return Path("runs") / f"sb3_sparse_vs_dense-{profile}"


def parse_args(argv: list[str] | None = None) -> tuple[str, Config, Path]:
    """The profile's name, its config with the flags given applied, and the output folder."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    parser.add_argument("--timesteps", type=int, help="env steps per run (default: the profile's)")
    parser.add_argument("--eval-every", type=int, help="env steps between evaluations (default: the profile's)")
    parser.add_argument("--eval-tasks", type=int, help="test tasks per evaluation (default: the profile's)")
    parser.add_argument("--seeds", type=int, nargs="+", help="default: the profile's")
    parser.add_argument("--modes", nargs="+", choices=MODES, help="default: the profile's")
    parser.add_argument("--difficulty", type=int, nargs="+", help="default: the profile's")
    parser.add_argument("--workers", type=int, help="parallel runs (processes; default: the profile's)")
    parser.add_argument("--out", type=Path, help="results folder (default runs/sb3_sparse_vs_dense-<profile>)")
    args = parser.parse_args(argv)
    overrides = {}
    for flag, name in _OVERRIDES.items():
        value = getattr(args, flag)
        if value is not None:
            overrides[name] = tuple(value) if isinstance(value, list) else value
    return args.profile, config_for(args.profile, overrides), args.out or default_out(args.profile)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse the flags, lock the output folder, run (resuming) and write the results."""
    profile, config, out = parse_args(argv)
    command = " ".join(["python -m benchmarks.sb3_sparse_vs_dense", *(sys.argv[1:] if argv is None else argv)])
    with lock_folder(out):  # one run per results folder: a second one fails at once
        return run(config, profile, out, command)


if __name__ == "__main__":
    main()
