"""SmolLM2's warm start: where the full profile finds it, what says how to build it, and the zero-shot/SFT benchmark."""

from __future__ import annotations

import json
from dataclasses import fields, replace

import pytest

pytest.importorskip("transformers")

from agents import sft  # noqa: E402
from benchmarks import smollm2_warm_start as bench  # noqa: E402
from benchmarks import sparse_vs_dense as svd  # noqa: E402


def test_the_full_profile_starts_from_smollm2s_warm_start_folder():
    assert svd.PROFILES["full"].warm_start == str(svd.REPO / "agents" / "checkpoints" / "smollm2-sft")
    assert svd.PROFILES["full"].model == "smollm2-135m"
    assert svd.SMOLLM2_WARM_START == sft.SMOLLM2_WARM_START
    assert svd.WARM_START_TARGETS[svd.SMOLLM2_WARM_START] == "make warm-start-smollm2"


def test_a_missing_warm_start_names_the_make_target_that_builds_it(tmp_path, monkeypatch):
    missing = tmp_path / "smollm2-sft"
    monkeypatch.setitem(svd.WARM_START_TARGETS, missing, "make warm-start-smollm2")
    profile = replace(svd.PROFILES["full"], warm_start=str(missing))
    with pytest.raises(FileNotFoundError, match=r"no SFT warm start at .*smollm2-sft .*`make warm-start-smollm2`"):
        svd.sft_warm_start(profile, tmp_path / "out")
    other = replace(svd.PROFILES["full"], warm_start=str(tmp_path / "elsewhere"))
    with pytest.raises(FileNotFoundError, match="`make warm-start` builds it"):
        svd.sft_warm_start(other, tmp_path / "out")


def test_the_warm_start_path_says_how_to_build_it(tmp_path, monkeypatch):
    monkeypatch.setattr(sft, "SMOLLM2_WARM_START", tmp_path / "smollm2-sft")
    with pytest.raises(FileNotFoundError, match="no config.json there.*`make warm-start-smollm2`"):
        sft.smollm2_warm_start_path()
    (tmp_path / "smollm2-sft").mkdir()
    (tmp_path / "smollm2-sft" / "config.json").write_text("{}")
    assert sft.smollm2_warm_start_path() == str(tmp_path / "smollm2-sft")


def test_every_setting_declares_its_help_and_bad_ones_are_refused():
    assert [item.name for item in fields(bench.Settings) if not item.metadata.get("help", "").strip()] == []
    assert bench.Settings().models == ["smollm2-135m", str(sft.SMOLLM2_WARM_START)]
    for bad in ({"episodes": 0}, {"threads": True}, {"max_new_tokens": 1.5}, {"models": []}):
        with pytest.raises(ValueError):
            bench.Settings(**bad)


def test_the_columns_are_every_rl_domains_test_split_then_bfcl():
    columns = bench.benchmark_columns(5)
    assert [(c.name, c.env_id, c.split, c.episodes) for c in columns] == [
        ("calc/test", "mentor/Calc-v0", "test", 5),
        ("units/test", "mentor/Units-v0", "test", 5),
        ("dates/test", "mentor/Dates-v0", "test", 5),
        ("lookup/test", "mentor/Lookup-v0", "test", 5),
        ("table/test", "mentor/Table-v0", "test", 5),
        ("bfcl", "mentor/BFCL-v0", "bfcl", 5),
    ]


def _report() -> dict:
    def metrics(success: float, calls: float, errors: float) -> dict:
        return {"success_rate": success, "mean_tool_calls": calls, "format_error_rate": errors, "seconds": 30.0}

    return {
        "settings": {"max_turns": 6, "max_new_tokens": 160},
        "columns": [{"name": "calc/test", "episodes": 32}, {"name": "bfcl", "episodes": 32}],
        "results": {
            "smollm2-135m": {"calc/test": metrics(0.0, 0.0, 1.0), "bfcl": metrics(0.03125, 0.5, 0.875)},
            "agents/checkpoints/smollm2-sft": {"calc/test": metrics(0.5, 1.25, 0.0625), "bfcl": metrics(0.25, 1, 0.5)},
        },
        "machine": {"device": "cpu", "processor": "x86_64", "cpus": 2, "torch": "2.13.0", "torch_threads": 1},
    }


def test_the_table_has_success_calls_and_format_errors_per_model():
    assert bench.format_table(_report()) == (
        "| column | n | smollm2-135m: success_rate | smollm2-135m: mean_tool_calls | smollm2-135m: format_error_rate "
        "| agents/checkpoints/smollm2-sft: success_rate | agents/checkpoints/smollm2-sft: mean_tool_calls "
        "| agents/checkpoints/smollm2-sft: format_error_rate |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- |\n"
        "| calc/test | 32 | 0.000 | 0.00 | 1.000 | 0.500 | 1.25 | 0.062 |\n"
        "| bfcl | 32 | 0.031 | 0.50 | 0.875 | 0.250 | 1.00 | 0.500 |"
    )
    assert bench.format_summary(_report()).endswith(
        "Greedy, at most 6 turns of 160 tokens. Machine: cpu, x86_64, 2 CPUs, torch 2.13.0, 1 torch thread(s). "
        "Time: smollm2-135m 1.0 min, agents/checkpoints/smollm2-sft 1.0 min.\n"
    )


def test_a_missing_sft_folder_fails_before_any_model_plays(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "SMOLLM2_WARM_START", tmp_path / "smollm2-sft")
    monkeypatch.setattr(sft, "SMOLLM2_WARM_START", tmp_path / "smollm2-sft")
    monkeypatch.setattr(bench, "evaluate_model", lambda *args: pytest.fail("a model played"))
    argv = ["--models", "tiny", str(tmp_path / "smollm2-sft"), "--out", str(tmp_path / "out")]
    with pytest.raises(FileNotFoundError, match="`make warm-start-smollm2`"):
        bench.main(argv)
    with pytest.raises(FileNotFoundError, match="--models nowhere: expected a local Hugging Face model directory"):
        bench.main(["--models", "nowhere", "--out", str(tmp_path / "out")])


def test_a_run_writes_the_json_and_the_summary_of_every_column(tmp_path, tiny_student_path):
    out = tmp_path / "out"
    argv = ["--models", str(tiny_student_path), "--episodes", "2", "--max-turns", "2", "--max-new-tokens", "6"]
    report = bench.main([*argv, "--batch-size", "4", "--out", str(out)])
    saved = json.loads((out / "results.json").read_text())
    assert saved == json.loads(json.dumps(report))
    (label,) = saved["results"]
    assert [c["name"] for c in saved["columns"]] == [c.name for c in bench.benchmark_columns(2)]
    for column in saved["columns"]:
        metrics = saved["results"][label][column["name"]]
        assert metrics["episodes"] == 2 and 0 < metrics["mean_generated_tokens"] <= 2 * 6
        assert metrics["mean_prompt_tokens"] > 20
    assert saved["machine"]["torch_threads"] == 1 and saved["settings"]["greedy"] is True
    assert (out / "summary.md").read_text().startswith(bench.format_table(saved) + "\n\nGreedy, at most 2 turns")
