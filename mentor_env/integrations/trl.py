r"""MENTOR rewards for TRL's ``GRPOTrainer`` (and any trainer with TRL's reward-function convention).

Reward functions
    ``sparse_reward``, ``mentor_reward``, ``mentor_partial_reward``,
    ``mentor_nomatch_reward`` and ``mentor_f1_reward`` (also in
    :data:`REWARD_FUNCS`, by mode) are what ``GRPOTrainer(reward_funcs=...)``
    calls: ``reward(prompts=..., completions=..., completion_ids=...,
    trainer_state=..., log_extra=..., log_metric=..., **columns) -> list[float]``,
    where ``completions`` are strings (standard format) or lists of chat
    messages (conversational format) and every dataset column other than
    ``prompt`` arrives as a keyword list, one value per completion. They read the
    columns ``answer`` and ``domain`` and one teacher column: ``teacher_tools``
    (or the published ``tool_calls_used``), else ``teacher_messages`` / ``teacher``.
    :func:`to_hf_dataset` writes all of them. TRL logs each under its
    ``__name__`` (``rewards/mentor/mean``, ...).

    The score of each completion is :func:`mentor_env.integrations.scoring.score_completion`,
    the environment's episode score for the same turns. A completion that hit
    ``max_completion_length`` scores as a rollout that never ended (0.0) only if
    the function knows the end-of-sequence token: build it with
    ``reward_func("mentor", eos_token_id=tokenizer.eos_token_id)``; it then checks
    the last of ``completion_ids``, as TRL's own ``clipped_ratio`` does.
    Without it every completion counts as finished (TRL's
    ``mask_truncated_completions=True`` is the other way to leave cut
    completions out of the loss).
    ``reward_func(mode, compat="official")`` gives the published MENTOR reward
    files' numbers instead of ours (the differences: :mod:`mentor_env.core.rewards`).

Why there is no ``dense`` reward function
    ``dense`` is ``mentor`` plus potential-based shaping paid per environment
    step (per assistant turn). GRPO gives one scalar to a whole completion, and
    over a whole episode the shaping telescopes to ``γ·Φ(s_T) − Φ(s_0) = 0``
    (Φ is 0 at the start and at the end, γ = 1): the dense *return* equals the
    ``mentor`` return, so for a single-completion reward ``dense`` is exactly
    ``mentor_reward``. Per-turn credit needs per-turn rewards, which the
    environment's ``step`` provides (``agents/ppo.py``).

Dataset
    :func:`to_hf_dataset` returns a ``datasets.Dataset`` whose ``prompt`` is a
    system + user chat (TRL's conversational format). The installed TRL's
    ``GRPOTrainer`` reads no ``tools`` column (only ``SFTTrainer`` does): it
    renders tools from its own ``tools=`` argument. So by default the tool specs
    are written into the system message, as the environment's prompt has them
    for the model's tokenizer (``to_hf_dataset(..., tokenizer=tokenizer)``;
    without a tokenizer, the Hermes block of JSON specs); pass ``tools_in_prompt=False`` when you give the trainer
    ``tools=trl_tools(domain)`` so that the chat template renders them instead.

Multi-turn tool use
    TRL >= 1.0's ``GRPOTrainer(tools=[...])`` runs a tool loop: it parses each
    generated turn with the tokenizer's ``response_template``, calls the tools,
    appends the results as ``tool`` messages (masked out of the loss) and
    generates again, up to ``max_tool_calling_iterations``; completions then
    arrive as message lists ``[assistant, tool, ..., assistant]``, which the
    reward functions score as multi-turn episodes. :func:`trl_tools` gives the
    domain's tools in that form, executed by the environment's
    :class:`~mentor_env.core.tools.ToolRuntime` (same validation, limits and
    error messages as ``env.step``); :func:`add_hermes_response_template` gives a
    tokenizer whose chat template TRL does not recognise (the tiny student's,
    any ChatML/Hermes template) the parser it needs.
"""

