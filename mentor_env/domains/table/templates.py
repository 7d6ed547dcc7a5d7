"""Question templates: each draws a question with the SQL the teacher runs."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable

from mentor_env.domains.table.db import (
    CATEGORIES,
    CITIES,
    COUNTRIES,
    DEPARTMENTS,
    HIRE_YEARS,
    MONTHS,
    ORDER_YEARS,
    SALARY_YEARS,
    SIGNUP_YEARS,
    STATUSES,
    SUPPLIERS,
    TABLE_SPECS,
    TITLES,
    WAREHOUSES,
    database,
)


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


SALES = "order_items i JOIN products p ON p.product_id = i.product_id JOIN orders o ON o.order_id = i.order_id"
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
        f"SELECT ROUND(AVG(price), 2) AS average_price FROM products WHERE category = '{category}' AND price < {limit}"
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
