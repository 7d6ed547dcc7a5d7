"""The benchmarks' command lines: one output flag (``--out``, as the agents), and configs that declare their help."""

from __future__ import annotations

import argparse
import importlib
from dataclasses import fields

import pytest

from agents.config import retire_flags

# Every command line that wrote its results to --json before the output flag became --out.
FORMER_JSON_CLIS = [
    "agents.baselines",
    "benchmarks.agent_throughput",
    "benchmarks.env_throughput",
    "benchmarks.external_sets",
    "benchmarks.fuzz_envs",
    "benchmarks.judge_change",
    "benchmarks.openenv_load",
    "benchmarks.ppo_learning",
    "benchmarks.task_signal",
]


@pytest.mark.parametrize("module", FORMER_JSON_CLIS)
def test_json_is_refused_with_the_flag_that_replaced_it(capsys, tmp_path, module):
    main = importlib.import_module(module).main
    with pytest.raises(SystemExit) as exited:
        main(["--json", str(tmp_path / "results.json")])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith("error: --json was removed: the output file is --out")
    assert list(tmp_path.iterdir()) == []


def test_only_a_flag_of_the_table_can_be_retired():
    with pytest.raises(ValueError, match=r"expected a retired flag \(--init-from, --output-dir, --json\), got '--jsn'"):
        retire_flags(argparse.ArgumentParser(), ["--jsn"])


@pytest.mark.parametrize(
    ("module", "config"), [("benchmarks.env_throughput", "Settings"), ("benchmarks.sb3_sparse_vs_dense", "Config")]
)
def test_every_field_of_a_benchmark_config_declares_its_help(module, config):
    config_type = getattr(importlib.import_module(module), config)
    assert [item.name for item in fields(config_type) if not item.metadata.get("help", "").strip()] == []
