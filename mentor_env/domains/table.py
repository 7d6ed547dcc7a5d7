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
    Numbers compare with a relative tolerance of 1e-6 (``1,234.5``, ``$12``
    accepted); names compare after Unicode normalisation, case folding, and
    stripping quotes, ``\text{}`` and surrounding whitespace.

Spaces, rewards, termination and arguments are those of
:class:`~mentor_env.core.env.ToolUseEnv`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import math
import os
import random
import re
import sqlite3
import threading
import time
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Callable, Iterator, Sequence

from mentor_env.core.tools import (
    Tool,
    ToolError,
    ToolResult,
    ToolTimeout,
    call_deadline,
    format_value,
    object_schema,
)
from mentor_env.domains.answers import numbers_match, parse_number
from mentor_env.domains.base import Draw, GeneratedDomain
from mentor_env.domains.scripted import TeacherFailed, TeacherPlan, TeacherTurn

# A query that runs longer than this is stopped by the progress handler, with a
# clear message. Every task query takes well under 10 ms.
QUERY_TIME_LIMIT_S = 0.5
# The query tool runs in a child process (isolated) that is killed this long
# after the call starts: a query stuck inside one SQLite function call (instr or
# trim on long strings, a sort), where the progress handler never runs. The
# margin over QUERY_TIME_LIMIT_S lets the handler's own message arrive first.
QUERY_KILL_AFTER_S = QUERY_TIME_LIMIT_S + 0.2
# The progress handler runs every this many SQLite virtual-machine steps.
PROGRESS_STEPS = 1_000
MAX_SQL_CHARS = 4_000
ROW_LIMIT = 50
# Rows past the shown ones are counted up to this many (then "more than").
COUNT_CAP = 100_000
MAX_COLUMNS = 20
MAX_CELL_CHARS = 100
# The rendered table stays under ToolRuntime's 4,000-character result limit.
MAX_TABLE_CHARS = 3_500
# SQLite limits of the connection (strings and blobs, expression nesting, program size).
# Task values are under 100 bytes. Work quadratic in a value's length stays
# short at this size (trim of 4,000 by 4,000 characters: 0.05 s; 10,000: 0.3 s),
# and randomblob(1000000) or a megabyte string is refused at once.
MAX_VALUE_BYTES = 4_000
MAX_EXPR_DEPTH = 100
MAX_VDBE_OPS = 100_000
DB_SEED = 20_240_601

SYSTEM_PROMPT = (
    "You answer questions about a read-only SQLite database with the tools provided. "
    "Find the tables and columns you need (list_tables, describe_table), then run one SELECT query "
    "in SQLite's dialect; you may make several independent calls in one turn. "
    "When you know the result, reply without a tool call and put the final answer in \\boxed{}: "
    "a number as the query returned it, or a name exactly as stored."
)

# --- the database -----------------------------------------------------------


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a statement runs.

    The time limit is wall time, and counting 100,000 rows allocates tuples
    fast enough to start a full collection; in a large process (a loaded model)
    that pause alone can pass 0.5 s and be reported as the model's slow query.
    Rows hold no cycles, so nothing is lost by collecting afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    note: str = ""


@dataclass(frozen=True)
class TableSpec:
    name: str
    family: str
    columns: tuple[Column, ...]
    key: str = ""  # a table-level constraint, e.g. a composite primary key


MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
ORDER_YEARS = (2021, 2022, 2023)
SALARY_YEARS = (2021, 2022, 2023)
HIRE_YEARS = tuple(range(2010, 2024))
SIGNUP_YEARS = tuple(range(2019, 2024))
STATUSES = ("cancelled", "pending", "returned", "shipped")
CITIES = ("Berlin", "Dublin", "Lisbon", "Lyon", "Madrid", "Oslo", "Porto", "Vienna")
COUNTRIES = ("France", "Germany", "Norway", "Poland", "Portugal", "Spain")
FIRST_NAMES = (
    "Ana", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jon", "Kemi", "Liam",
    "Maya", "Nils", "Olga", "Pavel", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wren", "Yusuf",
)  # fmt: skip
LAST_NAMES = (
    "Silva", "Becker", "Moreau", "Patel", "Novak", "Haddad", "Kim", "Tanaka", "Costa", "Berg", "Okafor", "Murphy",
    "Rossi", "Larsen", "Ivanova", "Horvat", "Reyes", "Lindqvist", "Mensah", "Kowalski", "Dubois", "Fischer",
    "Ortiz", "Sato",
)  # fmt: skip
# category -> (nouns, price range)
CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[float, float]]] = {
    "Books": (("Atlas", "Cookbook", "Novel", "Journal", "Field Guide"), (6, 110)),
    "Garden": (("Trowel", "Planter", "Hose", "Rake", "Seed Kit"), (4, 130)),
    "Kitchen": (("Kettle", "Skillet", "Teapot", "Cutting Board", "Whisk"), (5, 140)),
    "Office": (("Stapler", "Desk Lamp", "Notebook", "Pen Set", "Organizer"), (3, 120)),
    "Sports": (("Yoga Mat", "Racket", "Football", "Helmet", "Water Bottle"), (8, 150)),
    "Toys": (("Puzzle", "Kite", "Robot Kit", "Yo-yo", "Board Game"), (5, 125)),
}
ADJECTIVES = ("Classic", "Compact", "Deluxe", "Eco", "Mini", "Premium", "Studio", "Travel")
PRODUCTS_PER_CATEGORY = 8
# name, office city, budget
DEPARTMENTS = (
    ("Engineering", "Lisbon", 2_400_000), ("Finance", "Berlin", 900_000), ("Legal", "Vienna", 600_000),
    ("Marketing", "Lyon", 1_100_000), ("Operations", "Oslo", 1_300_000), ("Research", "Dublin", 1_700_000),
    ("Sales", "Madrid", 1_500_000), ("Support", "Porto", 800_000),
)  # fmt: skip
# title -> base yearly salary
TITLES = {"Associate": 38_000, "Analyst": 52_000, "Specialist": 58_000, "Engineer": 64_000, "Senior Engineer": 82_000}
MANAGER_TITLE, MANAGER_BASE = "Manager", 98_000
WAREHOUSES = (
    "Central Yard", "Eastgate", "Harbor Point", "Hillcrest", "Lakeside",
    "North Hub", "Riverside", "Southport", "Summit Depot", "Westfield",
)  # fmt: skip
SUPPLIERS = (
    "Acme Supply", "Blue River Trading", "Crown Imports", "Delta Goods", "Evergreen Wholesale", "Falcon Logistics",
    "Granite Parts", "Horizon Traders", "Ironwood Supply", "Juniper Partners", "Keystone Distributors",
    "Lumen Sourcing", "Meridian Supply", "Northwind Traders", "Orchid Merchants", "Pioneer Freight",
)  # fmt: skip
ITEMS = (
    "Aluminium Sheet", "Ball Bearings", "Brass Fittings", "Cable Ties", "Canvas Rolls", "Ceramic Tiles",
    "Copper Wire", "Cotton Thread", "Drill Bits", "Duct Tape", "Fence Panels", "Floor Varnish", "Glass Panes",
    "Hinges", "Hose Clamps", "Insulation Foam", "Ladders", "LED Bulbs", "Lumber Planks", "Masking Tape",
    "Nylon Rope", "Paint Brushes", "PVC Pipe", "Roof Shingles", "Rubber Gaskets", "Safety Gloves", "Sandpaper",
    "Screws", "Sealant", "Solar Panels", "Steel Bolts", "Steel Nails", "Storage Bins", "Tarpaulins",
    "Tool Boxes", "Wall Plugs", "Washers", "Welding Rods", "Wheelbarrows", "Wood Glue",
)  # fmt: skip

