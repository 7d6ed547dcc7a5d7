"""The main job: sparse vs teacher-guided (mentor, dense) rewards, end to end.

    python -m benchmarks.sparse_vs_dense --profile quick      # what `make demo` runs: tiny student, CPU, <= 15 min
    python -m benchmarks.sparse_vs_dense --profile full       # more seeds, steps and the ablations; meant for a GPU
    python -m benchmarks.sparse_vs_dense --profile full --model PATH

Pipeline, all from the same seeds:

1. the student (the tiny one, SmolLM2-135M or a local model) gets an SFT warm
   start on a fixed budget of Calc teacher trajectories; this checkpoint is
   also the SFT baseline. The quick profile starts from the committed warm
   start ``agents/checkpoints/tiny-calc-sft`` (``make warm-start`` rebuilds it
   with this same SFT code in 18-19 minutes, which would not leave the RL
   runs any time on 2 CPUs); ``--profile full`` trains its own;
2. from that same checkpoint, PPO with each reward mode for the same number
   of updates (the same episodes per update), several seeds per mode,
   evaluating greedy Calc ``test`` success every few updates (the learning
   curves, against env steps);
3. every final policy and the SFT baseline are evaluated greedily on Calc
   ``test`` (the levels trained on: in-domain) and on the ``ood`` split of
   every domain: success rate with a 95% interval over seeds, tool calls
   against the teacher's, exact tool-set match, invented-tool rate and the
   Jensen-Shannon divergence of tool use against the teacher's;
4. outputs go atomically to ``benchmarks/results/sparse_vs_dense-<profile>-<model>/``
   (locked for the run: a second run on the same folder fails at once):
   ``results.json`` (profile, PPO config, package versions, device, seeds,
   every evaluation point), ``learning_curves.png``,
   ``similarity_vs_performance.png`` and ``summary.md``, whose tables are
   also printed at the end.

The headline figure: env steps that dense (and mentor) need to reach the
Calc success that sparse has at the end of its budget, as a fraction of that
budget, per seed (sparse seed s against dense seed s); below 1 means the
teacher-guided reward got there faster; "not reached" is reported as such.

RL runs are independent: ``--workers N`` runs N at once in separate processes
(the CPU threads shared out between them), for machines with many cores. On
the 2-CPU machine one process with both threads was faster (9 s per update of
64 episodes, against 22 s per update in each of two one-thread processes), so
the quick profile runs one at a time. A run's numbers depend on its seed, not
on the order of the runs (a different thread count can round floats differently).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from agents.ppo import TINY_WARM_START_SETTINGS
from agents.sft import WARM_START
from benchmarks.reporting import save_figure, steps_to_reach
from mentor_env.core.files import lock_folder, write_text_atomically

REPO = Path(__file__).resolve().parent.parent
METRICS = ("success_rate", "mean_tool_calls", "mean_teacher_tool_calls", "tool_set_match_rate", "invented_tool_rate", "tool_use_jsd")


@dataclass(frozen=True)
class Profile:
    model: str = "tiny"  # student: 'tiny', 'smollm2-135m' or a local model directory
    warm_start: str | None = str(WARM_START)  # SFT checkpoint to start from; None: run the SFT here
    sft_tasks: int = 5000  # Calc teacher trajectories for the warm start (levels <= sft_max_difficulty)
    sft_max_difficulty: int = 3
    sft_epochs: int = 2
    sft_batch_size: int = 8
    sft_learning_rate: float = 1e-3
    modes: tuple[str, ...] = ("sparse", "mentor", "dense")  # reward modes compared
    seeds: tuple[int, ...] = (0, 1, 2)  # RL seeds per mode
    max_difficulty: int = TINY_WARM_START_SETTINGS["max_difficulty"]  # Calc levels trained on and evaluated in-domain
    updates: int = 8  # PPO updates per run (the 15-minute budget of `make demo` on 2 CPUs)
    episodes_per_update: int = 48
    eval_every: int = 4  # updates between learning-curve points
    eval_episodes: int = 109  # Calc test episodes per learning-curve point (all level-1 test tasks)
    ood_episodes: int = 24  # episodes per ood split in the final evaluation
    workers: int = 1  # RL runs at once (processes; 1: in this process)
    ppo: dict[str, Any] = field(default_factory=dict)  # other PPOConfig fields


_TINY_PPO = {k: v for k, v in TINY_WARM_START_SETTINGS.items() if k not in ("max_difficulty", "episodes_per_update")}

PROFILES = {
    "quick": Profile(ppo=_TINY_PPO),
    "full": Profile(
        model="smollm2-135m",
        warm_start=None,
        sft_learning_rate=2e-5,
        sft_max_difficulty=5,
        modes=("sparse", "mentor", "dense", "mentor_partial", "mentor_nomatch", "mentor_f1"),
        seeds=(0, 1, 2, 3, 4),
        max_difficulty=5,
        updates=60,
        eval_every=6,
        eval_episodes=500,
        ood_episodes=200,
        workers=1,
        ppo={"learning_rate": 1e-6, "max_new_tokens": 192, "max_turns": 6, "temperature": 0.7, "minibatch_size": 8},
    ),
}


# --- statistics -------------------------------------------------------------------

_T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def confidence_interval(values: Sequence[float]) -> tuple[float, float]:
    """Mean and the half-width of a 95% Student-t interval over seeds (0 with one seed)."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return mean, 0.0
    half = _T_975.get(len(values) - 1, 1.96) * float(np.std(values, ddof=1)) / math.sqrt(len(values))
    return mean, half


