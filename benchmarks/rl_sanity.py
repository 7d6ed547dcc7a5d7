"""The reference agent's sanity ladder: does PPO/GRPO learn on the tiny student, rung by rung?

    python -m benchmarks.rl_sanity                          # rungs a and b, 3 seeds, 2 runs at once
    python -m benchmarks.rl_sanity --rungs b --seeds 0 1 2 3 --out runs/rl_sanity
    python -m benchmarks.rl_sanity --rungs c                # TRL's GRPOTrainer on rung b's setting

Every run starts from the committed warm start ``agents/checkpoints/tiny-multi-sft`` on Calc
levels 1-2, with the last 96 training tasks carved off as validation (``eval_split="validation"``:
nothing here reads ``test`` or ``ood``):

a. **fit**: a fixed pool of 8 training tasks, the sparse reward, GRPO groups of 8 (each update
   plays all 8 tasks 8 times), 200 updates at 2e-4 decaying to a tenth, with two passes of minibatches
   of 16. Met when the sampled training success, the mean of the last 5 updates, reaches 0.9 on
   average over the seeds.
b. **held-out gain**: all other level 1-2 training tasks, with ``gae`` and with ``grpo`` in pairs, at
   the recipe that became ``agents.ppo``'s defaults (40 updates of 256 episodes, one pass in minibatches
   of 64, 1e-4 warmed up over 3 updates, no KL term, lambda 1 for ``gae``). Met for an algorithm
   when greedy validation success after the run exceeds the warm start's by at least 8 points on
   average, with the paired 95% interval over seeds above zero.
c. **outside reference**: TRL's ``GRPOTrainer`` driving the same env through
   :func:`mentor_env.integrations.trl.environment_factory`, on rung b's tasks and budget (40
   generation batches of 256 completions in groups of 8, each split into 4 optimizer steps of 64,
   1e-4 warmed up over the first 3 batches), then the same greedy validation; its gain per episode
   and per CPU-second beside ours (``TRL_SETTINGS``).

Each run is saved to ``<out>/runs/<name>.json`` as it finishes (a rerun skips the finished ones of
the same settings); then ``results.json``, ``summary.md`` and ``ladder.png``. One torch thread per
run (recorded), runs in spawned workers that die with this process.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from benchmarks.processes import worker_pool
from benchmarks.reporting import machine, paired_difference, save_figure
from mentor_env.core.files import discard, write_text_atomically

REPO = Path(__file__).resolve().parent.parent
WARM_START = REPO / "agents" / "checkpoints" / "tiny-multi-sft"
DEFAULT_OUT = Path("runs/rl_sanity")
REQUIRED_FIT = 0.9  # rung a: sampled training success
REQUIRED_GAIN = 0.08  # rung b: greedy validation gain over the warm start
FIT_WINDOW = 5  # rung a: updates averaged at the end


@dataclass(frozen=True)
class Rung:
    """One rung's runs: what PPOConfig gets beyond the shared settings, and for which algorithms."""

    name: str
    algorithms: tuple[str, ...]
    updates: int
    settings: dict[str, Any] = field(default_factory=dict)
    grpo_group_size: int = 8  # rollouts of each task in an update with ``grpo`` (``gae`` plays each task once)