TABLE_SPECS: tuple[TableSpec, ...] = (
    TableSpec("customers", "orders", (
        Column("customer_id", "INTEGER PRIMARY KEY"),
        Column("name", "TEXT", "unique"),
        Column("city", "TEXT", "one of " + ", ".join(f"'{c}'" for c in CITIES)),
        Column("signup_year", "INTEGER", f"{SIGNUP_YEARS[0]}-{SIGNUP_YEARS[-1]}"),
    )),
    TableSpec("products", "orders", (
        Column("product_id", "INTEGER PRIMARY KEY"),
        Column("name", "TEXT", "unique"),
        Column("category", "TEXT", "one of " + ", ".join(f"'{c}'" for c in CATEGORIES)),
        Column("price", "REAL", "list price in dollars"),
    )),
    TableSpec("orders", "orders", (
        Column("order_id", "INTEGER PRIMARY KEY"),
        Column("customer_id", "INTEGER REFERENCES customers(customer_id)"),
        Column("order_date", "TEXT", f"'YYYY-MM-DD', {ORDER_YEARS[0]}-{ORDER_YEARS[-1]}"),
        Column("status", "TEXT", "one of " + ", ".join(f"'{s}'" for s in STATUSES)),
    )),
    TableSpec("order_items", "orders", (
        Column("order_id", "INTEGER REFERENCES orders(order_id)"),
        Column("product_id", "INTEGER REFERENCES products(product_id)"),
        Column("quantity", "INTEGER"),
        Column("unit_price", "REAL", "price paid per unit in dollars"),
    ), key="PRIMARY KEY (order_id, product_id)"),
    TableSpec("departments", "employees", (
        Column("department_id", "INTEGER PRIMARY KEY"),
        Column("name", "TEXT", "unique"),
        Column("city", "TEXT"),
        Column("budget", "INTEGER", "yearly, in dollars"),
    )),
    TableSpec("employees", "employees", (
        Column("employee_id", "INTEGER PRIMARY KEY"),
        Column("name", "TEXT", "unique"),
        Column("department_id", "INTEGER REFERENCES departments(department_id)"),
        Column("title", "TEXT", "one of " + ", ".join(f"'{t}'" for t in (*TITLES, MANAGER_TITLE))),
        Column("hire_year", "INTEGER"),
        Column("manager_id", "INTEGER REFERENCES employees(employee_id)", "NULL for department managers"),
    )),
    TableSpec("salaries", "employees", (
        Column("employee_id", "INTEGER REFERENCES employees(employee_id)"),
        Column("year", "INTEGER", f"{SALARY_YEARS[0]}-{SALARY_YEARS[-1]}"),
        Column("amount", "INTEGER", "yearly salary in dollars"),
    ), key="PRIMARY KEY (employee_id, year)"),
    TableSpec("warehouses", "inventory", (
        Column("warehouse_id", "INTEGER PRIMARY KEY"),
        Column("name", "TEXT", "unique"),
        Column("city", "TEXT"),
        Column("capacity", "INTEGER", "storage capacity in units"),
    )),
    TableSpec("suppliers", "inventory", (
        Column("supplier_id", "INTEGER PRIMARY KEY"),
        Column("name", "TEXT", "unique"),
        Column("country", "TEXT", "one of " + ", ".join(f"'{c}'" for c in COUNTRIES)),
        Column("rating", "REAL", "1.0-5.0"),
    )),
    TableSpec("stock", "inventory", (
        Column("warehouse_id", "INTEGER REFERENCES warehouses(warehouse_id)"),
        Column("item", "TEXT"),
        Column("supplier_id", "INTEGER REFERENCES suppliers(supplier_id)"),
        Column("quantity", "INTEGER", "units on hand"),
        Column("unit_cost", "REAL", "dollars per unit"),
    ), key="PRIMARY KEY (warehouse_id, item)"),
)  # fmt: skip
TABLE_NAMES: tuple[str, ...] = tuple(sorted(spec.name for spec in TABLE_SPECS))


def _person_names(rng: random.Random, count: int) -> list[str]:
    pairs = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
    return rng.sample(pairs, count)


def build_rows(seed: int = DB_SEED) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, drawn from ``seed`` (pure Python, no SQLite involved)."""
    rng = random.Random(seed)
    rows: dict[str, list[tuple[Any, ...]]] = {spec.name: [] for spec in TABLE_SPECS}
    people = _person_names(rng, 200)

    # Orders family. Unequal weights make "which ... the most" questions rarely tie.
    city_weights = [rng.uniform(0.5, 2.0) for _ in CITIES]
    for customer_id, name in enumerate(people[:80], start=1):
        city = rng.choices(CITIES, city_weights)[0]
        rows["customers"].append((customer_id, name, city, rng.choice(SIGNUP_YEARS)))
    prices: list[float] = []
    for category, (nouns, (low, high)) in CATEGORIES.items():
        names = rng.sample([f"{adjective} {noun}" for adjective in ADJECTIVES for noun in nouns], PRODUCTS_PER_CATEGORY)
        for name in names:
            price = round(rng.uniform(low, high), 2)
            prices.append(price)
            rows["products"].append((len(rows["products"]) + 1, name, category, price))
    activity = [rng.uniform(0.3, 3.0) for _ in range(80)]
    first_day = date(ORDER_YEARS[0], 1, 1)
    days = (date(ORDER_YEARS[-1] + 1, 1, 1) - first_day).days
    order_dates = sorted(first_day + timedelta(days=rng.randrange(days)) for _ in range(900))
    for order_id, day in enumerate(order_dates, start=1):
        customer_id = rng.choices(range(1, 81), activity)[0]
        status = rng.choices(STATUSES, (12, 8, 10, 70))[0]
        rows["orders"].append((order_id, customer_id, day.isoformat(), status))
        for product_id in sorted(rng.sample(range(1, len(prices) + 1), rng.choice((1, 1, 2, 2, 3, 4)))):
            price = prices[product_id - 1]
            unit_price = price if rng.random() < 0.8 else round(price * 0.9, 2)
            rows["order_items"].append((order_id, product_id, rng.randint(1, 6), unit_price))

    # Employees family: employee i (1..8) manages department i.
    for department_id, (name, city, budget) in enumerate(DEPARTMENTS, start=1):
        rows["departments"].append((department_id, name, city, budget))
    department_weights = [rng.uniform(0.6, 2.0) for _ in DEPARTMENTS]
    bases: dict[int, int] = {}
    hired: dict[int, int] = {}
    for employee_id, name in enumerate(people[80:200], start=1):
        if employee_id <= len(DEPARTMENTS):
            department_id, title, manager_id = employee_id, MANAGER_TITLE, None
            hire_year, bases[employee_id] = rng.randint(2010, 2017), MANAGER_BASE
        else:
            department_id = rng.choices(range(1, len(DEPARTMENTS) + 1), department_weights)[0]
            title = rng.choice(tuple(TITLES))
            manager_id, hire_year, bases[employee_id] = department_id, rng.choice(HIRE_YEARS), TITLES[title]
        hired[employee_id] = hire_year
        rows["employees"].append((employee_id, name, department_id, title, hire_year, manager_id))
    for employee_id, base in bases.items():
        amount = round(base * rng.uniform(0.85, 1.2), -2)
        for year in SALARY_YEARS:
            if hired[employee_id] <= year:
                rows["salaries"].append((employee_id, year, int(amount)))
                amount = round(amount * (1 + rng.choice((0.0, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08))), -2)

    # Inventory family.
    for warehouse_id, name in enumerate(WAREHOUSES, start=1):
        rows["warehouses"].append((warehouse_id, name, rng.choice(CITIES), rng.randrange(5_000, 50_001, 500)))
    for supplier_id, name in enumerate(SUPPLIERS, start=1):
        rows["suppliers"].append((supplier_id, name, rng.choice(COUNTRIES), round(rng.uniform(2.5, 5.0), 1)))
    for warehouse_id in range(1, len(WAREHOUSES) + 1):
        preference = [rng.uniform(0.2, 3.0) for _ in SUPPLIERS]
        for item in sorted(rng.sample(ITEMS, rng.randint(16, 28))):
            supplier_id = rng.choices(range(1, len(SUPPLIERS) + 1), preference)[0]
            rows["stock"].append(
                (warehouse_id, item, supplier_id, rng.randint(0, 900), round(rng.uniform(0.4, 95.0), 2))
            )
    return rows


@dataclass(frozen=True)
class QueryResult:
    """The first rows of a result and how many rows it had (``more``: over :data:`COUNT_CAP`)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    total: int
    more: bool = False


