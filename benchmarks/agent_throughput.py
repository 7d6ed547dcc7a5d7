"""Throughput of the reference PPO agent, against its previous version, HF ``generate`` and TRL, in one run.

    python -m benchmarks.agent_throughput --out benchmarks/results/agent_throughput-tiny.json
    python -m benchmarks.agent_throughput --skip-trl --skip-baseline --updates 2     # quicker

Everything is measured in this one run, with ``torch.set_num_threads(--threads)``
(default 1) in every process, on the tiny student from the committed warm
start. Speeds are per CPU-second (``time.process_time`` of the process doing
the work: other load on a shared machine barely moves them) and wall seconds
are reported next to them. Three comparisons:

1. **PPO updates** at the default :class:`agents.ppo.PPOConfig` settings (64
   episodes, all Calc levels, up to 6 turns of 64 tokens; ``gae`` and ``grpo``
   with groups of 4): this code against the trainer of ``--baseline-commit``
   (the code before the generation stack; its ``agents`` and ``mentor_env``
   are extracted with ``git archive`` and run in a worker process), one
   update of each in turn, so both see the same machine load. The first
   update of each side warms caches up and is left out of the means.
   Where an update's time goes (rollout, env, old/ref pass, forward,
   backward, other) is the trainer's own ``time`` row; ``per_update`` keeps
   each update's CPU seconds and, for ours, its episode lengths and KL (at
   the default learning rate the policy sometimes starts to babble after an
   update, episodes grow to thousands of tokens and that update is slower).
2. **Generation**: one turn for the same 64 prompts at temperature 1, 64
   new tokens, with ``model.generate`` (:class:`~mentor_env.play.generation.HFGenerateBackend`)
   and with :class:`~mentor_env.play.generation.PrefixCacheBackend`, alternated;
   and whole rollouts of an update (every turn of 64 episodes) with each
   backend through the same episode loop.
3. **TRL**: ``trl.GRPOTrainer`` against ``agents.ppo --advantage grpo`` on
   the same model, 64 completions per step in groups of 4, at most 64 new
   tokens, one turn (``max_turns=1``), the same prompts (the env's, through
   ``to_hf_dataset(tokenizer=...)``), the ``mentor`` reward, KL 0.02 to the
   reference, one gradient step on all 64 per step (TRL:
   ``per_device_train_batch_size=64``, ``num_iterations=1``, ``beta=0.02``;
   ours: ``minibatch_size=64``, ``update_epochs=1``, ``kl_coef=0.02``). Per
   step TRL generates with ``model.generate``, scores, runs the reference
   model and one forward/backward over prompt + completion; ours plays the
   episodes through the env, runs the old and reference passes and one
   forward/backward. The measure is completion tokens per CPU-second over
   whole steps (the first step left out).
4. **The teacher's pass** (reward modes ``opd`` and ``mentor+opd``): updates
   on ``mentor+opd`` with the committed teacher
   (``agents/checkpoints/tiny-calc-teacher``, the student's size). Before
   each, the update's plan is played once more and, on those episodes, the
   teacher's pass and the reference pass are timed in CPU-seconds (the same
   shared-prefix, length-chunked forward; a teacher larger than the student
   costs in proportion). Reported: both, their ratio, and the teacher's
   share of an update's CPU-seconds.

    python -m benchmarks.agent_throughput --skip-updates --skip-generation --skip-trl \
        --out benchmarks/results/agent_throughput-teacher-tiny.json     # section 4 alone

Numbers only: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tarfile
import tempfile
import textwrap
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.config import retire_flags
from agents.ppo import TINY_TEACHER, PPOConfig, PPOTrainer
from agents.sft import WARM_START
from benchmarks.processes import python_command
from benchmarks.reporting import machine
from mentor_env.core.files import write_text_atomically

ROOT = Path(__file__).resolve().parent.parent
BASELINE_COMMIT = "dafe7f0"  # the trainer before the generation stack (HF generate, full padded passes)

# The old trainer, one update per line read from stdin; prints one JSON line per update.
_BASELINE_WORKER = """
import json, sys, time
import torch
torch.set_num_threads(int(sys.argv[2]))
from dataclasses import fields
from agents.ppo import PPOConfig, PPOTrainer, collect_episodes
known = {f.name for f in fields(PPOConfig)}
settings = json.loads(sys.argv[1])
settings["output_dir"] = settings["out"]  # the baseline commit's name for the run's folder
config = PPOConfig(**{k: v for k, v in settings.items() if k in known})
trainer = PPOTrainer(config)
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    wall, cpu = time.perf_counter(), time.process_time()
    resets, groups = trainer.rollout_plan(trainer.update)
    trainer.model.eval()
    episodes, records = collect_episodes(trainer.policy(config.temperature), trainer._make_env(trainer.tasks), resets, groups, config.batch_envs)
    rollout_wall, rollout_cpu = time.perf_counter() - wall, time.process_time() - cpu
    trainer.model.train()
    trainer.train_step(episodes)
    trainer.model.eval()
    trainer.update += 1
    print(json.dumps({"seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu,
                      "rollout_seconds": rollout_wall, "rollout_cpu_seconds": rollout_cpu,
                      "generated_tokens": sum(e.generated_tokens for e in episodes)}), flush=True)
