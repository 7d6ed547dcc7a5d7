"""The episode loop: a policy over many episodes, batched across environments.

:func:`run_episodes` is the one loop the suite plays episodes with (the
evaluation, the LM teacher, the reference agents' trainer and baselines, the
Stable-Baselines3 benchmark): it keeps ``batch_size`` environments busy until
every requested episode is done, asks the policy for the next action of every
waiting environment at once, and returns one :class:`Episode` per reset.

The policy is a *slot policy* (:class:`SlotPolicy`): an environment's place in
the batch is a slot, and the policy is told when an episode starts in a slot,
what each of its actions led to, and when it ends, so it can keep per-slot
state (an LM policy keeps each slot's tokens and KV cache, a scripted agent its
plan). Plain policies are adapted by :func:`as_slot_policy`:

* a batched policy (``policy.batched = True``), called with the waiting
  conversations and tool specs and returning one text each;
* a plain callable ``policy(messages, tools) -> str``, called once per turn.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence, SupportsFloat, TypeGuard, cast

import gymnasium as gym

from mentor_env.core.env import current_task
from mentor_env.core.messages import Message
from mentor_env.core.rewards import REWARD_MODES
from mentor_env.core.task import Task

ToolSpec = dict[str, Any]


class BatchedPolicy(Protocol):
    batched: bool

    def __call__(self, conversations: Sequence[list[Message]], tools: Sequence[list[ToolSpec]]) -> list[str]: ...


SinglePolicy = Callable[[list[Message], list[ToolSpec]], str]


class SlotPolicy(Protocol):
    """A policy that keeps per-slot state across the steps of an episode (see module doc)."""

    def start(self, slot: int, env: gym.Env, observation: Any, info: dict[str, Any]) -> None:
        """A new episode begins in ``slot`` (``env.reset`` returned ``observation, info``)."""

    def act(self, slots: Sequence[int], observations: Sequence[Any], infos: Sequence[dict[str, Any]]) -> list[Any]:
        """The next action of each of ``slots`` (their latest observation and info)."""

    def observe(self, slot: int, action: Any, observation: Any, info: dict[str, Any], done: bool) -> None:
        """``action`` was played in ``slot``; ``env.step`` returned ``observation`` and ``info``."""

    def finish(self, slot: int) -> Any:
        """The episode in ``slot`` is over; what the policy returns is kept as :attr:`Episode.trace`."""


@dataclass
class Episode:
    """One finished episode, with every reward mode's return (the one episode type of the suite).

    ``trace`` is what the policy recorded (an LM policy: the episode's tokens
    and action mask, :class:`mentor_env.play.lm.TokenTrace`); ``group`` is the
    index the caller gave the reset (GRPO: episodes of the same task).
    """

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
    tool_calls: int = 0  # every call the env saw, named or not
    turn_rewards: list[float] = field(default_factory=list)  # the env's reward of each step (its reward_mode)
    group: int = 0
    trace: Any = None

    @property
    def correct(self) -> bool:
        return self.components.get("correct", 0.0) == 1.0


def batched(policy: BatchedPolicy | SinglePolicy) -> BatchedPolicy:
    """``policy`` as a batched policy (a plain callable is called once per conversation)."""
    if _is_batched(policy):
        return policy
    # Not marked batched: a plain callable of one conversation (the type system cannot narrow the union by a flag).
    return _EachConversation(cast(SinglePolicy, policy))


def _is_batched(policy: BatchedPolicy | SinglePolicy) -> TypeGuard[BatchedPolicy]:
    return bool(getattr(policy, "batched", False))


@dataclass
class _EachConversation:
    """A plain policy, called once per conversation: a batched policy."""

    policy: SinglePolicy
    batched: bool = True

    def __call__(self, conversations: Sequence[list[Message]], tools: Sequence[list[ToolSpec]]) -> list[str]:
        return [self.policy(messages, specs) for messages, specs in zip(conversations, tools)]


class _ConversationPolicy:
    """A batched or plain text policy as a slot policy: it reads the conversation from ``info``."""

    def __init__(self, policy: BatchedPolicy | SinglePolicy) -> None:
        self.policy = batched(policy)

    def start(self, slot: int, env: gym.Env, observation: Any, info: dict[str, Any]) -> None:
        pass

    def act(self, slots: Sequence[int], observations: Sequence[Any], infos: Sequence[dict[str, Any]]) -> list[Any]:
        return self.policy([info["messages"] for info in infos], [info["tools"] for info in infos])

    def observe(self, slot: int, action: Any, observation: Any, info: dict[str, Any], done: bool) -> None:
        pass

    def finish(self, slot: int) -> Any:
        return None


def as_slot_policy(policy: Any) -> SlotPolicy:
    """``policy`` as a :class:`SlotPolicy` (slot policies are returned as they are)."""
    if all(callable(getattr(policy, name, None)) for name in ("start", "act", "observe", "finish")):
        return policy
    if callable(policy):
        return _ConversationPolicy(policy)
    raise TypeError(f"not a policy: {policy!r} (expected a slot policy, a batched policy or messages, tools -> text)")


@dataclass
class _Slot:
    env: gym.Env
    index: int | None = None  # position in resets of the episode playing here (None: idle)
    observation: Any = None
    info: dict[str, Any] = field(default_factory=dict)
    returns: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    tool_names: list[str] = field(default_factory=list)
    tool_calls: int = 0
    rewards: list[float] = field(default_factory=list)

    def record(self, observation: Any, reward: SupportsFloat, info: dict[str, Any]) -> None:
        """Add one env step's rewards, errors and tool calls to the episode, and keep its observation and info."""
        for mode in REWARD_MODES:
            self.returns[mode] += info["rewards"][mode]
        self.rewards.append(float(reward))
        self.errors += info["errors"]
        self.tool_calls += len(info["tool_calls"])
        self.tool_names += [call["name"] for call in info["tool_calls"] if call["name"] is not None]
        self.observation, self.info = observation, info