# Authorizer actions that only read. SQLITE_RECURSIVE (33) allows WITH RECURSIVE.
_READ_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, getattr(sqlite3, "SQLITE_RECURSIVE", 33)})
# printf('%.*c', 2000000000, 'x') spends seconds inside one SQLite step, where the
# progress handler cannot stop it; the tasks never need printf or format.
_FORBIDDEN_FUNCTIONS = frozenset(
    {"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit", "printf", "format"}
    # Python 3.10 cannot lower SQLite's 1 GB value limit (Connection.setlimit is 3.11+):
    # refuse the functions that build large values in one step there.
    | (set() if hasattr(sqlite3.Connection, "setlimit") else {"randomblob", "zeroblob"})
)
_ACTION_LABELS: dict[int, str] = {
    getattr(sqlite3, f"SQLITE_{name}"): name.replace("_", " ")
    for name in (
        "INSERT", "UPDATE", "DELETE", "CREATE_TABLE", "CREATE_TEMP_TABLE", "CREATE_INDEX", "CREATE_TEMP_INDEX",
        "CREATE_VIEW", "CREATE_TEMP_VIEW", "CREATE_TRIGGER", "CREATE_TEMP_TRIGGER", "CREATE_VTABLE",
        "DROP_TABLE", "DROP_TEMP_TABLE", "DROP_INDEX", "DROP_TEMP_INDEX", "DROP_VIEW", "DROP_TEMP_VIEW",
        "DROP_TRIGGER", "DROP_TEMP_TRIGGER", "DROP_VTABLE", "ALTER_TABLE", "REINDEX", "ANALYZE", "ATTACH",
        "DETACH", "PRAGMA", "TRANSACTION", "SAVEPOINT",
    )
    if hasattr(sqlite3, f"SQLITE_{name}")
}  # fmt: skip
READ_ONLY = "the database is read-only: run one SELECT statement (WITH ... SELECT is fine)"
_LEADING_COMMENT = re.compile(r"\s*(?:--[^\n]*(?:\n|$)|/\*.*?(?:\*/|$))", re.DOTALL)
_LEADING_WORD = re.compile(r"\s*([A-Za-z]+)")


def _leading_keyword(sql: str) -> str:
    """The first SQL keyword, after comments (``""`` if none)."""
    position = 0
    while (comment := _LEADING_COMMENT.match(sql, position)) and comment.end() > position:
        position = comment.end()
    word = _LEADING_WORD.match(sql, position)
    return word.group(1).upper() if word else ""


