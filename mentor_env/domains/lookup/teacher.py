"""Question plans (lookup chains and how their facts combine) and the teacher that follows them."""

from __future__ import annotations

import re
from dataclasses import dataclass

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
    current = [chain.start for chain in plan.chains]
    step = [0] * len(plan.chains)
    kept: list[list[str]] = [[] for _ in plan.chains]
    seen: dict[str, str] = {}  # title -> doc id, from the search results received so far
    while True:
        active = [i for i, chain in enumerate(plan.chains) if step[i] < len(chain.hops)]
        if not active:
            break
        calls = [
            ("get_document", {"doc_id": seen[current[i]]})
            if current[i] in seen
            else ("search", {"query": current[i], "k": TEACHER_K})
            for i in active
        ]
        results: list[ToolResult] = yield TeacherTurn("", calls)
        for i, (tool, _), result in zip(active, calls, results):
            if tool == "search":
                for doc_id, title in _SEARCH_HIT.findall(result.content):
                    seen.setdefault(title, doc_id)
                if current[i] not in seen:
                    raise TeacherFailed(f"{current[i]!r} is not among the search hits: {result.content[:300]!r}")
                continue
            hop = plan.chains[i].hops[step[i]]
            text = result.content.split("\n", 1)[1]
            kept[i].extend(read_fact(hop.kind, fact, text) for fact in hop.keep)
            if hop.follow is not None:
                current[i] = read_fact(hop.kind, hop.follow, text)
            step[i] += 1

    facts = [fact for chain_facts in kept for fact in chain_facts]
    numbers = [read_number(fact) for fact in facts] if plan.combine != "value" else []
    if plan.combine == "value":
        answer = facts[0]
    elif plan.combine in ("smallest", "largest"):
        # Each chain keeps one fact; the answer is the name of the chain whose fact wins.
        firsts = [read_number(chain_facts[0]) for chain_facts in kept]
        pick = min if plan.combine == "smallest" else max
        answer = plan.chains[firsts.index(pick(firsts))].start
    else:
        if plan.combine == "difference":
            call = ("subtract", {"a": max(numbers), "b": min(numbers)})
        elif plan.combine == "sum":
            if len(numbers) == 2:
                call = ("add", {"a": numbers[0], "b": numbers[1]})
            else:
                call = ("sum_numbers", {"numbers": numbers})
        elif plan.combine == "times":
            call = ("multiply", {"a": plan.factor, "b": numbers[0]})
        elif plan.combine == "average":
            call = ("add", {"a": numbers[0], "b": numbers[1]})
        else:
            raise ValueError(f"unknown combine {plan.combine!r}")
        results = yield TeacherTurn("", [call])
        answer = results[0].content
        if plan.combine == "average":
            results = yield TeacherTurn("", [("divide", {"a": read_number(answer), "b": len(numbers)})])
            answer = results[0].content
    yield TeacherTurn(f"The answer is \\boxed{{{answer}}}.")
