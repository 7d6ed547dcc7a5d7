"""Teacher guidance at the token level: the per-token teacher reward, the reward modes opd and mentor+opd."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from agents.lm_policy import TokenTrace  # noqa: E402
from agents.ppo import (  # noqa: E402
    PPOTrainer,
    check_same_tokenizer,
    env_reward_mode,
    env_reward_weight,
    teacher_metrics,
    teacher_token_rewards,
)
from mentor_env.play.generation import action_logprobs  # noqa: E402
from tests.agents.test_agents import small_config  # noqa: E402

TEMPERATURE = 0.7


@pytest.fixture(scope="module")
def teacher_path(tiny_student_path, tmp_path_factory):
    """The tiny student's architecture and tokenizer with other weights: a model that disagrees with the student."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_student_path)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.2 * torch.randn(parameter.shape, generator=generator))
    path = tmp_path_factory.mktemp("teacher")
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(tiny_student_path).save_pretrained(path)
    return path


def hand_built_episodes() -> list[SimpleNamespace]:
    """Three episodes sharing a prompt: sampled turns, environment tokens between them, different lengths."""
    prompt = [11, 12, 13, 14, 15]
    layouts = [
        (prompt + [40, 41, 42] + [60, 61] + [43, 44], [0] * 5 + [1] * 3 + [0] * 2 + [1] * 2),
        (prompt + [50, 51, 52, 53, 54, 55], [0] * 5 + [1] * 6),
        (prompt + [16, 70] + [80, 81, 82] + [71], [0] * 6 + [1] + [0] * 3 + [1]),
    ]
    return [
        SimpleNamespace(trace=TokenTrace(token_ids=ids, action_mask=[bool(m) for m in mask]), group=row)
        for row, (ids, mask) in enumerate(layouts)
    ]


def plain_sampled_logprobs(model, ids: list[int], mask: list[bool]) -> list[float]:
    """log p(token | everything before it) at each sampled token, from one plain forward pass of the whole sequence."""
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float() / TEMPERATURE
    logp = torch.log_softmax(logits, dim=-1)
    return [logp[i - 1, ids[i]].item() for i in range(1, len(ids)) if mask[i]]


def test_the_teacher_reward_is_the_teacher_minus_the_student_log_probability_of_each_sampled_token(
    tiny_student_path, teacher_path
):
    from transformers import AutoModelForCausalLM

    student = AutoModelForCausalLM.from_pretrained(tiny_student_path).eval()
    teacher = AutoModelForCausalLM.from_pretrained(teacher_path).eval()
    episodes = hand_built_episodes()
    ids = [e.trace.token_ids for e in episodes]
    masks = [e.trace.action_mask for e in episodes]
    with torch.no_grad():
        old = action_logprobs(student, ids, masks, TEMPERATURE, 0, groups=[e.group for e in episodes])
        rewards = teacher_token_rewards(teacher, episodes, old.logp, TEMPERATURE, 0, chunk_size=2)

    # Masks: 5, 6 and 2 sampled tokens, in the compact layout, zero past each row's last one.
    assert rewards.shape == (3, 6)
    assert old.valid.sum(dim=1).tolist() == [5, 6, 2]
    for row, episode in enumerate(episodes):
        expected = [
            t - s
            for t, s in zip(
                plain_sampled_logprobs(teacher, episode.trace.token_ids, episode.trace.action_mask),
                plain_sampled_logprobs(student, episode.trace.token_ids, episode.trace.action_mask),
            )
        ]
        count = len(expected)
        assert rewards[row, :count].tolist() == pytest.approx(expected, abs=1e-4)
        assert rewards[row, count:].tolist() == [0.0] * (6 - count)
    assert rewards.abs().max().item() > 0.05  # the two models disagree: the test compares something


def test_a_teacher_that_is_the_student_gives_a_reward_of_zero(tiny_student_path):
    from transformers import AutoModelForCausalLM

    student = AutoModelForCausalLM.from_pretrained(tiny_student_path).eval()
    episodes = hand_built_episodes()
    with torch.no_grad():
        old = action_logprobs(
            student, [e.trace.token_ids for e in episodes], [e.trace.action_mask for e in episodes], TEMPERATURE, 0
        )
        rewards = teacher_token_rewards(student, episodes, old.logp, TEMPERATURE, 0)
    assert rewards.abs().max().item() < 1e-5


def fake_tokenizer(vocab: dict[str, int], eos: int = 2, pad: int = 0) -> SimpleNamespace:
    return SimpleNamespace(get_vocab=lambda: dict(vocab), eos_token_id=eos, pad_token_id=pad)


def test_tokenizers_must_agree_on_every_id_and_the_error_names_both_models():
    vocab = {"<pad>": 0, "a": 1, "</s>": 2, "b": 3}
    check_same_tokenizer(fake_tokenizer(vocab), fake_tokenizer(vocab), "student", "teacher")  # the same: no error
    with pytest.raises(ValueError) as caught:
        check_same_tokenizer(
            fake_tokenizer(vocab), fake_tokenizer({**vocab, "b": 4, "c": 3}), "runs/student", "big/teacher"
        )
    message = str(caught.value)
    assert (
        "the teacher 'big/teacher' has another tokenizer (SimpleNamespace) than the student 'runs/student' "
        "(SimpleNamespace): " in message
    )
    assert "vocabularies of 4 and 5 tokens, 1 of the student's with another id or none" in message
    with pytest.raises(ValueError, match="eos_token_id 2 against 5"):
        check_same_tokenizer(fake_tokenizer(vocab), fake_tokenizer(vocab, eos=5), "s", "t")