class Database:
    """The task database: one in-memory SQLite connection per process.

    Built once (see :func:`database`); every statement runs under ``lock``
    because tool calls may come from several threads. The model's SQL runs in
    a sandbox child's own copy (one per env); in the parent the database only
    serves task generation's short queries, so no env waits behind a model's.
    """

    def __init__(self, seed: int = DB_SEED) -> None:
        self.lock = threading.Lock()
        self._connection = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        rows = build_rows(seed)
        for spec in TABLE_SPECS:
            columns = [f"{column.name} {column.sql_type}" for column in spec.columns]
            definition = ", ".join(columns + ([spec.key] if spec.key else []))
            self._connection.execute(f"CREATE TABLE {spec.name} ({definition})")
            marks = ", ".join("?" * len(spec.columns))
            self._connection.executemany(f"INSERT INTO {spec.name} VALUES ({marks})", rows[spec.name])
        self.row_counts: dict[str, int] = {spec.name: len(rows[spec.name]) for spec in TABLE_SPECS}
        self._lock_down()
        self.table_list = "\n".join(f"{name} ({self.row_counts[name]} rows)" for name in TABLE_NAMES)
        self.descriptions = {spec.name: self._describe(spec) for spec in TABLE_SPECS}
        self.catalog: dict[str, tuple[Any, ...]] = {
            "customers": tuple(row[1] for row in rows["customers"]),
            "products": tuple(row[1] for row in rows["products"]),
            "employees": tuple(row[1] for row in rows["employees"]),
            "order_ids": tuple(row[0] for row in rows["orders"]),
            "customer_ids": tuple(row[0] for row in rows["customers"]),
        }
        self._initial_fingerprint = self.fingerprint()

    def _lock_down(self) -> None:
        connection = self._connection
        connection.execute("PRAGMA query_only = ON")
        if hasattr(connection, "setlimit"):  # Python 3.11+
            for limit, value in (
                ("SQLITE_LIMIT_ATTACHED", 0),
                ("SQLITE_LIMIT_LENGTH", MAX_VALUE_BYTES),
                ("SQLITE_LIMIT_SQL_LENGTH", 4 * MAX_SQL_CHARS),  # UTF-8 needs up to 4 bytes a character
                ("SQLITE_LIMIT_EXPR_DEPTH", MAX_EXPR_DEPTH),
                ("SQLITE_LIMIT_VDBE_OP", MAX_VDBE_OPS),
                ("SQLITE_LIMIT_WORKER_THREADS", 0),
                ("SQLITE_LIMIT_LIKE_PATTERN_LENGTH", 1_000),
            ):
                connection.setlimit(getattr(sqlite3, limit), value)
        self._deadline = math.inf
        self._limit_s = QUERY_TIME_LIMIT_S
        self._timed_out = False
        self._refusal: str | None = None
        connection.set_authorizer(self._authorize)
        connection.set_progress_handler(self._progress, PROGRESS_STEPS)

    def _describe(self, spec: TableSpec) -> str:
        lines = [f"{spec.name} ({self.row_counts[spec.name]} rows)"]
        for column in spec.columns:
            lines.append(f"{column.name} {column.sql_type}" + (f" -- {column.note}" if column.note else ""))
        if spec.key:
            lines.append(spec.key)
        return "\n".join(lines)

    # Called by SQLite while it prepares a statement: refuse anything but reading.
    def _authorize(
        self, action: int, arg1: str | None, arg2: str | None, schema: str | None, source: str | None
    ) -> int:
        if action in _READ_ACTIONS:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION:
            if (arg2 or "").lower() not in _FORBIDDEN_FUNCTIONS:
                return sqlite3.SQLITE_OK
            refusal = f"the function {arg2}() is not available; compute the value with other SQL functions"
        elif arg1 in ("sqlite_master", "sqlite_schema", "sqlite_temp_master"):
            refusal = f"changing the schema (pragma table functions included) is not allowed; {READ_ONLY}"
        else:
            refusal = f"{_ACTION_LABELS.get(action, f'action {action}')} is not allowed; {READ_ONLY}"
        if self._refusal is None:
            self._refusal = refusal
        return sqlite3.SQLITE_DENY

    def _progress(self) -> int:
        if time.monotonic() > self._deadline:
            self._timed_out = True
            return 1  # non-zero aborts the statement ("interrupted")
        return 0

    def run(self, sql: str, max_rows: int = ROW_LIMIT) -> QueryResult:
        """Run one read-only statement; returns its first ``max_rows`` rows and the row count.

        The statement is stopped after :data:`QUERY_TIME_LIMIT_S` seconds, or
        sooner when the tool call's deadline (:func:`call_deadline`) comes first.

        Raises:
            ToolError: the statement is refused, fails, or runs past the time limit.
        """
        with self.lock, _cyclic_gc_paused():
            self._refusal, self._timed_out = None, False
            now = time.monotonic()
            self._limit_s = max(0.0, min(QUERY_TIME_LIMIT_S, call_deadline() - now))
            self._deadline = now + self._limit_s
            try:
                cursor = self._connection.execute(sql)
                if cursor.description is None:
                    raise ToolError("the SQL holds no statement that returns rows; write one SELECT statement")
                first = cursor.fetchmany(max_rows)
                total, more = len(first), False
                if total == max_rows:
                    # Count the rest without keeping it, up to COUNT_CAP.
                    while chunk := cursor.fetchmany(10_000):
                        total += len(chunk)
                        if total > COUNT_CAP:
                            more = True
                            break
                columns = tuple(str(entry[0]) for entry in cursor.description)
                cursor.close()
                return QueryResult(columns, tuple(first), total, more)
            except (sqlite3.Error, sqlite3.Warning) as exc:
                raise self._explain(sql, exc) from None
            finally:
                self._deadline = math.inf

    def _explain(self, sql: str, exc: Exception) -> ToolError:
        """The error message the model reads for a failed statement."""
        message = str(exc)
        if self._timed_out or message == "interrupted":
            return ToolTimeout(
                f"the query was stopped after {self._limit_s:.2g} s (the time limit); add filters or a LIMIT, "
                "and avoid cross joins and recursive CTEs that never end"
            )
        if self._refusal is not None:
            keyword = _leading_keyword(sql)
            if keyword and keyword not in ("SELECT", "WITH", "VALUES", "EXPLAIN"):
                return ToolError(f"{keyword} statements are not allowed; {READ_ONLY}")
            return ToolError(self._refusal)
        if "one statement at a time" in message:
            return ToolError("only one SQL statement per query is allowed; remove the ';' and what follows it")
        if "readonly" in message or "not authorized" in message:
            return ToolError(READ_ONLY)
        if "too big" in message:
            return ToolError(f"a value is too large (strings and blobs are limited to {MAX_VALUE_BYTES:,} bytes)")
        hint = ""
        if "no such table" in message:
            hint = "; call list_tables to see the tables"
        elif "no such column" in message:
            hint = "; call describe_table to see a table's columns"
        return ToolError(f"SQLite error: {message}{hint}")

    def fingerprint(self) -> tuple[Any, ...]:
        """Schema, row counts and change counter: equal before and after any tool call."""
        with self.lock:
            self._deadline = math.inf
            schema = tuple(self._connection.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name"))
            counts = tuple(
                (name, self._connection.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0]) for name in TABLE_NAMES
            )
            return schema, counts, self._connection.total_changes

    @property
    def unchanged(self) -> bool:
        return self.fingerprint() == self._initial_fingerprint


@functools.lru_cache(maxsize=1)
def database() -> Database:
    """The process's task database (built on first use, about 20 ms)."""
    return Database()


# A forked worker (e.g. an async vector env) builds its own connection rather than
# sharing the parent's, whose lock another thread may have held at the fork.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=database.cache_clear)


# --- tools ------------------------------------------------------------------


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
        timeout_message=(
            "the query was stopped after {limit:.2g} s (the time limit) while one SQL function or sort was still "
            f"running; keep strings short (values are limited to {MAX_VALUE_BYTES:,} bytes), add filters or a LIMIT, "
            "and avoid sorting cross joins"
        ),
    ),
)
TOOL_NAMES = tuple(tool.name for tool in TOOLS)
# Task generation runs only the teacher's own SQL (fast, trusted): in this process, no child.
_GENERATION_TOOLS: tuple[Tool, ...] = tuple(dataclasses.replace(tool, isolated=False) for tool in TOOLS)

# --- question templates -----------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A question with the SQL the teacher runs; ``check_sql`` returns the top two rows of a top-1 question."""

    question: str
    sql: str
    tables: tuple[str, ...]
    check_sql: str | None = None


def _quote(text: str) -> str:
    """A SQL string literal (the teacher writes literals, as a model would)."""
    return "'" + text.replace("'", "''") + "'"


def _top(question: str, body: str, tables: tuple[str, ...]) -> Draft:
    """A "which ... the most" question: the teacher takes the first row; a tie with the second is redrawn."""
    return Draft(question, f"{body} LIMIT 1", tables, check_sql=f"{body} LIMIT 2")


@dataclass(frozen=True)
class Period:
    """A range of whole months of one year: ``start <= order_date < end``."""

    text: str
    start: str
    end: str


def _period(rng: random.Random) -> Period:
    year = rng.choice(ORDER_YEARS)
    first = rng.randrange(12)
    last = rng.randrange(first, 12)
    end = date(year + 1, 1, 1) if last == 11 else date(year, last + 2, 1)
    text = f"in {MONTHS[first]} {year}" if first == last else f"between {MONTHS[first]} and {MONTHS[last]} {year}"
    return Period(text, date(year, first + 1, 1).isoformat(), end.isoformat())


def _in_year(column: str, year: int) -> str:
    return f"{column} LIKE '{year}-%'"


