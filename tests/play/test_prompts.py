"""The one prompt renderer on real tokenizers: templates that render tools keep their prompts token for token."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest

pytest.importorskip("transformers")

import mentor_env  # noqa: E402,F401
from mentor_env.core.messages import assistant_message, system_message, tool_message, user_message  # noqa: E402
from mentor_env.play.lm import ChatLayout, render_prompt  # noqa: E402

WARM_START = Path(__file__).resolve().parents[2] / "agents" / "checkpoints" / "tiny-multi-sft"
# SmolLM2-135M-Instruct's chat template, as its tokenizer carries it: no tool support.
SMOLLM2_TEMPLATE = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
# The committed warm start's prompt for Calc test task calc-1000000, as it was before the compact tool
# rendering existed: the tiny template renders tools itself, so the prompt must not move by a token.
WARM_START_CALC_PROMPT = [
    1, 482, 201, 452, 446, 261, 605, 595, 459, 939, 908, 882, 955, 359, 290, 604, 411, 544, 16, 660, 540, 606, 678, 359,
    261, 334, 369, 29, 374, 488, 496, 455, 500, 477, 291, 426, 454, 16, 498, 374, 494, 290, 588, 14, 493, 491, 261, 334,
    369, 353, 541, 290, 474, 349, 291, 386, 388, 601, 201, 201, 5, 499, 201, 15, 433, 10, 67, 28, 289, 14, 327, 28,
    289, 11, 201, 15, 597, 10, 67, 28, 289, 14, 327, 28, 289, 11, 201, 15, 586, 10, 67, 28, 289, 14, 327, 28,
    289, 11, 201, 15, 602, 10, 67, 28, 289, 14, 327, 28, 289, 11, 201, 15, 583, 65, 445, 10, 445, 28, 599, 11,
    201, 15, 842, 10, 90, 28, 289, 11, 201, 15, 849, 10, 90, 28, 289, 11, 201, 15, 558, 65, 284, 10, 90, 28,
    289, 14, 641, 28, 389, 11, 201, 15, 836, 10, 808, 28, 289, 14, 916, 28, 289, 11, 201, 15, 839, 10, 90, 28,
    289, 11, 201, 15, 843, 65, 568, 10, 90, 28, 289, 11, 201, 15, 878, 10, 67, 28, 289, 14, 327, 28, 289, 11,
    201, 481, 261, 334, 345, 223, 2048, 295, 319, 275, 495, 278, 333, 275, 460, 370, 332, 2049, 16, 2, 201, 1, 338, 201,
    49, 351, 223, 22, 503, 261, 327, 1197, 443, 1654, 223, 19, 18, 19, 14, 223, 19, 26, 23, 14, 223, 19, 25, 353,
    223, 27, 22, 1511, 67, 757, 391, 1391, 506, 16, 804, 710, 1511, 67, 757, 1209, 509, 1149, 291, 261, 780, 33, 2, 201,
    1, 339, 201,
]  # fmt: skip


def _tokenizer(template: str | None = None):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(WARM_START)
    if template is not None:
        tokenizer.chat_template = template
    return tokenizer


def test_the_committed_warm_starts_calc_prompt_is_unchanged():
    env = gym.make("mentor/Calc-v0", split="test")
    _, info = env.reset(options={"task_id": "calc-1000000"})
    ids = ChatLayout(_tokenizer()).prompt_ids(info["messages"], info["tools"])
    assert len(ids) == 267
    assert ids == WARM_START_CALC_PROMPT


def test_a_template_without_tool_support_gets_one_line_a_tool_and_hermes_turns():
    tool = {
        "type": "function",
        "function": {
            "name": "add",
            "description": "Add two numbers: a + b. Both are finite.",
            "parameters": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}},
        },
    }
    messages = [
        system_message("Solve it."),
        user_message("2+3?"),
        assistant_message("", [("add", {"a": 2, "b": 3})]),
        tool_message("add", "5"),
    ]
    assert render_prompt(_tokenizer(SMOLLM2_TEMPLATE), messages, [tool]) == (
        "<|im_start|>system\nSolve it.\n\n# Tools\n- add(a?: number, b?: number): Add two numbers: a + b.\n"
        'Call a tool as <tool_call>{"name": ..., "arguments": {...}}</tool_call>.<|im_end|>\n'
        "<|im_start|>user\n2+3?<|im_end|>\n"
        '<|im_start|>assistant\n<tool_call>\n{"name": "add", "arguments": {"a": 2, "b": 3}}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\n<tool_response>\n5\n</tool_response><|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_without_tools_the_system_turn_is_left_as_it_is():
    prompt = render_prompt(_tokenizer(SMOLLM2_TEMPLATE), [system_message("S"), user_message("U")], [])
    assert prompt == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"