"""


# The workload the committed numbers measure: agents.ppo's defaults when they were taken (all Calc levels, up to 6
# turns of 64 tokens at temperature 1, two epochs of minibatches of 8), written out so that the benchmark measures
# the same work whatever the defaults become.
MEASURED_SETTINGS: dict[str, Any] = {
    "max_difficulty": None, "validation_tasks": 0, "eval_split": "test", "max_turns": 6,
    "max_new_tokens": 64, "temperature": 1.0, "learning_rate": 3e-4, "warmup_updates": 0, "final_lr_fraction": 0.0,
    "update_epochs": 2, "minibatch_size": 8, "kl_coef": 0.02, "gae_lambda": 0.95,
}  # fmt: skip


def default_config(folder: Path, **overrides: Any) -> PPOConfig:
    settings = dict(
        model=str(WARM_START), episodes_per_update=64, eval_every=0, eval_episodes=8, checkpoint_every=0,
        out=str(folder), progress_bar=False, total_updates=1000, threads=THREADS, **MEASURED_SETTINGS,
    )  # fmt: skip
    settings.update(overrides)
    return PPOConfig(**settings)


class Baseline:
    """The trainer of ``commit`` in a worker process (``git archive`` of its ``agents`` and ``mentor_env``)."""

    def __init__(self, commit: str, config: PPOConfig, threads: int, folder: Path) -> None:
        source = folder / "src"
        source.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "archive", commit, "agents", "mentor_env"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        archive_path = folder / "src.tar"
        archive_path.write_bytes(archive)
        with tarfile.open(archive_path) as tar:
            tar.extractall(source, filter="data")
        env = {
            **os.environ,
            "PYTHONPATH": str(source),
            "OMP_NUM_THREADS": str(threads),
            "MENTOR_ENV_TASKS": str(ROOT / "tasks"),
        }
        # It dies with this process (killed midway, it would otherwise finish the update it is in first).
        self.process = subprocess.Popen(
            python_command(["-c", textwrap.dedent(_BASELINE_WORKER), json.dumps(asdict(config)), str(threads)]),
            cwd=source, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self._read()

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"the baseline worker ended (exit code {self.process.wait()})")
            if line.startswith("{"):
                return json.loads(line)

    def update(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write("update\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait()


def ours_update(trainer: PPOTrainer) -> dict[str, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    row = trainer.run_update()
    trainer.update += 1
    row["cpu_seconds"] = time.process_time() - cpu
    row["wall_seconds"] = time.perf_counter() - wall
    return row


def _mean(rows: list[dict[str, Any]], key: str) -> float:
    return float(np.mean([row[key] for row in rows]))


def compare_updates(advantage: str, updates: int, threads: int, commit: str | None, folder: Path) -> dict[str, Any]:
    """Section 1: ``updates`` PPO updates of ours and of the baseline, alternated."""
    overrides = {"advantage": advantage, "group_size": 4 if advantage == "grpo" else 1}
    ours = PPOTrainer(default_config(folder / f"ours-{advantage}", **overrides))
    baseline = (
        Baseline(
            commit, default_config(folder / f"old-{advantage}-run", **overrides), threads, folder / f"old-{advantage}"
        )
        if commit
        else None
    )
    rows, old_rows = [], []
    try:
        for _ in range(updates):
            if baseline is not None:
                old_rows.append(baseline.update())
            rows.append(ours_update(ours))
    finally:
        if baseline is not None:
            baseline.close()
        ours.close()
    measured = rows[1:] or rows
    result: dict[str, Any] = {
        "advantage": advantage,
        "updates_measured": len(measured),
        "ours": {
            "generated_tokens_per_cpu_s": sum(r["generated_tokens"] for r in measured)
            / sum(r["cpu_seconds"] for r in measured),
            "cpu_seconds_per_update": _mean(measured, "cpu_seconds"),
            "wall_seconds_per_update": _mean(measured, "wall_seconds"),
            "generated_tokens_per_update": _mean(measured, "generated_tokens"),
            "episode_tokens_per_update": _mean(measured, "episode_tokens"),
            "time_per_update": {key: float(np.mean([r["time"][key] for r in measured])) for key in measured[0]["time"]},
            # Each update, the first included: a policy that starts to babble makes long episodes (and slow updates).
            "per_update": [
                {
                    key: r[key]
                    for key in (
                        "cpu_seconds",
                        "generated_tokens",
                        "episode_tokens",
                        "longest_episode_tokens",
                        "kl_to_reference",
                    )
                }
                for r in rows
            ],
        },
    }
    if old_rows:
        old = old_rows[1:] or old_rows
        result["baseline"] = {
            "commit": commit,
            "generated_tokens_per_cpu_s": sum(r["generated_tokens"] for r in old) / sum(r["cpu_seconds"] for r in old),
            "cpu_seconds_per_update": _mean(old, "cpu_seconds"),
            "wall_seconds_per_update": _mean(old, "seconds"),
            "generated_tokens_per_update": _mean(old, "generated_tokens"),
            "rollout_cpu_seconds_per_update": _mean(old, "rollout_cpu_seconds"),
            "per_update": [{key: r[key] for key in ("cpu_seconds", "generated_tokens")} for r in old_rows],
        }
        result["speedup"] = {
            "generated_tokens_per_cpu_s": result["ours"]["generated_tokens_per_cpu_s"]
            / result["baseline"]["generated_tokens_per_cpu_s"],
            "cpu_seconds_per_update": result["baseline"]["cpu_seconds_per_update"]
            / result["ours"]["cpu_seconds_per_update"],
            "wall_seconds_per_update": result["baseline"]["wall_seconds_per_update"]
            / result["ours"]["wall_seconds_per_update"],
        }
    return result


def compare_generation(repeats: int, folder: Path) -> dict[str, Any]:
    """Section 2: one turn for 64 prompts, and whole rollouts, with HF generate and the prefix cache."""
    from mentor_env.play.generation import GenerationSettings, HFGenerateBackend, PrefixCacheBackend

    trainer = PPOTrainer(default_config(folder / "generation"))
    try:
        model = trainer.model.eval()
        layout = trainer.layout
        resets, _ = trainer.rollout_plan(0)
        import gymnasium as gym

        env = gym.make(trainer.config.env_id, tasks=trainer.tasks)
        prompts = []
        for reset in resets:
            _, info = env.reset(**reset)
            prompts.append(layout.prompt_ids(info["messages"], info["tools"]))
        settings = GenerationSettings(max_new_tokens=64, temperature=1.0)
        totals = {"hf": [0, 0.0], "prefix-cache": [0, 0.0]}
        for repeat in range(repeats + 1):
            for name, kind in (("hf", HFGenerateBackend), ("prefix-cache", PrefixCacheBackend)):
                backend = kind(model, settings, [layout.eos_token_id], layout.pad_token_id)
                for slot, prompt in enumerate(prompts):
                    backend.open(slot, prompt)
                cpu = time.process_time()
                out = backend.generate(list(range(len(prompts))))
                if repeat:  # the first round warms up
                    totals[name][0] += sum(len(c) for c in out)
                    totals[name][1] += time.process_time() - cpu
        one_turn = {name: tokens / seconds for name, (tokens, seconds) in totals.items()}
        # Whole rollouts (every turn of an update's 64 episodes) through the same episode loop.
        rollouts = {"hf": [0, 0.0], "prefix-cache": [0, 0.0]}
        for repeat in range(repeats + 1):
            for name in ("hf", "prefix-cache"):
                trainer.config = replace(trainer.config, generation_backend=name)
                cpu = time.process_time()
                episodes = trainer.rollout(repeat)
                if repeat:
                    rollouts[name][0] += sum(e.trace.generated_tokens for e in episodes)
                    rollouts[name][1] += time.process_time() - cpu
        whole = {name: tokens / seconds for name, (tokens, seconds) in rollouts.items()}
    finally:
        trainer.close()
    return {
        "batch": len(prompts),
        "mean_prompt_tokens": float(np.mean([len(p) for p in prompts])),
        "one_turn_tokens_per_cpu_s": one_turn,
        "one_turn_speedup": one_turn["prefix-cache"] / one_turn["hf"],
        "rollout_tokens_per_cpu_s": whole,
        "rollout_speedup": whole["prefix-cache"] / whole["hf"],
        "repeats": repeats,
    }


def compare_trl(steps: int, folder: Path) -> dict[str, Any]:
    """Section 3: TRL's GRPOTrainer and ours, same model, batch, groups, completion length."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from mentor_env.integrations.trl import reward_func, to_hf_dataset

    ours_config = default_config(
        folder / "ours-trl", advantage="grpo", group_size=4, max_turns=1, max_new_tokens=64,
        minibatch_size=64, update_epochs=1, kl_coef=0.02, reward_mode="mentor",
    )  # fmt: skip
    ours = PPOTrainer(ours_config)
    tokenizer = AutoTokenizer.from_pretrained(WARM_START)
    # The same tasks per step as ours plays (its rollout plan), each prompt repeated by TRL's sampler.
    rows = []
    for update in range(steps):
        resets, _ = ours.rollout_plan(update)
        for reset in resets[:: ours_config.group_size]:
            task = next(t for t in ours.tasks if t.id == reset["options"]["task_id"])
            rows.append(task)
    dataset = to_hf_dataset("calc", tasks=rows, tokenizer=tokenizer)
    tokens_per_step: list[int] = []
    reward = reward_func("mentor", eos_token_id=tokenizer.eos_token_id)

    def counting_reward(completions: Any, completion_ids: Any = None, **kwargs: Any) -> list[float]:
        tokens_per_step.append(sum(len(ids) for ids in completion_ids))
        return reward(completions, completion_ids=completion_ids, **kwargs)

    counting_reward.__name__ = "mentor"
    cpu_per_step: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.started = time.process_time()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            cpu_per_step.append(time.process_time() - self.started)

    trl = GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(WARM_START),
        reward_funcs=[counting_reward],
        args=GRPOConfig(
            output_dir=str(folder / "trl"),
            max_steps=steps,
            num_generations=4,
            per_device_train_batch_size=64,
            gradient_accumulation_steps=1,
            num_iterations=1,
            beta=0.02,
            max_completion_length=64,
            temperature=1.0,
            learning_rate=3e-4,
            use_cpu=True,
            bf16=False,
            report_to="none",
            save_strategy="no",
            logging_steps=1,
            shuffle_dataset=False,
            seed=0,
        ),  # fmt: skip
        train_dataset=Dataset.from_list([dict(r) for r in dataset]),
        processing_class=tokenizer,
        callbacks=[Clock()],
    )
    torch.set_num_threads(THREADS)
    trl.train()
    torch.set_num_threads(THREADS)
    ours_rows = []
    try:
        for _ in range(steps):
            ours_rows.append(ours_update(ours))
    finally:
        ours.close()
    trl_rate = sum(tokens_per_step[1:steps]) / sum(cpu_per_step[1:steps])
    measured = ours_rows[1:]
    ours_rate = sum(r["generated_tokens"] for r in measured) / sum(r["cpu_seconds"] for r in measured)
    return {
        "steps_measured": steps - 1,
        "trl": {"completion_tokens_per_cpu_s": trl_rate, "cpu_seconds_per_step": float(np.mean(cpu_per_step[1:steps])),
                "completion_tokens_per_step": float(np.mean(tokens_per_step[1:steps]))},
        "ours": {"completion_tokens_per_cpu_s": ours_rate, "cpu_seconds_per_step": _mean(measured, "cpu_seconds"),
                 "completion_tokens_per_step": _mean(measured, "generated_tokens"),
                 "time_per_step": {key: float(np.mean([r["time"][key] for r in measured])) for key in measured[0]["time"]}},
        "speedup": ours_rate / trl_rate,
    }  # fmt: skip