# --- one job per process -------------------------------------------------------------


def _evaluate(trainer: Any, domain: str, split: str, episodes: int) -> dict[str, Any]:
    """Greedy episodes of the trainer's policy on the first ``episodes`` tasks of a split."""
    from mentor_env.core.splits import load_split
    from mentor_env.domains import get_domain
    from mentor_env.registration import DOMAIN_ENV_IDS

    tasks = load_split(get_domain(domain), split)
    if domain == "calc" and split == "test":
        tasks = [t for t in tasks if t.meta.get("difficulty", 0) <= trainer.config.max_difficulty]
    return _kept(trainer.evaluate_tasks(DOMAIN_ENV_IDS[domain], tasks[:episodes], temperature=0.0))


def _kept(metrics: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in metrics.items() if key in METRICS or key == "episodes"}


def final_evaluation(trainer: Any, profile: Profile, calc_test: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Calc ``test`` (trained levels; ``calc_test`` when the run's last curve point already has it) and every ``ood`` split."""
    from mentor_env.domains import DOMAINS

    results = {"calc/test": calc_test or _evaluate(trainer, "calc", "test", profile.eval_episodes)}
    for domain in DOMAINS:
        results[f"{domain}/ood"] = _evaluate(trainer, domain, "ood", profile.ood_episodes)
    return results


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """One stage in a worker process: the SFT baseline's evaluation or one RL run."""
    import torch
    import transformers

    from agents.ppo import PPOConfig, PPOTrainer

    if job["threads"]:
        torch.set_num_threads(job["threads"])
    # One progress bar, the parent's: the workers' PPO and weight-loading bars would interleave with it.
    transformers.utils.logging.disable_progress_bar()
    profile = Profile(**{**job["profile"], "modes": tuple(job["profile"]["modes"]), "seeds": tuple(job["profile"]["seeds"])})
    config = PPOConfig(**{**job["config"], "progress_bar": False})
    started = time.perf_counter()
    trainer = PPOTrainer(config)
    if job["kind"] == "baseline":
        return {"kind": "baseline", "final": final_evaluation(trainer, profile), "seconds": time.perf_counter() - started}
    rows = trainer.train()
    curve = [{"update": row["update"], "env_steps": row["env_steps"], **_kept(row["eval"])} for row in rows if "eval" in row]
    updates = [{key: value for key, value in row.items() if key != "eval"} for row in rows]
    # The trainer evaluates the final policy on the same Calc test tasks, greedily: reuse it.
    last = {key: value for key, value in curve[-1].items() if key not in ("update", "env_steps")}
    return {
        "kind": "rl",
        "mode": config.reward_mode,
        "seed": config.seed,
        "curve": curve,
        "updates": updates,
        "final": final_evaluation(trainer, profile, calc_test=last),
        "seconds": time.perf_counter() - started,
    }


# --- the pipeline ----------------------------------------------------------------------


def sft_warm_start(profile: Profile, folder: Path) -> tuple[Path, dict[str, Any]]:
    """The SFT checkpoint every RL run starts from: the committed one, or trained here."""
    if profile.warm_start is not None:
        path = Path(profile.warm_start)
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"no SFT warm start at {path} (expected a model directory; `make warm-start` builds it)")
        history = path / "sft_history.json"
        shown = path.resolve().relative_to(REPO) if path.resolve().is_relative_to(REPO) else path
        return path, {"source": str(shown), "trained_here": False, **(json.loads(history.read_text())["config"] if history.exists() else {})}
    import torch

    from agents.sft import SFTConfig, train_sft
    from agents.students import load_student
    from mentor_env.core.splits import load_split
    from mentor_env.domains import get_domain

    torch.manual_seed(0)
    model, tokenizer = load_student(profile.model, seed=0)
    tasks = [t for t in load_split(get_domain("calc"), "train") if t.meta.get("difficulty", 0) <= profile.sft_max_difficulty]
    tasks = tasks[: profile.sft_tasks]
    config = SFTConfig(epochs=profile.sft_epochs, batch_size=profile.sft_batch_size, learning_rate=profile.sft_learning_rate)
    history = train_sft(model, tokenizer, tasks, config)
    path = folder / "sft"
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path, {"source": "trained here", "trained_here": True, "tasks": len(tasks), **asdict(config), "final_loss": history[-1]["loss"]}


def base_config(profile: Profile, warm_start: Path, folder: Path) -> dict[str, Any]:
    """The PPOConfig fields every run shares."""
    from agents.ppo import PPOConfig

    config = PPOConfig(
        model=profile.model,
        init_from=str(warm_start),
        max_difficulty=profile.max_difficulty,
        total_updates=profile.updates,
        episodes_per_update=profile.episodes_per_update,
        eval_every=profile.eval_every,
        eval_episodes=profile.eval_episodes,
        eval_temperature=0.0,  # greedy learning-curve points, like the final evaluation (which reuses the last)
        checkpoint_every=0,
        output_dir=str(folder),
        **profile.ppo,
    )
    return asdict(config)


def _label(job: dict[str, Any]) -> str:
    config = job["config"]
    return "SFT baseline" if job["kind"] == "baseline" else f"PPO {config['reward_mode']} seed {config['seed']}"


def run_jobs(jobs: list[dict[str, Any]], workers: int, progress: Any) -> Iterator[dict[str, Any]]:
    """Each job's outcome as it finishes: in this process, or in ``workers`` spawned ones."""
    if workers == 1:
        for job in jobs:
            progress.set_description(_label(job))
            yield run_job(job)
            progress.update(1)
        return
    progress.set_description(f"{len(jobs)} jobs, {workers} at once")
    # spawn, not fork: the parent may hold torch threads, which do not survive a fork.
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(run_job, job): job for job in jobs}
        for future in as_completed(futures):
            progress.set_description(f"done: {_label(futures[future])}")
            yield future.result()
            progress.update(1)