class _Scheduler:
    """Plays one episode per entry of ``resets`` on ``slots``; a slot starts the next pending reset when one ends.

    ``timing`` collects the seconds spent in the environments (``"env"``) and in the policy (``"policy"``);
    ``episodes`` holds the finished episodes at the index of their reset.
    """

    def __init__(
        self,
        agent: SlotPolicy,
        slots: list[_Slot],
        resets: Sequence[dict[str, Any]],
        groups: Sequence[int] | None,
        on_episode: Callable[[Episode], None] | None = None,
    ) -> None:
        self.agent = agent
        self.on_episode = on_episode
        self.slots = slots
        self.resets = resets
        self.groups = groups
        self.episodes: list[Episode | None] = [None] * len(resets)
        self.pending = iter(range(len(resets)))
        self.timing = {"env": 0.0, "policy": 0.0}

    def run(self) -> None:
        """Start every slot, then step the active ones together until no reset is left."""
        for number in range(len(self.slots)):
            self.start(number)
        while True:
            active = [number for number, slot in enumerate(self.slots) if slot.index is not None]
            if not active:
                break
            for number, action in zip(active, self.act(active)):
                self.step(number, action)

    def start(self, number: int) -> None:
        """Reset slot ``number``'s env with the next pending reset (the slot goes idle when none is left)."""
        slot = self.slots[number]
        slot.index = next(self.pending, None)
        if slot.index is None:
            return
        began = time.perf_counter()
        slot.observation, slot.info = slot.env.reset(**self.resets[slot.index])
        self.timing["env"] += time.perf_counter() - began
        slot.returns = dict.fromkeys(REWARD_MODES, 0.0)
        slot.errors, slot.tool_names, slot.tool_calls, slot.rewards = [], [], 0, []
        self.agent.start(number, slot.env, slot.observation, slot.info)

    def act(self, active: list[int]) -> list[Any]:
        """The policy's actions for the slots ``active``, in one call."""
        slots = self.slots
        began = time.perf_counter()
        actions = self.agent.act(active, [slots[n].observation for n in active], [slots[n].info for n in active])
        self.timing["policy"] += time.perf_counter() - began
        return actions

    def step(self, number: int, action: Any) -> None:
        """Play ``action`` in slot ``number``; when the episode ends, record it and start the next one there."""
        slot = self.slots[number]
        began = time.perf_counter()
        observation, reward, terminated, truncated, info = slot.env.step(action)
        self.timing["env"] += time.perf_counter() - began
        slot.record(observation, reward, info)
        done = bool(terminated or truncated)
        self.agent.observe(number, action, observation, info, done)
        if done:
            self.finish(number, info, terminated, truncated)
            self.start(number)

    def finish(self, number: int, info: dict[str, Any], terminated: bool, truncated: bool) -> None:
        """Store slot ``number``'s finished episode (the policy's trace from ``agent.finish``)."""
        slot = self.slots[number]
        assert slot.index is not None
        episode = Episode(
            task=current_task(slot.env),
            messages=info.get("messages", []),
            returns=slot.returns,
            components=info["reward_components"],
            errors=slot.errors,
            turns=info["turn"],
            terminated=bool(terminated),
            truncated=bool(truncated),
            final_answer=info.get("final_answer"),
            tool_names=slot.tool_names,
            tool_calls=slot.tool_calls,
            turn_rewards=slot.rewards,
            group=self.groups[slot.index] if self.groups is not None else slot.index,
            trace=self.agent.finish(number),
        )
        self.episodes[slot.index] = episode
        if self.on_episode is not None:
            self.on_episode(episode)


