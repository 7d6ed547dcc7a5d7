r"""Throughput of the environments themselves, without a model: resets, steps, rewards, vector envs.

    python -m benchmarks.env_throughput                      # about three minutes on 2 CPUs
    python -m benchmarks.env_throughput --quick              # a few seconds: checks that it runs
    python -m benchmarks.env_throughput --seconds 5 --vector-domains calc table --out /tmp/env.json

Per domain (``mentor/Calc-v0``, ``Units``, ``Dates``, ``Lookup``, ``Table``):

1. reset: resets/s and µs/reset, with tasks generated from the seed (the
   default ``gym.make(id)``) and drawn from a frozen split (``split=...``);
   and, for the split, also ``reset()`` without a seed (what an autoreset
   does) and Gymnasium's ``seeding.np_random`` alone (what a seed costs);
2. teacher steps: steps/s and µs/step when the actions are the scripted
   teacher's turns (:class:`mentor_env.play.teachers.ReplayPolicy` over the split),
   only ``env.step`` timed, interleaved episode by episode with the *floor*
   (:class:`TeacherFloor`): the same turns through a straight-line function
   doing the work a teacher step needs and none of the env's bookkeeping;
   reported side by side with their ratio, and checked to give the same
   observations and dense rewards;
3. hostile steps: a fixed list of bad model outputs (broken JSON, unknown tool,
   wrong argument types, huge and oversized text, deep nesting, an unclosed
   ``\boxed{``, a faked tool response, ``None`` and ``123``, 64 calls in one
   turn), each the first turn of a fresh episode; a step that raises is counted
   (the env promises it never does) and the run goes on.

Then the pure reward functions of :mod:`mentor_env.core.rewards`, µs per call for
each reward mode (``dense``: the teacher progress, the shaping term and the
``mentor`` score of the last step), plus the helpers the env calls around them
(``outcome_from_turns``, ``episode_rewards``, ``outcome_components``), on the
outcomes of teacher, wrong-answer and invented-tool episodes of every domain.

Last, Gymnasium vector envs, ``gym.make_vec(id, num_envs=n,
vectorization_mode="sync" | "async")`` for n in ``--vector-envs``, playing the
teacher's turns (Gymnasium 1.x autoresets a finished sub-env on its next step,
the action of that step is ignored); steps/s counts every sub-env transition,
autoreset ones included (also reported apart), over the wall time of
``vec.step``, and CPU time per env step: the parent's around ``vec.step``
plus, for async, the workers' (``/proc/<pid>/schedstat``, Linux). Beside them,
an in-process loop over the same number of envs (``loop``: CPU of the steps
and autoresets) and a bare pipe round trip per env with the async layout
(``pipe_floor``: one message of an action's size out, one of a pickled
``info``'s size back), the part of async's cost no env change can remove.

Each measurement warms up first, then runs for ``--seconds`` (the hostile list
runs ``--repeats`` times). Prints one markdown table per section and writes
JSON with the machine and the settings to ``--out``, atomically. Numbers only:
nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import pickle
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import gymnasium as gym
import jsonschema
import numpy as np
from gymnasium.utils import seeding

import mentor_env  # noqa: F401  (registers the ids)
from agents.config import retire_flags
from benchmarks.processes import die_with_parent
from benchmarks.reporting import machine
from mentor_env.core import rewards as R
from mentor_env.core.files import write_text_atomically
from mentor_env.core.messages import render_assistant_text
from mentor_env.core.parsing import format_tool_call
from mentor_env.core.splits import load_split
from mentor_env.core.task import Task
from mentor_env.core.tools import Tool, ToolRuntime, compile_fast_check, format_value
from mentor_env.domains import get_domain
from mentor_env.play.teachers import ReplayPolicy
from mentor_env.registration import DOMAIN_ENV_IDS

DEFAULT_JSON = Path("benchmarks/results/env_throughput.json")
VECTOR_MODES = ("sync", "async")


@dataclass(frozen=True)
class Settings:
    """What one run measures and for how long; each field's help is its metadata."""

    seconds: float = field(default=2.0, metadata={"help": "time budget of each measurement"})
    repeats: int = field(default=20, metadata={"help": "passes over the hostile list per domain"})
    warmup: int = field(default=3, metadata={"help": "untimed rounds before each measurement"})
    split: str = field(
        default="train", metadata={"help": "frozen split served to the teacher, hostile and vector envs"}
    )
    domains: tuple[str, ...] = field(
        default=tuple(DOMAIN_ENV_IDS), metadata={"help": "domains of the per-domain sections"}
    )
    vector_domains: tuple[str, ...] = field(default=("calc",), metadata={"help": "domains of the vector section"})
    vector_envs: tuple[int, ...] = field(default=(1, 2, 4, 8), metadata={"help": "numbers of sub-envs"})
    reward_episodes: int = field(default=20, metadata={"help": "episodes per domain and kind behind the reward inputs"})
    quick: bool = field(default=False, metadata={"help": "tiny settings: checks that it runs"})


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
    """Resets of ``gym.make(id)`` (``source="generated"``) or ``gym.make(id, split=...)``.

    Each reset gets a new seed. For the split, ``reset()`` without a seed and
    ``seeding.np_random(seed)`` alone are timed too, in the same rounds.
    """
    kwargs = {"split": settings.split} if source == "split" else {}
    env = gym.make(DOMAIN_ENV_IDS[domain], **kwargs)
    seed = iter(range(10**9))
    spent = {"unseeded": 0.0, "seeding": 0.0}

    def round_() -> tuple[int, float]:
        start = time.perf_counter()
        env.reset(seed=next(seed))
        seeded = time.perf_counter() - start
        if source == "split":
            start = time.perf_counter()
            env.reset()
            middle = time.perf_counter()
            seeding.np_random(next(seed))
            spent["unseeded"] += middle - start
            spent["seeding"] += time.perf_counter() - middle
        return 1, seeded

    resets, seconds = run_for(round_, settings.seconds, settings.warmup)
    env.close()
    row = {
        "domain": domain,
        "env_id": DOMAIN_ENV_IDS[domain],
        "source": source,
        "resets": resets,
        "seconds": seconds,
        **rates(resets, seconds, "reset"),
    }
    if source == "split":
        # The warm-up rounds added to ``spent`` too: count them in.
        rounds = resets + settings.warmup
        row["us_per_reset_unseeded"] = 1e6 * spent["unseeded"] / rounds
        row["us_per_seeding"] = 1e6 * spent["seeding"] / rounds
    return row