from __future__ import annotations

import inspect
import json
from typing import Any, Iterable, Iterator, Literal, Mapping, Sequence, Union

from mentor_env.core.domain import Domain
from mentor_env.core.messages import render_tools_block
from mentor_env.core.parsing import render_turn, resolve_tool_parser
from mentor_env.core.rewards import TERMINAL_MODES, check_compat, get_reward_mode
from mentor_env.core.splits import load_split
from mentor_env.core.task import Task
from mentor_env.core.tools import ToolRuntime
from mentor_env.integrations import require
from mentor_env.integrations.scoring import resolve_domain, score_completion

__all__ = [
    "EnvReward",
    "HERMES_RESPONSE_TEMPLATE",
    "MentorEnvFactory",
    "MentorReward",
    "MentorToolEnv",
    "REWARD_FUNCS",
    "TRLTool",
    "add_hermes_response_template",
    "environment_factory",
    "mentor_f1_reward",
    "mentor_nomatch_reward",
    "mentor_partial_reward",
    "mentor_reward",
    "reward_func",
    "sparse_reward",
    "system_with_tools",
    "task_row",
    "to_hf_dataset",
    "trl_tools",
]

# Columns the reward functions read the teacher from, in order of preference.
TEACHER_COLUMNS = ("teacher_tools", "tool_calls_used", "teacher_messages", "teacher")


class MentorReward:
    """A TRL reward function for one reward mode (see the module doc).

    Args:
        mode: one of :data:`mentor_env.core.rewards.TERMINAL_MODES`.
        eos_token_id: the end-of-sequence id(s); when given, a completion whose
            last id is not one of them is scored as cut off (never ended).
        domain: the domain of every row, for datasets without a ``domain`` column.
        multi_turn: how to read completions (:func:`mentor_env.integrations.scoring.completion_turns`);
            ``None`` decides from their shape.
        name: the name TRL logs (default: ``mode``).
        compat: ``"ours"`` (default) or ``"official"``, the published MENTOR
            reward files' numbers (:mod:`mentor_env.integrations.scoring`).
        tool_parser: how the model writes tool calls: a parser name
            (``"llama3_json"``, ... :func:`~mentor_env.core.parsing.get_tool_parser`;
            default ``"hermes"``), ``"auto"`` (from ``chat_template``) or a parser object.
        chat_template: the model's tokenizer or chat-template string, for ``tool_parser="auto"``.
    """

    def __init__(
        self,
        mode: str = "mentor",
        *,
        eos_token_id: int | Iterable[int] | None = None,
        domain: str | None = None,
        multi_turn: bool | None = None,
        name: str | None = None,
        compat: str = "ours",
        tool_parser: Any = None,
        chat_template: Any = None,
    ) -> None:
        if get_reward_mode(mode).shaped:
            raise ValueError(
                f"{mode!r} adds per-step shaping that sums to zero over an episode; for a reward on a whole "
                f"completion use one of {TERMINAL_MODES} (dense: 'mentor', the same return)"
            )
        if domain is not None:
            resolve_domain(domain)  # fail early on a typo
        self.parser = None if tool_parser is None else resolve_tool_parser(tool_parser, chat_template)
        self.compat = check_compat(compat, self.parser)
        self.mode = mode
        if eos_token_id is None:
            self.eos_token_ids: frozenset[int] | None = None
        elif isinstance(eos_token_id, int):
            self.eos_token_ids = frozenset([eos_token_id])
        else:
            self.eos_token_ids = frozenset(int(token) for token in eos_token_id)
        self.domain = domain
        self.multi_turn = multi_turn
        self.__name__ = name or mode

    def __repr__(self) -> str:
        return f"MentorReward({self.mode!r}, name={self.__name__!r}, compat={self.compat!r})"

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float]:
        count = len(completions)
        answers = self._column(kwargs, "answer", count)
        domains = [self.domain] * count if self.domain is not None else self._column(kwargs, "domain", count)
        teacher_column = next((key for key in TEACHER_COLUMNS if kwargs.get(key) is not None), None)
        if teacher_column is None and self.mode != "sparse":
            self._missing(kwargs, ["teacher_tools (or tool_calls_used, teacher_messages, teacher)"])
        teachers = self._column(kwargs, teacher_column, count) if teacher_column else [()] * count
        completion_ids = kwargs.get("completion_ids")
        rewards = []
        for index, completion in enumerate(completions):
            teacher_fields = (
                {"teacher_tools": teachers[index]}
                if teacher_column in (None, "teacher_tools", "tool_calls_used")
                else {"teacher": teachers[index]}
            )
            scores = score_completion(
                completion,
                domain=domains[index],
                answer=answers[index],
                finished=self._finished(completion_ids, index),
                multi_turn=self.multi_turn,
                compat=self.compat,
                parser=self.parser,
                **teacher_fields,
            )
            rewards.append(scores[self.mode])
        return rewards

    def _finished(self, completion_ids: Sequence[Sequence[int]] | None, index: int) -> bool:
        if self.eos_token_ids is None or completion_ids is None:
            return True
        ids = completion_ids[index]
        return len(ids) > 0 and int(ids[-1]) in self.eos_token_ids

    def _column(self, kwargs: Mapping[str, Any], key: str, count: int) -> list[Any]:
        values = kwargs.get(key)
        if values is None:
            self._missing(kwargs, [key])
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) != count:
            raise ValueError(
                f"the {self.__name__!r} reward expected the column {key!r} as a list of {count} values (one per "
                f"completion), got {type(values).__name__}"
                + (f" of length {len(values)}" if isinstance(values, Sequence) else "")
            )
        return list(values)

    def _missing(self, kwargs: Mapping[str, Any], keys: list[str]) -> None:
        given = sorted(key for key in kwargs if key not in ("trainer_state", "log_extra", "log_metric"))
        raise ValueError(
            f"the {self.__name__!r} reward needs the dataset column(s) {keys}; it was called with {given}. "
            "Build the dataset with mentor_env.integrations.trl.to_hf_dataset, or add these columns"
        )


