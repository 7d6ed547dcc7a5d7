r"""Throughput of the environments themselves, without a model: resets, steps, rewards, vector envs.

    python -m benchmarks.env_throughput                      # about 1-2 minutes on 2 CPUs
    python -m benchmarks.env_throughput --quick              # a few seconds: checks that it runs
    python -m benchmarks.env_throughput --seconds 5 --vector-domains calc table --json /tmp/env.json

Per domain (``mentor/Calc-v0``, ``Units``, ``Dates``, ``Lookup``, ``Table``):

1. reset: resets/s and µs/reset, with tasks generated from the seed (the
   default ``gym.make(id)``) and drawn from a frozen split (``split=...``);
2. teacher steps: steps/s and µs/step when the actions are the scripted
   teacher's turns (:class:`mentor_env.teachers.ReplayPolicy` over the split),
   only ``env.step`` timed;
3. hostile steps: a fixed list of bad model outputs (broken JSON, unknown tool,
   wrong argument types, huge and oversized text, deep nesting, an unclosed
   ``\boxed{``, a faked tool response, ``None`` and ``123``, 64 calls in one
   turn), each the first turn of a fresh episode; a step that raises is counted
   (the env promises it never does) and the run goes on.

Then the pure reward functions of :mod:`mentor_env.rewards`, µs per call for
each reward mode (``dense``: the teacher progress, the shaping term and the
``mentor`` score of the last step), plus the helpers the env calls around them
(``outcome_from_turns``, ``episode_rewards``, ``outcome_components``), on the
outcomes of teacher, wrong-answer and invented-tool episodes of every domain.

Last, Gymnasium vector envs, ``gym.make_vec(id, num_envs=n,
vectorization_mode="sync" | "async")`` for n in ``--vector-envs``, playing the
teacher's turns (Gymnasium 1.x autoresets a finished sub-env on its next step,
the action of that step is ignored); steps/s counts every sub-env transition,
autoreset ones included (also reported apart), over the wall time of
``vec.step``.

Each measurement warms up first, then runs for ``--seconds`` (the hostile list
runs ``--repeats`` times). Prints one markdown table per section and writes
JSON with the machine and the settings to ``--json``, atomically. Numbers only:
nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import gymnasium as gym
import numpy as np

import mentor_env  # noqa: F401  (registers the ids)
from benchmarks.reporting import machine
from mentor_env import rewards as R
from mentor_env.core.messages import render_assistant_text
from mentor_env.core.parsing import format_tool_call
from mentor_env.core.files import write_text_atomically
from mentor_env.core.splits import load_split
from mentor_env.core.task import Task
from mentor_env.domains import get_domain
from mentor_env.registration import DOMAIN_ENV_IDS
from mentor_env.teachers import ReplayPolicy

DEFAULT_JSON = Path("benchmarks/results/env_throughput.json")
VECTOR_MODES = ("sync", "async")


@dataclass(frozen=True)
class Settings:
    seconds: float = 2.0  # time budget of each measurement
    repeats: int = 20  # passes over the hostile list per domain
    warmup: int = 3  # untimed rounds before each measurement
    split: str = "train"  # frozen split served to the teacher, hostile and vector envs
    domains: tuple[str, ...] = tuple(DOMAIN_ENV_IDS)
    vector_domains: tuple[str, ...] = ("calc",)
    vector_envs: tuple[int, ...] = (1, 2, 4, 8)
    reward_episodes: int = 20  # episodes per domain and kind behind the reward inputs
    quick: bool = False


QUICK = dict(seconds=0.02, repeats=1, warmup=1, reward_episodes=2, split="test")


# --- timing ------------------------------------------------------------------

Round = Callable[[], tuple[int, float]]  # one round: (units done, seconds spent on the timed part)


def run_for(round_: Round, seconds: float, warmup: int) -> tuple[int, float]:
    """``warmup`` untimed rounds, then rounds until ``seconds`` of wall time have passed (at least one)."""
    for _ in range(warmup):
        round_()
    units, timed = 0, 0.0
    deadline = time.perf_counter() + seconds
    while True:
        done, spent = round_()
        units, timed = units + done, timed + spent
        if time.perf_counter() >= deadline:
            return units, timed


def rates(units: int, seconds: float, unit: str) -> dict[str, float]:
    """``<unit>s_per_s`` and ``us_per_<unit>`` of ``units`` done in ``seconds``."""
    return {f"{unit}s_per_s": units / seconds, f"us_per_{unit}": 1e6 * seconds / units}


# --- per-domain env measurements ------------------------------------------------


def measure_resets(domain: str, source: str, settings: Settings) -> dict[str, Any]:
    """Resets of ``gym.make(id)`` (``source="generated"``) or ``gym.make(id, split=...)``."""
    kwargs = {"split": settings.split} if source == "split" else {}
    env = gym.make(DOMAIN_ENV_IDS[domain], **kwargs)
    seed = iter(range(10**9))

    def round_() -> tuple[int, float]:
        start = time.perf_counter()
        env.reset(seed=next(seed))
        return 1, time.perf_counter() - start

    resets, seconds = run_for(round_, settings.seconds, settings.warmup)
    env.close()
    return {"domain": domain, "env_id": DOMAIN_ENV_IDS[domain], "source": source, "resets": resets, "seconds": seconds, **rates(resets, seconds, "reset")}


def measure_teacher_steps(domain: str, tasks: Sequence[Task], settings: Settings) -> dict[str, Any]:
    """Whole teacher episodes over the split; only ``env.step`` is timed."""
    env = gym.make(DOMAIN_ENV_IDS[domain], split=settings.split)
    policy = ReplayPolicy(tasks)
    seed = iter(range(10**9))
    solved = [0, 0]  # correct episodes, episodes

    def round_() -> tuple[int, float]:
        _, info = env.reset(seed=next(seed))
        steps, spent, done = 0, 0.0, False
        while not done:
            action = policy(info["messages"], info["tools"])
            start = time.perf_counter()
            _, _, terminated, truncated, info = env.step(action)
            spent += time.perf_counter() - start
            steps, done = steps + 1, terminated or truncated
        solved[0] += info["reward_components"]["correct"] == 1.0
        solved[1] += 1
        return steps, spent

    steps, seconds = run_for(round_, settings.seconds, settings.warmup)
    env.close()
    return {
        "domain": domain,
        "env_id": DOMAIN_ENV_IDS[domain],
        "episodes": solved[1],
        "steps": steps,
        "seconds": seconds,
        **rates(steps, seconds, "step"),
        "steps_per_episode": steps / solved[1],
        "correct_rate": solved[0] / solved[1],
    }


def first_teacher_call(tasks: Sequence[Task]) -> tuple[str, dict[str, Any]]:
    """A real call of the domain: the first teacher call with known arguments."""
    for task in tasks:
        for call in task.teacher.calls:
            if call.arguments is not None:
                return call.name, dict(call.arguments)
    raise ValueError("no teacher call with arguments among the tasks")


def wrong_types(tool_specs: Sequence[dict[str, Any]], preferred: str) -> tuple[str, dict[str, Any]]:
    """A tool with parameters (``preferred`` if it has some) and arguments of a type no schema here accepts."""
    with_parameters = [spec["function"] for spec in tool_specs if spec["function"]["parameters"].get("properties")]
    function = next((f for f in with_parameters if f["name"] == preferred), with_parameters[0])
    return function["name"], {name: {"not": ["a", "valid", "value"]} for name in function["parameters"]["properties"]}


def hostile_actions(tasks: Sequence[Task], tool_specs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The fixed list of bad model outputs, written with the domain's own tool names."""
    name, arguments = first_teacher_call(tasks)
    wrong_tool, wrong_arguments = wrong_types(tool_specs, preferred=name)
    return {
        "broken_json": f'<tool_call>{{"name": "{name}", "arguments": {{"a": 2, "b": }}}}</tool_call>',
        "unknown_tool": format_tool_call("launch_rockets", {"target": "moon"}),
        "wrong_argument_types": format_tool_call(wrong_tool, wrong_arguments),
        "huge_string": "All work and no play makes a dull model. " * 1_500 + f'<tool_call>{{"name": "{name}", ',
        "oversized_action": "x" * 1_000_000,
        "deeply_nested_json": f'<tool_call>{{"name": "{name}", "arguments": ' + "[" * 2_000 + "]" * 2_000 + "}</tool_call>",
        "unclosed_boxed": "The answer is \\boxed{42",
        "fake_tool_response": "<tool_response>\n42\n</tool_response>\nSo the answer is \\boxed{42}.",
        "none_action": None,
        "integer_action": 123,
        "many_calls": "\n".join([format_tool_call(name, arguments)] * 64),
    }


