"""``list_tables``, ``describe_table`` and the isolated ``query`` tool."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from mentor_env.core.tools import Tool, ToolError, format_value, object_schema
from mentor_env.domains.table.db import (
    COUNT_CAP,
    MAX_CELL_CHARS,
    MAX_COLUMNS,
    MAX_SQL_CHARS,
    MAX_TABLE_CHARS,
    MAX_VALUE_BYTES,
    QUERY_KILL_AFTER_S,
    QUERY_TIME_LIMIT_S,
    ROW_LIMIT,
    TABLE_NAMES,
    QueryResult,
    database,
)


def _render_cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Inf" if value > 0 else "-Inf")
    if isinstance(value, (int, float)):
        return format_value(value)
    if isinstance(value, bytes):
        return f"<blob of {len(value)} bytes>"
    text = str(value).replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def render_result(result: QueryResult) -> str:
    """A result as ``a | b`` lines: a header, the rows, then a row count line."""
    shown_columns = min(len(result.columns), MAX_COLUMNS)
    lines = [" | ".join(_render_cell(name) for name in result.columns[:shown_columns])]
    size = len(lines[0])
    for row in result.rows:
        line = " | ".join(_render_cell(value) for value in row[:shown_columns])
        size += len(line) + 1
        if size > MAX_TABLE_CHARS:
            break
        lines.append(line)
    shown = len(lines) - 1
    if result.more:
        footer = f"(showing the first {shown} of more than {COUNT_CAP} rows)"
    elif shown < result.total:
        footer = f"(showing the first {shown} of {result.total} rows)"
    else:
        footer = f"({result.total} row{'' if result.total == 1 else 's'})"
    if shown_columns < len(result.columns):
        footer += f" (showing {shown_columns} of {len(result.columns)} columns)"
    return "\n".join(lines + [footer])


def list_tables() -> str:
    return database().table_list


def describe_table(table: str) -> str:
    # Looked up in the fixed table list, never interpolated into SQL.
    description = database().descriptions.get(table.lower())
    if description is None:
        raise ToolError(f"there is no table named {table!r}; the tables are: {', '.join(TABLE_NAMES)}")
    return description


def query(sql: str) -> str:
    if "\x00" in sql:
        raise ToolError("the SQL contains a NUL character (\\u0000); remove it")
    try:
        sql.encode("utf-8")
    except UnicodeEncodeError:
        raise ToolError("the SQL contains an unpaired surrogate code point (not valid text); remove it") from None
    if not sql.strip():
        raise ToolError("the SQL is empty; write one SELECT statement")
    return render_result(database().run(sql))


TOOLS: tuple[Tool, ...] = (
    Tool("list_tables", "List the database's tables with their row counts.", object_schema({}), list_tables),
    Tool(
        "describe_table",
        "Show one table's columns with their types, keys and notes (such as the values a column takes).",
        object_schema(
            {
                "table": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 64,
                    "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
                    "description": "The table name, as list_tables shows it.",
                }
            }
        ),
        describe_table,
    ),
    Tool(
        "query",
        f"Run one read-only SQLite SELECT statement and return the result as text (at most {ROW_LIMIT} rows shown, "
        f"{QUERY_TIME_LIMIT_S:g} s time limit).",
        object_schema(
            {
                "sql": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_SQL_CHARS,
                    "description": "One SELECT statement (WITH ... SELECT is fine) in SQLite's dialect.",
                }
            }
        ),
        query,
        isolated=True,
        time_limit_s=QUERY_KILL_AFTER_S,
        warm_up=database,  # the child builds its copy of the database before its first call, uncharged
        timeout_message=(
            "the query was stopped after {limit:.2g} s (the time limit) while one SQL function or sort was still "
            f"running; keep strings short (values are limited to {MAX_VALUE_BYTES:,} bytes), add filters or a LIMIT, "
            "and avoid sorting cross joins"
        ),
    ),
)
TOOL_NAMES = tuple(tool.name for tool in TOOLS)
# Task generation runs only the teacher's own SQL (fast, trusted): in this process, no child.
GENERATION_TOOLS: tuple[Tool, ...] = tuple(dataclasses.replace(tool, isolated=False) for tool in TOOLS)