def reward_func(mode: str = "mentor", **options: Any) -> MentorReward:
    """A reward function for ``mode`` (options: those of :class:`MentorReward`)."""
    return MentorReward(mode, **options)


sparse_reward = MentorReward("sparse")
mentor_reward = MentorReward("mentor")
mentor_partial_reward = MentorReward("mentor_partial")
mentor_nomatch_reward = MentorReward("mentor_nomatch")
mentor_f1_reward = MentorReward("mentor_f1")


class RewardFuncs(Mapping[str, MentorReward]):
    """A :class:`MentorReward` per terminal mode of the registry, a live view: a mode registered later is in it."""

    def __init__(self, shipped: Iterable[MentorReward]) -> None:
        self._made: dict[str, MentorReward] = {reward.mode: reward for reward in shipped}

    def __getitem__(self, mode: str) -> MentorReward:
        if mode not in TERMINAL_MODES:
            raise KeyError(mode)
        if mode not in self._made:
            self._made[mode] = MentorReward(mode)
        return self._made[mode]

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(TERMINAL_MODES))

    def __len__(self) -> int:
        return len(TERMINAL_MODES)


REWARD_FUNCS = RewardFuncs(
    [sparse_reward, mentor_reward, mentor_partial_reward, mentor_nomatch_reward, mentor_f1_reward]
)


# --- datasets -----------------------------------------------------------------


