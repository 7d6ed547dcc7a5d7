"""Playing a policy over many episodes, batched across environments.

A policy maps conversations to the next assistant turn. Language-model
policies are batched (``policy.batched = True``: called with a list of
conversations and returning a list of texts), so one ``generate`` call serves
every environment that is waiting for a turn; a plain callable
``policy(messages, tools) -> str`` works too and is called once per turn.
:func:`run_episodes` keeps ``batch_size`` environments busy until every
requested episode is done; the evaluation helper and the LM teacher use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

import gymnasium as gym

from mentor_env.core.messages import Message
from mentor_env.core.task import Task
from mentor_env.core.rewards import REWARD_MODES

ToolSpec = dict[str, Any]


class BatchedPolicy(Protocol):
    batched: bool

    def __call__(self, conversations: Sequence[list[Message]], tools: Sequence[list[ToolSpec]]) -> list[str]: ...


SinglePolicy = Callable[[list[Message], list[ToolSpec]], str]


@dataclass
class Episode:
    """One finished episode, with every reward mode's return."""

    task: Task
    messages: list[Message]
    returns: dict[str, float]
    components: dict[str, float]
    errors: list[str]
    turns: int
    terminated: bool
    truncated: bool
    final_answer: str | None
    tool_names: list[str] = field(default_factory=list)

    @property
    def correct(self) -> bool:
        return self.components.get("correct", 0.0) == 1.0


def batched(policy: BatchedPolicy | SinglePolicy) -> BatchedPolicy:
    """``policy`` as a batched policy (a plain callable is called once per conversation)."""
    if getattr(policy, "batched", False):
        return policy  # type: ignore[return-value]

    def call_each(conversations: Sequence[list[Message]], tools: Sequence[list[ToolSpec]]) -> list[str]:
        return [policy(messages, specs) for messages, specs in zip(conversations, tools)]  # type: ignore[call-arg]

    call_each.batched = True  # type: ignore[attr-defined]
    return call_each  # type: ignore[return-value]


@dataclass
class _Slot:
    env: gym.Env
    info: dict[str, Any] | None = None
    returns: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    tool_names: list[str] = field(default_factory=list)


def run_episodes(
    policy: BatchedPolicy | SinglePolicy,
    make_env: Callable[[], gym.Env],
    resets: Sequence[dict[str, Any]],
    batch_size: int = 16,
) -> list[Episode]:
    """Play one episode per entry of ``resets`` (keyword arguments of ``env.reset``).

    Returns the episodes in the order of ``resets``. Policy errors propagate;
    what the policy writes never makes the environment raise.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    policy = batched(policy)
    slots = [_Slot(make_env()) for _ in range(min(batch_size, len(resets)))]
    episodes: list[Episode | None] = [None] * len(resets)
    owner: dict[int, int] = {}  # slot index -> index in resets
    pending = iter(range(len(resets)))

    def start(slot_index: int) -> None:
        index = next(pending, None)
        if index is None:
            slots[slot_index].info = None
            return
        slot = slots[slot_index]
        _, slot.info = slot.env.reset(**resets[index])
        slot.returns = dict.fromkeys(REWARD_MODES, 0.0)
        slot.errors, slot.tool_names = [], []
        owner[slot_index] = index

    for slot_index in range(len(slots)):
        start(slot_index)
    while True:
        active = [i for i, slot in enumerate(slots) if slot.info is not None]
        if not active:
            break
        texts = policy([slots[i].info["messages"] for i in active], [slots[i].info["tools"] for i in active])
        for slot_index, text in zip(active, texts):
            slot = slots[slot_index]
            _, _, terminated, truncated, info = slot.env.step(text)
            for mode in REWARD_MODES:
                slot.returns[mode] += info["rewards"][mode]
            slot.errors += info["errors"]
            slot.tool_names += [call["name"] for call in info["tool_calls"] if call["name"] is not None]
            slot.info = info
            if terminated or truncated:
                episodes[owner[slot_index]] = Episode(
                    task=slot.env.unwrapped.task,
                    messages=info["messages"],
                    returns=slot.returns,
                    components=info["reward_components"],
                    errors=slot.errors,
                    turns=info["turn"],
                    terminated=terminated,
                    truncated=truncated,
                    final_answer=info["final_answer"],
                    tool_names=slot.tool_names,
                )
                start(slot_index)
    for slot in slots:
        slot.env.close()
    return [episode for episode in episodes if episode is not None]
