"""``ToolUseEnv``: one tool-use task per episode, one assistant turn per step.

The class's docstring is the reference: its spaces, how an episode starts and ends, the rewards, ``info`` and
every constructor argument (``help(ToolUseEnv)``, or the docs page of :class:`ToolUseEnv`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import operator
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Sequence

import gymnasium as gym

from mentor_env.core import rewards as R
from mentor_env.core.clock import TurnBudget
from mentor_env.core.domain import Domain, EpisodeJudgeDomain, TaskToolsDomain
from mentor_env.core.messages import (
    assistant_message,
    render_conversation,
    render_tool_responses,
    system_message,
    tool_message,
    user_message,
)
from mentor_env.core.parsing import HERMES_CALL_HINT, ParsedTurn, ToolCallParser, literal_reading, pick_tool_parser
from mentor_env.core.spaces import UnicodeText
from mentor_env.core.splits import load_split, read_jsonl
from mentor_env.core.task import Task
from mentor_env.core.text import valid_text
from mentor_env.core.tools import (
    INVALID_ACTION,
    PARSE_ERROR,
    TIMEOUT,
    ToolResult,
    ToolRuntime,
    check_time_limit,
    error_result,
    truncate,
)
from mentor_env.core.trajectory import Trajectory, Turn

MAX_OBSERVATION_CHARS = 32_768
MAX_ACTION_CHARS = 65_536
# Generated task ids carry the generator's seed: "calc-1234" (ASCII digits, below 2**63).
MAX_SEED = 2**63 - 1


class ToolUseEnv(gym.Env[str, str]):
    r"""A Gymnasium environment over a tool-use :class:`Domain`: one task per episode, one assistant turn per step.

    The agent is a language model. ``reset`` gives it a task's prompt; each ``step`` takes the text it wrote for
    one turn, runs the tool calls in it and returns their results, until it answers without a tool call. The
    registered text ids (``gym.make("mentor/Calc-v0", reward_mode="dense")``) fix ``domain``; every other argument
    below is a keyword of ``gym.make``.

    Action space:
        Text (:class:`~mentor_env.core.spaces.UnicodeText`, at most ``max_action_chars`` characters): the raw
        text the model generated for one turn, ``<tool_call>{"name": ..., "arguments": ...}</tool_call>``
        blocks included (read by ``parser``). A turn that is not a ``str``, or is longer than
        ``max_action_chars``, is refused without raising: it reads as an empty turn, the observation is an
        ``invalid_action`` error, and it counts as a turn.

    Observation space:
        Text (:class:`~mentor_env.core.spaces.UnicodeText`, at most ``MAX_OBSERVATION_CHARS`` characters, longer
        text is cut): what the environment appends to the conversation. On ``reset``, the rendered prompt
        (ChatML: the system prompt with the tool specs, the task's question, the assistant's turn opened). After
        a turn with tool calls, their responses (``<tool_response>...</tool_response>``, an error message for a
        call that failed); after the final turn, ``""``.

    Starting state:
        ``reset(seed=..., options=...)`` picks the episode's task: from ``split``, ``dataset`` or ``tasks`` when
        one is given (drawn with the seed), else generated from the seed at a level of ``difficulty``. Options
        ``task`` (a task to play), ``task_id`` and ``difficulty`` choose it instead (see :meth:`reset`).

    Rewards:
        ``reward_mode`` picks what ``step`` returns (:mod:`mentor_env.core.rewards` has the table):
        ``sparse`` and the MENTOR modes (``mentor``, ``mentor_partial``, ``mentor_nomatch``, ``mentor_f1``) pay
        on the last step only, the episode's score; ``dense`` pays ``mentor`` at the end plus potential-based
        shaping toward the teacher's tool calls on every step (``shaping_weight``, ``shaping_gamma``). Every
        mode's reward for the step is in ``info["rewards"]``, whichever one ``step`` returns.

    Episode end:
        Terminated: a turn without tool-call markup ends the episode and is judged, as the model stopping does
        in the published rollouts. Truncated: ``max_turns`` turns without an end; such a rollout scores as one
        that never ended (0.0). ``step`` after the end raises ``RuntimeError``: call ``reset``.

    Info (every step):
        ``teacher_reward`` (this step's ``dense`` reward), ``sparse_reward``, ``rewards`` (every mode's reward
        for this step), ``reward_components``, ``tool_calls`` (this turn's parsed calls), ``errors``
        (``"category: message"`` strings; categories in :data:`mentor_env.core.tools.ERROR_CATEGORIES`),
        ``messages`` (the whole conversation), ``tools`` (the tool specs), ``turn``, ``task_id``,
        ``final_answer``. ``tools`` are the episode's: the domain's, or the task's own for a task that carries
        them (a :class:`~mentor_env.core.domain.TaskToolsDomain`). The teacher's reference trajectory is at
        ``env.unwrapped.task`` and not in ``info``, which would show the answer to the agent.

    Args:
        domain: the :class:`~mentor_env.core.domain.Domain` that supplies the tools, the tasks and the judge.
        reward_mode: what ``step`` returns, one of :data:`mentor_env.core.rewards.REWARD_MODES` (default
            ``"mentor"``).
        max_turns: assistant turns before the episode is truncated (default 8).
        difficulty: a level, or a collection of levels, of ``domain.difficulties``: generated tasks are drawn
            at it, and served tasks (``split``, ``dataset``, ``tasks``) are filtered to it by their
            ``meta["difficulty"]``. ``None`` (default): every level.
        split: serve a frozen split instead of generating tasks: ``"train"``, ``"test"``, ``"ood"`` or one of
            the domain's extra splits (Calc and Dates: ``"ood-reasoning-gym"``) (:mod:`mentor_env.core.splits`).
        dataset: serve the tasks of a JSONL file (our task records or the published MENTOR layout).
        tasks: serve a fixed list of :class:`~mentor_env.core.task.Task` (or task record dicts). With one of
            ``split``, ``dataset`` and ``tasks`` (at most one), ``reset`` draws one of their tasks per episode;
            with none (default), it generates a fresh task from the seed.
        parser: the older name of ``tool_parser``; it takes the same values (pass only one of the two).
        shaping_weight: scale of the potential in ``dense``'s shaping term (default
            :data:`mentor_env.core.rewards.DEFAULT_SHAPING_WEIGHT`, 0.5).
        shaping_gamma: discount of ``dense``'s shaping term, in [0, 1] (default 1.0: the shaping sums to zero
            over an episode).
        max_calls_per_turn: calls beyond this many in one turn are refused with an error (default 16).
        max_action_chars: longer turns are refused with an error observation (default 65,536); the action
            space's length.
        tool_timeout_s: the limit of one tool call, in seconds (default 2.0).
        turn_timeout_s: the budget of all the tool calls of one turn, in seconds (default ``None``:
            ``tool_timeout_s``, so a turn's calls together take no longer than one call may); calls left when
            it is spent are answered with a ``timeout`` error without running. Both limits count the time a call
            is charged: a tool's child-process start-up is not charged, and an isolated call's processor time is
            what counts while a busy machine makes it wait, up to :data:`~mentor_env.core.clock.LOAD_ALLOWANCE`
            times the limit in wall time (see :mod:`mentor_env.core.clock`).
        render_mode: ``"ansi"``: :meth:`render` returns the conversation as ChatML text; ``None`` (default):
            it returns ``None``.
        reward_compat: ``"ours"`` (default) or ``"official"``: score episodes as the published MENTOR reward
            files do, their reading of the text included (:mod:`mentor_env.core.rewards`); ``dense`` is then
            their ``mentor`` plus the same shaping. It needs the ``"hermes"`` tool parser.
        tool_parser: how the model writes its tool calls: a parser name as inference servers name them,
            ``"hermes"`` (default: ``<tool_call>`` JSON blocks), ``"qwen3_coder"``, ``"llama3_json"``,
            ``"pythonic"``, ``"mistral"``, ``"deepseek_v3"`` or ``"openai"`` (gpt-oss harmony); ``"auto"``, read
            from ``chat_template``; or an object with ``parse(text) -> ParsedTurn``
            (:class:`~mentor_env.core.parsing.ToolCallParser`).
        chat_template: the model's tokenizer or its chat-template string, for ``tool_parser="auto"``.

    Raises:
        ValueError, TypeError: an argument out of its range or of the wrong type, naming the argument, what
            was expected and what came.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        domain: Domain,
        reward_mode: str = "mentor",
        max_turns: int = 8,
        difficulty: int | Collection[int] | None = None,
        split: str | None = None,
        dataset: str | Path | None = None,
        tasks: Sequence[Task | Mapping[str, Any]] | None = None,
        parser: str | ToolCallParser | None = None,
        shaping_weight: float = R.DEFAULT_SHAPING_WEIGHT,
        shaping_gamma: float = 1.0,
        max_calls_per_turn: int = 16,
        max_action_chars: int = MAX_ACTION_CHARS,
        tool_timeout_s: float = 2.0,
        turn_timeout_s: float | None = None,
        render_mode: str | None = None,
        reward_compat: str = "ours",
        tool_parser: str | ToolCallParser | None = None,
        chat_template: Any = None,
    ) -> None:
        if reward_mode not in R.REWARD_MODES:
            raise ValueError(f"reward_mode must be one of {R.REWARD_MODES}, got {reward_mode!r}")
        self.max_turns = _count("max_turns", max_turns, minimum=1)
        self.max_calls_per_turn = _count("max_calls_per_turn", max_calls_per_turn, minimum=1)
        self.max_action_chars = _count("max_action_chars", max_action_chars, minimum=1)
        self.shaping_weight = _finite("shaping_weight", shaping_weight)
        self.shaping_gamma = _finite("shaping_gamma", shaping_gamma)
        if not 0.0 <= self.shaping_gamma <= 1.0:
            raise ValueError(f"shaping_gamma must be a discount in [0, 1], got {shaping_gamma!r}")
        self.tool_timeout_s = check_time_limit("tool_timeout_s", tool_timeout_s)
        self.turn_timeout_s = (
            self.tool_timeout_s if turn_timeout_s is None else check_time_limit("turn_timeout_s", turn_timeout_s)
        )
        # A name ("llama3_json"), "auto" (from chat_template: the tokenizer or its template) or an object.
        chosen_parser = pick_tool_parser(parser, tool_parser, chat_template)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.domain = domain
        self.difficulty = self._levels("difficulty", difficulty)
        self.reward_mode = reward_mode
        self.tasks = self._served_source(split, dataset, tasks)
        self._tasks_by_id = {task.id: task for task in self.tasks} if self.tasks else {}
        # Served tasks of each level, for the difficulty filter.
        self._tasks_by_level: dict[Any, list[Task]] = {}
        for task in self.tasks or ():
            self._tasks_by_level.setdefault(task.meta.get("difficulty"), []).append(task)
        if self.tasks is not None and self.difficulty is not None:
            self._served_tasks(self.difficulty)  # refuse a filter that matches no task now, not at reset
        self.parser: ToolCallParser = chosen_parser
        self.reward_compat = R.check_compat(reward_compat, self.parser)  # ValueError on anything else
        self.render_mode = render_mode
        self.runtime = ToolRuntime(domain.tools, timeout_s=self.tool_timeout_s)
        self._domain_runtime = self.runtime  # tasks with their own tools get an episode runtime (reset)

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
            difficulty: a level (or collection of levels) for this reset, as
                the ``difficulty`` argument: for generated and served tasks alike.

        Raises:
            ValueError, TypeError: bad options, naming what was expected. The
                env is then as it was before the call (the episode in progress
                and the random stream included).
        """
        rng_before = (self._np_random, self._np_random_seed)
        super().reset(seed=seed)
        try:
            task = self._select_task({} if options is None else options)
            runtime, system_prompt = self._episode_setup(task)
        except Exception:
            self._np_random, self._np_random_seed = rng_before
            raise
        if self.runtime is not self._domain_runtime and self.runtime is not runtime:
            self.runtime.close()
        self.runtime = runtime
        self.task = task
        self.trajectory = Trajectory(messages=[system_message(system_prompt), user_message(self.task.question)])
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

        text, problem = self._action_problem(action)
        text = valid_text(text)  # what the model wrote, as valid text: the conversation and info are sent everywhere
        if problem is not None:
            # A refused turn reads as an empty one, literally too (compat="official" scores it as no call, no answer).
            parsed = ParsedTurn(content=truncate(text, 1_000), literal=literal_reading(""))
            results = [error_result(None, INVALID_ACTION, problem)]
            self.trajectory.messages.append(assistant_message(parsed.content))
            self.trajectory.messages.append(tool_message(None, results[0].shown))
            observation = render_tool_responses([results[0].shown])
        else:
            parsed = self.parser.parse(text)
            results = self.execute_calls(parsed) if parsed.has_tool_markup else []
            # A call that parsed (``ok``) has its name and arguments; the checks say so to the type checker too.
            ok_calls = [
                (call.name, call.arguments)
                for call in parsed.calls[: self.max_calls_per_turn]
                if call.ok and call.name is not None and call.arguments is not None
            ]
            self.trajectory.messages.append(assistant_message(parsed.content, ok_calls))
            self.trajectory.messages.extend(tool_message(result.name, result.shown) for result in results)
            observation = render_tool_responses([result.shown for result in results]) if results else ""
            self.trajectory.ended = not parsed.has_tool_markup

        errors = [result.error for result in results if result.error is not None]
        self.trajectory.turns.append(Turn(text, parsed, tuple(results), tuple(errors)))
        if not self.trajectory.ended and len(self.trajectory.turns) >= self.max_turns:
            self.trajectory.truncated = True

        step_rewards, components = self._step_rewards()
        reward = step_rewards[self.reward_mode]
        info = self._info(parsed, results, step_rewards, components)
        return self._fit_observation(observation), reward, self.trajectory.ended, self.trajectory.truncated, info

    def close(self) -> None:
        """Stop the child process of isolated tools, if one runs (a later step starts another)."""
        self.runtime.close()
        if self._domain_runtime is not self.runtime:
            self._domain_runtime.close()
        super().close()

    def render(self) -> str | None:
        """The conversation so far as ChatML text (``render_mode="ansi"``)."""
        if self.render_mode != "ansi":
            return None
        return render_conversation(self.trajectory.messages, self.runtime.specs, add_generation_prompt=False)

    # --- episode pieces ----------------------------------------------------

    def _select_task(self, options: Any) -> Task:
        if not isinstance(options, Mapping):
            raise TypeError(f"reset options must be a dict, got {type(options).__name__}")
        unknown = set(options) - {"task", "task_id", "difficulty"}
        if unknown:
            raise ValueError(f"unknown reset options {sorted(map(str, unknown))}; expected task, task_id or difficulty")
        if "task" in options:
            return self._given_task(options["task"])
        difficulty = (
            self._levels("reset option difficulty", options["difficulty"])
            if "difficulty" in options
            else self.difficulty
        )
        task_id = options.get("task_id")
        if task_id is not None and not isinstance(task_id, str):
            raise TypeError(f"task_id must be a str, got {type(task_id).__name__}")
        if self.tasks is not None:
            if task_id is not None:
                if task_id not in self._tasks_by_id:
                    raise ValueError(
                        f"no task with id {truncate(task_id, 80)!r} among the {len(self.tasks)} tasks of this env"
                    )
                return self._tasks_by_id[task_id]
            served = self._served_tasks(difficulty)
            return served[int(self.np_random.integers(len(served)))]
        if task_id is not None:
            match = re.fullmatch(rf"{re.escape(self.domain.name)}-(ood-)?([0-9]{{1,19}})", task_id)
            if match is None or int(match.group(2)) > MAX_SEED:
                raise ValueError(
                    f"generated task ids look like '{self.domain.name}-<seed>' or '{self.domain.name}-ood-<seed>' "
                    f"with a seed of ASCII digits up to {MAX_SEED}, got {truncate(task_id, 80)!r}"
                )
            return self.domain.generate(
                int(match.group(2)), self._draw_level(difficulty), ood=match.group(1) is not None
            )
        seed = int(self.np_random.integers(2**31 - 1))
        return self.domain.generate(seed, self._draw_level(difficulty))

    def _served_source(self, split: str | None, dataset: str | Path | None, tasks: Any) -> list[Task] | None:
        """The tasks to serve from ``split``, ``dataset`` or ``tasks`` (``None``: generate them)."""
        if sum(source is not None for source in (split, dataset, tasks)) > 1:
            raise ValueError("pass at most one of split, dataset and tasks")
        if split is not None:
            tasks = load_split(self.domain, split)
        elif dataset is not None:
            tasks = read_jsonl(dataset, default_domain=self.domain.name)
        elif tasks is not None:
            tasks = self._task_list(tasks)
        else:
            return None
        if len(tasks) == 0:
            raise ValueError("tasks is empty; pass None to generate tasks from the seed")
        foreign = sorted({task.domain for task in tasks} - {self.domain.name})
        if foreign:
            raise ValueError(f"tasks of domain(s) {foreign} cannot be played in the {self.domain.name!r} environment")
        return list(tasks)

    def _episode_setup(self, task: Task) -> tuple[ToolRuntime, str]:
        """The tool runtime and system prompt of ``task``'s episode.

        A task without tools of its own plays with the domain's; one with
        :attr:`Task.tools` needs a :class:`TaskToolsDomain` to build them.
        """
        if not task.tools:
            return self._domain_runtime, self.domain.system_prompt
        if not isinstance(self.domain, TaskToolsDomain):
            raise ValueError(
                f"task {task.id!r} carries its own tools, but domain {self.domain.name!r} cannot serve per-task tools "
                "(it has no task_tools / task_system_prompt methods)"
            )
        runtime = ToolRuntime(self.domain.task_tools(task), timeout_s=self.tool_timeout_s)
        return runtime, self.domain.task_system_prompt(task)

    def _given_task(self, option: object) -> Task:
        if isinstance(option, Mapping):
            task = Task.from_dict(option, default_domain=self.domain.name)
        elif isinstance(option, Task):
            task = option
        else:
            raise TypeError(f"the reset option task must be a Task or a task record dict, got {type(option).__name__}")
        if task.domain != self.domain.name:
            raise ValueError(f"task {task.id!r} is of domain {task.domain!r}; this env plays {self.domain.name!r}")
        return task

    def _task_list(self, tasks: Any) -> list[Task]:
        if isinstance(tasks, (str, bytes, Mapping)) or not isinstance(tasks, Sequence):
            raise TypeError(f"tasks must be a list of Task objects or task record dicts, got {type(tasks).__name__}")
        listed = []
        for index, task in enumerate(tasks):
            if isinstance(task, Mapping):
                task = Task.from_dict(task, default_domain=self.domain.name)
            elif not isinstance(task, Task):
                raise TypeError(f"tasks[{index}] must be a Task or a task record dict, got {type(task).__name__}")
            listed.append(task)
        return listed

    def _levels(self, name: str, difficulty: Any) -> int | tuple[int, ...] | None:
        """``difficulty`` checked against the domain's levels (an int, a sorted tuple, or ``None``)."""
        if difficulty is None:
            return None
        # A 0-d array is one level; strings are not collections of levels.
        single = (
            not isinstance(difficulty, Collection)
            or isinstance(difficulty, (str, bytes))
            or getattr(difficulty, "ndim", 1) == 0
        )
        levels = [difficulty] if single else list(difficulty)
        wrong = [level for level in levels if isinstance(level, bool) or level not in self.domain.difficulties]
        if wrong or not levels:
            raise ValueError(
                f"{name} must be one of {list(self.domain.difficulties)} (or a collection of them) "
                f"for domain {self.domain.name!r}, got {difficulty!r}"
            )
        return int(levels[0]) if single else tuple(sorted({int(level) for level in levels}))

    def served_tasks(self) -> list[Task] | None:
        """The tasks a reset draws from, in order: the fixed tasks (``split``, ``dataset`` or ``tasks``) at this
        env's ``difficulty`` filter, as a new list; None when each reset generates its task from the seed."""
        return None if self.tasks is None else list(self._served_tasks(self.difficulty))

    def _served_tasks(self, difficulty: int | tuple[int, ...] | None) -> list[Task]:
        assert self.tasks is not None
        if difficulty is None:
            return self.tasks
        levels = (difficulty,) if isinstance(difficulty, int) else difficulty
        served = [task for level in levels for task in self._tasks_by_level.get(level, ())]
        if not served:
            known = sorted(str(level) for level in self._tasks_by_level)
            raise ValueError(
                f"none of the {len(self.tasks)} tasks has difficulty {difficulty!r} "
                f"(their meta['difficulty'] values: {', '.join(known)})"
            )
        # In the served order, so that a seed draws the same task whatever the filter's order.
        return served if len(levels) == 1 else [task for task in self.tasks if task.meta.get("difficulty") in levels]

    def _draw_level(self, difficulty: int | tuple[int, ...] | None) -> int | None:
        if difficulty is None or isinstance(difficulty, int):
            return difficulty
        return difficulty[int(self.np_random.integers(len(difficulty)))]

    def _action_problem(self, action: Any) -> tuple[str, str | None]:
        """The action as plain text, and why it is refused (``None``: it is not).

        Only ``str`` and its subclasses are text; a subclass is copied to a plain
        ``str`` first, so none of its own methods run. Nothing else is inspected
        beyond its type name (``repr`` of a deep or huge object is slow or raises).
        """
        if not issubclass(type(action), str):
            return "", f"the action must be the text the model generated (str), got {_type_name(action)}"
        text = str.__str__(action)
        if len(text) > self.max_action_chars:
            return text, f"the turn is {len(text)} characters long; the limit is {self.max_action_chars}"
        return text, None

    def execute_calls(self, parsed: ParsedTurn) -> list[ToolResult]:
        """Run a parsed turn's calls as :meth:`step` does: one result per call block, up to ``max_calls_per_turn``; one error for the rest.

        Adapters whose trainer runs the calls of a turn (TRL, verl) use it, so
        a call there is answered exactly as in :meth:`step`.

        The calls share one time budget, ``turn_timeout_s`` of charged time
        (see :mod:`mentor_env.core.clock`): each runs with at most what is left
        of it, and those after it is spent, or after a busy machine stretched
        the turn past its wall bound, are not run.
        """
        results = []
        budget = TurnBudget(self.turn_timeout_s)
        hint = getattr(self.parser, "call_hint", HERMES_CALL_HINT)  # how to write a call in the parser's format
        for call in parsed.calls[: self.max_calls_per_turn]:
            if not call.ok:
                results.append(error_result(call.name, PARSE_ERROR, f"{call.error}. {hint}"))
            elif budget.spent_by_calls():
                results.append(
                    error_result(
                        call.name,
                        TIMEOUT,
                        f"not run: this turn's {self.turn_timeout_s:g} s budget for tool calls was spent by the calls "
                        "before it; make fewer or cheaper calls in one turn",
                    )
                )
            elif budget.spent_by_machine():
                results.append(
                    error_result(
                        call.name,
                        TIMEOUT,
                        "not run: the machine is busy and this turn's calls took too long to run; "
                        "the call itself was not at fault, it can be made again unchanged",
                    )
                )
            else:
                result = self.runtime.execute(call.name, call.arguments, budget.left_s())
                budget.charge(result.charged_s)
                results.append(result)
        excess = len(parsed.calls) - self.max_calls_per_turn
        if excess > 0:
            results.append(
                error_result(
                    None,
                    INVALID_ACTION,
                    f"at most {self.max_calls_per_turn} tool calls per turn; {excess} more were not run",
                )
            )
        return results

    def outcome(self) -> R.Outcome:
        """The episode as the reward functions see it (meaningful once it is done)."""
        assert self.task is not None
        gold = self.task.answer
        outcome = R.outcome_from_turns(
            [turn.parsed for turn in self.trajectory.turns],
            ended=self.trajectory.ended,
            is_correct=lambda answer: self.domain.judge(answer, gold),
            teacher_tools=self.task.teacher.tool_names,
            available_tools=self.runtime.names,
            compat=self.reward_compat,
        )
        if isinstance(self.domain, EpisodeJudgeDomain):
            # The calls are the answer: judged by the domain, shown as their JSON list.
            calls = [{"name": name, "arguments": arguments} for name, arguments in self.trajectory.successful_calls()]
            correct = self.trajectory.ended and self.domain.judge_episode(self.task, self.trajectory)
            outcome = dataclasses.replace(outcome, answer=json.dumps(calls, ensure_ascii=False), correct=bool(correct))
        return outcome

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
        for mode in R.REWARD_MODES:
            if mode not in R.TERMINAL_MODES:  # a shaped mode (dense): shaping on every step
                step_rewards[mode] = step_rewards[mode] + shaping
        components.update({"teacher_progress": progress, "potential": potential, "shaping": shaping})
        return step_rewards, components

    def _teacher_progress(self) -> float:
        """``R.teacher_progress(trajectory.successful_calls(), teacher calls)``, fed only the turns new since the last call."""
        turns = self.trajectory.turns
        cached = self._progress
        if (
            cached is None
            or cached[0] is not self.trajectory
            or cached[1] is not self._teacher_calls
            or cached[2] > len(turns)
        ):
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


def current_task(env: gym.Env[Any, Any]) -> Task:
    """The task of ``env``'s current episode (``env.unwrapped.task``, under any wrappers).

    Raises:
        TypeError: ``env`` holds no task: it has not been reset, or it is not one of this suite's envs.
    """
    task = getattr(env.unwrapped, "task", None)
    if not isinstance(task, Task):
        raise TypeError(
            f"expected a mentor-env env after reset (its unwrapped env holds the episode's Task), "
            f"got {type(env.unwrapped).__name__} whose task is {task!r}"
        )
    return task


def _type_name(value: Any) -> str:
    try:
        return str(type(value).__name__)
    except Exception:  # a metaclass whose __name__ raises
        return "object"


def _count(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int of at least ``minimum`` (numpy integers too), or an error naming ``name``."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got bool {value!r}")
    try:
        count = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}") from None
    if count < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {count}")
    return count


def _finite(name: str, value: Any) -> float:
    """``value`` as a finite float (numpy floats too), or an error naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)
