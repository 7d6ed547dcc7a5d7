"""Token-level PPO (and GRPO) training a causal LM through a mentor_env environment.

Run from the repository root::

    python -m agents.ppo                                   # the tiny student's recipe: learns in ~7 CPU-minutes (one thread)
    python -m agents.ppo --reward-mode mentor --seed 1     # any field of PPOConfig is a flag
    python -m agents.ppo --model PATH --out runs/mine      # start from other weights (an SFT output, a run's final/)
    accelerate launch -m agents.ppo --model PATH ...       # several GPUs or nodes, same code

The defaults are the recipe ``benchmarks.rl_sanity`` measured on the tiny student (rung b): from its SFT warm
start, PPO with a value head and GAE at lambda 1 (256 episodes an update, one pass in minibatches of 64) on
the sparse reward, on Calc levels 1-2 at temperature 0.7, the rate warmed up over 3 updates to 1e-4 and
decayed to a tenth, no KL term, evaluated greedily on 96 validation tasks carved from the training tasks.
Over its 40 updates it raised validation success by 10.1 points on average over 10 seeds, 95% interval [+8.9,
+11.3] (every seed by 7.3 points or more). ``--advantage grpo --group-size 2`` (GRPO in pairs: 128 tasks an update)
gained 8.5 [+6.7, +10.4] over the same 10 seeds (3.1 to 11.5). At 30 updates the two had gained 7.8 and 8.5: the
10 more are not shown to help either (seed by seed +2.3 [-0.9, +5.5] and +0.0 [-1.8, +1.8]) but left no GAE seed
behind. In groups of 8, as in the published MENTOR runs, the same budget sees a quarter of the tasks and GRPO
gained less.

Torch runs one CPU thread unless ``--threads`` says otherwise: at torch's default of one thread per core, 3 updates
took 353 s instead of 16.7 s on a 2-core machine that other jobs shared (same metrics); the count is in every
metrics row (``torch_threads``) and in the checkpoints' config.

The file reads top to bottom like CleanRL's ``ppo.py``: the config, the few
pieces of math, then :meth:`PPOTrainer.run_update`, where one whole update
happens in order (rollout, old and reference log-probabilities, advantages,
minibatch epochs), then checkpoints and the command line.

One episode is one growing token sequence (:class:`mentor_env.play.lm.TokenTrace`):
the prompt, then the sampled tokens of each assistant turn and the tokens of
each tool response. Everything below happens on that sequence; the choices,
each with why, in the spirit of "The 37 Implementation Details of PPO":

1. Actions are tokens: only sampled tokens (``action_mask``) enter the policy
   and value losses; prompt and tool-response tokens are context, not actions.
   Every per-token quantity lives in a compact ``[episodes, sampled tokens]``
   layout (:class:`mentor_env.play.generation.ActionOutputs`).
2. The env's reward for a turn (``reward_mode``: sparse, mentor, dense or an
   ablation) sits on the last token of that turn, so dense shaping lands on
   the turn that earned it; every mode is still logged from ``info``.
3. KL to a frozen reference model (the warm-start weights) is a per-token
   penalty in the reward, ``-kl_coef * (log π - log π_ref)`` (InstructGPT,
   TRL's PPO): it keeps the policy near the SFT model it starts from and the
   value head learns it like any reward. With ``--advantage grpo`` the KL is
   a loss term instead (the k3 estimator of DeepSeekMath/GRPO), because GRPO's
   advantages are whole-episode scores.
4. GAE (γ, λ) runs over the generated tokens of all turns in order, skipping
   environment tokens, with a value of 0 after the last token (episodes end).
   It is computed as one matrix product, not a Python loop over tokens.
5. ``--advantage grpo``: G rollouts per task, advantage = (return − group
   mean) / (group std + ε) on every generated token, no value head: the
   algorithm of the published MENTOR runs, through the same code path.
6. Advantages are whitened over the batch's generated tokens (PPO only).
7. Policy loss: clipped ratio, ``clip_coef``; value loss: clipped around the
   old values, ``clip_value`` (PPO2); both are means over generated tokens.
8. Log-probabilities use the sampling temperature (logits / T), so the ratio
   compares the distributions that were actually sampled from; top-p stays 1.
9. Old log-probabilities and values come from one pass after the rollout,
   with the same function the update uses, and the rollout itself runs the
   same decoder code (:class:`mentor_env.play.generation.DecoderStack`): no drift
   between generation kernels and training kernels.
10. Minibatches of episodes, ``update_epochs`` passes, gradient clipping at
    ``max_grad_norm``; the learning rate optionally warms up over
    ``warmup_updates`` and is linearly annealed towards ``final_lr_fraction``
    of itself; with ``target_kl`` an update stops its minibatch steps once one
    of them moved the policy past 1.5x that approx_kl (a trust region that a
    small policy otherwise leaves in one update at a large step size).
11. Checkpoints every ``checkpoint_every`` updates hold the weights, value
    head, optimizer, scheduler, every RNG state and the metrics so far;
    ``--resume`` continues a killed run and reproduces the uninterrupted
    metrics (environment seeds are a function of the seed and the update
    index). Crash safety (:mod:`mentor_env.core.files`): a checkpoint is
    written whole under a hidden name and renamed to ``checkpoint-<update>/``,
    and only then are older ones deleted, so a complete checkpoint exists at
    every instant; ``--resume`` takes the newest ``checkpoint-<update>/`` and
    rewrites ``metrics.jsonl`` (atomically) to the checkpoint's rows, so a kill
    at any point, even during a resume, loses only the updates after the last
    checkpoint. ``metrics.jsonl`` is append-only during a run (one fsynced line
    per update; a kill can leave an incomplete last line, which
    :func:`~mentor_env.core.files.read_jsonl_records` skips). The trainer holds
    ``out``'s lock from construction to the end of ``train()``: a
    second trainer on the same folder fails at once with
    :class:`~mentor_env.core.files.FolderLockedError`.
12. Device: CUDA when available with bf16 autocast, CPU otherwise, through
    Hugging Face Accelerate (``accelerate launch`` for several GPUs: each
    process collects its own episodes, gradients are averaged). ``--lora``
    trains LoRA adapters through ``peft`` for models that do not fit.
13. Shared prefixes are computed once. Every episode starts with the same
    system prompt and tool specs (in GRPO a group also shares its task
    prompt): generation computes their keys and values once and copies them
    into each episode's KV cache, and a turn appends the tool response to
    that cache instead of re-reading the conversation
    (:class:`mentor_env.play.generation.PrefixCacheBackend`); the old, reference
    and training passes run the shared prefix once per pass and each episode
    only its own tokens, in chunks of episodes of similar length, so a long
    episode does not pad the others (:func:`mentor_env.play.generation.action_logprobs`;
    the chunks split the work of one minibatch, not its gradient). The
    log-probabilities equal those of a plain full-sequence forward pass (a test
    compares them).
14. The LM head and log-softmax run only at positions that predict a sampled
    token; the entropy is backpropagated only when ``entropy_coef > 0`` (it is
    logged from the no-gradient pass otherwise).
15. Every run prints what tells whether it learns: held-out success before
    the first update and at each evaluation (with a warning when it fell below
    the start by more than its standard error), and per update the share of
    groups (or, with one rollout per task, whether the batch) has mixed
    outcomes, the mean advantage per token of each turn in successful and
    failed episodes, KL, entropy and tool calls per episode.
16. Teacher guidance at the token level (``--reward-mode opd`` or
    ``mentor+opd`` with ``--teacher-model``): a teacher model's pass, the
    reference pass's twin, scores every sampled token with
    ``log p_teacher - log p_student`` (on-policy distillation's reverse-KL
    reward), and ``opd_coef`` times it joins that token's advantage with a
    discount of zero. It lives here, not in the env's reward table, because
    the env sees text and only the trainer has the tokens.
"""

