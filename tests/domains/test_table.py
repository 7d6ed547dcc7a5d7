"""The Table domain: SQLite tools, read-only enforcement, generator, scripted teacher, judge."""

from __future__ import annotations

import json
import math
import pickle
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest

from mentor_env.core.clock import LOAD_ALLOWANCE
from mentor_env.core.messages import render_assistant_text
from mentor_env.core.tools import ToolRuntime
from mentor_env.domains.calc.tools import TOOLS as CALC_TOOLS
from mentor_env.domains.table import TableDomain
from mentor_env.domains.table.db import MAX_SQL_CHARS, MAX_VALUE_BYTES, QUERY_KILL_AFTER_S, TABLE_NAMES, database
from mentor_env.domains.table.templates import OOD_TEMPLATES, TEMPLATES
from mentor_env.domains.table.tools import TOOL_NAMES, TOOLS
from tests.conftest import assert_teacher_solved, call, replay_teacher

runtime = ToolRuntime(TOOLS)
domain = TableDomain()

ENDLESS_CTE_COUNT = "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT COUNT(*) FROM r"
# 900 * 1929 * 900 * 1929 = 3.0e12 rows.
HUGE_CROSS_JOIN_COUNT = "SELECT COUNT(*) FROM orders, order_items, orders AS o2, order_items AS i2"
TIME_LIMIT_MESSAGE = "the query was stopped after 0.5 s (the time limit)"
# A query stuck inside one SQLite call (where the progress handler never runs) is killed with its process.
KILLED_MESSAGE = "query timed out: the query was stopped after 0.7 s (the time limit) while one SQL function or sort was still running"
TOO_LARGE_MESSAGE = "a value is too large (strings and blobs are limited to 4,000 bytes)"
# A sort is one SQLite step: the progress handler stops it at 0.5 s, or, when the sort itself runs
# past the 0.2 s grace (a loaded machine), the child is killed at 0.7 s. Both say this.
EITHER_LIMIT_MESSAGE = "the query was stopped after 0."


def text_of(length: int, char: str) -> str:
    """SQL for a string of ``length`` copies of ``char`` (length even)."""
    return f"replace(hex(zeroblob({length // 2})),'0','{char}')"


# Preparing this 52-table join takes about 2 s inside one sqlite3_prepare call.
SELF_JOIN_52_SALARIES = "SELECT 1 FROM salaries t0 " + " ".join(
    f"JOIN salaries t{i} ON t{i}.year=t{i - 1}.year AND t{i}.employee_id=t0.employee_id" for i in range(1, 52)
)
# id -> (SQL, category, part of the message). Each took seconds inside one SQLite call before
# the query tool ran in a killable child and values were limited to MAX_VALUE_BYTES.
RUNAWAY_QUERIES: dict[str, tuple[str, str, str]] = {
    "instr-1mb": (
        "SELECT instr(replace(hex(zeroblob(499999)),'0','a'), substr(replace(hex(zeroblob(250001)),'0','a'),1,500000) || 'b')",
        "execution_error",
        TOO_LARGE_MESSAGE,
    ),
    "trim-40k": (
        f"SELECT length(trim({text_of(40_000, 'a')}, {text_of(40_000, 'b')} || 'a'))",
        "execution_error",
        TOO_LARGE_MESSAGE,
    ),
    "ltrim-40k": (
        f"SELECT length(ltrim({text_of(40_000, 'a')}, {text_of(40_000, 'b')} || 'a'))",
        "execution_error",
        TOO_LARGE_MESSAGE,
    ),
    "rtrim-40k": (
        f"SELECT length(rtrim({text_of(40_000, 'a')}, {text_of(40_000, 'b')} || 'a'))",
        "execution_error",
        TOO_LARGE_MESSAGE,
    ),
    # trim's character set is limited too: 4,000 by 3,998 characters is refused, not slow.
    "trim-4k": (
        f"SELECT length(trim({text_of(3_998, 'a')}, {text_of(3_996, 'b')} || 'a'))",
        "execution_error",
        TOO_LARGE_MESSAGE,
    ),
    "replace-growth": (
        "SELECT length(" + "replace(" * 8 + "'a'" + ", 'a', 'aaaa')" * 8 + ")",
        "execution_error",
        TOO_LARGE_MESSAGE,
    ),
    "replace-40k": (
        f"SELECT length(replace({text_of(40_000, 'a')}, substr({text_of(20_000, 'a')}, 2) || 'b', 'x'))",
        "execution_error",
        TOO_LARGE_MESSAGE,
    ),
    "randomblob-1mb-per-customer": ("SELECT randomblob(1000000) FROM customers", "execution_error", TOO_LARGE_MESSAGE),
    "like-500-wildcards": (
        f"SELECT {text_of(100_000, 'a')} LIKE '" + "%a" * 499 + "b'",
        "execution_error",
        TOO_LARGE_MESSAGE,
    ),
    "glob-500-wildcards": (
        f"SELECT {text_of(100_000, 'a')} GLOB '" + "*a" * 499 + "b'",
        "execution_error",
        TOO_LARGE_MESSAGE,
    ),
    "order-by-of-cross-join": (
        # orders x order_items alone sorts in about 0.45 s of processor time, right at the limit; three times it does not.
        "SELECT o.order_id, i.quantity FROM orders o, order_items i, (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) "
        "ORDER BY random()",
        "timeout",
        EITHER_LIMIT_MESSAGE,
    ),
    "order-by-wide-rows": (
        # 4 x 43,200 rows of 3,800 characters: orders x products alone sorted in about 0.5 s on an idle
        # machine, right at the time limit, so the test passed or failed with the machine's load.
        "SELECT h FROM (SELECT hex(randomblob(1900)) AS h FROM orders, products, "
        "(SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4)) ORDER BY h",
        "timeout",
        EITHER_LIMIT_MESSAGE,
    ),
    "self-join-60-tables": (
        "SELECT COUNT(*) FROM " + ", ".join(f"orders t{i}" for i in range(60)),
        "timeout",
        TIME_LIMIT_MESSAGE,
    ),
    "self-join-52-tables-prepare": (SELF_JOIN_52_SALARIES, "timeout", KILLED_MESSAGE),
}
READ_ONLY_MESSAGE = "the database is read-only: run one SELECT statement"
# A gross bound on a stopped query's wall time: its limit, stretched at most LOAD_ALLOWANCE times on a busy machine.
BUSY_BOUND_S = LOAD_ALLOWANCE * QUERY_KILL_AFTER_S + 1.0