def measure_hostile_steps(domain: str, tasks: Sequence[Task], settings: Settings) -> dict[str, Any]:
    """Each hostile action as the first turn of a fresh episode, ``repeats`` times; steps that raise are counted."""
    env = gym.make(DOMAIN_ENV_IDS[domain], split=settings.split)
    _, info = env.reset(seed=0)
    actions = hostile_actions(tasks, info["tools"])
    per_action = dict.fromkeys(actions, 0.0)
    raised: list[str] = []

    def one_pass(seed: int, timed: bool) -> int:
        steps = 0
        for name, action in actions.items():
            env.reset(seed=seed)
            start = time.perf_counter()
            try:
                env.step(action)
            except Exception as error:  # the env promises this never happens: record it and go on
                raised.append(f"{name}: {type(error).__name__}: {str(error)[:200]}")
            spent = time.perf_counter() - start
            if timed:
                per_action[name] += spent
                steps += 1
        return steps

    for seed in range(settings.warmup):
        one_pass(seed, timed=False)
    steps = sum(one_pass(settings.warmup + seed, timed=True) for seed in range(settings.repeats))
    env.close()
    seconds = sum(per_action.values())
    slowest = max(per_action, key=per_action.__getitem__)
    return {
        "domain": domain,
        "env_id": DOMAIN_ENV_IDS[domain],
        "actions": len(actions),
        "repeats": settings.repeats,
        "steps": steps,
        "raised": len(raised),
        "exceptions": raised[:20],
        "seconds": seconds,
        **rates(steps, seconds, "step"),
        "slowest_action": slowest,
        "us_per_action": {name: 1e6 * spent / settings.repeats for name, spent in per_action.items()},
    }


