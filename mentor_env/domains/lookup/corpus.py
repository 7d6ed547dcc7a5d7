"""The fictional world, its fact documents and the shipped corpus file."""

from __future__ import annotations

import functools
import importlib.resources
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from mentor_env.domains.scripted import TeacherFailed

WORLD_SEED = 20251018
CORPUS_FILE = "lookup_corpus.jsonl"


# Syllables for invented names: onset + vowel, an optional final consonant.
_ONSETS = (
    "b", "br", "d", "dr", "f", "g", "gr", "h", "k", "kr", "l", "m", "n", "p", "pr",
    "r", "s", "sk", "st", "t", "tr", "v", "z", "th", "sh",
)  # fmt: skip
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "i", "o", "u", "ai", "ei", "ou", "ia")
_CODAS = ("", "", "", "n", "r", "l", "s", "m", "x")

_TERRAINS = ("coastal", "mountainous", "forested", "lowland", "arid", "lake", "highland", "island")
_CITY_KINDS = ("harbour", "market", "hill", "river", "mining", "garden", "fortress", "university", "railway")
_OCCUPATIONS = (
    "engineer", "chemist", "architect", "painter", "economist", "surgeon", "geologist", "novelist",
    "lawyer", "pilot", "botanist", "composer", "teacher", "astronomer", "carpenter", "journalist",
)  # fmt: skip
_INDUSTRIES = (
    "shipping", "software", "textile", "food", "mining", "pharmaceutical", "furniture", "energy",
    "toy", "publishing", "telecommunications", "aerospace", "brewing", "insurance",
)  # fmt: skip
_COMPANY_SUFFIXES = ("Labs", "Works", "Group", "Systems", "Foods", "Motors", "Holdings", "Industries", "Partners")
_PRODUCT_CATEGORIES = (
    "kettle", "bicycle", "camera", "desk lamp", "backpack", "wristwatch", "blender", "drone",
    "guitar", "tent", "keyboard", "scooter", "telescope", "sewing machine", "umbrella", "headset",
)  # fmt: skip
_PRODUCT_LINES = ("", "", "", " Pro", " Mini", " Max", " Air", " Lite", " Plus")
_RIVER_KINDS = ("slow lowland", "fast mountain", "wide navigable", "narrow winding", "seasonal", "glacial")
_UNIVERSITY_KINDS = ("public", "technical", "private", "medical", "agricultural", "maritime")
_UNIVERSITY_SUFFIXES = ("University", "Institute", "College")

# Words that invented names must not be: stopwords and the collection's own
# vocabulary, so that a name never competes with template words in search.
STOPWORDS = frozenset(
    """a an and are as at be been by did do does for from had has have how in into is it its of on or
    that the their them they this those to was were what when where which who whom whose why will with
    many much""".split()
)
_TEMPLATE_WORDS = """region capital borders city lies founded population river flows through born lives now
founder chief executive rector company headquartered employs people made launched sells university students
kilometres long rises""".split()
_RESERVED = frozenset(
    STOPWORDS
    | set(_TEMPLATE_WORDS)
    | {word for phrase in _TERRAINS + _CITY_KINDS + _OCCUPATIONS + _INDUSTRIES for word in phrase.split()}
    | {word.lower() for phrase in _COMPANY_SUFFIXES + _PRODUCT_CATEGORIES + _PRODUCT_LINES for word in phrase.split()}
    | {word.lower() for phrase in _RIVER_KINDS + _UNIVERSITY_KINDS + _UNIVERSITY_SUFFIXES for word in phrase.split()}
)

N_REGIONS = 16
N_CITIES = 240
N_RIVERS = 90
N_FIRST_NAMES = 160
N_PEOPLE = 1000
N_COMPANIES = 420
N_PRODUCTS = 800
N_UNIVERSITIES = 140


@dataclass(frozen=True)
class Region:
    name: str
    terrain: str
    capital: str
    neighbour: str


@dataclass(frozen=True)
class City:
    name: str
    kind: str
    region: str
    founded: int
    population: int
    river: str | None


@dataclass(frozen=True)
class River:
    name: str  # "<Stem> River"
    kind: str
    length_km: int
    source_region: str
    cities: tuple[str, ...]


@dataclass(frozen=True)
class Person:
    name: str
    last_name: str
    occupation: str
    birth_year: int
    birth_city: str
    home_city: str | None  # where they live now, when it differs (a distractor for "born in")
    founded_company: str | None
    founded_year: int | None
    leads_company: str | None
    rector_of: str | None


@dataclass(frozen=True)
class Company:
    name: str
    industry: str
    founder: str
    founded: int
    headquarters: str
    headcount: int
    chief_executive: str