def system_with_tools(system: str, tools: Sequence[Mapping[str, Any]], tokenizer: Any = None) -> str:
    """The system message with the tool specs written in, as the environment's prompt has them.

    With a ``tokenizer`` whose chat template renders tools, the text is what
    that template writes for ``tools`` (for the tiny student, one-line
    signatures: ~255 prompt tokens instead of ~2,600 for the JSON block), so
    the prompt TRL renders without ``tools=`` is the environment's prompt
    token for token. Otherwise it is the Hermes block of JSON specs, which is
    also what the environment shows a template without tool support.
    """
    block = f"{system}\n\n{render_tools_block(tools)}"
    if (
        tokenizer is None
        or not isinstance(getattr(tokenizer, "chat_template", None), str)
        or "tools" not in tokenizer.chat_template
    ):
        return block
    user = {"role": "user", "content": "Q"}

    def render(content: str, specs: Any) -> str:
        return tokenizer.apply_chat_template(
            [{"role": "system", "content": content}, user], tools=specs, add_generation_prompt=True, tokenize=False
        )

    with_tools, plain = render(system, list(tools)), render(system, None)
    end = plain.find(system) + len(system)
    before, after = plain[:end], plain[end:]
    if end < len(system) or not with_tools.startswith(before) or not with_tools.endswith(after):
        return block
    inserted = with_tools[len(before) : len(with_tools) - len(after)]
    if render(system + inserted, None) != with_tools:  # the template does not put the tools right after the system text
        return block
    return system + inserted


def task_row(task: Task, domain: Domain, tools_in_prompt: bool = True, tokenizer: Any = None) -> dict[str, Any]:
    """One dataset row for ``task`` (see :func:`to_hf_dataset` for the columns)."""
    specs = [tool.spec for tool in domain.tools]
    system = domain.system_prompt
    if tools_in_prompt:
        system = system_with_tools(system, specs, tokenizer)
    return {
        "prompt": [{"role": "system", "content": system}, {"role": "user", "content": task.question}],
        "answer": task.answer,
        "domain": task.domain,
        "task_id": task.id,
        "teacher_tools": list(task.teacher.tool_names),
        "teacher_messages": json.dumps(list(task.teacher.messages), ensure_ascii=False),
        "tools": json.dumps(specs, ensure_ascii=False),
    }


def to_hf_dataset(
    domain: str | Domain,
    split: str = "train",
    *,
    tasks: Sequence[Task] | None = None,
    limit: int | None = None,
    tools_in_prompt: bool = True,
    tokenizer: Any = None,
) -> Any:
    """A Hugging Face ``datasets.Dataset`` of a frozen split, ready for ``GRPOTrainer``.

    Columns:
        prompt: ``[{"role": "system", ...}, {"role": "user", ...}]`` (conversational).
            With ``tools_in_prompt`` (the default) the system message lists the
            tools, because the installed TRL's ``GRPOTrainer`` ignores a ``tools``
            column: as the ``tokenizer``'s chat template writes them when it is
            given (the environment's own prompt, token for token:
            :func:`system_with_tools`), else as the Hermes block of JSON specs.
            Set it to False when the trainer gets ``tools=trl_tools(domain)``
            and the chat template renders them.
        answer: the gold answer (str). domain: the domain name. task_id: the task's id.
        teacher_tools: the teacher's tool names, in order (list of str).
        teacher_messages: the teacher's messages, JSON-encoded (tool-call
            arguments differ from row to row, which an Arrow column cannot hold).
        tools: the tool specs, JSON-encoded (``SFTTrainer`` reads this column).

    Args:
        domain: the domain (name, ``"mentor/<name>"``, env id or object).
        split: ``"train"``, ``"test"`` or ``"ood"``.
        tasks: serve these tasks instead of the split.
        limit: keep the first ``limit`` tasks.
        tokenizer: the trained model's tokenizer (see ``prompt``); pass it.

    Raises:
        ImportError: naming the ``trl`` extra when ``datasets`` is missing.
    """
    datasets = require("datasets")
    resolved = resolve_domain(domain)
    chosen = list(tasks) if tasks is not None else load_split(resolved, split)
    if limit is not None:
        chosen = chosen[:limit]
    foreign = sorted({task.domain for task in chosen} - {resolved.name})
    if foreign:
        raise ValueError(f"tasks of domain(s) {foreign} given for the {resolved.name!r} dataset")
    rows = [task_row(task, resolved, tools_in_prompt, tokenizer) for task in chosen]
    return datasets.Dataset.from_list(rows)


