"""benchmarks.external_sets: gold is the ceiling (the docs' table is checked against the committed result in
tests/test_docs.py)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("bfcl_eval", reason="mentor/BFCL-v0 needs the bfcl-eval wheel (make installs it)")

from benchmarks import external_sets  # noqa: E402


def test_gold_scores_one_and_random_little_on_a_small_sample(tmp_path):
    report = external_sets.main(
        ["--bfcl-n", "2", "--rg-n", "4", "--policies", "gold", "random", "--out", str(tmp_path / "r.json")]
    )
    assert json.loads((tmp_path / "r.json").read_text())["settings"]["bfcl_n"] == 2
    gold, random = report["results"]["gold"], report["results"]["random"]
    assert len(gold) == 11 and all(result["success_rate"] == 1.0 for result in gold.values())
    assert gold["calc/ood-reasoning-gym"]["tool_set_match_rate"] is None
    assert gold["bfcl/parallel"]["tool_set_match_rate"] == 1.0
    assert sum(result["success_rate"] for result in random.values()) < 11 * 0.5
