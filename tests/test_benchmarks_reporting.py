"""The benchmarks' shared reporting: machine facts and atomic files."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from benchmarks.reporting import machine, save_figure, write_bytes_atomically


def test_machine_lists_the_platform_and_only_the_packages_in_use():
    code = "import json; from benchmarks.reporting import machine; print(json.dumps(machine()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    import json

    info = json.loads(out.stdout)
    assert {"platform", "processor", "cpus", "python", "mentor_env", "gymnasium", "numpy", "device"} <= set(info)
    assert "torch" not in info and info["device"] == "cpu"  # nothing imported torch in that process
    pytest.importorskip("torch")
    assert "torch" in machine()  # this test session has imported it


def test_write_bytes_atomically_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "deep" / "result.bin"
    write_bytes_atomically(target, b"first")
    write_bytes_atomically(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["result.bin"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_save_figure_writes_a_png(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots()
    axis.plot([0, 1], [1, 0])
    path = save_figure(figure, tmp_path / "plot.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.get_fignums()  # closed