@dataclass(frozen=True)
class Product:
    name: str
    category: str
    maker: str
    launched: int
    price_cents: int

    @property
    def price(self) -> str:
        return f"{self.price_cents // 100}.{self.price_cents % 100:02d}"


@dataclass(frozen=True)
class University:
    name: str
    kind: str
    founded: int
    city: str
    students: int
    rector: str


@dataclass(frozen=True)
class Document:
    id: str
    title: str
    text: str
    kind: str  # entity type: region, city, river, person, company, product, university


@dataclass(frozen=True)
class World:
    regions: tuple[Region, ...]
    cities: tuple[City, ...]
    rivers: tuple[River, ...]
    people: tuple[Person, ...]
    companies: tuple[Company, ...]
    products: tuple[Product, ...]
    universities: tuple[University, ...]
    documents: tuple[Document, ...]

    @functools.cached_property
    def by_name(self) -> dict[str, Any]:
        """Every entity by its name (names are unique across the world)."""
        entities: dict[str, Any] = {}
        groups = (self.regions, self.cities, self.rivers, self.people, self.companies, self.products, self.universities)
        for group in groups:
            for entity in group:
                entities[entity.name] = entity
        return entities

    @functools.cached_property
    def doc_of(self) -> dict[str, str]:
        """Entity name -> id of its document."""
        return {document.title: document.id for document in self.documents}


