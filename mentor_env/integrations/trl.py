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

    The score of each completion is :func:`mentor_env.scoring.score_completion`,
    the environment's episode score for the same turns. A completion that hit
    ``max_completion_length`` scores as a rollout that never ended (0.0) only if
    the function knows the end-of-sequence token: build it with
    ``reward_func("mentor", eos_token_id=tokenizer.eos_token_id)``; it then checks
    the last of ``completion_ids``, as TRL's own ``clipped_ratio`` does.
    Without it every completion counts as finished (TRL's
    ``mask_truncated_completions=True`` is the other way to leave cut
    completions out of the loss).
    ``reward_func(mode, compat="official")`` gives the published MENTOR reward
    files' numbers instead of ours (the differences: :mod:`mentor_env.rewards`).

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

import json
from typing import Any, Iterable, Mapping, Sequence

from mentor_env.core.domain import Domain
from mentor_env.core.messages import render_tools_block
from mentor_env.core.splits import load_split
from mentor_env.core.task import Task
from mentor_env.core.tools import ToolRuntime
from mentor_env.integrations import require
from mentor_env.rewards import TERMINAL_MODES, check_compat
from mentor_env.scoring import resolve_domain, score_completion

__all__ = [
    "HERMES_RESPONSE_TEMPLATE",
    "MentorReward",
    "REWARD_FUNCS",
    "TRLTool",
    "add_hermes_response_template",
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
        mode: one of :data:`mentor_env.rewards.TERMINAL_MODES`.
        eos_token_id: the end-of-sequence id(s); when given, a completion whose
            last id is not one of them is scored as cut off (never ended).
        domain: the domain of every row, for datasets without a ``domain`` column.
        multi_turn: how to read completions (:func:`mentor_env.scoring.completion_turns`);
            ``None`` decides from their shape.
        name: the name TRL logs (default: ``mode``).
        compat: ``"ours"`` (default) or ``"official"``, the published MENTOR
            reward files' numbers (:mod:`mentor_env.scoring`).
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
    ) -> None:
        if mode == "dense":
            raise ValueError(
                "'dense' is 'mentor' plus per-step shaping that sums to zero over an episode; for a reward on a "
                "whole completion use 'mentor' (the same return)"
            )
        if mode not in TERMINAL_MODES:
            raise ValueError(f"mode must be one of {TERMINAL_MODES}, got {mode!r}")
        if domain is not None:
            resolve_domain(domain)  # fail early on a typo
        self.compat = check_compat(compat)
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

REWARD_FUNCS: dict[str, MentorReward] = {
    "sparse": sparse_reward,
    "mentor": mentor_reward,
    "mentor_partial": mentor_partial_reward,
    "mentor_nomatch": mentor_nomatch_reward,
    "mentor_f1": mentor_f1_reward,
}


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
    if tokenizer is None or not isinstance(getattr(tokenizer, "chat_template", None), str) or "tools" not in tokenizer.chat_template:
        return block
    user = {"role": "user", "content": "Q"}

    def render(content: str, specs: Any) -> str:
        return tokenizer.apply_chat_template([{"role": "system", "content": content}, user], tools=specs, add_generation_prompt=True, tokenize=False)

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