THREADS = 1


def _cpu_seconds(work: Any, *args: Any) -> float:
    """This process's CPU-seconds for ``work(*args)``, without gradients."""
    began = time.process_time()
    with torch.no_grad():
        work(*args)
    return time.process_time() - began


def compare_teacher(updates: int, folder: Path) -> dict[str, Any]:
    """Section 4: ``updates`` updates on ``mentor+opd`` with the committed teacher; before each, the teacher's pass
    and the reference pass timed on the same episodes (that update's plan, played by the current weights)."""
    trainer = PPOTrainer(default_config(folder / "teacher", reward_mode="mentor+opd", teacher_model=str(TINY_TEACHER)))
    rows = []
    try:
        for _ in range(updates):
            episodes = trainer.rollout(trainer.update)
            old = trainer.logprobs(trainer.model, episodes).logp.detach()
            row = {
                "teacher_cpu_seconds": _cpu_seconds(trainer.teacher_pass, episodes, old),
                "reference_cpu_seconds": _cpu_seconds(trainer.logprobs, trainer.reference, episodes),
                "episode_tokens": sum(len(e.trace.token_ids) for e in episodes),
            }
            update = ours_update(trainer)
            row.update(cpu_seconds=update["cpu_seconds"], time=update["time"], wall_seconds=update["wall_seconds"])
            rows.append(row)
    finally:
        trainer.close()
    measured = rows[1:] or rows
    teacher, reference = _mean(measured, "teacher_cpu_seconds"), _mean(measured, "reference_cpu_seconds")
    return {
        "teacher": str(TINY_TEACHER.relative_to(ROOT)),
        "updates_measured": len(measured),
        "teacher_cpu_seconds": teacher,
        "reference_cpu_seconds": reference,
        "teacher_per_reference": teacher / reference,
        "cpu_seconds_per_update": _mean(measured, "cpu_seconds"),
        "teacher_share_of_update": teacher / _mean(measured, "cpu_seconds"),
        "time_per_update": {key: float(np.mean([r["time"][key] for r in measured])) for key in measured[0]["time"]},
        "per_update": rows,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    global THREADS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=5, help="PPO updates per side (the first is left out)")
    parser.add_argument("--advantage", nargs="+", default=["gae", "grpo"])
    parser.add_argument("--threads", type=int, default=1, help="torch threads in every process")
    parser.add_argument("--baseline-commit", default=BASELINE_COMMIT)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-generation", action="store_true")
    parser.add_argument("--skip-trl", action="store_true")
    parser.add_argument("--skip-updates", action="store_true", help="skip section 1 (ours against the baseline)")
    parser.add_argument("--skip-teacher", action="store_true", help="skip section 4 (the teacher's pass)")
    parser.add_argument("--generation-repeats", type=int, default=2)
    parser.add_argument("--trl-steps", type=int, default=3, help="training steps per side (the first is left out)")
    parser.add_argument("--out", type=Path, help="write the results here")
    retire_flags(parser, ["--json"])
    args = parser.parse_args(argv)
    THREADS = args.threads
    torch.set_num_threads(args.threads)
    results: dict[str, Any] = {"threads": args.threads}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        commit = None if args.skip_baseline else args.baseline_commit
        if not args.skip_updates:
            results["updates"] = [
                compare_updates(a, args.updates, args.threads, commit, folder) for a in args.advantage
            ]
        if not args.skip_generation:
            results["generation"] = compare_generation(args.generation_repeats, folder)
        if not args.skip_trl:
            results["trl"] = compare_trl(args.trl_steps, folder)
        if not args.skip_teacher:
            results["teacher"] = compare_teacher(args.updates, folder)
    info = machine()
    print(f"{info['device']}, torch {info['torch']}, {info['cpus']} CPUs, {args.threads} torch thread(s) per process")
    print(format_results(results))
    if args.out:
        payload = {
            "machine": info,
            "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "results": results,
        }
        write_text_atomically(args.out, json.dumps(payload, indent=2) + "\n")
    return results


