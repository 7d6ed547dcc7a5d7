"""The sparse-vs-dense benchmark: its statistics by hand, its protocol, and the pipeline on a very small budget."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from dataclasses import fields, replace
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

from benchmarks.reporting import (  # noqa: E402
    confidence_interval,
    paired_difference,
    steps_to_reach,
    student_t_cdf,
    student_t_quantile,
)
from benchmarks.sparse_vs_dense import (  # noqa: E402
    MULTI_WARM_START,
    PROFILES,
    TINY_TEACHER,
    Column,
    Profile,
    column_tasks,
    columns,
    comparisons,
    fingerprint,
    headline,
    parse_args,
    ppo_config,
    run,
    sft_batch_size,
    sft_plan,
    stage_jobs,
    summary_markdown,
    update_seconds,
    verdict,
    write_outputs,
)
from mentor_env.core.files import lock_folder  # noqa: E402
from tests.process_helpers import children, command_line, kill_all, wait_for, wait_until_gone  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


# --- statistics, against published table values ---


def test_student_t_matches_the_printed_tables():
    assert student_t_quantile(0.975, 2) == pytest.approx(4.303, abs=1e-3)
    assert student_t_quantile(0.975, 4) == pytest.approx(2.776, abs=1e-3)
    assert student_t_quantile(0.975, 30) == pytest.approx(2.042, abs=1e-3)
    assert student_t_quantile(0.80, 4) == pytest.approx(0.941, abs=1e-3)
    assert student_t_cdf(0.0, 3) == pytest.approx(0.5, abs=1e-9)
    assert 2 * (1 - student_t_cdf(2.0, 4)) == pytest.approx(0.1161, abs=1e-4)  # two-sided p of t=2 on 4 dof
    assert 2 * (1 - student_t_cdf(2.5, 10)) == pytest.approx(0.0314, abs=1e-4)
    with pytest.raises(ValueError, match="dof must be at least 1"):
        student_t_cdf(1.0, 0)


def test_confidence_interval_is_a_student_t_interval_over_seeds():
    mean, half = confidence_interval([0.1, 0.2, 0.3])
    assert mean == pytest.approx(0.2)
    assert half == pytest.approx(4.303 * 0.1 / 3**0.5, abs=1e-4)  # t(0.975, 2 dof) * sd / sqrt(n) = 0.2484
    assert confidence_interval([0.25]) == (0.25, 0.0)


def test_paired_difference_is_the_paired_t_test_over_seeds():
    # differences 0.10, 0.05, 0.10: mean 0.0833, sd 0.02887, standard error 0.01667, t = 5.0 on 2 dof
    test = paired_difference([0.30, 0.35, 0.40], [0.20, 0.30, 0.30])
    assert test["mean"] == pytest.approx(0.08333, abs=1e-5)
    assert test["seeds"] == 3
    assert test["half_width"] == pytest.approx(4.303 * 0.016667, abs=1e-4)  # 0.0717
    assert test["low"] == pytest.approx(0.0116, abs=1e-4) and test["high"] == pytest.approx(0.1550, abs=1e-4)
    assert test["p_value"] == pytest.approx(0.0377, abs=1e-4)  # two-sided p of t=5 on 2 dof
    assert test["detectable"] == pytest.approx((4.303 + 1.061) * 0.016667, abs=1e-3)  # t(0.80, 2 dof) = 1.061
    same = paired_difference([0.75, 0.5], [0.5, 0.25])  # exact in binary: both differences are 0.25
    assert same["mean"] == 0.25 and same["p_value"] is None and same["half_width"] is None
    assert paired_difference([0.5], [0.25])["half_width"] is None
    with pytest.raises(ValueError, match="seed for seed: 2 against 3"):
        paired_difference([0.1, 0.2], [0.1, 0.2, 0.3])


def test_steps_to_reach_is_the_first_point_at_or_above_the_target():
    curve = [(0, 0.1), (100, 0.2), (200, 0.4), (300, 0.3)]
    assert steps_to_reach(curve, 0.3) == 200
    assert steps_to_reach(curve, 0.1) == 0
    assert steps_to_reach(curve, 0.5) is None


def _run(curve: list[tuple[int, float]]) -> dict:
    return {"curve": [{"env_steps": s, "success_rate": v} for s, v in curve]}


def test_headline_pairs_seeds_and_reports_runs_that_never_reach_the_target():
    runs = {
        "sparse": [
            _run([(0, 0.2), (200, 0.25), (400, 0.30)]),
            _run([(0, 0.2), (200, 0.4), (400, 0.40)]),
            _run([(0, 0.2), (400, 0.1)]),
        ],
        "dense": [
            _run([(0, 0.2), (200, 0.31), (400, 0.35)]),
            _run([(0, 0.2), (200, 0.3), (400, 0.38)]),
            _run([(0, 0.2), (400, 0.5)]),
        ],
    }
    result = headline(runs)
    # seed 0: dense reaches sparse's 0.30 at 200 of 400 steps; seed 1: never reaches 0.40; seed 2: sparse fell.
    assert result["dense"]["ratios"] == [0.5, None, None]
    assert result["dense"]["per_seed"] == ["0.50", "not reached", "sparse did not improve"]
    assert result["dense"]["mean"] == 0.5 and result["dense"]["reached"] == 1 and result["dense"]["seeds"] == 3
    assert "mentor" not in result


def test_every_arm_is_compared_with_sparse_and_the_teacher_guided_ones_with_sft():
    assert comparisons(["sft", "sparse", "mentor", "dense"]) == [
        ("sft", "sparse"), ("mentor", "sparse"), ("dense", "sparse"), ("mentor", "sft"), ("dense", "sft"),
    ]  # fmt: skip
    assert comparisons(["sparse", "dense"]) == [("dense", "sparse")]
    # The token-level teacher arms: against sparse, SFT, and MENTOR's trajectory reward.
    assert comparisons(["sft", "sparse", "mentor", "opd", "mentor+opd"]) == [
        ("sft", "sparse"), ("mentor", "sparse"), ("opd", "sparse"), ("mentor+opd", "sparse"),
        ("mentor", "sft"), ("opd", "sft"), ("mentor+opd", "sft"), ("opd", "mentor"), ("mentor+opd", "mentor"),
    ]  # fmt: skip


def _final(**success: float) -> dict:
    return {column: {"success_rate": value, "episodes": 100} for column, value in success.items()}


def test_the_verdict_states_gains_over_the_warm_start_and_paired_differences_in_and_out_of_domain():
    results = {
        "columns": [{"name": "calc/test", "group": "in-domain"}, {"name": "calc/test sampled", "group": "in-domain, sampled"},
                    {"name": "units/test", "group": "b: seen in SFT"}, {"name": "table/ood", "group": "c: never trained"}],
        "start": {"final": _final(**{"calc/test": 0.10, "calc/test sampled": 0.05, "units/test": 0.20, "table/ood": 0.01})},
        "runs": {
            "sparse": [{"final": _final(**{"calc/test": v, "calc/test sampled": 0.0, "units/test": 0.2, "table/ood": 0.0})}
                       for v in (0.10, 0.12, 0.14)],
            "mentor": [{"final": _final(**{"calc/test": v, "calc/test sampled": 0.0, "units/test": 0.2, "table/ood": 0.5})}
                       for v in (0.15, 0.16, 0.20)],
        },
    }  # fmt: skip
    assert verdict(results) == (
        # sparse gains 0, 2, 4 points: mean 2, sd 2, t(0.975, 2) = 4.303 -> half-width 4.97 points.
        "In domain (calc/test, 100 tasks, greedy; 3 paired seeds), against the warm start's 0.100: "
        "sparse +2.0 points [-3.0, +7.0], not told apart from zero; mentor +7.0 points [+0.4, +13.6], above zero. "
        # mentor - sparse: 5, 4, 6 points: mean 5, sd 1 -> half-width 2.48 points.
        "Between arms: mentor - sparse +5.0 points [+2.5, +7.5], above zero. "
        # Out of domain: units/test only (table/ood's 1% is below 5%; the sampled column is in domain).
        "Out of domain (mean over the 1 column the warm start reaches, units/test): "
        "mentor - sparse +0.0 points (no spread over seeds: no interval). "
        "Power: in domain the 95% intervals of the differences between arms are ±2.5 to ±2.5 points wide; "
        "smaller true differences cannot be told apart with 3 seeds."
    )


# --- the protocol ---


def test_profiles_run_the_protocol_paired_from_the_multi_domain_warm_start(tmp_path):
    name, quick, out_dir, summarize_only = parse_args(["--profile", "quick"])
    assert name == "quick" and not summarize_only and quick == PROFILES["quick"]
    assert out_dir == Path("runs/sparse_vs_dense-quick-tiny")  # never the committed results by default
    for profile in (PROFILES["quick"], PROFILES["medium"]):
        assert Path(profile.warm_start) == MULTI_WARM_START
        assert profile.arms[:4] == ("sft", "sparse", "mentor", "dense")
        assert profile.train_levels == (1, 2) and profile.threads == 1 and profile.column_max_turns == 6
        assert profile.ppo["advantage"] == "gae" and profile.ppo["group_size"] == 1 and profile.ppo["gae_lambda"] == 1.0
    assert (MULTI_WARM_START / "config.json").exists() and (MULTI_WARM_START / "model.safetensors").exists()
    assert len(PROFILES["quick"].seeds) == 3 and len(PROFILES["medium"].seeds) >= 5
    # The medium profile adds the token-level teacher arms, with the committed teacher; quick keeps its 4 arms.
    assert PROFILES["quick"].arms == ("sft", "sparse", "mentor", "dense") and PROFILES["quick"].teacher is None
    assert PROFILES["medium"].arms[4:] == ("opd", "mentor+opd")
    assert Path(PROFILES["medium"].teacher) == TINY_TEACHER and (TINY_TEACHER / "model.safetensors").exists()
    from agents import ppo

    assert TINY_TEACHER == ppo.TINY_TEACHER and MULTI_WARM_START == ppo.TINY_WARM_START
    _, full, _, _ = parse_args(["--profile", "full", "--model", "some/model", "--threads", "4", "--out", str(tmp_path)])
    assert full.warm_start is None and full.model == "some/model" and full.threads == 4
    assert {"mentor_partial", "mentor_nomatch", "mentor_f1"} <= set(full.arms)


def test_update_seconds_count_the_teacher_pass_of_the_arms_that_run_one():
    def rows(*pairs):
        return [
            {"seconds": seconds, "time": {"teacher": teacher} if teacher is not None else {}}
            for seconds, teacher in pairs
        ]

    runs = {
        "sft": [{"final": {}}],  # no PPO updates: no entry
        "sparse": [
            {"updates": rows((10.0, None), (12.0, None))},
            {"updates": rows((14.0, None))},
        ],  # older rows: no teacher
        "opd": [{"updates": rows((11.0, 1.0), (13.0, 1.5))}],
    }
    assert update_seconds(runs) == {
        "sparse": {"update": 12.0, "teacher": 0.0},
        "opd": {"update": 12.0, "teacher": 1.25},
    }


def test_only_the_teacher_arms_get_the_teacher_and_it_is_part_of_their_fingerprint_alone(tmp_path):
    medium = PROFILES["medium"]
    jobs = {job["name"]: job for job in stage_jobs(medium, MULTI_WARM_START, tmp_path)}
    assert jobs["opd-seed0"]["config"]["teacher_model"] == medium.teacher
    assert jobs["mentor+opd-seed3"]["config"]["reward_mode"] == "mentor+opd"
    assert (
        jobs["sparse-seed0"]["config"]["teacher_model"] is None and jobs["sft-seed0"]["config"]["teacher_model"] is None
    )
    # Adding arms, or another teacher, leaves the other arms' stages reusable; another teacher redoes the teacher arms.
    fewer = replace(medium, arms=("sft", "sparse"), teacher=None)
    other_teacher = replace(medium, teacher=str(tmp_path / "another-teacher"))
    assert fingerprint(fewer, "sparse") == fingerprint(medium, "sparse") == fingerprint(other_teacher, "sparse")
    assert fingerprint(other_teacher, "opd") != fingerprint(medium, "opd") != fingerprint(medium, "sparse")
    # Checkout-independent: the same folders under another clone give the same fingerprint.
    assert fingerprint(medium, "opd") == fingerprint(
        replace(medium, teacher="agents/checkpoints/tiny-calc-teacher"), "opd"
    )


def test_teacher_arms_need_a_teacher_and_unknown_arms_are_refused(tmp_path):
    with pytest.raises(ValueError, match="score tokens with a teacher model: the profile needs a teacher"):
        stage_jobs(replace(PROFILES["quick"], arms=("sparse", "opd")), MULTI_WARM_START, tmp_path)
    with pytest.raises(ValueError, match=r"unknown arms \['best'\]"):
        stage_jobs(replace(PROFILES["quick"], arms=("sparse", "best")), MULTI_WARM_START, tmp_path)


def test_every_field_of_a_profile_and_a_column_declares_its_help():
    for config in (Profile, Column):
        assert [item.name for item in fields(config) if not item.metadata.get("help", "").strip()] == [], config
    helps = {item.name: item.metadata["help"] for item in fields(Profile)}
    assert helps["model"] == "student: 'tiny', 'smollm2-135m' or a local model directory"
    assert helps["ppo"] == "other PPOConfig fields"


def test_columns_cover_in_domain_and_the_four_kinds_of_ood():
    profile = PROFILES["medium"]
    groups = {column.name: column.group for column in columns(profile)}
    assert groups == {
        "calc/test": "in-domain",
        "calc/test sampled": "in-domain, sampled",
        "calc/ood": "a: RL domain, ood",
        "calc/test L3": "a: RL domain, harder",
        "units/test L1-2": "b: seen in SFT",
        "dates/test L1-2": "b: seen in SFT",
        "units/ood": "b: seen in SFT",
        "dates/ood": "b: seen in SFT",
        "lookup/ood": "c: never trained",
        "table/ood": "c: never trained",
        "bfcl": "d: external",
        "calc/reasoning-gym": "d: external",
        "dates/reasoning-gym": "d: external",
    }
    by_name = {column.name: column for column in columns(profile)}
    # The same tasks, once greedy and once sampled at the rollouts' temperature.
    assert (by_name["calc/test"].temperature, by_name["calc/test sampled"].temperature) == (0.0, 0.7)
    assert column_tasks(by_name["calc/test sampled"]) == column_tasks(by_name["calc/test"])
    in_domain = column_tasks(by_name["calc/test"])
    assert len(in_domain) == 188 and {t.meta["difficulty"] for t in in_domain} == {
        1,
        2,
    }  # all of Calc test's levels 1-2
    assert all(t.id.startswith("calc-1") for t in in_domain)  # test tasks come from seeds 1,000,000 on
    assert {t.meta["difficulty"] for t in column_tasks(by_name["calc/test L3"])} == {3}
    assert {t.meta["difficulty"] for t in column_tasks(by_name["units/test L1-2"])} == {1, 2}
    bfcl = column_tasks(replace(by_name["bfcl"], episodes=10))
    assert [t.id for t in bfcl[:2]] == ["simple_python_0", "multiple_0"]  # categories taken in turn


def test_validation_is_carved_from_train_and_the_sft_arm_plays_the_rl_arms_tasks(tmp_path):
    from agents.ppo import rollout_plan, task_pools

    profile = replace(PROFILES["medium"], updates=3, episodes_per_update=16)
    config = ppo_config(profile, MULTI_WARM_START, "sparse", 1, tmp_path)
    train, validation = task_pools(config)
    assert len(train) == 932 + 910 - 96 and len(validation) == 96  # Calc train, levels 1 and 2, less the validation
    assert {t.meta["difficulty"] for t in train} == {1, 2} and not {t.id for t in train} & {t.id for t in validation}
    played = [reset["options"]["task_id"] for update in range(3) for reset in rollout_plan(config, train, update)[0]]
    assert len(played) == 48 and len(set(played[:16])) == 16  # GAE: one rollout of each of 16 tasks per update
    sft = ppo_config(profile, MULTI_WARM_START, "sft", 1, tmp_path)
    # The SFT arm: the teacher trajectory of each task played, one SFT step per RL optimizer step.
    assert [task.id for task in sft_plan(sft)] == played and sft_batch_size(sft) == 64
    # Under GRPO: each group's task once (one teacher trajectory per task), a minibatch of 64 is 8 groups.
    grpo = replace(profile, ppo={**profile.ppo, "advantage": "grpo", "group_size": 8})
    played = [
        reset["options"]["task_id"]
        for update in range(3)
        for reset in rollout_plan(ppo_config(grpo, MULTI_WARM_START, "sparse", 1, tmp_path), train, update)[0]
    ]
    assert len(played) == 48 and played[:8] == [played[0]] * 8  # 2 groups of 8 rollouts of one task per update
    sft = ppo_config(grpo, MULTI_WARM_START, "sft", 1, tmp_path)
    assert [task.id for task in sft_plan(sft)] == played[::8] and len(played[::8]) == 6
    assert sft_batch_size(sft) == 64 // 8


# --- the pipeline on a very small budget ---


def _micro(student: Path, seeds: tuple[int, ...] = (0, 1)) -> Profile:
    return Profile(
        warm_start=str(student),
        arms=("sft", "sparse", "dense"),
        seeds=seeds,
        updates=2,
        episodes_per_update=4,
        eval_every=1,
        validation_tasks=4,
        in_domain_episodes=4,
        ood_episodes=2,
        external_episodes=2,
        ppo={
            "max_new_tokens": 6,
            "max_turns": 2,
            "batch_envs": 4,
            "minibatch_size": 2,
            "advantage": "gae",
            "group_size": 1,
            "update_epochs": 2,
        },  # fmt: skip
    )


def _outcomes(stage: dict) -> dict:
    """What a stage found, less its timings."""
    updates = [
        {k: v for k, v in row.items() if k not in ("seconds", "time", "generated_tokens_per_s", "env_steps_per_s")}
        for row in stage.get("updates", [])
    ]
    return {"final": stage["final"], "curve": stage.get("curve"), "updates": updates}


def test_pipeline_end_to_end_saves_each_stage_and_resumes_from_them(tiny_student_path, tmp_path, capsys):
    profile = _micro(tiny_student_path)
    out = tmp_path / "run"
    results = run(profile, out)
    stages = sorted(path.stem for path in (out / "stages").glob("*.json"))
    assert stages == ["dense-seed0", "dense-seed1", "sft-seed0", "sft-seed1", "sparse-seed0", "sparse-seed1", "start"]
    assert not (out / "work").exists() or not list((out / "work").iterdir())  # finished runs leave no checkpoints
    assert [run_["seed"] for run_ in results["runs"]["dense"]] == [0, 1]
    names = [column["name"] for column in results["columns"]]
    assert list(results["start"]["final"]) == names
    assert (
        results["start"]["final"]["calc/test"]["episodes"] == 4
        and len(results["start"]["final"]["bfcl"]["correct"]) == 2
    )
    for run_ in results["runs"]["sparse"]:
        assert [point["update"] for point in run_["curve"]] == [0, 1, 2]  # the warm start, then one point per update
        assert run_["curve"][0]["success_rate"] == results["start"]["validation_success"]
        assert len(run_["updates"]) == 2 and run_["torch_threads"] == 1
    assert (
        results["runs"]["sft"][0]["sft"]["examples"] == 8
        and results["runs"]["sft"][0]["sft"]["optimizer_steps"] == 2 * 4
    )
    assert results["machine"]["torch_threads"] == 1 and results["machine"]["deterministic_algorithms"] is False

    text, paths = write_outputs({"profile_name": "micro", **results}, out)
    assert [p.name for p in paths] == [
        "results.json",
        "summary.md",
        "learning_curves.png",
        "paired_differences.png",
        "similarity_vs_success.png",
    ]
    assert all(p.stat().st_size > 0 for p in paths) and not list(out.glob("*.tmp*"))
    saved = json.loads((out / "results.json").read_text())
    assert text == (out / "summary.md").read_text() == summary_markdown(saved, saved["summary"])
    assert (
        "| sft - sparse |" in text
        and "| dense - sft |" in text
        and "Headline, dense" in text
        and "Power on calc/test" in text
    )

    # A rerun skips the saved stages (a marker in one survives) and redoes a deleted one, identically.
    marked = json.loads((out / "stages" / "sparse-seed1.json").read_text())
    (out / "stages" / "sparse-seed1.json").write_text(json.dumps({**marked, "wall_seconds": 12345.0}))
    deleted = json.loads((out / "stages" / "dense-seed0.json").read_text())
    (out / "stages" / "dense-seed0.json").unlink()
    capsys.readouterr()
    again = run(profile, out)
    printed = capsys.readouterr().out
    assert "stage 1/1: dense-seed0" in printed and "sparse-seed1: done earlier" in printed
    assert again["runs"]["sparse"][1]["wall_seconds"] == 12345.0
    redone = json.loads((out / "stages" / "dense-seed0.json").read_text())
    assert _outcomes(redone) == _outcomes(deleted)  # same seed, same numbers

    # A report over fewer seeds reuses their stages and runs nothing.
    capsys.readouterr()
    fewer = run(replace(profile, seeds=(1,)), out)
    assert "stage 1/" not in capsys.readouterr().out
    assert fewer["runs"]["sparse"][0]["wall_seconds"] == 12345.0

    # Another profile's folder is refused, naming the stage file.
    with pytest.raises(ValueError, match="start.json belongs to another profile"):
        run(replace(profile, updates=3), out)


def test_a_run_depends_on_its_seed_not_on_the_other_runs(tiny_student_path, tmp_path):
    both = run(_micro(tiny_student_path), tmp_path / "both")
    alone = run(_micro(tiny_student_path, seeds=(1,)), tmp_path / "alone")
    for arm in ("sft", "sparse", "dense"):
        assert _outcomes(alone["runs"][arm][0]) == _outcomes(both["runs"][arm][1]), arm


def test_a_second_run_on_the_same_results_folder_is_refused_at_once(tmp_path):
    import os

    from benchmarks import sb3_sparse_vs_dense, sparse_vs_dense
    from mentor_env.core.files import FolderLockedError, lock_folder

    with lock_folder(tmp_path):
        with pytest.raises(FolderLockedError, match=f"{tmp_path} is in use by process {os.getpid()}"):
            sparse_vs_dense.main(["--summarize-only", "--out", str(tmp_path)])
        with pytest.raises(FolderLockedError, match=f"{tmp_path} is in use by process {os.getpid()}"):
            sb3_sparse_vs_dense.main(["--out", str(tmp_path)])


# --- kills: no worker outlives its run, and the rerun resumes ---

KILLABLE_RUN = """
import sys
from pathlib import Path
from benchmarks.sparse_vs_dense import Profile, run
from mentor_env.core.files import lock_folder


