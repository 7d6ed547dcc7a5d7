"""The main job: does the teacher-guided reward beat sparse RL and SFT, in domain and out of it?

    python -m benchmarks.sparse_vs_dense --profile quick     # `make demo`: tiny student, 2 CPUs, about 5-7 min
    python -m benchmarks.sparse_vs_dense --profile medium    # about 2 hours on 2 CPUs; the README's headline table
    python -m benchmarks.sparse_vs_dense --profile full --model PATH   # SmolLM2-135M or a local model, for a GPU

Protocol (every profile; the budgets differ):

1. **Warm start.** One SFT checkpoint that has seen the tool-call format in
   several domains (the tiny student: ``agents/checkpoints/tiny-multi-sft``,
   Calc levels 1-3, then Calc, Units and Dates levels 1-4; ``make warm-start``
   rebuilds it). Every arm starts from it.
2. **Training tasks chosen by measured signal.** RL trains on Calc tasks of
   ``train_levels`` (levels 1-2): ``python -m benchmarks.task_signal``
   measured, on training tasks the warm start was not fine-tuned on, where
   sparse RL has some signal (groups with right and wrong episodes) and the
   teacher-guided rewards more (``benchmarks/results/task_signal-tiny-multi-sft.json``).
   The last ``validation_tasks`` of those training tasks are held out: the
   learning curves are measured on them, and nothing was chosen by looking at
   ``test`` or ``ood``.
3. **Arms**, each with the same seeds (paired: seed s of every arm sees the
   same tasks in the same order with the same env seeds):
   ``sft`` (more SFT from the warm start on the teacher trajectories of
   exactly the tasks RL seed s plays, one per task played (one per group
   under GRPO), with as many optimizer steps as the RL arm at the RL learning
   rate), ``sparse`` (PPO on the sparse outcome reward), ``mentor`` (PPO on
   MENTOR's reward) and ``dense`` (PPO on MENTOR plus per-step
   potential-based shaping), all with the reference agent's recipe
   (``agents.ppo``'s defaults: GAE with lambda 1, one rollout per task);
   in the medium profile also ``opd`` (a teacher model's per-token
   reward alone) and ``mentor+opd`` (MENTOR's reward plus it), with the
   profile's ``teacher``.
4. **Columns** (the same tasks for every policy, greedy unless sampled):
   ``in-domain`` (Calc ``test`` at the trained levels, greedy and sampled at
   the rollouts' temperature), (a) Calc ``ood`` at the trained
   levels, (b) the ``test`` and ``ood`` splits of Units and Dates (seen in
   SFT, not in RL), (c) Lookup and Table ``ood`` (never trained on), (d) the external
   sets: BFCL (``mentor/BFCL-v0``, categories interleaved) and reasoning-gym's
   arithmetic and date sets.
5. **Statistics.** Per column, each arm's paired difference against
   ``sparse`` (and the teacher-guided arms against ``sft``, the token-level
   ones against ``mentor``, :func:`comparisons`): the mean over seeds
   of (arm − sparse) success, its 95% Student-t interval, the two-sided
   paired t-test p-value and the difference the test can detect with 80%
   power. The verdict (first in ``summary.md``, last on the console): each
   arm against the warm start in domain, the comparisons in domain and over
   the out-of-domain columns the warm start reaches (5% or more), and the
   power. The headline: env steps each seed of a teacher-guided arm takes to
   reach the validation success its own seed of ``sparse`` ends with.

Running it: results go to ``runs/sparse_vs_dense-<profile>-<model>/``
(``--out`` elsewhere, e.g. ``benchmarks/results/...`` to commit one). Each
stage (the warm start's evaluation, each SFT run, each RL run) is written to
``stages/<stage>.json`` when it finishes, and a rerun on the same folder skips
the stages it finds (an RL run killed midway resumes from its last PPO
checkpoint); a folder of another profile is refused. The folder is locked
while a run uses it. With ``--workers`` above 1 the stages run in worker
processes that die with the run however it ends (``kill -9`` included, see
``benchmarks/processes.py``), so no orphan keeps a stage's lock and a rerun
after any kill resumes; a worker that dies alone stops the run with a message
naming the unfinished stages. At the end: ``results.json``, ``summary.md`` (also
printed), ``learning_curves.png``, ``paired_differences.png`` and
``similarity_vs_success.png``, and their paths are printed.

Reproducibility: torch runs with ``--threads`` threads (default 1; recorded
in every result with torch's determinism setting). On the same machine kind,
thread count and package versions a rerun gives the same numbers; another
thread count or CPU rounds floats differently, which flips some sampled
tokens, so per-seed results then move by a few episodes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from concurrent.futures import Future, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from benchmarks.processes import worker_pool
from benchmarks.reporting import confidence_interval, machine, paired_difference, save_figure, steps_to_reach
from mentor_env.core.files import lock_folder, write_text_atomically

REPO = Path(__file__).resolve().parent.parent
MULTI_WARM_START = REPO / "agents" / "checkpoints" / "tiny-multi-sft"
# SmolLM2-135M's warm start, not committed (270 MB): the full profile's; `make warm-start-smollm2` builds it.
SMOLLM2_WARM_START = REPO / "agents" / "checkpoints" / "smollm2-sft"
# The make target that builds each warm start a profile names, for the error when it is missing.
WARM_START_TARGETS = {MULTI_WARM_START: "make warm-start", SMOLLM2_WARM_START: "make warm-start-smollm2"}
METRICS = (
    "success_rate",
    "mean_tool_calls",
    "mean_teacher_tool_calls",
    "tool_set_match_rate",
    "invented_tool_rate",
    "tool_use_jsd",
)
RL_ARMS = ("sparse", "mentor", "dense", "mentor_partial", "mentor_nomatch", "mentor_f1", "opd", "mentor+opd")
# Arms scored token by token by a teacher model (agents.ppo.TEACHER_REWARD_MODES): they need the profile's teacher.
TEACHER_ARMS = ("opd", "mentor+opd")
# The teacher of the tiny student's token-level arms: agents.ppo.TINY_TEACHER (a test checks they agree), named
# here so that this module imports no torch until a stage runs.
TINY_TEACHER = REPO / "agents" / "checkpoints" / "tiny-calc-teacher"
EXTERNAL_BFCL = "bfcl"


@dataclass(frozen=True)
class Column:
    """One evaluation column: a set of tasks every policy plays greedily. Each field's help is its metadata."""

    name: str = field(metadata={"help": 'shown in the tables, e.g. "calc/test"'})
    group: str = field(
        metadata={"help": '"in-domain", "a: RL domain, ood", "b: seen in SFT", "c: never trained", "d: external"'}
    )
    env_id: str = field(metadata={"help": "the registered env whose tasks the column plays"})
    split: str = field(metadata={"help": 'a frozen split of the env ("bfcl": BFCL\'s categories interleaved)'})
    episodes: int = field(metadata={"help": "the first n tasks (after the level filter)"})
    levels: tuple[int, ...] | None = field(
        default=None, metadata={"help": "keep only tasks of these difficulty levels"}
    )
    temperature: float = field(
        default=0.0, metadata={"help": "0: greedy; else one episode per task sampled at this temperature"}
    )


