"""``ToolUseEnv``: one tool-use task per episode, one assistant turn per step.

Spaces
    Observation and action are text (:class:`~mentor_env.core.spaces.UnicodeText`).
    The action is the raw text the model generated for one turn. The
    observation is the text the environment appends to the conversation: the
    rendered prompt (ChatML with the tool specs) on ``reset``, then the tool
    responses (``<tool_response>...</tool_response>``) or error messages.

Episode
    A turn with ``<tool_call>`` blocks executes them and returns their results.
    A turn without a tool call ends the episode (``terminated``) and is judged,
    as the model stopping does in the published rollouts. ``max_turns`` turns
    without an end truncate the episode, which then scores as a rollout that
    never ended (0.0).

Reward
    ``reward_mode`` picks what ``step`` returns (see :mod:`mentor_env.rewards`):
    ``sparse``, ``mentor``, ``mentor_partial``, ``mentor_nomatch``,
    ``mentor_f1`` pay on the last step only; ``dense`` pays ``mentor`` at the end
    plus potential-based shaping toward the teacher on every step.

Info (every step)
    ``teacher_reward`` (this step's dense reward), ``sparse_reward``,
    ``rewards`` (every mode's reward for this step), ``reward_components``,
    ``tool_calls`` (this turn's parsed calls), ``errors`` (``"category: message"``
    strings; categories in :data:`mentor_env.core.tools.ERROR_CATEGORIES`),
    ``messages`` (the whole conversation), ``tools`` (the tool specs),
    ``turn``, ``task_id``, ``final_answer``. The teacher's reference trajectory
    is at ``env.unwrapped.task`` and not in ``info``, which would show the
    answer to the agent.

Arguments
    domain: the :class:`~mentor_env.core.domain.Domain` that supplies tools,
        tasks and the judge.
    reward_mode: one of :data:`mentor_env.rewards.REWARD_MODES`.
    max_turns: assistant turns before truncation.
    difficulty: fixed difficulty of generated tasks (``None``: a random level).
    split: serve a frozen split, ``"train"``, ``"test"`` or ``"ood"``
        (:mod:`mentor_env.core.splits`) instead of generating tasks.
    dataset: serve the tasks of a JSONL file (our task records or the
        published MENTOR layout).
    tasks: serve a fixed list of :class:`~mentor_env.core.task.Task`.
        With any of these three, ``reset`` draws one task per episode;
        with none, it generates a fresh task from the seed.
    parser: a :class:`~mentor_env.core.parsing.ToolCallParser`.
    shaping_weight, shaping_gamma: scale of the potential and the discount of
        the shaping term in ``dense``.
    max_calls_per_turn: calls beyond this in one turn are refused.
    max_action_chars: longer actions are refused with an error observation.
    tool_timeout_s: wall-clock limit of one tool call.
    render_mode: ``"ansi"`` returns the conversation as ChatML text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import gymnasium as gym

from mentor_env import rewards as R
from mentor_env.core.domain import Domain
from mentor_env.core.messages import (
    assistant_message,
    render_conversation,
    render_tool_responses,
    system_message,
    tool_message,
    user_message,
)
from mentor_env.core.parsing import HermesParser, ParsedTurn, ToolCallParser
from mentor_env.core.spaces import UnicodeText
from mentor_env.core.splits import load_split, read_jsonl
from mentor_env.core.task import Task
from mentor_env.core.tools import (
    INVALID_ACTION,
    PARSE_ERROR,
    ToolResult,
    ToolRuntime,
    error_result,
    truncate,
)
from mentor_env.core.trajectory import Trajectory, Turn

MAX_OBSERVATION_CHARS = 32_768
MAX_ACTION_CHARS = 65_536


class ToolUseEnv(gym.Env[str, str]):
    """A Gymnasium environment over a tool-use :class:`Domain` (see module doc)."""

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        domain: Domain,
        reward_mode: str = "mentor",
        max_turns: int = 8,
        difficulty: int | None = None,
        split: str | None = None,
        dataset: str | Path | None = None,
        tasks: Sequence[Task] | None = None,
        parser: ToolCallParser | None = None,
        shaping_weight: float = R.DEFAULT_SHAPING_WEIGHT,
        shaping_gamma: float = 1.0,
        max_calls_per_turn: int = 16,
        max_action_chars: int = MAX_ACTION_CHARS,
        tool_timeout_s: float = 2.0,
        render_mode: str | None = None,
    ) -> None:
        if reward_mode not in R.REWARD_MODES:
            raise ValueError(f"reward_mode must be one of {R.REWARD_MODES}, got {reward_mode!r}")
        if max_turns < 1:
            raise ValueError(f"max_turns must be at least 1, got {max_turns}")
        if difficulty is not None and difficulty not in domain.difficulties:
            raise ValueError(
                f"difficulty must be one of {list(domain.difficulties)} for domain {domain.name!r}, got {difficulty}"
            )
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        if sum(source is not None for source in (split, dataset, tasks)) > 1:
            raise ValueError("pass at most one of split, dataset and tasks")
        if split is not None:
            tasks = load_split(domain, split)
        elif dataset is not None:
            tasks = read_jsonl(dataset, default_domain=domain.name)
        if tasks is not None and len(tasks) == 0:
            raise ValueError("tasks is empty; pass None to generate tasks from the seed")
        foreign = sorted({task.domain for task in tasks or ()} - {domain.name})
        if foreign:
            raise ValueError(f"tasks of domain(s) {foreign} cannot be played in the {domain.name!r} environment")
        self.domain = domain
        self.reward_mode = reward_mode
        self.max_turns = max_turns
        self.difficulty = difficulty
        self.tasks = list(tasks) if tasks is not None else None
        self._tasks_by_id = {task.id: task for task in self.tasks} if self.tasks else {}
        self.parser: ToolCallParser = parser if parser is not None else HermesParser()
        self.shaping_weight = shaping_weight
        self.shaping_gamma = shaping_gamma
        self.max_calls_per_turn = max_calls_per_turn
        self.max_action_chars = max_action_chars
        self.render_mode = render_mode
        self.runtime = ToolRuntime(domain.tools, timeout_s=tool_timeout_s)

        self.observation_space = UnicodeText(MAX_OBSERVATION_CHARS)
        self.action_space = UnicodeText(max_action_chars)

        self.task: Task | None = None
        self.trajectory = Trajectory()
        self._potential = 0.0
        self._teacher_calls: list[tuple[str, Any]] = []
        # (trajectory, teacher calls, turns fed, tracker) behind _teacher_progress.
        self._progress: tuple[Trajectory, list[tuple[str, Any]], int, R.TeacherProgress] | None = None

    # --- Gymnasium API -----------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Start an episode.

        Options:
            task: a :class:`Task` (or task record dict) to play.
            task_id: the id of one of ``tasks``, or for generated tasks an id
                of the form ``"<domain>-<seed>"``.
            difficulty: difficulty of the generated task.
        """
        super().reset(seed=seed)
        self.task = self._select_task(options or {})
        self.trajectory = Trajectory(
            messages=[system_message(self.domain.system_prompt), user_message(self.task.question)]
        )
        self._teacher_calls = [(call.name, call.arguments) for call in self.task.teacher.calls]
        self._potential = 0.0
        observation = self._fit_observation(render_conversation(self.trajectory.messages, self.runtime.specs))
        return observation, self._info(ParsedTurn(content=""), [], step_rewards=None, components=None)

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Play one assistant turn; never raises on what the model wrote."""
        if self.task is None:
            raise RuntimeError("call reset() before step()")
        if self.trajectory.done:
            raise RuntimeError("the episode is over; call reset() to start a new one")

        problem = self._action_problem(action)
        if problem is not None:
            text = action if isinstance(action, str) else ""
            parsed = ParsedTurn(content=truncate(text, 1_000))
            results = [error_result(None, INVALID_ACTION, problem)]
            self.trajectory.messages.append(assistant_message(parsed.content))
            self.trajectory.messages.append(tool_message(None, results[0].shown))
            observation = render_tool_responses([results[0].shown])
        else:
            parsed = self.parser.parse(action)
            results = self._execute(parsed) if parsed.has_tool_markup else []
            ok_calls = [(call.name, call.arguments) for call in parsed.calls[: self.max_calls_per_turn] if call.ok]
            self.trajectory.messages.append(assistant_message(parsed.content, ok_calls))
            self.trajectory.messages.extend(tool_message(result.name, result.shown) for result in results)
            observation = render_tool_responses([result.shown for result in results]) if results else ""
            self.trajectory.ended = not parsed.has_tool_markup

        errors = [result.error for result in results if not result.ok]
        self.trajectory.turns.append(Turn(action if isinstance(action, str) else repr(action)[:200], parsed, tuple(results), tuple(errors)))
        if not self.trajectory.ended and len(self.trajectory.turns) >= self.max_turns:
            self.trajectory.truncated = True

        step_rewards, components = self._step_rewards()
        reward = step_rewards[self.reward_mode]
        info = self._info(parsed, results, step_rewards, components)
        return self._fit_observation(observation), reward, self.trajectory.ended, self.trajectory.truncated, info

    def render(self) -> str | None:
        """The conversation so far as ChatML text (``render_mode="ansi"``)."""
        if self.render_mode != "ansi":
            return None
        return render_conversation(self.trajectory.messages, self.runtime.specs, add_generation_prompt=False)

    # --- episode pieces ----------------------------------------------------

    def _select_task(self, options: dict[str, Any]) -> Task:
        unknown = set(options) - {"task", "task_id", "difficulty"}
        if unknown:
            raise ValueError(f"unknown reset options {sorted(unknown)}; expected task, task_id or difficulty")
        if "task" in options:
            task = options["task"]
            return task if isinstance(task, Task) else Task.from_dict(task, default_domain=self.domain.name)
        task_id = options.get("task_id")
        if self.tasks is not None:
            if task_id is not None:
                if task_id not in self._tasks_by_id:
                    raise ValueError(f"no task with id {task_id!r} among the {len(self.tasks)} tasks of this env")
                return self._tasks_by_id[task_id]
            return self.tasks[int(self.np_random.integers(len(self.tasks)))]
        difficulty = options.get("difficulty", self.difficulty)
        if task_id is not None:
            match = re.fullmatch(rf"{re.escape(self.domain.name)}-(ood-)?(\d+)", task_id) if isinstance(task_id, str) else None
            if match is None:
                raise ValueError(
                    f"generated task ids look like '{self.domain.name}-<seed>' or '{self.domain.name}-ood-<seed>', got {task_id!r}"
                )
            return self.domain.generate(int(match.group(2)), difficulty, ood=match.group(1) is not None)
        return self.domain.generate(int(self.np_random.integers(2**31 - 1)), difficulty)

    def _action_problem(self, action: Any) -> str | None:
        if not isinstance(action, str):
            return f"the action must be the text the model generated (str), got {type(action).__name__}"
        if len(action) > self.max_action_chars:
            return f"the turn is {len(action)} characters long; the limit is {self.max_action_chars}"
        return None

    def _execute(self, parsed: ParsedTurn) -> list[ToolResult]:
        """One result per call block, up to ``max_calls_per_turn``; one error for the rest."""
        results = []
        for call in parsed.calls[: self.max_calls_per_turn]:
            if call.ok:
                results.append(self.runtime.execute(call.name, call.arguments))
            else:
                results.append(
                    error_result(
                        call.name,
                        PARSE_ERROR,
                        f'{call.error}. Write {{"name": ..., "arguments": {{...}}}} inside <tool_call></tool_call>',
                    )
                )
        excess = len(parsed.calls) - self.max_calls_per_turn
        if excess > 0:
            results.append(
                error_result(None, INVALID_ACTION, f"at most {self.max_calls_per_turn} tool calls per turn; {excess} more were not run")
            )
        return results

    def outcome(self) -> R.Outcome:
        """The episode as the reward functions see it (meaningful once it is done)."""
        assert self.task is not None
        gold = self.task.answer
        return R.outcome_from_turns(
            [turn.parsed for turn in self.trajectory.turns],
            ended=self.trajectory.ended,
            is_correct=lambda answer: self.domain.judge(answer, gold),
            teacher_tools=self.task.teacher.tool_names,
            available_tools=self.runtime.names,
        )

    def _step_rewards(self) -> tuple[dict[str, float], dict[str, float]]:
        progress = self._teacher_progress()
        # The final state's potential is 0, so the shaping sums to zero over an episode.
        potential = 0.0 if self.trajectory.done else self.shaping_weight * progress
        shaping = R.shaping_reward(self._potential, potential, self.shaping_gamma)
        self._potential = potential
        if self.trajectory.done:
            outcome = self.outcome()
            step_rewards, components = R.episode_scores(outcome)
        else:
            step_rewards = {mode: 0.0 for mode in R.REWARD_MODES}
            components = {}
        step_rewards["dense"] = step_rewards["dense"] + shaping
        components.update({"teacher_progress": progress, "potential": potential, "shaping": shaping})
        return step_rewards, components

    def _teacher_progress(self) -> float:
        """``R.teacher_progress(trajectory.successful_calls(), teacher calls)``, fed only the turns new since the last call."""
        turns = self.trajectory.turns
        cached = self._progress
        if cached is None or cached[0] is not self.trajectory or cached[1] is not self._teacher_calls or cached[2] > len(turns):
            cached = (self.trajectory, self._teacher_calls, 0, R.TeacherProgress(self._teacher_calls))
        tracker = cached[3]
        for turn in turns[cached[2] :]:
            tracker.extend(turn.successful_calls())
        self._progress = (cached[0], cached[1], len(turns), tracker)
        return tracker.value

    def _info(
        self,
        parsed: ParsedTurn,
        results: list[ToolResult],
        step_rewards: dict[str, float] | None,
        components: dict[str, float] | None,
    ) -> dict[str, Any]:
        step_rewards = step_rewards or {mode: 0.0 for mode in R.REWARD_MODES}
        assert self.task is not None
        return {
            "teacher_reward": step_rewards["dense"],
            "sparse_reward": step_rewards["sparse"],
            "rewards": dict(step_rewards),
            "reward_components": dict(components or {}),
            "tool_calls": [
                {"name": call.name, "arguments": call.arguments, "error": call.error} for call in parsed.calls
            ],
            "errors": [result.error for result in results if not result.ok],
            "messages": [dict(message) for message in self.trajectory.messages],
            "tools": self.runtime.specs,
            "turn": len(self.trajectory.turns),
            "task_id": self.task.id,
            "final_answer": self.trajectory.final_answer,
        }

    @staticmethod
    def _fit_observation(text: str) -> str:
        return truncate(text, MAX_OBSERVATION_CHARS)