def run(profile: Profile, progress: Any) -> dict[str, Any]:
    """Every stage of the pipeline; returns what results.json holds (less the summary)."""
    import torch

    from benchmarks.reporting import machine

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sparse_vs_dense-") as scratch:
        folder = Path(scratch)
        progress.set_description("SFT warm start")
        warm_start, sft = sft_warm_start(profile, folder)
        progress.update(1)
        base = base_config(profile, warm_start, folder / "baseline")
        on_cpu = not torch.cuda.is_available()
        threads = max(1, (os.cpu_count() or 1) // profile.workers) if on_cpu else 0
        jobs = [{"kind": "baseline", "config": base}] + [
            {"kind": "rl", "config": {**base, "reward_mode": mode, "seed": seed, "output_dir": str(folder / f"{mode}-{seed}")}}
            for mode in profile.modes
            for seed in profile.seeds
        ]
        for job in jobs:
            job.update(profile=asdict(profile), threads=threads)
        outcomes = list(run_jobs(jobs, profile.workers, progress))
    baseline = next(o for o in outcomes if o["kind"] == "baseline")
    runs = {
        mode: sorted((o for o in outcomes if o["kind"] == "rl" and o["mode"] == mode), key=lambda o: o["seed"]) for mode in profile.modes
    }
    start_point = {"update": 0, "env_steps": 0, **baseline["final"]["calc/test"]}
    for mode_runs in runs.values():
        for item in mode_runs:
            item["curve"].insert(0, start_point)
    return {
        "profile": asdict(profile),
        "machine": machine(),
        "sft": sft,
        "ppo_config": {k: v for k, v in base.items() if k not in ("output_dir", "reward_mode", "seed")},
        "baseline": baseline,
        "runs": runs,
        "minutes": (time.perf_counter() - started) / 60,
    }


# --- summary, tables, plots -----------------------------------------------------------------


def summarize_results(results: dict[str, Any]) -> dict[str, Any]:
    """Per policy and split: mean and 95% interval over seeds; the headline steps ratios."""
    splits = list(results["baseline"]["final"])
    table: dict[str, dict[str, Any]] = {"SFT baseline": {}}
    for split in splits:
        final = results["baseline"]["final"][split]
        table["SFT baseline"][split] = {metric: (final[metric], 0.0) for metric in METRICS}
    for mode, runs in results["runs"].items():
        table[mode] = {
            split: {metric: confidence_interval([run["final"][split][metric] for run in runs]) for metric in METRICS} for split in splits
        }
    headline: dict[str, Any] = {}
    for mode in ("dense", "mentor"):
        if "sparse" not in results["runs"] or mode not in results["runs"]:
            continue
        ratios: list[float | None] = []
        outcomes: list[str] = []
        for sparse_run, run in zip(results["runs"]["sparse"], results["runs"][mode]):
            budget = sparse_run["curve"][-1]["env_steps"]
            target = sparse_run["curve"][-1]["success_rate"]
            if target <= sparse_run["curve"][0]["success_rate"]:
                # Nothing to catch up with: the warm start already had sparse's final success.
                ratios.append(None)
                outcomes.append("sparse did not improve")
                continue
            reached = steps_to_reach([(p["env_steps"], p["success_rate"]) for p in run["curve"]], target)
            ratios.append(None if reached is None else reached / budget)
            outcomes.append("not reached" if reached is None else f"{reached / budget:.2f}")
        known = [r for r in ratios if r is not None]
        headline[mode] = {
            "ratios": ratios,
            "per_seed": outcomes,
            "mean": float(np.mean(known)) if known else None,
            "min": min(known) if known else None,
            "max": max(known) if known else None,
            "reached": len(known),
            "seeds": len(ratios),
        }
    return {"table": table, "headline": headline}


def _cell(value: Sequence[float], over_seeds: bool) -> str:
    mean, half = value
    return f"{mean:.3f} ± {half:.3f}" if over_seeds else f"{mean:.3f}"


def summary_markdown(results: dict[str, Any], summary: dict[str, Any]) -> str:
    """summary.md: the set-up in one paragraph, the success table, the similarity table, the headline."""
    profile, machine = results["profile"], results["machine"]
    splits = list(results["baseline"]["final"])
    table = summary["table"]
    steps = [run["curve"][-1]["env_steps"] for runs in results["runs"].values() for run in runs]
    lines = [
        f"# Sparse vs teacher-guided rewards: {profile['model']} student",
        "",
        f"Machine: {machine['device']}, {machine['cpus']} CPUs ({machine['platform']}), torch {machine['torch']}, "
        f"{'one run at a time' if profile['workers'] == 1 else str(profile['workers']) + ' runs at once'}; "
        f"{results['minutes']:.1f} min in all. SFT warm start: {results['sft']['source']}. "
        f"PPO from it: {profile['updates']} updates of {profile['episodes_per_update']} episodes per run "
        f"({min(steps)}-{max(steps)} env steps), seeds {list(profile['seeds'])}, Calc levels <= {profile['max_difficulty']}, "
        "greedy evaluation. Cells: mean ± 95% interval over seeds (Student t).",
        "",
        "Success rate (calc/test: the trained levels of the held-out Calc split; ood: each domain's out-of-distribution split):",
        "",
        "| policy | " + " | ".join(splits) + " |",
        "|---|" + "---|" * len(splits),
    ]
    for policy, row in table.items():
        seeds = policy != "SFT baseline"
        lines.append(f"| {policy} | " + " | ".join(_cell(row[s]["success_rate"], seeds) for s in splits) + " |")
    lines += [
        "",
        "Tool use on calc/test against the teacher's (JSD: Jensen-Shannon divergence of tool-name frequencies, 0 = same):",
        "",
        "| policy | tool calls (teacher) | exact tool-set match | invented-tool rate | JSD | mean ood success |",
        "|---|---|---|---|---|---|",
    ]
    for policy, row in table.items():
        seeds = policy != "SFT baseline"
        calc = row["calc/test"]
        ood = float(np.mean([row[s]["success_rate"][0] for s in splits if s.endswith("/ood")]))
        lines.append(
            f"| {policy} | {calc['mean_tool_calls'][0]:.2f} ({calc['mean_teacher_tool_calls'][0]:.2f}) | "
            f"{_cell(calc['tool_set_match_rate'], seeds)} | {_cell(calc['invented_tool_rate'], seeds)} | "
            f"{_cell(calc['tool_use_jsd'], seeds)} | {ood:.3f} |"
        )
    lines.append("")
    for mode, head in summary["headline"].items():
        shown = ", ".join(head["per_seed"])
        if head["mean"] is None:
            lines.append(f"- Headline, {mode}: no seed gives a ratio (per seed: {shown}).")
        else:
            lines.append(
                f"- Headline, {mode}: env steps to reach the Calc success sparse ends with, as a fraction of sparse's budget: "
                f"mean {head['mean']:.2f} over the {head['reached']}/{head['seeds']} seeds that reached it (per seed: {shown}; "
                "below 1 = faster than sparse)."
            )
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any], summary: dict[str, Any], out_dir: Path) -> None:
    """learning_curves.png and similarity_vs_performance.png, each written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    for mode, runs in results["runs"].items():
        # Seeds play different episodes, so env steps differ a little: average them per point.
        steps = np.mean([[p["env_steps"] for p in run["curve"]] for run in runs], axis=0)
        success = np.array([[p["success_rate"] for p in run["curve"]] for run in runs])
        axis.plot(steps, success.mean(0), marker="o", label=mode)
        axis.fill_between(steps, success.min(0), success.max(0), alpha=0.2)
    axis.set_xlabel("env steps")
    axis.set_ylabel(f"Calc test success (levels <= {results['profile']['max_difficulty']}, greedy)")
    axis.set_title("Learning curves (mean over seeds, band = min-max)")
    axis.legend()
    figure.tight_layout()
    save_figure(figure, out_dir / "learning_curves.png")

    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    highest = 0.0
    for policy, row in summary["table"].items():
        ood = [s for s in row if s.endswith("/ood")]
        success = float(np.mean([row[s]["success_rate"][0] for s in ood]))
        highest = max(highest, success)
        jsd = row["calc/test"]["tool_use_jsd"][0]
        axis.scatter(jsd, success, s=40)
        axis.annotate(policy, (jsd, success), textcoords="offset points", xytext=(5, 4))
    top = max(0.1, 1.15 * highest)
    axis.set_ylim(-0.04 * top, top)  # a success rate: start at 0, with room for the markers
    axis.set_xlabel("tool-use JSD to the teacher (Calc test; lower = more similar)")
    axis.set_ylabel("mean OOD success over the domains")
    axis.set_title("Similarity to the teacher vs out-of-domain success")
    figure.tight_layout()
    save_figure(figure, out_dir / "similarity_vs_performance.png")


def write_outputs(results: dict[str, Any], out_dir: Path) -> str:
    """results.json, summary.md and the two plots; returns the summary text."""
    summary = summarize_results(results)
    results = {**results, "summary": summary}
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomically(out_dir / "results.json", json.dumps(results, indent=1) + "\n")
    text = summary_markdown(results, summary)
    write_text_atomically(out_dir / "summary.md", text)
    plot(results, summary, out_dir)
    return text


def parse_args(argv: Sequence[str] | None = None) -> tuple[Profile, Path, bool]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    parser.add_argument("--model", help="override the profile's student ('tiny', 'smollm2-135m' or a path); trains its own warm start")
    parser.add_argument("--seeds", type=int, nargs="+", help="override the profile's seeds")
    parser.add_argument("--updates", type=int, help="override the profile's PPO updates per run")
    parser.add_argument("--workers", type=int, help="RL runs at once (default: the profile's)")
    parser.add_argument("--out", type=Path, help="results folder (default benchmarks/results/sparse_vs_dense-<profile>-<model>)")
    parser.add_argument("--summarize-only", action="store_true", help="rewrite summary.md and the plots from the folder's results.json")
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    if args.model:
        profile = replace(profile, model=args.model, warm_start=None)
    if args.seeds:
        profile = replace(profile, seeds=tuple(args.seeds))
    if args.updates:
        profile = replace(profile, updates=args.updates)
    if args.workers:
        profile = replace(profile, workers=args.workers)
    out_dir = args.out or Path("benchmarks/results") / f"sparse_vs_dense-{args.profile}-{Path(profile.model).name}"
    return profile, out_dir, args.summarize_only


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    profile, out_dir, summarize_only = parse_args(argv)
    with lock_folder(out_dir):  # one run per results folder: a second one fails at once
        return _main(profile, out_dir, summarize_only)


def _main(profile: Profile, out_dir: Path, summarize_only: bool) -> dict[str, Any]:
    """The pipeline, or only the outputs from results.json (``main`` holds the folder's lock)."""
    from tqdm.auto import tqdm

    if summarize_only:
        results = json.loads((out_dir / "results.json").read_text())
        results.pop("summary", None)
        print(write_outputs(results, out_dir))
        return results
    stages = 2 + len(profile.modes) * len(profile.seeds)
    with tqdm(total=stages, desc="sparse vs dense") as progress:
        results = run(profile, progress)
    print(write_outputs(results, out_dir))
    return results


if __name__ == "__main__":
    main()