@dataclass(frozen=True)
class Profile:
    """A run of the protocol: the student, its warm start, the arms and seeds, the PPO budget and the columns.

    Each field's help is its metadata; :func:`fingerprint` reads the values only.
    """

    model: str = field(default="tiny", metadata={"help": "student: 'tiny', 'smollm2-135m' or a local model directory"})
    warm_start: str | None = field(
        default=str(MULTI_WARM_START),
        metadata={"help": "SFT checkpoint every arm starts from; None: train it here"},
    )
    sft_domains: tuple[str, ...] = field(
        default=("calc", "units", "dates"),
        metadata={"help": "warm start trained here: these domains' train tasks"},
    )
    sft_levels: tuple[int, ...] = field(
        default=(1, 2, 3, 4), metadata={"help": "warm start trained here: train tasks of these levels"}
    )
    sft_tasks: int = field(default=700, metadata={"help": "warm start trained here: this many train tasks per domain"})
    sft_epochs: int = field(default=3, metadata={"help": "warm start trained here: passes over its tasks"})
    sft_learning_rate: float = field(default=5e-4, metadata={"help": "warm start trained here: its learning rate"})
    arms: tuple[str, ...] = field(
        default=("sft", "sparse", "mentor", "dense"),
        metadata={"help": "'sft' and any reward mode of agents.ppo (the env's, and the teacher's 'opd', 'mentor+opd')"},
    )
    teacher: str | None = field(
        default=None,
        metadata={
            "help": "the teacher model of the 'opd' and 'mentor+opd' arms (the student's tokenizer; None: no such arm)"
        },
    )
    seeds: tuple[int, ...] = field(default=(0, 1, 2), metadata={"help": "one run per arm and seed, paired by seed"})
    train_levels: tuple[int, ...] = field(
        default=(1, 2), metadata={"help": "Calc levels RL trains on (and in-domain columns evaluate)"}
    )
    validation_tasks: int = field(
        default=96, metadata={"help": "carved from the end of the training tasks: the learning curves"}
    )
    updates: int = field(default=8, metadata={"help": "PPO updates per run"})
    episodes_per_update: int = field(default=64, metadata={"help": "episodes played for each PPO update"})
    eval_every: int = field(default=4, metadata={"help": "updates between learning-curve points"})
    in_domain_episodes: int = field(
        default=188, metadata={"help": "Calc test tasks at train_levels (188: all of levels 1-2)"}
    )
    ood_episodes: int = field(default=64, metadata={"help": "per ood column"})
    column_max_turns: int = field(
        default=6,
        metadata={"help": "turns per evaluation episode on every column (other domains need more than Calc 1-2)"},
    )
    harder_levels: tuple[int, ...] = field(
        default=(3,),
        metadata={"help": "Calc test levels beyond train_levels: a column of the RL domain, harder"},
    )
    seen_levels: tuple[int, ...] = field(
        default=(1, 2),
        metadata={"help": "Units and Dates test levels the warm start reaches (their test columns)"},
    )
    external_episodes: int = field(default=64, metadata={"help": "per external column"})
    threads: int = field(default=1, metadata={"help": "torch threads per process (recorded with every figure)"})
    workers: int = field(default=1, metadata={"help": "runs at once, in separate processes"})
    ppo: dict[str, Any] = field(default_factory=dict, metadata={"help": "other PPOConfig fields"})


# The reference agent's recipe for the tiny student (benchmarks.rl_sanity, rung b; chosen on the validation
# carve of Calc levels 1-2): GAE with lambda 1 (every turn gets the outcome's credit) and one rollout per task,
# 256 episodes an update, one pass in minibatches of 64, the rate warmed up over 3 updates and decayed to a
# tenth, no KL term, rollouts at temperature 0.7, 4 turns of 48 tokens. GRPO groups of 8 gained less and less
# reliably on the same carve (+3.5 points [-9.3, +16.2] against +9.0 [+7.5, +10.5]; GRPO in pairs was found
# later), and under GRPO the dense reward's per-step shaping sums to the same group advantage as mentor's, so
# the two arms could not differ.
_TINY_PPO = {
    "advantage": "gae", "group_size": 1, "gae_lambda": 1.0, "minibatch_size": 64, "update_epochs": 1, "learning_rate": 1e-4,
    "warmup_updates": 3, "final_lr_fraction": 0.1, "kl_coef": 0.0, "temperature": 0.7, "max_new_tokens": 48, "max_turns": 4,
}  # fmt: skip

PROFILES = {
    "quick": Profile(
        seeds=(0, 1, 2),
        updates=6,
        episodes_per_update=128,
        eval_every=3,
        validation_tasks=64,
        in_domain_episodes=96,
        ood_episodes=24,
        external_episodes=24,
        workers=2,
        ppo=_TINY_PPO,
    ),
    "medium": Profile(
        arms=("sft", "sparse", "mentor", "dense", *TEACHER_ARMS),
        teacher=str(TINY_TEACHER),
        seeds=(0, 1, 2, 3, 4, 5),
        updates=30,
        episodes_per_update=256,
        eval_every=10,
        workers=2,
        ppo=_TINY_PPO,
    ),
    "full": Profile(
        model="smollm2-135m",
        warm_start=str(SMOLLM2_WARM_START),
        sft_tasks=2000,
        sft_learning_rate=2e-5,
        arms=("sft", "sparse", "mentor", "dense", "mentor_partial", "mentor_nomatch", "mentor_f1"),
        seeds=(0, 1, 2, 3, 4, 5, 6, 7),
        validation_tasks=256,
        updates=60,
        eval_every=6,
        ood_episodes=200,
        external_episodes=200,
        ppo={"learning_rate": 1e-6, "max_new_tokens": 192, "max_turns": 7, "temperature": 0.7, "minibatch_size": 8},
    ),
}