def test_tool_names_and_tables():
    assert TOOL_NAMES == ("list_tables", "describe_table", "query")
    assert TABLE_NAMES == (
        "customers", "departments", "employees", "order_items", "orders",
        "products", "salaries", "stock", "suppliers", "warehouses",
    )  # fmt: skip


@pytest.mark.parametrize(
    "name, arguments, shown",
    [
        (
            "list_tables",
            {},
            "customers (80 rows)\ndepartments (8 rows)\nemployees (120 rows)\norder_items (1929 rows)\n"
            "orders (900 rows)\nproducts (48 rows)\nsalaries (339 rows)\nstock (207 rows)\nsuppliers (16 rows)\n"
            "warehouses (10 rows)",
        ),
        (
            "describe_table",
            {"table": "orders"},
            "orders (900 rows)\norder_id INTEGER PRIMARY KEY\ncustomer_id INTEGER REFERENCES customers(customer_id)\n"
            "order_date TEXT -- 'YYYY-MM-DD', 2021-2023\n"
            "status TEXT -- one of 'cancelled', 'pending', 'returned', 'shipped'",
        ),
        (
            "describe_table",
            {"table": "Salaries"},  # table names are case-insensitive, as in SQLite
            "salaries (339 rows)\nemployee_id INTEGER REFERENCES employees(employee_id)\nyear INTEGER -- 2021-2023\n"
            "amount INTEGER -- yearly salary in dollars\nPRIMARY KEY (employee_id, year)",
        ),
        ("query", {"sql": "SELECT COUNT(*) AS n FROM orders"}, "n\n900\n(1 row)"),
        ("query", {"sql": "SELECT COUNT(*) FROM orders;"}, "COUNT(*)\n900\n(1 row)"),
        (
            "query",
            {"sql": "SELECT name, category, price FROM products WHERE product_id <= 3 ORDER BY product_id"},
            "name | category | price\nPremium Atlas | Books | 18.41\nDeluxe Field Guide | Books | 34.64\n"
            "Mini Journal | Books | 39.03\n(3 rows)",
        ),
        ("query", {"sql": "SELECT name FROM customers WHERE city = 'Atlantis'"}, "name\n(0 rows)"),
        (
            "query",
            {"sql": "SELECT NULL AS empty, 1.0 / 3 AS third, 7 / 2 AS int_div, x'00ff' AS raw, 1e308 * 10 AS big"},
            "empty | third | int_div | raw | big\nNULL | 0.333333333333 | 3 | <blob of 2 bytes> | Inf\n(1 row)",
        ),
        (
            "query",
            {"sql": "SELECT city, COUNT(*) AS n FROM customers GROUP BY city ORDER BY city"},
            "city | n\nBerlin | 13\nDublin | 7\nLisbon | 10\nLyon | 6\nMadrid | 7\nOslo | 15\nPorto | 9\nVienna | 13\n"
            "(8 rows)",
        ),
        (
            "query",
            {"sql": "SELECT MAX(price) AS top, MIN(price) AS bottom, ROUND(SUM(price), 2) AS total FROM products"},
            "top | bottom | total\n148.42 | 9.22 | 3243.63\n(1 row)",
        ),
        (
            "query",
            {"sql": "SELECT ROUND(AVG(amount), 2) AS average FROM salaries WHERE year = 2023"},
            "average\n67740\n(1 row)",
        ),
        (
            "query",
            {
                "sql": "SELECT d.name, COUNT(*) AS staff FROM employees e JOIN departments d "
                "ON d.department_id = e.department_id GROUP BY d.name ORDER BY staff DESC LIMIT 3"
            },
            "name | staff\nResearch | 29\nEngineering | 24\nSupport | 13\n(3 rows)",
        ),
        (
            "query",
            {"sql": "SELECT * FROM warehouses ORDER BY warehouse_id LIMIT 2"},
            "warehouse_id | name | city | capacity\n1 | Central Yard | Dublin | 18500\n2 | Eastgate | Lyon | 48500\n"
            "(2 rows)",
        ),
        (
            "query",
            {
                "sql": "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < 5) SELECT SUM(x) AS total FROM r"
            },
            "total\n15\n(1 row)",
        ),
        # An injection inside a string literal only changes what is read.
        ("query", {"sql": "SELECT COUNT(*) AS n FROM customers WHERE name = ''' OR 1=1 --'"}, "n\n0\n(1 row)"),
        ("query", {"sql": "SELECT 'ü✓😀' AS s, 'two\nlines' AS t"}, "s | t\nü✓😀 | two\\nlines\n(1 row)"),
        (
            "query",
            {"sql": "SELECT substr(hex(zeroblob(60)), 1, 120) AS long_cell"},
            "long_cell\n" + "0" * 99 + "…\n(1 row)",
        ),
        (
            "query",
            {"sql": "SELECT 1 AS c1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22"},
            "c1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 | 11 | 12 | 13 | 14 | 15 | 16 | 17 | 18 | 19 | 20\n"
            "1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 | 11 | 12 | 13 | 14 | 15 | 16 | 17 | 18 | 19 | 20\n"
            "(1 row) (showing 20 of 22 columns)",
        ),
    ],
)
def test_tool_results(name, arguments, shown):
    result = runtime.execute(name, arguments)
    assert result.ok, result.content
    assert result.content == shown


