"""docs/benchmarks/smollm2.md shows the committed SmolLM2 zero-shot/SFT result, number for number."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import smollm2_warm_start as bench

ROOT = Path(__file__).resolve().parents[2]
RESULT = ROOT / bench.DEFAULT_OUT
PAGE = ROOT / "docs" / "benchmarks" / "smollm2.md"


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_the_smollm2_table_is_the_committed_one():
    report = json.loads((RESULT / "results.json").read_text())
    text = PAGE.read_text()
    assert list(report["results"]) == ["smollm2-135m", "agents/checkpoints/smollm2-sft"]
    assert [column["name"] for column in report["columns"]] == [c.name for c in bench.benchmark_columns(32)]
    assert report["settings"]["episodes"] == 32 and report["machine"]["torch_threads"] == 1
    assert bench.format_table(report) in text
    assert (RESULT / "summary.md").read_text() == bench.format_summary(report)
    for model, columns in report["results"].items():
        minutes = sum(column["seconds"] for column in columns.values()) / 60
        assert f"{model} {minutes:.1f} min" in _flat(text)


def test_the_warm_starts_training_record_is_the_one_the_page_describes():
    history = json.loads((RESULT / "sft_history.json").read_text())
    config, rows = history["config"], history["history"]
    assert (config["precision"], config["batch_size"], config["epochs"], config["learning_rate"]) == (
        "bf16",
        8,
        1,
        1e-4,
    )
    text = _flat(PAGE.read_text())
    assert f"{len(rows)} steps" in text
    assert f"{rows[-1]['seconds'] / 60:.1f} minutes" in text
    assert f"from {rows[0]['loss']:.3f} to {rows[-1]['loss']:.3f}" in text


def test_the_page_is_in_the_nav():
    assert '"SmolLM2: zero-shot vs SFT": benchmarks/smollm2.md' in (ROOT / "mkdocs.yml").read_text()