def columns(profile: Profile) -> list[Column]:
    """Every evaluation column of the protocol, in table order."""
    levels = profile.train_levels
    return [
        Column("calc/test", "in-domain", "mentor/Calc-v0", "test", profile.in_domain_episodes, levels),
        Column(
            "calc/test sampled",
            "in-domain, sampled",
            "mentor/Calc-v0",
            "test",
            profile.in_domain_episodes,
            levels,
            temperature=profile.ppo.get("temperature", 1.0),
        ),  # fmt: skip
        Column("calc/ood", "a: RL domain, ood", "mentor/Calc-v0", "ood", profile.ood_episodes, levels),
        Column(
            f"calc/test {_levels(profile.harder_levels)}",
            "a: RL domain, harder",
            "mentor/Calc-v0",
            "test",
            profile.ood_episodes,
            profile.harder_levels,
        ),  # fmt: skip
        Column(
            f"units/test {_levels(profile.seen_levels)}",
            "b: seen in SFT",
            "mentor/Units-v0",
            "test",
            profile.ood_episodes,
            profile.seen_levels,
        ),  # fmt: skip
        Column(
            f"dates/test {_levels(profile.seen_levels)}",
            "b: seen in SFT",
            "mentor/Dates-v0",
            "test",
            profile.ood_episodes,
            profile.seen_levels,
        ),  # fmt: skip
        Column("units/ood", "b: seen in SFT", "mentor/Units-v0", "ood", profile.ood_episodes),
        Column("dates/ood", "b: seen in SFT", "mentor/Dates-v0", "ood", profile.ood_episodes),
        Column("lookup/ood", "c: never trained", "mentor/Lookup-v0", "ood", profile.ood_episodes),
        Column("table/ood", "c: never trained", "mentor/Table-v0", "ood", profile.ood_episodes),
        Column("bfcl", "d: external", "mentor/BFCL-v0", EXTERNAL_BFCL, profile.external_episodes),
        Column("calc/reasoning-gym", "d: external", "mentor/Calc-v0", "ood-reasoning-gym", profile.external_episodes),
        Column("dates/reasoning-gym", "d: external", "mentor/Dates-v0", "ood-reasoning-gym", profile.external_episodes),
    ]


def _levels(levels: Sequence[int]) -> str:
    """``(3,)`` as ``"L3"``, ``(1, 2)`` as ``"L1-2"``."""
    return f"L{levels[0]}" if len(levels) == 1 else f"L{levels[0]}-{levels[-1]}"


def column_tasks(column: Column) -> list[Any]:
    """The tasks of a column: the first ``episodes`` of its split (BFCL: its categories taken in turn)."""
    import gymnasium as gym

    import mentor_env  # noqa: F401  (registers the ids)

    if column.split == EXTERNAL_BFCL:
        from mentor_env.external.bfcl import CATEGORIES

        per_category = []
        for category in CATEGORIES:
            env = gym.make(column.env_id, split=category)
            per_category.append(list(env.unwrapped.tasks))
            env.close()
        interleaved = [tasks[i] for i in range(max(map(len, per_category))) for tasks in per_category if i < len(tasks)]
        return interleaved[: column.episodes]
    env = gym.make(column.env_id, split=column.split)
    tasks = list(env.unwrapped.tasks)
    env.close()
    if column.levels is not None:
        tasks = [t for t in tasks if t.meta.get("difficulty") in column.levels]
    if len(tasks) < column.episodes:
        raise ValueError(f"column {column.name} asks for {column.episodes} tasks; {column.split} has {len(tasks)}")
    return tasks[: column.episodes]


# --- one stage per process -------------------------------------------------------------------


def ppo_config(profile: Profile, warm_start: Path, arm: str, seed: int, out: Path) -> Any:
    """The PPOConfig of an RL arm's run (and, for ``sft``, the plan of tasks it trains on)."""
    from agents.ppo import PPOConfig

    return PPOConfig(
        model=str(warm_start),
        min_difficulty=min(profile.train_levels),
        max_difficulty=max(profile.train_levels),
        validation_tasks=profile.validation_tasks,
        eval_split="validation",
        eval_episodes=profile.validation_tasks,
        eval_temperature=0.0,
        reward_mode=arm if arm in RL_ARMS else "sparse",
        teacher_model=profile.teacher if arm in TEACHER_ARMS else None,  # the other arms skip the teacher's pass
        seed=seed,
        total_updates=profile.updates,
        episodes_per_update=profile.episodes_per_update,
        eval_every=profile.eval_every,
        checkpoint_every=profile.eval_every,
        out=str(out),
        # Bars only when stages run one at a time: two workers' bars on one terminal overwrite each other's lines
        # (the console then shows one "stage k/n done" line per stage).
        progress_bar=profile.workers == 1,
        verbose=False,  # the start point is a stage of its own
        eval_at_start=False,
        threads=profile.threads,  # the trainer sets torch's threads to its config's
        **profile.ppo,
    )


def evaluate_columns(
    model: Any, tokenizer: Any, profile: Profile, max_turns: int, max_new_tokens: int
) -> dict[str, Any]:
    """``model``'s episodes on every column (greedy, or sampled where the column says): the metrics and each
    task's outcome (for paired statistics)."""
    import gymnasium as gym
    from tqdm.auto import tqdm

    from mentor_env.play.evaluation import summarize
    from mentor_env.play.generation import GenerationSettings
    from mentor_env.play.lm import ChatLayout, ChatPolicy
    from mentor_env.play.rollouts import run_episodes

    layout = ChatLayout(tokenizer)
    results = {}
    for column in columns(profile):
        policy = ChatPolicy(
            model, layout, GenerationSettings(max_new_tokens=max_new_tokens, temperature=column.temperature)
        )
        tasks = column_tasks(column)
        resets = [{"seed": i, "options": {"task_id": t.id}} for i, t in enumerate(tasks)]

        def make_env(column: Column = column, tasks: list[Any] = tasks) -> gym.Env:
            # The env reads the calls in the format the policy writes them (layout.tool_parser).
            return gym.make(column.env_id, tasks=tasks, max_turns=max_turns, tool_parser=layout.tool_parser)

        with tqdm(total=len(tasks), desc=f"eval {column.name}", leave=False, disable=profile.workers > 1) as bar:
            episodes = run_episodes(policy, make_env, resets, 32, on_episode=lambda _: bar.update(1))
        metrics = summarize(episodes)
        results[column.name] = {
            **{key: metrics[key] for key in ("episodes", *METRICS)},
            "correct": [int(e.correct) for e in episodes],
        }
    return results