def _category(rng: random.Random) -> str:
    return rng.choice(tuple(CATEGORIES))


def _department(rng: random.Random) -> str:
    return rng.choice(DEPARTMENTS)[0]


def _two_years(rng: random.Random) -> tuple[int, int]:
    first, second = sorted(rng.sample(SALARY_YEARS, 2))
    return first, second


SALES = (
    "order_items i JOIN products p ON p.product_id = i.product_id JOIN orders o ON o.order_id = i.order_id"
)
PAYROLL = (
    "salaries s JOIN employees e ON e.employee_id = s.employee_id "
    "JOIN departments d ON d.department_id = e.department_id"
)
INVENTORY = (
    "stock st JOIN suppliers su ON su.supplier_id = st.supplier_id "
    "JOIN warehouses w ON w.warehouse_id = st.warehouse_id"
)

# In-distribution, level 1: a filter on one table.


def orders_status_period(rng: random.Random) -> Draft:
    status, period = rng.choice(STATUSES), _period(rng)
    question = rng.choice(
        (
            f"How many orders placed {period.text} have the status '{status}'?",
            f"Of the orders placed {period.text}, how many ended up with the status '{status}'?",
        )
    )
    sql = (
        f"SELECT COUNT(*) AS order_count FROM orders WHERE status = '{status}' "
        f"AND order_date >= '{period.start}' AND order_date < '{period.end}'"
    )
    return Draft(question, sql, ("orders",))


def customers_city_since(rng: random.Random) -> Draft:
    city, year = rng.choice(CITIES), rng.choice(SIGNUP_YEARS)
    question = f"How many customers from {city} signed up in {year} or later?"
    sql = f"SELECT COUNT(*) AS customer_count FROM customers WHERE city = '{city}' AND signup_year >= {year}"
    return Draft(question, sql, ("customers",))


def product_price(rng: random.Random) -> Draft:
    product = rng.choice(database().catalog["products"])
    question = rng.choice(
        (f"What is the price of the product '{product}'?", f"How much does the product '{product}' cost?")
    )
    return Draft(question, f"SELECT price FROM products WHERE name = {_quote(product)}", ("products",))


def products_cheaper_than(rng: random.Random) -> Draft:
    category, limit = _category(rng), rng.randint(10, 200)
    question = f"How many {category} products cost less than ${limit}?"
    sql = f"SELECT COUNT(*) AS product_count FROM products WHERE category = '{category}' AND price < {limit}"
    return Draft(question, sql, ("products",))


def employees_hired_between(rng: random.Random) -> Draft:
    first, last = sorted(rng.sample(HIRE_YEARS, 2))
    question = f"How many employees were hired between {first} and {last}, inclusive?"
    sql = f"SELECT COUNT(*) AS hired FROM employees WHERE hire_year BETWEEN {first} AND {last}"
    return Draft(question, sql, ("employees",))


def employee_fact(rng: random.Random) -> Draft:
    name = rng.choice(database().catalog["employees"])
    if rng.random() < 0.5:
        return Draft(
            f"What is the job title of the employee named {name}?",
            f"SELECT title FROM employees WHERE name = {_quote(name)}",
            ("employees",),
        )
    return Draft(
        f"In which year was the employee {name} hired?",
        f"SELECT hire_year FROM employees WHERE name = {_quote(name)}",
        ("employees",),
    )


# In-distribution, level 2: an aggregate over one table.


def average_price_below(rng: random.Random) -> Draft:
    category, limit = _category(rng), rng.randint(15, 200)
    question = f"What is the average price of {category} products that cost less than ${limit}, rounded to 2 decimals?"
    sql = (
        f"SELECT ROUND(AVG(price), 2) AS average_price FROM products "
        f"WHERE category = '{category}' AND price < {limit}"
    )
    return Draft(question, sql, ("products",))


def order_value(rng: random.Random) -> Draft:
    order_id = rng.choice(database().catalog["order_ids"])
    question = f"What is the total value of order #{order_id} (quantity times unit price), rounded to 2 decimals?"
    sql = f"SELECT ROUND(SUM(quantity * unit_price), 2) AS order_value FROM order_items WHERE order_id = {order_id}"
    return Draft(question, sql, ("order_items",))


def salary_statistic(rng: random.Random) -> Draft:
    year = rng.choice(SALARY_YEARS)
    wording, expression = rng.choice(
        (
            ("the highest salary paid", "MAX(amount)"),
            ("the lowest salary paid", "MIN(amount)"),
            ("the average salary paid", "ROUND(AVG(amount), 2)"),
            ("the total of all salaries paid", "SUM(amount)"),
        )
    )
    rounding = ", rounded to 2 decimals" if "AVG" in expression else ""
    question = f"What was {wording} in {year}{rounding}?"
    return Draft(question, f"SELECT {expression} AS result FROM salaries WHERE year = {year}", ("salaries",))


def customer_orders_year(rng: random.Random) -> Draft:
    customer_id, year = rng.choice(database().catalog["customer_ids"]), rng.choice(ORDER_YEARS)
    question = f"How many orders did the customer with ID {customer_id} place in {year}?"
    sql = (
        f"SELECT COUNT(*) AS order_count FROM orders WHERE customer_id = {customer_id} "
        f"AND {_in_year('order_date', year)}"
    )
    return Draft(question, sql, ("orders",))


def top_signup_city(rng: random.Random) -> Draft:
    year = rng.choice(SIGNUP_YEARS)
    body = (
        f"SELECT city, COUNT(*) AS signups FROM customers WHERE signup_year = {year} "
        "GROUP BY city ORDER BY signups DESC"
    )
    return _top(f"Which city had the most customers sign up in {year}?", body, ("customers",))


def extreme_product(rng: random.Random) -> Draft:
    category, bound = _category(rng), rng.choice((0, 0, *range(10, 100)))
    # The cheapest product above a floor, or the most expensive below a ceiling.
    wording, order, comparison, scope = rng.choice(
        (("cheapest", "ASC", ">", "more"), ("most expensive", "DESC", "<", "less"))
    )
    condition = f" AND price {comparison} {bound}" if bound else ""
    within = f" that costs {scope} than ${bound}" if bound else ""
    body = f"SELECT name, price FROM products WHERE category = '{category}'{condition} ORDER BY price {order}"
    return _top(f"What is the name of the {wording} {category} product{within}?", body, ("products",))


# In-distribution, level 3: a join with a filter and an aggregate.


def orders_city_period(rng: random.Random) -> Draft:
    city, period = rng.choice(CITIES), _period(rng)
    question = f"How many orders did customers from {city} place {period.text}?"
    sql = (
        "SELECT COUNT(*) AS order_count FROM orders o JOIN customers c ON c.customer_id = o.customer_id "
        f"WHERE c.city = '{city}' AND o.order_date >= '{period.start}' AND o.order_date < '{period.end}'"
    )
    return Draft(question, sql, ("orders", "customers"))


