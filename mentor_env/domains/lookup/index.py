"""The BM25 word index over the corpus (built once per process)."""

from __future__ import annotations

import functools
import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from mentor_env.domains.lookup.corpus import STOPWORDS, corpus_path

SNIPPET_CHARS = 120
BM25_K1 = 1.2
BM25_B = 0.75
TITLE_WEIGHT = 2  # title words count this many times (on top of the text)


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
