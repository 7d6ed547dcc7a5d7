"""The named tool-call parsers: each family's chat template writes calls, our parser reads them back.

The templates are small fixtures we wrote from each family's published format
(tests/fixtures/chat_templates/<name>.jinja), rendered with jinja2 as
transformers renders chat templates; no hub, no tokenizer download.
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from types import SimpleNamespace

import gymnasium as gym
import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

import mentor_env  # noqa: F401  (registers the ids)
from mentor_env.core.parsing import (
    SHIPPED_PARSERS,
    HermesParser,
    ParsedTurn,
    detect_tool_parser,
    get_tool_parser,
    register_tool_parser,
    resolve_tool_parser,
    tool_parser_names,
    unregister_tool_parser,
)
from mentor_env.domains import get_domain
from mentor_env.integrations.scoring import score_completion
from mentor_env.integrations.session import EpisodeSession, make_text_env
from mentor_env.integrations.trl import environment_factory, reward_func
from mentor_env.integrations.verl import compute_score
from tests.timing import cpu_time_bound

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "chat_templates"
FAMILIES = ("hermes", "qwen3_coder", "llama3_json", "pythonic", "mistral", "deepseek_v3", "openai")
# Where generation stops in each family (the end-of-turn token, which the loop drops); harmony's
# <|call|> / <|return|> end messages inside the format, so its text is kept whole.
END_OF_TURN = {
    "hermes": "<|im_end|>",
    "qwen3_coder": "<|im_end|>",
    "llama3_json": "<|eot_id|>",
    "pythonic": "<|eot|>",
    "mistral": "</s>",
    "deepseek_v3": "<｜end▁of▁sentence｜>",
    "openai": None,
}
PROMPT = [{"role": "system", "content": "You are a careful assistant."}, {"role": "user", "content": "Question?"}]


def render(family: str, messages: list[dict], add_generation_prompt: bool = False) -> str:
    """The fixture template of ``family`` applied as transformers applies chat templates (tojson keeps non-ASCII)."""
    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    environment.filters["tojson"] = lambda value: json.dumps(value, ensure_ascii=False)
    template = environment.from_string((FIXTURES / f"{family}.jinja").read_text(encoding="utf-8"))
    return template.render(messages=messages, add_generation_prompt=add_generation_prompt)


def assistant(content: str = "", calls: tuple = (), reasoning: str | None = None) -> dict:
    message = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = [
            {"type": "function", "function": {"name": name, "arguments": arguments}} for name, arguments in calls
        ]
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    return message


def completion(family: str, message: dict) -> str:
    """What the model generated for ``message``: the rendered conversation after the generation prompt, up to the end of turn."""
    prompt = render(family, PROMPT, add_generation_prompt=True)
    full = render(family, PROMPT + [message])
    assert full.startswith(prompt), (prompt, full)
    text = full[len(prompt) :]
    stop = END_OF_TURN[family]
    return text if stop is None else text[: text.index(stop)]


def read(turn: ParsedTurn) -> list[tuple]:
    return [(call.name, call.arguments, call.error) for call in turn.calls]


# --- round trips ---------------------------------------------------------------------------------------

NESTED = {
    "city": "Zürich",
    "note": 'naïve café ☕, "quoted"',
    "fields": ["area", "population"],
    "filter": {"min": 1.5, "exact": True, "unit": None},
    "count": 3,
}
CASES = {
    "one call": ("", (("add", {"a": 2, "b": 3}),)),
    "two calls": ("", (("subtract", {"a": 11, "b": -8}), ("sqrt", {"x": 16.5}))),
    "nested, non-ASCII, text first": ("Let me look that up.", (("lookup", NESTED),)),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("family", FAMILIES)
def test_each_parser_reads_back_the_calls_its_template_wrote(family, case):
    content, calls = CASES[case]
    turn = get_tool_parser(family).parse(completion(family, assistant(content, calls)))
    assert read(turn) == [(name, arguments, None) for name, arguments in calls]
    assert turn.content == content
    assert turn.has_tool_markup and not turn.malformed and turn.final_answer is None


@pytest.mark.parametrize("family", FAMILIES)
def test_a_turn_without_calls_is_the_answer(family):
    turn = get_tool_parser(family).parse(completion(family, assistant("The change was \\boxed{19} degrees.")))
    assert turn.calls == () and not turn.has_tool_markup
    assert turn.content == "The change was \\boxed{19} degrees." and turn.final_answer == "19"


@pytest.mark.parametrize("family", [family for family in FAMILIES if family != "openai"])
def test_a_call_inside_the_reasoning_block_is_ignored(family):
    reasoning = completion(family, assistant("", (("add", {"a": 2, "b": 3}),)))
    turn = get_tool_parser(family).parse(completion(family, assistant("So \\boxed{5}.", reasoning=reasoning)))
    assert turn.calls == () and not turn.has_tool_markup and turn.final_answer == "5"


def test_harmony_calls_on_the_analysis_channel_are_reasoning():
    text = (
        '<|channel|>analysis to=functions.add<|message|>{"a": 2, "b": 3}<|end|>'
        "<|start|>assistant<|channel|>analysis<|message|>Maybe add 2 and 3.<|end|>"
        "<|start|>assistant<|channel|>final<|message|>So \\boxed{5}.<|return|>"
    )
    turn = get_tool_parser("openai").parse(text)
    assert turn.calls == () and turn.content == "So \\boxed{5}." and turn.final_answer == "5"


def test_harmony_reads_the_recipient_in_the_role_or_the_channel_and_a_cut_stop_token():
    text = (
        "<|channel|>analysis<|message|>Need the sum.<|end|>"
        '<|start|>assistant<|channel|>commentary to=functions.add <|constrain|>json<|message|>{"a": 2, "b": 3}<|call|>'
        '<|start|>assistant to=functions.math.factorial<|channel|>commentary json<|message|>{"n": 4}'
    )
    turn = get_tool_parser("openai").parse(text)
    assert read(turn) == [("add", {"a": 2, "b": 3}, None), ("math.factorial", {"n": 4}, None)]


def test_mistral_reads_the_v3_json_list_and_magistral_reasoning():
    text = '[THINK][TOOL_CALLS]sqrt[ARGS]{"x": 1}[/THINK]Two sums.[TOOL_CALLS] [{"name": "add", "arguments": {"a": 1}}, {"name": "add", "arguments": "{\\"a\\": 2}"}]</s>'
    turn = get_tool_parser("mistral").parse(text)
    assert read(turn) == [("add", {"a": 1}, None), ("add", {"a": 2}, None)]
    assert turn.content == "Two sums.</s>"


def test_llama3_json_reads_arguments_like_parameters_and_text_after_the_turn():
    text = (
        '<|python_tag|>{"name": "add", "arguments": {"a": 1}};{"name": "neg", "parameters": {"x": -2.5}}<|eom_id|>done'
    )
    turn = get_tool_parser("llama3_json").parse(text)
    assert read(turn) == [("add", {"a": 1}, None), ("neg", {"x": -2.5}, None)]
    assert turn.content == "<|eom_id|>done"


@pytest.mark.parametrize(
    "value, read_as",
    [
        ("2", 2),
        ("-2.5", -2.5),
        ("True", True),
        ("None", None),
        ("null", None),
        ('"42"', "42"),
        ("[1, 2]", [1, 2]),
        ("two\nlines ", "two\nlines "),
        ("Zürich", "Zürich"),
    ],
)
def test_qwen3_coder_values_read_as_json_or_python_constants_or_text(value, read_as):
    text = f"<tool_call>\n<function=f>\n<parameter=v>\n{value}\n</parameter>\n</function>\n</tool_call>"
    (call,) = get_tool_parser("qwen3_coder").parse(text).calls
    assert call.arguments == {"v": read_as} and type(call.arguments["v"]) is type(read_as)


# Characters that JSON, Python literals and the XML values all escape or quote in their own way (no format's markers).
TRICKY = [
    "a",
    "Z",
    " ",
    "\n",
    "\t",
    '"',
    "'",
    "\\",
    "<",
    ">",
    "/",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    ",",
    ":",
    ";",
    "=",
    "|",
    "é",
    "☕",
    "😀",
    "1",
    "-",
    ".",
    "e",
    "True",
    "None",
    "null",
]


def random_value(rng: random.Random, depth: int = 0):
    kind = rng.randint(0, 6 if depth < 2 else 3)
    if kind == 0:
        return "".join(rng.choice(TRICKY) for _ in range(rng.randint(0, 6)))
    if kind == 1:
        return rng.choice([0, -7, 123456, 0.5, -2.25, 1e-07, 3.0, 1e20])
    if kind == 2:
        return rng.choice([True, False, None])
    if kind == 3:
        return rng.choice(["", "42", "-1.5", "True", "null", "[1]", '"quoted"', " padded "])
    if kind == 4:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {
        "".join(rng.choice(TRICKY) for _ in range(rng.randint(1, 4))): random_value(rng, depth + 1)
        for _ in range(rng.randint(0, 3))
    }


@pytest.mark.parametrize("family", FAMILIES)
def test_each_parser_reads_back_what_its_format_turn_writes(family):
    # format_turn is how the adapters write structured calls for the env: it must read back exactly.
    rng = random.Random(7)
    parser = get_tool_parser(family)
    for _ in range(300):
        calls = [
            ("add", {f"a{index}": random_value(rng) for index in range(rng.randint(0, 3))}),
            ("math.f", {"x": random_value(rng)}),
        ]
        calls = calls[: rng.randint(1, 2)]
        content = rng.choice(["", "Let me compute."])
        turn = parser.parse(parser.format_turn(content, calls))
        assert [(call.name, call.arguments) for call in turn.calls] == calls
        assert turn.content == content


# --- broken calls: the parser's errors, never an exception ---------------------------------------------

BROKEN = [
    # hermes
    (
        "hermes",
        "truncated",
        '<tool_call>\n{"name": "add", "arguments": {"a": 2',
        "add",
        "<tool_call> is not closed with </tool_call>",
    ),
    (
        "hermes",
        "bad JSON",
        '<tool_call>{"name": "add", "arguments": {"a": 2,}}</tool_call>',
        "add",
        "the tool call is not valid JSON",
    ),
    (
        "hermes",
        "wrong nesting",
        '{"name": "add", "arguments": {}}</tool_call>',
        None,
        "found </tool_call> without a matching <tool_call>",
    ),
    (
        "hermes",
        "unknown wrapper",
        "<tool_call><function=add><parameter=a>2</parameter></function></tool_call>",
        None,
        "the tool call is not valid JSON (Expecting value: line 1 column 1 (char 0))",
    ),
    # qwen3_coder
    (
        "qwen3_coder",
        "truncated",
        "<tool_call>\n<function=add>\n<parameter=a>\n2",
        "add",
        "<tool_call> is not closed with </tool_call>",
    ),
    (
        "qwen3_coder",
        "bad JSON value",
        "<tool_call><function=add><parameter=a>1e999</parameter></function></tool_call>",
        "add",
        "parameter 'a': 1e999 overflows a float",
    ),
    (
        "qwen3_coder",
        "wrong nesting",
        "<tool_call><function=add><parameter=a>2</function></parameter></tool_call>",
        "add",
        "<function=add> is not closed with </function>",
    ),
    (
        "qwen3_coder",
        "outside the block",
        "<function=add>\n<parameter=a>\n2\n</parameter>\n</function>",
        "add",
        "<function=...> must be inside <tool_call>",
    ),
    (
        "qwen3_coder",
        "unknown wrapper",
        '<tool_call>{"name": "add", "arguments": {"a": 2}}</tool_call>',
        None,
        "expected <function=NAME> right inside <tool_call>",
    ),
    (
        "qwen3_coder",
        "unclosed parameter",
        "<tool_call><function=add><parameter=a>2<parameter=b>3</parameter></function></tool_call>",
        "add",
        "<parameter=a> is not closed with </parameter> before the next <parameter=",
    ),
    # llama3_json
    ("llama3_json", "truncated", '{"name": "add", "parameters": {"a": 2', "add", "the tool call is not valid JSON"),
    (
        "llama3_json",
        "bad JSON",
        '<|python_tag|>{"name": "add", "parameters": {"a": NaN}}',
        "add",
        "the tool call is not valid JSON",
    ),
    (
        "llama3_json",
        "wrong nesting",
        '{"function": {"name": "add", "parameters": {"a": 2}}}',
        None,
        'the tool call has no "name" string',
    ),
    (
        "llama3_json",
        "unknown wrapper",
        "<|python_tag|>add(a=2)",
        None,
        'expected a JSON object {"name": ..., "parameters": {...}}',
    ),
    # pythonic
    ("pythonic", "truncated", "[add(a=2, b=", "add", "the tool calls are not a Python list of calls"),
    ("pythonic", "bad literal", "[add(a=2, b=open('x'))]", "add", "argument 'b' of add is not a literal: open('x')"),
    ("pythonic", "wrong nesting", "[[add(a=2)]]", None, "expected a call name(arg=value), got a List"),
    (
        "pythonic",
        "unknown wrapper",
        '<|python_start|>{"name": "add", "parameters": {"a": 2}}<|python_end|>',
        None,
        "expected a non-empty list of calls",
    ),
    ("pythonic", "unclosed", "<|python_start|>[add(a=2)]", None, "<|python_start|> is not closed with <|python_end|>"),
    ("pythonic", "positional", "[add(2, b=3)]", "add", "add has positional arguments; write them as name=value"),
    ("pythonic", "a set", "[add(a={1, 2})]", "add", "argument 'a' of add: a set is not a JSON value"),
    ("pythonic", "a tuple", "[add(a=(1, 2))]", "add", "argument 'a' of add: a tuple is not a JSON value"),
    ("pythonic", "unpacking", "[add(**{'a': 1})]", "add", "add unpacks **arguments"),
    # mistral
    ("mistral", "truncated", '[TOOL_CALLS]add[ARGS]{"a": 2', "add", "the arguments of add are not valid JSON"),
    (
        "mistral",
        "bad JSON",
        '[TOOL_CALLS][{"name": "add", "arguments": {"a": 2}]',
        "add",
        "the tool calls after [TOOL_CALLS] are not valid JSON",
    ),
    (
        "mistral",
        "wrong nesting",
        '[TOOL_CALLS]add[ARGS][{"a": 2}]',
        "add",
        '"arguments" must be a JSON object, got list',
    ),
    (
        "mistral",
        "unknown wrapper",
        '[TOOL_CALLS]{"name": "add", "arguments": {"a": 2}}',
        None,
        "expected NAME[ARGS]{...} or a JSON list after [TOOL_CALLS]",
    ),
    # deepseek_v3
    (
        "deepseek_v3",
        "truncated",
        '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>add\n```json\n{"a": 2',
        "add",
        "<｜tool▁call▁begin｜> is not closed with <｜tool▁call▁end｜>",
    ),
    (
        "deepseek_v3",
        "bad JSON",
        '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>add\n```json\n{"a": 2,}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>',
        "add",
        "the arguments of add are not valid JSON",
    ),
    (
        "deepseek_v3",
        "wrong nesting",
        '<｜tool▁call▁begin｜>function<｜tool▁sep｜>add\n```json\n{"a": 2}\n```<｜tool▁call▁end｜>',
        None,
        "<｜tool▁call▁begin｜> must be inside <｜tool▁calls▁begin｜>",
    ),
    (
        "deepseek_v3",
        "no fence",
        '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>add\n{"a": 2}<｜tool▁call▁end｜><｜tool▁calls▁end｜>',
        "add",
        "the arguments of add are not in a ```json ... ``` block",
    ),
    (
        "deepseek_v3",
        "unknown wrapper",
        '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>add\n{"a": 2}<｜tool▁call▁end｜><｜tool▁calls▁end｜>',
        None,
        "expected function<｜tool▁sep｜>NAME",
    ),
    # openai (harmony)
    (
        "openai",
        "truncated",
        "<|channel|>commentary to=functions.add <|constrain|>json",
        "functions.add",
        "the call's header is not followed by <|message|>",
    ),
    (
        "openai",
        "bad JSON",
        '<|channel|>commentary to=functions.add <|constrain|>json<|message|>{"a": 2,}<|call|>',
        "add",
        "the arguments of add are not valid JSON",
    ),
    (
        "openai",
        "wrong nesting",
        '<|channel|>commentary to=functions.add<|message|>{"a": 2}<|start|>assistant<|channel|>final<|message|>5<|return|>',
        "add",
        "the call to functions.add is not ended with <|call|>",
    ),
    (
        "openai",
        "unknown wrapper",
        "<|channel|>commentary to=functions.add <|constrain|>json<|message|>add(a=2)<|call|>",
        "add",
        "the arguments of add are not valid JSON",
    ),
]


@pytest.mark.parametrize("family, variant, text, name, error", BROKEN, ids=[f"{row[0]}-{row[1]}" for row in BROKEN])
def test_broken_calls_are_parse_errors_on_the_call(family, variant, text, name, error):
    turn = get_tool_parser(family).parse(text)
    assert turn.has_tool_markup
    broken = turn.calls[0]
    assert broken.name == name and broken.arguments is None and not broken.ok
    assert broken.error.startswith(error), broken.error


def test_a_broken_call_in_gym_make_is_a_parse_error_observation():
    env = gym.make("mentor/Calc-v0", tool_parser="mistral")
    env.reset(options={"task_id": "calc-1"})
    observation, reward, terminated, _, info = env.step('[TOOL_CALLS]subtract[ARGS]{"a": 11, "b": ')
    assert not terminated and reward == 0.0
    assert info["errors"] == [
        "parse_error: the arguments of subtract are not valid JSON (Expecting value: line 1 column 16 (char 15)). "
        "Write [TOOL_CALLS]NAME[ARGS]{...} for each call"
    ]
    assert "parse_error" in observation


def test_pythonic_never_runs_the_text():
    calls = get_tool_parser("pythonic").parse("[add(a=__import__('os').system('exit 3'), b=(lambda: 1)())]").calls
    assert [(call.name, call.error) for call in calls] == [
        ("add", "argument 'a' of add is not a literal: __import__('os').system('exit 3')")
    ]


def test_deepseek_reads_the_complete_calls_of_an_unclosed_block_and_says_it_is_open():
    text = '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>add\n```json\n{"a": 2}\n```<｜tool▁call▁end｜>'
    assert read(get_tool_parser("deepseek_v3").parse(text)) == [
        ("add", {"a": 2}, None),
        (None, None, "<｜tool▁calls▁begin｜> is not closed with <｜tool▁calls▁end｜>"),
    ]


@pytest.mark.parametrize(
    "family, text",
    [
        ("hermes", "<tool_response>5</tool_response>"),
        ("qwen3_coder", "<tool_response>\n5\n</tool_response>"),
        ("llama3_json", "<|start_header_id|>ipython<|end_header_id|>\n\n5"),
        ("pythonic", "<|header_start|>ipython<|header_end|>\n\n5"),
        ("mistral", "[TOOL_RESULTS]5[/TOOL_RESULTS]"),
        ("deepseek_v3", "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>5<｜tool▁output▁end｜>"),
        ("openai", "<|start|>functions.add to=assistant<|channel|>commentary<|message|>5<|end|>"),
    ],
)
def test_a_faked_tool_response_is_malformed(family, text):
    assert get_tool_parser(family).parse(f"{text}\\boxed{{5}}").malformed


# --- linear time on floods of each format's markers --------------------------------------------------

FLOODS = {
    "qwen3_coder": [
        "<tool_call>",
        "<tool_call><function=a>",
        "<tool_call><function=a><parameter=x>",
        "<function=",
        "</tool_call>",
    ],
    "llama3_json": ["<|python_tag|>", "<|python_tag|>{", '{"name": "a', "[{", "<|eot_id|>"],
    "pythonic": ["[a(", "<|python_start|>", "<|python_start|>[a(x=1)]<|python_end|>", "[a(x=[", "("],
    "mistral": [
        "[TOOL_CALLS]",
        "[TOOL_CALLS][",
        "[TOOL_CALLS]a[ARGS]",
        "[TOOL_CALLS]a[ARGS]{",
        "[TOOL_CALLS]a[ARGS]{}",
    ],
    "deepseek_v3": [
        "<｜tool▁calls▁begin｜>",
        "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>",
        "<｜tool▁call▁end｜>",
        "<｜tool▁sep｜>",
    ],
    "openai": [
        "<|start|>",
        "<|message|>",
        "<|message|><|start|>",
        "<|start|>assistant<|channel|>commentary to=functions.a<|message|>",
        " to=x<|channel|>",
        "<|message|>{}<|call|>",
    ],
}


@pytest.mark.parametrize("family, unit", [(family, unit) for family, units in FLOODS.items() for unit in units])
def test_parsing_is_linear_in_the_length(family, unit):
    # 200,000 characters of one repeated piece; a quadratic scan takes minutes on these.
    text = unit * (200_000 // len(unit))
    parser = get_tool_parser(family)
    with cpu_time_bound(2.0):  # measured: under 0.1 s
        turn = parser.parse(text)
    assert turn.final_answer is None


# --- the registry, names everywhere, "auto" -------------------------------------------------------


def test_the_registry_names_the_formats_and_refuses_unknown_names():
    assert SHIPPED_PARSERS == FAMILIES
    assert tool_parser_names()[: len(FAMILIES)] == FAMILIES
    assert type(get_tool_parser("hermes")) is HermesParser
    with pytest.raises(
        ValueError, match=r"tool_parser must be one of \('hermes', 'qwen3_coder', .*'openai'\) or 'auto', got 'llama3'"
    ):
        get_tool_parser("llama3")
    with pytest.raises(TypeError, match=r"tool_parser must have a parse\(text\) -> ParsedTurn method, got int"):
        resolve_tool_parser(3)
    with pytest.raises(ValueError, match="ships with mentor_env"):
        unregister_tool_parser("hermes")


def test_a_registered_parser_is_taken_by_name():
    class Shouting(HermesParser):
        pass

    register_tool_parser("shouting", Shouting)
    try:
        with pytest.raises(ValueError, match="already registered"):
            register_tool_parser("shouting", Shouting)
        assert type(gym.make("mentor/Calc-v0", tool_parser="shouting").unwrapped.parser) is Shouting
    finally:
        unregister_tool_parser("shouting")
    with pytest.raises(ValueError, match="got 'shouting'"):
        get_tool_parser("shouting")


@pytest.mark.parametrize("family", FAMILIES)
def test_auto_picks_the_format_from_the_chat_template(family):
    template = (FIXTURES / f"{family}.jinja").read_text(encoding="utf-8")
    assert detect_tool_parser(template) == family
    assert detect_tool_parser(SimpleNamespace(chat_template=template)) == family
    assert detect_tool_parser(SimpleNamespace(chat_template={"default": "x", "tool_use": template})) == family
    env = gym.make("mentor/Calc-v0", tool_parser="auto", chat_template=SimpleNamespace(chat_template=template))
    assert env.unwrapped.parser.name == family


def test_auto_says_which_parser_it_chose_and_refuses_a_template_without_markers(caplog):
    template = (FIXTURES / "mistral.jinja").read_text(encoding="utf-8") + "{# a template not seen before #}"
    with caplog.at_level(logging.WARNING, logger="mentor_env.parsing"):
        assert resolve_tool_parser("auto", template).name == "mistral"
    assert caplog.messages == [
        "tool_parser='auto' chose the 'mistral' tool-call parser from the chat template's markers"
    ]
    with pytest.raises(ValueError, match=r"found no tool-call markers in the chat template .*name the format instead"):
        resolve_tool_parser("auto", "{{ messages }}")
    with pytest.raises(ValueError, match="pass the tokenizer or the template string, got NoneType"):
        gym.make("mentor/Calc-v0", tool_parser="auto")


def test_one_parser_argument_at_a_time_and_official_compat_is_hermes_only():
    with pytest.raises(ValueError, match="not both"):
        gym.make("mentor/Calc-v0", tool_parser="pythonic", parser=HermesParser())
    assert gym.make("mentor/Calc-v0", parser="pythonic").unwrapped.parser.name == "pythonic"
    with pytest.raises(ValueError, match="compat='official' needs a parser whose ParsedTurn.literal is set"):
        gym.make("mentor/Calc-v0", tool_parser="openai", reward_compat="official")


# --- a whole episode in each format: gym.make, score_completion, TRL, verl, the session, OpenEnv -----

TEACHER = (("subtract", {"a": 11, "b": -8}), ("abs_value", {"x": 19}))  # calc-1's teacher: answer 19
FINAL = "The change was \\boxed{19} degrees."


@pytest.mark.parametrize("family", FAMILIES)
def test_gym_make_plays_a_turn_written_in_the_format_and_score_completion_agrees(family):
    first, final = completion(family, assistant("", TEACHER)), completion(family, assistant(FINAL))
    env = gym.make("mentor/Calc-v0", tool_parser=family)
    env.reset(options={"task_id": "calc-1"})
    _, reward, terminated, _, info = env.step(first)
    assert not terminated and info["errors"] == []
    assert info["tool_calls"] == [
        {"name": "subtract", "arguments": {"a": 11, "b": -8}, "error": None},
        {"name": "abs_value", "arguments": {"x": 19}, "error": None},
    ]
    _, reward, terminated, _, info = env.step(final)
    assert terminated and reward == 1.1 and info["final_answer"] == "19"
    assert info["rewards"]["sparse"] == 1.0 and info["rewards"]["mentor_f1"] == 1.1
    turns = [
        {"role": "assistant", "content": first},
        {"role": "tool", "content": "19"},
        {"role": "tool", "content": "19"},
        {"role": "assistant", "content": final},
    ]
    scores = score_completion(
        turns, domain="calc", answer="19", teacher_tools=["subtract", "abs_value"], tool_parser=family
    )
    assert scores == {
        "sparse": 1.0,
        "mentor": 1.1,
        "mentor_partial": 1.0,
        "mentor_nomatch": 0.8,
        "mentor_f1": 1.1,
        "dense": 1.1,
    }


@pytest.mark.parametrize("family", FAMILIES)
def test_trl_and_verl_rewards_take_the_parser_name(family):
    single = completion(family, assistant(FINAL, TEACHER))  # one turn: the calls and the answer
    rewards = reward_func("mentor", tool_parser=family)(
        completions=[single, FINAL],
        answer=["19", "19"],
        domain=["calc", "calc"],
        teacher_tools=[["subtract", "abs_value"]] * 2,
    )
    assert rewards == [1.1, 0.8]
    assert (
        compute_score("calc", single, "19", {"teacher_tools": ["subtract", "abs_value"]}, tool_parser=family)["score"]
        == 1.1
    )
    extra = {"teacher_tools": ["subtract", "abs_value"], "tool_parser": family}
    assert compute_score("calc", single, "19", extra, return_dict=False) == 1.1


@pytest.mark.parametrize("family", FAMILIES)
def test_the_session_writes_and_reads_calls_in_the_envs_format(family):
    # The path of TRL's environment_factory and verl's tool agent loop: calls run one by one, then the
    # structured completion is played through env.step in the env's own format.
    session = EpisodeSession(make_text_env("mentor/Calc-v0", tool_parser=family))
    session.reset(task_id="calc-1")
    assert [session.call(name, arguments).shown for name, arguments in TEACHER] == ["19", "19"]
    messages = [
        assistant("", TEACHER),
        {"role": "tool", "content": "19"},
        {"role": "tool", "content": "19"},
        assistant(FINAL),
    ]
    assert session.finish(messages) == 1.1
    assert [step.info["errors"] for step in session.steps] == [[], []]


@pytest.mark.parametrize("family", ["llama3_json", "openai"])
def test_trl_environment_factory_runs_the_format(family):
    factory = environment_factory("mentor/Calc-v0", tool_parser=family)
    environment = factory()
    environment.reset(task_id="calc-1", prompt=PROMPT)
    assert [environment.subtract(a=11, b=-8), environment.abs_value(x=19)] == ["19", "19"]
    messages = [
        assistant("", TEACHER),
        {"role": "tool", "content": "19"},
        {"role": "tool", "content": "19"},
        assistant(FINAL),
    ]
    assert factory.reward(completions=[messages], environments=[environment]) == [1.1]
    unscored = factory()
    unscored.reset(task_id="calc-1", prompt=PROMPT)
    unscored.subtract(a=11, b=-8)
    assert unscored.get_reward() == 0.1  # the calls it ran, replayed in the format, then an empty final turn


@pytest.mark.parametrize("family", ["pythonic", "deepseek_v3"])
def test_the_openenv_environment_takes_the_parser_name(family):
    pytest.importorskip(
        "openenv.core.env_server.http_server", reason="the server needs openenv-core (make test installs it)"
    )
    from mentor_env.serve import MentorAction, MentorEnvironment

    environment = MentorEnvironment("mentor/Calc-v0", tool_parser=family)
    environment.reset(task_id="calc-1")
    first = environment.step(MentorAction(text=completion(family, assistant("", TEACHER))))
    assert first.info["errors"] == [] and not first.done
    last = environment.step(MentorAction(text=completion(family, assistant(FINAL))))
    assert last.done and last.reward == 1.1


def test_verls_tool_loop_plays_turns_in_the_envs_format(tmp_path):
    pytest.importorskip("verl.experimental.agent_loop.tool_agent_loop", reason="verl is not installed")
    import asyncio

    from verl.experimental.agent_loop.tool_agent_loop import AgentData, ToolAgentLoop
    from verl.experimental.agent_loop.tool_parser import FunctionCall
    from verl.tools.tool_registry import initialize_tools_from_config

    from mentor_env.integrations.verl import verl_row
    from mentor_env.integrations.verl_agent import episode_sessions, write_verl_tool_config

    config = write_verl_tool_config(tmp_path / "tools.yaml", "mentor/Calc-v0", tool_parser="pythonic")
    tools = {tool.name: tool for tool in initialize_tools_from_config(str(config))}
    loop = SimpleNamespace(tools=tools, max_tool_response_length=4096, tool_response_truncate_side="middle")
    row = verl_row(get_domain("calc").generate(1, 2), agent=True, tools_in_prompt=False)
    assert row["extra_info"]["task_id"] == "calc-1"
    data = AgentData(
        messages=list(row["prompt"]) + [assistant("", TEACHER)],
        image_data=None,
        video_data=None,
        audio_data=None,
        mm_processor_kwargs=None,
        metrics={},
        request_id="req-pythonic",
        tools_kwargs=row["extra_info"]["tools_kwargs"],
    )
    calls = [FunctionCall(name=name, arguments=json.dumps(arguments)) for name, arguments in TEACHER]

    async def run_calls():
        return await asyncio.gather(*(ToolAgentLoop._call_tool(loop, call, data.tools_kwargs, data) for call in calls))

    responses = asyncio.run(run_calls())
    assert [response.text for response, _, _ in responses] == ["19", "19"]
    record = data.extra_fields["mentor_env"]
    assert record["task_id"] == "calc-1" and record["tool_calls"] == 2.0 and record["errors"] == 0.0
    episode_sessions.drop("req-pythonic")
