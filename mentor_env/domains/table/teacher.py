"""The Table teacher: list tables if needed, describe them in one turn, one query, answer."""

from __future__ import annotations

import re
from typing import Sequence

from mentor_env.core.tools import ToolResult
from mentor_env.domains.scripted import TeacherFailed, TeacherPlan, TeacherTurn
from mentor_env.domains.table.db import database
from mentor_env.domains.table.templates import Draft


def names_every_table(question: str, tables: Sequence[str]) -> bool:
    """Whether the question names each table exactly (a model can then describe it without listing first)."""
    words = set(re.findall(r"[a-z_]+", question.lower()))
    return all(table in words for table in tables)


def first_cell(result_text: str) -> str:
    """The first column of the first row of a rendered result."""
    lines = result_text.split("\n")
    if len(lines) < 3:  # header and footer only: no rows
        raise TeacherFailed("the query returned no rows")
    return lines[1].split(" | ")[0]


def solve(draft: Draft) -> TeacherPlan:
    """The scripted teacher: list tables only if needed, describe every table in one turn, one query, answer."""
    if not names_every_table(draft.question, draft.tables):
        yield TeacherTurn("", [("list_tables", {})])
    yield TeacherTurn("", [("describe_table", {"table": table}) for table in draft.tables])
    results: list[ToolResult] = yield TeacherTurn("", [("query", {"sql": draft.sql})])
    answer = first_cell(results[0].content)
    if answer in ("NULL", "0"):
        raise TeacherFailed(f"degenerate answer {answer}")  # an empty filter: draw again
    yield TeacherTurn(f"The answer is \\boxed{{{answer}}}.")


def has_unique_top(draft: Draft) -> bool:
    """A top-1 question is fair only if its top row beats the second one."""
    if draft.check_sql is None:
        return True
    rows = database().run(draft.check_sql, max_rows=2).rows
    return len(rows) == 1 or (len(rows) == 2 and rows[0][-1] != rows[1][-1])