class TeacherFloor:
    """The least work a teacher step needs: a straight line, none of the env's bookkeeping.

    Per turn: ``re.findall`` of the ``<tool_call>`` blocks; for each block
    ``json.loads``, ``is_valid`` of a jsonschema validator compiled here once
    per tool, the call of the domain's own tool function (an isolated tool
    through a :class:`ToolRuntime`'s child process, as the env runs it) and
    ``format_value`` of the result; the ``<tool_response>`` text; the teacher
    progress of the new calls (:class:`mentor_env.core.rewards.TeacherProgress`)
    and the shaping term. A turn without a call: the last ``\boxed{}`` by
    regex, the domain's judge, the ``mentor`` score (tool-set match and
    invented tools) and the dense reward. No action checks, no messages, no
    ``info``, no other reward mode, no error handling: teacher turns are valid.

    ``check="jsonschema"`` is the floor as the throughput goal defines it;
    ``check="fast"`` validates with the tools' own fast check
    (:func:`mentor_env.core.tools.compile_fast_check`), as the env does first,
    which shows what is left of the env's overhead once validation is equal.
    """

    _BLOCK = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
    _BOXED = re.compile(r"\\boxed\{([^{}]*)\}")

    def __init__(self, domain: Any, tools: Sequence[Tool], check: str = "jsonschema") -> None:
        self.judge = domain.judge
        self.tools = {tool.name: tool for tool in tools}
        if check == "jsonschema":
            self.validators = {
                tool.name: jsonschema.validators.validator_for(tool.parameters)(tool.parameters).is_valid
                for tool in tools
            }
        elif check == "fast":
            self.validators = {tool.name: compile_fast_check(tool.parameters) for tool in tools}
        else:
            raise ValueError(f"check must be 'jsonschema' or 'fast', got {check!r}")
        self.runtime = ToolRuntime(tools)  # only for isolated tools: the same child-process path as the env
        self.start(None)

    def start(self, task: Task | None) -> None:
        """A new episode of ``task`` (untimed)."""
        self.task = task
        teacher_calls = [(call.name, call.arguments) for call in task.teacher.calls] if task else []
        self.teacher_tools = {call.name for call in task.teacher.calls} if task else set()
        self.progress = R.TeacherProgress(teacher_calls)
        self.potential = 0.0
        self.used: set[str] = set()

    def step(self, text: str) -> tuple[str, float]:
        """One teacher turn: the observation and the dense reward."""
        blocks = self._BLOCK.findall(text)
        if blocks:
            responses = []
            for body in blocks:
                payload = json.loads(body)
                name, arguments = payload["name"], payload["arguments"]
                if not self.validators[name](arguments):
                    raise ValueError(f"the teacher's call {body} is not valid")
                tool = self.tools[name]
                if tool.isolated:
                    value = self.runtime._call_isolated(tool, arguments, self.runtime.timeout_s)
                else:
                    value = tool.function(**arguments)
                responses.append(f"<tool_response>\n{format_value(value)}\n</tool_response>")
                self.progress.add((name, arguments))
                self.used.add(name)
            potential = R.DEFAULT_SHAPING_WEIGHT * self.progress.value
            reward, self.potential = potential - self.potential, potential
            return "\n".join(responses), reward
        answers = self._BOXED.findall(text)
        assert self.task is not None
        correct = bool(answers) and self.judge(answers[-1].strip(), self.task.answer)
        match = bool(self.used) and self.used == self.teacher_tools if self.teacher_tools else not self.used
        no_invented = self.used <= set(self.tools)
        mentor = round((0.7 + 0.3 * match if correct else 0.2 * 0.3 * match) + 0.1 * no_invented, 10)
        return "", mentor - self.potential