@pytest.mark.parametrize(
    "sql, footer",
    [
        # 100,000 rows are a result, not an error: 50 are shown and the rest counted.
        ("SELECT o.order_id FROM orders o, order_items i LIMIT 100000", "(showing the first 50 of 100000 rows)"),
        ("SELECT name FROM customers ORDER BY customer_id", "(showing the first 50 of 80 rows)"),
        # Past 100,000 rows counting stops, so endless row sources end quickly too.
        (
            "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT x FROM r",
            "(showing the first 50 of more than 100000 rows)",
        ),
        (
            "SELECT o.order_id, i2.quantity FROM orders o, order_items i, orders o2, order_items i2",
            "(showing the first 50 of more than 100000 rows)",
        ),
        # Wide rows: fewer rows fit the 3,500-character table.
        (
            "SELECT * FROM orders, order_items, orders AS o2, order_items AS i2",
            "(showing the first 32 of more than 100000 rows)",
        ),
    ],
)
def test_large_results_are_truncated_not_refused(sql, footer):
    started = time.perf_counter()
    result = runtime.execute("query", {"sql": sql})
    assert time.perf_counter() - started < BUSY_BOUND_S  # measured: 0.05-0.3 s; ok means within the CPU limit
    assert result.ok, result.content
    lines = result.content.split("\n")
    assert lines[-1] == footer
    assert len(lines) == int(footer.split()[3]) + 2  # header, the rows shown, footer
    assert len(result.content) <= 3_600
    assert database().unchanged


