"""``search`` and ``get_document`` over the corpus, plus five calculator tools."""

from __future__ import annotations

from mentor_env.core.tools import Tool, ToolError, object_schema
from mentor_env.domains.calc.tools import TOOLS as CALC_TOOLS
from mentor_env.domains.lookup.index import search_index

MAX_QUERY_CHARS = 300
MAX_K = 10
DEFAULT_K = 5


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


_CALC_TOOLS = {tool.name: tool for tool in CALC_TOOLS}
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
