"""The env fuzzer runs and finds nothing on a short run of every domain."""

from __future__ import annotations

import json

from benchmarks import fuzz_envs


def test_a_short_fuzz_run_finds_no_violation_and_writes_its_report(tmp_path):
    out = tmp_path / "fuzz.json"
    report = fuzz_envs.main(["--steps", "300", "--seed", "1", "--out", str(out)])
    assert json.loads(out.read_text()) == report
    assert [domain["env_id"] for domain in report["domains"]] == [
        "mentor/Calc-v0", "mentor/Units-v0", "mentor/Dates-v0", "mentor/Lookup-v0", "mentor/Table-v0",
    ]  # fmt: skip
    for domain in report["domains"]:
        assert domain["steps"] == 300 and domain["violations"] == 0, domain["first_violations"]
        assert domain["episodes"] > 30
        # The grammar reaches every kind of refusal a model can earn with text alone.
        assert {"invalid_action", "invalid_args", "not_found", "parse_error"} <= set(domain["error_categories"])
    assert report["table_database_unchanged"] is True


def test_broken_str_subclass_is_what_it_claims():
    text = fuzz_envs.BrokenStr("<tool_call>")
    assert str.__str__(text) == "<tool_call>"