# --- multi-turn tools ---------------------------------------------------------


class TRLTool(dict):
    """A domain tool as ``GRPOTrainer(tools=...)`` takes it.

    It is the tool's JSON spec (a dict, which chat templates render as it is:
    bounds and enums included) and a callable named after the tool that runs
    the call through the environment's :class:`ToolRuntime` and returns the
    text the environment would show (a result or ``"Error (category): ..."``).
    """

    def __init__(self, spec: Mapping[str, Any], runtime: ToolRuntime) -> None:
        super().__init__(spec)
        self.__name__ = str(spec["function"]["name"])
        self.runtime = runtime

    def __call__(self, **arguments: Any) -> str:
        return self.runtime.execute(self.__name__, arguments).shown


def trl_tools(domain: str | Domain, timeout_s: float = 2.0) -> list[TRLTool]:
    """The domain's tools for ``GRPOTrainer(tools=...)`` (one shared runtime)."""
    resolved = resolve_domain(domain)
    runtime = ToolRuntime(resolved.tools, timeout_s=timeout_s)
    return [TRLTool(spec, runtime) for spec in runtime.specs]


# The Hermes / Qwen layout: optional <think>, content, <tool_call>{json}</tool_call> blocks, <|im_end|>.
HERMES_RESPONSE_TEMPLATE: dict[str, Any] = {
    "defaults": {"role": "assistant"},
    "start_anchor": "<|im_start|>assistant\n",
    "fields": {
        "reasoning_content": {"open": "<think>", "close_pattern": r"</think>\s*", "content": "text"},
        "tool_calls": {
            "open": "<tool_call>",
            "close_pattern": r"</tool_call>\s*",
            "repeats": True,
            "content": "json",
            "transform": {"type": "function", "function": "{content}"},
        },
        "content": {"close_pattern": r"<\|im_end\|>\s*", "content": "text"},
    },
}


def add_hermes_response_template(tokenizer: Any) -> Any:
    """Give ``tokenizer`` a response parser for Hermes tool calls, if it has none.

    ``GRPOTrainer(tools=...)`` parses each generated turn with
    ``tokenizer.response_template`` and sets one itself only for chat templates
    it knows (Qwen, Llama 3.1, ...). Call this for a ChatML template with
    Hermes ``<tool_call>`` blocks that it does not know, such as the tiny
    student's. Needs transformers >= 5.13. Returns the tokenizer.
    """
    if getattr(tokenizer, "response_template", None) is None and getattr(tokenizer, "response_schema", None) is None:
        try:
            from trl.chat_template_utils import add_response_schema

            add_response_schema(tokenizer)  # a template TRL knows gets TRL's own parser
        except (ImportError, ValueError):
            tokenizer.response_template = HERMES_RESPONSE_TEMPLATE
    return tokenizer


# --- environment_factory: the env runs the calls ------------------------------

_PYTHON_TYPES: dict[str, type] = {"number": float, "integer": int, "string": str, "boolean": bool, "object": dict}


def _type_hint(schema: Mapping[str, Any]) -> Any:
    """The Python type hint whose JSON schema (transformers' ``get_json_schema``) has ``schema``'s type."""
    kind = schema.get("type")
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return Literal[tuple(schema["enum"])]  # type: ignore[misc]
    if kind == "array":
        items = schema.get("items")
        return list[_type_hint(items)] if isinstance(items, Mapping) and items.get("type") else list  # type: ignore[misc]
    if isinstance(kind, list):
        hints = tuple(_type_hint({"type": item}) for item in kind)
        return Union[hints] if len(hints) > 1 else hints[0]  # type: ignore[valid-type]
    return _PYTHON_TYPES.get(str(kind), str)


