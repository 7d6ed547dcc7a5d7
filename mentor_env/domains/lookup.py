r"""``mentor/Lookup-v0``: questions about a fictional world, answered by searching its documents.

The retrieval setting of MENTOR (its RAG experiments) at a small scale. A
world of regions, cities, rivers, people, companies, products and universities
is generated from a fixed seed, with invented names built from syllables so
that no model knows the answers in advance. Every entity has one short fact
document (2-4 sentences, ids ``doc-00000`` ...); the collection ships as
``mentor_env/domains/data/lookup_corpus.jsonl`` and :func:`corpus_jsonl`
rebuilds it byte for byte (``python -m mentor_env.domains.lookup`` rewrites it).

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
    Numbers: :func:`~mentor_env.domains.answers.numbers_match` (``1,987``,
    ``$24.90``, ``1987.0`` all match). Names: equal after Unicode
    normalisation, dropping accents, case, punctuation, ``\text{}`` and the
    articles a/an/the.

Spaces, rewards and termination are those of
:class:`~mentor_env.core.env.ToolUseEnv`; ``max_turns`` defaults to 12 here
(teacher trajectories take at most 8).
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import math
import random
import re
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from mentor_env.core.task import Task
from mentor_env.core.tools import Tool, ToolError, ToolResult, format_value, object_schema
from mentor_env.domains import calc
from mentor_env.domains.answers import numbers_match, parse_number
from mentor_env.domains.base import Draw, GeneratedDomain
from mentor_env.domains.scripted import TeacherFailed, TeacherPlan, TeacherTurn, read_number

WORLD_SEED = 20251018
CORPUS_FILE = "lookup_corpus.jsonl"

MAX_QUERY_CHARS = 300
MAX_K = 10
DEFAULT_K = 5
TEACHER_K = 3
SNIPPET_CHARS = 120
BM25_K1 = 1.2
BM25_B = 0.75
TITLE_WEIGHT = 2  # title words count this many times (on top of the text)

SYSTEM_PROMPT = (
    "You answer questions about a fictional world using its document collection; nothing about this world "
    "is known in advance. Search for the names in the question, read the documents you need with "
    "get_document, and do arithmetic with the calculator tools. You may make several independent calls in "
    "one turn. When you know the answer, reply without a tool call and put the final answer in \\boxed{}."
)

# --- the world ----------------------------------------------------------------

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
                name, last, rng.choice(_OCCUPATIONS), birth_years[index], birth_city,
                home_city if home_city != birth_city else None,
                company.name if company else None, company.founded if company else None,
                leads.get(index), rector_of.get(index),
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
    return Path(str(importlib.resources.files("mentor_env.domains").joinpath("data", CORPUS_FILE)))


# --- search index ---------------------------------------------------------------

# Words are runs of letters, or numbers with an optional decimal part ("24.90").
# This fixed pattern reads the query; the query itself is never compiled.
_WORD = re.compile(r"\d+(?:\.\d+)?|[^\W\d_]+")


def tokenize(text: str) -> list[str]:
    """Lower-cased words of ``text`` without accents and stopwords, in order."""
    text = text.casefold()
    if not text.isascii():  # "Thóla" finds "Thola"
        text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    return [word for word in _WORD.findall(text) if word not in STOPWORDS]


@dataclass(frozen=True, eq=False)
class SearchIndex:
    """BM25 postings: for each word, the documents holding it and their precomputed term weights."""

    ids: tuple[str, ...]
    titles: tuple[str, ...]
    texts: tuple[str, ...]
    snippets: tuple[str, ...]
    postings: dict[str, tuple[np.ndarray, np.ndarray]] = field(repr=False)
    position: dict[str, int] = field(repr=False)

    def search(self, query: str, k: int) -> tuple[list[str], list[int], int]:
        """(query words, indices of the best ``k`` documents, number of matching documents)."""
        words = list(dict.fromkeys(tokenize(query)))  # unique, in query order: same sums on every run
        scores = np.zeros(len(self.ids))
        for word in words:
            posting = self.postings.get(word)
            if posting is not None:
                scores[posting[0]] += posting[1]
        matching = np.flatnonzero(scores > 0)
        # Best score first; equal scores in doc id order (indices follow the ids).
        order = matching[np.lexsort((matching, -scores[matching]))]
        return words, [int(i) for i in order[:k]], len(matching)


def _snippet(text: str) -> str:
    end = re.search(r"\.(?=\s|$)", text)
    first = text[: end.end()] if end else text
    return first if len(first) <= SNIPPET_CHARS else first[: SNIPPET_CHARS - 3] + "..."


def build_index(records: Sequence[dict[str, str]]) -> SearchIndex:
    """BM25 index over ``records`` ({"id", "title", "text"}, in id order)."""
    counts: list[dict[str, int]] = []
    for record in records:
        words = tokenize(record["title"]) * TITLE_WEIGHT + tokenize(record["text"])
        document_counts: dict[str, int] = {}
        for word in words:
            document_counts[word] = document_counts.get(word, 0) + 1
        counts.append(document_counts)
    lengths = np.array([sum(c.values()) for c in counts], dtype=float)
    average_length = float(lengths.mean())
    by_word: dict[str, tuple[list[int], list[int]]] = {}
    for index, document_counts in enumerate(counts):
        for word, count in document_counts.items():
            docs, tfs = by_word.setdefault(word, ([], []))
            docs.append(index)
            tfs.append(count)
    n_docs = len(records)
    postings = {}
    for word, (docs, tfs) in by_word.items():
        doc_array = np.array(docs, dtype=np.int64)
        tf = np.array(tfs, dtype=float)
        idf = math.log(1.0 + (n_docs - len(docs) + 0.5) / (len(docs) + 0.5))
        norm = BM25_K1 * (1.0 - BM25_B + BM25_B * lengths[doc_array] / average_length)
        postings[word] = (doc_array, idf * tf * (BM25_K1 + 1.0) / (tf + norm))
    return SearchIndex(
        ids=tuple(r["id"] for r in records),
        titles=tuple(r["title"] for r in records),
        texts=tuple(r["text"] for r in records),
        snippets=tuple(_snippet(r["text"]) for r in records),
        postings=postings,
        position={r["id"]: i for i, r in enumerate(records)},
    )


@functools.lru_cache(maxsize=1)
def search_index() -> SearchIndex:
    """The index of the shipped corpus, built once per process."""
    lines = corpus_path().read_text(encoding="utf-8").splitlines()
    return build_index([json.loads(line) for line in lines if line])


# --- tools ----------------------------------------------------------------------


def search(query: str, k: int = DEFAULT_K) -> str:
    index = search_index()
    words, hits, matching = index.search(query, int(k))  # JSON Schema counts 5.0 as an integer
    if not words:
        raise ToolError(
            "the query has no searchable words (common words, punctuation and symbols are ignored); "
            "search for names or keywords from the question"
        )
    if not hits:
        raise ToolError(f"no document matches the words: {' '.join(words)[:200]}. Try other names or keywords")
    lines = [f"Top {len(hits)} of {matching} matching documents for: {' '.join(words)[:200]}"]
    lines += [
        f"{rank}. {index.ids[i]} | {index.titles[i]} | {index.snippets[i]}" for rank, i in enumerate(hits, start=1)
    ]
    return "\n".join(lines)


def get_document(doc_id: str) -> str:
    index = search_index()
    position = index.position.get(doc_id)
    if position is None:
        raise ToolError(
            f"there is no document {doc_id!r}; ids run from {index.ids[0]} to {index.ids[-1]}. "
            "Use an id that search returned"
        )
    return f"[{doc_id}] {index.titles[position]}\n{index.texts[position]}"


_CALC_TOOLS = {tool.name: tool for tool in calc.TOOLS}
ARITHMETIC_TOOL_NAMES = ("add", "subtract", "multiply", "divide", "sum_numbers")

TOOLS: tuple[Tool, ...] = (
    Tool(
        "search",
        "Search the document collection by keywords (BM25 ranking). Returns up to k hits, best first, one per line "
        "as 'rank. doc_id | title | first sentence'; read a hit in full with get_document.",
        object_schema(
            {
                "query": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_QUERY_CHARS,
                    "description": "Words to look for, e.g. a name from the question.",
                },
                "k": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_K,
                    "description": f"How many hits to return (default {DEFAULT_K}).",
                },
            },
            required=["query"],
        ),
        search,
    ),
    Tool(
        "get_document",
        "Read the full text of one document by its id (e.g. doc-00042), as returned by search.",
        object_schema(
            {
                "doc_id": {
                    "type": "string",
                    "pattern": "^doc-[0-9]{5}$",
                    "minLength": 9,
                    "maxLength": 9,  # also refuses "doc-00042\n", which "$" alone would let through
                    "description": "The document id: 'doc-' and five digits.",
                }
            }
        ),
        get_document,
    ),
) + tuple(_CALC_TOOLS[name] for name in ARITHMETIC_TOOL_NAMES)

TOOL_NAMES = tuple(tool.name for tool in TOOLS)

# --- question plans ---------------------------------------------------------------


@dataclass(frozen=True)
class Hop:
    """Reading one entity's document: facts to keep, and the fact naming the next entity."""

    kind: str
    keep: tuple[str, ...] = ()
    follow: str | None = None


