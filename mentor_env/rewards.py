r"""MENTOR rewards as pure functions (no environment needed).

Episode-level scores follow the published MENTOR reward (arXiv 2510.18383,
official code, tool exact matching) number for number. With ``S`` the set of
valid tool names the student called, ``T`` the teacher's set, and
``no_invented`` true when the student wrote no tool name outside the task's
tools (vacuously true when it called none):

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
bonus), except when the teacher called no tool either. ``F1`` is computed on
the multisets of valid tool names (so repeated calls count), as DESIGN.md
specifies; the published ablation used sets.

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

import math
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Iterable, Mapping, Sequence

from mentor_env.core.parsing import ParsedTurn

TERMINAL_MODES = ("sparse", "mentor", "mentor_partial", "mentor_nomatch", "mentor_f1")
REWARD_MODES = TERMINAL_MODES + ("dense",)

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
    """

    finished: bool
    well_formed: bool
    answer: str | None
    correct: bool
    student_tools: tuple[str, ...]
    teacher_tools: tuple[str, ...]
    available_tools: frozenset[str]

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


def outcome_from_turns(
    turns: Sequence[ParsedTurn],
    *,
    ended: bool,
    is_correct: Callable[[str], bool],
    teacher_tools: Iterable[str],
    available_tools: Iterable[str],
) -> Outcome:
    """The :class:`Outcome` of a rollout's parsed assistant turns (the env and the scorers share it).

    The answer is the last ``\\boxed{}`` of any turn; it counts as correct only
    in a rollout that ``ended`` (the model stopped by itself); every tool name
    written, broken blocks with a readable name included, is a student tool.
    """
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


def tool_set_match(outcome: Outcome) -> bool:
    """``S == T``, with the published rule that a student using no tool never matches."""
    student = set(outcome.valid_student_tools)
    teacher = set(outcome.teacher_tools)
    if not teacher:
        return not student
    return bool(student) and student == teacher


def tool_set_overlap(outcome: Outcome) -> bool:
    """``S ∩ T ≠ ∅`` (the partial-matching ablation)."""
    return bool(set(outcome.valid_student_tools) & set(outcome.teacher_tools))


def tool_f1(outcome: Outcome) -> float:
    """F1 between the multisets of valid student and teacher tool names."""
    student = Counter(outcome.valid_student_tools)
    teacher = Counter(outcome.teacher_tools)
    if not student and not teacher:
        return 1.0
    common = sum((student & teacher).values())
    if common == 0:
        return 0.0
    precision = common / sum(student.values())
    recall = common / sum(teacher.values())
    return 2 * precision * recall / (precision + recall)


def _unscoreable(outcome: Outcome) -> float | None:
    """0.0 for a rollout that never ended properly, 0.1 for a missing answer."""
    if not (outcome.finished and outcome.well_formed):
        return 0.0
    if outcome.answer is None:
        return 0.1
    return None


def _tool_guided(outcome: Outcome, tool_score: float, hallucination_weight: float) -> float:
    early = _unscoreable(outcome)
    if early is not None:
        return early
    no_invented = hallucination_weight * outcome.no_invented_tools
    if outcome.correct:
        return round(0.7 + 0.3 * tool_score + no_invented, 10)
    return round(0.2 * 0.3 * tool_score + no_invented, 10)


def sparse_reward(outcome: Outcome) -> float:
    """1.0 correct, 0.1 wrong or missing answer, 0.0 never ended or malformed."""
    early = _unscoreable(outcome)
    if early is not None:
        return early
    return 1.0 if outcome.correct else 0.1


def mentor_reward(outcome: Outcome) -> float:
    """The published MENTOR reward with exact tool-set matching (max 1.1)."""
    return _tool_guided(outcome, float(tool_set_match(outcome)), 0.1)


def mentor_partial_reward(outcome: Outcome) -> float:
    """Ablation: any tool overlap instead of equality, no hallucination term (max 1.0)."""
    return _tool_guided(outcome, float(tool_set_overlap(outcome)), 0.0)


def mentor_nomatch_reward(outcome: Outcome) -> float:
    """Ablation: no tool matching, correctness and hallucination only (max 0.8)."""
    return _tool_guided(outcome, 0.0, 0.1)


def mentor_f1_reward(outcome: Outcome) -> float:
    """Ablation: 0.3·F1 of tool multisets instead of exact matching (max 1.1)."""
    return _tool_guided(outcome, tool_f1(outcome), 0.1)


EPISODE_REWARDS: dict[str, Callable[[Outcome], float]] = {
    "sparse": sparse_reward,
    "mentor": mentor_reward,
    "mentor_partial": mentor_partial_reward,
    "mentor_nomatch": mentor_nomatch_reward,
    "mentor_f1": mentor_f1_reward,
}

_SHIPPED_EPISODE_REWARDS = dict(EPISODE_REWARDS)


def episode_rewards(outcome: Outcome) -> dict[str, float]:
    """Every mode's episode score; ``dense`` sums to ``mentor`` over an episode."""
    scores = {mode: function(outcome) for mode, function in EPISODE_REWARDS.items()}
    scores["dense"] = scores["mentor"]
    return scores


def outcome_components(outcome: Outcome) -> dict[str, float]:
    """Named parts of the episode score, as floats for logging."""
    return _components(outcome, tool_set_match(outcome), tool_set_overlap(outcome), tool_f1(outcome))


def _components(outcome: Outcome, match: bool, overlap: bool, f1: float) -> dict[str, float]:
    return {
        "finished": float(outcome.finished),
        "well_formed": float(outcome.well_formed),
        "answered": float(outcome.answer is not None),
        "correct": float(outcome.correct),
        "tool_set_match": float(match),
        "tool_set_overlap": float(overlap),
        "tool_f1": f1,
        "no_invented_tools": float(outcome.no_invented_tools),
        "invented_tool_calls": float(len(outcome._valid_and_invented[1])),
        "tool_calls": float(len(outcome.student_tools)),
        "teacher_tool_calls": float(len(outcome.teacher_tools)),
    }


def episode_scores(outcome: Outcome) -> tuple[dict[str, float], dict[str, float]]:
    """``(episode_rewards(outcome), outcome_components(outcome))``, the tool matching computed once.

    The same functions on the same values, in the same order: equal results
    (what the environment uses on the last step).
    """
    if EPISODE_REWARDS != _SHIPPED_EPISODE_REWARDS:  # someone changed a mode's function: use it
        return episode_rewards(outcome), outcome_components(outcome)
    match, overlap, f1 = tool_set_match(outcome), tool_set_overlap(outcome), tool_f1(outcome)
    scores = {
        "sparse": sparse_reward(outcome),
        "mentor": _tool_guided(outcome, float(match), 0.1),
        "mentor_partial": _tool_guided(outcome, float(overlap), 0.0),
        "mentor_nomatch": _tool_guided(outcome, 0.0, 0.1),
        "mentor_f1": _tool_guided(outcome, f1, 0.1),
    }
    scores["dense"] = scores["mentor"]
    return scores, _components(outcome, match, overlap, f1)


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
    return left == right


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
