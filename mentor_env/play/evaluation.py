"""Cross-domain evaluation of any policy against the teachers.

``evaluate(policy, env_ids, n, seed)`` plays ``n`` episodes per environment
and reports, per environment id:

- ``success_rate``: episodes whose final answer the judge accepted;
- ``mean_return``: every reward mode's mean episode return;
- ``mean_tool_calls`` and ``mean_teacher_tool_calls`` on the same tasks;
- ``tool_set_match_rate``: episodes whose set of valid tools equals the teacher's;
- ``invented_tool_rate``: episodes that called at least one tool that does not exist;
- ``format_error_rate``: episodes with a broken call or action (``parse_error``,
  ``invalid_action``) or that did not end with a well-formed ``\\boxed{}`` answer
  (where the calls are the answer, as in BFCL: with a judged outcome);
- ``tool_use_jsd``: Jensen-Shannon divergence (base 2, in [0, 1]) between the
  student's and the teacher's distributions of tool names over all episodes,
  the strategy-similarity measure of the MENTOR paper (0 = same tool mix).

Tasks without a teacher trajectory (``task.teacher.source == "none"`` and no
calls, e.g. the ``ood-reasoning-gym`` split) have nothing to compare tool use
with: ``mean_teacher_tool_calls``, ``tool_set_match_rate`` and
``tool_use_jsd`` are computed over the episodes whose task has a teacher
(``teacher_episodes`` of them), and are ``None`` (not applicable, printed
``n/a``) when none has.

With ``split`` (``"test"``, ``"ood"``, ``"train"``) the i-th episode plays the
i-th task of the frozen split, so every policy sees the same tasks; without it,
tasks are generated from ``seed + i``.
"""

from __future__ import annotations

import functools
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence

import gymnasium as gym

from mentor_env.core.files import write_text_atomically
from mentor_env.core.rewards import REWARD_MODES
from mentor_env.play.rollouts import BatchedPolicy, Episode, SinglePolicy, SlotPolicy, run_episodes
from mentor_env.registration import served_tasks

_FORMAT_ERRORS = ("parse_error:", "invalid_action:")


def jensen_shannon_divergence(left: Counter[str], right: Counter[str]) -> float:
    """JSD (base 2) between two count distributions; 0.0 when both are empty."""
    left_total, right_total = sum(left.values()), sum(right.values())
    if not left_total and not right_total:
        return 0.0
    if not left_total or not right_total:
        return 1.0
    divergence = 0.0
    for name in set(left) | set(right):
        p, q = left[name] / left_total, right[name] / right_total
        m = (p + q) / 2
        if p:
            divergence += 0.5 * p * math.log2(p / m)
        if q:
            divergence += 0.5 * q * math.log2(q / m)
    return max(0.0, min(1.0, divergence))


def has_teacher(episode: Episode) -> bool:
    """Whether the episode's task has a teacher trajectory to compare tool use with."""
    teacher = episode.task.teacher
    return bool(teacher.calls) or teacher.source != "none"


def summarize(episodes: Sequence[Episode]) -> dict[str, Any]:
    """The evaluation metrics (module doc) of a list of episodes."""
    if not episodes:
        raise ValueError("no episodes to summarize")
    count = len(episodes)
    taught = [episode for episode in episodes if has_teacher(episode)]
    student_tools: Counter[str] = Counter()
    teacher_tools: Counter[str] = Counter()
    for episode in taught:
        student_tools.update(episode.tool_names)
        teacher_tools.update(episode.task.teacher.tool_names)

    def rate(flags: Iterable[bool]) -> float:
        return sum(flags) / count

    def taught_mean(values: Iterable[float]) -> float | None:
        return sum(values) / len(taught) if taught else None

    return {
        "episodes": count,
        "teacher_episodes": len(taught),
        "success_rate": rate(episode.correct for episode in episodes),
        "mean_return": {mode: sum(e.returns[mode] for e in episodes) / count for mode in REWARD_MODES},
        "mean_tool_calls": sum(len(e.tool_names) for e in episodes) / count,
        "mean_teacher_tool_calls": taught_mean(len(e.task.teacher.calls) for e in taught),
        "tool_set_match_rate": taught_mean(float(e.components.get("tool_set_match", 0.0) == 1.0) for e in taught),
        "invented_tool_rate": rate(e.components.get("invented_tool_calls", 0.0) > 0 for e in episodes),
        "format_error_rate": rate(
            any(error.startswith(_FORMAT_ERRORS) for error in e.errors)
            or e.components.get("finished", 0.0) != 1.0
            # No answer: no \boxed{} (or, where the calls are the answer, no judged outcome).
            or (e.final_answer is None and e.components.get("answered", 0.0) != 1.0)
            for e in episodes
        ),
        "tool_use_jsd": jensen_shannon_divergence(student_tools, teacher_tools) if taught else None,
    }


