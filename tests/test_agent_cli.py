"""The trainers' command lines for a newcomer: one torch thread unless told otherwise, and a wrong model path
refused with a clear message before any output folder exists (issue 23)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from agents.ppo import PPOConfig, PPOTrainer, parse_config  # noqa: E402
from agents.sft import main as sft_main  # noqa: E402
from agents.students import load_student  # noqa: E402


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    """These tests change torch's thread count; the next test gets the count it had."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def small_config(tmp_path, init_from, **overrides) -> PPOConfig:
    settings = dict(
        init_from=str(init_from), total_updates=1, episodes_per_update=4, group_size=2, minibatch_size=4,
        max_new_tokens=8, max_turns=2, eval_every=0, eval_episodes=2, checkpoint_every=0, max_difficulty=1,
        validation_tasks=0, eval_split="test", batch_envs=4, output_dir=str(tmp_path / "run"), progress_bar=False,
        verbose=False, eval_at_start=False,
    )  # fmt: skip
    settings.update(overrides)
    return PPOConfig(**settings)


def test_ppo_runs_one_thread_unless_told_otherwise(capsys):
    assert PPOConfig().threads == 1
    assert parse_config([])[0].threads == 1
    assert parse_config(["--threads", "2"])[0].threads == 2
    with pytest.raises(SystemExit):
        parse_config(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--threads THREADS torch CPU threads (torch's default, one per core, ran 21x slower on a busy 2-core machine) (default: 1)" in help_text


def test_the_trainer_applies_and_records_its_thread_count(tmp_path, tiny_student_path):
    torch.set_num_threads(2)
    trainer = PPOTrainer(small_config(tmp_path, tiny_student_path))
    assert torch.get_num_threads() == 1  # the default, whatever the process had
    history = trainer.train()
    assert history[0]["torch_threads"] == 1
    assert json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])["torch_threads"] == 1
    PPOTrainer(small_config(tmp_path, tiny_student_path, threads=2)).close()
    assert torch.get_num_threads() == 2
    with pytest.raises(ValueError, match="threads must be an integer >= 1, got 0"):
        PPOTrainer(small_config(tmp_path / "zero", tiny_student_path, threads=0))
    assert not (tmp_path / "zero").exists()


def test_a_missing_init_from_is_refused_before_the_output_folder_exists(tmp_path):
    missing = tmp_path / "no-such-checkpoint"
    with pytest.raises(FileNotFoundError) as raised:
        PPOTrainer(small_config(tmp_path, missing))
    assert str(raised.value) == (
        f"--init-from {missing}: expected a local Hugging Face model directory (with a config.json), found no such "
        "folder; train it first or fix the path"
    )
    assert not (tmp_path / "run").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="found a folder without config.json"):
        PPOTrainer(small_config(tmp_path, empty))
    assert not (tmp_path / "run").exists()


def test_a_missing_model_is_refused_before_the_output_folder_exists(tmp_path):
    from agents.ppo import main as ppo_main

    missing = tmp_path / "no-such-model"
    out = tmp_path / "run"
    with pytest.raises(FileNotFoundError) as raised:
        ppo_main(["--model", str(missing), "--output-dir", str(out), "--no-progress-bar"])
    assert str(raised.value) == (
        f"--model {missing}: expected a local Hugging Face model directory (with a config.json), found no such "
        "folder; or one of the built-in students tiny, smollm2-135m"
    )
    assert not out.exists()
    with pytest.raises(FileNotFoundError, match=f"--model {missing}: expected a local Hugging Face model directory"):
        load_student(str(missing))


def test_sft_refuses_a_missing_model_before_its_output_folder_exists(tmp_path):
    out = tmp_path / "sft"
    with pytest.raises(FileNotFoundError, match=f"--model {tmp_path / 'nope'}: expected a local Hugging Face model"):
        sft_main(["--model", str(tmp_path / "nope"), "--out", str(out), "--tasks", "1"])
    assert not out.exists()


def test_sft_runs_the_threads_it_is_given(tmp_path, tiny_student_path):
    torch.set_num_threads(2)
    history = sft_main(["--model", str(tiny_student_path), "--tasks", "2", "--epochs", "1", "--out", str(tmp_path / "a")])
    assert torch.get_num_threads() == 1 and len(history) == 1
    sft_main(["--model", str(tiny_student_path), "--tasks", "2", "--epochs", "1", "--threads", "2", "--out", str(tmp_path / "b")])
    assert torch.get_num_threads() == 2


def test_benchmarks_hand_their_thread_count_to_the_trainer(tmp_path):
    from benchmarks.ppo_learning import learning_config
    from benchmarks.sparse_vs_dense import PROFILES, ppo_config

    assert learning_config(0, tmp_path).threads == 1
    assert learning_config(0, tmp_path, threads=3).threads == 3
    profile = PROFILES["quick"]
    assert ppo_config(profile, tmp_path, "dense", 0, tmp_path / "run").threads == profile.threads
    assert ppo_config(replace(profile, threads=2), tmp_path, "dense", 0, tmp_path / "run").threads == 2
