"""The trainers' command lines for a newcomer: one torch thread unless told otherwise, a wrong model path
refused with a clear message before any output folder exists (issue 23), and flags declared by the config
dataclasses, one name per concept (issue 24)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from typing import Literal

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from agents.config import declared_parser, parse_declared  # noqa: E402
from agents.ppo import PPOConfig, PPOTrainer, RunOptions, parse_config  # noqa: E402
from agents.ppo import main as ppo_main  # noqa: E402
from agents.sft import SFTConfig, SFTRun  # noqa: E402
from agents.sft import main as sft_main  # noqa: E402
from agents.students import load_student  # noqa: E402


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    """These tests change torch's thread count; the next test gets the count it had."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def small_config(tmp_path, model, **overrides) -> PPOConfig:
    settings = dict(
        model=str(model), total_updates=1, episodes_per_update=4, group_size=2, minibatch_size=4,
        max_new_tokens=8, max_turns=2, eval_every=0, eval_episodes=2, checkpoint_every=0, max_difficulty=1,
        validation_tasks=0, eval_split="test", batch_envs=4, out=str(tmp_path / "run"), progress_bar=False,
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
    assert (
        "--threads THREADS torch CPU threads (torch's default, one per core, ran 21x slower on a busy 2-core machine) (default: 1)"
        in help_text
    )


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


def test_a_missing_checkpoint_to_start_from_is_refused_before_the_output_folder_exists(tmp_path):
    missing = tmp_path / "no-such-checkpoint"
    with pytest.raises(FileNotFoundError) as raised:
        PPOTrainer(small_config(tmp_path, missing))
    assert str(raised.value) == (
        f"--model {missing}: expected a local Hugging Face model directory (with a config.json), found no such "
        "folder; or one of the built-in students tiny, smollm2-135m"
    )
    assert not (tmp_path / "run").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="found a folder without config.json"):
        PPOTrainer(small_config(tmp_path, empty))
    assert not (tmp_path / "run").exists()


def test_a_missing_model_is_refused_before_the_output_folder_exists(tmp_path):
    missing = tmp_path / "no-such-model"
    out = tmp_path / "run"
    with pytest.raises(FileNotFoundError) as raised:
        ppo_main(["--model", str(missing), "--out", str(out), "--no-progress-bar"])
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
    history = sft_main(
        ["--model", str(tiny_student_path), "--tasks", "2", "--epochs", "1", "--out", str(tmp_path / "a")]
    )
    assert torch.get_num_threads() == 1 and len(history) == 1
    sft_main(
        [
            "--model",
            str(tiny_student_path),
            "--tasks",
            "2",
            "--epochs",
            "1",
            "--threads",
            "2",
            "--out",
            str(tmp_path / "b"),
        ]
    )
    assert torch.get_num_threads() == 2


def test_benchmarks_hand_their_thread_count_to_the_trainer(tmp_path):
    from benchmarks.ppo_learning import learning_config
    from benchmarks.sparse_vs_dense import PROFILES, ppo_config

    assert learning_config(0, tmp_path).threads == 1
    assert learning_config(0, tmp_path, threads=3).threads == 3
    profile = PROFILES["quick"]
    assert ppo_config(profile, tmp_path, "dense", 0, tmp_path / "run").threads == profile.threads
    assert ppo_config(replace(profile, threads=2), tmp_path, "dense", 0, tmp_path / "run").threads == 2


def test_model_takes_a_runs_final_weights_to_continue_from(tmp_path, tiny_student_path):
    trained = PPOTrainer(small_config(tmp_path / "first", tiny_student_path, learning_rate=1e-2))
    trained.train()
    final = tmp_path / "first" / "run" / "final"
    weights = {name: p.detach().clone() for name, p in trained.model.named_parameters()}
    continued = PPOTrainer(small_config(tmp_path / "second", final))
    loaded = dict(continued.model.named_parameters())
    continued.close()
    assert all(torch.equal(loaded[name], value) for name, value in weights.items())
    start = dict(PPOTrainer(small_config(tmp_path / "third", tiny_student_path)).model.named_parameters())
    assert any(not torch.equal(start[name], value) for name, value in weights.items())  # the update moved them


# --- declared configuration (agents.config) ---


def _help(capsys, main, argv=("--help",)) -> str:
    """What ``main(argv)`` prints for --help, one space between words (argparse wraps at the terminal width)."""
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    assert exited.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def _error(capsys, main, argv) -> str:
    """The last line ``main(argv)`` writes to stderr when it stops on a command-line error (exit status 2)."""
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    assert exited.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    "main, config_types",
    [(ppo_main, (PPOConfig, RunOptions)), (sft_main, (SFTRun, SFTConfig))],
    ids=["ppo", "sft"],
)
def test_help_shows_every_fields_help(capsys, monkeypatch, main, config_types):
    monkeypatch.setenv("COLUMNS", "1000")  # no wrapping: a help text is one line
    text = _help(capsys, main)
    for config_type in config_types:
        for declared in fields(config_type):
            flag = "--" + declared.name.replace("_", "-")
            assert flag in text, flag
            assert declared.metadata["help"] in text, declared.name


