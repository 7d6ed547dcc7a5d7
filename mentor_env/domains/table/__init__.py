r"""``mentor/Table-v0``: questions about a read-only SQLite database, answered with SQL.

The model explores a small relational database (built in memory from a fixed
seed, identical in every process) and answers a question that needs a filter,
an aggregate or a join, with one SELECT query.

Tools
    ``list_tables()`` names the tables with their row counts;
    ``describe_table(table)`` shows one table's columns, types, keys and the
    values of its categorical columns (the name is checked against the real
    table list, never put into SQL); ``query(sql)`` runs one read-only
    statement and returns a compact text table (``a | b`` lines, at most
    :data:`ROW_LIMIT` rows, with how many were cut). Read-only is enforced
    three times over: ``PRAGMA query_only``, an authorizer that allows only
    reading (SELECT, READ, FUNCTION, recursive CTEs) and refuses writes, DDL,
    transactions, ATTACH/DETACH, PRAGMA and ``load_extension``, and SQLite
    limits (no attached databases, strings and blobs up to 4,000 bytes, bounded
    expression depth). A progress handler stops any query after
    :data:`QUERY_TIME_LIMIT_S` seconds (an endless recursive CTE, a 10^12-row
    cross join); SQL is at most :data:`MAX_SQL_CHARS` characters, one statement.
    The query tool is isolated: it runs in a child process of the env's tool
    runtime (:mod:`mentor_env.core.sandbox`), killed :data:`QUERY_KILL_AFTER_S`
    seconds after the call starts, for work the progress handler cannot stop
    (one long SQLite function call, preparing a huge join). Each env has its
    own child, so one env's runaway query never delays another's. Task
    generation runs the teacher's (trusted, fast) SQL in the process itself.

Tables
    Three families: orders (``customers``, ``products``, ``orders``,
    ``order_items``), employees (``departments``, ``employees``,
    ``salaries``), inventory (``warehouses``, ``suppliers``, ``stock``).

Tasks
    :meth:`TableDomain.generate` draws a question at difficulty 1-4: 1 = a
    filter on one table, 2 = an aggregate on one table, 3 = a join of two to
    three tables with a filter and an aggregate, 4 = a join with GROUP BY and
    ORDER BY (a "which ... the most" question). In-distribution questions
    cover the orders and employees families. ``ood=True`` uses wording
    templates that in-distribution tasks never use, the held-out inventory
    family, column combinations never asked in-distribution (order lines by
    quantity and price, staff by title and hire year, status shares, signup
    cohorts, payroll changes, raises) and joins of up to four tables; each ood
    level is one step harder than the in-distribution level of the same
    number (1 = one table, 2 = two-table joins, 3 = three or four tables,
    4 = multi-join with GROUP BY), about 4.2 teacher calls per task against 3.5. Answers are numbers
    (money rounded to 2 decimals in SQL) or names; top-1 questions whose top
    two rows tie are redrawn, so every answer is unique.

Teacher
    Calls ``list_tables`` first only when the question does not name every
    table it needs (by its exact table name), then describes all needed
    tables in one turn (parallel calls), then runs one query; the gold answer
    is the first cell of what that query returned.

Judge
    Numbers compare exactly (:func:`~mentor_env.domains.answers.numbers_match`;
    ``1,234.5``, ``$12`` accepted, ``12.5%`` is 0.125); names compare after
    Unicode normalisation, case folding, and stripping quotes, ``\text{}`` and
    surrounding whitespace.

Modules
    :mod:`.db` (schema, seeded rows, the read-only connection), :mod:`.tools`
    (``query`` is importable as ``mentor_env.domains.table.tools:query``, which
    the sandbox child imports), :mod:`.templates`, :mod:`.teacher`,
    :mod:`.judge`.

Spaces, rewards, termination and arguments are those of
:class:`~mentor_env.core.env.ToolUseEnv`.
"""

from __future__ import annotations

import random

from mentor_env.core.tools import Tool
from mentor_env.domains.base import Draw, GeneratedDomain
from mentor_env.domains.table.judge import judge_answer
from mentor_env.domains.table.teacher import has_unique_top, solve
from mentor_env.domains.table.templates import FAMILY_OF_TABLE, OOD_TEMPLATES, TEMPLATES
from mentor_env.domains.table.tools import GENERATION_TOOLS, TOOLS

__all__ = ["TableDomain"]

SYSTEM_PROMPT = (
    "You answer questions about a read-only SQLite database with the tools provided. "
    "Find the tables and columns you need (list_tables, describe_table), then run one SELECT query "
    "in SQLite's dialect; you may make several independent calls in one turn. "
    "When you know the result, reply without a tool call and put the final answer in \\boxed{}: "
    "a number as the query returned it, or a name exactly as stored."
)


class TableDomain(GeneratedDomain):
    """Questions over a seeded SQLite database, answered with list_tables, describe_table and query."""

    name = "table"
    tools = TOOLS
    system_prompt = SYSTEM_PROMPT
    difficulties = (1, 2, 3, 4)

    def generation_tools(self) -> tuple[Tool, ...]:
        return GENERATION_TOOLS

    def draw(self, rng: random.Random, level: int, ood: bool) -> Draw | None:
        # A query that returns no rows, NULL or 0 is drawn again.
        templates, weights = zip(*(OOD_TEMPLATES if ood else TEMPLATES)[level])
        template = rng.choices(templates, weights)[0]
        draft = template(rng)
        if not has_unique_top(draft):
            return None  # the top two rows tie: the answer would not be unique
        meta = {
            "difficulty": level,
            "style": template.__name__.removeprefix("ood_"),
            "family": FAMILY_OF_TABLE[draft.tables[0]],
            "tables": list(draft.tables),
        }
        return Draw(draft.question, solve(draft), meta)

    def judge(self, prediction: str, answer: str) -> bool:
        """Numbers exactly; names equal after :func:`normalize_name`."""
        return judge_answer(prediction, answer)