def test_a_teacher_with_another_tokenizer_is_refused_before_training(tmp_path, tiny_student_path):
    from agents.students import build_tiny_student, teacher_corpus

    other = tmp_path / "other-family"
    build_tiny_student(
        other, seed=0, vocab_size=600, hidden_size=32, layers=1, corpus=list(teacher_corpus(tasks_per_domain=20))
    )
    config = small_config(tmp_path, tiny_student_path, reward_mode="opd", teacher_model=str(other))
    with pytest.raises(ValueError, match=f"the teacher '{other}' has another tokenizer \\(Qwen2Tokenizer"):
        PPOTrainer(config)


def test_teacher_modes_need_a_teacher_and_keep_their_env_reward(tmp_path, tiny_student_path):
    with pytest.raises(ValueError, match="scores each sampled token with a teacher model: give --teacher-model"):
        PPOTrainer(small_config(tmp_path, tiny_student_path, reward_mode="mentor+opd"))
    with pytest.raises(FileNotFoundError, match="--teacher-model"):
        PPOTrainer(small_config(tmp_path, tiny_student_path, reward_mode="opd", teacher_model=str(tmp_path / "none")))
    assert (env_reward_mode("opd"), env_reward_weight("opd")) == ("sparse", 0.0)
    assert (env_reward_mode("mentor+opd"), env_reward_weight("mentor+opd")) == ("mentor", 1.0)
    assert (env_reward_mode("dense"), env_reward_weight("dense")) == ("dense", 1.0)


def test_teacher_metrics_report_the_mean_token_reward_and_its_share_of_the_return():
    reward = torch.tensor([[-1.0, -0.5, 0.0], [-2.0, 0.0, 0.0]])
    valid = torch.tensor([[True, True, True], [True, False, False]])
    metrics = teacher_metrics(reward, valid, 0.5 * reward, env_returns=[1.0, 0.0])
    # Tokens: (-1 - 0.5 + 0 - 2) / 4; episodes: 0.5 x (-1.5, -2) -> mean -0.875, magnitude 0.875 against 0.5.
    assert metrics == pytest.approx(
        {"token_reward": -0.875, "episode_return": -0.875, "share_of_return": 0.875 / 1.375}
    )
    assert teacher_metrics(reward, valid, torch.zeros_like(reward), [1.0, 0.0])["share_of_return"] == 0.0


@pytest.mark.parametrize("mode, trained_on", [("opd", True), ("mentor+opd", True), ("sparse", False)])
def test_an_update_with_a_teacher_trains_on_its_reward_in_a_teacher_mode_and_logs_it_otherwise(
    tmp_path, tiny_student_path, teacher_path, mode, trained_on
):
    config = small_config(tmp_path, tiny_student_path, reward_mode=mode, teacher_model=str(teacher_path))
    trainer = PPOTrainer(config)
    episodes = trainer.rollout(0)
    valid_logp = trainer.logprobs(trainer.model, episodes)
    reward, term = trainer.teacher_pass(episodes, valid_logp.logp.detach())
    assert reward is not None and reward.abs().max().item() > 0
    if trained_on:
        assert torch.equal(term, config.opd_coef * reward)
    else:
        assert term.abs().max().item() == 0.0
    rows = trainer.train()
    teacher = rows[0]["teacher"]
    assert set(teacher) == {"token_reward", "episode_return", "share_of_return"}
    assert teacher["token_reward"] < 0  # a random teacher finds the student's tokens less likely than it does
    if mode == "opd":
        assert teacher["share_of_return"] == 1.0  # no env reward is trained on
    elif mode == "mentor+opd":
        assert 0.0 < teacher["share_of_return"] <= 1.0
    else:
        assert (teacher["episode_return"], teacher["share_of_return"]) == (0.0, 0.0)
    assert rows[0]["time"]["teacher"] > 0.0


def test_opd_advantages_are_the_token_term_alone(tmp_path, tiny_student_path, teacher_path):
    """With no env reward, a zero-initialised value head and no KL, each token's advantage is its teacher term."""
    config = small_config(tmp_path, tiny_student_path, reward_mode="opd", teacher_model=str(teacher_path), kl_coef=0.0)
    with PPOTrainer(config) as trainer:
        episodes = trainer.rollout(0)
        with torch.no_grad():
            old = trainer.logprobs(trainer.model, episodes, trainer.value_head)
        _, term = trainer.teacher_pass(episodes, old.logp)
        advantages, returns = trainer.advantages(episodes, old.valid, torch.zeros_like(old.logp), old.values, term)
    assert torch.allclose(advantages, term * old.valid)
    assert returns.abs().max().item() == 0.0