class _Namer:
    """Invented words, unique across the whole world and never a reserved word."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()  # membership only, never iterated

    def word(self, syllables: tuple[int, ...] = (2, 2, 3)) -> str:
        while True:
            count = self.rng.choice(syllables)
            text = "".join(self.rng.choice(_ONSETS) + self.rng.choice(_VOWELS) for _ in range(count))
            text += self.rng.choice(_CODAS)
            if text not in self.used and text not in _RESERVED:
                self.used.add(text)
                return text.capitalize()


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _magnitude(rng: random.Random, ranges: Sequence[tuple[int, int]]) -> int:
    low, high = rng.choice(ranges)
    return rng.randint(low, high)


def build_world(seed: int = WORLD_SEED) -> World:
    """The fictional world and its documents, from ``seed`` alone."""
    rng = random.Random(seed)
    namer = _Namer(rng)

    region_names = [namer.word() for _ in range(N_REGIONS)]
    city_names = [namer.word() for _ in range(N_CITIES)]
    river_stems = [namer.word() for _ in range(N_RIVERS)]
    first_names = [namer.word((2,)) for _ in range(N_FIRST_NAMES)]
    last_names = [namer.word() for _ in range(N_PEOPLE)]
    company_names = [f"{namer.word()} {rng.choice(_COMPANY_SUFFIXES)}" for _ in range(N_COMPANIES)]
    product_names = [namer.word() + rng.choice(_PRODUCT_LINES) for _ in range(N_PRODUCTS)]
    university_names = [f"{namer.word()} {rng.choice(_UNIVERSITY_SUFFIXES)}" for _ in range(N_UNIVERSITIES)]

    # Cities: every region gets at least one; a random city of each region is its capital.
    city_region = region_names + [rng.choice(region_names) for _ in range(N_CITIES - N_REGIONS)]
    rng.shuffle(city_region)
    capitals = {
        region: rng.choice([city for city, where in zip(city_names, city_region) if where == region])
        for region in region_names
    }

    # Rivers: each flows through one to three cities; a city lies on at most one river.
    free_cities = list(city_names)
    rng.shuffle(free_cities)
    rivers = []
    city_river: dict[str, str] = {}
    for stem in river_stems:
        through = tuple(free_cities.pop() for _ in range(rng.randint(1, 3)))
        river = River(
            name=f"{stem} River",
            kind=rng.choice(_RIVER_KINDS),
            length_km=rng.randint(40, 3200),
            source_region=rng.choice(region_names),
            cities=through,
        )
        rivers.append(river)
        for city in through:
            city_river[city] = river.name

    cities = []
    for name, region in zip(city_names, city_region):
        population = _magnitude(rng, ((2_000, 40_000), (40_000, 400_000), (400_000, 4_000_000)))
        kind, founded = rng.choice(_CITY_KINDS), rng.randint(600, 1890)
        cities.append(City(name, kind, region, founded, population, city_river.get(name)))
    regions = []
    for index, name in enumerate(region_names):
        neighbour = region_names[(index + rng.randint(1, N_REGIONS - 1)) % N_REGIONS]
        regions.append(Region(name, rng.choice(_TERRAINS), capitals[name], neighbour))

    # People first without roles; founders, chief executives and rectors are distinct people.
    person_names = [f"{rng.choice(first_names)} {last}" for last in last_names]
    birth_years = [rng.randint(1900, 1995) for _ in range(N_PEOPLE)]
    role_holders = rng.sample(range(N_PEOPLE), N_COMPANIES * 2 + N_UNIVERSITIES)
    founders = role_holders[:N_COMPANIES]
    executives = role_holders[N_COMPANIES : 2 * N_COMPANIES]
    rectors = role_holders[2 * N_COMPANIES :]

    companies = []
    for name, founder, executive in zip(company_names, founders, executives):
        founded = birth_years[founder] + rng.randint(22, min(55, 2022 - birth_years[founder]))
        headcount = _magnitude(rng, ((12, 300), (300, 5_000), (5_000, 95_000)))
        companies.append(
            Company(
                name=name,
                industry=rng.choice(_INDUSTRIES),
                founder=person_names[founder],
                founded=founded,
                headquarters=rng.choice(city_names),
                headcount=headcount,
                chief_executive=person_names[executive],
            )
        )
    founded_by = {founder: company for founder, company in zip(founders, companies)}
    leads = {executive: company.name for executive, company in zip(executives, companies)}

    universities = []
    for name, rector in zip(university_names, rectors):
        students = _magnitude(rng, ((800, 6_000), (6_000, 65_000)))
        universities.append(
            University(
                name=name,
                kind=rng.choice(_UNIVERSITY_KINDS),
                founded=rng.randint(1100, 1990),
                city=rng.choice(city_names),
                students=students,
                rector=person_names[rector],
            )
        )
    rector_of = {rector: university.name for rector, university in zip(rectors, universities)}

    people = []
    for index, (name, last) in enumerate(zip(person_names, last_names)):
        birth_city = rng.choice(city_names)
        home_city = rng.choice(city_names) if rng.random() < 0.5 else None
        company = founded_by.get(index)
        people.append(
            Person(
                name,
                last,
                rng.choice(_OCCUPATIONS),
                birth_years[index],
                birth_city,
                home_city if home_city != birth_city else None,
                company.name if company else None,
                company.founded if company else None,
                leads.get(index),
                rector_of.get(index),
            )  # fmt: skip
        )

    company_founded = {company.name: company.founded for company in companies}
    products = []
    for name in product_names:
        maker = rng.choice(company_names)
        launched = rng.randint(max(company_founded[maker], 1950), 2024)
        price_cents = _magnitude(rng, ((199, 4_999), (5_000, 49_999), (50_000, 299_999)))
        products.append(Product(name, rng.choice(_PRODUCT_CATEGORIES), maker, launched, price_cents))

    texts: list[tuple[str, str, str]] = []
    texts += [(r.name, _region_text(r), "region") for r in regions]
    texts += [(c.name, _city_text(c), "city") for c in cities]
    texts += [(r.name, _river_text(r), "river") for r in rivers]
    texts += [(p.name, _person_text(p), "person") for p in people]
    texts += [(c.name, _company_text(c), "company") for c in companies]
    texts += [(p.name, _product_text(p), "product") for p in products]
    texts += [(u.name, _university_text(u), "university") for u in universities]
    rng.shuffle(texts)  # ids say nothing about the entity type
    documents = tuple(
        Document(f"doc-{index:05d}", title, text, kind) for index, (title, text, kind) in enumerate(texts)
    )
    return World(
        tuple(regions), tuple(cities), tuple(rivers), tuple(people), tuple(companies), tuple(products),
        tuple(universities), documents,
    )  # fmt: skip


# Document templates. The first sentence (the search snippet) never states a
# fact that a question asks about; the fact sentences are read back by the
# teacher with the patterns in FACT_PATTERNS, so the two must change together.


def _region_text(region: Region) -> str:
    return (
        f"{region.name} is {_article(region.terrain)} {region.terrain} region. "
        f"Its capital is {region.capital}. {region.name} borders {region.neighbour}."
    )


def _city_text(city: City) -> str:
    text = (
        f"{city.name} is {_article(city.kind)} {city.kind} city. "
        f"It lies in the region of {city.region} and was founded in {city.founded}. "
        f"{city.name} has a population of {city.population}."
    )
    return text + (f" The {city.river} flows through {city.name}." if city.river else "")


def _river_text(river: River) -> str:
    through = river.cities[0] if len(river.cities) == 1 else ", ".join(river.cities[:-1]) + f" and {river.cities[-1]}"
    return (
        f"The {river.name} is {_article(river.kind)} {river.kind} river. "
        f"It is {river.length_km} kilometres long and rises in {river.source_region}. It flows through {through}."
    )


def _person_text(person: Person) -> str:
    sentences = [
        f"{person.name} is {_article(person.occupation)} {person.occupation}.",
        f"{person.last_name} was born in {person.birth_city} in {person.birth_year}.",
    ]
    if person.home_city:
        sentences.append(f"{person.last_name} now lives in {person.home_city}.")
    if person.founded_company:
        sentences.append(f"{person.last_name} founded {person.founded_company} in {person.founded_year}.")
    if person.leads_company:
        sentences.append(f"{person.last_name} is the chief executive of {person.leads_company}.")
    if person.rector_of:
        sentences.append(f"{person.last_name} is the rector of {person.rector_of}.")
    return " ".join(sentences)


def _company_text(company: Company) -> str:
    return (
        f"{company.name} is {_article(company.industry)} {company.industry} company. "
        f"It was founded by {company.founder} in {company.founded}. "
        f"{company.name} is headquartered in {company.headquarters} and employs {company.headcount} people. "
        f"Its chief executive is {company.chief_executive}."
    )


def _product_text(product: Product) -> str:
    return (
        f"{product.name} is {_article(product.category)} {product.category}. "
        f"It is made by {product.maker} and was launched in {product.launched}. It sells for ${product.price}."
    )


def _university_text(university: University) -> str:
    return (
        f"{university.name} is {_article(university.kind)} {university.kind} university. "
        f"It was founded in {university.founded} in {university.city}. "
        f"{university.name} has {university.students} students. Its rector is {university.rector}."
    )


_NAME = r"(?P<value>[A-Z][^.]*?)"
_YEAR = r"(?P<value>\d{3,4})"
# entity type -> fact -> pattern with one group "value", matched against the document text.
FACT_PATTERNS: dict[str, dict[str, re.Pattern[str]]] = {
    kind: {fact: re.compile(pattern) for fact, pattern in facts.items()}
    for kind, facts in {
        "region": {"capital": rf"Its capital is {_NAME}\."},
        "city": {
            "region": rf"lies in the region of {_NAME} and was founded",
            "founded": rf"and was founded in {_YEAR}\.",
            "population": r"has a population of (?P<value>\d+)\.",
            "river": rf"The {_NAME} flows through",
        },
        "river": {
            "length": r"It is (?P<value>\d+) kilometres long",
            "source": rf"rises in {_NAME}\.",
        },
        "person": {
            "birth_city": rf"was born in {_NAME} in \d{{4}}\.",
            "birth_year": rf"was born in [^.]+ in {_YEAR}\.",
            "company": rf"\b[A-Z]\w* founded {_NAME} in \d{{4}}\.",
            "founded": rf"\b[A-Z]\w* founded [^.]+ in {_YEAR}\.",
        },
        "company": {
            "founder": rf"It was founded by {_NAME} in \d{{4}}\.",
            "founded": rf"It was founded by [^.]+ in {_YEAR}\.",
            "headquarters": rf"is headquartered in {_NAME} and employs",
            "headcount": r"employs (?P<value>\d+) people\.",
            "chief_executive": rf"Its chief executive is {_NAME}\.",
        },
        "product": {
            "maker": rf"It is made by {_NAME} and was launched",
            "launched": rf"was launched in {_YEAR}\.",
            "price": r"It sells for \$(?P<value>\d+\.\d{2})\.",
        },
        "university": {
            "founded": rf"It was founded in {_YEAR} in",
            "city": rf"It was founded in \d{{4}} in {_NAME}\.",
            "students": r"has (?P<value>\d+) students\.",
            "rector": rf"Its rector is {_NAME}\.",
        },
    }.items()
}


def read_fact(kind: str, fact: str, text: str) -> str:
    """A fact read from a document's text (what the teacher does with get_document's result)."""
    match = FACT_PATTERNS[kind][fact].search(text)
    if match is None:
        raise TeacherFailed(f"no {fact!r} in the {kind} document: {text[:200]!r}")
    return match.group("value")


@functools.lru_cache(maxsize=2)
def world(seed: int = WORLD_SEED) -> World:
    """The world of ``seed``, built once per process."""
    return build_world(seed)


def corpus_jsonl(seed: int = WORLD_SEED) -> str:
    """The shipped corpus file's exact text: one ``{"id", "title", "text"}`` object per line."""
    return "".join(
        json.dumps({"id": doc.id, "title": doc.title, "text": doc.text}, ensure_ascii=False) + "\n"
        for doc in world(seed).documents
    )


def corpus_path() -> Path:
    return Path(str(importlib.resources.files("mentor_env.domains").joinpath("data").joinpath(CORPUS_FILE)))
