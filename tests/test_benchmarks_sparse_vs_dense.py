"""The sparse-vs-dense benchmark: its statistics by hand, and the whole pipeline on a very small budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

from benchmarks.sparse_vs_dense import (  # noqa: E402
    METRICS,
    PROFILES,
    WARM_START,
    Profile,
    confidence_interval,
    parse_args,
    run,
    steps_to_reach,
    summarize_results,
    summary_markdown,
    write_outputs,
)

REPO = Path(__file__).resolve().parent.parent


def test_confidence_interval_is_a_student_t_interval_over_seeds():
    mean, half = confidence_interval([0.1, 0.2, 0.3])
    assert mean == pytest.approx(0.2)
    assert half == pytest.approx(4.303 * 0.1 / 3**0.5)  # t(0.975, 2 dof) * sd / sqrt(n) = 0.2484
    assert confidence_interval([0.25]) == (0.25, 0.0)


def test_steps_to_reach_is_the_first_point_at_or_above_the_target():
    curve = [(0, 0.1), (100, 0.2), (200, 0.4), (300, 0.3)]
    assert steps_to_reach(curve, 0.3) == 200
    assert steps_to_reach(curve, 0.1) == 0
    assert steps_to_reach(curve, 0.5) is None


def _final(success: float) -> dict[str, dict[str, float]]:
    row = {metric: 0.0 for metric in METRICS}
    row["success_rate"] = success
    return {"calc/test": row, "units/ood": dict(row, success_rate=success / 2)}


def _run(seed: int, curve: list[tuple[int, float]]) -> dict:
    return {"seed": seed, "curve": [{"env_steps": s, "success_rate": v} for s, v in curve], "final": _final(curve[-1][1])}


def test_headline_ratio_pairs_seeds_and_reports_runs_that_never_reach_the_target():
    results = {
        "baseline": {"final": _final(0.2)},
        "runs": {
            "sparse": [_run(0, [(0, 0.2), (200, 0.25), (400, 0.30)]), _run(1, [(0, 0.2), (200, 0.4), (400, 0.40)])],
            "dense": [_run(0, [(0, 0.2), (200, 0.31), (400, 0.35)]), _run(1, [(0, 0.2), (200, 0.3), (400, 0.38)])],
        },
    }
    summary = summarize_results(results)
    # seed 0: dense reaches sparse's 0.30 at 200 of 400 steps; seed 1: never reaches 0.40.
    assert summary["headline"]["dense"]["ratios"] == [0.5, None]
    assert summary["headline"]["dense"]["mean"] == 0.5
    assert summary["headline"]["dense"]["reached"] == 1
    assert "mentor" not in summary["headline"]
    assert summary["table"]["sparse"]["calc/test"]["success_rate"][0] == pytest.approx(0.35)
    assert summary["table"]["SFT baseline"]["units/ood"]["success_rate"] == (0.1, 0.0)


def test_quick_profile_starts_from_the_committed_warm_start_and_compares_three_modes_over_three_seeds():
    profile, out_dir, summarize_only = parse_args(["--profile", "quick"])
    assert not summarize_only
    assert profile == PROFILES["quick"]
    assert Path(profile.warm_start) == WARM_START
    assert (WARM_START / "config.json").exists() and (WARM_START / "model.safetensors").exists()
    assert set(profile.modes) >= {"sparse", "mentor", "dense"}
    assert len(profile.seeds) >= 3
    assert out_dir == Path("benchmarks/results/sparse_vs_dense-quick-tiny")
    full, _, _ = parse_args(["--profile", "full", "--model", "some/model"])
    assert full.warm_start is None and full.model == "some/model"
    assert {"mentor_partial", "mentor_nomatch", "mentor_f1"} <= set(full.modes)


class _Progress:
    def __init__(self) -> None:
        self.steps = 0
        self.descriptions: list[str] = []

    def update(self, n: int) -> None:
        self.steps += n

    def set_description(self, text: str) -> None:
        self.descriptions.append(text)


@pytest.mark.parametrize("workers, sft_here", [(1, True), (2, False)], ids=["in-process-with-sft", "two-processes-from-warm-start"])
def test_pipeline_end_to_end_on_a_tiny_budget(tiny_student_path, tmp_path, workers, sft_here):
    profile = Profile(
        model=str(tiny_student_path),
        warm_start=None if sft_here else str(tiny_student_path),
        sft_tasks=8,
        sft_epochs=1,
        modes=("sparse", "dense"),
        seeds=(0, 1),
        updates=2,
        episodes_per_update=4,
        eval_every=1,
        eval_episodes=4,
        ood_episodes=2,
        workers=workers,
        ppo={"max_new_tokens": 6, "max_turns": 2, "batch_envs": 4, "minibatch_size": 2},
    )
    progress = _Progress()
    results = run(profile, progress)
    assert progress.steps == 2 + 4  # warm start, baseline, four RL runs
    text = write_outputs(results, tmp_path)
    for name in ("results.json", "summary.md", "learning_curves.png", "similarity_vs_performance.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert not list(tmp_path.glob("*.tmp*"))
    saved = json.loads((tmp_path / "results.json").read_text())
    assert sorted(saved["runs"]) == ["dense", "sparse"]
    assert [run["seed"] for run in saved["runs"]["dense"]] == [0, 1]
    splits = ["calc/test", "calc/ood", "units/ood", "dates/ood", "lookup/ood", "table/ood"]
    assert list(saved["baseline"]["final"]) == splits
    assert saved["baseline"]["final"]["calc/test"]["episodes"] == 4
    assert saved["baseline"]["final"]["units/ood"]["episodes"] == 2
    for run_ in saved["runs"]["sparse"]:
        # the starting point (the SFT baseline) and one point per update
        assert [point["update"] for point in run_["curve"]] == [0, 1, 2]
        assert run_["curve"][0]["success_rate"] == saved["baseline"]["final"]["calc/test"]["success_rate"]
        assert run_["curve"][2]["env_steps"] >= 8  # two updates of four episodes, at least one step each
        assert len(run_["updates"]) == 2
    assert saved["machine"]["torch"] and saved["profile"]["seeds"] == [0, 1]
    assert saved["sft"]["trained_here"] is sft_here
    if sft_here:
        assert saved["sft"]["tasks"] == 8 and saved["sft"]["epochs"] == 1 and saved["sft"]["final_loss"] > 0
    assert "| SFT baseline |" in text and "| dense |" in text and "Headline, dense" in text
    assert text == (tmp_path / "summary.md").read_text() == summary_markdown(saved, saved["summary"])


def test_a_second_run_on_the_same_results_folder_is_refused_at_once(tmp_path):
    import os

    from benchmarks import sb3_sparse_vs_dense, sparse_vs_dense
    from mentor_env.core.files import FolderLockedError, lock_folder

    with lock_folder(tmp_path):
        with pytest.raises(FolderLockedError, match=f"{tmp_path} is in use by process {os.getpid()}"):
            sparse_vs_dense.main(["--summarize-only", "--out", str(tmp_path)])
        with pytest.raises(FolderLockedError, match=f"{tmp_path} is in use by process {os.getpid()}"):
            sb3_sparse_vs_dense.main(["--out", str(tmp_path)])