# Shared by every run: the setting of rung b, chosen on validation (temperature 0.7 keeps the
# rollouts near the greedy policy that is evaluated; at temperature 1 nothing rose).
BASE_SETTINGS: dict[str, Any] = {
    "env_id": "mentor/Calc-v0",
    "max_difficulty": 2,
    "validation_tasks": 96,
    "eval_split": "validation",
    "eval_episodes": 96,
    "episodes_per_update": 64,
    "minibatch_size": 16,
    "max_new_tokens": 48,
    "max_turns": 4,
    "temperature": 0.7,
    "learning_rate": 2e-4,
    "final_lr_fraction": 0.1,
    "eval_every": 10,
    "checkpoint_every": 0,
    "progress_bar": False,
    "verbose": False,
}
# What agents.ppo's defaults were when rung a and the first rung b were measured. Written out so that a run is
# what its fingerprint says whatever the defaults become (the fingerprint covers the settings given here).
EARLIER_DEFAULTS: dict[str, Any] = {"update_epochs": 2, "kl_coef": 0.02, "gae_lambda": 0.95, "warmup_updates": 0}
RUNGS: dict[str, Rung] = {
    # Fit 8 tasks over 200 updates, the rate decaying to a tenth. Over 120 updates, seed 0 stopped at 0.74 with its
    # last two tasks failing in all 8 rollouts (no signal left in their groups). At a constant rate it went on
    # finding them (0.90 over the last 5 of 200 updates), but seed 1 never settled (0.77; 0.96 with the decay).
    "a": Rung(
        "a",
        ("grpo",),
        200,
        {**EARLIER_DEFAULTS, "train_tasks": 8, "reward_mode": "sparse", "eval_every": 100},
    ),
    # The reference agent's recipe, agents.ppo's defaults since it was measured here: 256 episodes an update
    # (32 tasks, where 8 left most updates with one or two groups of mixed outcomes), one pass in minibatches of
    # 64, the rate warmed up over 3 updates to 1e-4, no KL term. The first rung b (30 updates of 64 episodes,
    # 8 minibatch steps each, 5e-5, target_kl 0.02) gained nothing. At 30 updates of 256 (10 seeds) GAE gained
    # +7.8 points [+5.0, +10.7] and GRPO in pairs +8.5 [+6.1, +11.0], with two GAE seeds that had barely moved
    # (+2.1, +0.0). At 40, the rate decaying over all of them: +10.1 [+8.9, +11.3] and +8.5 [+6.7, +10.4]
    # (benchmarks/results/rl_sanity-tiny-30-updates/ keeps the 30-update run).
    "b": Rung(
        "b",
        ("gae", "grpo"),
        40,
        {
            "reward_mode": "sparse",
            "episodes_per_update": 256,
            "minibatch_size": 64,
            "update_epochs": 1,
            "learning_rate": 1e-4,
            "warmup_updates": 3,
            "kl_coef": 0.0,
            "gae_lambda": 1.0,
        },
        # GRPO in pairs: 128 tasks an update. On validation (seeds 0-2, 7,680 episodes each) groups of 8 gained
        # +3.5 points, of 4 +7.3 and of 2 +9.7: the more distinct tasks an update sees, the more the gain holds
        # out of them (GAE, one episode a task, sees 256). Seeds 3-9, run afterwards, gained +1.0, +8.3, +10.4,
        # +12.5, +10.4, +9.4 and +4.2.
        grpo_group_size=2,
    ),  # fmt: skip
}
# Rung c (TRL) runs on rung b's setting: what TRL is given comes from these (the PPOConfig ones are also what
# the greedy evaluation before and after uses). TRL's schedule decays to zero where ours stops at a tenth, and
# its loss is its default (``loss_type="dapo"``, rewards scaled by each group's std).
TRL_SETTINGS: dict[str, Any] = {**RUNGS["b"].settings}
TRL_RUNG = "c"
TRL_GROUP_SIZE = 8  # completions of each prompt that TRL compares (its num_generations)
TRL_UPDATES = RUNGS["b"].updates  # generation batches of 256 completions: rung b's budget