@dataclass(frozen=True)
class Chain:
    """A lookup chain that starts from a name written in the question."""

    start: str
    hops: tuple[Hop, ...]


@dataclass(frozen=True)
class Plan:
    """What the teacher must look up and how it combines the facts into the answer.

    combine: ``value`` (the one kept fact), ``difference`` (larger minus
    smaller), ``sum``, ``times`` (``factor`` times the fact), ``average``,
    ``smallest`` / ``largest`` (the start name of the chain with the
    smallest / largest kept fact).
    """

    chains: tuple[Chain, ...]
    combine: str = "value"
    factor: int | None = None


@dataclass(frozen=True)
class Question:
    text: str
    plan: Plan
    expected: str  # the answer computed from the world, to check the teacher against


_SEARCH_HIT = re.compile(r"^\d+\. (doc-\d{5}) \| (.+?) \| ", re.MULTILINE)


def teach(plan: Plan) -> TeacherPlan:
    """The scripted teacher: every chain advances in the same turns, then the arithmetic.

    A chain needs its next entity's doc id: one it has already seen as the
    title of a search hit (e.g. the company a founder's search also returned)
    is read at once; otherwise it searches for the name first. Every id read
    comes from a search result the teacher received.
    """
    current = [chain.start for chain in plan.chains]
    step = [0] * len(plan.chains)
    kept: list[list[str]] = [[] for _ in plan.chains]
    seen: dict[str, str] = {}  # title -> doc id, from the search results received so far
    while True:
        active = [i for i, chain in enumerate(plan.chains) if step[i] < len(chain.hops)]
        if not active:
            break
        calls = [
            ("get_document", {"doc_id": seen[current[i]]})
            if current[i] in seen
            else ("search", {"query": current[i], "k": TEACHER_K})
            for i in active
        ]
        results: list[ToolResult] = yield TeacherTurn("", calls)
        for i, (tool, _), result in zip(active, calls, results):
            if tool == "search":
                for doc_id, title in _SEARCH_HIT.findall(result.content):
                    seen.setdefault(title, doc_id)
                if current[i] not in seen:
                    raise TeacherFailed(f"{current[i]!r} is not among the search hits: {result.content[:300]!r}")
                continue
            hop = plan.chains[i].hops[step[i]]
            text = result.content.split("\n", 1)[1]
            kept[i].extend(read_fact(hop.kind, fact, text) for fact in hop.keep)
            if hop.follow is not None:
                current[i] = read_fact(hop.kind, hop.follow, text)
            step[i] += 1

    facts = [fact for chain_facts in kept for fact in chain_facts]
    numbers = [read_number(fact) for fact in facts] if plan.combine != "value" else []
    if plan.combine == "value":
        answer = facts[0]
    elif plan.combine in ("smallest", "largest"):
        # Each chain keeps one fact; the answer is the name of the chain whose fact wins.
        firsts = [read_number(chain_facts[0]) for chain_facts in kept]
        pick = min if plan.combine == "smallest" else max
        answer = plan.chains[firsts.index(pick(firsts))].start
    else:
        if plan.combine == "difference":
            call = ("subtract", {"a": max(numbers), "b": min(numbers)})
        elif plan.combine == "sum":
            if len(numbers) == 2:
                call = ("add", {"a": numbers[0], "b": numbers[1]})
            else:
                call = ("sum_numbers", {"numbers": numbers})
        elif plan.combine == "times":
            call = ("multiply", {"a": plan.factor, "b": numbers[0]})
        elif plan.combine == "average":
            call = ("add", {"a": numbers[0], "b": numbers[1]})
        else:
            raise ValueError(f"unknown combine {plan.combine!r}")
        results = yield TeacherTurn("", [call])
        answer = results[0].content
        if plan.combine == "average":
            results = yield TeacherTurn("", [("divide", {"a": read_number(answer), "b": len(numbers)})])
            answer = results[0].content
    yield TeacherTurn(f"The answer is \\boxed{{{answer}}}.")


