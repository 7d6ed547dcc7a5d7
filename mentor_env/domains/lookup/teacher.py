"""Question plans (lookup chains and how their facts combine) and the teacher that follows them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Generator

from mentor_env.core.tools import ToolResult
from mentor_env.domains.lookup.corpus import read_fact
from mentor_env.domains.scripted import TeacherFailed, TeacherPlan, TeacherTurn, read_number

TEACHER_K = 3


@dataclass(frozen=True)
class Hop:
    """Reading one entity's document: facts to keep, and the fact naming the next entity."""

    kind: str
    keep: tuple[str, ...] = ()
    follow: str | None = None


@dataclass(frozen=True)
class Chain:
    """A lookup chain that starts from a name written in the question."""

    start: str
    hops: tuple[Hop, ...]


@dataclass(frozen=True)
class Plan:
    """What the teacher must look up and how it combines the facts into the answer.

    combine: ``value`` (the one kept fact), ``difference`` (larger minus
    smaller), ``sum``, ``times`` (``factor`` times the fact), ``average``,
    ``smallest`` / ``largest`` (the start name of the chain with the
    smallest / largest kept fact).
    """

    chains: tuple[Chain, ...]
    combine: str = "value"
    factor: int | None = None


@dataclass(frozen=True)
class Question:
    text: str
    plan: Plan
    expected: str  # the answer computed from the world, to check the teacher against


_SEARCH_HIT = re.compile(r"^\d+\. (doc-\d{5}) \| (.+?) \| ", re.MULTILINE)


def solve(plan: Plan) -> TeacherPlan:
    """The scripted teacher: every chain advances in the same turns, then the arithmetic.

    A chain needs its next entity's doc id: one it has already seen as the
    title of a search hit (e.g. the company a founder's search also returned)
    is read at once; otherwise it searches for the name first. Every id read
    comes from a search result the teacher received.
    """
    kept = yield from _follow_chains(plan)
    answer = yield from _combine(plan, kept)
    yield TeacherTurn(f"The answer is \\boxed{{{answer}}}.")


def _follow_chains(plan: Plan) -> Generator[TeacherTurn, list[ToolResult], list[list[str]]]:
    """The lookup turns of :func:`solve`; returns the facts each chain kept, in order."""
    current = [chain.start for chain in plan.chains]
    step = [0] * len(plan.chains)
    kept: list[list[str]] = [[] for _ in plan.chains]
    seen: dict[str, str] = {}  # title -> doc id, from the search results received so far
    while True:
        active = [i for i, chain in enumerate(plan.chains) if step[i] < len(chain.hops)]
        if not active:
            return kept
        calls = [_next_call(current[i], seen) for i in active]
        results: list[ToolResult] = yield TeacherTurn("", calls)
        for i, (tool, _), result in zip(active, calls, results):
            if tool == "search":
                _note_hits(result, current[i], seen)
                continue
            hop = plan.chains[i].hops[step[i]]
            text = result.content.split("\n", 1)[1]
            kept[i].extend(read_fact(hop.kind, fact, text) for fact in hop.keep)
            if hop.follow is not None:
                current[i] = read_fact(hop.kind, hop.follow, text)
            step[i] += 1


def _next_call(name: str, seen: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """Read ``name``'s document when a search hit has shown its doc id, else search for ``name``."""
    if name in seen:
        return ("get_document", {"doc_id": seen[name]})
    return ("search", {"query": name, "k": TEACHER_K})


def _note_hits(result: ToolResult, name: str, seen: dict[str, str]) -> None:
    """Add a search result's hits to ``seen`` (a title keeps its first doc id); fail unless ``name`` is one."""
    for doc_id, title in _SEARCH_HIT.findall(result.content):
        seen.setdefault(title, doc_id)
    if name not in seen:
        raise TeacherFailed(f"{name!r} is not among the search hits: {result.content[:300]!r}")


def _combine(plan: Plan, kept: list[list[str]]) -> Generator[TeacherTurn, list[ToolResult], str]:
    """The answer from the kept facts, with the arithmetic turns ``plan.combine`` needs."""
    facts = [fact for chain_facts in kept for fact in chain_facts]
    numbers = [read_number(fact) for fact in facts] if plan.combine != "value" else []
    if plan.combine == "value":
        return facts[0]
    if plan.combine in ("smallest", "largest"):
        # Each chain keeps one fact; the answer is the name of the chain whose fact wins.
        firsts = [read_number(chain_facts[0]) for chain_facts in kept]
        pick = min if plan.combine == "smallest" else max
        return plan.chains[firsts.index(pick(firsts))].start
    results = yield TeacherTurn("", [_arithmetic_call(plan, numbers)])
    answer = results[0].content
    if plan.combine == "average":
        results = yield TeacherTurn("", [("divide", {"a": read_number(answer), "b": len(numbers)})])
        answer = results[0].content
    return answer


def _arithmetic_call(plan: Plan, numbers: list[int | float]) -> tuple[str, dict[str, Any]]:
    """The calculator call that combines the kept numbers (the first of two for ``average``)."""
    if plan.combine == "difference":
        return ("subtract", {"a": max(numbers), "b": min(numbers)})
    if plan.combine == "sum" and len(numbers) == 2:
        return ("add", {"a": numbers[0], "b": numbers[1]})
    if plan.combine == "sum":
        return ("sum_numbers", {"numbers": numbers})
    if plan.combine == "times":
        return ("multiply", {"a": plan.factor, "b": numbers[0]})
    if plan.combine == "average":
        return ("add", {"a": numbers[0], "b": numbers[1]})
    raise ValueError(f"unknown combine {plan.combine!r}")