def main(student, out):
    profile = Profile(
        warm_start=student, arms=("sparse",), seeds=(0,), updates=8, episodes_per_update=4, eval_every=1, validation_tasks=4,
        in_domain_episodes=4, ood_episodes=2, external_episodes=2, workers=2,
        ppo={"max_new_tokens": 6, "max_turns": 2, "batch_envs": 4, "minibatch_size": 2, "advantage": "gae", "group_size": 1,
             "update_epochs": 2},  # fmt: skip
    )
    with lock_folder(out):  # as main() does
        run(profile, out)
    print("finished", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
"""


GONE_WITHIN_S = 10.0  # a gross bound: the workers are gone within milliseconds


class KillableRun:
    """The benchmark with two workers in a subprocess, its output in a log file; the RL stage is ``sparse-seed0``."""

    def __init__(self, out: Path, log: Path) -> None:
        self.out, self.work, self.log = out, out / "work" / "sparse-seed0", log
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
        with open(log, "w") as handle:
            command = [sys.executable, "-c", textwrap.dedent(KILLABLE_RUN), str(MULTI_WARM_START), str(out)]
            self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT)
        self.seen: list[tuple[int, str]] = []  # every child it had, for the clean-up

    def checkpoint(self) -> int:
        """The update of the RL stage's newest checkpoint (0: none yet)."""
        from agents.ppo import latest_checkpoint

        found = latest_checkpoint(self.work)
        return int(found.name.rsplit("-", 1)[1]) if found is not None else 0

    def stage_holder(self) -> int | None:
        """The pid in the RL stage's lock file, when it is one of this run's workers."""
        self.seen = sorted(set(self.seen) | set(children(self.process.pid)))
        try:
            pid = int((self.work / ".lock").read_text())
        except (OSError, ValueError):
            return None
        return pid if pid in {child for child, _ in children(self.process.pid)} else None

    def wait_for_checkpoint_after(self, update: int) -> int:
        """Wait until a worker holds the RL stage's lock and its newest checkpoint is past ``update``."""
        wait_for(
            lambda: self.process.poll() is None and self.stage_holder() and self.checkpoint() > update,
            180,
            f"a checkpoint after {update}",
        )
        return self.checkpoint()

    def logged_rows(self, last_update: int) -> list[dict]:
        """The RL stage's metrics rows up to ``last_update``, as the stage's result keeps them (less the evaluations)."""
        rows = [json.loads(line) for line in (self.work / "metrics.jsonl").read_text().splitlines() if line.strip()]
        return [{k: v for k, v in row.items() if k != "eval"} for row in rows if row["update"] <= last_update]

    def output(self) -> str:
        return self.log.read_text()

    def clean_up(self) -> None:
        self.process.kill()
        self.process.wait()
        kill_all(self.seen)


def test_no_worker_outlives_a_killed_run_and_the_rerun_resumes(tmp_path):
    out = tmp_path / "run"
    runs = []
    try:
        # 1. A worker is killed (as the OOM killer would) mid-stage: the run stops, saying so; nothing is left running.
        runs.append(first := KillableRun(out, tmp_path / "first.log"))
        first_checkpoint = first.wait_for_checkpoint_after(0)
        os.kill(first.stage_holder(), signal.SIGKILL)
        assert first.process.wait(timeout=60) != 0
        assert re.search(
            r"RuntimeError: a worker process died \(killed, or out of memory\) with stages sparse-seed0(, start)? "
            r"unfinished; the finished stages are saved in .*: run the same command again to resume",
            first.output(),
        )
        assert wait_until_gone(first.seen, GONE_WITHIN_S)[0] == []
        first_rows = first.logged_rows(first_checkpoint)

        # 2. The rerun resumes; then its parent is killed with SIGKILL: every worker and the resource tracker go with it,
        # and the stage's lock is free at once.
        # The pool starts a worker per stage left (start may have finished before the kill), up to two.
        stages_left = 2 - len(list((out / "stages").glob("*.json")))
        runs.append(second := KillableRun(out, tmp_path / "second.log"))
        second_checkpoint = second.wait_for_checkpoint_after(first_checkpoint)
        second.process.kill()
        second.process.wait()
        assert stages_left in (1, 2) and len(second.seen) >= stages_left + 1  # the workers and the resource tracker
        left, _ = wait_until_gone(second.seen, GONE_WITHIN_S)
        assert left == [], [command_line(pid) for pid, _ in left]
        lock_folder(second.work).release()
        second_rows = second.logged_rows(second_checkpoint)

        # 3. The next rerun finishes, from the second run's checkpoint: the updates before it are the logged ones, timings included.
        runs.append(third := KillableRun(out, tmp_path / "third.log"))
        assert third.process.wait(timeout=300) == 0, third.output()[-3000:]
        assert "finished" in third.output()
        updates = json.loads((out / "stages" / "sparse-seed0.json").read_text())["updates"]
        assert [row["update"] for row in updates] == list(range(1, 9))
        assert 0 < first_checkpoint < second_checkpoint < 8
        assert updates[:first_checkpoint] == first_rows and updates[:second_checkpoint] == second_rows
        assert (out / "stages" / "start.json").exists() and not list((out / "work").iterdir())
    finally:
        for started in runs:
            started.clean_up()


def test_parallel_stages_draw_no_bars_that_would_overwrite_each_other(tmp_path):
    # Two workers' tqdm bars on one terminal interleave; with workers > 1 only the "stage k/n done" lines print.
    parallel = ppo_config(replace(PROFILES["medium"], workers=2), MULTI_WARM_START, "sparse", 0, tmp_path)
    alone = ppo_config(replace(PROFILES["medium"], workers=1), MULTI_WARM_START, "sparse", 0, tmp_path)
    assert parallel.progress_bar is False and alone.progress_bar is True
