"""Question templates: each draws entities from the world and returns a question with its plan."""

from __future__ import annotations

import random
from typing import Callable, Sequence

from mentor_env.core.tools import format_value
from mentor_env.domains.lookup.corpus import World
from mentor_env.domains.lookup.teacher import Chain, Hop, Plan, Question

# Each draws its entities from the world and returns the question; ``expected``
# is computed from the world, independently of the teacher, as a cross-check.
# A template's name (without the leading underscore) is its task style.


def _one(kind: str, start: str, fact: str) -> Plan:
    return Plan((Chain(start, (Hop(kind, keep=(fact,)),)),))


def _each(kind: str, starts: Sequence[str], fact: str, combine: str) -> Plan:
    """One single-document chain per name, combined."""
    return Plan(tuple(Chain(start, (Hop(kind, keep=(fact,)),)) for start in starts), combine=combine)


def _chain(start: str, *hops: Hop, combine: str = "value") -> Plan:
    return Plan((Chain(start, hops),), combine=combine)


def _price_text(cents: int) -> str:
    return format_value(cents / 100)


def _listing(names: Sequence[str]) -> str:
    return ", ".join(names[:-1]) + f" and {names[-1]}"


# in distribution, difficulty 1: one fact of one entity


def _company_founded(rng: random.Random, w: World) -> Question:
    c = rng.choice(w.companies)
    return Question(f"In what year was {c.name} founded?", _one("company", c.name, "founded"), str(c.founded))


def _company_headcount(rng: random.Random, w: World) -> Question:
    c = rng.choice(w.companies)
    return Question(f"How many people does {c.name} employ?", _one("company", c.name, "headcount"), str(c.headcount))


def _company_headquarters(rng: random.Random, w: World) -> Question:
    c = rng.choice(w.companies)
    return Question(
        f"In which city is {c.name} headquartered?", _one("company", c.name, "headquarters"), c.headquarters
    )


def _person_birth_city(rng: random.Random, w: World) -> Question:
    p = rng.choice(w.people)
    return Question(f"In which city was {p.name} born?", _one("person", p.name, "birth_city"), p.birth_city)


def _person_birth_year(rng: random.Random, w: World) -> Question:
    p = rng.choice(w.people)
    return Question(f"In what year was {p.name} born?", _one("person", p.name, "birth_year"), str(p.birth_year))


def _product_maker(rng: random.Random, w: World) -> Question:
    p = rng.choice(w.products)
    return Question(f"Which company makes {p.name}?", _one("product", p.name, "maker"), p.maker)


def _product_price(rng: random.Random, w: World) -> Question:
    p = rng.choice(w.products)
    return Question(f"How much does {p.name} cost, in dollars?", _one("product", p.name, "price"), p.price)


def _city_population(rng: random.Random, w: World) -> Question:
    c = rng.choice(w.cities)
    return Question(f"What is the population of {c.name}?", _one("city", c.name, "population"), str(c.population))


def _city_region(rng: random.Random, w: World) -> Question:
    c = rng.choice(w.cities)
    return Question(f"In which region is {c.name}?", _one("city", c.name, "region"), c.region)


def _region_capital(rng: random.Random, w: World) -> Question:
    r = rng.choice(w.regions)
    return Question(f"What is the capital of {r.name}?", _one("region", r.name, "capital"), r.capital)


# in distribution, difficulty 2: two-hop chains, one fact plus arithmetic, comparisons


def _founder_company_headquarters(rng: random.Random, w: World) -> Question:
    c = rng.choice(w.companies)
    plan = _chain(c.founder, Hop("person", follow="company"), Hop("company", keep=("headquarters",)))
    return Question(f"In which city is the company that {c.founder} founded headquartered?", plan, c.headquarters)


def _product_maker_founder(rng: random.Random, w: World) -> Question:
    p = rng.choice(w.products)
    plan = _chain(p.name, Hop("product", follow="maker"), Hop("company", keep=("founder",)))
    return Question(f"Who founded the company that makes {p.name}?", plan, w.by_name[p.maker].founder)


