r"""Numeric observation and action spaces over a tool-use env, for agents without a language model.

:class:`StructuredToolUse` wraps a :class:`~mentor_env.core.env.ToolUseEnv`
(``mentor/Calc-v0`` first of all) so that agents built for fixed-size spaces,
such as Stable-Baselines3's PPO, can play it. Every structured action is turned
into the same text a language model would write (a
``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` block or a
``\boxed{}`` answer) and handed to the wrapped env's ``step``, so rewards,
teacher, termination and ``info`` are exactly those of the text env.
``gym.make("mentor/Calc-Structured-v0")`` builds it through
:func:`make_structured_calc`.

Number slots
    The env keeps ``R + Q`` number slots (``result_slots`` R = 8 and
    ``question_slots`` Q = 16 by default). Slots ``0 .. R-1`` hold the results
    of the episode's successful tool calls, newest first, as on a calculator's
    stack: slot 0 is always the latest result (failed calls leave no result;
    beyond R results the oldest drop out). Slots ``R .. R+Q-1`` hold the
    numbers written in the question, in reading order (``-5``, ``4.25``,
    ``12``; numbers beyond Q are dropped). Integers stay integers and decimals
    are parsed from the text the model would read, so a pointer to a slot
    passes on exactly the value a language model would copy.

Action Space
    ``MultiDiscrete([T + 1] + [R + Q + C + 1] * P + [I + 1, R + Q + C + 1])``,
    with T the number of tools, P = ``list_args`` argument pointers (6), C
    constants and I = ``max_integer`` (4). For the twelve Calc tools this is
    ``MultiDiscrete([13, 31, 31, 31, 31, 31, 31, 5, 31])``.

    =====  ==========  ===================================================================
    index  name        meaning
    =====  ==========  ===================================================================
    0      kind        ``0 .. T-1``: call tool ``k`` (in the env's tool order, see
                       :attr:`StructuredToolUse.tool_names`); ``T``: answer
    1..P   arguments   pointers, each one of: a number slot ``0 .. R+Q-1``; a constant
                       ``R+Q .. R+Q+C-1`` (``constants``, default 1, 1.5, 2, 4, 60, 100);
                       or ``R+Q+C``: none
    P+1    integer     ``0 .. I``: the value of an integer argument (``decimals`` of
                       ``round_number``)
    P+2    answer      a pointer (as above): the number the answer gives
    =====  ==========  ===================================================================

    A tool's number arguments take the argument pointers in order (``add(a, b)``:
    entries 1 and 2; ``sqrt(x)``: entry 1); a list argument
    (``sum_numbers(numbers)``) takes every argument pointer that is not none, in
    order; the answer writes ``The answer is \boxed{<number at the answer
    pointer>}.``. Entries the kind does not use are ignored (the answer has its
    own pointer so that learning where answers come from, usually slot 0, does
    not compete with learning call arguments under a factorised policy). An
    action that points at an empty slot, or at none where a number is needed,
    still produces text: the argument is written as ``null`` (the env answers
    with an ``invalid_args`` error) and an answer becomes an empty ``\boxed{}``
    (scored as a missing answer). Actions outside the space are clipped into it;
    nothing raises.

Observation Space
    ``Dict`` of fixed-size arrays (wrap with
    :class:`gymnasium.wrappers.FlattenObservation`, or pass ``flatten=True`` to
    :func:`make_structured_calc`, for one flat ``Box``):

    ==============  =================================  ==========================================
    key             space                              meaning
    ==============  =================================  ==========================================
    ``words``       ``MultiBinary(V)``                 which words of a fixed vocabulary the question
                                                       uses (operation words and symbols such as
                                                       ``sum``, ``remainder``, ``rounded``, ``÷``;
                                                       :data:`CALC_VOCABULARY`, V = 65)
    ``numbers``     ``Box(-40, 40, (R+Q,), float32)``  each slot's number as ``sign(x)·log1p(|x|)``
                                                       (clipped), 0 when empty
    ``mask``        ``MultiBinary(R+Q)``               1 where a slot holds a number
    ``turn``        ``Box(0, 1, (1,), float32)``       turns played / ``max_turns``
    ``last_error``  ``MultiBinary(1)``                 1 when the last step's call returned an error
    ==============  =================================  ==========================================

Episode, rewards and info
    One structured action is one assistant turn with one tool call (the text
    env accepts several per turn; here independent calls take a turn each), so
    an episode lasts the teacher's number of calls plus one answer turn. An
    answer ends the episode; the wrapped env's ``max_turns`` truncates it.
    Rewards follow the wrapped env's ``reward_mode`` (``sparse``, ``mentor``,
    ``dense``, ...). ``info`` is the wrapped env's, plus ``text_action`` (the
    text that was played); ``lean_info=True`` leaves out the two bulky entries,
    ``messages`` and ``tools``, which vector envs copy on every step.

Rendering
    ``render_mode="rgb_array"`` draws the observation as a small image
    (question words as cells, one bar per number slot, green for positive and
    red for negative, grey where empty; the turn as a blue bar; a red strip
    after an error), so Gymnasium's video recorders and Stable-Baselines3's
    ``make_vec_env`` (which asks for ``rgb_array``) work; ``"ansi"`` gives the
    text env's conversation.

Teacher actions
    :meth:`StructuredToolUse.teacher_action` gives the structured action that
    continues the teacher's reference trajectory (for imitation, tests and
    demonstrations); :meth:`StructuredToolUse.encode_call` and
    :meth:`StructuredToolUse.encode_answer` map any call or answer to an action
    (through ``gym.make``: ``env.unwrapped.teacher_action()``).

The wrapper works with any domain whose tools take only numbers, lists of
numbers and small integers (all of Calc's; pass ``tools=[...]`` to keep a
subset of another domain's tools). It needs neither Stable-Baselines3 nor torch.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Mapping, Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mentor_env.core.env import ToolUseEnv
from mentor_env.core.messages import render_conversation
from mentor_env.core.parsing import last_boxed
from mentor_env.core.tools import format_value

Number = int | float

DEFAULT_QUESTION_SLOTS = 16
DEFAULT_RESULT_SLOTS = 8
DEFAULT_LIST_ARGS = 6
DEFAULT_MAX_INTEGER = 4
# Numbers some teacher solutions use that a question does not spell out
# (a square's perimeter is 4 sides; percentages; minutes per hour; "one and a half").
DEFAULT_CONSTANTS: tuple[Number, ...] = (1, 1.5, 2, 4, 60, 100)
NUMBER_BOUND = 40.0

# Words and symbols whose presence the observation reports. Operation words of
# the symbolic and verbal wordings (in-distribution and out-of-distribution),
# then story cues.
CALC_VOCABULARY: tuple[str, ...] = (
    # symbols
    "+", "-", "×", "÷", "^", "|", "(", "mod", "sqrt", "floor", "ceil", "round",
    # verbal operations
    "sum", "total", "minus", "product", "divided", "remainder", "raised", "power",
    "square", "root", "rounded", "down", "up", "decimal", "places", "absolute",
    "increased", "reduced", "times", "quotient", "greatest", "smallest", "whole",
    "distance", "zero", "multiple", "together",
    # story cues
    "average", "each", "equally", "left", "area", "side", "perimeter", "buses",
    "temperature", "change", "spend", "coupon", "tax", "factor", "years", "fuel",
    "share", "cent", "interest", "pace", "tiles", "hour", "recipe", "batteries", "sold", "all",
)  # fmt: skip

_WORD = re.compile(r"[a-z]+|[^\sa-z0-9.,?!$%'\":;]")
_NUMBER = re.compile(r"(?<![\d.])(-?)(\d+(?:\.\d+)?)")
_RESULT = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?")


def question_numbers(text: str) -> list[Number]:
    """The numbers written in ``text``, in order (``-5``, ``4.25``, ``12``; no exponents, no thousands separators).

    A minus sign counts only when it is glued to the digits and does not follow a
    word or a closing bracket, so ``12 - 5`` gives 12 and 5 and ``was -5 degrees`` gives -5.
    """
    numbers: list[Number] = []
    for match in _NUMBER.finditer(text):
        sign, body = match.group(1), match.group(2)
        start = match.start()
        if sign and start > 0 and (text[start - 1].isalnum() or text[start - 1] in ")|]"):
            sign = ""
        numbers.append(float(sign + body) if "." in body else int(sign + body))
    return numbers


def parse_result(text: str) -> Number | None:
    """A tool's printed result as the number a model would pass on (``None`` if not a finite number)."""
    text = text.strip()
    if len(text) > 40 or not _RESULT.fullmatch(text):
        return None
    value = float(text)
    if not math.isfinite(value):
        return None
    return int(value) if value.is_integer() and "." not in text and "e" not in text else value