# --- question templates ---------------------------------------------------------
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
    c = rng.choice([city for city in w.cities if city.river])
    plan = _chain(c.name, Hop("city", follow="river"), Hop("river", keep=("length",)))
    length = w.by_name[c.river].length_km
    return Question(f"Some river flows through {c.name}. Tell me its length in kilometres.", plan, str(length))


def _ood_university_age_gap(rng: random.Random, w: World) -> Question:
    a, b = rng.sample(w.universities, 2)
    while a.founded == b.founded:
        a, b = rng.sample(w.universities, 2)
    old, young = (a, b) if a.founded < b.founded else (b, a)
    plan = _each("university", (old.name, young.name), "founded", combine="difference")
    return Question(
        f"By how many years does {old.name} predate {young.name}?", plan, str(young.founded - old.founded)
    )


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


# --- judge ------------------------------------------------------------------------

_LATEX_TEXT = re.compile(r"\\(?:text|mathrm|textbf|mbox)\{([^{}]*)\}")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_NON_WORD = re.compile(r"[\W_]+")


def normalize_name(text: str) -> str:
    """A name reduced for comparison: no accents, case, punctuation, ``\\text{}`` or articles."""
    text = _LATEX_TEXT.sub(r"\1", text)
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    text = _ARTICLES.sub(" ", _NON_WORD.sub(" ", text.casefold()))
    return " ".join(text.split())


