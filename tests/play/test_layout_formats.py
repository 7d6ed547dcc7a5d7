"""The LM policy writes and reads the tool-call format of the model it loads (ChatLayout's tool_parser)."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("transformers")

from mentor_env.core.messages import assistant_message, render_assistant_text  # noqa: E402
from mentor_env.core.parsing import MistralParser, get_tool_parser  # noqa: E402
from mentor_env.play.evaluation import evaluate, policy_env_kwargs  # noqa: E402
from mentor_env.play.lm import ChatLayout, layout_tool_parser  # noqa: E402
from tests.play.test_prompts import SMOLLM2_TEMPLATE  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "chat_templates"
FORMATS = ("deepseek_v3", "hermes", "llama3_json", "mistral", "openai", "pythonic", "qwen3_coder")
CALL = assistant_message("Adding.", [("add", {"a": 2, "b": 3})])


def _tokenizer(path, template: str | None = None, specials: tuple[str, ...] = ()):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    if template is not None:
        tokenizer.chat_template = template
    if specials:
        tokenizer.add_special_tokens({"additional_special_tokens": list(specials)})
    return tokenizer


@pytest.mark.parametrize("name", FORMATS)
def test_auto_reads_the_format_from_each_familys_template(tiny_student_path, name):
    template = (FIXTURES / f"{name}.jinja").read_text()
    layout = ChatLayout(_tokenizer(tiny_student_path, template))
    assert layout.tool_parser == name and layout.parser.name == name
    assert layout.tool_parser_reason == "read from the chat template's tool-call markers"
    assert layout.own_format is (name != "hermes")


def test_a_template_without_markers_falls_back_to_hermes_and_says_why(tiny_student_path, caplog):
    with caplog.at_level(logging.WARNING, logger="mentor_env.parsing"):
        layout = ChatLayout(_tokenizer(tiny_student_path, SMOLLM2_TEMPLATE))
    assert (layout.tool_parser, layout.own_format) == ("hermes", False)
    assert (
        layout.tool_parser_reason == "the chat template has no tool-call markers, so the prompt asks for Hermes calls"
    )
    assert "tool_parser='auto': hermes, as the chat template has no tool-call markers" in caplog.text


def test_the_default_hermes_is_said_quietly_and_another_format_with_a_warning(tiny_student_path, caplog):
    with caplog.at_level(logging.INFO, logger="mentor_env.parsing"):
        ChatLayout(_tokenizer(tiny_student_path))  # the tiny student's own template: Hermes markers
        ChatLayout(_tokenizer(tiny_student_path, (FIXTURES / "qwen3_coder.jinja").read_text()))
    said = [(record.levelname, record.getMessage()) for record in caplog.records]
    assert said == [
        ("INFO", "tool_parser='auto': 'hermes', read from the chat template's tool-call markers"),
        ("WARNING", "tool_parser='auto': 'qwen3_coder', read from the chat template's tool-call markers"),
    ]


def test_a_named_format_or_parser_is_taken_as_given(tiny_student_path):
    tokenizer = _tokenizer(tiny_student_path)
    assert layout_tool_parser(tokenizer, "mistral") == ("mistral", "given")
    assert layout_tool_parser(tokenizer, None) == ("hermes", "given")
    parser = MistralParser()
    assert layout_tool_parser(tokenizer, parser) == (parser, "given")
    assert ChatLayout(tokenizer, tool_parser=parser).parser is parser
    with pytest.raises(ValueError, match="tool_parser must be one of"):
        ChatLayout(tokenizer, tool_parser="yaml")


def test_teacher_turns_are_written_in_the_models_format(tiny_student_path):
    tokenizer = _tokenizer(tiny_student_path)
    hermes = ChatLayout(tokenizer)
    assert hermes.assistant_turn_ids(CALL) == hermes.encode(render_assistant_text(CALL)) + [hermes.eos_token_id]
    mistral = ChatLayout(tokenizer, tool_parser="mistral")
    ids = mistral.assistant_turn_ids(CALL)
    assert ids[-1] == mistral.eos_token_id
    assert tokenizer.decode(ids[:-1]) == 'Adding.[TOOL_CALLS]add[ARGS]{"a": 2, "b": 3}'
    llama = ChatLayout(tokenizer, tool_parser="llama3_json")
    assert tokenizer.decode(llama.assistant_turn_ids(CALL)[:-1]) == (
        'Adding.<|python_tag|>{"name": "add", "parameters": {"a": 2, "b": 3}}'
    )


def test_turns_stop_at_the_formats_end_of_calls(tiny_student_path):
    tokenizer = _tokenizer(tiny_student_path, specials=("<|call|>",))
    hermes = ChatLayout(tokenizer)
    assert hermes.stop_ids(True) == [hermes.eos_token_id, tokenizer.convert_tokens_to_ids("</tool_call>")]
    assert hermes.stop_ids(False) == [hermes.eos_token_id]
    harmony = ChatLayout(tokenizer, tool_parser="openai")
    assert harmony.stop_ids(True) == [harmony.eos_token_id, tokenizer.convert_tokens_to_ids("<|call|>")]
    assert ChatLayout(tokenizer, tool_parser="llama3_json").stop_ids(True) == [hermes.eos_token_id]
    with pytest.raises(ValueError, match=r"stop_at_tool_call needs <｜tool▁calls▁end｜> to be one token"):
        ChatLayout(tokenizer, tool_parser="deepseek_v3").stop_ids(True)


def test_a_format_with_special_markers_keeps_them_when_decoding(tiny_student_path):
    tokenizer = _tokenizer(tiny_student_path, specials=("[TOOL_CALLS]", "[ARGS]"))
    mistral = ChatLayout(tokenizer, tool_parser="mistral")
    ids = mistral.assistant_turn_ids(CALL)
    assert mistral.decode(ids) == 'Adding.[TOOL_CALLS]add[ARGS]{"a": 2, "b": 3}'
    assert get_tool_parser("mistral").parse(mistral.decode(ids)).calls[0].arguments == {"a": 2, "b": 3}
    # Hermes' layout drops special tokens: its markers are plain text (and would lose these).
    assert ChatLayout(tokenizer).decode(ids) == 'Adding.add{"a": 2, "b": 3}'


class _LlamaWriter:
    """Calls add in the llama3_json format, then answers: what a policy whose layout says llama3_json writes."""

    def __init__(self) -> None:
        self.layout = SimpleNamespace(tool_parser="llama3_json")

    def __call__(self, messages, tools):
        if messages[-1]["role"] == "tool":
            return "The answer is \\boxed{5}."
        return '{"name": "add", "parameters": {"a": 2, "b": 3}}'


def test_evaluation_makes_the_env_read_the_policys_format():
    assert policy_env_kwargs(_LlamaWriter()) == {"tool_parser": "llama3_json"}
    assert policy_env_kwargs(lambda messages, tools: "") == {}
    read = evaluate(_LlamaWriter(), ["mentor/Calc-v0"], n=1, split=None, verbose=False)["mentor/Calc-v0"]
    assert read["mean_tool_calls"] == 1.0 and read["format_error_rate"] == 0.0
    hermes = evaluate(
        _LlamaWriter(), ["mentor/Calc-v0"], n=1, split=None, verbose=False, env_kwargs={"parser": "hermes"}
    )
    assert hermes["mentor/Calc-v0"]["mean_tool_calls"] == 0.0
