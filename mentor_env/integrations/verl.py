r"""MENTOR rewards for verl: a ``compute_score`` for ``custom_reward_function`` and dataset rows.

verl loads a custom reward from a file and a function name
(``custom_reward_function.path`` / ``.name``; the name defaults to
``compute_score``) and calls it for each response as
``compute_score(data_source=..., solution_str=..., ground_truth=...,
extra_info=...)``, with the response decoded by the tokenizer
(``skip_special_tokens=True``), ``ground_truth`` from the row's
``reward_model["ground_truth"]`` and ``extra_info`` from the row's
``extra_info`` (to which verl's reward managers add ``num_turns``). Keyword
arguments from ``custom_reward_function.reward_kwargs`` are passed on too.
Point verl at this module's file::

    custom_reward_function.path=$(python -c "import mentor_env.integrations.verl as m; print(m.__file__)")
    custom_reward_function.name=compute_score
    +custom_reward_function.reward_kwargs.reward_mode=mentor   # optional: sparse, mentor_partial, ...
    +custom_reward_function.reward_kwargs.compat=official      # optional: the published files' numbers
    +custom_reward_function.reward_kwargs.tool_parser=llama3_json  # optional: the model's tool-call format

:func:`verl_row` / :func:`to_verl_rows` turn our tasks into the rows verl's
``RLHFDataset`` reads (``data_source``, ``prompt``, ``ability``,
``reward_model``, ``extra_info``); write them to Parquet with
``datasets.Dataset.from_list(rows).to_parquet(path)`` or pandas.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from mentor_env.core.domain import Domain
from mentor_env.core.messages import render_tools_block
from mentor_env.core.rewards import check_compat, get_reward_mode
from mentor_env.core.splits import load_split
from mentor_env.core.task import Task
from mentor_env.integrations.scoring import resolve_domain, score_details

__all__ = ["compute_score", "to_verl_rows", "verl_row"]

DATA_SOURCE_PREFIX = "mentor/"
TEACHER_KEYS = ("teacher_tools", "tool_calls_used", "teacher_messages", "teacher")


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    *,
    reward_mode: str | None = None,
    return_dict: bool = True,
    compat: str | None = None,
    tool_parser: Any = None,
    chat_template: Any = None,
    **kwargs: Any,
) -> dict[str, float] | float:
    """Score one verl response with the MENTOR reward.

    Args:
        data_source: picks the domain: ``"mentor/calc"``, ``"calc"`` or an env
            id such as ``"mentor/Calc-v0"`` (``extra_info["domain"]`` wins when set).
        solution_str: the decoded response.
        ground_truth: the gold answer.
        extra_info: the row's ``extra_info``: the teacher (``teacher_tools`` or
            ``tool_calls_used``, a list of names; or ``teacher_messages`` /
            ``teacher``), optionally ``reward_mode``, ``finished`` (False for a
            response cut at the length limit), ``multi_turn`` (True when the
            response holds the tool responses of verl's tool agent loop; by
            default read from ``num_turns`` > 2, which verl sets).
        reward_mode: the mode whose value is ``"score"`` (default ``"mentor"``;
            also read from ``extra_info``). One of
            :data:`~mentor_env.core.rewards.REWARD_MODES`; ``dense`` equals ``mentor`` here.
        return_dict: return ``{"score": ..., "acc": ..., every mode, the outcome's
            parts}`` (verl logs the extra keys) rather than the bare float.
        compat: ``"ours"`` (default) or ``"official"``, the published MENTOR
            reward files' numbers (:mod:`mentor_env.integrations.scoring`); also read from
            ``extra_info["reward_compat"]``.
        tool_parser: how the model writes tool calls: a parser name
            (``"llama3_json"``, ... :func:`~mentor_env.core.parsing.get_tool_parser`;
            default ``"hermes"``), ``"auto"`` (from ``chat_template``, the
            model's chat-template string) or a parser object; also read from
            ``extra_info["tool_parser"]``.

    Raises:
        ValueError: unknown domain or mode, or missing teacher fields (the
            message says what was expected and what came).
    """
    extra = dict(extra_info or {})
    mode = reward_mode or extra.get("reward_mode") or "mentor"
    get_reward_mode(mode)  # a registered mode (a shaped one scores its terminal score: the shaping sums to zero)
    compat = check_compat(compat or extra.get("reward_compat") or "ours")
    domain = extra.get("domain") or data_source
    teacher_key = next((key for key in TEACHER_KEYS if extra.get(key) is not None), None)
    if teacher_key is None and mode != "sparse":
        raise ValueError(
            f"missing teacher fields: expected extra_info to hold one of {list(TEACHER_KEYS)} (build rows with "
            f"mentor_env.integrations.verl.verl_row); extra_info has {sorted(extra)}"
        )
    if teacher_key in (None, "teacher_tools", "tool_calls_used"):
        teacher_fields = {"teacher_tools": extra.get(teacher_key) if teacher_key else ()}
    else:
        teacher_fields = {"teacher": extra[teacher_key]}
    multi_turn = extra.get("multi_turn")
    if multi_turn is None and extra.get("num_turns") is not None:
        multi_turn = int(extra["num_turns"]) > 2
    details = score_details(
        solution_str,
        domain=domain,
        answer=str(ground_truth),
        finished=bool(extra.get("finished", True)),
        multi_turn=multi_turn,
        compat=compat,
        tool_parser=tool_parser or extra.get("tool_parser"),
        chat_template=chat_template,
        **teacher_fields,
    )
    if not return_dict:
        return details[mode]
    return {"score": details[mode], "acc": details["correct"], **details}


def verl_row(
    task: Task,
    domain: Domain | None = None,
    *,
    index: int | None = None,
    split: str | None = None,
    tools_in_prompt: bool = True,
    agent: bool = False,
) -> dict[str, Any]:
    """One verl dataset row for ``task``.

    ``prompt`` is the system + user chat (the tool specs in the system message
    when ``tools_in_prompt``; verl's tool agent loop renders its own tools, so
    pass False there). ``extra_info`` carries ``teacher_tools``, ``task_id``,
    ``domain``, ``question``, ``index`` and ``split``; with ``agent`` also
    ``tools_kwargs`` (each tool's ``create_kwargs`` holds the ``task_id``) and
    ``interaction_kwargs``, which verl's tool agent loop hands to
    :mod:`mentor_env.integrations.verl_agent`'s tools and interaction.
    """
    domain = domain or resolve_domain(task.domain)
    system = domain.system_prompt
    if tools_in_prompt:
        system = f"{system}\n\n{render_tools_block([tool.spec for tool in domain.tools])}"
    extra_info: dict[str, Any] = {
        "task_id": task.id,
        "domain": task.domain,
        "question": task.question,
        "teacher_tools": list(task.teacher.tool_names),
    }
    if index is not None:
        extra_info["index"] = index
    if split is not None:
        extra_info["split"] = split
    if agent:
        extra_info["tools_kwargs"] = {tool.name: {"create_kwargs": {"task_id": task.id}} for tool in domain.tools}
        extra_info["interaction_kwargs"] = {"name": "mentor", "task_id": task.id}
    return {
        "data_source": f"{DATA_SOURCE_PREFIX}{task.domain}",
        "prompt": [{"role": "system", "content": system}, {"role": "user", "content": task.question}],
        "ability": "tool_use",
        "reward_model": {"style": "rule", "ground_truth": task.answer},
        "extra_info": extra_info,
    }


def to_verl_rows(
    domain: str | Domain,
    split: str = "train",
    *,
    tasks: Sequence[Task] | None = None,
    limit: int | None = None,
    tools_in_prompt: bool = True,
    agent: bool = False,
) -> list[dict[str, Any]]:
    """verl rows (:func:`verl_row`) for a frozen split of ``domain`` (or for ``tasks``)."""
    resolved = resolve_domain(domain)
    chosen = list(tasks) if tasks is not None else load_split(resolved, split)
    if limit is not None:
        chosen = chosen[:limit]
    return [
        verl_row(
            task,
            resolved,
            index=index,
            split=split if tasks is None else None,
            tools_in_prompt=tools_in_prompt,
            agent=agent,
        )
        for index, task in enumerate(chosen)
    ]