def _argument_doc(name: str, schema: Mapping[str, Any]) -> str:
    """One ``Args:`` line: the description and the schema's bounds (an enum is the type hint, a ``Literal``)."""
    from mentor_env.integrations.session import describe_argument

    return f"    {name}: {describe_argument(name, schema)}"


def _tool_method(spec: Mapping[str, Any]) -> Any:
    """A method named after the tool, with the spec's signature and a Google-style docstring.

    TRL (through transformers' ``get_json_schema``) reads the signature's type
    hints and the docstring to render the tool for the model. The method itself
    takes any keyword arguments, so that wrong or missing ones reach the
    environment's validator and get its error message instead of a Python
    ``TypeError``.
    """
    function = spec["function"]
    name = str(function["name"])
    parameters = function.get("parameters", {})
    properties: Mapping[str, Any] = parameters.get("properties", {})
    required = set(parameters.get("required", properties))

    def method(self: "MentorToolEnv", **arguments: Any) -> str:
        return self._call_tool(name, arguments)

    signature_parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    annotations: dict[str, Any] = {}
    for argument, schema in properties.items():
        hint = _type_hint(schema)
        annotations[argument] = hint
        signature_parameters.append(
            inspect.Parameter(
                argument,
                inspect.Parameter.KEYWORD_ONLY,
                default=inspect.Parameter.empty if argument in required else None,
                annotation=hint,
            )
        )
    annotations["return"] = str
    lines = [str(function.get("description") or name).strip(), ""]
    if properties:
        lines += ["Args:"] + [_argument_doc(argument, schema) for argument, schema in properties.items()] + [""]
    lines += ["Returns:", "    The result as text, or an error message saying what was wrong."]
    method.__name__ = name
    method.__qualname__ = f"MentorToolEnv.{name}"
    method.__doc__ = "\n".join(lines)
    method.__signature__ = inspect.Signature(signature_parameters, return_annotation=str)  # type: ignore[attr-defined]
    method.__annotations__ = annotations
    return method


