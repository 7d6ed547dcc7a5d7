"""The compact tool lines written into the system turn of chat templates without tool support."""

from __future__ import annotations

import copy

from mentor_env.core.messages import render_tools_compact, schema_type, short_description, tool_signature
from mentor_env.core.tools import ToolSpecs


def _spec(name: str, description: str, properties: dict, required: list[str]) -> dict:
    parameters = {"type": "object", "properties": properties, "required": required}
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}


ROUND = _spec(
    "round_number",
    "Round a number to a given number of places. Halves round away from zero.",
    {"x": {"type": "number", "minimum": -5}, "decimals": {"type": "integer"}},
    ["x"],
)
PLAY = _spec(
    "play_song",
    "Plays a song (e.g. by its title).",
    {
        "titles": {"type": "array", "items": {"type": "string"}},
        "mode": {"type": "string", "enum": ["shuffle", "repeat"]},
        "unit": {"type": "string", "enum": ["a", "b", "c", "d", "e", "f", "g"]},
        "extra": {"type": ["string", "null"]},
        "blob": {},
    },
    ["titles", "mode", "unit", "extra", "blob"],
)


def test_a_signature_has_the_types_marks_optional_arguments_and_keeps_the_first_sentence():
    assert (
        tool_signature(ROUND)
        == "round_number(x: number, decimals?: integer): Round a number to a given number of places."
    )
    assert tool_signature(PLAY) == (
        'play_song(titles: array[string], mode: "shuffle"|"repeat", unit: string, extra: string|null, blob: any): '
        "Plays a song (e.g. by its title)."
    )


def test_a_tool_without_arguments_or_description():
    bare = {"type": "function", "function": {"name": "list_tables", "parameters": {"type": "object", "properties": {}}}}
    assert tool_signature(bare) == "list_tables()"


def test_schema_types_of_odd_schemas():
    assert schema_type("not a schema") == "any"
    assert schema_type({"type": "array"}) == "array"
    assert schema_type({"type": "array", "items": {"type": "array", "items": {"type": "integer"}}}) == (
        "array[array[integer]]"
    )
    assert schema_type({"enum": [1, 2.5, None]}) == "1|2.5|null"


def test_a_long_first_sentence_is_cut_at_a_word():
    text = "word " * 40 + "end. Second sentence."
    cut = short_description(text)
    assert cut == ("word " * 32).strip() + "..."
    assert len(cut) == 162
    assert short_description("  Two\n lines\tjoined.  Next one.") == "Two lines joined."
    assert short_description("No full stop at all") == "No full stop at all"


def test_the_block_is_one_line_a_tool_then_how_to_call():
    assert render_tools_compact([ROUND, PLAY]) == (
        "# Tools\n"
        "- round_number(x: number, decimals?: integer): Round a number to a given number of places.\n"
        '- play_song(titles: array[string], mode: "shuffle"|"repeat", unit: string, extra: string|null, blob: any): '
        "Plays a song (e.g. by its title).\n"
        'Call a tool as <tool_call>{"name": ..., "arguments": {...}}</tool_call>.'
    )


def test_tool_specs_render_the_block_once_and_again_after_an_edit():
    specs = ToolSpecs(copy.deepcopy([ROUND, PLAY]))
    first = render_tools_compact(specs)
    assert render_tools_compact(specs) is first
    specs[0]["function"]["description"] = "Edited."
    assert "round_number(x: number, decimals?: integer): Edited.\n" in render_tools_compact(specs)