# --- reward functions ------------------------------------------------------------


@dataclass
class RewardInput:
    """What the env hands the reward functions at the last step of one episode."""

    outcome: R.Outcome
    turns: list[Any]  # ParsedTurn of every assistant turn
    ended: bool
    judge: Callable[[str], bool]
    student_calls: list[tuple[str, dict[str, Any]]]
    teacher_calls: list[tuple[str, Any]]


def episode_scripts(task: Task) -> dict[str, list[str]]:
    """Kinds of episode behind the reward inputs: the teacher's, a wrong answer, an invented tool."""
    teacher = [render_assistant_text(m) for m in task.teacher.messages if m["role"] == "assistant"]
    tool_turns = teacher[:-1]
    return {
        "teacher": teacher,
        "wrong_answer": tool_turns + ["I think it is \\boxed{-123456.789}."],
        "invented_tool": [format_tool_call("guess_answer", {"question": "?"})] + teacher,
    }


def play_script(env: gym.Env, task: Task, actions: Sequence[str]) -> RewardInput:
    """Play ``actions`` on ``task`` and collect the last step's reward inputs."""
    env.reset(options={"task": task})
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            break
    base = env.unwrapped
    trajectory = base.trajectory
    return RewardInput(
        outcome=base.outcome(),
        turns=[turn.parsed for turn in trajectory.turns],
        ended=trajectory.ended,
        judge=lambda answer, gold=task.answer, judge=base.domain.judge: judge(answer, gold),
        student_calls=trajectory.successful_calls(),
        teacher_calls=[(call.name, call.arguments) for call in task.teacher.calls],
    )


def reward_inputs(tasks_by_domain: dict[str, list[Task]], episodes: int) -> list[RewardInput]:
    """Realistic inputs: ``episodes`` episodes of each kind per domain."""
    inputs = []
    for domain, tasks in tasks_by_domain.items():
        env = gym.make(DOMAIN_ENV_IDS[domain], max_turns=16)
        for task in tasks[:episodes]:
            for actions in episode_scripts(task).values():
                inputs.append(play_script(env, task, actions))
        env.close()
    return inputs


def dense_last_step(item: RewardInput) -> float:
    """What ``dense`` costs on a last step: teacher progress, shaping and the ``mentor`` score."""
    progress = R.teacher_progress(item.student_calls, item.teacher_calls)
    return R.shaping_reward(R.DEFAULT_SHAPING_WEIGHT * progress, 0.0) + R.mentor_reward(item.outcome)


