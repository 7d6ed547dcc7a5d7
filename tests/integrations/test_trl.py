"""mentor_env.integrations.trl: reward functions in TRL's convention, the dataset, and real GRPOTrainer steps."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mentor_env.core.messages import render_assistant_text
from mentor_env.core.splits import load_split
from mentor_env.domains import get_domain
from mentor_env.integrations.scoring import score_completion
from mentor_env.integrations.trl import (
    HERMES_RESPONSE_TEMPLATE,
    REWARD_FUNCS,
    MentorReward,
    add_hermes_response_template,
    mentor_reward,
    reward_func,
    sparse_reward,
    trl_tools,
)
from tests.conftest import call

try:
    import datasets  # noqa: F401
    import trl  # noqa: F401

    MISSING = ""
except ImportError as exc:  # the reward functions need neither; the dataset and the trainer do
    MISSING = f"the TRL integration needs the trl and datasets packages: pip install 'mentor-env[trl]' ({exc})"
needs_trl = pytest.mark.skipif(bool(MISSING), reason=MISSING)

RIGHT = call("add", a=2, b=3) + "\n" + call("multiply", a=5, b=4) + "\n\\boxed{20}"
WRONG = RIGHT.replace("\\boxed{20}", "\\boxed{19}")


def columns(count: int, **overrides: Any) -> dict[str, Any]:
    """Dataset columns as TRL passes them: one list per column, one value per completion."""
    base = {
        "answer": ["20"] * count,
        "domain": ["calc"] * count,
        "task_id": [f"t{i}" for i in range(count)],
        "teacher_tools": [["add", "multiply"]] * count,
    }
    base.update(overrides)
    return base


def test_reward_functions_take_trls_call_convention():
    completions = [RIGHT, WRONG, "no answer", [{"role": "assistant", "content": RIGHT}]]
    kwargs = columns(
        4, prompts=["p"] * 4, completion_ids=[[1, 2]] * 4, trainer_state=None, log_extra=None, log_metric=None
    )
    assert mentor_reward(completions=completions, **kwargs) == [1.1, 0.16, 0.1, 1.1]
    assert sparse_reward(completions=completions, **kwargs) == [1.0, 0.1, 0.1, 1.0]
    assert REWARD_FUNCS["mentor_partial"](completions=completions, **kwargs) == [1.0, 0.06, 0.1, 1.0]
    assert REWARD_FUNCS["mentor_nomatch"](completions=completions, **kwargs) == [0.8, 0.1, 0.1, 0.8]
    assert REWARD_FUNCS["mentor_f1"](completions=completions, **kwargs) == [1.1, 0.16, 0.1, 1.1]
    assert [f.__name__ for f in REWARD_FUNCS.values()] == [
        "sparse",
        "mentor",
        "mentor_partial",
        "mentor_nomatch",
        "mentor_f1",
    ]


def test_other_teacher_columns_and_domains():
    task = load_split(get_domain("dates"), "test")[0]
    text = "\n".join(render_assistant_text(m) for m in task.teacher.messages if m["role"] == "assistant")
    kwargs = {
        "answer": ["20", task.answer],
        "domain": ["calc", "dates"],
        "teacher_messages": [json.dumps([]), json.dumps(list(task.teacher.messages))],
    }
    # Row 0: a teacher without calls, a student with calls: no match.
    assert mentor_reward([RIGHT, text], **kwargs) == [0.8, 1.1]
    published = {"answer": ["20"], "domain": ["mentor/calc"], "tool_calls_used": [["add", "multiply"]]}
    assert mentor_reward([RIGHT], **published) == [1.1]
    # Sparse needs no teacher column; a fixed domain needs no domain column.
    assert sparse_reward([RIGHT], answer=["20"], domain=["calc"]) == [1.0]
    assert reward_func("mentor", domain="calc")([WRONG], answer=["20"], teacher_tools=[["add", "multiply"]]) == [0.16]


def test_cut_completions_score_zero_when_the_eos_is_known():
    eos = 7
    with_eos = reward_func("mentor", eos_token_id=eos, name="mentor_eos")
    kwargs = columns(3, completion_ids=[[3, 4, eos], [3, 4, 5], []])
    assert with_eos([RIGHT, RIGHT, RIGHT], **kwargs) == [1.1, 0.0, 0.0]
    assert mentor_reward([RIGHT, RIGHT, RIGHT], **kwargs) == [1.1, 1.1, 1.1]
    assert with_eos.__name__ == "mentor_eos"
    assert reward_func("sparse", eos_token_id=[7, 8])([RIGHT], **columns(1, completion_ids=[[8]])) == [1.0]


def test_clear_errors():
    with pytest.raises(ValueError, match=r"needs the dataset column\(s\) \['answer'\]; it was called with \['domain'"):
        mentor_reward([RIGHT], domain=["calc"], teacher_tools=[["add"]], trainer_state=None)
    with pytest.raises(ValueError, match=r"needs the dataset column\(s\) \['teacher_tools \(or tool_calls_used"):
        mentor_reward([RIGHT], answer=["20"], domain=["calc"])
    with pytest.raises(ValueError, match="expected the column 'answer' as a list of 2 values"):
        mentor_reward([RIGHT, RIGHT], **columns(1))
    with pytest.raises(ValueError, match="unknown domain 'algebra'"):
        mentor_reward([RIGHT], **columns(1, domain=["algebra"]))
    with pytest.raises(ValueError, match="'dense' adds per-step shaping that sums to zero"):
        MentorReward("dense")
    with pytest.raises(ValueError, match="mode must be one of"):
        MentorReward("shaped")


def test_tools_run_through_the_environment_runtime():
    tools = {tool.__name__: tool for tool in trl_tools("calc")}
    assert sorted(tools) == sorted(tool.name for tool in get_domain("calc").tools)
    assert tools["add"](a=2, b=3) == "5"
    assert tools["divide"](a=1, b=0).startswith("Error (execution_error): divide failed: division by zero")
    assert tools["add"](a="two", b=3).startswith("Error (invalid_args)")
    # The spec the chat template renders is the environment's, bounds included.
    assert dict(tools["sum_numbers"]) == next(t.spec for t in get_domain("calc").tools if t.name == "sum_numbers")


# --- with TRL installed ---------------------------------------------------------------------


@needs_trl
def test_hf_dataset_columns():
    from mentor_env.integrations.trl import to_hf_dataset

    dataset = to_hf_dataset("calc", "train", limit=3)
    tasks = load_split(get_domain("calc"), "train")[:3]
    assert len(dataset) == 3
    assert set(dataset.column_names) == {
        "prompt",
        "answer",
        "domain",
        "task_id",
        "teacher_tools",
        "teacher_messages",
        "tools",
    }
    row = dataset[0]
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert row["prompt"][1]["content"] == tasks[0].question
    assert "<tools>" in row["prompt"][0]["content"]
    assert row["answer"] == tasks[0].answer and row["domain"] == "calc" and row["task_id"] == tasks[0].id
    assert row["teacher_tools"] == tasks[0].teacher.tool_names
    assert json.loads(row["teacher_messages"]) == list(tasks[0].teacher.messages)
    assert json.loads(row["tools"]) == [tool.spec for tool in get_domain("calc").tools]
    bare = to_hf_dataset("mentor/Calc-v0", "test", limit=1, tools_in_prompt=False)
    assert "<tools>" not in bare[0]["prompt"][0]["content"]


class Spy:
    """A reward function that records how TRL called it."""

    def __init__(self, inner: MentorReward) -> None:
        self.inner = inner
        self.__name__ = inner.__name__
        self.calls: list[tuple[list[Any], dict[str, Any]]] = []

    def __call__(self, completions, **kwargs):
        self.calls.append((completions, kwargs))
        return self.inner(completions, **kwargs)


def grpo_config(tmp_path, **overrides):
    from trl import GRPOConfig

    settings = dict(
        output_dir=str(tmp_path / "grpo"),
        max_steps=1,
        num_generations=2,
        per_device_train_batch_size=2,
        max_completion_length=12,
        bf16=False,
        use_cpu=True,
        report_to="none",
        logging_steps=1,
        save_strategy="no",
        gradient_checkpointing=False,
        seed=0,
    )
    settings.update(overrides)
    return GRPOConfig(**settings)


@needs_trl
def test_grpo_trainer_step_with_the_mentor_reward(tiny_student_path, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOTrainer

    from mentor_env.integrations.trl import to_hf_dataset

    tokenizer = AutoTokenizer.from_pretrained(tiny_student_path)
    model = AutoModelForCausalLM.from_pretrained(tiny_student_path)
    spy = Spy(reward_func("mentor", eos_token_id=tokenizer.eos_token_id))
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[spy, sparse_reward],
        args=grpo_config(tmp_path),
        train_dataset=to_hf_dataset("calc", "train", limit=4),
        processing_class=tokenizer,
    )
    trainer.train()

    assert trainer.state.global_step == 1
    logged = trainer.state.log_history[0]
    assert "rewards/mentor/mean" in logged and "rewards/sparse/mean" in logged
    assert len(spy.calls) == 1
    completions, kwargs = spy.calls[0]
    assert len(completions) == 2
    assert all(isinstance(c, list) and c[0]["role"] == "assistant" for c in completions)  # conversational
    for column in (
        "answer",
        "domain",
        "task_id",
        "teacher_tools",
        "teacher_messages",
        "prompts",
        "completion_ids",
        "trainer_state",
    ):
        assert column in kwargs, column
    assert kwargs["domain"] == ["calc", "calc"]
    assert kwargs["answer"][0] == next(
        t.answer for t in load_split(get_domain("calc"), "train") if t.id == kwargs["task_id"][0]
    )
    # The logged reward is the scoring module's, with cut-off completions (no EOS) at 0.
    expected = [
        score_completion(
            completion,
            domain="calc",
            answer=kwargs["answer"][i],
            teacher_tools=kwargs["teacher_tools"][i],
            finished=bool(ids) and ids[-1] == tokenizer.eos_token_id,
        )["mentor"]
        for i, (completion, ids) in enumerate(zip(completions, kwargs["completion_ids"]))
    ]
    assert logged["rewards/mentor/mean"] == pytest.approx(sum(expected) / 2)
    # Without the end-of-sequence id every completion counts as finished.
    plain = [
        score_completion(completion, domain="calc", answer=kwargs["answer"][i], teacher_tools=())["sparse"]
        for i, completion in enumerate(completions)
    ]
    assert logged["rewards/sparse/mean"] == pytest.approx(sum(plain) / 2)


@needs_trl
def test_grpo_trainer_runs_the_domain_tools_between_turns(tiny_student_path, tmp_path):
    """TRL's tool loop (tools=...) with our tools; generation is scripted to replay the teacher."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOTrainer

    from mentor_env.integrations.trl import to_hf_dataset

    tasks = load_split(get_domain("calc"), "train")[:2]  # three tool turns (with two calls in one), and two
    wrong_id = tasks[1].id
    tokenizer = add_hermes_response_template(AutoTokenizer.from_pretrained(tiny_student_path))
    assert tokenizer.response_template == HERMES_RESPONSE_TEMPLATE
    model = AutoModelForCausalLM.from_pretrained(tiny_student_path)
    turns = {task.question: [m for m in task.teacher.messages if m["role"] == "assistant"] for task in tasks}

    def scripted_generate(input_ids, attention_mask=None, **_):
        replies = []
        for ids, mask in zip(input_ids, attention_mask):
            text = tokenizer.decode(ids[mask.bool()])
            question = next(q for q in turns if q in text)
            turn = text.count("<|im_start|>assistant\n") - 1
            reply = render_assistant_text(turns[question][turn])
            if question == tasks[1].question and turn == len(turns[question]) - 1:
                reply = "The answer is \\boxed{-1}."
            replies.append(tokenizer.encode(reply + "<|im_end|>", add_special_tokens=False))
        width = max(len(reply) for reply in replies)
        padded = [reply + [tokenizer.pad_token_id] * (width - len(reply)) for reply in replies]
        return torch.cat([input_ids, torch.tensor(padded)], dim=1)

    model.generate = scripted_generate
    spy = Spy(reward_func("mentor", eos_token_id=tokenizer.eos_token_id))
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[spy],
        args=grpo_config(tmp_path, per_device_train_batch_size=4, max_completion_length=256),
        train_dataset=to_hf_dataset("calc", tasks=tasks, tools_in_prompt=False),
        processing_class=tokenizer,
        tools=trl_tools("calc"),
    )
    trainer.train()

    assert trainer.state.global_step == 1
    logged = trainer.state.log_history[0]
    assert logged["tools/failure_frequency"] == 0.0 and logged["tools/call_frequency"] > 1
    completions, kwargs = spy.calls[0]
    rewards = spy.inner(completions, **kwargs)
    by_id = {task.id: task for task in tasks}
    for completion, task_id, reward in zip(completions, kwargs["task_id"], rewards):
        roles = [message["role"] for message in completion]
        assert roles[0] == "assistant" and "tool" in roles and roles[-1] == "assistant"
        # The tool results are the environment's (the teacher got the same ones).
        results = [message["content"] for message in completion if message["role"] == "tool"]
        assert results == [m["content"] for m in by_id[task_id].teacher.messages if m["role"] == "tool"]
        assert reward == pytest.approx(0.16 if task_id == wrong_id else 1.1)
    assert {*kwargs["task_id"]} == {task.id for task in tasks}


def test_the_dataset_prompt_for_a_tokenizer_is_the_environments_prompt(tiny_student_path):
    pytest.importorskip("datasets")
    import gymnasium as gym
    from transformers import AutoTokenizer

    from mentor_env.integrations.trl import to_hf_dataset
    from mentor_env.play.lm import render_prompt

    tokenizer = AutoTokenizer.from_pretrained(tiny_student_path)
    row = to_hf_dataset("calc", "train", limit=1, tokenizer=tokenizer)[0]
    env = gym.make("mentor/Calc-v0", split="train")
    _, info = env.reset(seed=0, options={"task_id": row["task_id"]})
    compact = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False)
    assert compact == render_prompt(tokenizer, info["messages"], info["tools"])
    generic = to_hf_dataset("calc", "train", limit=1)[0]  # no tokenizer: the JSON Hermes block
    assert '"name": "sum_numbers"' in generic["prompt"][0]["content"] and len(compact) < len(
        generic["prompt"][0]["content"]
    )