def judge_answer(prediction: str, answer: str) -> bool:
    """Numbers compare numerically, names after :func:`normalize_name`. Never raises."""
    if not isinstance(prediction, str) or len(prediction) > 1_000:
        return False
    if parse_number(answer) is not None:
        return numbers_match(prediction, answer)
    gold = normalize_name(answer)
    return bool(gold) and normalize_name(prediction) == gold


# --- the domain -------------------------------------------------------------------


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
        return Draw(question.text, teach(question.plan), {"difficulty": level, "style": style}, source=question)

    def finish(self, task: Task, drawn: Draw) -> Task:
        """Checks the teacher against the world; adds the hops, the gold documents and the answer type."""
        question, answer = drawn.source, task.answer
        if not judge_answer(answer, question.expected):  # pragma: no cover - corpus and world disagree
            raise RuntimeError(
                f"teacher answered {answer!r} but the world says {question.expected!r} ({task.meta['style']}); "
                "regenerate the corpus with python -m mentor_env.domains.lookup"
            )
        documents = [call.arguments["doc_id"] for call in task.teacher.calls if call.name == "get_document"]
        return replace(
            task,
            meta={
                **task.meta,
                "hops": max(len(chain.hops) for chain in question.plan.chains),
                "documents": documents,  # the gold documents, for retrieval metrics
                "answer_type": "number" if parse_number(answer) is not None else "name",
            },
        )

    def judge(self, prediction: str, answer: str) -> bool:
        return judge_answer(prediction, answer)



if __name__ == "__main__":  # pragma: no cover
    from mentor_env.core.files import write_text_atomically

    write_text_atomically(corpus_path(), corpus_jsonl())
    print(f"wrote {len(world().documents)} documents to {corpus_path()}")