def play_env(env: gym.Env, actions: Sequence[str]) -> tuple[list[tuple[str, float]], float, dict[str, Any]]:
    """Step ``env`` through ``actions`` until the episode ends.

    Returns ``(observation, teacher_reward)`` per step, the seconds spent in
    ``env.step`` and the last step's info.
    """
    expected: list[tuple[str, float]] = []
    spent, info = 0.0, {}
    for action in actions:
        start = time.perf_counter()
        observation, _, terminated, truncated, info = env.step(action)
        spent += time.perf_counter() - start
        expected.append((observation, info["teacher_reward"]))
        if terminated or truncated:
            break
    return expected, spent, info


def matching_steps(
    expected: Sequence[tuple[str, float]], floor_runs: Iterable[Sequence[tuple[str, float]]]
) -> tuple[int, int]:
    """``(floor steps equal to the env's, floor steps compared)`` over the floors' runs of one episode.

    A step is equal when its observation is and its reward is within 1e-9; a
    length difference counts as that many different steps.
    """
    equal = compared = 0
    for steps in floor_runs:
        for (observation, reward), (floor_observation, floor_reward) in zip(expected, steps):
            equal += floor_observation == observation and abs(floor_reward - reward) <= 1e-9
            compared += 1
        compared += abs(len(steps) - len(expected))
    return equal, compared