def squash(value: Number) -> float:
    """``sign(x)·log1p(|x|)``, clipped to ``±NUMBER_BOUND``."""
    return float(np.clip(math.copysign(math.log1p(abs(value)), value), -NUMBER_BOUND, NUMBER_BOUND))


class _Layout:
    """How a tool's arguments are filled from an action (built from its JSON Schema)."""

    def __init__(self, name: str, parameters: Mapping[str, Any]) -> None:
        self.name = name
        self.numbers: list[str] = []  # number parameters, filled from the pointers in order
        self.list_param: str | None = None  # a list of numbers, filled from every pointer that is not none
        self.integer_param: str | None = None  # filled from the integer entry
        unsupported = []
        for key, schema in dict(parameters.get("properties", {})).items():
            kind = schema.get("type")
            if kind == "number":
                self.numbers.append(key)
            elif kind == "integer" and self.integer_param is None:
                self.integer_param = key
            elif (
                kind == "array"
                and schema.get("items", {}).get("type") in ("number", "integer")
                and self.list_param is None
            ):
                self.list_param = key
            else:
                unsupported.append(f"{key} ({kind})")
        if unsupported:
            raise ValueError(f"tool {name!r} has arguments a structured action cannot fill: {', '.join(unsupported)}")
        if self.list_param is not None and self.numbers:
            raise ValueError(f"tool {name!r} mixes a list argument with number arguments")