class MentorToolEnv:
    """One episode of a mentor-env text environment, in the shape TRL's ``environment_factory`` takes.

    Do not build it directly: :func:`environment_factory` makes a subclass per
    env id whose public methods are the domain's tools. TRL exposes every
    public method (except ``reset`` and ``get_reward``) as a tool, so this
    class has no other public method; the per-turn values are properties.

    ``reset(**row)`` starts the episode on the row's ``task_id``; each tool
    call runs through the environment (:class:`~mentor_env.integrations.session.EpisodeSession`);
    the reward function of the factory (``factory.reward``) then plays the
    finished completion, final answer included, through ``env.step``.
    """

    _env_id: str = ""
    _reward_mode: str = "mentor"
    _env_kwargs: Mapping[str, Any] = {}

    def __init__(self) -> None:
        from mentor_env.integrations.session import EpisodeSession, make_text_env

        self._session = EpisodeSession(make_text_env(self._env_id, self._reward_mode, **dict(self._env_kwargs)))
        self._scored = False

    def reset(self, **row: Any) -> str | None:
        """Start an episode on the row's task (TRL passes every dataset column).

        The task is the row's ``task_id`` (``to_hf_dataset`` writes it: split
        ids, or ``"<domain>-<seed>"`` ids the env generates). A row without a
        ``prompt`` (TRL's env-owned data) and without a ``task_id`` gets a task
        the env draws; its question is returned, which TRL appends to the
        prompt. With a ``prompt``, nothing is returned (the prompt holds the question).

        Raises:
            ValueError: a ``domain`` column that is not this env's domain, or
                a ``prompt`` without a ``task_id`` (the env could not know the task).
        """
        domain = row.get("domain")
        own = self._session.env.domain.name
        if domain is not None and resolve_domain(str(domain)).name != own:
            raise ValueError(f"the row is of domain {domain!r}; this {self._env_id!r} environment plays {own!r}")
        task_id = row.get("task_id")
        if task_id is None and "prompt" in row:
            raise ValueError(
                "the row has a prompt but no task_id, so the environment cannot know its task; build the dataset "
                f"with to_hf_dataset (it writes task_id), or add the column. Columns given: {sorted(row)}"
            )
        self._session.reset(task_id=None if task_id is None else str(task_id))
        self._scored = False
        if "prompt" in row:
            return None
        assert self._session.env.task is not None
        return self._session.env.task.question

    def get_reward(self) -> float | None:
        """The episode's return, for TRL's env-owned reward; ``None`` once ``factory.reward`` has paid it.

        TRL calls this with no argument after the rollout, so it cannot see the
        model's final answer. When the factory's reward function is among the
        trainer's ``reward_funcs`` it has already played the whole completion
        and returned the score, and this returns ``None`` (TRL then ignores
        this column, so the reward is not counted twice). Alone, it scores the
        calls it ran, one per turn, followed by an empty final turn: an episode
        without an answer (0.1 in every mode).
        """
        if self._scored:
            return None
        session = self._session
        if not session.done:
            for ran in list(session._ran):
                if session.done:
                    break
                session.play_turn(render_turn(session.env.parser, "", [(ran.name, ran.arguments)]))
            if not session.done:
                session.play_turn("")
        return session.episode_return

    # --- per-turn values (properties: TRL would expose a method as a tool) ---

    @property
    def session(self) -> Any:
        """The :class:`~mentor_env.integrations.session.EpisodeSession` (the env is ``session.env``)."""
        return self._session

    @property
    def step_rewards(self) -> list[float]:
        """This episode's reward per turn, in the env's reward mode (per-turn shaping included in ``dense``)."""
        return [step.reward for step in self._session.steps]

    @property
    def episode_return(self) -> float:
        """The sum of :attr:`step_rewards`."""
        return self._session.episode_return

    # --- private -------------------------------------------------------------

    def _call_tool(self, name: str, arguments: Mapping[str, Any]) -> str:
        return self._session.call(name, arguments).shown

    def _finish(self, completion: Any) -> float:
        value = self._session.finish(completion)
        self._scored = True
        return value


class EnvReward:
    """The reward of an :func:`environment_factory` run: each env's return over the executed calls and the final answer.

    TRL passes the rollouts' environments to reward functions
    (``environments=[...]``, one per completion, in order). For each, this
    plays the completion's assistant turns through ``env.step`` (the calls the
    env already ran are not run again) and returns the episode's return in the
    env's reward mode: what ``gym.make`` gives for the same turns. It logs the
    mean turns, tool calls, errors, correctness and every mode's return under
    ``mentor_env/...``. Rows whose environment is not a :class:`MentorToolEnv`
    get ``None`` (TRL ignores them).

    Args:
        name: the name TRL logs (``rewards/<name>/mean``).
    """

    def __init__(self, name: str = "mentor") -> None:
        self.__name__ = name

    def __repr__(self) -> str:
        return f"EnvReward(name={self.__name__!r})"

    def __call__(
        self, completions: Sequence[Any], environments: Sequence[Any] | None = None, **kwargs: Any
    ) -> list[float | None]:
        if environments is None:
            raise ValueError(
                f"the {self.__name__!r} reward needs TRL's environments: pass environment_factory=factory to "
                "GRPOTrainer (TRL >= 1.16 hands the environments to the reward functions)"
            )
        if len(environments) != len(completions):
            raise ValueError(f"got {len(completions)} completions but {len(environments)} environments")
        rewards: list[float | None] = []
        summaries = []
        for completion, environment in zip(completions, environments):
            if not isinstance(environment, MentorToolEnv):
                rewards.append(None)
                continue
            rewards.append(environment._finish(completion))
            summaries.append(environment.session.summary())
        log_metric = kwargs.get("log_metric")
        if callable(log_metric) and summaries:
            for key in summaries[0]:
                log_metric(f"mentor_env/{key}", sum(summary[key] for summary in summaries) / len(summaries))
        log_extra = kwargs.get("log_extra")
        if callable(log_extra):
            log_extra(
                "step_rewards",
                [json.dumps(env.step_rewards) if isinstance(env, MentorToolEnv) else "" for env in environments],
            )
        return rewards