def measure_teacher_steps(domain: str, tasks: Sequence[Task], settings: Settings) -> dict[str, Any]:
    """Whole teacher episodes over the split, each played by the env then by the floor.

    Only ``env.step`` and ``TeacherFloor.step`` are timed; they play the same
    task's teacher turns one after the other in the same process, so both see
    the same machine, and take turns at going first.
    ``floor_same_rate`` is the share of floor steps whose observation and
    dense reward equal the env's (1.0, or it would not be the same work).
    """
    env = gym.make(DOMAIN_ENV_IDS[domain], split=settings.split)
    policy = ReplayPolicy(tasks)
    domain_object = env.unwrapped.domain
    floors = {check: TeacherFloor(domain_object, domain_object.tools, check) for check in ("jsonschema", "fast")}
    seed = iter(range(10**9))
    solved = [0, 0]  # correct episodes, episodes
    floor_spent = dict.fromkeys(floors, 0.0)
    same = [0, 0]  # floor steps equal to the env's, floor steps

    rounds = [0]

    def play_floor(check: str, task: Task, actions: list[str]) -> list[tuple[str, float]]:
        floor, results = floors[check], []
        floor.start(task)
        for action in actions:
            start = time.perf_counter()
            results.append(floor.step(action))
            floor_spent[check] += time.perf_counter() - start
        return results

    def round_() -> tuple[int, float]:
        env.reset(seed=next(seed))
        task = env.unwrapped.task
        actions = policy.turns[task.question]
        # Alternate who goes first: the second to run a query meets SQLite's caches warm.
        rounds[0] += 1
        if rounds[0] % 2:
            expected, spent, info = play_env(env, actions)
            results = {check: play_floor(check, task, actions) for check in floors}
        else:
            results = {check: play_floor(check, task, actions) for check in floors}
            expected, spent, info = play_env(env, actions)
        solved[0] += info["reward_components"]["correct"] == 1.0
        solved[1] += 1
        equal, compared = matching_steps(expected, results.values())
        same[0] += equal
        same[1] += compared
        return len(expected), spent

    for _ in range(settings.warmup):
        round_()
    floor_spent.update(dict.fromkeys(floors, 0.0))
    solved[:] = [0, 0]
    steps, seconds = run_for(round_, settings.seconds, warmup=0)
    env.close()
    for floor in floors.values():
        floor.runtime.close()
    floor_us = 1e6 * floor_spent["jsonschema"] / steps
    fast_floor_us = 1e6 * floor_spent["fast"] / steps
    env_us = 1e6 * seconds / steps
    return {
        "domain": domain,
        "env_id": DOMAIN_ENV_IDS[domain],
        "episodes": solved[1],
        "steps": steps,
        "seconds": seconds,
        **rates(steps, seconds, "step"),
        "steps_per_episode": steps / solved[1],
        "correct_rate": solved[0] / solved[1],
        "floor_us_per_step": floor_us,
        "env_over_floor": env_us / floor_us,
        "fast_check_floor_us_per_step": fast_floor_us,
        "env_over_fast_check_floor": env_us / fast_floor_us,
        "floor_same_rate": same[0] / same[1],
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
        "deeply_nested_json": f'<tool_call>{{"name": "{name}", "arguments": '
        + "[" * 2_000
        + "]" * 2_000
        + "}</tool_call>",
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
    modes = [R.get_reward_mode(name) for name in R.TERMINAL_MODES]
    functions: dict[str, Callable[[RewardInput], Any]] = {
        mode.name: (lambda item, f=mode: f(item.outcome)) for mode in modes
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


def measure_reward(
    name: str, function: Callable[[RewardInput], Any], inputs: Sequence[RewardInput], settings: Settings
) -> dict[str, Any]:
    """µs per call of ``function``, timed over whole passes through ``inputs`` (loop overhead included)."""

    def round_() -> tuple[int, float]:
        start = time.perf_counter()
        for item in inputs:
            function(item)
        return len(inputs), time.perf_counter() - start

    calls, seconds = run_for(round_, settings.seconds, settings.warmup)
    kind = "mode" if name in R.REWARD_MODES else "helper"
    return {
        "name": name,
        "kind": kind,
        "inputs": len(inputs),
        "calls": calls,
        "seconds": seconds,
        **rates(calls, seconds, "call"),
    }


# --- vector envs -------------------------------------------------------------------


def measure_vector(domain: str, mode: str, num_envs: int, tasks: Sequence[Task], settings: Settings) -> dict[str, Any]:
    """Teacher turns through ``gym.make_vec``; only ``vec.step`` is timed."""
    vec = gym.make_vec(DOMAIN_ENV_IDS[domain], num_envs=num_envs, vectorization_mode=mode, split=settings.split)
    policy = ReplayPolicy(tasks)
    counts = {"vector_steps": 0, "autoreset_steps": 0, "episodes": 0}
    try:
        _, infos = vec.reset(seed=0)
        finished = np.zeros(num_envs, dtype=bool)
        workers = [process.pid for process in getattr(vec, "processes", ())]
        parent_cpu = [0.0]

        def round_() -> tuple[int, float]:
            nonlocal infos, finished
            actions = tuple(policy(infos["messages"][i], infos["tools"][i]) for i in range(num_envs))
            cpu, start = time.process_time(), time.perf_counter()
            _, _, terminated, truncated, infos = vec.step(actions)
            spent = time.perf_counter() - start
            parent_cpu[0] += time.process_time() - cpu
            counts["vector_steps"] += 1
            counts["autoreset_steps"] += int(finished.sum())
            finished = np.logical_or(terminated, truncated)
            counts["episodes"] += int(finished.sum())
            return num_envs, spent

        for _ in range(settings.warmup):
            round_()
        counts.update(dict.fromkeys(counts, 0))
        parent_cpu[0] = 0.0
        workers_before = processes_cpu_s(workers)
        env_steps, seconds = run_for(round_, settings.seconds, warmup=0)
        workers_after = processes_cpu_s(workers)
    finally:
        vec.close()
    row = {
        "domain": domain,
        "env_id": DOMAIN_ENV_IDS[domain],
        "mode": mode,
        "num_envs": num_envs,
        **counts,
        "env_steps": env_steps,
        "seconds": seconds,
        **rates(env_steps, seconds, "env_step"),
        "agent_steps_per_s": (env_steps - counts["autoreset_steps"]) / seconds,
        "cpu_us_per_env_step": 1e6 * parent_cpu[0] / env_steps,
    }
    if workers and workers_before is not None and workers_after is not None:
        worker_us = 1e6 * (workers_after - workers_before) / env_steps
        row["parent_cpu_us_per_env_step"] = row["cpu_us_per_env_step"]
        row["worker_cpu_us_per_env_step"] = worker_us
        row["cpu_us_per_env_step"] += worker_us
    return row


def processes_cpu_s(pids: Sequence[int]) -> float | None:
    """CPU seconds the processes have used so far (Linux ``schedstat``, nanoseconds); None elsewhere."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/schedstat") as file:
                total += int(file.read().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            return None
    return total


def measure_loop(domain: str, num_envs: int, tasks: Sequence[Task], settings: Settings) -> dict[str, Any]:
    """The in-process baseline of the vector envs: one loop over ``num_envs`` envs.

    Each env plays the teacher's turns and is reset (no seed) on the step after
    its episode ends, as Gymnasium's vector envs do; the CPU time of the
    ``step`` and ``reset`` calls is counted (``time.process_time``).
    """
    envs = [gym.make(DOMAIN_ENV_IDS[domain], split=settings.split) for _ in range(num_envs)]
    policy = ReplayPolicy(tasks)
    infos = [env.reset(seed=index)[1] for index, env in enumerate(envs)]
    finished = [False] * num_envs

    def round_() -> tuple[int, float]:
        spent = 0.0
        for index, env in enumerate(envs):
            action = policy(infos[index]["messages"], infos[index]["tools"])
            start = time.process_time()
            if finished[index]:
                _, infos[index] = env.reset()
                finished[index] = False
            else:
                _, _, terminated, truncated, infos[index] = env.step(action)
                finished[index] = terminated or truncated
            spent += time.process_time() - start
        return num_envs, spent

    env_steps, cpu = run_for(round_, settings.seconds, settings.warmup)
    for env in envs:
        env.close()
    return {
        "domain": domain,
        "num_envs": num_envs,
        "env_steps": env_steps,
        "cpu_seconds": cpu,
        "cpu_us_per_env_step": 1e6 * cpu / env_steps,
    }


def _pipe_echo(connection: Any, reply: bytes) -> None:
    """Child of :func:`measure_pipe_floor`: answer every message with ``reply`` until ``None``."""
    die_with_parent()  # a forked child holds its own parent end of the pipe: no EOF would ever end it
    while connection.recv() is not None:
        connection.send((reply, True))


def measure_pipe_floor(num_envs: int, action_chars: int, info_bytes: int, settings: Settings) -> dict[str, Any]:
    """CPU of a bare pipe round trip per env, laid out as the async vector env's.

    ``num_envs`` child processes; per round, the parent sends each a
    ``("step", <action_chars characters>)`` message, then reads each reply of
    ``info_bytes`` bytes. No env, no pickling of real objects, no shared memory.
    """
    context = mp.get_context()
    pipes, processes = [], []
    for _ in range(num_envs):
        parent_end, child_end = context.Pipe()
        process = context.Process(target=_pipe_echo, args=(child_end, b"i" * info_bytes), daemon=True)
        process.start()
        child_end.close()
        pipes.append(parent_end)
        processes.append(process)
    message = ("step", "a" * action_chars)
    parent_cpu = [0.0]

    def round_() -> tuple[int, float]:
        cpu, start = time.process_time(), time.perf_counter()
        for pipe in pipes:
            pipe.send(message)
        for pipe in pipes:
            pipe.recv()
        parent_cpu[0] += time.process_time() - cpu
        return num_envs, time.perf_counter() - start

    try:
        for _ in range(settings.warmup):
            round_()
        parent_cpu[0] = 0.0
        before = processes_cpu_s([process.pid for process in processes])
        trips, seconds = run_for(round_, settings.seconds, warmup=0)
        after = processes_cpu_s([process.pid for process in processes])
    finally:
        for pipe in pipes:
            pipe.send(None)
        for process in processes:
            process.join(timeout=5)
    row = {
        "num_envs": num_envs,
        "action_chars": action_chars,
        "info_bytes": info_bytes,
        "round_trips": trips,
        "seconds": seconds,
    }
    row["cpu_us_per_round_trip"] = 1e6 * parent_cpu[0] / trips
    if before is not None and after is not None:
        row["cpu_us_per_round_trip"] += 1e6 * (after - before) / trips
    return row


def pickled_info_bytes(domain: str, tasks: Sequence[Task], settings: Settings) -> tuple[int, int]:
    """The mean length of a teacher action and of a pickled ``(observation, reward, ..., info)`` reply."""
    env = gym.make(DOMAIN_ENV_IDS[domain], split=settings.split)
    policy = ReplayPolicy(tasks)
    actions, replies = [], []
    for seed in range(20):
        _, info = env.reset(seed=seed)
        done = False
        while not done:
            action = policy(info["messages"], info["tools"])
            _, reward, terminated, truncated, info = env.step(action)
            actions.append(len(action))
            replies.append(
                len(pickle.dumps(((None, reward, terminated, truncated, info), True), protocol=pickle.HIGHEST_PROTOCOL))
            )
            done = terminated or truncated
    env.close()
    return round(sum(actions) / len(actions)), round(sum(replies) / len(replies))


# --- the run ---------------------------------------------------------------------------


def run(settings: Settings) -> dict[str, Any]:
    """Every section; returns the JSON-ready results."""
    tasks = {
        domain: load_split(get_domain(domain), settings.split)
        for domain in {*settings.domains, *settings.vector_domains}
    }
    results: dict[str, Any] = {
        "reset": [],
        "teacher_steps": [],
        "hostile_steps": [],
        "rewards": [],
        "vector": [],
        "loop": [],
        "pipe_floor": [],
    }
    for domain in settings.domains:
        for source in ("generated", "split"):
            results["reset"].append(measure_resets(domain, source, settings))
        results["teacher_steps"].append(measure_teacher_steps(domain, tasks[domain], settings))
        results["hostile_steps"].append(measure_hostile_steps(domain, tasks[domain], settings))
    inputs = reward_inputs({domain: tasks[domain] for domain in settings.domains}, settings.reward_episodes)
    for name, function in reward_functions().items():
        results["rewards"].append(measure_reward(name, function, inputs, settings))
    for domain in settings.vector_domains:
        action_chars, info_bytes = pickled_info_bytes(domain, tasks[domain], settings)
        for num_envs in settings.vector_envs:
            # The in-process loop and the async env measured next to each other, for their ratio.
            results["loop"].append(measure_loop(domain, num_envs, tasks[domain], settings))
            for mode in VECTOR_MODES:
                results["vector"].append(measure_vector(domain, mode, num_envs, tasks[domain], settings))
            results["pipe_floor"].append(
                {"domain": domain, **measure_pipe_floor(num_envs, action_chars, info_bytes, settings)}
            )
    loops = {(row["domain"], row["num_envs"]): row["cpu_us_per_env_step"] for row in results["loop"]}
    for row in results["vector"]:
        row["cpu_over_loop"] = row["cpu_us_per_env_step"] / loops[row["domain"], row["num_envs"]]
    return results


def markdown_tables(results: dict[str, Any]) -> str:
    """One markdown table per section."""

    def optional(row: dict[str, Any], key: str) -> str:
        return f"{row[key]:.1f}" if key in row else ""

    lines = [
        "### Reset",
        "",
        "| domain | tasks | resets/s | µs/reset | µs/reset, no seed | µs of seeding |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['domain']} | {r['source']} | {r['resets_per_s']:.0f} | {r['us_per_reset']:.1f} | "
        f"{optional(r, 'us_per_reset_unseeded')} | {optional(r, 'us_per_seeding')} |"
        for r in results["reset"]
    ]
    lines += [
        "",
        "### Steps, teacher actions (env and floor interleaved)",
        "",
        "| domain | episodes | steps/episode | correct | steps/s | µs/step | floor µs/step | env / floor | "
        "floor with the fast check µs/step | env / that floor | floor same |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['domain']} | {r['episodes']} | {r['steps_per_episode']:.2f} | {r['correct_rate']:.0%} | {r['steps_per_s']:.0f} | "
        f"{r['us_per_step']:.1f} | {r['floor_us_per_step']:.1f} | {r['env_over_floor']:.2f} | "
        f"{r['fast_check_floor_us_per_step']:.1f} | {r['env_over_fast_check_floor']:.2f} | {r['floor_same_rate']:.0%} |"
        for r in results["teacher_steps"]
    ]
    lines += [
        "",
        "### Steps, hostile actions",
        "",
        "| domain | steps | raised | steps/s | µs/step | slowest action (µs) |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['domain']} | {r['steps']} | {r['raised']} | {r['steps_per_s']:.0f} | {r['us_per_step']:.1f} | "
        f"{r['slowest_action']} ({r['us_per_action'][r['slowest_action']]:.0f}) |"
        for r in results["hostile_steps"]
    ]
    lines += ["", "### Reward functions", "", "| function | kind | calls | µs/call |", "|---|---|---|---|"]
    lines += [f"| {r['name']} | {r['kind']} | {r['calls']} | {r['us_per_call']:.2f} |" for r in results["rewards"]]
    lines += [
        "",
        "### Vector envs, teacher actions",
        "",
        "| domain | mode | envs | env steps/s | µs/env step | autoreset share | CPU µs/env step (parent + workers) | CPU / in-process loop |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['domain']} | {r['mode']} | {r['num_envs']} | {r['env_steps_per_s']:.0f} | {r['us_per_env_step']:.1f} | "
        f"{r['autoreset_steps'] / r['env_steps']:.0%} | {r['cpu_us_per_env_step']:.1f}"
        + (
            f" ({r['parent_cpu_us_per_env_step']:.1f} + {r['worker_cpu_us_per_env_step']:.1f})"
            if "worker_cpu_us_per_env_step" in r
            else ""
        )
        + f" | {r['cpu_over_loop']:.2f} |"
        for r in results["vector"]
    ]
    lines += ["", "### In-process loop and bare pipe round trips (the vector envs' baseline and floor)", ""]
    lines += ["| domain | envs | loop CPU µs/env step | pipe round trip CPU µs/env |", "|---|---|---|---|"]
    floors = {(r["domain"], r["num_envs"]): r for r in results["pipe_floor"]}
    lines += [
        f"| {r['domain']} | {r['num_envs']} | {r['cpu_us_per_env_step']:.1f} | {floors[r['domain'], r['num_envs']]['cpu_us_per_round_trip']:.1f} |"
        for r in results["loop"]
    ]
    return "\n".join(lines)


def parse_settings(argv: Sequence[str] | None) -> tuple[Settings, Path]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"tiny settings that run in a few seconds ({QUICK})")
    parser.add_argument("--seconds", type=float, help="time budget of each measurement (default 2.0)")
    parser.add_argument("--repeats", type=int, help="passes over the hostile list per domain (default 20)")
    parser.add_argument("--warmup", type=int, help="untimed rounds before each measurement (default 3)")
    parser.add_argument("--split", choices=("train", "test", "ood"), help="frozen split the envs serve (default train)")
    parser.add_argument(
        "--domains", nargs="+", choices=tuple(DOMAIN_ENV_IDS), help="domains of the per-domain sections"
    )
    parser.add_argument(
        "--vector-domains",
        nargs="+",
        choices=tuple(DOMAIN_ENV_IDS),
        help="domains of the vector section (default calc)",
    )
    parser.add_argument("--vector-envs", nargs="+", type=int, help="numbers of sub-envs (default 1 2 4 8)")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_JSON, help=f"write the results here (default {DEFAULT_JSON})"
    )
    retire_flags(parser, ["--json"])
    args = parser.parse_args(argv)
    values: dict[str, Any] = dict(QUICK, quick=True) if args.quick else {}
    for name in ("seconds", "repeats", "warmup", "split", "domains", "vector_domains", "vector_envs"):
        value = getattr(args, name)
        if value is not None:
            values[name] = tuple(value) if isinstance(value, list) else value
    settings = Settings(**values)
    if settings.seconds <= 0 or settings.repeats < 1 or settings.warmup < 0 or min(settings.vector_envs) < 1:
        parser.error("--seconds must be positive, --repeats and --vector-envs at least 1, --warmup at least 0")
    return settings, args.out


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
