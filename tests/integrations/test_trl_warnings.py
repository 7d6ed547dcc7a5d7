"""The README's TRL path prints no warning from our helpers (issue 23).

What a newcomer saw (trl 1.16, transformers 5.25): a ``gradient_checkpointing`` FutureWarning from
``GRPOConfig(...)`` (transformers' TrainingArguments), TRL's "environment_factory is experimental" UserWarning from
``GRPOTrainer(...)``, and three more transformers FutureWarnings per step from ``trainer.train()``. All of them come
from the user's own calls into TRL, which we do not wrap; this test keeps our helpers from adding any.
"""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("datasets")
pytest.importorskip("transformers")


def test_the_documented_trl_helpers_emit_no_warning():
    from transformers import AutoTokenizer

    from agents.sft import warm_start_path
    from mentor_env.integrations.trl import (
        add_hermes_response_template,
        environment_factory,
        mentor_reward,
        reward_func,
        sparse_reward,
        to_hf_dataset,
        trl_tools,
    )

    tokenizer = AutoTokenizer.from_pretrained(warm_start_path())  # the user's own call
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        factory = environment_factory("mentor/Calc-v0", reward_mode="mentor")
        tokenizer = add_hermes_response_template(tokenizer)
        plain = to_hf_dataset("calc", "train", limit=2, tools_in_prompt=False)
        templated = to_hf_dataset("calc", "train", limit=2, tokenizer=tokenizer)
        tools = trl_tools("calc")
        env = factory()
        env.reset(**plain[0])
        completion = "\\boxed{1}"
        rewards = [
            factory.reward([[{"role": "assistant", "content": completion}]], environments=[env]),
            reward_func("mentor", eos_token_id=tokenizer.eos_token_id)(
                [completion], answer=[plain[0]["answer"]], domain=["calc"], teacher_tools=[plain[0]["teacher_tools"]]
            ),
            mentor_reward([completion], **{key: [plain[0][key]] for key in ("answer", "domain", "teacher_tools")}),
            sparse_reward([completion], **{key: [plain[0][key]] for key in ("answer", "domain", "teacher_tools")}),
        ]
    assert (
        len(templated) == 2 and len(tools) == 12 and rewards == [[0.1]] * 4
    )  # a wrong answer, boxed: the format part only
    assert [(w.category.__name__, str(w.message)[:120], w.filename) for w in caught] == []