from __future__ import annotations

import copy
import json
import math
import random
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

import gymnasium as gym
import numpy as np
import torch

import mentor_env  # registers the ids; served_tasks gives a split's tasks
from agents.config import parse_declared
from mentor_env.core.files import (
    FolderLock,
    append_jsonl,
    atomic_folder,
    discard,
    lock_folder,
    read_jsonl_records,
    write_text_atomically,
)
from mentor_env.core.rewards import REWARD_MODES
from mentor_env.play.evaluation import summarize
from mentor_env.play.generation import ActionOutputs, GenerationSettings, action_logprobs
from mentor_env.play.lm import ChatLayout, ChatPolicy
from mentor_env.play.rollouts import Episode, run_episodes

# The committed SFT warm start of the tiny student (agents/checkpoints/tiny-multi-sft/README.md): the default model.
TINY_WARM_START = Path(__file__).resolve().parent / "checkpoints" / "tiny-multi-sft"
# The teacher of the token-level reward modes for the tiny student (agents/checkpoints/tiny-calc-teacher/README.md):
# the warm start after a longer SFT on Calc levels 1-2, with the student's tokenizer.
TINY_TEACHER = Path(__file__).resolve().parent / "checkpoints" / "tiny-calc-teacher"


@dataclass
class PPOConfig:
    """One run's settings. The defaults are the recipe measured to learn on the tiny student: from its SFT warm
    start, PPO on Calc levels 1-2 raises greedy success on the 96 held-out validation tasks
    (``benchmarks/results/rl_sanity-tiny``). Each field is a ``--flag`` of ``python -m agents.ppo`` with its
    ``metadata["help"]`` as the help (:mod:`agents.config`)."""

    env_id: str = field(default="mentor/Calc-v0", metadata={"help": "the environment to train on"})
    split: str = field(default="train", metadata={"help": "tasks to train on (a frozen split of the env)"})
    eval_split: str = field(
        default="validation",
        metadata={"help": 'held-out tasks for evaluation ("validation": the validation_tasks carved from split)'},
    )
    max_difficulty: int | None = field(
        default=2, metadata={"help": "keep only tasks up to this difficulty (None: all)"}
    )
    min_difficulty: int | None = field(
        default=None, metadata={"help": "keep only tasks from this difficulty up (None: all)"}
    )
    validation_tasks: int = field(
        default=96,
        metadata={"help": 'hold out the last N training tasks; eval_split="validation" evaluates on them'},
    )
    train_tasks: int = field(
        default=0,
        metadata={"help": "train on only the first N training tasks (0: all), e.g. a small pool the policy can fit"},
    )
    reward_mode: str = field(
        default="sparse",
        metadata={
            "help": "what the policy is trained on: an env reward mode ('mentor', 'dense' add the teacher trajectory's "
            "guidance; every env mode is logged) or a token-level teacher mode ('opd': the teacher model's per-token "
            "reward alone, 'mentor+opd': MENTOR's reward plus opd_coef times it; both need teacher_model)"
        },
    )
    teacher_model: str | None = field(
        default=None,
        metadata={
            "help": "a local model with the student's tokenizer whose log-probability of each sampled token scores it "
            "(reward modes 'opd' and 'mentor+opd'; with another mode its reward is logged, not trained on)"
        },
    )
    opd_coef: float = field(
        default=1.0,
        metadata={"help": "weight of the per-token teacher reward in the advantage ('opd' and 'mentor+opd')"},
    )
    model: str = field(
        default=str(TINY_WARM_START),
        metadata={
            "help": "the weights to start from: a built-in student ('tiny': untrained, 'smollm2-135m') or a local "
            "Hugging Face model directory, such as an SFT output or a PPO run's final/ (by default the tiny "
            "student's SFT warm start)"
        },
    )
    advantage: Literal["gae", "grpo"] = field(
        default="gae",
        metadata={
            "help": "'gae' (PPO with a value head) or 'grpo' (group-relative, no value head; needs --group-size)"
        },
    )
    seed: int = field(
        default=0, metadata={"help": "seeds python, numpy and torch; env seeds derive from it and the update index"}
    )
    total_updates: int = field(
        default=40, metadata={"help": "PPO updates (each collects episodes_per_update episodes)"}
    )
    episodes_per_update: int = field(
        default=256, metadata={"help": "episodes per update, split into groups of group_size"}
    )
    group_size: int = field(
        default=1,
        metadata={"help": "rollouts of the same task in an update (GRPO needs > 1: 2 in its measured recipe)"},
    )
    max_turns: int = field(default=4, metadata={"help": "env turns before truncation"})
    max_new_tokens: int = field(default=48, metadata={"help": "tokens per assistant turn"})
    stop_at_tool_call: bool = field(
        default=False, metadata={"help": "end a turn at </tool_call> too (one call per turn)"}
    )
    temperature: float = field(default=0.7, metadata={"help": "sampling temperature (the policy distribution)"})
    learning_rate: float = field(
        default=1e-4, metadata={"help": "Adam rate for the LM and the value head (after the warm-up)"}
    )
    warmup_updates: int = field(
        default=3,
        metadata={"help": "the rate rises linearly over this many first updates (Adam's moments start empty)"},
    )
    anneal_lr: bool = field(
        default=True, metadata={"help": "decay linearly towards final_lr_fraction of the rate over total_updates"}
    )
    final_lr_fraction: float = field(
        default=0.1,
        metadata={"help": "where annealing heads (0: towards zero; above 0 the last updates still learn)"},
    )
    gamma: float = field(default=1.0, metadata={"help": "discount over generated tokens (episodic, short)"})
    gae_lambda: float = field(
        default=1.0,
        metadata={"help": "GAE bias/variance trade-off (1: every turn gets the episode's outcome as credit)"},
    )
    update_epochs: int = field(default=1, metadata={"help": "passes over the batch per update"})
    minibatch_size: int = field(default=64, metadata={"help": "episodes per gradient step"})
    clip_coef: float = field(default=0.2, metadata={"help": "policy ratio clipping"})
    clip_value: float = field(default=0.2, metadata={"help": "value clipping around the old value"})
    value_coef: float = field(default=0.5, metadata={"help": "weight of the value loss"})
    entropy_coef: float = field(default=0.0, metadata={"help": "entropy bonus (0: rely on sampling temperature)"})
    kl_coef: float = field(
        default=0.0,
        metadata={"help": "KL to the reference model (reward penalty for gae, loss for grpo; 0: logged only)"},
    )
    target_kl: float = field(
        default=0.0,
        metadata={"help": "stop an update's minibatch steps once one's approx_kl passes 1.5x this (0: never)"},
    )
    group_scale: Literal["group", "batch"] = field(
        default="group",
        metadata={"help": "grpo: divide by each group's std ('group', as published) or the batch's ('batch')"},
    )
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping"})
    adam_eps: float = field(
        default=1e-5, metadata={"help": "Adam's epsilon (CleanRL's 1e-5; TRL and PyTorch use 1e-8)"}
    )
    norm_advantages: bool = field(default=True, metadata={"help": "whiten advantages over the batch (gae)"})
    eval_every: int = field(default=10, metadata={"help": "updates between evaluations (0: only at the end)"})
    eval_episodes: int = field(default=96, metadata={"help": "held-out episodes per evaluation"})
    eval_temperature: float = field(
        default=0.0, metadata={"help": "0: greedy decoding; else sampled at this temperature"}
    )
    checkpoint_every: int = field(default=10, metadata={"help": "updates between checkpoints (0: never)"})
    out: str = field(
        default="runs/ppo",
        metadata={"help": "the run's folder: metrics.jsonl, checkpoint-<update>/, final/ (one trainer at a time)"},
    )
    lora: bool = field(default=False, metadata={"help": "train LoRA adapters (needs peft) instead of all weights"})
    batch_envs: int = field(
        default=32, metadata={"help": "environments stepped together (one generation batch per turn)"}
    )
    generation_backend: Literal["auto", "prefix-cache", "hf"] = field(
        default="auto",
        metadata={"help": "'auto' (prefix-cache for Llama-family models, else 'hf'), 'prefix-cache' or 'hf'"},
    )
    progress_bar: bool = field(default=True, metadata={"help": "a tqdm bar with success, reward, KL and tokens/s"})
    verbose: bool = field(
        default=True,
        metadata={"help": "print each update's diagnostics and each evaluation (with a warning when it fell)"},
    )
    eval_at_start: bool = field(
        default=True,
        metadata={"help": "evaluate before the first update: the baseline later evaluations are compared with"},
    )
    threads: int = field(
        default=1,
        metadata={"help": "torch CPU threads (torch's default, one per core, ran 21x slower on a busy 2-core machine)"},
    )


