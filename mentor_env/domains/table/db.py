"""The task database: schema, seeded rows, and the read-only SQLite connection that runs queries."""

from __future__ import annotations

import contextlib
import functools
import gc
import math
import os
import random
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Iterator

from mentor_env.core.tools import ToolError, ToolTimeout, call_deadline

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


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a statement runs.

    The time limit counts this thread's processor time, and counting 100,000 rows allocates tuples
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


# Each table's rows, by table name.
Rows = dict[str, list[tuple[Any, ...]]]


def build_rows(seed: int = DB_SEED) -> Rows:
    """Every table's rows, drawn from ``seed`` (pure Python, no SQLite involved)."""
    rng = random.Random(seed)
    rows: Rows = {spec.name: [] for spec in TABLE_SPECS}
    people = _person_names(rng, 200)
    # The families draw from ``rng`` one after the other, in this order.
    _add_customers(rng, rows, people[:80])
    prices = _add_products(rng, rows)
    _add_orders(rng, rows, prices)
    bases, hired = _add_employees(rng, rows, people[80:200])
    _add_salaries(rng, rows, bases, hired)
    _add_inventory(rng, rows)
    return rows


def _add_customers(rng: random.Random, rows: Rows, names: list[str]) -> None:
    """One customer per name. Unequal city weights make "which ... the most" questions rarely tie."""
    city_weights = [rng.uniform(0.5, 2.0) for _ in CITIES]
    for customer_id, name in enumerate(names, start=1):
        city = rng.choices(CITIES, city_weights)[0]
        rows["customers"].append((customer_id, name, city, rng.choice(SIGNUP_YEARS)))


def _add_products(rng: random.Random, rows: Rows) -> list[float]:
    """:data:`PRODUCTS_PER_CATEGORY` products per category; returns their prices by product id - 1."""
    prices: list[float] = []
    for category, (nouns, (low, high)) in CATEGORIES.items():
        names = rng.sample([f"{adjective} {noun}" for adjective in ADJECTIVES for noun in nouns], PRODUCTS_PER_CATEGORY)
        for name in names:
            price = round(rng.uniform(low, high), 2)
            prices.append(price)
            rows["products"].append((len(rows["products"]) + 1, name, category, price))
    return prices


def _add_orders(rng: random.Random, rows: Rows, prices: list[float]) -> None:
    """900 orders over :data:`ORDER_YEARS` by the 80 customers, with their items at ``prices`` or 10% off."""
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


def _add_employees(rng: random.Random, rows: Rows, names: list[str]) -> tuple[dict[int, int], dict[int, int]]:
    """The departments and one employee per name: employee i (1..8) manages department i.

    Returns each employee's base salary and hire year, by employee id.
    """
    for department_id, (name, city, budget) in enumerate(DEPARTMENTS, start=1):
        rows["departments"].append((department_id, name, city, budget))
    department_weights = [rng.uniform(0.6, 2.0) for _ in DEPARTMENTS]
    bases: dict[int, int] = {}
    hired: dict[int, int] = {}
    for employee_id, name in enumerate(names, start=1):
        if employee_id <= len(DEPARTMENTS):
            department_id, title, manager_id = employee_id, MANAGER_TITLE, None
            hire_year, bases[employee_id] = rng.randint(2010, 2017), MANAGER_BASE
        else:
            department_id = rng.choices(range(1, len(DEPARTMENTS) + 1), department_weights)[0]
            title = rng.choice(tuple(TITLES))
            manager_id, hire_year, bases[employee_id] = department_id, rng.choice(HIRE_YEARS), TITLES[title]
        hired[employee_id] = hire_year
        rows["employees"].append((employee_id, name, department_id, title, hire_year, manager_id))
    return bases, hired


def _add_salaries(rng: random.Random, rows: Rows, bases: dict[int, int], hired: dict[int, int]) -> None:
    """Each employee's salary in every year of :data:`SALARY_YEARS` from their hire year, with yearly raises."""
    for employee_id, base in bases.items():
        amount = round(base * rng.uniform(0.85, 1.2), -2)
        for year in SALARY_YEARS:
            if hired[employee_id] <= year:
                rows["salaries"].append((employee_id, year, int(amount)))
                amount = round(amount * (1 + rng.choice((0.0, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08))), -2)


def _add_inventory(rng: random.Random, rows: Rows) -> None:
    """The warehouses, the suppliers and each warehouse's stock."""
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
        # Processor time of this thread: a busy machine slows the query down but does not spend its limit.
        if time.thread_time() > self._deadline:
            self._timed_out = True
            return 1  # non-zero aborts the statement ("interrupted")
        return 0

    def run(self, sql: str, max_rows: int = ROW_LIMIT) -> QueryResult:
        """Run one read-only statement; returns its first ``max_rows`` rows and the row count.

        The statement is stopped after :data:`QUERY_TIME_LIMIT_S` seconds of
        this thread's processor time, or sooner when the tool call's deadline
        (:func:`call_deadline`) leaves less.

        Raises:
            ToolError: the statement is refused, fails, or runs past the time limit.
        """
        with self.lock, _cyclic_gc_paused():
            self._refusal, self._timed_out = None, False
            self._limit_s = max(0.0, min(QUERY_TIME_LIMIT_S, call_deadline() - time.monotonic()))
            self._deadline = time.thread_time() + self._limit_s
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
