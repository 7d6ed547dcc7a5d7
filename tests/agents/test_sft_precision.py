"""SFT under bfloat16 autocast: the same loss as fp32 to bf16's precision, and the history times each step."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("transformers")

from agents.lm_policy import ChatLayout  # noqa: E402
from agents.sft import SFTConfig, autocast, build_dataset, collate, sequence_loss, train_sft  # noqa: E402
from mentor_env.core.splits import load_split  # noqa: E402
from mentor_env.domains import get_domain  # noqa: E402


def _model_and_batch(path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    tasks = load_split(get_domain("calc"), "train")[:4]
    batch = collate(build_dataset(ChatLayout(tokenizer), tasks, 1024), tokenizer.pad_token_id)
    return model, tokenizer, tasks, batch


def test_bf16_autocast_gives_the_fp32_loss_to_bf16s_precision(tiny_student_path):
    model, _, _, batch = _model_and_batch(tiny_student_path)
    with torch.no_grad():
        fp32 = sequence_loss(model, batch).item()
        bf16 = sequence_loss(model, batch, "bf16").item()
    assert fp32 > 5.0  # random weights: about ln(vocabulary), not a trained model's loss
    assert bf16 != fp32 and abs(bf16 - fp32) < 0.02 * fp32
    assert next(model.parameters()).dtype == torch.float32  # autocast leaves the weights as they were


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision must be 'fp32' or 'bf16', got 'fp16'"):
        autocast("fp16", torch.device("cpu"))


def test_bf16_training_lowers_the_loss_and_times_every_step(tiny_student_path):
    model, tokenizer, tasks, batch = _model_and_batch(tiny_student_path)
    config = SFTConfig(epochs=3, batch_size=2, learning_rate=3e-3, warmup_steps=1, precision="bf16")
    history = train_sft(model, tokenizer, tasks, config)
    assert [row["step"] for row in history] == [0, 1, 2, 3, 4, 5]
    assert history[-1]["loss"] < history[0]["loss"]
    seconds = [row["seconds"] for row in history]
    assert seconds == sorted(seconds) and seconds[0] > 0