def average_salary_department(rng: random.Random) -> Draft:
    department, year = _department(rng), rng.choice(SALARY_YEARS)
    question = f"What was the average salary in the {department} department in {year}, rounded to 2 decimals?"
    sql = (
        f"SELECT ROUND(AVG(s.amount), 2) AS average_salary FROM {PAYROLL} "
        f"WHERE d.name = '{department}' AND s.year = {year}"
    )
    return Draft(question, sql, ("salaries", "employees", "departments"))


def units_of_product(rng: random.Random) -> Draft:
    product, year = rng.choice(database().catalog["products"]), rng.choice(ORDER_YEARS)
    question = f"How many units of '{product}' were ordered in {year}?"
    sql = (
        f"SELECT SUM(i.quantity) AS units FROM {SALES} "
        f"WHERE p.name = {_quote(product)} AND {_in_year('o.order_date', year)}"
    )
    return Draft(question, sql, ("order_items", "products", "orders"))


def department_headcount(rng: random.Random) -> Draft:
    department, year = _department(rng), rng.choice(HIRE_YEARS[1:])
    question = f"How many employees in the {department} department were hired before {year}?"
    sql = (
        "SELECT COUNT(*) AS headcount FROM employees e JOIN departments d ON d.department_id = e.department_id "
        f"WHERE d.name = '{department}' AND e.hire_year < {year}"
    )
    return Draft(question, sql, ("employees", "departments"))


def category_revenue_period(rng: random.Random) -> Draft:
    category, period = _category(rng), _period(rng)
    question = (
        f"What was the total revenue from {category} products in orders placed {period.text}, rounded to 2 decimals?"
    )
    sql = (
        f"SELECT ROUND(SUM(i.quantity * i.unit_price), 2) AS revenue FROM {SALES} WHERE p.category = '{category}' "
        f"AND o.order_date >= '{period.start}' AND o.order_date < '{period.end}'"
    )
    return Draft(question, sql, ("order_items", "products", "orders"))


def customer_spend_year(rng: random.Random) -> Draft:
    customer, year = rng.choice(database().catalog["customers"]), rng.choice(ORDER_YEARS)
    question = f"How much did {customer} spend on orders placed in {year}, rounded to 2 decimals?"
    sql = (
        "SELECT ROUND(SUM(i.quantity * i.unit_price), 2) AS spent FROM customers c "
        "JOIN orders o ON o.customer_id = c.customer_id JOIN order_items i ON i.order_id = o.order_id "
        f"WHERE c.name = {_quote(customer)} AND {_in_year('o.order_date', year)}"
    )
    return Draft(question, sql, ("customers", "orders", "order_items"))


# In-distribution, level 4: a join with GROUP BY and ORDER BY.


def top_customer_city_period(rng: random.Random) -> Draft:
    city, period = rng.choice(CITIES), _period(rng)
    body = (
        "SELECT c.name, ROUND(SUM(i.quantity * i.unit_price), 2) AS spent FROM customers c "
        "JOIN orders o ON o.customer_id = c.customer_id JOIN order_items i ON i.order_id = o.order_id "
        f"WHERE c.city = '{city}' AND o.order_date >= '{period.start}' AND o.order_date < '{period.end}' "
        "GROUP BY c.customer_id ORDER BY spent DESC"
    )
    question = f"Which customer from {city} spent the most on orders placed {period.text}?"
    return _top(question, body, ("customers", "orders", "order_items"))


def top_department_salary(rng: random.Random) -> Draft:
    year = rng.choice(SALARY_YEARS)
    wording, order = rng.choice((("highest", "DESC"), ("lowest", "ASC")))
    body = (
        f"SELECT d.name, AVG(s.amount) AS average_salary FROM {PAYROLL} WHERE s.year = {year} "
        f"GROUP BY d.department_id ORDER BY average_salary {order}"
    )
    question = f"Which department had the {wording} average salary in {year}?"
    return _top(question, body, ("departments", "employees", "salaries"))


def top_product_period(rng: random.Random) -> Draft:
    category, period = _category(rng), _period(rng)
    body = (
        f"SELECT p.name, SUM(i.quantity) AS units FROM {SALES} WHERE p.category = '{category}' "
        f"AND o.order_date >= '{period.start}' AND o.order_date < '{period.end}' "
        "GROUP BY p.product_id ORDER BY units DESC"
    )
    question = f"Which {category} product sold the most units {period.text}?"
    return _top(question, body, ("products", "order_items", "orders"))


def top_city_status_year(rng: random.Random) -> Draft:
    status, year = rng.choice(STATUSES), rng.choice(ORDER_YEARS)
    body = (
        "SELECT c.city, COUNT(*) AS order_count FROM customers c JOIN orders o ON o.customer_id = c.customer_id "
        f"WHERE o.status = '{status}' AND {_in_year('o.order_date', year)} GROUP BY c.city ORDER BY order_count DESC"
    )
    question = f"Customers from which city placed the most orders with the status '{status}' in {year}?"
    return _top(question, body, ("customers", "orders"))


def top_earner_department(rng: random.Random) -> Draft:
    department, year = _department(rng), rng.choice(SALARY_YEARS)
    body = (
        f"SELECT e.name, s.amount FROM {PAYROLL} WHERE d.name = '{department}' AND s.year = {year} "
        "ORDER BY s.amount DESC"
    )
    question = f"Who was the highest-paid employee in the {department} department in {year}?"
    return _top(question, body, ("employees", "departments", "salaries"))


# Out of distribution, level 1: filters and aggregates on one table of the held-out family,
# or unseen column combinations.


def ood_suppliers_country(rng: random.Random) -> Draft:
    country, rating = rng.choice(COUNTRIES), rng.randint(25, 45) / 10
    question = f"Count the suppliers from {country} that have a rating of at least {rating}."
    sql = f"SELECT COUNT(*) AS supplier_count FROM suppliers WHERE country = '{country}' AND rating >= {rating}"
    return Draft(question, sql, ("suppliers",))


def ood_warehouse_capacity(rng: random.Random) -> Draft:
    warehouse = rng.choice(WAREHOUSES)
    question = f"Give the storage capacity recorded for the warehouse called {warehouse}."
    return Draft(question, f"SELECT capacity FROM warehouses WHERE name = {_quote(warehouse)}", ("warehouses",))


def ood_low_stock(rng: random.Random) -> Draft:
    limit = rng.randint(10, 400)
    question = f"Tell me how many stock lines hold fewer than {limit} units."
    return Draft(question, f"SELECT COUNT(*) AS stock_lines FROM stock WHERE quantity < {limit}", ("stock",))


def ood_staff_title_since(rng: random.Random) -> Draft:
    title, year = rng.choice(tuple(TITLES)), rng.choice(HIRE_YEARS)
    question = f"Among staff holding the title {title}, how many joined the company in {year} or later?"
    sql = f"SELECT COUNT(*) AS staff FROM employees WHERE title = '{title}' AND hire_year >= {year}"
    return Draft(question, sql, ("employees",))


def ood_bulk_order_lines(rng: random.Random) -> Draft:
    units, price = rng.randint(1, 5), rng.randint(10, 200)
    question = f"Count the order lines where more than {units} units were bought at a unit price above ${price}."
    sql = f"SELECT COUNT(*) AS order_lines FROM order_items WHERE quantity > {units} AND unit_price > {price}"
    return Draft(question, sql, ("order_items",))