def _add_time(clock: dict[str, float] | None, timing: dict[str, float]) -> None:
    """Add ``timing``'s seconds to ``clock`` (when given)."""
    if clock is not None:
        for name, seconds in timing.items():
            clock[name] = clock.get(name, 0.0) + seconds


def run_episodes(
    policy: SlotPolicy | BatchedPolicy | SinglePolicy,
    make_env: Callable[[], gym.Env] | Sequence[gym.Env],
    resets: Sequence[dict[str, Any]],
    batch_size: int = 16,
    groups: Sequence[int] | None = None,
    clock: dict[str, float] | None = None,
    on_episode: Callable[[Episode], None] | None = None,
) -> list[Episode]:
    """Play one episode per entry of ``resets`` (keyword arguments of ``env.reset``).

    ``make_env`` builds the ``min(batch_size, len(resets))`` environments (and
    they are closed at the end), or is a list of environments to use as they
    are (left open). ``groups`` gives each reset's :attr:`Episode.group`.
    ``clock``, when given, gets the seconds spent in ``env.reset`` and
    ``env.step`` added under ``"env"`` and those spent in the policy under
    ``"policy"``. ``on_episode``, when given, is called with each episode as
    it finishes (a progress bar, a transcript log).
    Returns the episodes in the order of ``resets``. Policy errors propagate;
    what the policy writes never makes the environment raise.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if groups is not None and len(groups) != len(resets):
        raise ValueError(f"{len(groups)} groups for {len(resets)} resets")
    agent = as_slot_policy(policy)
    owned = callable(make_env)
    count = min(batch_size, len(resets))
    envs = [make_env() for _ in range(count)] if owned else list(make_env)[:count]  # type: ignore[operator, arg-type]
    if len(envs) < count:
        raise ValueError(f"{len(envs)} environments given for a batch of {count}")
    scheduler = _Scheduler(agent, [_Slot(env) for env in envs], resets, groups, on_episode)
    try:
        scheduler.run()
    finally:
        if owned:
            for env in envs:
                env.close()
        _add_time(clock, scheduler.timing)
    return [episode for episode in scheduler.episodes if episode is not None]