@dataclass(frozen=True)
class Job:
    rung: str
    algorithm: str
    seed: int
    updates: int
    settings: dict[str, Any]
    out: str

    @property
    def name(self) -> str:
        return f"{self.rung}-{self.algorithm}-seed{self.seed}"

    def fingerprint(self) -> str:
        warm_start = str(WARM_START.relative_to(REPO))  # not the checkout's place: a clone elsewhere resumes too
        text = json.dumps(
            {"updates": self.updates, "settings": self.settings, "warm_start": warm_start}, sort_keys=True
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def jobs(rungs: Sequence[str], seeds: Sequence[int], out: Path) -> list[Job]:
    """Every run of the chosen rungs (rung c: TRL, one per seed, on rung b's setting)."""
    result = []
    for name in rungs:
        if name == TRL_RUNG:
            result += [
                Job(TRL_RUNG, "trl-grpo", seed, TRL_UPDATES, {**BASE_SETTINGS, **TRL_SETTINGS}, str(out))
                for seed in seeds
            ]
            continue
        rung = RUNGS[name]
        for algorithm in rung.algorithms:
            settings = {
                **BASE_SETTINGS,
                **rung.settings,
                "advantage": algorithm,
                "group_size": rung.grpo_group_size if algorithm == "grpo" else 1,
            }
            result += [Job(name, algorithm, seed, rung.updates, settings, str(out)) for seed in seeds]
    return result


# --- one run (in a worker) -----------------------------------------------------------


def run_job(job: Job) -> dict[str, Any]:
    """Train one run and evaluate it; what runs/<name>.json holds."""
    import torch

    torch.set_num_threads(1)
    started_cpu, started_wall = time.process_time(), time.perf_counter()
    result = _trl_run(job) if job.rung == TRL_RUNG else _ppo_run(job)
    return {
        "name": job.name,
        "fingerprint": job.fingerprint(),
        "job": asdict(job),
        "threads": torch.get_num_threads(),
        "cpu_seconds": time.process_time() - started_cpu,
        "wall_seconds": time.perf_counter() - started_wall,
        **result,
    }


def _ppo_config(job: Job, out: Path, **overrides: Any) -> Any:
    from agents.ppo import PPOConfig

    settings = {**job.settings, **overrides}
    return PPOConfig(model=str(WARM_START), seed=job.seed, total_updates=job.updates, out=str(out), **settings)


def _ppo_run(job: Job) -> dict[str, Any]:
    from agents.ppo import PPOTrainer

    trainer = PPOTrainer(_ppo_config(job, Path(job.out) / "work" / job.name))
    before = trainer.evaluate(0)
    history = trainer.train()
    return {
        "before": before["success_rate"],
        "after": history[-1]["eval"]["success_rate"],
        "curve": [[0, before["success_rate"]]]
        + [[row["update"], row["eval"]["success_rate"]] for row in history if "eval" in row],
        "training_success": [row["success_rate"] for row in history],
        "episodes": job.updates * job.settings["episodes_per_update"],
        "kl_to_reference": [row["kl_to_reference"] for row in history],
        "mixed_groups": [row["mixed_groups"]["success"] for row in history],
    }


def _trl_run(job: Job) -> dict[str, Any]:
    """TRL's GRPOTrainer on rung b's training tasks and episode budget; the same greedy validation before and after."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from agents.ppo import PPOTrainer, task_pools
    from mentor_env.integrations.trl import add_hermes_response_template, environment_factory, to_hf_dataset

    work = Path(job.out) / "work" / job.name
    config = _ppo_config(job, work / "eval", advantage="grpo", group_size=TRL_GROUP_SIZE)  # task pools, evaluation
    train_tasks, _ = task_pools(config)
    evaluator = PPOTrainer(config)
    before = evaluator.evaluate(0)["success_rate"]
    evaluator.close()
    factory = environment_factory(job.settings["env_id"], reward_mode=job.settings["reward_mode"])
    # One generation batch is one of our updates' worth of episodes; TRL steps the optimizer once per minibatch.
    steps_per_batch = job.settings["episodes_per_update"] // job.settings["minibatch_size"]
    tokenizer = add_hermes_response_template(AutoTokenizer.from_pretrained(WARM_START))
    trainer = GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(WARM_START),
        reward_funcs=[factory.reward],
        args=GRPOConfig(
            output_dir=str(work / "trl"), max_steps=job.updates * steps_per_batch, num_generations=TRL_GROUP_SIZE,
            per_device_train_batch_size=job.settings["minibatch_size"], steps_per_generation=steps_per_batch,
            learning_rate=job.settings["learning_rate"], warmup_steps=job.settings["warmup_updates"] * steps_per_batch,
            temperature=job.settings["temperature"], max_completion_length=job.settings["max_new_tokens"] * job.settings["max_turns"],
            max_tool_calling_iterations=job.settings["max_turns"], use_cpu=True, bf16=False, report_to="none",
            logging_steps=1, save_strategy="no", seed=job.seed,
        ),
        train_dataset=to_hf_dataset("calc", tasks=train_tasks, tools_in_prompt=False),
        processing_class=tokenizer,
        environment_factory=factory,
    )  # fmt: skip
    trainer.train()
    trained = work / "trained"
    trainer.save_model(str(trained))
    tokenizer.save_pretrained(str(trained))
    after_config = replace(config, model=str(trained), out=str(work / "eval-after"))
    evaluator = PPOTrainer(after_config)
    after = evaluator.evaluate(0)["success_rate"]
    evaluator.close()
    rewards = [entry.get("reward", float("nan")) for entry in trainer.state.log_history if "reward" in entry]
    return {
        "before": before,
        "after": after,
        "curve": [[0, before], [job.updates, after]],
        "training_reward": rewards,
        "episodes": job.updates * job.settings["episodes_per_update"],
    }


# --- the ladder ---------------------------------------------------------------------


def saved_run(out: Path, job: Job) -> dict[str, Any] | None:
    path = out / "runs" / f"{job.name}.json"
    if not path.exists():
        return None
    saved = json.loads(path.read_text())
    return saved if saved.get("fingerprint") == job.fingerprint() else None


def run_all(todo: Sequence[Job], out: Path, workers: int) -> list[dict[str, Any]]:
    """Every job's result: saved ones, then the others as they finish (each saved at once)."""
    results = []
    pending = []
    for job in todo:
        saved = saved_run(out, job)
        if saved is None:
            pending.append(job)
        else:
            results.append(saved)
    with worker_pool(max(1, workers)) as pool:
        for number, result in enumerate(pool.map(run_job, pending), 1):
            write_text_atomically(out / "runs" / f"{result['name']}.json", json.dumps(result) + "\n")
            if (out / "work" / result["name"]).exists():
                discard(out / "work" / result["name"])  # the run's models: its result is saved
            print(f"[rl_sanity] {number}/{len(pending)} {result['name']}: {result['before']:.3f} -> {result['after']:.3f} "
                  f"({result['cpu_seconds'] / 60:.1f} CPU-min)", flush=True)  # fmt: skip
            results.append(result)
    return sorted(results, key=lambda result: result["name"])


def summarize(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Each rung's verdict and numbers."""
    by_group: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for result in results:
        by_group.setdefault((result["job"]["rung"], result["job"]["algorithm"]), []).append(result)
    summary: dict[str, Any] = {}
    for (rung, algorithm), runs in sorted(by_group.items()):
        runs = sorted(runs, key=lambda run: run["job"]["seed"])
        entry: dict[str, Any] = {"seeds": [run["job"]["seed"] for run in runs]}
        if rung == "a":
            fits = [float(np.mean(run["training_success"][-FIT_WINDOW:])) for run in runs]
            starts = [float(np.mean(run["training_success"][:FIT_WINDOW])) for run in runs]
            entry.update({"first_updates": starts, "last_updates": fits, "mean_fit": float(np.mean(fits))})
            entry["met"] = entry["mean_fit"] >= REQUIRED_FIT - 1e-9  # float sums of exact rates
        else:
            gain = paired_difference([run["after"] for run in runs], [run["before"] for run in runs])
            entry.update(
                {"before": [run["before"] for run in runs], "after": [run["after"] for run in runs], "gain": gain}
            )
            cpu = float(np.mean([run["cpu_seconds"] for run in runs]))
            episodes = runs[0]["episodes"]
            entry.update({"cpu_seconds": cpu, "episodes": episodes,
                          "gain_per_1000_episodes": gain["mean"] * 1000 / episodes, "gain_per_cpu_hour": gain["mean"] * 3600 / cpu})  # fmt: skip
            entry["met"] = gain["mean"] >= REQUIRED_GAIN and gain["low"] is not None and gain["low"] > 0
        summary[f"{rung}/{algorithm}"] = entry
    return summary


def summary_markdown(summary: dict[str, Any]) -> str:
    lines = ["| rung | algorithm | seeds | result | required | met |", "|---|---|---|---|---|---|"]
    for key, entry in summary.items():
        rung, algorithm = key.split("/")
        if rung == "a":
            result = f"training success {np.mean(entry['first_updates']):.3f} -> {entry['mean_fit']:.3f} (last {FIT_WINDOW} updates)"
            required = f">= {REQUIRED_FIT}"
        else:
            gain = entry["gain"]
            interval = (
                f"[{gain['low'] * 100:+.1f}, {gain['high'] * 100:+.1f}]" if gain["low"] is not None else "(no interval)"
            )
            result = (f"validation {np.mean(entry['before']):.3f} -> {np.mean(entry['after']):.3f}, gain {gain['mean'] * 100:+.1f} "
                      f"points {interval}; {entry['gain_per_1000_episodes'] * 100:+.1f} points per 1,000 episodes, "
                      f"{entry['gain_per_cpu_hour'] * 100:+.1f} per CPU-hour")  # fmt: skip
            required = f">= +{REQUIRED_GAIN * 100:.0f} points, interval above 0"
        lines.append(
            f"| {rung} | {algorithm} | {len(entry['seeds'])} | {result} | {required} | {'yes' if entry['met'] else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def plot(results: Sequence[dict[str, Any]], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (fit, held_out) = plt.subplots(1, 2, figsize=(11, 4))
    colours: dict[str, str] = {}  # one colour per rung and algorithm, one line per seed
    for result in results:
        job = result["job"]
        if job["rung"] == "a":
            fit.plot(
                range(1, len(result["training_success"]) + 1), result["training_success"], label=f"seed {job['seed']}"
            )
        else:
            group = f"{job['rung']} {job['algorithm']}"
            first = group not in colours
            colours.setdefault(group, f"C{len(colours)}")
            updates, success = zip(*result["curve"])
            held_out.plot(updates, success, marker="o", color=colours[group], alpha=0.7, label=group if first else None)
    fit.axhline(REQUIRED_FIT, color="grey", linestyle="--", label=f"required {REQUIRED_FIT}")
    fit.set(
        title="a: fit 8 tasks (sparse, GRPO groups of 8)",
        xlabel="update",
        ylabel="sampled training success",
        ylim=(0, 1),
    )
    held_out.set(title="b/c: greedy validation success", xlabel="update", ylabel="success", ylim=(0, 1))
    for axes in (fit, held_out):
        axes.legend(fontsize=7)
    return save_figure(figure, out / "ladder.png")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rungs", nargs="+", default=["a", "b"], choices=[*RUNGS, TRL_RUNG])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=2, help="runs at once, one torch thread each")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    todo = jobs(args.rungs, args.seeds, args.out)
    all_saved = [saved_run(args.out, job) for job in jobs([*RUNGS, TRL_RUNG], args.seeds, args.out)]
    results = run_all(todo, args.out, args.workers)
    names = {result["name"] for result in results}
    results += [
        saved for saved in all_saved if saved is not None and saved["name"] not in names
    ]  # other rungs done earlier
    summary = summarize(results)
    report = {"benchmark": "rl_sanity", "machine": machine(), "threads": 1, "base_settings": BASE_SETTINGS,
              "rungs": {name: asdict(rung) for name, rung in RUNGS.items()}, "summary": summary, "runs": results}  # fmt: skip
    write_text_atomically(args.out / "results.json", json.dumps(report, indent=1) + "\n")
    markdown = summary_markdown(summary)
    write_text_atomically(args.out / "summary.md", markdown)
    plot(results, args.out)
    print(markdown)
    return report


if __name__ == "__main__":
    main()
