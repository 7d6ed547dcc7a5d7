"""``python -m mentor_env.domains.lookup``: rewrite the shipped corpus file from the world's seed."""

from mentor_env.core.files import write_text_atomically
from mentor_env.domains.lookup.corpus import corpus_jsonl, corpus_path, world

if __name__ == "__main__":  # pragma: no cover
    write_text_atomically(corpus_path(), corpus_jsonl())
    print(f"wrote {len(world().documents)} documents to {corpus_path()}")