def _company_city_population(rng: random.Random, w: World) -> Question:
    c = rng.choice(w.companies)
    plan = _chain(c.name, Hop("company", follow="headquarters"), Hop("city", keep=("population",)))
    population = w.by_name[c.headquarters].population
    return Question(f"What is the population of the city where {c.name} is headquartered?", plan, str(population))


def _executive_birth_city(rng: random.Random, w: World) -> Question:
    c = rng.choice(w.companies)
    plan = _chain(c.name, Hop("company", follow="chief_executive"), Hop("person", keep=("birth_city",)))
    birth_city = w.by_name[c.chief_executive].birth_city
    return Question(f"In which city was the chief executive of {c.name} born?", plan, birth_city)


def _capital_population(rng: random.Random, w: World) -> Question:
    r = rng.choice(w.regions)
    plan = _chain(r.name, Hop("region", follow="capital"), Hop("city", keep=("population",)))
    return Question(f"What is the population of the capital of {r.name}?", plan, str(w.by_name[r.capital].population))


def _bulk_price(rng: random.Random, w: World) -> Question:
    p, units = rng.choice(w.products), rng.randint(2, 12)
    plan = Plan(_one("product", p.name, "price").chains, combine="times", factor=units)
    return Question(
        f"How much do {units} units of {p.name} cost together, in dollars?", plan, _price_text(units * p.price_cents)
    )


def _founder_age(rng: random.Random, w: World) -> Question:
    c = rng.choice(w.companies)
    plan = _chain(c.founder, Hop("person", keep=("founded", "birth_year")), combine="difference")
    age = c.founded - w.by_name[c.founder].birth_year
    return Question(f"How many years after being born did {c.founder} found {c.name}?", plan, str(age))


def _earlier_company(rng: random.Random, w: World) -> Question:
    a, b = rng.sample(w.companies, 2)
    while a.founded == b.founded:
        a, b = rng.sample(w.companies, 2)
    plan = _each("company", (a.name, b.name), "founded", combine="smallest")
    earlier = min(a, b, key=lambda c: c.founded).name
    return Question(f"Which was founded earlier, {a.name} or {b.name}?", plan, earlier)


def _larger_city(rng: random.Random, w: World) -> Question:
    a, b = rng.sample(w.cities, 2)
    plan = _each("city", (a.name, b.name), "population", combine="largest")
    larger = max(a, b, key=lambda c: c.population).name
    return Question(f"Which has the larger population, {a.name} or {b.name}?", plan, larger)


# in distribution, difficulty 3: several entities and arithmetic


def _years_between_companies(rng: random.Random, w: World) -> Question:
    a, b = rng.sample(w.companies, 2)
    while a.founded == b.founded:
        a, b = rng.sample(w.companies, 2)
    plan = _each("company", (a.name, b.name), "founded", combine="difference")
    return Question(
        f"How many years passed between the founding of {a.name} and the founding of {b.name}?",
        plan,
        str(abs(a.founded - b.founded)),
    )


def _combined_headcount(rng: random.Random, w: World) -> Question:
    chosen = rng.sample(w.companies, rng.choice((2, 3)))
    names = [c.name for c in chosen]
    plan = _each("company", names, "headcount", combine="sum")
    return Question(
        f"What is the combined headcount of {_listing(names)}?", plan, str(sum(c.headcount for c in chosen))
    )


def _founder_age_at_founding(rng: random.Random, w: World) -> Question:
    c = rng.choice(w.companies)
    plan = _chain(
        c.name,
        Hop("company", keep=("founded",), follow="founder"),
        Hop("person", keep=("birth_year",)),
        combine="difference",
    )
    age = c.founded - w.by_name[c.founder].birth_year
    return Question(f"How many years after the birth of its founder was {c.name} founded?", plan, str(age))


def _average_price(rng: random.Random, w: World) -> Question:
    a, b = rng.sample(w.products, 2)
    plan = _each("product", (a.name, b.name), "price", combine="average")
    average = format_value((a.price_cents + b.price_cents) / 200)
    return Question(f"What is the average price of {a.name} and {b.name}, in dollars?", plan, average)