@dataclass
class RunOptions:
    """What ``python -m agents.ppo`` does with a :class:`PPOConfig`, beyond the run's settings."""

    resume: bool = field(
        default=False,
        metadata={"help": "continue from the newest out/checkpoint-<update>/ (weights, optimizer, RNG and metrics)"},
    )


# The earlier setting of benchmarks.ppo_learning (its committed results): PPO with a value head from the Calc-only
# warm start (agents.sft.WARM_START) on Calc level 1, evaluated on level-1 test tasks. Written out in full, so
# that it stays what it was measured as whatever the defaults become.
TINY_WARM_START_SETTINGS: dict[str, Any] = {
    "max_difficulty": 1,
    "validation_tasks": 0,
    "eval_split": "test",
    "advantage": "gae",
    "group_size": 1,
    "gae_lambda": 0.95,
    "kl_coef": 0.02,
    "update_epochs": 2,
    "warmup_updates": 0,
    "final_lr_fraction": 0.0,
    "episodes_per_update": 64,
    "minibatch_size": 16,
    "max_new_tokens": 48,
    "max_turns": 3,
    "temperature": 0.7,
    "learning_rate": 2e-4,
}


# --- model pieces and math ------------------------------------------------------------------


class ValueHead(torch.nn.Module):
    """A scalar value per position from the LM's last hidden state."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(hidden_size, 1)
        torch.nn.init.zeros_(self.linear.weight)
        torch.nn.init.zeros_(self.linear.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.linear(hidden.float()).squeeze(-1)


def gae(
    rewards: torch.Tensor, values: torch.Tensor, valid: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE over ``[B, A]`` action steps (valid prefix per row), value 0 after the last step.

    ``advantage_k = Σ_{j≥k} (γλ)^{j-k} δ_j`` with ``δ_j = r_j + γ V_{j+1} − V_j``,
    computed as ``δ @ D`` where ``D[j, k] = (γλ)^{j-k}`` for ``j ≥ k``.
    """
    values = values * valid
    next_values = torch.cat([values[:, 1:], torch.zeros_like(values[:, :1])], dim=1)
    deltas = (rewards + gamma * next_values - values) * valid
    steps = rewards.shape[1]
    index = torch.arange(steps, device=rewards.device)
    power = (index.unsqueeze(1) - index.unsqueeze(0)).clamp(min=0).to(rewards.dtype)
    discount = torch.where(index.unsqueeze(1) >= index.unsqueeze(0), (gamma * lam) ** power, torch.zeros_like(power))
    advantages = deltas @ discount * valid
    return advantages, (advantages + values) * valid


def group_advantages(
    returns: torch.Tensor, groups: torch.Tensor, eps: float = 1e-6, scale: str = "group"
) -> torch.Tensor:
    """GRPO: each episode's return minus its group's mean, divided by a spread.

    ``scale="group"``: each group's own standard deviation, as published. With
    rewards of fine grain (MENTOR's 0.7 against 0.71) that std can be near
    zero, and a difference of 0.01 becomes an advantage as large as right
    against wrong. ``scale="batch"``: one spread for the whole batch (the
    standard deviation of the centred returns, as Dr. GRPO and PPO's whitening
    do), which keeps right-against-wrong large and tiny differences tiny. A
    group whose returns are all equal gets advantage 0 either way.
    """
    if scale not in ("group", "batch"):
        raise ValueError(f"scale must be 'group' or 'batch', got {scale!r}")
    centred = torch.zeros_like(returns)
    spreads = torch.ones_like(returns)
    for group in groups.unique():
        members = groups == group
        scores = returns[members]
        centred[members] = scores - scores.mean()
        spreads[members] = scores.std(unbiased=False) if scores.numel() > 1 else 0.0
    if scale == "batch":
        spreads = torch.full_like(returns, float(centred.std(unbiased=False)) if centred.numel() > 1 else 0.0)
    return centred / (spreads + eps)


def lr_factor(config: PPOConfig, update: int) -> float:
    """The learning rate's multiplier at ``update`` (0-based): a linear warm-up, then flat or a decay to a floor."""
    if update < config.warmup_updates:
        return (update + 1) / (config.warmup_updates + 1)
    if not config.anneal_lr:
        return 1.0
    return 1.0 - (1.0 - config.final_lr_fraction) * min(1.0, update / config.total_updates)


def mixed_share(values: Sequence[float], groups: Sequence[int]) -> float:
    """The share of groups whose members' values differ (a group of one: whether the batch's values differ)."""
    by_group: dict[int, list[float]] = {}
    for value, group in zip(values, groups):
        by_group.setdefault(group, []).append(value)
    if all(len(members) == 1 for members in by_group.values()):
        return float(len(set(values)) > 1)
    return float(np.mean([max(members) - min(members) > 1e-9 for members in by_group.values()]))


def advantage_by_turn(
    episodes: Sequence[Episode], advantages: torch.Tensor, valid: torch.Tensor
) -> dict[str, list[float]]:
    """Mean advantage per sampled token of each turn (1, 2, ...), for successful and for failed episodes.

    Shows where the credit goes: with terminal rewards the turns that choose
    tools should get positive credit in successful episodes and negative in
    failed ones.
    """
    sums: dict[str, dict[int, list[float]]] = {"success": {}, "failure": {}}
    for row, episode in enumerate(episodes):
        trace = episode.trace
        action_positions = np.flatnonzero(np.asarray(trace.action_mask, dtype=bool))
        turn_of_action = np.searchsorted(np.asarray(trace.turn_ends), action_positions)  # 0-based turn of each token
        values = advantages[row, : len(action_positions)][valid[row, : len(action_positions)]].detach().cpu().numpy()
        kind = "success" if episode.correct else "failure"
        for turn in np.unique(turn_of_action[: len(values)]):
            sums[kind].setdefault(int(turn), []).extend(values[turn_of_action[: len(values)] == turn].tolist())
    return {kind: [float(np.mean(turns[turn])) for turn in sorted(turns)] for kind, turns in sums.items()}