def reward_functions() -> dict[str, Callable[[RewardInput], Any]]:
    """Name -> function of one input: every reward mode, then the helpers around them."""
    functions: dict[str, Callable[[RewardInput], Any]] = {
        mode: (lambda item, f=function: f(item.outcome)) for mode, function in R.EPISODE_REWARDS.items()
    }
    functions["dense"] = dense_last_step
    functions["outcome_from_turns"] = lambda item: R.outcome_from_turns(
        item.turns,
        ended=item.ended,
        is_correct=item.judge,
        teacher_tools=item.outcome.teacher_tools,
        available_tools=item.outcome.available_tools,
    )
    functions["episode_rewards"] = lambda item: R.episode_rewards(item.outcome)
    functions["outcome_components"] = lambda item: R.outcome_components(item.outcome)
    return functions


def measure_reward(name: str, function: Callable[[RewardInput], Any], inputs: Sequence[RewardInput], settings: Settings) -> dict[str, Any]:
    """µs per call of ``function``, timed over whole passes through ``inputs`` (loop overhead included)."""

    def round_() -> tuple[int, float]:
        start = time.perf_counter()
        for item in inputs:
            function(item)
        return len(inputs), time.perf_counter() - start

    calls, seconds = run_for(round_, settings.seconds, settings.warmup)
    kind = "mode" if name in R.REWARD_MODES else "helper"
    return {"name": name, "kind": kind, "inputs": len(inputs), "calls": calls, "seconds": seconds, **rates(calls, seconds, "call")}


# --- vector envs -------------------------------------------------------------------


def measure_vector(domain: str, mode: str, num_envs: int, tasks: Sequence[Task], settings: Settings) -> dict[str, Any]:
    """Teacher turns through ``gym.make_vec``; only ``vec.step`` is timed."""
    vec = gym.make_vec(DOMAIN_ENV_IDS[domain], num_envs=num_envs, vectorization_mode=mode, split=settings.split)
    policy = ReplayPolicy(tasks)
    counts = {"vector_steps": 0, "autoreset_steps": 0, "episodes": 0}
    try:
        _, infos = vec.reset(seed=0)
        finished = np.zeros(num_envs, dtype=bool)

        def round_() -> tuple[int, float]:
            nonlocal infos, finished
            actions = tuple(policy(infos["messages"][i], infos["tools"][i]) for i in range(num_envs))
            start = time.perf_counter()
            _, _, terminated, truncated, infos = vec.step(actions)
            spent = time.perf_counter() - start
            counts["vector_steps"] += 1
            counts["autoreset_steps"] += int(finished.sum())
            finished = np.logical_or(terminated, truncated)
            counts["episodes"] += int(finished.sum())
            return num_envs, spent

        for _ in range(settings.warmup):
            round_()
        counts.update(dict.fromkeys(counts, 0))
        env_steps, seconds = run_for(round_, settings.seconds, warmup=0)
    finally:
        vec.close()
    return {
        "domain": domain,
        "env_id": DOMAIN_ENV_IDS[domain],
        "mode": mode,
        "num_envs": num_envs,
        **counts,
        "env_steps": env_steps,
        "seconds": seconds,
        **rates(env_steps, seconds, "env_step"),
        "agent_steps_per_s": (env_steps - counts["autoreset_steps"]) / seconds,
    }


# --- the run ---------------------------------------------------------------------------


def run(settings: Settings) -> dict[str, Any]:
    """Every section; returns the JSON-ready results."""
    tasks = {domain: load_split(get_domain(domain), settings.split) for domain in {*settings.domains, *settings.vector_domains}}
    results: dict[str, Any] = {"reset": [], "teacher_steps": [], "hostile_steps": [], "rewards": [], "vector": []}
    for domain in settings.domains:
        for source in ("generated", "split"):
            results["reset"].append(measure_resets(domain, source, settings))
        results["teacher_steps"].append(measure_teacher_steps(domain, tasks[domain], settings))
        results["hostile_steps"].append(measure_hostile_steps(domain, tasks[domain], settings))
    inputs = reward_inputs({domain: tasks[domain] for domain in settings.domains}, settings.reward_episodes)
    for name, function in reward_functions().items():
        results["rewards"].append(measure_reward(name, function, inputs, settings))
    for domain in settings.vector_domains:
        for mode in VECTOR_MODES:
            for num_envs in settings.vector_envs:
                results["vector"].append(measure_vector(domain, mode, num_envs, tasks[domain], settings))
    return results


