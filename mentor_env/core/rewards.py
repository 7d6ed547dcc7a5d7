r"""MENTOR rewards as pure functions (no environment needed).

Episode-level scores follow the table of the published MENTOR reward (arXiv
2510.18383, official code: ``mentor.py`` for exact tool matching and its
sparse and ablation files). With ``S`` the set of valid tool names the student
called, ``T`` the teacher's set, and ``no_invented`` true when the student
wrote no tool name outside the task's tools (vacuously true when it called
none):

=================  ============================================  ===========================
mode               correct answer                                wrong answer
=================  ============================================  ===========================
``sparse``         1.0                                           0.1
``mentor``         0.7 + 0.3·[S == T] + 0.1·no_invented          0.2·0.3·[S == T] + 0.1·no_invented
``mentor_partial`` 0.7 + 0.3·[S ∩ T ≠ ∅]                         0.2·0.3·[S ∩ T ≠ ∅]
``mentor_nomatch`` 0.7 + 0.1·no_invented                         0.1·no_invented
``mentor_f1``      0.7 + 0.3·F1 + 0.1·no_invented                0.2·0.3·F1 + 0.1·no_invented
=================  ============================================  ===========================

In every mode a rollout that never ended (truncated at ``max_turns``) or whose
final turn is malformed scores 0.0, and one that ended without a ``\boxed{}``
answer (or an empty one) scores 0.1. As in the published code, a tool match
needs ``S`` non-empty (a student that called no valid tool gets no match
bonus). An empty ``T`` means the teacher used no tool: then ``S = ∅`` is a
match in every mode (exact, overlap, F1 = 1) and any valid call a miss.
``F1`` is computed on the multisets of valid tool names (so repeated calls
count). Sums are rounded to 10 decimals (``0.7 + 0.1`` is 0.8). Note the
published incentive: with a wrong answer some modes pay less than with none
(``mentor_partial``: 0.0 or 0.06 against 0.1; with an invented tool,
``mentor``/``mentor_f1`` at most 0.06 and ``mentor_nomatch`` 0.0).

Two settings (``compat``) build the :class:`Outcome` from the same parsed turns
(:func:`outcome_from_turns`); the functions below score both:

* ``"ours"`` (the default): the rules above, with the environment's reading of
  the text (calls inside ``<think>`` are reasoning, a block with broken JSON
  but a readable ``"name"`` counts, the answer is the last complete
  ``\boxed{}`` outside ``<think>``, a final turn that fakes a
  ``<tool_response>`` is malformed).
* ``"official"``: the published reward files case for case, their reading of
  the text included (:class:`~mentor_env.core.parsing.LiteralReading`): every
  ``<tool_call>...</tool_call>`` span anywhere counts by its JSON ``"name"``
  (broken JSON: no name; a non-string name is an invented tool), the answer is
  the last ``\boxed`` anywhere (unclosed: no answer), nothing is malformed, an
  empty ``T`` scores 0.1 in the tool-matching modes ("teacher tools not
  provided"), F1 is over sets, sums are not rounded, and a name the published
  code cannot hash (a JSON object or array) makes it raise: such a rollout
  scores 0.0 in the modes that read tools, with ``scoring_error`` set.

``dense`` adds potential-based shaping (Ng, Harada & Russell, 1999) toward the
teacher's trajectory to ``mentor``. The potential of a state is

    Φ(s) = shaping_weight · progress(s),    progress ∈ [0, 1]

where ``progress`` walks the student's successful calls in order and matches
each to the not-yet-matched teacher call that gives it the most credit:

    credit(call, teacher_call) = 0                                  if the names differ
                               = NAME_WEIGHT + (1 - NAME_WEIGHT) · argument_match   otherwise
    progress = Σ credit of matched teacher calls / number of teacher calls

``argument_match`` is the fraction of argument keys (union of both calls) whose
values are equal (numbers within 1e-9); a teacher call whose arguments are
unknown (published data layout) gives full credit for the name. The reward of
step ``t`` is

    dense_t = γ·Φ(s_{t+1}) − Φ(s_t) + [last step]·mentor(episode)

with Φ of the final state taken as 0, so over an episode the shaping sums to
``−Φ(s_0) = 0`` for γ = 1 and the dense return equals the ``mentor`` return:
the shaping moves credit to the turns that made progress without changing
which policy is optimal.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Iterable, Mapping, Sequence

from mentor_env.core.parsing import ParsedTurn, ToolCallParser

# How an outcome is read from the text: our rules, or the published code's (module doc).
COMPAT_SETTINGS = ("ours", "official")

# The weights of the table above, each named once (the published MENTOR reward's values).
UNFINISHED = 0.0  # every mode: truncated, or a malformed final turn
NO_ANSWER = 0.1  # every mode: ended without a \boxed{} answer
SPARSE_CORRECT = 1.0
SPARSE_WRONG = 0.1
CORRECT_WEIGHT = 0.7  # the tool-reading modes: a correct answer
TOOL_WEIGHT = 0.3  # ... the tool term (exact match, overlap or F1)
WRONG_ANSWER_TOOL_SHARE = 0.2  # ... a wrong answer keeps this share of the tool term
NO_INVENTED_TOOL_WEIGHT = 0.1  # ... no tool name outside the task's tools
TEACHER_MISSING = 0.1  # compat="official": a tool-matching mode when the teacher used no tool

# Share of a teacher call's credit earned by calling the same tool; the rest
# comes from matching its arguments.
NAME_WEIGHT = 0.5
DEFAULT_SHAPING_WEIGHT = 0.5


@dataclass(frozen=True)
class Outcome:
    """What the episode-level rewards look at.

    Attributes:
        finished: The model ended the episode itself (not truncated).
        well_formed: The final turn parsed as a proper answer turn.
        answer: The final ``\\boxed{}`` answer, ``None`` when missing or empty.
        correct: The judge accepted ``answer``.
        student_tools: Every tool name the student wrote, in order, invented ones included.
        teacher_tools: The teacher's tool names, in order.
        available_tools: The names of the task's tools.
        teacher_required: The tool-matching modes (all but ``sparse`` and
            ``mentor_nomatch``) score 0.1 when ``teacher_tools`` is empty
            (the published code's "teacher tools not provided").
        f1_over_sets: ``mentor_f1`` compares tool sets, not multisets.
        rounded: Sums are rounded to 10 decimals (else the raw float sums).
        scoring_error: Why the published code could not score this rollout
            (it raised); the modes that read tools then score 0.0.
    """

    finished: bool
    well_formed: bool
    answer: str | None
    correct: bool
    student_tools: tuple[str, ...]
    teacher_tools: tuple[str, ...]
    available_tools: frozenset[str]
    teacher_required: bool = False
    f1_over_sets: bool = False
    rounded: bool = True
    scoring_error: str | None = None

    @cached_property
    def _valid_and_invented(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        # Computed once per outcome: every score and component reads them.
        valid = tuple(name for name in self.student_tools if name in self.available_tools)
        invented = tuple(name for name in self.student_tools if name not in self.available_tools)
        return valid, invented

    @property
    def valid_student_tools(self) -> list[str]:
        return list(self._valid_and_invented[0])

    @property
    def invented_tools(self) -> list[str]:
        return list(self._valid_and_invented[1])

    @property
    def no_invented_tools(self) -> bool:
        return not self._valid_and_invented[1]

    @property
    def scoreable(self) -> bool:
        """Ended properly with a non-empty answer: the table's two columns apply."""
        return self.finished and self.well_formed and self.answer is not None


def check_compat(compat: str, parser: ToolCallParser | None = None) -> str:
    """``compat`` if it is one of :data:`COMPAT_SETTINGS` (and ``parser`` can serve it).

    Raises:
        ValueError: for another value, or for ``"official"`` with a parser
            whose turns do not report :attr:`ParsedTurn.literal`.
    """
    if compat not in COMPAT_SETTINGS:
        raise ValueError(f"compat must be one of {COMPAT_SETTINGS}, got {compat!r}")
    if compat == "official" and parser is not None and getattr(parser.parse(""), "literal", None) is None:
        raise ValueError(
            f"compat='official' needs a parser whose ParsedTurn.literal is set (HermesParser sets it); "
            f"{type(parser).__name__} leaves it None"
        )
    return compat


def outcome_from_turns(
    turns: Sequence[ParsedTurn],
    *,
    ended: bool,
    is_correct: Callable[[str], bool],
    teacher_tools: Iterable[str],
    available_tools: Iterable[str],
    compat: str = "ours",
) -> Outcome:
    """The :class:`Outcome` of a rollout's parsed assistant turns (the env and the scorers share it).

    ``compat="ours"``: the answer is the last ``\\boxed{}`` of any turn; it
    counts as correct only in a rollout that ``ended`` (the model stopped by
    itself); every tool name written, broken blocks with a readable name
    included, is a student tool. ``compat="official"``: the published code's
    rules (module doc), from each turn's :attr:`ParsedTurn.literal`; a turn
    without one (an action the environment refused unread) contributes
    nothing.

    Raises:
        ValueError: for an unknown ``compat``, or ``"official"`` on turns none
            of which carries a literal reading.
    """
    check_compat(compat)
    if compat == "official":
        return _official_outcome(turns, ended, is_correct, teacher_tools, available_tools)
    answer = next((turn.final_answer for turn in reversed(turns) if turn.final_answer is not None), None)
    return Outcome(
        finished=ended,
        well_formed=bool(turns) and not turns[-1].malformed,
        answer=answer,
        correct=bool(answer is not None and ended and is_correct(answer)),
        student_tools=tuple(call.name for turn in turns for call in turn.calls if call.name is not None),
        teacher_tools=tuple(teacher_tools),
        available_tools=frozenset(available_tools),
    )


def _official_outcome(
    turns: Sequence[ParsedTurn],
    ended: bool,
    is_correct: Callable[[str], bool],
    teacher_tools: Iterable[str],
    available_tools: Iterable[str],
) -> Outcome:
    """The published code's outcome (``compat="official"``, see the module doc)."""
    readings = [turn.literal for turn in turns if turn.literal is not None]
    if turns and not readings:
        raise ValueError(
            "compat='official' needs turns parsed by a parser that sets ParsedTurn.literal (HermesParser does)"
        )
    available = frozenset(available_tools)
    # The answer: the last \boxed-and-a-space if any turn has one (the published
    # extraction prefers it), else the last \boxed of any turn, readable or not.
    spaced = [reading for reading in readings if reading.spaced_boxed]
    boxed = spaced or [reading for reading in readings if reading.last_boxed is not None]
    raw_answer = boxed[-1].last_boxed if boxed else None
    answer = raw_answer if raw_answer is not None and raw_answer.strip() else None
    names: list[str] = []
    error = None
    for name in (name for reading in readings for name in reading.call_names):
        if not name:  # None, "", 0, false, {}, []: the published code skips falsy names
            continue
        if isinstance(name, str):
            names.append(name)
        elif isinstance(name, (dict, list)):
            # The published code tests `name not in valid_tool_names`: a TypeError for these.
            error = error or f"TypeError: unhashable type: {type(name).__name__!r} (tool name {str(name)[:80]})"
        else:  # a number or true: hashable, and never a tool's name
            names.append(_json_text(name))
    return Outcome(
        finished=ended,
        well_formed=True,
        answer=answer,
        correct=bool(answer is not None and ended and is_correct(answer)),
        student_tools=tuple(names),
        teacher_tools=tuple(teacher_tools),
        available_tools=available,
        teacher_required=True,
        f1_over_sets=True,
        rounded=False,
        scoring_error=error,
    )


def _json_text(value: Any) -> str:
    """A non-string JSON name as written (``7``, ``true``); kept apart from any tool name."""
    text = json.dumps(value)
    return f"<{text}>"


def tool_set_match(outcome: Outcome) -> bool:
    """``S == T``; a student using no valid tool matches only a teacher that used none."""
    student = set(outcome.valid_student_tools)
    teacher = set(outcome.teacher_tools)
    if not teacher:
        return not student
    return bool(student) and student == teacher


def tool_set_overlap(outcome: Outcome) -> bool:
    """``S ∩ T ≠ ∅`` (the partial-matching ablation); with ``T = ∅``, ``S = ∅`` matches."""
    student = set(outcome.valid_student_tools)
    teacher = set(outcome.teacher_tools)
    if not teacher:
        return not student
    return bool(student & teacher)


def tool_f1(outcome: Outcome) -> float:
    """F1 between the multisets (``f1_over_sets``: the sets) of valid student and teacher tool names."""
    student: Counter[str] = Counter(outcome.valid_student_tools)
    teacher: Counter[str] = Counter(outcome.teacher_tools)
    if outcome.f1_over_sets:
        student, teacher = Counter(set(student)), Counter(set(teacher))
    if not student and not teacher:
        return 1.0
    common = sum((student & teacher).values())
    if common == 0:
        return 0.0
    precision = common / sum(student.values())
    recall = common / sum(teacher.values())
    return 2 * precision * recall / (precision + recall)


def _unscoreable(outcome: Outcome) -> float | None:
    """:data:`UNFINISHED` for a rollout that never ended properly, :data:`NO_ANSWER` for a missing answer."""
    if not (outcome.finished and outcome.well_formed):
        return UNFINISHED
    if outcome.answer is None:
        return NO_ANSWER
    return None


def tool_guided_score(
    outcome: Outcome, tool_score: float, no_invented_weight: float = NO_INVENTED_TOOL_WEIGHT, uses_teacher: bool = True
) -> float:
    """A tool-reading mode's row of the table: correctness, ``tool_score`` (in [0, 1]) and the invented-tool term.

    The checks run in the published order, and the sum too, so that unrounded sums are its floats exactly.
    """
    early = _unscoreable(outcome)
    if early is not None:
        return early
    if outcome.scoring_error is not None:
        return UNFINISHED
    if uses_teacher and outcome.teacher_required and not outcome.teacher_tools:
        return TEACHER_MISSING
    correctness = CORRECT_WEIGHT if outcome.correct else 0.0
    share = 1.0 if outcome.correct else WRONG_ANSWER_TOOL_SHARE
    total = correctness + (TOOL_WEIGHT * tool_score * share + no_invented_weight * outcome.no_invented_tools)
    return round(total, 10) if outcome.rounded else total


@dataclass(frozen=True)
class ToolScores:
    """The tool comparisons every mode may read, computed once per outcome."""

    match: bool  # tool_set_match
    overlap: bool  # tool_set_overlap
    f1: float  # tool_f1

    @classmethod
    def of(cls, outcome: Outcome) -> ToolScores:
        return cls(tool_set_match(outcome), tool_set_overlap(outcome), tool_f1(outcome))


@dataclass(frozen=True)
class RewardMode:
    """One reward mode, declared once: the environment, the scorers, TRL and verl all read it from the registry.

    Attributes:
        name: what ``reward_mode=`` takes (a Python identifier).
        score: the episode's score from its :class:`Outcome` and :class:`ToolScores`.
        description: one line for tables and errors.
        shaped: paid step by step: ``score`` on the last step plus potential-based shaping toward the
            teacher on every step (which sums to zero over an episode, so a whole completion scores
            ``score``). Otherwise the mode is terminal: ``score`` on the last step, 0 before.
    """

    name: str
    score: Callable[[Outcome, ToolScores], float]
    description: str
    shaped: bool = False

    def __call__(self, outcome: Outcome) -> float:
        return self.score(outcome, ToolScores.of(outcome))


def _sparse(outcome: Outcome, tools: ToolScores) -> float:
    early = _unscoreable(outcome)
    if early is not None:
        return early
    return SPARSE_CORRECT if outcome.correct else SPARSE_WRONG


def _mentor(outcome: Outcome, tools: ToolScores) -> float:
    return tool_guided_score(outcome, float(tools.match))


def _mentor_partial(outcome: Outcome, tools: ToolScores) -> float:
    return tool_guided_score(outcome, float(tools.overlap), no_invented_weight=0.0)


def _mentor_nomatch(outcome: Outcome, tools: ToolScores) -> float:
    return tool_guided_score(outcome, 0.0, uses_teacher=False)


def _mentor_f1(outcome: Outcome, tools: ToolScores) -> float:
    return tool_guided_score(outcome, tools.f1)


_REGISTRY: dict[str, RewardMode] = {}
SHIPPED_MODES = ("sparse", "mentor", "mentor_partial", "mentor_nomatch", "mentor_f1", "dense")


def register_reward_mode(mode: RewardMode) -> RewardMode:
    """Add ``mode`` to the registry: every env, scorer, TRL and verl reward takes its name from then on.

    Raises:
        ValueError: a name that is not an identifier, or one already registered.
    """
    if not mode.name.isidentifier():
        raise ValueError(f"a reward mode's name is a Python identifier, e.g. 'correct_only'; got {mode.name!r}")
    if mode.name in _REGISTRY:
        raise ValueError(f"reward mode {mode.name!r} is already registered; unregister_reward_mode() it first")
    _REGISTRY[mode.name] = mode
    return mode


def unregister_reward_mode(name: str) -> RewardMode:
    """Remove a mode registered with :func:`register_reward_mode` (the shipped ones stay)."""
    if name in SHIPPED_MODES:
        raise ValueError(f"{name!r} ships with mentor_env and cannot be unregistered")
    if name not in _REGISTRY:
        raise ValueError(f"no reward mode {name!r} is registered; registered: {tuple(_REGISTRY)}")
    return _REGISTRY.pop(name)


def get_reward_mode(name: str) -> RewardMode:
    """The registered mode called ``name``.

    Raises:
        ValueError: naming the registered modes.
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"reward_mode must be one of {tuple(_REGISTRY)}, got {name!r}") from None


class ModeNames(Sequence[str]):
    """The names of the registered modes (all, or only the terminal ones), in registration order.

    A live view: a mode registered later is in it. Compares equal to the tuple of its names.
    """

    def __init__(self, terminal_only: bool) -> None:
        self._terminal_only = terminal_only

    def _names(self) -> tuple[str, ...]:
        return tuple(name for name, mode in _REGISTRY.items() if not (self._terminal_only and mode.shaped))

    def __getitem__(self, index: Any) -> Any:
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __contains__(self, name: object) -> bool:
        mode = _REGISTRY.get(name) if isinstance(name, str) else None
        return mode is not None and not (self._terminal_only and mode.shaped)

    def __eq__(self, other: object) -> bool:
        return self._names() == (tuple(other) if isinstance(other, (tuple, list, ModeNames)) else other)

    __hash__ = None  # type: ignore[assignment]  # its contents change as modes are registered

    def __repr__(self) -> str:
        return repr(self._names())


REWARD_MODES = ModeNames(terminal_only=False)  # every registered mode
TERMINAL_MODES = ModeNames(terminal_only=True)  # the modes that pay only on the last step

for _mode in (
    RewardMode("sparse", _sparse, "1.0 correct, 0.1 wrong or no answer, 0.0 never ended"),
    RewardMode("mentor", _mentor, "MENTOR: 0.7 correct + 0.3 exact tool-set match + 0.1 no invented tool"),
    RewardMode(
        "mentor_partial", _mentor_partial, "ablation: any tool overlap instead of equality, no invented-tool term"
    ),
    RewardMode("mentor_nomatch", _mentor_nomatch, "ablation: no tool matching, correctness and invented tools only"),
    RewardMode("mentor_f1", _mentor_f1, "ablation: 0.3 x F1 of the tool multisets instead of exact matching"),
    RewardMode("dense", _mentor, "mentor plus potential-based shaping toward the teacher on every step", shaped=True),
):
    register_reward_mode(_mode)


def sparse_reward(outcome: Outcome) -> float:
    """1.0 correct, 0.1 wrong or missing answer, 0.0 never ended or malformed."""
    return get_reward_mode("sparse")(outcome)


def mentor_reward(outcome: Outcome) -> float:
    """The published MENTOR reward with exact tool-set matching (max 1.1)."""
    return get_reward_mode("mentor")(outcome)


def mentor_partial_reward(outcome: Outcome) -> float:
    """Ablation: any tool overlap instead of equality, no hallucination term (max 1.0)."""
    return get_reward_mode("mentor_partial")(outcome)


def mentor_nomatch_reward(outcome: Outcome) -> float:
    """Ablation: no tool matching, correctness and hallucination only (max 0.8)."""
    return get_reward_mode("mentor_nomatch")(outcome)


def mentor_f1_reward(outcome: Outcome) -> float:
    """Ablation: 0.3·F1 of tool multisets (``f1_over_sets``: sets) instead of exact matching (max 1.1)."""
    return get_reward_mode("mentor_f1")(outcome)


def episode_rewards(outcome: Outcome) -> dict[str, float]:
    """Every registered mode's episode score (a shaped mode's is the sum of its steps, shaping summing to zero)."""
    return episode_scores(outcome)[0]


def outcome_components(outcome: Outcome) -> dict[str, float]:
    """Named parts of the episode score, as floats for logging."""
    return _components(outcome, ToolScores.of(outcome))


def _components(outcome: Outcome, tools: ToolScores) -> dict[str, float]:
    return {
        "finished": float(outcome.finished),
        "well_formed": float(outcome.well_formed),
        "answered": float(outcome.answer is not None),
        "correct": float(outcome.correct),
        "tool_set_match": float(tools.match),
        "tool_set_overlap": float(tools.overlap),
        "tool_f1": tools.f1,
        "no_invented_tools": float(outcome.no_invented_tools),
        "invented_tool_calls": float(len(outcome._valid_and_invented[1])),
        "tool_calls": float(len(outcome.student_tools)),
        "teacher_tool_calls": float(len(outcome.teacher_tools)),
        "scoring_error": float(outcome.scoring_error is not None),
    }


def episode_scores(outcome: Outcome) -> tuple[dict[str, float], dict[str, float]]:
    """``(episode_rewards(outcome), outcome_components(outcome))``, the tool comparisons computed once
    (what the environment uses on the last step)."""
    tools = ToolScores.of(outcome)
    return {name: mode.score(outcome, tools) for name, mode in _REGISTRY.items()}, _components(outcome, tools)


# --- potential-based shaping toward the teacher's trajectory -----------------


def _values_equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_values_equal(a, b) for a, b in zip(left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_values_equal(left[k], right[k]) for k in left)
    return bool(left == right)


def argument_match(student: Mapping[str, Any], teacher: Mapping[str, Any]) -> float:
    """Fraction of argument keys (union of both) with equal values."""
    keys = set(student) | set(teacher)
    if not keys:
        return 1.0
    same = sum(1 for key in keys if key in student and key in teacher and _values_equal(student[key], teacher[key]))
    return same / len(keys)


def call_credit(student: tuple[str, Mapping[str, Any]], teacher: tuple[str, Mapping[str, Any] | None]) -> float:
    """Credit one student call earns against one teacher call (see module doc)."""
    student_name, student_arguments = student
    teacher_name, teacher_arguments = teacher
    if student_name != teacher_name:
        return 0.0
    if teacher_arguments is None:
        return 1.0
    return NAME_WEIGHT + (1.0 - NAME_WEIGHT) * argument_match(student_arguments, teacher_arguments)


def teacher_progress(
    student_calls: Iterable[tuple[str, Mapping[str, Any]]],
    teacher_calls: Sequence[tuple[str, Mapping[str, Any] | None]],
) -> float:
    """How far the student's successful calls got through the teacher's, in [0, 1]."""
    if not teacher_calls:
        return 0.0
    credits = [0.0] * len(teacher_calls)
    matched = [False] * len(teacher_calls)
    for call in student_calls:
        best_index, best_credit = -1, 0.0
        for index, teacher_call in enumerate(teacher_calls):
            if not matched[index]:
                credit = call_credit(call, teacher_call)
                if credit > best_credit:
                    best_index, best_credit = index, credit
        if best_index >= 0:
            matched[best_index] = True
            credits[best_index] = best_credit
    return sum(credits) / len(teacher_calls)


class TeacherProgress:
    """:func:`teacher_progress` kept up to date one student call at a time.

    Feeding the successful calls in order with :meth:`add` gives, after each,
    exactly ``teacher_progress(calls so far, teacher_calls)`` (the same greedy
    matching, the same credits summed in the same order), at the cost of the
    new calls only: the environment updates it once per step instead of
    replaying the whole episode.
    """

    __slots__ = ("_teacher_calls", "_credits", "_open_by_name")

    def __init__(self, teacher_calls: Sequence[tuple[str, Mapping[str, Any] | None]]) -> None:
        self._teacher_calls = list(teacher_calls)
        self._credits = [0.0] * len(self._teacher_calls)
        # Unmatched teacher calls by name, in teacher order: a call of another
        # name earns 0 credit, which never beats the best so far.
        self._open_by_name: dict[str, list[int]] = {}
        for index, (name, _) in enumerate(self._teacher_calls):
            self._open_by_name.setdefault(name, []).append(index)

    def add(self, call: tuple[str, Mapping[str, Any]]) -> None:
        """Match one more student call (the next in order) to the teacher's."""
        candidates = self._open_by_name.get(call[0])
        if not candidates:
            return
        best_position, best_credit = -1, 0.0
        for position, index in enumerate(candidates):
            credit = call_credit(call, self._teacher_calls[index])
            if credit > best_credit:
                best_position, best_credit = position, credit
        if best_position >= 0:
            self._credits[candidates.pop(best_position)] = best_credit

    def extend(self, calls: Iterable[tuple[str, Mapping[str, Any]]]) -> None:
        """:meth:`add` each of ``calls`` in order."""
        for call in calls:
            self.add(call)

    @property
    def value(self) -> float:
        """The progress of the calls added so far, in [0, 1]."""
        if not self._teacher_calls:
            return 0.0
        return sum(self._credits) / len(self._teacher_calls)


def shaping_reward(previous_potential: float, potential: float, gamma: float = 1.0) -> float:
    """``γ·Φ(s') − Φ(s)``: the potential-based shaping term of one step."""
    return gamma * potential - previous_potential