def _price_difference(rng: random.Random, w: World) -> Question:
    a, b = rng.sample(w.products, 2)
    while a.price_cents == b.price_cents:
        a, b = rng.sample(w.products, 2)
    high, low = (a, b) if a.price_cents > b.price_cents else (b, a)
    plan = _each("product", (high.name, low.name), "price", combine="difference")
    difference = _price_text(high.price_cents - low.price_cents)
    return Question(f"How much more does {high.name} cost than {low.name}, in dollars?", plan, difference)


# out of distribution, level 1: rivers and universities (never asked about in distribution)


def _ood_university_students(rng: random.Random, w: World) -> Question:
    u = rng.choice(w.universities)
    plan = _one("university", u.name, "students")
    return Question(f"Give the number of students enrolled at {u.name}.", plan, str(u.students))


def _ood_university_city(rng: random.Random, w: World) -> Question:
    u = rng.choice(w.universities)
    return Question(f"Name the city that is home to {u.name}.", _one("university", u.name, "city"), u.city)


def _ood_university_founded(rng: random.Random, w: World) -> Question:
    u = rng.choice(w.universities)
    plan = _one("university", u.name, "founded")
    return Question(f"{u.name} opened its doors in which year?", plan, str(u.founded))


def _ood_river_length(rng: random.Random, w: World) -> Question:
    r = rng.choice(w.rivers)
    plan = _one("river", r.name, "length")
    return Question(f"Give the length of the {r.name} in kilometres.", plan, str(r.length_km))


def _ood_river_source(rng: random.Random, w: World) -> Question:
    r = rng.choice(w.rivers)
    return Question(f"The {r.name} rises in which region?", _one("river", r.name, "source"), r.source_region)


# out of distribution, level 2: two hops through held-out types, bigger sums and orders


def _ood_rector_birth_city(rng: random.Random, w: World) -> Question:
    u = rng.choice(w.universities)
    plan = _chain(u.name, Hop("university", follow="rector"), Hop("person", keep=("birth_city",)))
    return Question(f"The rector of {u.name} was born in which city?", plan, w.by_name[u.rector].birth_city)


def _ood_city_river_length(rng: random.Random, w: World) -> Question:
    c, river = rng.choice([(city, city.river) for city in w.cities if city.river])
    plan = _chain(c.name, Hop("city", follow="river"), Hop("river", keep=("length",)))
    length = w.by_name[river].length_km
    return Question(f"Some river flows through {c.name}. Tell me its length in kilometres.", plan, str(length))


def _ood_university_age_gap(rng: random.Random, w: World) -> Question:
    a, b = rng.sample(w.universities, 2)
    while a.founded == b.founded:
        a, b = rng.sample(w.universities, 2)
    old, young = (a, b) if a.founded < b.founded else (b, a)
    plan = _each("university", (old.name, young.name), "founded", combine="difference")
    return Question(f"By how many years does {old.name} predate {young.name}?", plan, str(young.founded - old.founded))


def _ood_students_total(rng: random.Random, w: World) -> Question:
    chosen = rng.sample(w.universities, 4)
    names = [u.name for u in chosen]
    plan = _each("university", names, "students", combine="sum")
    total = sum(u.students for u in chosen)
    return Question(f"Taken together, how many students do {_listing(names)} enrol?", plan, str(total))


def _ood_bulk_order(rng: random.Random, w: World) -> Question:
    p, units = rng.choice(w.products), rng.randint(100, 5000)
    plan = Plan(_one("product", p.name, "price").chains, combine="times", factor=units)
    return Question(
        f"A shop orders {units} units of {p.name}. What does the order come to in dollars?",
        plan,
        _price_text(units * p.price_cents),
    )


# out of distribution, level 3: three-hop chains