class MentorEnvFactory:
    """What :func:`environment_factory` returns: call it for a new environment; ``reward`` is its reward function.

    Attributes:
        env_class: the generated :class:`MentorToolEnv` subclass (one method per tool).
        reward: an :class:`EnvReward` named after the reward mode.
        env_id, reward_mode, env_kwargs: what every environment is made with.
    """

    def __init__(self, env_id: str, reward_mode: str, env_kwargs: Mapping[str, Any]) -> None:
        from mentor_env.integrations.session import make_text_env

        probe = make_text_env(env_id, reward_mode, **dict(env_kwargs))  # fail here on a bad id or argument
        domain = probe.domain
        probe.runtime.close()
        methods = {str(spec["function"]["name"]): _tool_method(spec) for spec in probe.runtime.specs}
        clash = sorted(set(methods) & {"reset", "get_reward", "session", "step_rewards", "episode_return"})
        if clash:
            raise ValueError(f"the tools {clash} of {env_id!r} clash with the environment's own methods")
        class_name = "".join(part.capitalize() for part in domain.name.split("_")) + "ToolEnv"
        attributes: dict[str, Any] = {
            "_env_id": env_id,
            "_reward_mode": reward_mode,
            "_env_kwargs": dict(env_kwargs),
            "__doc__": f"{env_id} for TRL's environment_factory: the tools {sorted(methods)}, reward mode {reward_mode!r}.",
            "__module__": __name__,
            **methods,
        }
        self.env_class: type[MentorToolEnv] = type(class_name, (MentorToolEnv,), attributes)
        self.env_id = env_id
        self.reward_mode = reward_mode
        self.env_kwargs = dict(env_kwargs)
        self.reward = EnvReward(reward_mode)
        self.__name__ = class_name

    def __call__(self) -> MentorToolEnv:
        return self.env_class()

    def __repr__(self) -> str:
        return f"environment_factory({self.env_id!r}, reward_mode={self.reward_mode!r})"


def environment_factory(
    env_id: str = "mentor/Calc-v0", reward_mode: str = "mentor", **env_kwargs: Any
) -> MentorEnvFactory:
    """An environment factory for ``GRPOTrainer(environment_factory=...)`` over a mentor-env text env.

    Pass the factory and its reward function to the trainer::

        factory = environment_factory("mentor/Calc-v0", reward_mode="mentor")
        GRPOTrainer(..., environment_factory=factory, reward_funcs=[factory.reward],
                    train_dataset=to_hf_dataset("calc", "train", tools_in_prompt=False))

    Each rollout gets its own environment. The model's tools are the domain's
    tools (methods with their real signatures and docstrings); each call runs
    through the environment (same validation, limits and error text as
    ``env.step``); ``reset`` takes the row's ``task_id``; ``factory.reward``
    plays the finished completion, final answer included, through ``env.step``
    and returns the episode's return in ``reward_mode``, equal to what
    ``gym.make(env_id, reward_mode=reward_mode, **env_kwargs)`` gives for the
    same turns. Per-turn rewards stay on each environment (``step_rewards``)
    and are logged (``mentor_env/...``).

    Args:
        env_id: a text env id (``mentor/Calc-v0``, ``mentor/Table-v0``, ...).
        reward_mode: one of :data:`mentor_env.core.rewards.REWARD_MODES`.
        env_kwargs: passed to ``gym.make`` (``max_turns``, ``reward_compat``, ...).

    Raises:
        ValueError: an unknown or non-text env id, or arguments ``gym.make`` refuses.
    """
    return MentorEnvFactory(env_id, reward_mode, env_kwargs)