def sft_plan(config: Any) -> list[Any]:
    """The SFT arm's data: the teacher trajectory of each task RL seed ``config.seed`` plays, update after update.

    One trajectory per task played; under GRPO one per group: the group's rollouts all play one task, which
    has one teacher trajectory, and copies of it would add weight, not data.
    """
    from agents.ppo import rollout_plan, task_pools

    tasks, _ = task_pools(config)
    by_id = {t.id: t for t in tasks}
    plan = []
    for update in range(config.total_updates):
        resets, groups = rollout_plan(config, tasks, update)
        task_of_group: dict[int, str] = {}
        for reset, group in zip(resets, groups):
            task_of_group.setdefault(group, reset["options"]["task_id"])
        plan += [by_id[task_id] for task_id in task_of_group.values()]
    return plan


def sft_batch_size(config: Any) -> int:
    """Trajectories per SFT step: as many optimizer steps per update as RL makes (its minibatch, one per group)."""
    return max(1, config.minibatch_size // config.group_size)


def _sft_arm(profile: Profile, config: Any) -> dict[str, Any]:
    """More SFT from the warm start on the teacher trajectories of the tasks RL seed ``config.seed`` plays."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agents.sft import SFTConfig, train_sft

    plan = sft_plan(config)
    model = AutoModelForCausalLM.from_pretrained(config.model)
    tokenizer = AutoTokenizer.from_pretrained(config.model)
    sft = SFTConfig(
        epochs=config.update_epochs,
        batch_size=sft_batch_size(config),
        learning_rate=config.learning_rate,
        seed=config.seed,
    )
    history = train_sft(model, tokenizer, plan, sft)
    return {
        "sft": {
            **asdict(sft),
            "examples": len(plan),
            "optimizer_steps": len(history),
            "final_loss": history[-1]["loss"],
        },
        "final": evaluate_columns(model, tokenizer, profile, profile.column_max_turns, config.max_new_tokens),
    }


def _rl_arm(profile: Profile, config: Any) -> dict[str, Any]:
    """PPO from the warm start (resumed from its last checkpoint when a run was killed), then every column."""
    from agents.ppo import PPOTrainer, latest_checkpoint

    trainer = PPOTrainer(config)
    if latest_checkpoint(Path(config.out)) is not None:
        trainer.load_checkpoint()
    rows = trainer.train()
    curve = [
        {"update": row["update"], "env_steps": row["env_steps"], "success_rate": row["eval"]["success_rate"]}
        for row in rows
        if "eval" in row
    ]
    model = trainer.accelerator.unwrap_model(trainer.model)
    return {
        "curve": curve,
        "updates": [{key: value for key, value in row.items() if key != "eval"} for row in rows],
        "final": evaluate_columns(model, trainer.tokenizer, profile, profile.column_max_turns, config.max_new_tokens),
    }


def _start_point(profile: Profile, config: Any) -> dict[str, Any]:
    """The warm start itself: its validation success (the curves' first point), then every column."""
    from agents.ppo import PPOTrainer

    with PPOTrainer(config) as trainer:
        validation = trainer.evaluate(0)["success_rate"]
        model = trainer.accelerator.unwrap_model(trainer.model)
        final = evaluate_columns(model, trainer.tokenizer, profile, profile.column_max_turns, config.max_new_tokens)
    return {"validation_success": validation, "final": final}


def run_stage(job: dict[str, Any]) -> dict[str, Any]:
    """One stage (``job``: its name, arm, seed, profile and paths); returns what ``stages/<name>.json`` holds."""
    import torch
    import transformers

    from agents.ppo import PPOConfig

    torch.set_num_threads(job["threads"])
    transformers.utils.logging.disable_progress_bar()  # weight-loading bars would drown the stage's own
    profile = profile_from_dict(job["profile"])
    config = PPOConfig(**job["config"])
    torch.manual_seed(config.seed)
    wall, cpu = time.perf_counter(), time.process_time()
    if job["arm"] == "start":
        outcome = _start_point(profile, config)
    elif job["arm"] == "sft":
        outcome = _sft_arm(profile, config)
    else:
        outcome = _rl_arm(profile, config)
    return {
        "stage": job["name"],
        "arm": job["arm"],
        "seed": config.seed,
        "fingerprint": job["fingerprint"],
        **outcome,
        "wall_seconds": time.perf_counter() - wall,
        "cpu_seconds": time.process_time() - cpu,
        "torch_threads": torch.get_num_threads(),
    }


# --- the pipeline ------------------------------------------------------------------------------


def profile_from_dict(data: dict[str, Any]) -> Profile:
    names = ("sft_domains", "sft_levels", "arms", "seeds", "train_levels", "harder_levels", "seen_levels")
    tuples = {name: tuple(data[name]) for name in names}
    return Profile(**{**data, **tuples})


def fingerprint(profile: Profile, arm: str | None = None) -> str:
    """What makes two runs' stages of ``arm`` interchangeable: the profile less its lists of seeds and arms, how many
    run at once and, for an arm that uses none, its teacher.

    A stage's numbers depend on its own arm and seed only (a test checks it), so
    a run with more seeds or arms reuses the stages of a run with fewer, and a
    report can be written over the seeds finished so far (``--seeds``).
    """
    data = {key: value for key, value in asdict(profile).items() if key not in ("workers", "seeds", "arms", "teacher")}
    data["warm_start"] = repo_path(profile.warm_start)  # the same in every checkout
    if arm in TEACHER_ARMS:
        data["teacher"] = repo_path(profile.teacher)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def repo_path(path: str | None) -> str | None:
    """``path`` relative to the repository when it lies inside it (as results show it), else as given."""
    if path is None:
        return None
    resolved = Path(path).resolve()
    return resolved.relative_to(REPO).as_posix() if resolved.is_relative_to(REPO) else path


def sft_warm_start(profile: Profile, out_dir: Path) -> tuple[Path, dict[str, Any]]:
    """The checkpoint every arm starts from: the committed one, or trained here into ``out_dir/warm-start``."""
    if profile.warm_start is not None:
        path = Path(profile.warm_start)
        if not (path / "config.json").exists():
            target = WARM_START_TARGETS.get(path.resolve(), "make warm-start")
            raise FileNotFoundError(f"no SFT warm start at {path} (expected a model directory; `{target}` builds it)")
        history = path / "sft_history.json"
        return path, {
            "source": repo_path(profile.warm_start),
            "trained_here": False,
            **(json.loads(history.read_text())["config"] if history.exists() else {}),
        }
    path = out_dir / "warm-start"
    if not (path / "sft_history.json").exists():
        from agents import sft

        argv = [
            "--model",
            profile.model,
            "--domains",
            *profile.sft_domains,
            "--max-difficulty",
            str(max(profile.sft_levels)),
        ]
        argv += [
            "--tasks",
            str(profile.sft_tasks),
            "--epochs",
            str(profile.sft_epochs),
            "--learning-rate",
            str(profile.sft_learning_rate),
        ]
        sft.main([*argv, "--out", str(path)])
    return path, {
        "source": "trained here",
        "trained_here": True,
        **json.loads((path / "sft_history.json").read_text())["config"],
    }


def stage_jobs(profile: Profile, warm_start: Path, out_dir: Path) -> list[dict[str, Any]]:
    """Every stage of the protocol: the warm start's evaluation, then each arm and seed."""
    unknown = [arm for arm in profile.arms if arm != "sft" and arm not in RL_ARMS]
    if unknown:
        raise ValueError(f"unknown arms {unknown}: an arm is 'sft' or one of {RL_ARMS}")
    if profile.teacher is None and any(arm in TEACHER_ARMS for arm in profile.arms):
        raise ValueError(f"the arms {TEACHER_ARMS} score tokens with a teacher model: the profile needs a teacher")
    pairs = [("start", 0)] + [(arm, seed) for seed in profile.seeds for arm in profile.arms]
    jobs = []
    for arm, seed in pairs:
        name = "start" if arm == "start" else f"{arm}-seed{seed}"
        config = ppo_config(profile, warm_start, arm, seed, out_dir / "work" / name)
        jobs.append({"name": name, "arm": arm, "config": asdict(config), "profile": asdict(profile), "threads": profile.threads,
                     "fingerprint": fingerprint(profile, arm)})  # fmt: skip
    return jobs


def finished_stage(out_dir: Path, job: dict[str, Any]) -> dict[str, Any] | None:
    """The stage's saved result (None: not run yet); a result of another profile is refused."""
    path = out_dir / "stages" / f"{job['name']}.json"
    if not path.exists():
        return None
    saved = json.loads(path.read_text())
    if saved.get("fingerprint") != job["fingerprint"]:
        raise ValueError(
            f"{path} belongs to another profile (fingerprint {saved.get('fingerprint')}, this run {job['fingerprint']}); "
            "use another --out, or delete the folder to start over"
        )
    return saved


def run_stages(jobs: list[dict[str, Any]], out_dir: Path, workers: int) -> Iterator[dict[str, Any]]:
    """Each stage's result: saved ones first, then the others as they finish (each saved at once)."""
    from mentor_env.core.files import discard

    todo = []
    for job in jobs:
        saved = finished_stage(out_dir, job)
        if saved is None:
            todo.append(job)
        else:
            print(
                f"[sparse_vs_dense] {job['name']}: done earlier ({out_dir / 'stages' / (job['name'] + '.json')})",
                flush=True,
            )
            yield saved

    def save(result: dict[str, Any], number: int) -> dict[str, Any]:
        write_text_atomically(out_dir / "stages" / f"{result['stage']}.json", json.dumps(result) + "\n")
        work = out_dir / "work" / result["stage"]
        if work.exists():
            discard(work)  # the run's checkpoints: its result is saved
        print(
            f"[sparse_vs_dense] stage {number}/{len(todo)} done: {result['stage']} in {result['wall_seconds'] / 60:.1f} min",
            flush=True,
        )
        return result

    if workers == 1:
        for number, job in enumerate(todo, 1):
            print(f"[sparse_vs_dense] stage {number}/{len(todo)}: {job['name']}", flush=True)
            yield save(run_stage(job), number)
        return
    # Spawned workers that die with this process, however it ends: an orphan would keep its stage's lock.
    with worker_pool(workers) as pool:
        futures = {pool.submit(run_stage, job): job["name"] for job in todo}
        for number, future in enumerate(as_completed(futures), 1):
            yield save(_stage_result(future, futures.values(), out_dir), number)


def _stage_result(future: Future[dict[str, Any]], names: Iterable[str], out_dir: Path) -> dict[str, Any]:
    """The future's stage result; a worker that died (killed, out of memory) is reported with what a rerun does."""
    try:
        return future.result()
    except BrokenProcessPool as exc:
        unsaved = sorted(name for name in names if not (out_dir / "stages" / f"{name}.json").exists())
        raise RuntimeError(
            f"a worker process died (killed, or out of memory) with stages {', '.join(unsaved)} unfinished; "
            f"the finished stages are saved in {out_dir / 'stages'}: run the same command again to resume"
        ) from exc


def run(profile: Profile, out_dir: Path) -> dict[str, Any]:
    """Every stage (resuming from ``out_dir/stages``); returns what results.json holds (less the summary)."""
    import torch

    started = time.perf_counter()
    warm_start, sft = sft_warm_start(profile, out_dir)
    jobs = stage_jobs(profile, warm_start, out_dir)
    stages = {result["stage"]: result for result in run_stages(jobs, out_dir, profile.workers)}
    start = stages["start"]
    runs: dict[str, list[dict[str, Any]]] = {arm: [] for arm in profile.arms}
    for job in jobs[1:]:
        result = stages[job["name"]]
        if "curve" in result:
            result["curve"].insert(0, {"update": 0, "env_steps": 0, "success_rate": start["validation_success"]})
        runs[job["arm"]].append(result)
    return {
        # The checkpoints as the repository names them, not as this checkout's place on disk does.
        "profile": {
            **asdict(profile),
            "warm_start": repo_path(profile.warm_start),
            "teacher": repo_path(profile.teacher),
        },
        "fingerprint": fingerprint(profile),
        "machine": {
            **machine(),
            "torch_threads": profile.threads,
            "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        },
        "warm_start": sft,
        "ppo_config": {
            **{k: v for k, v in jobs[1]["config"].items() if k not in ("out", "reward_mode", "seed", "teacher_model")},
            "model": repo_path(jobs[1]["config"]["model"]),
        },
        "columns": [asdict(column) for column in columns(profile)],
        "start": start,
        "runs": runs,
        "minutes": (time.perf_counter() - started) / 60,
        "stage_minutes": sum(result["wall_seconds"] for result in stages.values()) / 60,
    }


# --- summary, tables, plots ---------------------------------------------------------------------


def comparisons(arms: Sequence[str]) -> list[tuple[str, str]]:
    """(treated, control) pairs: every arm against sparse, the teacher-guided rewards against SFT, and the two
    kinds of teacher guidance against each other (the token-level ones against MENTOR's trajectory reward)."""
    pairs = [(arm, "sparse") for arm in arms if arm != "sparse" and "sparse" in arms]
    pairs += [(arm, "sft") for arm in ("mentor", "dense", *TEACHER_ARMS) if arm in arms and "sft" in arms]
    pairs += [(arm, "mentor") for arm in TEACHER_ARMS if arm in arms and "mentor" in arms]
    return pairs


def summarize_results(results: dict[str, Any]) -> dict[str, Any]:
    """Per arm and column: mean success and its 95% interval over seeds; paired differences; the headline."""
    names = [column["name"] for column in results["columns"]]
    runs = results["runs"]

    def success(arm: str, column: str) -> list[float]:
        return [run["final"][column]["success_rate"] for run in runs[arm]]

    table: dict[str, Any] = {
        "warm start": {c: {m: (results["start"]["final"][c][m], 0.0) for m in METRICS} for c in names}
    }
    for arm, arm_runs in runs.items():
        table[arm] = {c: {m: _interval([run["final"][c][m] for run in arm_runs]) for m in METRICS} for c in names}
    differences = {
        f"{treated} - {control}": {c: paired_difference(success(treated, c), success(control, c)) for c in names}
        for treated, control in comparisons(list(runs))
    }
    reachable = [
        c
        for c in names
        if any(v > 0 for arm in runs for v in success(arm, c)) or results["start"]["final"][c]["success_rate"] > 0
    ]
    return {
        "table": table,
        "differences": differences,
        "headline": headline(runs),
        "nonzero_columns": reachable,
        "update_seconds": update_seconds(runs),
    }


def update_seconds(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    """Per RL arm, the mean wall seconds of an update and of its teacher pass (0 for an arm without a teacher),
    over every update of every seed: the teacher pass's cost, measured beside the arms that do not pay it."""
    costs = {}
    for arm, arm_runs in runs.items():
        rows = [row for run in arm_runs for row in run.get("updates", [])]
        if rows:
            costs[arm] = {
                "update": float(np.mean([row["seconds"] for row in rows])),
                "teacher": float(np.mean([row["time"].get("teacher", 0.0) for row in rows])),
            }
    return costs


def _interval(values: Sequence[float | None]) -> tuple[float | None, float]:
    known = [v for v in values if v is not None]
    return confidence_interval(known) if known else (None, 0.0)


def headline(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Env steps that each seed of a teacher-guided arm needs to reach its sparse seed's final validation success."""
    result: dict[str, Any] = {}
    for arm in ("dense", "mentor", *TEACHER_ARMS):
        if "sparse" not in runs or arm not in runs:
            continue
        ratios: list[float | None] = []
        outcomes: list[str] = []
        for sparse_run, run in zip(runs["sparse"], runs[arm]):
            budget = sparse_run["curve"][-1]["env_steps"]
            target = sparse_run["curve"][-1]["success_rate"]
            if target <= sparse_run["curve"][0]["success_rate"]:
                ratios.append(None)  # nothing to catch up with: sparse ended at or below the warm start
                outcomes.append("sparse did not improve")
                continue
            reached = steps_to_reach([(p["env_steps"], p["success_rate"]) for p in run["curve"]], target)
            ratios.append(None if reached is None else reached / budget)
            outcomes.append("not reached" if reached is None else f"{reached / budget:.2f}")
        known = [r for r in ratios if r is not None]
        result[arm] = {"ratios": ratios, "per_seed": outcomes, "mean": float(np.mean(known)) if known else None,
                       "reached": len(known), "seeds": len(ratios)}  # fmt: skip
    return result


REACHABLE = 0.05  # an out-of-domain column counts in the verdict's average when the warm start succeeds this often


def verdict(results: dict[str, Any]) -> str:
    """The answer in one paragraph: each arm against the warm start in domain, the comparisons in and out of domain.

    In domain is the first column (greedy). Out of domain is, per seed, the mean success over the columns outside
    the RL domain's test split where the warm start succeeds at least :data:`REACHABLE` of the time (a column no
    policy can reach says nothing either way); its comparisons are paired t-tests over seeds like the tables'.
    """
    names = [column["name"] for column in results["columns"]]
    groups = {column["name"]: column["group"] for column in results["columns"]}
    start, runs = results["start"]["final"], results["runs"]
    in_domain = names[0]
    seeds = len(next(iter(runs.values()), []))
    outside = [n for n in names if not groups[n].startswith("in-domain") and start[n]["success_rate"] >= REACHABLE]

    def success(arm: str, column_names: Sequence[str]) -> list[float]:
        return [float(np.mean([run["final"][n]["success_rate"] for n in column_names])) for run in runs[arm]]

    gains = [
        _verdict_phrase(
            arm, paired_difference(success(arm, [in_domain]), [start[in_domain]["success_rate"]] * len(runs[arm]))
        )
        for arm in runs
    ]
    text = (
        f"In domain ({in_domain}, {start[in_domain]['episodes']} tasks, greedy; {seeds} paired seeds), against the warm "
        f"start's {start[in_domain]['success_rate']:.3f}: " + "; ".join(gains) + ". "
    )
    pairs = comparisons(list(runs))
    between = {(a, b): paired_difference(success(a, [in_domain]), success(b, [in_domain])) for a, b in pairs}
    text += "Between arms: " + "; ".join(_verdict_phrase(f"{a} - {b}", test) for (a, b), test in between.items()) + ". "
    if outside:
        text += (
            f"Out of domain (mean over the {_count(len(outside), 'column')} the warm start reaches, {', '.join(outside)}): "
            + "; ".join(
                _verdict_phrase(f"{a} - {b}", paired_difference(success(a, outside), success(b, outside)))
                for a, b in pairs
            )
            + ". "
        )
    else:
        text += (
            f"Out of domain: no column outside {in_domain} where the warm start succeeds {REACHABLE:.0%} of the time. "
        )
    known = [test["half_width"] for test in between.values() if test["half_width"] is not None]
    if known:
        text += (
            f"Power: in domain the 95% intervals of the differences between arms are ±{100 * min(known):.1f} to "
            f"±{100 * max(known):.1f} points wide; smaller true differences cannot be told apart with {seeds} seeds."
        )
    return text


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _verdict_phrase(label: str, test: dict[str, Any]) -> str:
    points = 100 * test["mean"]
    if test["half_width"] is None:
        return f"{label} {points:+.1f} points (no spread over seeds: no interval)"
    where = "above zero" if test["low"] > 0 else "below zero" if test["high"] < 0 else "not told apart from zero"
    return f"{label} {points:+.1f} points [{100 * test['low']:+.1f}, {100 * test['high']:+.1f}], {where}"


def _cell(value: Sequence[float | None], over_seeds: bool, digits: int = 3) -> str:
    mean, half = value
    if mean is None:
        return "n/a"
    return f"{mean:.{digits}f} ± {half:.{digits}f}" if over_seeds else f"{mean:.{digits}f}"


def _difference_cell(test: dict[str, Any]) -> str:
    points = 100 * test["mean"]
    if test["half_width"] is None:
        return f"{points:+.1f} (no spread)"
    return f"{points:+.1f} [{100 * test['low']:+.1f}, {100 * test['high']:+.1f}] p={test['p_value']:.2f}"


def summary_markdown(results: dict[str, Any], summary: dict[str, Any]) -> str:
    """summary.md: the set-up, success per column, paired differences, power, tool use, the headline."""
    profile, machine_info = results["profile"], results["machine"]
    names = [column["name"] for column in results["columns"]]
    groups = {column["name"]: column["group"] for column in results["columns"]}
    table = summary["table"]
    seeds = len(profile["seeds"])
    lines = [
        f"# Sparse vs teacher-guided rewards vs SFT: {profile['model']} student, profile {_profile_name(results)}",
        "",
        "**Verdict.** " + verdict(results),
        "",
        f"Machine: {machine_info['device']}, {machine_info['cpus']} CPUs ({machine_info['platform']}), torch {machine_info['torch']} "
        f"with {machine_info['torch_threads']} thread(s) per run, {profile['workers']} run(s) at once, deterministic algorithms "
        f"{'on' if machine_info['deterministic_algorithms'] else 'off'}; {results['stage_minutes']:.1f} min of stages. "
        f"Warm start: {results['warm_start']['source']}. RL on Calc levels {list(profile['train_levels'])}: "
        f"{profile['updates']} {results['ppo_config']['advantage'].upper()} updates of {profile['episodes_per_update']} "
        "episodes; the SFT arm trains on the teacher trajectories of the same tasks with as many optimizer steps. "
        f"Seeds {list(profile['seeds'])}, paired. Greedy evaluation (the sampled column: one episode per task at the "
        "rollouts' temperature), the same tasks for every policy.",
        "",
        f"Success rate per column (mean ± 95% interval over the {seeds} seeds, Student t):",
        "",
        "| policy | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
        "| column group | " + " | ".join(groups[n] for n in names) + " |",
        "| tasks | " + " | ".join(str(results["start"]["final"][n]["episodes"]) for n in names) + " |",
    ]
    for policy, row in table.items():
        lines.append(
            f"| {policy} | " + " | ".join(_cell(row[n]["success_rate"], policy != "warm start") for n in names) + " |"
        )
    lines += [
        "",
        "Paired difference in success, points (arm − control, mean over seeds [95% interval], paired t-test p):",
        "",
        "| comparison | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for label, tests in summary["differences"].items():
        lines.append(f"| {label} | " + " | ".join(_difference_cell(tests[n]) for n in names) + " |")
    lines += ["", _power_sentence(summary, names[0], seeds), ""]
    lines += [
        f"Tool use on {names[0]} against the teacher (JSD: Jensen-Shannon divergence of tool-name frequencies, 0 = the same mix):",
        "",
        "| policy | tool calls (teacher) | exact tool-set match | invented-tool rate | JSD |",
        "|---|---|---|---|---|",
    ]
    for policy, row in table.items():
        cell = row[names[0]]
        over = policy != "warm start"
        lines.append(
            f"| {policy} | {cell['mean_tool_calls'][0]:.2f} ({cell['mean_teacher_tool_calls'][0]:.2f}) | "
            f"{_cell(cell['tool_set_match_rate'], over)} | {_cell(cell['invented_tool_rate'], over)} | {_cell(cell['tool_use_jsd'], over)} |"
        )
    lines.append("")
    zero = [n for n in names if n not in summary["nonzero_columns"]]
    if zero:
        lines.append(f"- Columns where every policy scored 0 (no signal, reported as such): {', '.join(zero)}.")
    costs = summary.get("update_seconds", {})
    if costs:
        lines.append(
            f"- Wall seconds per PPO update ({machine_info['torch_threads']} thread(s) per run, {profile['workers']} "
            "run(s) at once), of which the teacher's pass: "
            + "; ".join(f"{arm} {cost['update']:.1f} ({cost['teacher']:.1f})" for arm, cost in costs.items())
            + "."
        )
    for arm, head in summary["headline"].items():
        shown = ", ".join(head["per_seed"])
        if head["mean"] is None:
            lines.append(f"- Headline, {arm}: no seed gives a ratio (per seed: {shown}).")
        else:
            lines.append(
                f"- Headline, {arm}: env steps to reach the validation success its sparse seed ends with, as a fraction of "
                f"sparse's budget: mean {head['mean']:.2f} over the {head['reached']}/{head['seeds']} seeds that reached it "
                f"(per seed: {shown}; below 1 = faster than sparse)."
            )
    return "\n".join(lines) + "\n"


def _profile_name(results: dict[str, Any]) -> str:
    return results.get("profile_name", "custom")


def _power_sentence(summary: dict[str, Any], column: str, seeds: int) -> str:
    widths = [
        tests[column]["half_width"]
        for tests in summary["differences"].values()
        if tests[column]["half_width"] is not None
    ]
    detectable = [
        tests[column]["detectable"]
        for tests in summary["differences"].values()
        if tests[column]["detectable"] is not None
    ]
    if not widths:
        return f"Power on {column}: no comparison has a spread over seeds to build an interval from."
    return (
        f"Power on {column} ({seeds} paired seeds): the 95% intervals of the differences are ±{100 * min(widths):.1f} to "
        f"±{100 * max(widths):.1f} points wide; a true difference of {100 * min(detectable):.1f}-{100 * max(detectable):.1f} "
        "points would be found with 80% power at the 5% level."
    )


def plot(results: dict[str, Any], summary: dict[str, Any], out_dir: Path) -> list[Path]:
    """learning_curves.png, paired_differences.png and similarity_vs_success.png, each written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    for arm, runs in results["runs"].items():
        if not runs or "curve" not in runs[0]:
            continue
        steps = np.mean([[p["env_steps"] for p in run["curve"]] for run in runs], axis=0)
        success = np.array([[p["success_rate"] for p in run["curve"]] for run in runs])
        bands = np.array([confidence_interval(column) for column in success.T])
        axis.plot(steps, bands[:, 0], marker="o", label=arm)
        # A success rate lies in [0, 1]: the band is clipped there, not drawn below zero.
        low, high = np.clip(bands[:, 0] - bands[:, 1], 0, 1), np.clip(bands[:, 0] + bands[:, 1], 0, 1)
        axis.fill_between(steps, low, high, alpha=0.2)
    axis.set_ylim(bottom=0)
    axis.set_xlabel("env steps")
    axis.set_ylabel(f"validation success (Calc levels {results['profile']['train_levels']}, greedy)")
    axis.set_title("Learning curves (mean over seeds, band = 95% interval)")
    axis.legend()
    figure.tight_layout()
    written.append(save_figure(figure, out_dir / "learning_curves.png"))

    names = [column["name"] for column in results["columns"]]
    labels = list(summary["differences"])
    figure, axis = plt.subplots(figsize=(7.2, 0.5 + 0.45 * len(names) * max(1, len(labels)) ** 0.5))
    offsets = np.linspace(-0.3, 0.3, len(labels)) if len(labels) > 1 else np.zeros(1)
    # Matplotlib's default cycle has 10 colours: past 10 comparisons two would share one. tab20 has 20, and the
    # marker changes with the control arm, so each comparison has its own look.
    colours = plt.get_cmap("tab20").colors
    for index, (offset, label) in enumerate(zip(offsets, labels)):
        tests = summary["differences"][label]
        y = np.arange(len(names)) + offset
        means = np.array([100 * tests[n]["mean"] for n in names])
        halves = np.array([100 * (tests[n]["half_width"] or 0.0) for n in names])
        marker = {"sparse": "o", "sft": "s", "mentor": "D"}.get(label.split(" - ")[-1], "^")
        axis.errorbar(
            means, y, xerr=halves, fmt=marker, color=colours[2 * index % 20 + index // 10], capsize=3, label=label
        )
    axis.axvline(0, color="grey", linewidth=0.8)
    # A column where no comparison varies over seeds (every policy at 0, say) has dots and no bars: say so.
    flat = [all(summary["differences"][label][n]["half_width"] is None for label in labels) for n in names]
    axis.set_yticks(np.arange(len(names)), [f"{n} (no spread)" if f else n for n, f in zip(names, flat)])
    axis.invert_yaxis()
    axis.set_xlabel("paired difference in success (points, 95% interval over seeds)")
    axis.set_title("Each arm against its control, per column")
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the axes, over no data
    figure.tight_layout()
    written.append(save_figure(figure, out_dir / "paired_differences.png"))

    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    shown = [n for n in summary["nonzero_columns"] if summary["table"]["warm start"][n]["tool_use_jsd"][0] is not None]
    markers = "osD^vP*X"
    for arm_index, (policy, row) in enumerate(summary["table"].items()):
        for column_index, name in enumerate(shown):
            jsd, success = row[name]["tool_use_jsd"][0], row[name]["success_rate"][0]
            if jsd is None:
                continue
            axis.scatter(jsd, success, color=f"C{arm_index}", marker=markers[column_index % len(markers)], s=40,
                         label=policy if column_index == 0 else None)  # fmt: skip
    axis.set_xlabel("tool-use JSD to the teacher (lower = more similar)")
    axis.set_ylabel("success")
    axis.set_title("Similarity to the teacher vs success, per policy and column")
    axis.set_ylim(bottom=0)
    if shown:
        # Two keys: colour = policy, marker shape = column.
        policies = axis.legend(fontsize=8, title="policy", loc="upper right")
        axis.add_artist(policies)
        shapes = [
            axis.scatter([], [], color="grey", marker=markers[i % len(markers)], s=40, label=n)
            for i, n in enumerate(shown)
        ]
        axis.legend(handles=shapes, fontsize=8, title="column", loc="upper center")
    figure.tight_layout()
    written.append(save_figure(figure, out_dir / "similarity_vs_success.png"))
    return written


def write_outputs(results: dict[str, Any], out_dir: Path) -> tuple[str, list[Path]]:
    """results.json, summary.md and the plots; returns the summary text and the paths written."""
    summary = summarize_results(results)
    results = {**results, "summary": summary}
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [write_text_atomically(out_dir / "results.json", json.dumps(results, indent=1) + "\n")]
    text = summary_markdown(results, summary)
    paths.append(write_text_atomically(out_dir / "summary.md", text))
    paths += plot(results, summary, out_dir)
    return text, paths


def parse_args(argv: Sequence[str] | None = None) -> tuple[str, Profile, Path, bool]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    parser.add_argument(
        "--model", help="override the profile's student ('tiny', 'smollm2-135m' or a path); trains its own warm start"
    )
    parser.add_argument("--seeds", type=int, nargs="+", help="override the profile's seeds")
    parser.add_argument("--updates", type=int, help="override the profile's PPO updates per run")
    parser.add_argument("--threads", type=int, help="torch threads per run (default: the profile's)")
    parser.add_argument("--workers", type=int, help="runs at once (default: the profile's)")
    parser.add_argument("--out", type=Path, help="results folder (default runs/sparse_vs_dense-<profile>-<model>)")
    parser.add_argument(
        "--summarize-only", action="store_true", help="rewrite summary.md and the plots from the folder's results.json"
    )
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    if args.model:
        profile = replace(profile, model=args.model, warm_start=None)
    for name in ("seeds", "updates", "threads", "workers"):
        value = getattr(args, name)
        if value:
            profile = replace(profile, **{name: tuple(value) if name == "seeds" else value})
    out_dir = args.out or Path("runs") / f"sparse_vs_dense-{args.profile}-{Path(profile.model).name}"
    return args.profile, profile, out_dir, args.summarize_only


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    name, profile, out_dir, summarize_only = parse_args(argv)
    with lock_folder(out_dir):  # one run per results folder: a second one fails at once
        if summarize_only:
            results = json.loads((out_dir / "results.json").read_text())
            results.pop("summary", None)
        else:
            print(
                f"[sparse_vs_dense] profile {name}: writing to {out_dir} (stages in {out_dir / 'stages'})", flush=True
            )
            results = {"profile_name": name, **run(profile, out_dir)}
        text, paths = write_outputs(results, out_dir)
    print(text)
    print("[sparse_vs_dense] wrote " + ", ".join(str(path) for path in paths), flush=True)
    print("\nVerdict: " + verdict(results), flush=True)
    return results


if __name__ == "__main__":
    main()
