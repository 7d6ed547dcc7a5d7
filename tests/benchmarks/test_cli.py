"""One output flag across the command lines: the benchmarks and the baselines write to ``--out``."""

from __future__ import annotations

import argparse
import importlib

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