@pytest.mark.parametrize(
    "name, arguments, category, message",
    [
        ("query", {"sql": "SELECT 1; DROP TABLE orders"}, "execution_error", "only one SQL statement per query"),
        (
            "query",
            {"sql": "INSERT INTO orders VALUES (901, 1, '2023-01-01', 'shipped')"},
            "execution_error",
            "INSERT statements are not allowed",
        ),
        ("query", {"sql": "UPDATE products SET price = 0"}, "execution_error", "UPDATE statements are not allowed"),
        ("query", {"sql": "DELETE FROM customers"}, "execution_error", "DELETE statements are not allowed"),
        (
            "query",
            {"sql": "WITH x AS (SELECT 1) DELETE FROM customers"},
            "execution_error",
            "DELETE is not allowed; " + READ_ONLY_MESSAGE,
        ),
        ("query", {"sql": "/* hi */ DROP TABLE orders"}, "execution_error", "DROP statements are not allowed"),
        ("query", {"sql": "PRAGMA writable_schema = ON"}, "execution_error", "PRAGMA statements are not allowed"),
        ("query", {"sql": "ATTACH DATABASE 'x.db' AS x"}, "execution_error", "ATTACH statements are not allowed"),
        (
            "query",
            {"sql": "SELECT load_extension('evil')"},
            "execution_error",
            "the function load_extension() is not available",
        ),
        (
            "query",
            {"sql": "SELECT printf('%.*c', 2000000000, 'x')"},
            "execution_error",
            "the function printf() is not available",
        ),
        ("query", {"sql": "SELECT * FROM pragma_table_info('orders')"}, "execution_error", "changing the schema"),
        ("query", {"sql": ENDLESS_CTE_COUNT}, "timeout", TIME_LIMIT_MESSAGE),
        ("query", {"sql": HUGE_CROSS_JOIN_COUNT}, "timeout", TIME_LIMIT_MESSAGE),
        ("query", {"sql": "SELECT randomblob(2000000000)"}, "execution_error", "limited to 4,000 bytes"),
        ("query", {"sql": "SELEC * FROM orders"}, "execution_error", 'SQLite error: near "SELEC": syntax error'),
        ("query", {"sql": "SELECT * FROM invoices"}, "execution_error", "no such table: invoices; call list_tables"),
        ("query", {"sql": "SELECT total FROM orders"}, "execution_error", "no such column: total; call describe_table"),
        ("query", {"sql": "SELECT 'a\x00b'"}, "execution_error", "NUL character"),
        ("query", {"sql": "   "}, "execution_error", "the SQL is empty"),
        ("query", {"sql": "-- only a comment"}, "execution_error", "no statement that returns rows"),
        ("query", {"sql": ""}, "invalid_args", "should be non-empty"),
        ("query", {"sql": "S" * (MAX_SQL_CHARS + 1)}, "invalid_args", "is too long"),
        ("query", {"sql": "SELECT 1 " + " " * 1_000_000}, "invalid_args", "strings hold more than 100,000 characters"),
        ("query", {"sql": 42}, "invalid_args", "is not of type 'string'"),
        ("query", {"sql": "SELECT 1", "limit": 5}, "invalid_args", "Additional properties are not allowed"),
        ("query", {}, "invalid_args", "'sql' is a required property"),
        (
            "describe_table",
            {"table": "invoices"},
            "execution_error",
            "there is no table named 'invoices'; the tables are: customers,",
        ),
        ("describe_table", {"table": "sqlite_master"}, "execution_error", "there is no table named 'sqlite_master'"),
        ("describe_table", {"table": "orders; DROP TABLE orders"}, "invalid_args", "does not match"),
        ("describe_table", {"table": "' OR 1=1 --"}, "invalid_args", "does not match"),
        ("describe_table", {"table": "t" * 65}, "invalid_args", "is too long"),
        ("list_tables", {"verbose": True}, "invalid_args", "Additional properties are not allowed"),
        ("run_sql", {"sql": "SELECT 1"}, "not_found", "there is no tool named 'run_sql'"),
    ],
)
def test_tool_errors_are_messages(name, arguments, category, message):
    result = runtime.execute(name, arguments)
    assert result.error_category == category, result.content
    assert message in result.content
    assert database().unchanged


def test_time_limit_holds_off_the_main_thread():
    # ToolRuntime calls tools from worker threads when the env is stepped outside the main thread.
    outcome: list[Any] = []
    started = time.perf_counter()
    worker = threading.Thread(target=lambda: outcome.append(runtime.execute("query", {"sql": ENDLESS_CTE_COUNT})))
    worker.start()
    worker.join(BUSY_BOUND_S)
    assert time.perf_counter() - started < BUSY_BOUND_S  # measured: 0.5 s on an idle machine
    assert outcome[0].error_category == "timeout" and TIME_LIMIT_MESSAGE in outcome[0].content
    assert runtime.execute("query", {"sql": "SELECT COUNT(*) AS n FROM stock"}).content == "n\n207\n(1 row)"


@pytest.mark.parametrize("sql, category, message", list(RUNAWAY_QUERIES.values()), ids=list(RUNAWAY_QUERIES))
def test_runaway_queries_end_with_an_error_and_the_next_query_works(sql: str, category: str, message: str):
    assert len(sql) <= MAX_SQL_CHARS
    started = time.perf_counter()
    result = runtime.execute("query", {"sql": sql})
    # Measured: at most 0.76 s on an idle machine (the kill comes at 0.7 s of processor time); a busy one stretches it.
    assert time.perf_counter() - started < BUSY_BOUND_S
    assert result.error_category == category, result.content
    assert message in result.content
    started = time.perf_counter()
    assert runtime.execute("query", {"sql": "SELECT 1 AS one"}).content == "one\n1\n(1 row)"
    assert time.perf_counter() - started < 3.0  # after a kill, what is left of a new child's 0.4 s start-up