def test_help_shows_flags_with_their_help_and_defaults(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")
    ppo = _help(capsys, ppo_main)
    assert (
        "--max_difficulty MAX_DIFFICULTY, --max-difficulty MAX_DIFFICULTY keep only tasks up to this difficulty "
        "(None: all) (default: 2)"
    ) in ppo
    assert (
        "--advantage {gae,grpo} 'gae' (PPO with a value head) or 'grpo' (group-relative, no value head; needs "
        "--group-size) (default: gae)"
    ) in ppo
    assert (
        "--out OUT the run's folder: metrics.jsonl, checkpoint-<update>/, final/ (one trainer at a time) "
        "(default: runs/ppo)"
    ) in ppo
    assert "--no_progress_bar, --no-progress-bar a tqdm bar with success, reward, KL and tokens/s --verbose" in ppo
    sft = _help(capsys, sft_main)
    assert "--out OUT the output folder: the model, its tokenizer and sft_history.json (one run at a time) --model" in (
        sft
    )
    assert "--domains DOMAINS [DOMAINS ...] domains whose teacher trajectories to train on (default: ['calc'])" in sft
    assert (
        "--weight_decay WEIGHT_DECAY, --weight-decay WEIGHT_DECAY AdamW's decoupled weight decay (default: 0.0)"
    ) in sft


def test_flags_parse_to_the_fields_types():
    config, resume = parse_config(
        ["--max-difficulty", "3", "--min_difficulty", "1", "--no-progress-bar", "--lora", "--advantage", "grpo",
         "--learning-rate", "3e-4", "--model", "tiny", "--out", "runs/x", "--resume"]
    )  # fmt: skip
    assert (config.max_difficulty, config.min_difficulty, config.progress_bar, config.lora) == (3, 1, False, True)
    assert (config.advantage, config.learning_rate, config.model, config.out) == ("grpo", 3e-4, "tiny", "runs/x")
    assert resume is True
    assert parse_config([]) == (PPOConfig(), False)
    argv = ["--out", "o", "--domains", "calc", "units", "--max-difficulty", "4"]
    run, sft = parse_declared([SFTRun, SFTConfig], argv, "")
    assert run == SFTRun(out="o", domains=["calc", "units"], max_difficulty=4) and sft == SFTConfig()


def test_a_field_added_to_a_config_is_a_flag_with_its_help_and_default_and_nothing_else_to_edit(capsys, monkeypatch):
    @dataclass
    class Extended(PPOConfig):
        warmup_temperature: float | None = field(default=None, metadata={"help": "sample hotter in the warm-up"})
        shuffle_groups: bool = field(default=True, metadata={"help": "shuffle groups between minibatches"})
        schedule: Literal["linear", "cosine"] = field(default="linear", metadata={"help": "how the rate decays"})

    (config,) = parse_declared([Extended], [], "")
    assert (config.warmup_temperature, config.shuffle_groups, config.schedule) == (None, True, "linear")
    argv = ["--warmup-temperature", "1.5", "--no-shuffle-groups", "--schedule", "cosine"]
    (config,) = parse_declared([Extended], argv, "")
    assert (config.warmup_temperature, config.shuffle_groups, config.schedule) == (1.5, False, "cosine")
    assert config.reward_mode == "sparse" and config.total_updates == 40  # the inherited fields keep their defaults
    monkeypatch.setenv("COLUMNS", "1000")
    text = " ".join(declared_parser([Extended], "").format_help().split())
    assert (
        "--warmup_temperature WARMUP_TEMPERATURE, --warmup-temperature WARMUP_TEMPERATURE sample hotter in the "
        "warm-up (default: None)"
    ) in text
    assert (
        "--shuffle_groups [SHUFFLE_GROUPS], --shuffle-groups [SHUFFLE_GROUPS] shuffle groups between minibatches "
        "(default: True) --no_shuffle_groups, --no-shuffle-groups shuffle groups between minibatches --schedule"
    ) in text
    assert "--schedule {linear,cosine} how the rate decays (default: linear)" in text
    assert "error: argument --schedule: invalid choice: 'step' (choose from" in _error(
        capsys, lambda argv: parse_declared([Extended], argv, ""), ["--schedule", "step"]
    )


@pytest.mark.parametrize("main", [parse_config, sft_main], ids=["ppo", "sft"])
def test_an_unknown_flag_is_refused_by_name(capsys, main):
    assert _error(capsys, main, ["--out", "o", "--learning-rte", "1e-3"]).endswith(
        "error: unrecognized arguments: --learning-rte 1e-3"
    )


@pytest.mark.parametrize("main", [parse_config, sft_main], ids=["ppo", "sft"])
def test_the_retired_flags_name_what_replaced_them(capsys, main):
    for flag in ("--init-from", "--init_from"):
        assert _error(capsys, main, ["--out", "o", flag, "runs/ppo/final"]).endswith(
            f"error: {flag} was removed: pass the weights to start from as --model (a built-in student's name or a "
            "local model directory, such as an SFT output or a PPO run's final/)"
        )
    assert _error(capsys, main, ["--output-dir=runs/x"]).endswith(
        "error: --output-dir was removed: the output folder is --out"
    )
    assert _error(capsys, main, ["--json", "r.json"]).endswith("error: --json was removed: the output file is --out")


def test_a_value_a_config_refuses_is_a_command_line_error(capsys, tmp_path):
    assert _error(capsys, sft_main, ["--out", str(tmp_path / "o"), "--threads", "0"]).endswith(
        "error: threads must be an integer >= 1, got 0"
    )
    assert not (tmp_path / "o").exists()