def policy_env_kwargs(policy: Any) -> dict[str, Any]:
    """The env arguments an LM policy needs: its layout's ``tool_parser`` (the format it writes); none for others.

    :func:`evaluate` adds them unless its ``env_kwargs`` name a parser (``tool_parser=`` or ``parser=``).
    """
    layout = getattr(policy, "layout", None)
    tool_parser = getattr(layout, "tool_parser", None)
    return {} if tool_parser is None else {"tool_parser": tool_parser}


def _progress_bar(total: int, label: str) -> Any:
    """A tqdm bar (tqdm comes with the ``lm`` extra; the core install does not need it)."""
    try:
        from tqdm.auto import tqdm
    except ImportError as exc:
        raise ImportError("evaluate(progress=True) needs tqdm: pip install tqdm (or mentor-env[lm])") from exc
    return tqdm(total=total, desc=label, leave=False)


def _counter(bar: Any) -> Any:
    """``on_episode`` for :func:`run_episodes`: one tick of ``bar`` per finished episode."""
    return lambda _episode: bar.update(1)


def transcript(episode: Episode, env_id: str) -> dict[str, Any]:
    """One episode as a JSON-ready record: the task, the whole conversation, the outcome and every return."""
    return {
        "env_id": env_id,
        "task_id": episode.task.id,
        "correct": episode.correct,
        "final_answer": episode.final_answer,
        "answer": episode.task.answer,
        "turns": episode.turns,
        "tool_names": episode.tool_names,
        "errors": episode.errors,
        "returns": episode.returns,
        "messages": episode.messages,
    }


def evaluate(
    policy: SlotPolicy | BatchedPolicy | SinglePolicy,
    env_ids: Sequence[str] = ("mentor/Calc-v0",),
    n: int = 100,
    seed: int = 0,
    split: str | None = "test",
    batch_size: int = 16,
    env_kwargs: dict[str, Any] | None = None,
    verbose: bool = True,
    progress: bool = False,
    transcripts: str | Path | None = None,
) -> dict[str, dict[str, Any]]:
    """Play ``n`` episodes of ``policy`` on each env id; returns metrics per id (module doc).

    ``policy`` is a slot policy (:mod:`mentor_env.play.rollouts`; the LM policy
    :class:`mentor_env.play.lm.ChatPolicy` is one), ``messages, tools -> text``, or
    a batched policy (``policy.batched = True``) taking lists of both.
    ``verbose`` prints the table; ``progress`` shows a bar of finished
    episodes per env id; ``transcripts`` names a JSONL file that gets one line
    per episode (:func:`transcript`), written atomically at the end.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    results: dict[str, dict[str, Any]] = {}
    lines: list[str] = []
    for env_id in env_ids:
        kwargs = dict(env_kwargs or {})
        if "tool_parser" not in kwargs and "parser" not in kwargs:  # the caller's choice of format wins
            kwargs.update(policy_env_kwargs(policy))
        if split is not None:
            kwargs["split"] = split
        tasks = served_tasks(env_id, **kwargs)
        if tasks is not None:
            if n > len(tasks):
                raise ValueError(f"n={n} is more than the {len(tasks)} tasks of {env_id} split {split!r}")
            resets = [{"seed": seed + i, "options": {"task_id": task.id}} for i, task in enumerate(tasks[:n])]
        else:
            resets = [{"seed": seed + i} for i in range(n)]
        bar = _progress_bar(len(resets), env_id) if progress else None
        try:
            episodes = run_episodes(
                policy,
                functools.partial(gym.make, env_id, **kwargs),
                resets,
                batch_size,
                on_episode=None if bar is None else _counter(bar),
            )
        finally:
            if bar is not None:
                bar.close()
        results[env_id] = summarize(episodes)
        lines += [json.dumps(transcript(episode, env_id)) + "\n" for episode in episodes]
    if transcripts is not None:
        write_text_atomically(Path(transcripts), "".join(lines))
    if verbose:
        print(format_results(results))
    return results


def _metric(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def format_results(results: dict[str, dict[str, Any]]) -> str:
    """A Markdown table of :func:`evaluate`'s results (``n/a``: not applicable, no teacher)."""
    header = [
        "env",
        "n",
        "success",
        "calls (teacher)",
        "tool-set match",
        "invented",
        "format err",
        "JSD",
        "mentor",
        "dense",
        "sparse",
    ]
    rows = [header, ["---"] * len(header)]
    for env_id, r in results.items():
        rows.append(
            [
                env_id,
                str(r["episodes"]),
                f"{r['success_rate']:.3f}",
                f"{r['mean_tool_calls']:.2f} ({_metric(r['mean_teacher_tool_calls'], 2)})",
                _metric(r["tool_set_match_rate"]),
                f"{r['invented_tool_rate']:.3f}",
                f"{r['format_error_rate']:.3f}",
                _metric(r["tool_use_jsd"]),
                f"{r['mean_return']['mentor']:.3f}",
                f"{r['mean_return']['dense']:.3f}",
                f"{r['mean_return']['sparse']:.3f}",
            ]
        )
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)