def ood_supplier_rating(rng: random.Random) -> Draft:
    country = rng.choice(COUNTRIES)
    question = f"Across suppliers based in {country}, what is the mean rating? Round to 2 decimal places."
    sql = f"SELECT ROUND(AVG(rating), 2) AS mean_rating FROM suppliers WHERE country = '{country}'"
    return Draft(question, sql, ("suppliers",))


def ood_stock_totals(rng: random.Random) -> Draft:
    if rng.random() < 0.5:
        cost = rng.randint(1, 90)
        question = f"What is the combined quantity of all stock lines costing over ${cost} per unit?"
        return Draft(question, f"SELECT SUM(quantity) AS units FROM stock WHERE unit_cost > {cost}", ("stock",))
    units = rng.randint(0, 850)
    question = f"What is the mean unit cost of stock lines holding more than {units} units? Round to 2 decimal places."
    sql = f"SELECT ROUND(AVG(unit_cost), 2) AS mean_cost FROM stock WHERE quantity > {units}"
    return Draft(question, sql, ("stock",))


def ood_capacity_city(rng: random.Random) -> Draft:
    city = rng.choice(CITIES)
    question = f"Sum up the capacity of every warehouse located in {city}."
    return Draft(question, f"SELECT SUM(capacity) AS capacity FROM warehouses WHERE city = '{city}'", ("warehouses",))


def ood_status_share(rng: random.Random) -> Draft:
    first_day, last_day = date(ORDER_YEARS[0], 1, 1), date(ORDER_YEARS[-1], 12, 31)
    span = (last_day - first_day).days
    start = first_day + timedelta(days=rng.randrange(span - 120))
    end = start + timedelta(days=rng.randint(120, min(730, (last_day - start).days)))
    status = rng.choice(STATUSES)
    question = (
        f"Of the orders placed from {start.isoformat()} through {end.isoformat()}, what percentage had the status "
        f"'{status}'? Round to 1 decimal place."
    )
    sql = (
        f"SELECT ROUND(100.0 * SUM(status = '{status}') / COUNT(*), 1) AS percentage FROM orders "
        f"WHERE order_date BETWEEN '{start.isoformat()}' AND '{end.isoformat()}'"
    )
    return Draft(question, sql, ("orders",))


# Out of distribution, levels 2-3: joins over the held-out family, unseen combinations, four-table joins.


def ood_signup_cohort_orders(rng: random.Random) -> Draft:
    year, cohort = rng.choice(ORDER_YEARS), rng.choice(SIGNUP_YEARS)
    question = f"How many orders came in during {year} from shoppers who first signed up in {cohort}?"
    sql = (
        "SELECT COUNT(*) AS order_count FROM orders o JOIN customers c ON c.customer_id = o.customer_id "
        f"WHERE c.signup_year = {cohort} AND {_in_year('o.order_date', year)}"
    )
    return Draft(question, sql, ("orders", "customers"))


def ood_stock_value(rng: random.Random) -> Draft:
    warehouse, cost = rng.choice(WAREHOUSES), rng.randint(0, 60)
    condition = f" AND st.unit_cost > {cost}" if cost else ""
    scope = f", counting only items that cost more than ${cost} per unit" if cost else ""
    question = (
        f"Report the total value of the inventory (quantity times unit cost) kept at the {warehouse} warehouse{scope}, "
        "rounded to 2 decimal places."
    )
    sql = (
        "SELECT ROUND(SUM(st.quantity * st.unit_cost), 2) AS stock_value FROM stock st "
        f"JOIN warehouses w ON w.warehouse_id = st.warehouse_id WHERE w.name = {_quote(warehouse)}{condition}"
    )
    return Draft(question, sql, ("stock", "warehouses"))


def ood_units_country_city(rng: random.Random) -> Draft:
    country, city = rng.choice(COUNTRIES), rng.choice(CITIES)
    question = f"How many units sourced from suppliers in {country} are stored in warehouses in {city}?"
    sql = f"SELECT SUM(st.quantity) AS units FROM {INVENTORY} WHERE su.country = '{country}' AND w.city = '{city}'"
    return Draft(question, sql, ("stock", "suppliers", "warehouses"))


def ood_category_city_units(rng: random.Random) -> Draft:
    category, city, year = _category(rng), rng.choice(CITIES), rng.choice(ORDER_YEARS)
    scope, condition = rng.choice(
        (
            ("not counting cancelled orders", "o.status <> 'cancelled'"),
            ("counting only shipped orders", "o.status = 'shipped'"),
        )
    )
    question = f"Tell me how many units of {category} goods shoppers from {city} bought in {year}, {scope}."
    sql = (
        f"SELECT SUM(i.quantity) AS units FROM {SALES} JOIN customers c ON c.customer_id = o.customer_id "
        f"WHERE p.category = '{category}' AND c.city = '{city}' AND {_in_year('o.order_date', year)} AND {condition}"
    )
    return Draft(question, sql, ("order_items", "products", "orders", "customers"))


def ood_payroll_change(rng: random.Random) -> Draft:
    department, (first, second) = _department(rng), _two_years(rng)
    question = (
        f"By how much did the total payroll of the {department} department change from {first} to {second}? "
        "Give the later total minus the earlier one."
    )
    sql = (
        f"SELECT SUM(CASE WHEN s.year = {second} THEN s.amount ELSE 0 END) - "
        f"SUM(CASE WHEN s.year = {first} THEN s.amount ELSE 0 END) AS payroll_change FROM {PAYROLL} "
        f"WHERE d.name = '{department}'"
    )
    return Draft(question, sql, ("salaries", "employees", "departments"))


def ood_supplier_reach(rng: random.Random) -> Draft:
    supplier, units = rng.choice(SUPPLIERS), rng.randint(0, 600)
    question = f"In how many different warehouses does {supplier} have stock lines of at least {units} units?"
    sql = (
        "SELECT COUNT(DISTINCT st.warehouse_id) AS warehouses FROM stock st "
        "JOIN suppliers su ON su.supplier_id = st.supplier_id "
        f"WHERE su.name = {_quote(supplier)} AND st.quantity >= {units}"
    )
    return Draft(question, sql, ("stock", "suppliers"))


# Out of distribution, level 4: multi-join, group and order.


def ood_top_supplier_warehouse(rng: random.Random) -> Draft:
    warehouse, units = rng.choice(WAREHOUSES), rng.choice((0, 0, *range(50, 500, 10)))
    condition = f" AND st.quantity >= {units}" if units else ""
    scope = f" in lines of at least {units} units" if units else ""
    body = (
        f"SELECT su.name, COUNT(*) AS products FROM {INVENTORY} WHERE w.name = {_quote(warehouse)}{condition} "
        "GROUP BY su.supplier_id ORDER BY products DESC"
    )
    question = f"Which supplier supplies the most products to warehouse {warehouse}{scope}?"
    return _top(question, body, ("stock", "suppliers", "warehouses"))