class StructuredToolUse(gym.Env[dict, np.ndarray]):
    """Fixed-size numeric observation and ``MultiDiscrete`` action over a text tool-use env (see module doc).

    An env of its own, not a wrapper: ``env.unwrapped`` is this structured env
    (what ``check_env`` should check), and the text env it plays is
    :attr:`text_env`. :attr:`task` and :attr:`tasks` are the text env's.

    Args:
        env: a :class:`~mentor_env.core.env.ToolUseEnv`, bare or wrapped (e.g. by ``gym.make``).
        question_slots: number slots for the question's numbers (Q).
        result_slots: number slots for tool results (R).
        constants: numbers every action may point at besides the slots.
        list_args: argument pointers per action (P; the longest list argument).
        max_integer: largest value of an integer argument (I).
        vocabulary: the words and symbols of the ``words`` observation.
        tools: the tool names the agent may call (default: all of the env's).
        lean_info: leave the whole conversation and the tool specs (``info["messages"]``,
            ``info["tools"]``) out of ``info``; vector envs copy ``info`` on every step,
            so training runs several times faster without them.
        render_mode: ``"rgb_array"``, ``"ansi"`` or ``None`` (see the module doc).
    """

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 4}

    def __init__(
        self,
        env: gym.Env,
        *,
        question_slots: int = DEFAULT_QUESTION_SLOTS,
        result_slots: int = DEFAULT_RESULT_SLOTS,
        constants: Sequence[Number] = DEFAULT_CONSTANTS,
        list_args: int = DEFAULT_LIST_ARGS,
        max_integer: int = DEFAULT_MAX_INTEGER,
        vocabulary: Sequence[str] = CALC_VOCABULARY,
        tools: Sequence[str] | None = None,
        lean_info: bool = False,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.text_env = env
        self.render_mode = render_mode
        if question_slots < 1 or result_slots < 1 or list_args < 1 or max_integer < 0:
            raise ValueError("question_slots, result_slots and list_args must be at least 1, max_integer at least 0")
        base = env.unwrapped
        if not isinstance(base, ToolUseEnv):
            raise TypeError(
                f"env must be a text tool-use env (a ToolUseEnv under its wrappers), got {type(base).__name__}"
            )
        self._text_base = base
        specs = {spec["function"]["name"]: spec["function"] for spec in base.runtime.specs}
        names = list(specs) if tools is None else list(tools)
        unknown = [name for name in names if name not in specs]
        if unknown:
            raise ValueError(f"unknown tools {unknown}; the env has {list(specs)}")
        self.tool_names: tuple[str, ...] = tuple(names)
        self._layouts = [_Layout(name, specs[name].get("parameters", {})) for name in names]
        self.question_slots = question_slots
        self.result_slots = result_slots
        self.constants: tuple[Number, ...] = tuple(constants)
        self.list_args = max([list_args] + [len(layout.numbers) for layout in self._layouts])
        self.max_integer = max_integer
        self.vocabulary: tuple[str, ...] = tuple(vocabulary)
        self._word_index = {word: index for index, word in enumerate(self.vocabulary)}
        self.max_turns: int = base.max_turns
        self.lean_info = lean_info

        self.n_slots = question_slots + result_slots
        self.answer_kind = len(names)
        self.none_pointer = self.n_slots + len(self.constants)
        self.action_space: spaces.MultiDiscrete = spaces.MultiDiscrete(
            [len(names) + 1] + [self.none_pointer + 1] * self.list_args + [max_integer + 1, self.none_pointer + 1],
            dtype=np.int64,
        )
        self.observation_space = spaces.Dict(
            {
                "words": spaces.MultiBinary(len(self.vocabulary)),
                "numbers": spaces.Box(-NUMBER_BOUND, NUMBER_BOUND, (self.n_slots,), np.float32),
                "mask": spaces.MultiBinary(self.n_slots),
                "turn": spaces.Box(0.0, 1.0, (1,), np.float32),
                "last_error": spaces.MultiBinary(1),
            }
        )
        self._question: list[Number] = []
        self._results: list[Number] = []
        self._values: list[Number | None] = [None] * self.n_slots
        self._words = np.zeros(len(self.vocabulary), np.int8)
        self._turn = 0
        self._last_error = False
        self._successful_calls = 0
        self._messages_seen = 0

    # --- Gymnasium API -----------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        _, info = self.text_env.reset(seed=seed, options=options)
        question = next((m["content"] for m in info["messages"] if m["role"] == "user"), "")
        self._question = question_numbers(question)[: self.question_slots]
        self._results = []
        self._fill_slots()
        self._words = self.question_words(question)
        self._turn = 0
        self._last_error = False
        self._successful_calls = 0
        self._messages_seen = len(info["messages"])
        info["text_action"] = None
        return self._observation(), self._lean(info)

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        text = self.action_to_text(action)
        _, reward, terminated, truncated, info = self.text_env.step(text)
        new_messages = info["messages"][self._messages_seen :]
        self._messages_seen = len(info["messages"])
        for message in new_messages:
            if message["role"] != "tool":
                continue
            value = parse_result(message["content"]) if not message["content"].startswith("Error") else None
            if value is None:
                continue
            self._successful_calls += 1
            self._results.append(value)
        self._fill_slots()
        self._turn = info["turn"]
        self._last_error = bool(info["errors"])
        info["text_action"] = text
        return self._observation(), float(reward), terminated, truncated, self._lean(info)

    def render(self) -> np.ndarray | str | None:
        """The observation as an RGB image (``rgb_array``) or the conversation as text (``ansi``)."""
        if self.render_mode == "ansi":
            base = self._text_base
            return render_conversation(base.trajectory.messages, base.runtime.specs, add_generation_prompt=False)
        if self.render_mode == "rgb_array":
            return self._picture()
        return None

    def close(self) -> None:
        self.text_env.close()

    @property
    def task(self) -> Any:
        """The text env's task of this episode (``None`` before the first reset)."""
        return self._text_base.task

    @property
    def tasks(self) -> Any:
        """The text env's served tasks (``None`` when it generates them)."""
        return self._text_base.tasks

    def served_tasks(self) -> Any:
        """The tasks a reset draws from (the text env's, at its difficulty filter; ``None`` when it generates them)."""
        return self._text_base.served_tasks()

    def _picture(self) -> np.ndarray:
        cell = 4
        width = cell * max(len(self.vocabulary), 2 * self.n_slots)
        image = np.zeros((48, width, 3), np.uint8)
        for word in np.flatnonzero(self._words):
            image[1:9, word * cell : word * cell + cell - 1] = 255
        for slot, value in enumerate(self._values):
            left, right = 2 * slot * cell, 2 * slot * cell + 2 * cell - 1
            if value is None:
                image[33:35, left:right] = 96
                continue
            height = max(1, round(22 * abs(squash(value)) / NUMBER_BOUND))
            image[35 - height : 35, left:right] = (0, 200, 0) if value >= 0 else (220, 0, 0)
        image[38:42, : round(width * min(1.0, self._turn / self.max_turns))] = (40, 90, 255)
        if self._last_error:
            image[44:48] = (255, 0, 0)
        return image

    def _lean(self, info: dict[str, Any]) -> dict[str, Any]:
        if self.lean_info:
            info.pop("messages", None)
            info.pop("tools", None)
        return info

    # --- encoding ------------------------------------------------------------

    def question_words(self, question: str) -> np.ndarray:
        """The ``words`` observation of a question."""
        words = np.zeros(len(self.vocabulary), np.int8)
        for token in _WORD.findall(question.lower()):
            index = self._word_index.get(token)
            if index is None and token.endswith("s"):
                index = self._word_index.get(token[:-1])
            if index is not None:
                words[index] = 1
        return words

    def _fill_slots(self) -> None:
        newest_first = self._results[::-1][: self.result_slots]
        self._values = [*newest_first, *[None] * (self.result_slots - len(newest_first))]
        self._values += [*self._question, *[None] * (self.question_slots - len(self._question))]

    def _observation(self) -> dict[str, np.ndarray]:
        numbers = np.zeros(self.n_slots, np.float32)
        mask = np.zeros(self.n_slots, np.int8)
        for index, value in enumerate(self._values):
            if value is not None:
                numbers[index] = squash(value)
                mask[index] = 1
        return {
            "words": self._words.copy(),
            "numbers": numbers,
            "mask": mask,
            "turn": np.array([min(1.0, self._turn / self.max_turns)], np.float32),
            "last_error": np.array([int(self._last_error)], np.int8),
        }

    @property
    def slot_values(self) -> list[Number | None]:
        """The numbers in the slots (``None`` where empty): results newest first, then the question's."""
        return list(self._values)

    def pointer_value(self, pointer: int) -> Number | None:
        """The number a pointer designates (``None``: empty slot or none)."""
        if 0 <= pointer < self.n_slots:
            return self._values[pointer]
        if self.n_slots <= pointer < self.none_pointer:
            return self.constants[pointer - self.n_slots]
        return None

    def _decode(self, action: Any) -> np.ndarray:
        """The action as an in-range integer vector (malformed input is coerced, never raised on)."""
        size = len(self.action_space.nvec)
        try:
            vector = np.asarray(action, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            vector = np.zeros(0)
        vector = np.nan_to_num(vector[:size], nan=0.0, posinf=0.0, neginf=0.0)
        if vector.size < size:  # missing entries: none pointers, integer 0
            padding = np.array([0] + [self.none_pointer] * self.list_args + [0, self.none_pointer], np.float64)
            vector = np.concatenate([vector, padding[vector.size :]])
        return np.clip(np.round(vector), 0, self.action_space.nvec - 1).astype(np.int64)

    def action_to_text(self, action: Any) -> str:
        """The assistant text a structured action stands for (what ``step`` plays)."""
        vector = self._decode(action)
        kind, pointers = int(vector[0]), [int(p) for p in vector[1 : 1 + self.list_args]]
        integer, answer = int(vector[-2]), int(vector[-1])
        if kind == self.answer_kind:
            value = self.pointer_value(answer)
            return "The answer is \\boxed{" + ("" if value is None else format_value(value)) + "}."
        layout = self._layouts[kind]
        arguments: dict[str, Any] = {}
        if layout.list_param is not None:
            arguments[layout.list_param] = [self.pointer_value(p) for p in pointers if p != self.none_pointer]
        for key, pointer in zip(layout.numbers, pointers):
            arguments[key] = self.pointer_value(pointer)
        if layout.integer_param is not None:
            arguments[layout.integer_param] = integer
        return "<tool_call>\n" + json.dumps({"name": layout.name, "arguments": arguments}) + "\n</tool_call>"

    def _pointer_for(self, value: Any) -> int | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        for index, held in enumerate(self._values):
            if held is not None and held == value:
                return index
        for index, constant in enumerate(self.constants):
            if constant == value:
                return self.n_slots + index
        return None

    def encode_call(self, name: str, arguments: Mapping[str, Any]) -> np.ndarray | None:
        """The action that writes this call in the current state, or ``None`` if it cannot be expressed."""
        if name not in self.tool_names:
            return None
        kind = self.tool_names.index(name)
        layout = self._layouts[kind]
        if set(arguments) - set(layout.numbers) - {layout.list_param, layout.integer_param}:
            return None
        values: list[Any] = []
        if layout.list_param is not None:
            listed = arguments.get(layout.list_param)
            if not isinstance(listed, list):
                return None
            values = listed
        values += [arguments.get(key) for key in layout.numbers]
        pointers = [self._pointer_for(value) for value in values]
        if len(pointers) > self.list_args or None in pointers:
            return None
        integer = self._integer_for(arguments.get(layout.integer_param, 0)) if layout.integer_param is not None else 0
        if integer is None:
            return None
        padded = pointers + [self.none_pointer] * (self.list_args - len(pointers))
        return np.array([kind, *padded, integer, self.none_pointer], np.int64)

    def _integer_for(self, value: Any) -> int | None:
        """``value`` as the action's integer entry (``None``: not an integer in ``0 .. max_integer``)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            return None
        return int(value) if 0 <= int(value) <= self.max_integer else None

    def encode_answer(self, answer: Number | str) -> np.ndarray | None:
        """The action that answers ``answer`` (a number, or its text), or ``None`` if no slot holds it."""
        if isinstance(answer, str):
            for pointer in range(self.none_pointer):
                value = self.pointer_value(pointer)
                if value is not None and format_value(value) == answer.strip():
                    break
            else:
                value = parse_result(answer)
                pointer = self._pointer_for(value)  # type: ignore[assignment]
                if pointer is None:
                    return None
        else:
            pointer = self._pointer_for(answer)  # type: ignore[assignment]
            if pointer is None:
                return None
        return np.array([self.answer_kind] + [self.none_pointer] * self.list_args + [0, pointer], np.int64)

    def teacher_action(self) -> np.ndarray | None:
        """The action continuing the teacher's reference trajectory from here (``None`` if it cannot).

        Assumes the episode so far followed the teacher (each successful call was
        the teacher's next one): the next teacher call, or once they are all made,
        the teacher's final answer.
        """
        task = self.task
        if task is None:
            return None
        calls = task.teacher.calls
        if self._successful_calls < len(calls):
            call = calls[self._successful_calls]
            return None if call.arguments is None else self.encode_call(call.name, call.arguments)
        finals = [m for m in task.teacher.messages if m.get("role") == "assistant" and not m.get("tool_calls")]
        answer = last_boxed(finals[-1]["content"]) if finals else None
        return None if answer is None else self.encode_answer(answer)


def make_structured_calc(
    *,
    question_slots: int = DEFAULT_QUESTION_SLOTS,
    result_slots: int = DEFAULT_RESULT_SLOTS,
    constants: Sequence[Number] = DEFAULT_CONSTANTS,
    list_args: int = DEFAULT_LIST_ARGS,
    max_integer: int = DEFAULT_MAX_INTEGER,
    vocabulary: Sequence[str] = CALC_VOCABULARY,
    lean_info: bool = False,
    flatten: bool = False,
    render_mode: str | None = None,
    **env_kwargs: Any,
) -> gym.Env:
    """``mentor/Calc-Structured-v0``: :class:`StructuredToolUse` over a Calc text env (``ToolUseEnv(calc, **env_kwargs)``).

    ``env_kwargs`` are ToolUseEnv's (``reward_mode``, ``max_turns``, ``difficulty``,
    ``split``, ``tasks``, ...); ``flatten=True`` flattens the observation into one ``Box``.
    ``render_mode`` is the structured env's (``"rgb_array"`` or ``"ansi"``).
    """
    from mentor_env.registration import make_domain_env

    env: gym.Env = StructuredToolUse(
        make_domain_env("calc", **env_kwargs, render_mode="ansi" if render_mode == "ansi" else None),
        render_mode=render_mode,
        question_slots=question_slots,
        result_slots=result_slots,
        constants=constants,
        list_args=list_args,
        max_integer=max_integer,
        vocabulary=vocabulary,
        lean_info=lean_info,
    )
    if flatten:
        env = gym.wrappers.FlattenObservation(env)
    return env
