"""The benchmarks' shared reporting: machine facts and atomic plots (atomic files: tests/core/test_files.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from benchmarks.reporting import machine, save_figure


def test_machine_lists_the_platform_and_only_the_packages_in_use():
    code = "import json; from benchmarks.reporting import machine; print(json.dumps(machine()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    import json

    info = json.loads(out.stdout)
    assert {"platform", "processor", "cpus", "python", "mentor_env", "gymnasium", "numpy", "device"} <= set(info)
    assert "torch" not in info and info["device"] == "cpu"  # nothing imported torch in that process
    pytest.importorskip("torch")
    assert "torch" in machine()  # this test session has imported it


def test_save_figure_writes_a_png_atomically(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots()
    axis.plot([0, 1], [1, 0])
    path = save_figure(figure, tmp_path / "plot.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.get_fignums()  # closed
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"]