def ood_top_city_category(rng: random.Random) -> Draft:
    category, year = _category(rng), rng.choice(ORDER_YEARS)
    body = (
        f"SELECT c.city, ROUND(SUM(i.quantity * i.unit_price), 2) AS spent FROM {SALES} "
        f"JOIN customers c ON c.customer_id = o.customer_id WHERE p.category = '{category}' "
        f"AND {_in_year('o.order_date', year)} GROUP BY c.city ORDER BY spent DESC"
    )
    question = f"In {year}, shoppers from which city spent the most on {category} goods?"
    return _top(question, body, ("order_items", "products", "orders", "customers"))


def ood_biggest_raise(rng: random.Random) -> Draft:
    department, (first, second) = _department(rng), _two_years(rng)
    body = (
        "SELECT e.name, s2.amount - s1.amount AS pay_rise FROM employees e "
        "JOIN departments d ON d.department_id = e.department_id "
        f"JOIN salaries s1 ON s1.employee_id = e.employee_id AND s1.year = {first} "
        f"JOIN salaries s2 ON s2.employee_id = e.employee_id AND s2.year = {second} "
        f"WHERE d.name = '{department}' ORDER BY pay_rise DESC"
    )
    question = f"Name the {department} employee whose pay rose the most from {first} to {second}."
    return _top(question, body, ("employees", "departments", "salaries"))


def ood_top_warehouse_country(rng: random.Random) -> Draft:
    country, units = rng.choice(COUNTRIES), rng.choice((0, 0, 100, 200, 300))
    scope = f" (counting only stock lines of more than {units} units)" if units else ""
    body = (
        f"SELECT w.name, SUM(st.quantity) AS units FROM {INVENTORY} WHERE su.country = '{country}'"
        + (f" AND st.quantity > {units}" if units else "")
        + " GROUP BY w.warehouse_id ORDER BY units DESC"
    )
    question = f"Which warehouse holds the largest number of units sourced from {country} suppliers{scope}?"
    return _top(question, body, ("stock", "suppliers", "warehouses"))


def ood_top_supplier_value(rng: random.Random) -> Draft:
    city, cost = rng.choice(CITIES), rng.choice((0, 0, *range(5, 80)))
    condition = f" AND st.unit_cost > {cost}" if cost else ""
    scope = f" among items costing more than ${cost} each" if cost else ""
    body = (
        f"SELECT su.name, ROUND(SUM(st.quantity * st.unit_cost), 2) AS stock_value FROM {INVENTORY} "
        f"WHERE w.city = '{city}'{condition} GROUP BY su.supplier_id ORDER BY stock_value DESC"
    )
    question = (
        f"Considering only warehouses in {city}, whose goods are worth the most in total (quantity times unit cost)"
        f"{scope}? Name the supplier."
    )
    return _top(question, body, ("stock", "suppliers", "warehouses"))


def ood_top_category_since(rng: random.Random) -> Draft:
    city, year, month = rng.choice(CITIES), rng.choice(ORDER_YEARS), rng.randrange(12)
    start = date(year, month + 1, 1).isoformat()
    body = (
        f"SELECT p.category, SUM(i.quantity) AS units FROM {SALES} "
        f"JOIN customers c ON c.customer_id = o.customer_id WHERE c.city = '{city}' AND o.order_date >= '{start}' "
        "AND o.status NOT IN ('cancelled', 'returned') GROUP BY p.category ORDER BY units DESC"
    )
    question = (
        f"Since the start of {MONTHS[month]} {year}, which product category has sold the most units to "
        f"customers based in {city}, ignoring cancelled and returned orders?"
    )
    return _top(question, body, ("order_items", "products", "orders", "customers"))


Template = Callable[[random.Random], Draft]

# Templates of each level with their drawing weights: templates with few distinct
# questions (a handful of departments or years) are drawn less often, so frozen
# splits, which skip repeated questions, keep their levels balanced.
TEMPLATES: dict[int, tuple[tuple[Template, int], ...]] = {
    1: ((orders_status_period, 3), (customers_city_since, 1), (product_price, 2), (products_cheaper_than, 3),
        (employees_hired_between, 2), (employee_fact, 3)),
    2: ((average_price_below, 3), (order_value, 3), (salary_statistic, 1), (customer_orders_year, 3),
        (top_signup_city, 1), (extreme_product, 3)),
    3: ((orders_city_period, 3), (average_salary_department, 1), (units_of_product, 3), (department_headcount, 2),
        (category_revenue_period, 3), (customer_spend_year, 3)),
    4: ((top_customer_city_period, 3), (top_department_salary, 1), (top_product_period, 3),
        (top_city_status_year, 1), (top_earner_department, 1)),
}  # fmt: skip
# Each ood level is one step harder than the in-distribution level of the same
# number: 1 = filters and aggregates on one table, 2 = two-table joins, 3 = joins
# of three or four tables, 4 = multi-table joins with GROUP BY and ORDER BY.
OOD_TEMPLATES: dict[int, tuple[tuple[Template, int], ...]] = {
    1: ((ood_suppliers_country, 2), (ood_warehouse_capacity, 1), (ood_low_stock, 2), (ood_staff_title_since, 2),
        (ood_bulk_order_lines, 2), (ood_supplier_rating, 1), (ood_stock_totals, 2), (ood_capacity_city, 1),
        (ood_status_share, 2)),
    2: ((ood_stock_value, 3), (ood_supplier_reach, 3), (ood_signup_cohort_orders, 1)),
    3: ((ood_units_country_city, 2), (ood_category_city_units, 3), (ood_payroll_change, 1)),
    4: ((ood_top_supplier_warehouse, 3), (ood_top_city_category, 1), (ood_biggest_raise, 1),
        (ood_top_warehouse_country, 1), (ood_top_supplier_value, 3), (ood_top_category_since, 3)),
}  # fmt: skip
FAMILY_OF_TABLE = {spec.name: spec.family for spec in TABLE_SPECS}

# --- teacher ----------------------------------------------------------------


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


# --- judge ------------------------------------------------------------------

_TEXT_WRAPPER = re.compile(r"^\\(?:text|textbf|mathrm|mbox)\{(.*)\}$", re.DOTALL)
_QUOTES = "\"'`“”‘’"


def normalise_name(text: str) -> str:
    """A name as the judge compares it: NFKC, no wrapper or quotes, single spaces, case-folded."""
    value = unicodedata.normalize("NFKC", text).strip()
    wrapped = _TEXT_WRAPPER.match(value)
    if wrapped:
        value = wrapped.group(1).strip()
    value = value.rstrip(".").strip().strip(_QUOTES).strip()
    return " ".join(value.split()).casefold()


# --- the domain -------------------------------------------------------------


class TableDomain(GeneratedDomain):
    """Questions over a seeded SQLite database, answered with list_tables, describe_table and query."""

    name = "table"
    tools = TOOLS
    system_prompt = SYSTEM_PROMPT
    difficulties = (1, 2, 3, 4)

    def generation_tools(self) -> tuple[Tool, ...]:
        return _GENERATION_TOOLS

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
        """Numbers within a relative 1e-6; names equal after :func:`normalise_name`."""
        if not isinstance(prediction, str) or len(prediction) > 200:
            return False
        if parse_number(answer) is not None:
            return numbers_match(prediction, answer)
        return normalise_name(prediction) == normalise_name(answer)
