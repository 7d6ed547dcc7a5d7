"""The Lookup domain: corpus, search, tools, judge, generator, scripted teacher and hostile input."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import gymnasium as gym
import pytest

from mentor_env.core.messages import render_assistant_text
from mentor_env.core.tools import ToolRuntime
from mentor_env.domains.lookup import LookupDomain
from mentor_env.domains.lookup.corpus import STOPWORDS, corpus_jsonl, corpus_path, world
from mentor_env.domains.lookup.index import search_index, tokenize
from mentor_env.domains.lookup.judge import normalize_name
from mentor_env.domains.lookup.teacher import TEACHER_K
from mentor_env.domains.lookup.tools import MAX_QUERY_CHARS, TOOL_NAMES, TOOLS, search
from tests.conftest import call, raw

runtime = ToolRuntime(TOOLS)
domain = LookupDomain()

IN_DISTRIBUTION_KINDS = {"region", "city", "person", "company", "product"}
HELD_OUT_KINDS = {"river", "university"}


def test_tool_names():
    assert TOOL_NAMES == ("search", "get_document", "add", "subtract", "multiply", "divide", "sum_numbers")


# --- corpus ------------------------------------------------------------------------


def test_shipped_corpus_is_regenerated_byte_for_byte():
    shipped = corpus_path().read_bytes()
    assert corpus_jsonl().encode("utf-8") == shipped
    assert len(shipped) < 3_000_000
    records = [json.loads(line) for line in shipped.decode("utf-8").splitlines()]
    assert len(records) == 2706
    assert [r["id"] for r in records] == [f"doc-{i:05d}" for i in range(2706)]
    assert records[0] == {
        "id": "doc-00000",
        "title": "Thola Industries",
        "text": "Thola Industries is a food company. It was founded by Thidrim Pevax in 1940. Thola Industries is "
        "headquartered in Krunu and employs 86331 people. Its chief executive is Vesteir Trolain.",
    }
    # Short fact documents: two to four sentences each ("$24.80" is not a sentence end).
    sentences = Counter(r["text"].count(". ") + 1 for r in records)
    assert set(sentences) <= {2, 3, 4}, sentences
    assert len({r["title"] for r in records}) == len(records)


def test_world_has_every_entity_type_and_unique_names():
    kinds = Counter(document.kind for document in world().documents)
    assert kinds == {
        "region": 16, "city": 240, "river": 90, "person": 1000,
        "company": 420, "product": 800, "university": 140,
    }  # fmt: skip


def test_every_entity_name_ranks_its_own_document_first():
    # The teacher searches for names exactly as the question or a document writes
    # them: its document must come first, well within the teacher's k.
    index = search_index()
    misses = []
    for document in world().documents:
        _, hits, _ = index.search(document.title, TEACHER_K)
        if index.ids[hits[0]] != document.id:
            misses.append(document.title)
    assert misses == []


def test_invented_names_never_collide_with_the_collection_vocabulary():
    # SQL and filler words used by the hostile cases below match nothing.
    index = search_index()
    for word in ("drop", "table", "documents", "select", "docs", "1", "zzqqxx", "etc", "passwd"):
        assert word not in index.postings, word
    assert not STOPWORDS & set(index.postings)


def test_search_is_fast():
    index = search_index()
    queries = [document.title for document in world().documents[:400]]
    queries += ["city company founded river university students population " * 4]  # long, common words
    started = time.perf_counter()
    for query in queries:
        search(query, 10)
    per_query_ms = (time.perf_counter() - started) / len(queries) * 1e3
    # About 0.05 ms per query on a 2-core machine; the bound leaves room for slow CI.
    assert per_query_ms < 5, per_query_ms
    assert index is search_index()  # built once per process


@pytest.mark.parametrize(
    "text, words",
    [
        ("Thola Industries", ["thola", "industries"]),
        ("Where is the HQ of Thola?", ["hq", "thola"]),
        ("THÓLA\x00industries\n", ["thola", "industries"]),
        ("It sells for $2322.09.", ["sells", "2322.09"]),
        ("(a+)+$ .* [^x]", ["x"]),
        ("東京タワー", ["東京タワー"]),
        ("", []),
    ],
)
def test_tokenize(text, words):
    assert tokenize(text) == words


# --- tools -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, arguments, shown",
    [
        (
            "search",
            {"query": "Thola Industries", "k": 2},
            "Top 2 of 246 matching documents for: thola industries\n"
            "1. doc-00000 | Thola Industries | Thola Industries is a food company.\n"
            "2. doc-01480 | Skiatabrou | Skiatabrou is a backpack.",
        ),
        (
            "search",
            {"query": "Thidrim Pevax", "k": 3},
            "Top 3 of 28 matching documents for: thidrim pevax\n"
            "1. doc-00053 | Thidrim Pevax | Thidrim Pevax is a surgeon.\n"
            "2. doc-00000 | Thola Industries | Thola Industries is a food company.\n"
            "3. doc-02395 | Thidrim Triker | Thidrim Triker is a teacher.",
        ),
        # k defaults to 5; here only one document matches.
        (
            "search",
            {"query": "Testu"},
            "Top 1 of 1 matching documents for: testu\n1. doc-00002 | Testu | Testu is a bicycle.",
        ),
        # JSON Schema counts 1.0 as an integer.
        (
            "search",
            {"query": "Testu", "k": 1.0},
            "Top 1 of 1 matching documents for: testu\n1. doc-00002 | Testu | Testu is a bicycle.",
        ),
        # Regex metacharacters are punctuation, not a pattern.
        (
            "search",
            {"query": "Thola.*Industries (", "k": 1},
            "Top 1 of 246 matching documents for: thola industries\n1. doc-00000 | Thola Industries | Thola Industries is a food company.",
        ),
        # Case, accents and control characters do not matter.
        (
            "search",
            {"query": "THÓLA\x00industries\n", "k": 1},
            "Top 1 of 246 matching documents for: thola industries\n1. doc-00000 | Thola Industries | Thola Industries is a food company.",
        ),
        # SQL is just words; "students" matches the university documents.
        (
            "search",
            {"query": "Robert'); DROP TABLE Students;--", "k": 2},
            "Top 2 of 140 matching documents for: robert drop table students\n"
            "1. doc-00008 | Thiadru Institute | Thiadru Institute is a maritime university.\n"
            "2. doc-00010 | Sofe Institute | Sofe Institute is a private university.",
        ),
        (
            "search",
            {"query": "1940", "k": 3},
            "Top 3 of 14 matching documents for: 1940\n"
            "1. doc-00053 | Thidrim Pevax | Thidrim Pevax is a surgeon.\n"
            "2. doc-00308 | Tesu Todostou | Tesu Todostou is an engineer.\n"
            "3. doc-00397 | Skorias Daidrebraix | Skorias Daidrebraix is an engineer.",
        ),
        (
            "get_document",
            {"doc_id": "doc-00000"},
            "[doc-00000] Thola Industries\nThola Industries is a food company. It was founded by Thidrim Pevax in 1940. "
            "Thola Industries is headquartered in Krunu and employs 86331 people. Its chief executive is Vesteir Trolain.",
        ),
        (
            "get_document",
            {"doc_id": "doc-00002"},
            "[doc-00002] Testu\nTestu is a bicycle. It is made by Thabrei Systems and was launched in 2020. It sells for $2322.09.",
        ),
        (
            "get_document",
            {"doc_id": "doc-02705"},
            "[doc-02705] Tididax Lite\nTididax Lite is a camera. It is made by Lakrar Systems and was launched in 1982. "
            "It sells for $654.84.",
        ),
        ("subtract", {"a": 1954, "b": 1911}, "43"),
        ("add", {"a": 2322.09, "b": 654.84}, "2976.93"),
        ("multiply", {"a": 1168, "b": 24.8}, "28966.4"),
        ("divide", {"a": 2976.93, "b": 2}, "1488.465"),
        ("sum_numbers", {"numbers": [86331, 35341, 120]}, "121792"),
    ],
)
def test_tool_results(name, arguments, shown):
    result = runtime.execute(name, arguments)
    assert result.ok, result.content
    assert result.content == shown


@pytest.mark.parametrize(
    "name, arguments, category, message",
    [
        ("search", {"query": ""}, "invalid_args", "should be non-empty"),
        ("search", {"query": "x" * (MAX_QUERY_CHARS + 1)}, "invalid_args", "is too long"),
        ("search", {"query": "Testu", "k": 0}, "invalid_args", "less than the minimum of 1"),
        ("search", {"query": "Testu", "k": 11}, "invalid_args", "greater than the maximum of 10"),
        ("search", {"query": "Testu", "k": "5"}, "invalid_args", "'5' is not of type 'integer'"),
        ("search", {"query": "Testu", "k": True}, "invalid_args", "True is not of type 'integer'"),
        ("search", {"query": ["Testu"]}, "invalid_args", "is not of type 'string'"),
        ("search", {"k": 3}, "invalid_args", "'query' is a required property"),
        ("search", {"query": "Testu", "filter": "x"}, "invalid_args", "Additional properties are not allowed"),
        ("search", {"query": "   "}, "execution_error", "the query has no searchable words"),
        ("search", {"query": "the of and which"}, "execution_error", "the query has no searchable words"),
        ("search", {"query": "zzqqxx"}, "execution_error", "no document matches the words: zzqqxx"),
        (
            "search",
            {"query": "'; DROP TABLE documents; --"},
            "execution_error",
            "no document matches the words: drop table documents",
        ),
        (
            "get_document",
            {"doc_id": "doc-99999"},
            "execution_error",
            "there is no document 'doc-99999'; ids run from doc-00000 to doc-02705",
        ),
        ("get_document", {"doc_id": "doc-02706"}, "execution_error", "there is no document 'doc-02706'"),
        ("get_document", {"doc_id": "../../etc/passwd"}, "invalid_args", "does not match '^doc-[0-9]{5}$'"),
        ("get_document", {"doc_id": "doc-00001\n"}, "invalid_args", "is too long"),
        ("get_document", {"doc_id": 42}, "invalid_args", "42 is not of type 'string'"),
        ("get_document", {}, "invalid_args", "'doc_id' is a required property"),
        ("open_url", {"url": "http://example.com"}, "not_found", "there is no tool named 'open_url'"),
    ],
)
def test_tool_errors_are_messages(name, arguments, category, message):
    result = runtime.execute(name, arguments)
    assert result.error_category == category, result.content
    assert message in result.content


# --- judge -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prediction, answer, correct",
    [
        ("Krunu", "Krunu", True),
        ("krunu", "Krunu", True),
        ("  Krunu. ", "Krunu", True),
        ("\\text{Krunu}", "Krunu", True),
        ("Krùnu", "Krunu", True),
        ("Thola-Industries", "Thola Industries", True),
        ("the Thola Industries", "Thola Industries", True),
        ("The Zoushegrar River", "Zoushegrar River", True),
        ("Thidrim  Pevax", "Thidrim Pevax", True),
        ("Pevax", "Thidrim Pevax", False),
        ("Thola", "Thola Industries", False),
        ("Krunu City", "Krunu", False),
        ("", "Krunu", False),
        ("1940", "1940", True),
        ("1,940", "1940", True),
        ("1940.0", "1940", True),
        ("$2322.09", "2322.09", True),
        ("24.8", "24.80", True),
        ("24.81", "24.80", False),
        ("28966.4", "28966.4", True),
        ("1488.465 dollars", "1488.465", True),
        ("2521162", "2521162", True),
        ("2521164", "2521162", False),  # a whole number is exact, however large
        ("2.521162 million", "2521162", True),
        ("2521162 thousand", "2521162", False),
        ("53 years", "53", False),  # a unit the judge cannot check is refused
        ("2763 people", "2763", False),
        ("\\mathrm{24.8}", "24.80", True),
        ("24.800001", "24.80", False),
        ("Krunu", "1940", False),
        ("1940", "Krunu", False),
    ],
)
def test_judge(prediction, answer, correct):
    assert domain.judge(prediction, answer) is correct


def test_normalize_name():
    assert normalize_name("  The \\textbf{Zoushégrar}-River!! ") == "zoushegrar river"
    assert normalize_name("An Apple a day") == "apple day"


# --- generation --------------------------------------------------------------------


def test_generation_is_deterministic():
    assert domain.generate(7) == domain.generate(7)
    assert domain.generate(7).to_json() == LookupDomain().generate(7).to_json()
    assert domain.generate(7, ood=True).to_json() == LookupDomain().generate(7, ood=True).to_json()
    assert domain.generate(7) != domain.generate(8)
    assert domain.generate(7).question != domain.generate(7, ood=True).question
    assert domain.generate(7).id == "lookup-7" and domain.generate(7, ood=True).id == "lookup-ood-7"
    with pytest.raises(ValueError, match="difficulty must be one of"):
        domain.generate(1, difficulty=4)


def test_generation_is_identical_in_a_fresh_process():
    code = (
        "import hashlib; from mentor_env.domains.lookup import LookupDomain; d = LookupDomain(); "
        "print(hashlib.sha256(''.join(d.generate(s, ood=s % 2 == 1).to_json() for s in range(40)).encode()).hexdigest())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    here = hashlib.sha256("".join(domain.generate(s, ood=s % 2 == 1).to_json() for s in range(40)).encode()).hexdigest()
    assert out.stdout.strip() == here


def test_a_task_written_out():
    task = domain.generate(0)
    assert task.question == "How many years after being born did Gatol Grobu found Savus Industries?"
    assert task.answer == "43"
    assert [(c.name, dict(c.arguments)) for c in task.teacher.calls] == [
        ("search", {"query": "Gatol Grobu", "k": 3}),
        ("get_document", {"doc_id": "doc-01714"}),
        ("subtract", {"a": 1954, "b": 1911}),
    ]
    assert dict(task.meta) == {
        "difficulty": 2, "style": "founder_age", "seed": 0, "ood": False, "hops": 1,
        "documents": ["doc-01714"], "answer_type": "number",
    }  # fmt: skip


@pytest.fixture(scope="module")
def tasks():
    return [domain.generate(seed) for seed in range(600)]


@pytest.fixture(scope="module")
def ood_tasks():
    return [domain.generate(seed, ood=True) for seed in range(400)]


def test_generated_tasks_cover_every_tool_and_difficulty(tasks, ood_tasks):
    for group in (tasks, ood_tasks):
        assert {task.meta["difficulty"] for task in group} == {1, 2, 3}
        assert {"number", "name"} == {task.meta["answer_type"] for task in group}
    used = Counter(call.name for task in tasks for call in task.teacher.calls)
    assert set(used) == set(TOOL_NAMES)
    ood_used = Counter(call.name for task in ood_tasks for call in task.teacher.calls)
    assert {"search", "get_document", "subtract", "multiply", "sum_numbers"} <= set(ood_used)


def test_ood_is_a_different_distribution(tasks, ood_tasks):
    in_styles = {task.meta["style"] for task in tasks}
    ood_styles = {task.meta["style"] for task in ood_tasks}
    assert len(in_styles) == 24 and len(ood_styles) == 16 and not in_styles & ood_styles
    kind_of = {document.id: document.kind for document in world().documents}
    in_kinds = {kind_of[doc] for task in tasks for doc in task.meta["documents"]}
    ood_kinds = {kind_of[doc] for task in ood_tasks for doc in task.meta["documents"]}
    # Rivers and universities are only ever asked about out of distribution.
    assert in_kinds == IN_DISTRIBUTION_KINDS and HELD_OUT_KINDS <= ood_kinds
    # Three-hop chains only out of distribution.
    assert max(task.meta["hops"] for task in tasks) == 2
    assert all(task.meta["hops"] == 3 for task in ood_tasks if task.meta["difficulty"] == 3)
    assert {len(task.meta["documents"]) for task in ood_tasks} >= {1, 2, 3, 4}
    # More steps than in distribution.
    assert sum(len(t.teacher.calls) for t in ood_tasks) / len(ood_tasks) > sum(
        len(t.teacher.calls) for t in tasks
    ) / len(tasks)


def test_teacher_reads_only_ids_that_its_searches_returned(tasks, ood_tasks):
    skipped_searches = 0
    for task in tasks + ood_tasks:
        messages = task.teacher.messages
        for position, message in enumerate(messages):
            for tool_call in message.get("tool_calls", ()):
                function = tool_call["function"]
                if function["name"] == "get_document":
                    # Every id read was listed, under its title, by a search the teacher already saw.
                    earlier_results = [m["content"] for m in messages[:position] if m.get("name") == "search"]
                    assert any(f"{function['arguments']['doc_id']} | " in result for result in earlier_results), task.id
                if function["name"] == "search":
                    assert function["arguments"]["k"] == TEACHER_K
        # No name is searched twice; a name already seen as a hit is read without a new search.
        queries = [c.arguments["query"] for c in task.teacher.calls if c.name == "search"]
        assert len(queries) == len(set(queries)) <= len(task.meta["documents"]), task.id
        skipped_searches += len(task.meta["documents"]) - len(queries)
    assert skipped_searches > 0


def test_teacher_reuses_an_id_it_has_seen():
    task = domain.generate(1000005)
    assert task.question == "In which city is the company that Mesko Triafeil founded headquartered?"
    # The founder's search already lists the company, so the teacher reads it without searching.
    assert [(c.name, dict(c.arguments)) for c in task.teacher.calls] == [
        ("search", {"query": "Mesko Triafeil", "k": 3}),
        ("get_document", {"doc_id": "doc-00576"}),
        ("get_document", {"doc_id": "doc-00432"}),
    ]
    assert task.answer == "Thoror"


def test_teacher_uses_parallel_calls():
    task = next(
        t for t in (domain.generate(s, difficulty=3) for s in range(100)) if t.meta["style"] == "combined_headcount"
    )
    assistant_turns = [m for m in task.teacher.messages if m["role"] == "assistant"]
    companies = len(task.meta["documents"])
    assert [[c["function"]["name"] for c in m.get("tool_calls", [])] for m in assistant_turns] == [
        ["search"] * companies,
        ["get_document"] * companies,
        ["add" if companies == 2 else "sum_numbers"],
        [],
    ]


def test_generation_speed():
    started = time.perf_counter()
    for seed in range(300):
        domain.generate(10_000 + seed, ood=seed % 2 == 1)
    rate = 300 / (time.perf_counter() - started)
    assert rate > 100, rate  # about 3,000-4,500 tasks/s on a 2-core machine


# --- environment -------------------------------------------------------------------


# --- hostile input -----------------------------------------------------------------


# id -> (action, category of info["errors"][0]).
HOSTILE: dict[str, tuple[Any, str]] = {
    # doc ids: the schema pattern refuses anything but doc-NNNNN
    "path-traversal-doc-id": (call("get_document", doc_id="../../etc/passwd"), "invalid_args"),
    "absolute-path-doc-id": (call("get_document", doc_id="/etc/passwd"), "invalid_args"),
    "id-then-traversal": (call("get_document", doc_id="doc-00042/../../etc/passwd"), "invalid_args"),
    "file-url-doc-id": (call("get_document", doc_id="file:///etc/passwd"), "invalid_args"),
    "sql-in-doc-id": (call("get_document", doc_id="doc-00001' OR '1'='1"), "invalid_args"),
    "doc-id-trailing-newline": (call("get_document", doc_id="doc-00001\n"), "invalid_args"),
    "doc-id-uppercase": (call("get_document", doc_id="DOC-00001"), "invalid_args"),
    "doc-id-fullwidth-digit": (call("get_document", doc_id="doc-0000\uff11"), "invalid_args"),
    "doc-id-short": (call("get_document", doc_id="doc-1"), "invalid_args"),
    "doc-id-int": (call("get_document", doc_id=42), "invalid_args"),
    "doc-id-empty": (call("get_document", doc_id=""), "invalid_args"),
    "doc-id-list": (call("get_document", doc_id=["doc-00001"]), "invalid_args"),
    "doc-id-extra-argument": (call("get_document", doc_id="doc-00001", path="/etc/passwd"), "invalid_args"),
    # doc ids of the right shape that do not exist: the tool says so
    "doc-id-does-not-exist": (call("get_document", doc_id="doc-99999"), "execution_error"),
    "doc-id-one-past-the-end": (call("get_document", doc_id="doc-02706"), "execution_error"),
    # queries
    "sql-drop-table": (call("search", query="'; DROP TABLE documents; --"), "execution_error"),
    "sql-select": (call("search", query="SELECT * FROM docs WHERE 1=1"), "execution_error"),
    "query-one-over-bound": (call("search", query="Testu " * 50 + "x"), "invalid_args"),
    "query-10000-chars": (call("search", query="Testu " * 1_666), "invalid_args"),
    "query-20000-chars": (call("search", query="a" * 20_000), "parse_error"),  # over the parser's per-call limit
    "query-100000-chars": (call("search", query="a" * 100_000), "invalid_action"),  # over the env's turn limit
    "query-empty": (call("search", query=""), "invalid_args"),
    "query-whitespace": (call("search", query=" \t\n "), "execution_error"),
    "query-only-stopwords": (call("search", query="the of which is"), "execution_error"),
    "query-null": (call("search", query=None), "invalid_args"),
    "query-number": (call("search", query=42), "invalid_args"),
    "query-missing": (call("search", k=3), "invalid_args"),
    "query-regex-wildcard": (call("search", query=".*"), "execution_error"),
    "query-regex-catastrophic": (call("search", query="(.+)+$ [^]* ((((( \\"), "execution_error"),
    "query-regex-unbalanced": (call("search", query="[(?<"), "execution_error"),
    "query-control-characters": (call("search", query="\x00\x01\x1b[31m\x7f"), "execution_error"),
    "query-zero-width-and-rtl": (call("search", query="\u200b\u202e\u2066"), "execution_error"),
    "query-lone-surrogate": (call("search", query="\ud800"), "execution_error"),
    "query-emoji": (call("search", query="\U0001f50e\U0001f4da"), "execution_error"),
    "query-cjk-no-match": (call("search", query="東京タワー"), "execution_error"),
    "query-no-match": (call("search", query="zzqqxx"), "execution_error"),
    "k-zero": (call("search", query="Testu", k=0), "invalid_args"),
    "k-1000": (call("search", query="Testu", k=1000), "invalid_args"),
    "k-negative": (call("search", query="Testu", k=-1), "invalid_args"),
    "k-string": (call("search", query="Testu", k="5"), "invalid_args"),
    "k-fraction": (call("search", query="Testu", k=2.5), "invalid_args"),
    "k-bool": (call("search", query="Testu", k=True), "invalid_args"),
    "k-huge": (call("search", query="Testu", k=10**30), "invalid_args"),
    "search-extra-argument": (call("search", query="Testu", where="1=1"), "invalid_args"),
    # generic
    "broken-json": (raw('{"name": "search", "arguments": {"query": "Testu",}}'), "parse_error"),
    "unclosed-call": ('<tool_call>{"name": "search", "arguments": {"query": "Testu"}}', "parse_error"),
    "unknown-tool": (call("read_file", path="/etc/passwd"), "not_found"),
    "sql-tool": (call("sql", query="SELECT * FROM documents"), "not_found"),
    "calc-tool-not-offered": (call("sqrt", x=4), "not_found"),
    "action-none": (None, "invalid_action"),
    "100-calls-in-one-turn": (call("search", query="Testu", k=1) * 100, "invalid_action"),
}


@pytest.fixture(scope="module")
def recovery_task():
    return domain.generate(3, difficulty=1)


@pytest.mark.parametrize("action, category", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_action_is_answered_with_a_typed_error(action, category, recovery_task):
    env = gym.make("mentor/Lookup-v0")
    env.reset(seed=0, options={"task": recovery_task})
    started = time.perf_counter()
    observation, reward, terminated, truncated, info = env.step(action)
    assert time.perf_counter() - started < 5.0
    assert info["errors"], "a hostile turn must be recorded in info['errors']"
    assert info["errors"][0].split(":", 1)[0] == category, info["errors"][0][:300]
    assert "Error (" in observation and env.observation_space.contains(observation)
    assert not terminated and not truncated and isinstance(reward, float) and math.isfinite(reward)
    # The env still works: the teacher's turns finish the episode correctly.
    for message in recovery_task.teacher.messages:
        if message["role"] == "assistant":
            observation, _, terminated, truncated, info = env.step(render_assistant_text(message))
    assert terminated and not truncated
    assert info["errors"] == [] and info["reward_components"]["correct"] == 1.0