@pytest.mark.parametrize(
    "sql, shown",
    [
        (f"SELECT length(hex(randomblob({MAX_VALUE_BYTES // 2 - 1}))) AS n", "n\n3998\n(1 row)"),
        (f"SELECT {text_of(3_998, 'a')} LIKE '" + "%a" * 499 + "b' AS matched", "matched\n0\n(1 row)"),
        (f"SELECT instr({text_of(3_998, 'a')}, {text_of(1_998, 'a')} || 'b') AS at", "at\n0\n(1 row)"),
        (f"SELECT length(trim({text_of(3_998, 'a')}, {text_of(300, 'b')} || 'a')) AS n", "n\n0\n(1 row)"),
    ],
    ids=["blob-at-the-limit", "like-at-the-limit", "instr-at-the-limit", "trim-at-the-limit"],
)
def test_values_at_the_size_limit_are_fast(sql: str, shown: str):
    started = time.perf_counter()
    assert runtime.execute("query", {"sql": sql}).content == shown
    assert time.perf_counter() - started < 0.3  # measured: under 5 ms


def test_a_runaway_query_in_a_thread_does_not_delay_other_envs():
    task = domain.generate(3)
    runaway_env = gym.make("mentor/Table-v0")
    runaway_env.reset(options={"task": task})
    runaway_env.step(query_call("SELECT 1"))  # its child is up
    other, calc = ToolRuntime(TOOLS), ToolRuntime(CALC_TOOLS)
    assert other.execute("query", {"sql": "SELECT 1"}).ok
    outcome: list[Any] = []

    def run_away() -> None:
        started = time.perf_counter()
        info = runaway_env.step(query_call(SELF_JOIN_52_SALARIES))[4]
        outcome.append((info["errors"], time.perf_counter() - started))

    def calc_calls() -> None:
        outcome.append([calc.execute("add", {"a": 2, "b": 3}).content for _ in range(200)])

    threads = [threading.Thread(target=run_away), threading.Thread(target=calc_calls)]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    other_times = []
    for _ in range(10):
        started = time.perf_counter()
        assert other.execute("query", {"sql": "SELECT COUNT(*) AS n FROM stock"}).content == "n\n207\n(1 row)"
        other_times.append(time.perf_counter() - started)
    for thread in threads:
        thread.join(10.0)
    (errors, runaway_s), sums = sorted(outcome, key=lambda item: isinstance(item, list))
    assert errors[0].startswith("timeout: " + KILLED_MESSAGE) and runaway_s < BUSY_BOUND_S  # measured: 0.76 s
    assert sums == ["5"] * 200
    assert max(other_times) < 0.3  # measured: about 0.2 ms each, while the other env's query ran
    other.close()
    runaway_env.close()


def test_a_step_leaves_the_callers_sigalrm_timer_alone():
    env = gym.make("mentor/Table-v0")
    env.reset(options={"task": domain.generate(3)})
    previous = signal.signal(signal.SIGALRM, lambda *_: None)
    try:
        signal.setitimer(signal.ITIMER_REAL, 100.0)
        env.step(query_call(ENDLESS_CTE_COUNT))
        env.step(query_call(SELF_JOIN_52_SALARIES))  # killed in its child
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 90.0 < remaining <= 100.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    env.close()


def test_a_table_env_pickles_before_and_during_an_episode():
    task = domain.generate(3)  # describe customers, one query, answer
    turns = [render_assistant_text(m) for m in task.teacher.messages if m["role"] == "assistant"]
    env = gym.make("mentor/Table-v0")
    fresh = pickle.loads(pickle.dumps(env))
    assert_teacher_solved(fresh, *replay_teacher(fresh, 0, task))
    env.reset(options={"task": task})
    env.step(turns[0])
    env.step(query_call("SELECT COUNT(*) AS n FROM customers"))  # the env's child is up
    copy = pickle.loads(pickle.dumps(env))
    played = [[episode.step(turn) for turn in turns[1:]] for episode in (env, copy)]
    assert played[0] == played[1]
    assert played[0][-1][2] and played[0][-1][4]["reward_components"]["correct"] == 1.0
    for episode in (env, copy, fresh):
        episode.close()


def test_no_statement_touches_the_file_system(tmp_path: Path):
    for sql in (
        f"ATTACH DATABASE '{tmp_path / 'attached.db'}' AS pwned",
        f"VACUUM INTO '{tmp_path / 'copy.db'}'",
        f"SELECT load_extension('{tmp_path / 'evil.so'}')",
    ):
        assert runtime.execute("query", {"sql": sql}).error_category == "execution_error"
    assert list(tmp_path.iterdir()) == []
    assert database().unchanged