def turn_rewards(episodes: Sequence[Episode], valid: torch.Tensor) -> torch.Tensor:
    """The env's reward of each turn on the turn's last sampled token, in the compact ``[B, A]`` layout."""
    rewards = torch.zeros(valid.shape, dtype=torch.float32)
    for row, episode in enumerate(episodes):
        trace = episode.trace
        sampled_before = np.cumsum(trace.action_mask) - 1  # index of each sampled token among the sampled ones
        for end, reward in zip(trace.turn_ends, episode.turn_rewards):
            rewards[row, int(sampled_before[end])] += reward
    return rewards.to(valid.device)


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (values * mask).sum() / mask.sum().clamp(min=1)


# --- teacher guidance at the token level (on-policy distillation) -------------------------------

# Reward modes of the trainer, beside the env's (mentor_env.core.rewards). The env sees text and scores turns; a
# reward that scores each sampled *token* with a teacher model's log-probability needs the tokens, which only the
# trainer has. Each mode names the env mode whose reward it keeps (None: none, the teacher's term alone).
TEACHER_REWARD_MODES: dict[str, str | None] = {"opd": None, "mentor+opd": "mentor"}


def env_reward_mode(reward_mode: str) -> str:
    """The env reward mode behind a trainer reward mode: itself, or what a teacher mode keeps ('sparse' when it
    keeps none: the env is then asked for sparse rewards, which are logged and not trained on)."""
    if reward_mode in TEACHER_REWARD_MODES:
        return TEACHER_REWARD_MODES[reward_mode] or "sparse"
    return reward_mode


def env_reward_weight(reward_mode: str) -> float:
    """1 when the mode trains on the env's reward, 0 for a teacher mode that keeps none ('opd')."""
    return 0.0 if reward_mode in TEACHER_REWARD_MODES and TEACHER_REWARD_MODES[reward_mode] is None else 1.0