def _ood_maker_city_population(rng: random.Random, w: World) -> Question:
    p = rng.choice(w.products)
    plan = _chain(
        p.name, Hop("product", follow="maker"), Hop("company", follow="headquarters"), Hop("city", keep=("population",))
    )
    city = w.by_name[w.by_name[p.maker].headquarters]
    return Question(
        f"Find the population of the town that houses the headquarters of the maker of {p.name}.",
        plan,
        str(city.population),
    )


def _ood_maker_founder_birth_city(rng: random.Random, w: World) -> Question:
    p = rng.choice(w.products)
    plan = _chain(
        p.name, Hop("product", follow="maker"), Hop("company", follow="founder"), Hop("person", keep=("birth_city",))
    )
    founder = w.by_name[w.by_name[p.maker].founder]
    return Question(
        f"Where was the person who set up the manufacturer of {p.name} born? Name the city.", plan, founder.birth_city
    )


def _ood_founder_birth_region(rng: random.Random, w: World) -> Question:
    c = rng.choice(w.companies)
    plan = _chain(
        c.name, Hop("company", follow="founder"), Hop("person", follow="birth_city"), Hop("city", keep=("region",))
    )
    region = w.by_name[w.by_name[c.founder].birth_city].region
    return Question(f"{c.name}'s founder was born in a city; which region is that city in?", plan, region)


def _ood_rector_birthplace_population(rng: random.Random, w: World) -> Question:
    u = rng.choice(w.universities)
    plan = _chain(
        u.name,
        Hop("university", follow="rector"),
        Hop("person", follow="birth_city"),
        Hop("city", keep=("population",)),
    )
    city = w.by_name[w.by_name[u.rector].birth_city]
    return Question(f"How many inhabitants does the birthplace of {u.name}'s rector have?", plan, str(city.population))


def _ood_headquarters_river_length(rng: random.Random, w: World) -> Question:
    c = rng.choice([company for company in w.companies if w.by_name[company.headquarters].river])
    plan = _chain(
        c.name, Hop("company", follow="headquarters"), Hop("city", follow="river"), Hop("river", keep=("length",))
    )
    river = w.by_name[w.by_name[c.headquarters].river]
    return Question(
        f"The home city of {c.name}'s head office lies on a river. How many kilometres long is that river?",
        plan,
        str(river.length_km),
    )


def _ood_maker_founder_age(rng: random.Random, w: World) -> Question:
    p = rng.choice(w.products)
    plan = _chain(
        p.name,
        Hop("product", follow="maker"),
        Hop("company", keep=("founded",), follow="founder"),
        Hop("person", keep=("birth_year",)),
        combine="difference",
    )
    maker = w.by_name[p.maker]
    return Question(
        f"Subtract the birth year of the founder of {p.name}'s manufacturer from the year that manufacturer was "
        "established. What do you get?",
        plan,
        str(maker.founded - w.by_name[maker.founder].birth_year),
    )


Template = Callable[[random.Random, World], Question]

TEMPLATES: dict[int, tuple[Template, ...]] = {
    1: (
        _company_founded, _company_headcount, _company_headquarters, _person_birth_city, _person_birth_year,
        _product_maker, _product_price, _city_population, _city_region, _region_capital,
    ),
    2: (
        _founder_company_headquarters, _product_maker_founder, _company_city_population, _executive_birth_city,
        _capital_population, _bulk_price, _founder_age, _earlier_company, _larger_city,
    ),
    3: (_years_between_companies, _combined_headcount, _founder_age_at_founding, _average_price, _price_difference),
}  # fmt: skip

OOD_TEMPLATES: dict[int, tuple[Template, ...]] = {
    1: (_ood_university_students, _ood_university_city, _ood_university_founded, _ood_river_length, _ood_river_source),
    2: (_ood_rector_birth_city, _ood_city_river_length, _ood_university_age_gap, _ood_students_total, _ood_bulk_order),
    3: (
        _ood_maker_city_population, _ood_maker_founder_birth_city, _ood_founder_birth_region,
        _ood_rector_birthplace_population, _ood_headquarters_river_length, _ood_maker_founder_age,
    ),
}  # fmt: skip
