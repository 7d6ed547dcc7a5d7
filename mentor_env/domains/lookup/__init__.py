r"""``mentor/Lookup-v0``: questions about a fictional world, answered by searching its documents.

The retrieval setting of MENTOR (its RAG experiments) at a small scale. A
world of regions, cities, rivers, people, companies, products and universities
is generated from a fixed seed, with invented names built from syllables so
that no model knows the answers in advance. Every entity has one short fact
document (2-4 sentences, ids ``doc-00000`` ...); the collection ships as
``mentor_env/domains/data/lookup_corpus.jsonl`` and :func:`corpus_jsonl`
rebuilds it byte for byte.

Tools
    ``search(query, k=5)``: BM25 ranking (k1 = 1.2, b = 0.75, title words
    counted twice) over a word index built once per process; ties go to the
    smaller doc id. ``query`` is 1-300 characters, read as words (letters and
    numbers, lower-cased, common English words dropped), never as a pattern;
    ``k`` is 1-10. Returns one line per hit: ``rank. doc_id | title |
    first sentence``. The first sentence of a document never holds the facts
    that questions ask about, so an answer needs the full document.
    ``get_document(doc_id)``: the full text of ``doc-NNNNN`` (five digits).
    ``add``, ``subtract``, ``multiply``, ``divide``, ``sum_numbers``: the
    calculator tools of :mod:`mentor_env.domains.calc`.
    A query without a searchable word, a query no document matches and an
    unknown doc id are error messages (``execution_error``); malformed
    arguments are refused by the schemas (``invalid_args``).

Tasks
    :meth:`LookupDomain.generate` draws a question template and its entities
    from the seed. Difficulty 1: one fact of one entity. Difficulty 2: a
    two-hop chain ("the city where the company that X founded is
    headquartered"), or one fact plus arithmetic, or a comparison of two
    entities. Difficulty 3: facts of two or three entities combined with
    arithmetic (years between foundings, combined headcounts, average prices,
    a founder's age). Answers are names or numbers.
    ``ood=True`` uses templates and wordings that in-distribution tasks never
    use: questions about rivers and universities (entity types whose documents
    are in the collection but never asked about in distribution), three-hop
    chains (product -> maker -> headquarters -> population), sums over four
    entities and order sizes in the hundreds or thousands.

Teacher
    For every entity it needs, searches for the entity's name as the question
    (or the previous document) writes it, takes the hit whose title is that
    name, reads it with ``get_document`` and extracts the fact from the text;
    an entity already seen as a search hit (a founder's search often returns
    their company) is read without a new search, and independent lookups
    share a turn. Arithmetic goes through the calculator tools and the gold
    answer is what the tools returned, so the teacher is right by
    construction. Every entity's name ranks its own document first
    (a test checks the whole world); the teacher asks for ``k = 3``.

Judge
    Numbers: :func:`~mentor_env.domains.answers.numbers_match`, exactly
    (``1,987``, ``$24.90``, ``1987.0`` all match; ``1988`` and ``1987 years``
    do not). Names: equal after Unicode
    normalisation, dropping accents, case, punctuation, ``\text{}`` and the
    articles a/an/the.

Modules
    :mod:`.corpus` (the world, its documents, the shipped corpus file),
    :mod:`.index` (BM25), :mod:`.tools`, :mod:`.teacher` (question plans and
    the teacher that follows them), :mod:`.templates`, :mod:`.judge`;
    ``python -m mentor_env.domains.lookup`` rewrites the corpus file.

Spaces, rewards and termination are those of
:class:`~mentor_env.core.env.ToolUseEnv`; ``max_turns`` defaults to 12 here
(teacher trajectories take at most 8).
"""

from __future__ import annotations

import random
from dataclasses import replace

from mentor_env.core.task import Task
from mentor_env.domains.answers import gold_number
from mentor_env.domains.base import Draw, GeneratedDomain
from mentor_env.domains.lookup.corpus import world
from mentor_env.domains.lookup.index import search_index
from mentor_env.domains.lookup.judge import judge_answer
from mentor_env.domains.lookup.teacher import solve
from mentor_env.domains.lookup.templates import OOD_TEMPLATES, TEMPLATES
from mentor_env.domains.lookup.tools import TOOLS

__all__ = ["LookupDomain"]

SYSTEM_PROMPT = (
    "You answer questions about a fictional world using its document collection; nothing about this world "
    "is known in advance. Search for the names in the question, read the documents you need with "
    "get_document, and do arithmetic with the calculator tools. You may make several independent calls in "
    "one turn. When you know the answer, reply without a tool call and put the final answer in \\boxed{}."
)


class LookupDomain(GeneratedDomain):
    """Multi-hop questions over a fictional world's document collection."""

    name = "lookup"
    tools = TOOLS
    system_prompt = SYSTEM_PROMPT
    difficulties = (1, 2, 3)

    def __init__(self) -> None:
        super().__init__()
        # Built here, once per process, so that no tool call pays for it under its time limit.
        world()
        search_index()

    def levels(self, ood: bool) -> tuple[int, ...]:
        # Out of distribution leans to the longer chains.
        return (1, 2, 3, 3) if ood else self.difficulties

    def draw(self, rng: random.Random, level: int, ood: bool) -> Draw:
        # A name outside the teacher's top k is drawn again (the tests show none is).
        template = rng.choice((OOD_TEMPLATES if ood else TEMPLATES)[level])
        style = template.__name__.removeprefix("_")
        question = template(rng, world())
        return Draw(question.text, solve(question.plan), {"difficulty": level, "style": style}, source=question)

    def finish(self, task: Task, drawn: Draw) -> Task:
        """Checks the teacher against the world; adds the hops, the gold documents and the answer type."""
        question, answer = drawn.source, task.answer
        if not judge_answer(answer, question.expected):  # pragma: no cover - corpus and world disagree
            raise RuntimeError(
                f"teacher answered {answer!r} but the world says {question.expected!r} ({task.meta['style']}); "
                "regenerate the corpus with python -m mentor_env.domains.lookup"
            )
        documents = [
            call.arguments["doc_id"]
            for call in task.teacher.calls
            if call.name == "get_document" and call.arguments is not None
        ]
        return replace(
            task,
            meta={
                **task.meta,
                "hops": max(len(chain.hops) for chain in question.plan.chains),
                "documents": documents,  # the gold documents, for retrieval metrics
                "answer_type": "number" if gold_number(answer) is not None else "name",
            },
        )

    def judge(self, prediction: str, answer: str) -> bool:
        return judge_answer(prediction, answer)