def teacher_token_rewards(
    teacher: Any,
    episodes: Sequence[Episode],
    student_logp: torch.Tensor,
    temperature: float,
    pad_token_id: int,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """On-policy distillation's per-token reward of each sampled token, in the compact ``[episodes, sampled]`` layout.

    ``r_t = log p_teacher(y_t | s_t) - log p_student(y_t | s_t)``: the reverse-KL reward of GKD and of
    on-policy distillation, whose expectation under the student is ``-KL(student || teacher)`` at that token.
    Both log-probabilities are at the sampling temperature (the distribution the student sampled from, and the
    teacher's at the same temperature). The teacher pass is the reference pass's (shared prefixes once, chunks
    of similar length); ``student_logp`` is the old pass's. Zero past each episode's sampled tokens.
    """
    scored = action_logprobs(
        teacher,
        [e.trace.token_ids for e in episodes],
        [e.trace.action_mask for e in episodes],
        temperature,
        pad_token_id,
        groups=[e.group for e in episodes],
        chunk_size=chunk_size,
    )
    return (scored.logp - student_logp) * scored.valid


def teacher_metrics(
    teacher_reward: torch.Tensor, valid: torch.Tensor, token_term: torch.Tensor, env_returns: Sequence[float]
) -> dict[str, float]:
    """What an update logs of the teacher: its mean per-token reward, the per-episode sum the advantages got
    (``opd_coef`` times it in a teacher mode, 0 otherwise) and that sum's share of the return, |teacher| /
    (|teacher| + |env reward trained on|), averaged over episodes as magnitudes."""
    teacher_returns = (token_term * valid).sum(dim=1)
    teacher_size = float(teacher_returns.abs().mean())
    env_size = float(np.mean(np.abs(env_returns))) if len(env_returns) else 0.0
    return {
        "token_reward": masked_mean(teacher_reward, valid).item(),
        "episode_return": float(teacher_returns.mean()),
        "share_of_return": teacher_size / (teacher_size + env_size) if teacher_size + env_size > 0 else 0.0,
    }


def check_same_tokenizer(student: Any, teacher: Any, student_name: str, teacher_name: str) -> None:
    """Raise ValueError, naming both models, unless the two tokenizers map the same text to the same ids.

    The teacher scores the student's token ids: under another vocabulary an id means another piece of text.
    """
    problems = []
    student_vocab, teacher_vocab = student.get_vocab(), teacher.get_vocab()
    if student_vocab != teacher_vocab:
        differ = sum(1 for piece, index in student_vocab.items() if teacher_vocab.get(piece) != index)
        problems.append(
            f"vocabularies of {len(student_vocab)} and {len(teacher_vocab)} tokens, {differ} of the student's "
            "with another id or none"
        )
    for name in ("eos_token_id", "pad_token_id"):
        if getattr(student, name) != getattr(teacher, name):
            problems.append(f"{name} {getattr(student, name)} against {getattr(teacher, name)}")
    if problems:
        raise ValueError(
            f"the teacher {teacher_name!r} has another tokenizer ({type(teacher).__name__}) than the student "
            f"{student_name!r} ({type(student).__name__}): "
            + "; ".join(problems)
            + ". On-policy distillation scores the student's token ids with the teacher, so both need the same "
            "tokenizer (a teacher of the student's family, or one fine-tuned from the same base)"
        )


# --- the trainer -----------------------------------------------------------------


def _filtered(config: PPOConfig, split: str) -> list[Any]:
    """The tasks of ``split`` whose difficulty lies in ``[min_difficulty, max_difficulty]``."""
    tasks = mentor_env.served_tasks(config.env_id, split=split)
    low = -math.inf if config.min_difficulty is None else config.min_difficulty
    high = math.inf if config.max_difficulty is None else config.max_difficulty
    kept = [t for t in tasks if low <= t.meta.get("difficulty", 0) <= high]
    if not kept:
        raise ValueError(
            f"no {split} task of {config.env_id} has a difficulty in [{config.min_difficulty}, {config.max_difficulty}]"
        )
    return kept


def task_pools(config: PPOConfig) -> tuple[list[Any], list[Any]]:
    """The training tasks and the evaluation tasks of ``config`` (difficulty filters and validation carve applied).

    With ``validation_tasks = N`` the last N tasks of ``split`` are held out of
    training; ``eval_split="validation"`` evaluates on them, so hyperparameters
    and protocol can be chosen without touching ``test`` or ``ood``.
    """
    train = _filtered(config, config.split)
    if config.validation_tasks:
        if config.validation_tasks >= len(train):
            raise ValueError(
                f"validation_tasks={config.validation_tasks} leaves no training task of the {len(train)} selected"
            )
        train, validation = train[: -config.validation_tasks], train[-config.validation_tasks :]
    elif config.eval_split == "validation":
        raise ValueError('eval_split="validation" needs validation_tasks > 0 (the tasks carved from split)')
    evaluation = validation if config.eval_split == "validation" else _filtered(config, config.eval_split)
    if config.train_tasks:
        train = train[: config.train_tasks]
    return train, evaluation


def check_model_sources(config: PPOConfig) -> None:
    """Raise FileNotFoundError, naming ``--model``, when ``model`` is not a model this machine has.

    Checked before anything is loaded or created, and before transformers sees a path: it takes a missing
    folder for a hub id and goes online.
    """
    from agents.students import require_student

    require_student(config.model, "--model")
    if config.teacher_model:
        require_student(config.teacher_model, "--teacher-model")


def rollout_plan(
    config: PPOConfig, tasks: Sequence[Any], update: int, process_index: int = 0
) -> tuple[list[dict[str, Any]], list[int]]:
    """Which tasks and env seeds update ``update`` plays: a function of the seed, the process and the update index.

    Returns the ``env.reset`` keyword arguments of each episode and its group
    (episodes of one group play the same task: GRPO's comparison set).
    """
    rng = np.random.default_rng([config.seed, process_index, update])
    count = config.episodes_per_update // config.group_size
    picks = rng.choice(len(tasks), size=count, replace=len(tasks) < count)  # a pool smaller than an update repeats
    resets, groups = [], []
    for group, pick in enumerate(picks):
        for _ in range(config.group_size):
            resets.append({"seed": int(rng.integers(2**31 - 1)), "options": {"task_id": tasks[pick].id}})
            groups.append(group)
    return resets, groups


class PPOTrainer:
    """Holds the models, optimizer and RNG; ``train()`` runs the loop, resumable."""

    def __init__(self, config: PPOConfig) -> None:
        from accelerate import Accelerator

        if config.advantage not in ("gae", "grpo"):
            raise ValueError(f"advantage must be 'gae' or 'grpo', got {config.advantage!r}")
        if config.reward_mode not in (*REWARD_MODES, *TEACHER_REWARD_MODES):
            raise ValueError(
                f"reward_mode must be one of {(*REWARD_MODES, *TEACHER_REWARD_MODES)}, got {config.reward_mode!r}"
            )
        if config.reward_mode in TEACHER_REWARD_MODES and not config.teacher_model:
            raise ValueError(
                f"reward_mode {config.reward_mode!r} scores each sampled token with a teacher model: "
                "give --teacher-model (a local model with the student's tokenizer)"
            )
        if config.group_scale not in ("group", "batch"):
            raise ValueError(f"group_scale must be 'group' or 'batch', got {config.group_scale!r}")
        if config.advantage == "grpo" and config.group_size < 2:
            raise ValueError("grpo needs group_size >= 2 (rollouts of the same task to compare)")
        if config.episodes_per_update % config.group_size:
            raise ValueError("episodes_per_update must be a multiple of group_size")
        if isinstance(config.threads, bool) or not isinstance(config.threads, int) or config.threads < 1:
            raise ValueError(f"threads must be an integer >= 1, got {config.threads!r}")
        check_model_sources(config)  # before the output folder exists: a wrong path leaves nothing behind
        torch.set_num_threads(config.threads)
        self.config = config
        self.output_dir = Path(config.out)
        self.accelerator = Accelerator(mixed_precision="bf16" if torch.cuda.is_available() else "no")
        self._lock: FolderLock | None = None
        self._hold_output_dir()  # before the slow part: a second trainer on the folder fails at once
        self._history: list[dict[str, Any]] | None = None  # the rows of metrics.jsonl (None: a fresh run)
        self.start_eval: dict[str, Any] | None = None  # held-out evaluation before the first update
        try:
            self._set_up(config)
        except BaseException:
            self.close()
            raise

    def _set_up(self, config: PPOConfig) -> None:
        """Models, optimizer, scheduler and tasks."""
        self._seed_everything(config.seed + self.accelerator.process_index)
        model, tokenizer = self._load_model()
        self.tokenizer = tokenizer
        self.layout = ChatLayout(tokenizer)
        self.reference = copy.deepcopy(model).eval().requires_grad_(False)
        if config.lora:
            model = self._with_lora(model)
        self.value_head = ValueHead(model.config.hidden_size) if config.advantage == "gae" else None
        parameters = [p for p in model.parameters() if p.requires_grad]
        if self.value_head is not None:
            parameters += list(self.value_head.parameters())
        optimizer = torch.optim.Adam(parameters, lr=config.learning_rate, eps=config.adam_eps)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda update: lr_factor(config, update))
        prepared = self.accelerator.prepare(
            model, optimizer, scheduler, *([self.value_head] if self.value_head else [])
        )
        self.model, self.optimizer, self.scheduler = prepared[:3]
        if self.value_head is not None:
            self.value_head = prepared[3]
        self.reference.to(self.accelerator.device)
        self.teacher = self._load_teacher(tokenizer)
        self.update = 0
        self._env_steps = 0
        self.tasks, self.eval_tasks = task_pools(config)
        self.pad_token_id = self.layout.pad_token_id

    # --- set-up helpers ---

    @staticmethod
    def _seed_everything(seed: int) -> None:
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)

    def _load_model(self) -> tuple[Any, Any]:
        from agents.students import load_student

        return load_student(self.config.model, seed=self.config.seed)

    def _load_teacher(self, student_tokenizer: Any) -> Any:
        """The frozen teacher of the token-level reward modes (None without ``teacher_model``)."""
        from agents.students import load_student

        if not self.config.teacher_model:
            return None
        teacher, tokenizer = load_student(self.config.teacher_model, seed=self.config.seed)
        check_same_tokenizer(student_tokenizer, tokenizer, self.config.model, self.config.teacher_model)
        return teacher.eval().requires_grad_(False).to(self.accelerator.device)

    @staticmethod
    def _with_lora(model: Any) -> Any:
        try:
            from peft import LoraConfig, get_peft_model
        except ImportError as exc:
            raise ImportError("--lora needs peft: pip install peft") from exc
        return get_peft_model(
            model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM")
        )

    def _make_env(self, tasks: list[Any]) -> Any:
        return lambda: gym.make(
            self.config.env_id,
            tasks=tasks,
            reward_mode=env_reward_mode(self.config.reward_mode),
            max_turns=self.config.max_turns,
            tool_parser=self.layout.tool_parser,  # the format the policy writes its calls in
        )

    def policy(self, temperature: float) -> ChatPolicy:
        """The current weights as a slot policy (sampling from torch's global RNG, which checkpoints keep)."""
        c = self.config
        settings = GenerationSettings(
            max_new_tokens=c.max_new_tokens, temperature=temperature, stop_at_tool_call=c.stop_at_tool_call
        )
        return ChatPolicy(
            self.accelerator.unwrap_model(self.model), self.layout, settings, backend=c.generation_backend
        )

    def rollout_plan(self, update: int) -> tuple[list[dict[str, Any]], list[int]]:
        """Which tasks and env seeds update ``update`` plays (:func:`rollout_plan`)."""
        return rollout_plan(self.config, self.tasks, update, self.accelerator.process_index)

    def rollout(self, update: int, clock: dict[str, float] | None = None) -> list[Episode]:
        """The episodes of update ``update``, sampled from the current policy (``clock``: see :func:`run_episodes`)."""
        resets, groups = self.rollout_plan(update)
        policy = self.policy(self.config.temperature)
        return run_episodes(
            policy, self._make_env(self.tasks), resets, self.config.batch_envs, groups=groups, clock=clock
        )

    def logprobs(
        self,
        model: Any,
        episodes: Sequence[Episode],
        value_head: Any = None,
        entropy: bool = False,
        entropy_grad: bool = True,
    ) -> ActionOutputs:
        """:func:`mentor_env.play.generation.action_logprobs` of ``episodes`` (shared prefixes once, reasons 13-14)."""
        return action_logprobs(
            model,
            [e.trace.token_ids for e in episodes],
            [e.trace.action_mask for e in episodes],
            self.config.temperature,
            self.pad_token_id,
            value_head=value_head,
            groups=[e.group for e in episodes],
            entropy=entropy,
            entropy_grad=entropy_grad,
            chunk_size=self.config.minibatch_size,
        )

    def teacher_pass(
        self, episodes: Sequence[Episode], old_logp: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """The teacher's per-token reward of ``episodes`` (None without a teacher) and the term it adds to each
        token's advantage: ``opd_coef`` times it in a teacher mode, zero otherwise."""
        c = self.config
        if self.teacher is None:
            return None, torch.zeros_like(old_logp)
        with torch.no_grad(), self.accelerator.autocast():
            reward = teacher_token_rewards(
                self.teacher, episodes, old_logp, c.temperature, self.pad_token_id, c.minibatch_size
            )
        return reward, (c.opd_coef * reward if c.reward_mode in TEACHER_REWARD_MODES else torch.zeros_like(reward))

    def advantages(
        self,
        episodes: Sequence[Episode],
        valid: torch.Tensor,
        kl: torch.Tensor,
        old_values: torch.Tensor | None,
        token_term: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Each sampled token's advantage and (GAE) return target.

        The env's reward, when the mode keeps one, goes through GAE or the groups. A teacher mode's per-token
        term then joins each token's advantage as it is, undiscounted and unwhitened: on-policy distillation's
        discount of zero, each token credited with the teacher's verdict on that token alone.
        """
        c = self.config
        env_weight = env_reward_weight(c.reward_mode)
        if c.advantage == "gae":
            assert old_values is not None
            rewards = env_weight * turn_rewards(episodes, valid) - c.kl_coef * kl
            advantages, returns = gae(rewards, old_values, valid, c.gamma, c.gae_lambda)
            if c.norm_advantages and env_weight:  # whitening a reward of zero would blow up its values' noise
                selected = advantages[valid]
                advantages = (advantages - selected.mean()) / (selected.std() + 1e-8) * valid
        else:
            episode_returns = torch.tensor([env_weight * sum(e.turn_rewards) for e in episodes], device=valid.device)
            groups = torch.tensor([e.group for e in episodes], device=valid.device)
            advantages = group_advantages(episode_returns, groups, scale=c.group_scale).unsqueeze(1) * valid
            returns = torch.zeros_like(advantages)
        return advantages + token_term * valid, returns

    # --- one update, top to bottom ---

    def run_update(self) -> dict[str, Any]:
        """Update ``self.update + 1``: rollout, old/reference pass, advantages, minibatch epochs; its metrics row."""
        c = self.config
        device = self.accelerator.device
        clock = {"started": time.perf_counter()}

        # 1. Rollout: one episode per reset of the update's plan, every waiting env's turn in one batch.
        self.model.eval()
        rollout_clock: dict[str, float] = {}
        episodes = self.rollout(self.update, rollout_clock)
        clock["rollout"] = time.perf_counter()

        # 2. Old log-probabilities and values, and the reference's (reasons 8, 9, 13), without gradient.
        with torch.no_grad(), self.accelerator.autocast():
            old = self.logprobs(self.model, episodes, self.value_head, entropy=c.entropy_coef == 0)
            ref = self.logprobs(self.reference, episodes)
        valid, old_logp, ref_logp, old_values = old.valid, old.logp, ref.logp, old.values
        clock["old_ref"] = time.perf_counter()

        # 2b. The teacher's per-token reward (reward modes opd and mentor+opd; logged only under the others).
        teacher_reward, token_term = self.teacher_pass(episodes, old_logp)
        clock["teacher"] = time.perf_counter()

        # 3. Advantages (reasons 2-6), in the compact [episodes, sampled tokens] layout (reason 1).
        kl = (old_logp - ref_logp) * valid
        advantages, returns = self.advantages(episodes, valid, kl, old_values, token_term)

        # 4. Minibatch epochs (reasons 7, 10): clipped policy loss, clipped value loss or k3 KL, entropy bonus.
        self.model.train()
        stats: dict[str, list[float]] = {"policy_loss": [], "value_loss": [], "clip_fraction": [], "approx_kl": []}
        if c.entropy_coef == 0 and old.entropy is not None:
            stats["entropy"] = [masked_mean(old.entropy, old.valid).item()]
        else:
            stats["entropy"] = []
        timing = {"forward": 0.0, "backward": 0.0}
        order = np.random.default_rng([c.seed, self.update, 7]).permutation(len(episodes))
        steps = [
            (epoch, start) for epoch in range(c.update_epochs) for start in range(0, len(episodes), c.minibatch_size)
        ]
        optimizer_steps = 0
        for _, start in steps:
            rows = order[start : start + c.minibatch_size]
            index = torch.as_tensor(rows, device=device)
            began = time.perf_counter()
            with self.accelerator.autocast():
                new = self.logprobs(
                    self.model, [episodes[i] for i in rows], self.value_head, entropy=c.entropy_coef > 0
                )
            width = new.logp.shape[1]
            mask = valid[index][:, :width]
            log_ratio = (new.logp - old_logp[index][:, :width]) * mask
            ratio = log_ratio.exp()
            approx_kl = masked_mean((ratio - 1) - log_ratio, mask).item()
            if c.target_kl and approx_kl > 1.5 * c.target_kl:
                stats["approx_kl"].append(approx_kl)
                break  # the earlier steps left the trust region: this one and the rest would push the policy further
            adv = advantages[index][:, :width]
            policy_loss = masked_mean(
                torch.max(-adv * ratio, -adv * ratio.clamp(1 - c.clip_coef, 1 + c.clip_coef)), mask
            )
            loss = policy_loss
            if new.entropy is not None:
                entropy = masked_mean(new.entropy, mask)
                loss = loss - c.entropy_coef * entropy
                stats["entropy"].append(entropy.item())
            if c.advantage == "gae":
                assert new.values is not None and old_values is not None
                old_v, target = old_values[index][:, :width], returns[index][:, :width]
                clipped = old_v + (new.values - old_v).clamp(-c.clip_value, c.clip_value)
                value_loss = 0.5 * masked_mean(torch.max((new.values - target) ** 2, (clipped - target) ** 2), mask)
                loss = loss + c.value_coef * value_loss
                stats["value_loss"].append(value_loss.item())
            else:
                # k3 estimator of KL(π || π_ref), always >= 0.
                delta = (ref_logp[index][:, :width] - new.logp) * mask
                loss = loss + c.kl_coef * masked_mean(delta.exp() - delta - 1, mask)
            middle = time.perf_counter()
            self.optimizer.zero_grad(set_to_none=True)
            self.accelerator.backward(loss)
            parameters = [p for group in self.optimizer.param_groups for p in group["params"]]
            self.accelerator.clip_grad_norm_(parameters, c.max_grad_norm)
            self.optimizer.step()
            timing["forward"] += middle - began
            timing["backward"] += time.perf_counter() - middle
            stats["policy_loss"].append(policy_loss.item())
            stats["clip_fraction"].append(masked_mean(((ratio - 1).abs() > c.clip_coef).float(), mask).item())
            stats["approx_kl"].append(approx_kl)
            optimizer_steps += 1
        learning_rate = self.optimizer.param_groups[0]["lr"]
        self.scheduler.step()
        self.model.eval()
        clock["train"] = time.perf_counter()

        # 5. The metrics row.
        rollout_seconds = clock["rollout"] - clock["started"]
        generated = sum(e.trace.generated_tokens for e in episodes)
        turns = sum(e.turns for e in episodes)
        row: dict[str, Any] = {"update": self.update + 1}
        row.update({name: float(np.mean(values)) for name, values in stats.items() if values})
        row["kl_to_reference"] = (kl.sum() / valid.sum().clamp(min=1)).item()
        row["optimizer_steps"] = optimizer_steps
        row["stopped_early"] = optimizer_steps < len(steps)
        row["learning_rate"] = learning_rate
        group_ids = [e.group for e in episodes]
        row["mixed_groups"] = {
            "return": mixed_share([e.returns[env_reward_mode(c.reward_mode)] for e in episodes], group_ids),
            "success": mixed_share([float(e.correct) for e in episodes], group_ids),
        }
        row["advantage_by_turn"] = advantage_by_turn(episodes, advantages, valid)
        if teacher_reward is not None:
            env_returns = [env_reward_weight(c.reward_mode) * sum(e.turn_rewards) for e in episodes]
            row["teacher"] = teacher_metrics(teacher_reward, valid, token_term, env_returns)
        row.update(
            {
                "success_rate": float(np.mean([e.correct for e in episodes])),
                "mean_return": {mode: float(np.mean([e.returns[mode] for e in episodes])) for mode in REWARD_MODES},
                "mean_tool_calls": float(np.mean([len(e.tool_names) for e in episodes])),
                "generated_tokens": generated,
                "episode_tokens": sum(len(e.trace.token_ids) for e in episodes),  # prompts and tool responses too
                "longest_episode_tokens": max(len(e.trace.token_ids) for e in episodes),
                "generated_tokens_per_s": generated / rollout_seconds,
                "env_steps_per_s": turns / rollout_seconds,
                "torch_threads": torch.get_num_threads(),
                "seconds": clock["train"] - clock["started"],
                "time": {
                    "rollout": rollout_seconds - rollout_clock.get("env", 0.0),
                    "env": rollout_clock.get("env", 0.0),
                    "old_ref": clock["old_ref"] - clock["rollout"],
                    "teacher": clock["teacher"] - clock["old_ref"],
                    "forward": timing["forward"],
                    "backward": timing["backward"],
                    "other": clock["train"] - clock["teacher"] - timing["forward"] - timing["backward"],
                },
            }
        )
        self._env_steps += turns
        row["env_steps"] = self._env_steps
        return row

    # --- evaluation ---

    def evaluate(self, update: int) -> dict[str, Any]:
        """The first ``eval_episodes`` held-out tasks, greedy (or sampled at ``eval_temperature``).

        An evaluation before the first update is kept as the run's start
        (:attr:`start_eval`), which ``train()`` then does not repeat.
        """
        result = self.evaluate_tasks(self.config.env_id, self.eval_tasks[: self.config.eval_episodes])
        if update == 0 and self.update == 0:
            self.start_eval = result
        return result

    def evaluate_tasks(self, env_id: str, tasks: Sequence[Any], temperature: float | None = None) -> dict[str, Any]:
        """:func:`mentor_env.play.evaluation.summarize` of one episode per task on ``env_id`` (env seed: the task's index)."""
        resets = [{"seed": i, "options": {"task_id": t.id}} for i, t in enumerate(tasks)]
        policy = self.policy(self.config.eval_temperature if temperature is None else temperature)

        def make_env() -> gym.Env:
            return gym.make(
                env_id,
                tasks=list(tasks),
                reward_mode=env_reward_mode(self.config.reward_mode),
                max_turns=self.config.max_turns,
                tool_parser=self.layout.tool_parser,
            )

        return summarize(run_episodes(policy, make_env, resets, self.config.batch_envs))

    # --- the loop ---

    def train(self) -> list[dict[str, Any]]:
        """Run the updates left (all of them, or those after :meth:`load_checkpoint`); returns every update's metrics.

        A fresh run (no :meth:`load_checkpoint` before) starts ``out``
        over: its checkpoints are deleted and ``metrics.jsonl`` emptied. The
        folder's lock is released at the end, however ``train()`` ends.
        """
        self._hold_output_dir()
        try:
            return self._train()
        finally:
            self.close()

    def _train(self) -> list[dict[str, Any]]:
        from tqdm.auto import tqdm

        c = self.config
        history = self._start_history()
        bar = tqdm(
            total=c.total_updates,
            initial=self.update,
            desc=f"ppo[{c.advantage}:{c.reward_mode}]",
            disable=not (c.progress_bar and self.accelerator.is_main_process),
        )
        say = bar.write if not bar.disable else print  # lines above the bar, never through it
        if self.start_eval is None and c.eval_at_start and self.update == 0:
            self.evaluate(0)
        if self.start_eval is not None and self.update == 0:
            self._say(say, evaluation_line(0, self.start_eval, None, c.eval_split))
        self._env_steps = history[-1]["env_steps"] if history else 0
        while self.update < c.total_updates:
            row = self.run_update()
            self.update += 1
            if (c.eval_every and self.update % c.eval_every == 0) or self.update == c.total_updates:
                row["eval"] = self.evaluate(self.update)
            self._say(say, update_line(row, c.reward_mode))
            if "eval" in row:
                self._say(say, evaluation_line(self.update, row["eval"], self.start_eval, c.eval_split))
            history.append(row)
            if self.accelerator.is_main_process:
                append_jsonl(self.output_dir / METRICS, row)
            if c.checkpoint_every and self.update % c.checkpoint_every == 0:
                self.save_checkpoint()
            bar.update(1)
            bar.set_postfix(
                success=f"{row['success_rate']:.2f}",
                reward=f"{row['mean_return'][env_reward_mode(c.reward_mode)]:.3f}",
                kl=f"{row['kl_to_reference']:.3f}",
                tok_s=f"{row['generated_tokens_per_s']:.0f}",
            )
        bar.close()
        if self.accelerator.is_main_process:
            self.save_model(self.output_dir / "final")
        return list(history)

    def _start_history(self) -> list[dict[str, Any]]:
        """The metrics rows so far; a fresh run first empties ``out`` of checkpoints and metrics."""
        if self._history is None:
            self._history = []
            if self.accelerator.is_main_process:
                self._discard_checkpoints(keep=None)
                write_text_atomically(self.output_dir / METRICS, "")
        return self._history

    def _say(self, say: Any, line: str) -> None:
        if self.config.verbose and self.accelerator.is_main_process:
            say(line)

    # --- the output folder ---

    def _hold_output_dir(self) -> None:
        """Take ``out``'s lock (on the main process) unless this trainer holds it already."""
        if self.accelerator.is_main_process and (self._lock is None or not self._lock.held):
            self._lock = lock_folder(self.output_dir)

    def close(self) -> None:
        """Release ``out``'s lock (``train()`` does at its end); the trainer can still evaluate."""
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> PPOTrainer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- checkpoints ---

    def save_model(self, path: Path) -> None:
        """A plain Hugging Face model directory (LoRA adapters merged in), loadable with from_pretrained.

        Written whole under a hidden name, then renamed to ``path`` (replacing
        a folder there): ``path`` never holds half a model.
        """
        model = self.accelerator.unwrap_model(self.model)
        if hasattr(model, "merge_and_unload"):
            model = copy.deepcopy(model).merge_and_unload()
        with atomic_folder(path) as building:
            model.save_pretrained(building)
            self.tokenizer.save_pretrained(building)

    def save_checkpoint(self) -> None:
        """Write ``out/checkpoint-<update>/``, then delete the older checkpoints.

        The folder only gets its name once ``state.pt`` is complete and
        fsynced, and older checkpoints go only after that, so a kill at any
        point leaves at least one complete checkpoint.
        """
        if not self.accelerator.is_main_process:
            return
        self._hold_output_dir()
        name = f"{CHECKPOINT_PREFIX}{self.update}"
        state = {
            "update": self.update,
            "model": self.accelerator.unwrap_model(self.model).state_dict(),
            "value_head": self.accelerator.unwrap_model(self.value_head).state_dict() if self.value_head else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
            "config": asdict(self.config),
            "history": list(self._history or []),  # metrics.jsonl up to this update: resume rewrites it from here
            "start_eval": self.start_eval,
        }  # fmt: skip
        with atomic_folder(self.output_dir / name) as building:
            torch.save(state, building / "state.pt")
        self._discard_checkpoints(keep=name)

    def load_checkpoint(self) -> None:
        """Continue from the newest complete checkpoint in ``out`` (weights, optimizer, scheduler, RNG, update,
        metrics).

        ``metrics.jsonl`` is rewritten, atomically, to the checkpoint's rows
        (the updates after it are redone), and the other checkpoints are
        deleted.
        """
        self._hold_output_dir()
        folder = latest_checkpoint(self.output_dir)
        if folder is None:
            raise FileNotFoundError(
                f"no checkpoint to resume in {self.output_dir} (no {CHECKPOINT_PREFIX}<update>/ with a state.pt; "
                "the trainer writes one every checkpoint_every updates)"
            )
        state = torch.load(folder / "state.pt", weights_only=False)
        self.accelerator.unwrap_model(self.model).load_state_dict(state["model"])
        if self.value_head is not None:
            self.accelerator.unwrap_model(self.value_head).load_state_dict(state["value_head"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        random.setstate(state["rng"]["python"])
        np.random.set_state(state["rng"]["numpy"])
        torch.set_rng_state(state["rng"]["torch"])
        if state["rng"]["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.update = state["update"]
        self.start_eval = state.get("start_eval")
        metrics_path = self.output_dir / METRICS
        history = state.get("history")
        if history is None:  # a checkpoint/ of an older version: the log's rows up to it
            history = [row for row in read_jsonl_records(metrics_path) if row["update"] <= self.update]
        self._history = list(history)
        if self.accelerator.is_main_process:
            text = "".join(json.dumps(row) + "\n" for row in self._history)
            if not metrics_path.exists() or metrics_path.read_bytes() != text.encode():
                write_text_atomically(metrics_path, text)
            self._discard_checkpoints(keep=folder.name)

    def _discard_checkpoints(self, keep: str | None) -> None:
        """Delete every checkpoint folder in ``out`` but ``keep``."""
        for entry in sorted(self.output_dir.iterdir()):
            if (
                entry.name != keep
                and entry.is_dir()
                and (_CHECKPOINT.fullmatch(entry.name) or entry.name in LEGACY_CHECKPOINTS)
            ):
                discard(entry)


def standard_error(rate: float, count: int) -> float:
    """The standard error of a success rate measured on ``count`` episodes."""
    return math.sqrt(max(rate * (1.0 - rate), 0.0) / max(count, 1))


def evaluation_line(update: int, evaluation: dict[str, Any], start: dict[str, Any] | None, split: str) -> str:
    """One printed line for a held-out evaluation, and a warning when it fell below the start by more than its standard error."""
    rate, count = evaluation["success_rate"], evaluation["episodes"]
    line = (
        f"update {update}: {split} success {rate:.3f} ({round(rate * count)}/{count}, "
        f"standard error {standard_error(rate, count):.3f}), tool calls {evaluation['mean_tool_calls']:.2f}"
    )
    if start is None:
        return line
    before = start["success_rate"]
    line += f", {rate - before:+.3f} since update 0"
    if rate < before - standard_error(before, start["episodes"]):
        line += (
            f"\nWARNING: {split} success fell from {before:.3f} to {rate:.3f}, more than its standard error: "
            "the model got worse (a smaller --learning-rate or --target-kl keeps it closer to where it started)"
        )
    return line


def update_line(row: dict[str, Any], reward_mode: str) -> str:
    """One printed line of an update's diagnostics: success, the teacher's per-token reward (with a teacher), mixed
    groups, credit by turn, KL, entropy, tool calls."""

    def turns(values: list[float]) -> str:
        return "/".join(f"{value:+.2f}" for value in values) or "-"

    credit = row["advantage_by_turn"]
    teacher = row.get("teacher")
    teacher_text = (
        f", teacher reward per token {teacher['token_reward']:+.3f} ({teacher['share_of_return']:.0%} of the return)"
        if teacher
        else ""
    )
    mode = env_reward_mode(reward_mode)
    return (
        f"update {row['update']}: train success {row['success_rate']:.3f}, {mode} return "
        f"{row['mean_return'][mode]:.3f}{teacher_text}, mixed groups {row['mixed_groups']['return']:.2f} "
        f"(by success {row['mixed_groups']['success']:.2f}), advantage by turn success {turns(credit['success'])} "
        f"failure {turns(credit['failure'])}, KL {row['kl_to_reference']:.4f}, approx_kl {row.get('approx_kl', 0.0):.4f}"
        f"{' (stopped early)' if row['stopped_early'] else ''}, entropy {row.get('entropy', float('nan')):.3f}, "
        f"tool calls {row['mean_tool_calls']:.2f}, lr {row['learning_rate']:.2e}"
    )


METRICS = "metrics.jsonl"
CHECKPOINT_PREFIX = "checkpoint-"
_CHECKPOINT = re.compile(re.escape(CHECKPOINT_PREFIX) + r"(\d+)")
# Written by earlier versions (one folder, swapped through checkpoint.tmp); resumable when nothing newer exists.
LEGACY_CHECKPOINTS = ("checkpoint", "checkpoint.tmp")


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The newest complete checkpoint in ``output_dir``: the highest ``checkpoint-<update>/`` (None: there is none).

    Only complete checkpoints carry that name (they are renamed into it once
    written), so a partial one, left hidden by a kill, is never picked. A
    folder of an earlier version's layout (``checkpoint/``, else the
    ``checkpoint.tmp/`` it swapped through) is used when there is no newer one.
    """
    if not output_dir.is_dir():
        return None
    numbered = [
        (int(match.group(1)), entry)
        for entry in output_dir.iterdir()
        if (match := _CHECKPOINT.fullmatch(entry.name)) and (entry / "state.pt").is_file()
    ]
    if numbered:
        return max(numbered)[1]
    return next((output_dir / name for name in LEGACY_CHECKPOINTS if (output_dir / name / "state.pt").is_file()), None)


def parse_config(argv: Sequence[str] | None = None) -> tuple[PPOConfig, bool]:
    """The command line: one flag per :class:`PPOConfig` field (its help from the field), plus ``--resume``."""
    description = "\n\n".join(__doc__.split("\n\n")[:3])  # the title and the example commands
    config, options = parse_declared([PPOConfig, RunOptions], argv, description)
    return config, options.resume


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    config, resume = parse_config(argv)
    trainer = PPOTrainer(config)
    if resume:
        trainer.load_checkpoint()
    return trainer.train()


if __name__ == "__main__":
    main()