def markdown_tables(results: dict[str, Any]) -> str:
    """One markdown table per section."""
    lines = ["### Reset", "", "| domain | tasks | resets/s | µs/reset |", "|---|---|---|---|"]
    lines += [f"| {r['domain']} | {r['source']} | {r['resets_per_s']:.0f} | {r['us_per_reset']:.1f} |" for r in results["reset"]]
    lines += ["", "### Steps, teacher actions", "", "| domain | episodes | steps/episode | correct | steps/s | µs/step |", "|---|---|---|---|---|---|"]
    lines += [
        f"| {r['domain']} | {r['episodes']} | {r['steps_per_episode']:.2f} | {r['correct_rate']:.0%} | {r['steps_per_s']:.0f} | {r['us_per_step']:.1f} |"
        for r in results["teacher_steps"]
    ]
    lines += ["", "### Steps, hostile actions", "", "| domain | steps | raised | steps/s | µs/step | slowest action (µs) |", "|---|---|---|---|---|---|"]
    lines += [
        f"| {r['domain']} | {r['steps']} | {r['raised']} | {r['steps_per_s']:.0f} | {r['us_per_step']:.1f} | "
        f"{r['slowest_action']} ({r['us_per_action'][r['slowest_action']]:.0f}) |"
        for r in results["hostile_steps"]
    ]
    lines += ["", "### Reward functions", "", "| function | kind | calls | µs/call |", "|---|---|---|---|"]
    lines += [f"| {r['name']} | {r['kind']} | {r['calls']} | {r['us_per_call']:.2f} |" for r in results["rewards"]]
    lines += ["", "### Vector envs, teacher actions", "", "| domain | mode | envs | env steps/s | µs/env step | autoreset share |", "|---|---|---|---|---|---|"]
    lines += [
        f"| {r['domain']} | {r['mode']} | {r['num_envs']} | {r['env_steps_per_s']:.0f} | {r['us_per_env_step']:.1f} | "
        f"{r['autoreset_steps'] / r['env_steps']:.0%} |"
        for r in results["vector"]
    ]
    return "\n".join(lines)


def parse_settings(argv: Sequence[str] | None) -> tuple[Settings, Path]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"tiny settings that run in a few seconds ({QUICK})")
    parser.add_argument("--seconds", type=float, help="time budget of each measurement (default 2.0)")
    parser.add_argument("--repeats", type=int, help="passes over the hostile list per domain (default 20)")
    parser.add_argument("--warmup", type=int, help="untimed rounds before each measurement (default 3)")
    parser.add_argument("--split", choices=("train", "test", "ood"), help="frozen split the envs serve (default train)")
    parser.add_argument("--domains", nargs="+", choices=tuple(DOMAIN_ENV_IDS), help="domains of the per-domain sections")
    parser.add_argument("--vector-domains", nargs="+", choices=tuple(DOMAIN_ENV_IDS), help="domains of the vector section (default calc)")
    parser.add_argument("--vector-envs", nargs="+", type=int, help="numbers of sub-envs (default 1 2 4 8)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"write the results here (default {DEFAULT_JSON})")
    args = parser.parse_args(argv)
    values: dict[str, Any] = dict(QUICK, quick=True) if args.quick else {}
    for name in ("seconds", "repeats", "warmup", "split", "domains", "vector_domains", "vector_envs"):
        value = getattr(args, name)
        if value is not None:
            values[name] = tuple(value) if isinstance(value, list) else value
    settings = Settings(**values)
    if settings.seconds <= 0 or settings.repeats < 1 or settings.warmup < 0 or min(settings.vector_envs) < 1:
        parser.error("--seconds must be positive, --repeats and --vector-envs at least 1, --warmup at least 0")
    return settings, args.json


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    settings, json_path = parse_settings(argv)
    results = run(settings)
    info = machine()
    print(f"{info.get('device', 'cpu')}, {info['cpus']} CPUs, Python {info['python']}, gymnasium {info['gymnasium']}")
    print(markdown_tables(results))
    report = {"benchmark": "env_throughput", "machine": info, "settings": asdict(settings), **results}
    write_text_atomically(json_path, json.dumps(report, indent=2, allow_nan=False) + "\n")
    print(f"\nwrote {json_path}")
    return report


if __name__ == "__main__":
    main()