def format_results(results: dict[str, Any]) -> str:
    lines = []
    if results.get("updates"):
        lines += [
            "| PPO update | tokens/CPU-s | CPU-s/update | wall s/update | rollout | env | old/ref | forward | backward | other |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
    for row in results.get("updates", []):
        t = row["ours"]["time_per_update"]
        lines.append(
            f"| {row['advantage']} (ours) | {row['ours']['generated_tokens_per_cpu_s']:.0f} | {row['ours']['cpu_seconds_per_update']:.2f} | "
            f"{row['ours']['wall_seconds_per_update']:.2f} | {t['rollout']:.2f} | {t['env']:.2f} | {t['old_ref']:.2f} | {t['forward']:.2f} | {t['backward']:.2f} | {t['other']:.2f} |"
        )
        if "baseline" in row:
            b = row["baseline"]
            lines.append(
                f"| {row['advantage']} (before, {b['commit']}) | {b['generated_tokens_per_cpu_s']:.0f} | {b['cpu_seconds_per_update']:.2f} | {b['wall_seconds_per_update']:.2f} | | | | | | |"
            )
            s = row["speedup"]
            lines.append(
                f"| {row['advantage']} speed-up | x{s['generated_tokens_per_cpu_s']:.2f} | x{s['cpu_seconds_per_update']:.2f} | x{s['wall_seconds_per_update']:.2f} | | | | | | |"
            )
    if "generation" in results:
        g = results["generation"]
        lines.append("")
        lines.append(
            f"Generation, batch {g['batch']}: one turn {g['one_turn_tokens_per_cpu_s']['prefix-cache']:.0f} vs HF generate {g['one_turn_tokens_per_cpu_s']['hf']:.0f} tokens/CPU-s (x{g['one_turn_speedup']:.2f}); "
            f"whole rollouts {g['rollout_tokens_per_cpu_s']['prefix-cache']:.0f} vs {g['rollout_tokens_per_cpu_s']['hf']:.0f} (x{g['rollout_speedup']:.2f})"
        )
    if "trl" in results:
        r = results["trl"]
        lines.append(
            f"TRL GRPOTrainer {r['trl']['completion_tokens_per_cpu_s']:.0f} vs ours (grpo) {r['ours']['completion_tokens_per_cpu_s']:.0f} completion tokens/CPU-s over whole steps (x{r['speedup']:.2f})"
        )
    if "teacher" in results:
        t = results["teacher"]
        lines.append(
            f"Teacher's pass ({t['teacher']}, mentor+opd): {t['teacher_cpu_seconds']:.2f} CPU-s against the reference "
            f"pass's {t['reference_cpu_seconds']:.2f} on the same episodes (x{t['teacher_per_reference']:.2f}), "
            f"{t['teacher_share_of_update']:.0%} of an update's {t['cpu_seconds_per_update']:.2f} CPU-s"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