def test_teacher_queries_are_fast():
    tasks = [domain.generate(seed) for seed in range(100)] + [domain.generate(seed, ood=True) for seed in range(100)]
    charged = []
    for task in tasks:
        sql = next(c.arguments["sql"] for c in task.teacher.calls if c.name == "query")
        result = runtime.execute("query", {"sql": sql})
        assert result.ok  # within the query's limit
        charged.append(result.charged_s)
    # The median, not the slowest: one call may wait for a processor on a loaded machine.
    assert sorted(charged)[len(charged) // 2] < 0.01  # measured: median 0.06 ms, slowest under 1 ms


@pytest.mark.parametrize(
    "prediction, answer, correct",
    [
        ("42", "42", True),
        ("42.0", "42", True),
        ("1,234.5", "1234.5", True),
        ("$67,740", "67740", True),
        ("67741", "67740", False),
        ("67740.001", "67740", False),  # a whole number is exact
        ("8128807", "8128800", False),
        ("8,128,800", "8128800", True),
        ("$8,128,800", "8128800", True),
        ("8128800.0", "8128800", True),
        ("8.1288 million", "8128800", True),
        ("12.5", "12.5", True),
        ("12.5%", "12.5", False),  # a percentage is written as the query returned it: 45% reads as 0.45
        ("3484.523", "3484.52", False),  # money rounded to 2 decimals is exact
        ("\\text{3484.52}", "3484.52", True),
        ("43", "42", False),
        ("Oslo", "Oslo", True),
        ("oslo", "Oslo", True),
        ("  Eco   Notebook. ", "Eco Notebook", True),
        ("'Eco Notebook'", "Eco Notebook", True),
        ('"Juniper Partners"', "Juniper Partners", True),
        ("\\text{Senior Engineer}", "Senior Engineer", True),
        ("ＯＳＬＯ", "Oslo", True),  # full-width letters normalise (NFKC)
        ("Eco Notebooks", "Eco Notebook", False),
        ("Engineer", "Senior Engineer", False),
        ("Oslo, Norway", "Oslo", False),
        ("", "Oslo", False),
        ("x" * 300, "Oslo", False),
    ],
)
def test_judge(prediction, answer, correct):
    assert domain.judge(prediction, answer) is correct


def test_generation_is_deterministic():
    assert domain.generate(7) == domain.generate(7)
    assert domain.generate(7).to_json() == TableDomain().generate(7).to_json()
    assert domain.generate(7, ood=True).to_json() == TableDomain().generate(7, ood=True).to_json()
    assert domain.generate(7) != domain.generate(8)
    assert domain.generate(7).question != domain.generate(7, ood=True).question
    assert domain.generate(7).id == "table-7" and domain.generate(7, ood=True).id == "table-ood-7"
    for level in domain.difficulties:
        assert domain.generate(11, difficulty=level).meta["difficulty"] == level
    with pytest.raises(ValueError, match="difficulty must be one of"):
        domain.generate(1, difficulty=5)


def test_generation_is_byte_identical_in_a_fresh_process():
    code = (
        "import hashlib; from mentor_env.domains.table import TableDomain; d = TableDomain(); "
        "text = ''.join(d.generate(s, ood=o).to_json() for s in range(40) for o in (False, True)); "
        "print(hashlib.sha256(text.encode()).hexdigest())"
    )
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    import hashlib

    here = "".join(domain.generate(s, ood=o).to_json() for s in range(40) for o in (False, True))
    assert fresh == hashlib.sha256(here.encode()).hexdigest()


def test_generated_tasks_cover_every_tool_level_and_template():
    tasks = [domain.generate(seed) for seed in range(600)]
    ood_tasks = [domain.generate(seed, ood=True) for seed in range(600)]
    for batch, templates in ((tasks, TEMPLATES), (ood_tasks, OOD_TEMPLATES)):
        assert {call.name for task in batch for call in task.teacher.calls} == set(TOOL_NAMES)
        assert {task.meta["difficulty"] for task in batch} == {1, 2, 3, 4}
        names = {template.__name__.removeprefix("ood_") for level in templates.values() for template, _ in level}
        assert {task.meta["style"] for task in batch} == names
        assert all(set(task.meta) >= {"difficulty", "style", "seed", "ood", "family", "tables"} for task in batch)
    # The inventory family is held out: only ood tasks ask about it.
    assert "inventory" not in {task.meta["family"] for task in tasks}
    assert "inventory" in {task.meta["family"] for task in ood_tasks}
    # ood wording and templates never occur in-distribution; ood needs more calls on average.
    assert not {task.meta["style"] for task in tasks} & {task.meta["style"] for task in ood_tasks}
    assert not {task.question for task in tasks} & {task.question for task in ood_tasks}
    mean_calls = [sum(len(task.teacher.calls) for task in batch) / len(batch) for batch in (tasks, ood_tasks)]
    assert mean_calls[1] > mean_calls[0]
    # Names and numbers both occur as answers.
    assert Counter(task.answer.replace(".", "").isdigit() for task in tasks)[False] > 50


def test_teacher_lists_tables_only_when_the_question_does_not_name_them():
    for task in (domain.generate(seed) for seed in range(100)):
        turns = [m for m in task.teacher.messages if m["role"] == "assistant"]
        described = [c.arguments["table"] for c in task.teacher.calls if c.name == "describe_table"]
        named = all(table in re.findall(r"[a-z_]+", task.question.lower()) for table in described)
        assert [len(m.get("tool_calls", [])) for m in turns] == ([] if named else [1]) + [len(described), 1, 0]
        assert described == task.meta["tables"]
        assert turns[-1]["content"] == f"The answer is \\boxed{{{task.answer}}}."


def test_top_questions_have_a_unique_answer():
    task = domain.generate(0)
    assert task.question == "Which Office product sold the most units between May and December 2021?"
    assert task.answer == "Eco Notebook"
    sql = task.teacher.calls[-1].arguments["sql"]
    assert sql.endswith("ORDER BY units DESC LIMIT 1")
    rows = runtime.execute("query", {"sql": sql.replace("LIMIT 1", "LIMIT 2")}).content.split("\n")
    assert rows[1].split(" | ")[1] != rows[2].split(" | ")[1]


def test_generation_speed():
    started = time.perf_counter()
    for seed in range(300):
        domain.generate(10_000 + seed, ood=seed % 2 == 1)
    assert time.perf_counter() - started < 3.0  # measured: about 4,000 tasks per second


def test_the_teachers_queries_leave_the_database_unchanged():
    # The teacher's replay at 1.1 is checked for every domain in tests/domains/test_registered_envs.py; here, what only Table has.
    env = gym.make("mentor/Table-v0")
    for seed in range(20):
        assert_teacher_solved(env, *replay_teacher(env, seed, domain.generate(seed, ood=seed % 2 == 1)))
    assert database().unchanged


# --- hostile inputs, each one env step --------------------------------------


def query_call(sql: str) -> str:
    return call("query", sql=sql)


# id -> (action, category of info["errors"][0])
HOSTILE: dict[str, tuple[str, str]] = {
    "injection-drop-after-select": (query_call("SELECT 1; DROP TABLE orders"), "execution_error"),
    "injection-or-1-equals-1": (query_call("' OR 1=1 --"), "execution_error"),
    "injection-two-deletes": (query_call("SELECT * FROM orders; DELETE FROM orders; --"), "execution_error"),
    "insert": (query_call("INSERT INTO orders VALUES (901, 1, '2023-01-01', 'shipped')"), "execution_error"),
    "update": (query_call("UPDATE products SET price = 0"), "execution_error"),
    "update-in-cte": (query_call("WITH x AS (SELECT 1) UPDATE products SET price = 0"), "execution_error"),
    "delete": (query_call("DELETE FROM customers WHERE 1 = 1"), "execution_error"),
    "create-table": (query_call("CREATE TABLE pwned (x)"), "execution_error"),
    "create-temp-table": (query_call("CREATE TEMP TABLE pwned AS SELECT * FROM orders"), "execution_error"),
    "create-trigger": (
        query_call("CREATE TRIGGER t AFTER INSERT ON orders BEGIN DELETE FROM orders; END"),
        "execution_error",
    ),
    "drop-table": (query_call("DROP TABLE orders"), "execution_error"),
    "alter-table": (query_call("ALTER TABLE orders ADD COLUMN pwned TEXT"), "execution_error"),
    "replace": (query_call("REPLACE INTO products VALUES (1, 'x', 'Books', 1.0)"), "execution_error"),
    "attach-file": (query_call("ATTACH DATABASE '/tmp/mentor_table_pwned.db' AS pwned"), "execution_error"),
    "detach-main": (query_call("DETACH DATABASE main"), "execution_error"),
    "pragma-writable-schema": (query_call("PRAGMA writable_schema = ON"), "execution_error"),
    "pragma-query-only-off": (query_call("PRAGMA query_only = OFF"), "execution_error"),
    "load-extension": (query_call("SELECT load_extension('/tmp/evil.so')"), "execution_error"),
    "vacuum-into-file": (query_call("VACUUM INTO '/tmp/mentor_table_copy.db'"), "execution_error"),
    "begin-transaction": (query_call("BEGIN IMMEDIATE TRANSACTION"), "execution_error"),
    "savepoint": (query_call("SAVEPOINT s1"), "execution_error"),
    "analyze": (query_call("ANALYZE"), "execution_error"),
    "endless-recursive-cte": (query_call(ENDLESS_CTE_COUNT), "timeout"),
    "cross-join-3e12-rows": (query_call(HUGE_CROSS_JOIN_COUNT), "timeout"),
    "instr-of-1mb-strings": (query_call(RUNAWAY_QUERIES["instr-1mb"][0]), "execution_error"),
    "randomblob-1mb-per-customer": (query_call(RUNAWAY_QUERIES["randomblob-1mb-per-customer"][0]), "execution_error"),
    # Stuck 2 s inside sqlite3_prepare: the query's child process is killed at 0.7 s.
    "self-join-52-tables-prepare": (query_call(SELF_JOIN_52_SALARIES), "timeout"),
    "blob-2-gb": (query_call("SELECT randomblob(2000000000)"), "execution_error"),
    "printf-2-gb": (query_call("SELECT printf('%.*c', 2000000000, 'x')"), "execution_error"),
    "two-selects": (query_call("SELECT 1; SELECT 2"), "execution_error"),
    "syntax-error": (query_call("SELEC name FRM customers"), "execution_error"),
    "unknown-table-in-sql": (query_call("SELECT * FROM invoices"), "execution_error"),
    "nul-byte-in-sql": (query_call("SELECT 1\x00; DROP TABLE orders"), "execution_error"),
    "deep-parentheses": (query_call("SELECT " + "(" * 500 + "1" + ")" * 500), "execution_error"),
    "sql-over-length-limit": (query_call("SELECT " + "1 + " * 1_000 + "1"), "invalid_args"),
    # Long SQL is refused before any tool sees it: a megabyte exceeds the turn limit,
    # 20,000 characters the parser's per-call limit.
    "sql-one-megabyte": (query_call("SELECT 1 -- " + "x" * 1_000_000), "invalid_action"),
    "sql-20000-chars": (query_call("SELECT 1 -- " + "x" * 20_000), "parse_error"),
    "sql-not-a-string": (call("query", sql=["SELECT 1"]), "invalid_args"),
    "sql-empty": (query_call(""), "invalid_args"),
    "describe-unknown-table": (call("describe_table", table="invoices"), "execution_error"),
    "describe-schema-table": (call("describe_table", table="sqlite_master"), "execution_error"),
    "describe-injected-name": (call("describe_table", table="orders; DROP TABLE orders"), "invalid_args"),
    "describe-quote-injection": (call("describe_table", table="orders' OR '1'='1"), "invalid_args"),
    "describe-unicode-name": (call("describe_table", table="ordérs"), "invalid_args"),
    "list-tables-with-argument": (call("list_tables", pattern="%"), "invalid_args"),
    "broken-json": ('<tool_call>{"name": "query", "arguments": {"sql": "SELECT 1"</tool_call>', "parse_error"),
    "single-quoted-json": ("<tool_call>{'name': 'query', 'arguments': {'sql': 'SELECT 1'}}</tool_call>", "parse_error"),
    "unknown-tool": (call("execute_sql", sql="DROP TABLE orders"), "not_found"),
    "sql-as-tool-name": (call("DROP TABLE orders", sql="SELECT 1"), "not_found"),
    "too-many-calls": (query_call("SELECT 1") * 17, "invalid_action"),
}


_HOSTILE_ENV = gym.make("mentor/Table-v0")
_RECOVERY_TASK = domain.generate(3)  # describe customers, one query


@pytest.mark.parametrize("action, category", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_action_is_answered_with_a_typed_error(action: str, category: str):
    env = _HOSTILE_ENV
    env.reset(options={"task": _RECOVERY_TASK})
    started = time.perf_counter()
    observation, reward, terminated, truncated, info = env.step(action)
    assert time.perf_counter() - started < BUSY_BOUND_S  # measured: under 1 s, the slowest killed at 0.7 s
    assert info["errors"], "a hostile turn must be recorded in info['errors']"
    assert info["errors"][0].split(":", 1)[0] == category, info["errors"][0][:300]
    assert "Error (" in observation and env.observation_space.contains(observation)
    assert not terminated and not truncated and math.isfinite(reward)
    assert database().unchanged, "the database changed"
    # The attach and vacuum cases name these paths; nothing may create them.
    assert not Path("/tmp/mentor_table_pwned.db").exists() and not Path("/tmp/mentor_table_copy.db").exists()

    # The env still works: the teacher's turns finish the episode correctly.
    for message in _RECOVERY_TASK.teacher.messages:
        if message["role"] == "assistant":
            observation, reward, terminated, truncated, info = env.step(render_assistant_text(message))
    assert terminated and info["reward_components"]["correct"] == 1.0
    assert info["errors"] == []


def test_tool_specs_bound_every_input():
    for tool in TOOLS:
        parameters = tool.parameters
        assert parameters["additionalProperties"] is False
        for schema in parameters["properties"].values():
            assert schema["type"] == "string" and schema["maxLength"] <= MAX_SQL_CHARS
    assert json.loads(json.dumps([tool.spec for tool in TOOLS]))  # plain JSON
