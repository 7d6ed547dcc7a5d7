"""The one place where conversations become text.

Messages are OpenAI chat dicts (``role``, ``content``; assistant turns that call
tools also carry ``tool_calls``), which ``tokenizer.apply_chat_template(messages,
tools=...)`` accepts as they are. For agents without a tokenizer, and for
``render_mode="ansi"``, :func:`render_conversation` writes them in ChatML with
Hermes tool tags, the layout Qwen-style tool models are trained on.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Mapping, Sequence

from mentor_env.core.parsing import TOOL_RESPONSE_OPEN, format_tool_call
from mentor_env.core.tools import ToolSpecs

Message = dict[str, Any]


def system_message(content: str) -> Message:
    return {"role": "system", "content": content}


def user_message(content: str) -> Message:
    return {"role": "user", "content": content}


def assistant_message(content: str, calls: Iterable[tuple[str, Mapping[str, Any]]] = ()) -> Message:
    """An assistant turn; ``calls`` are ``(name, arguments)`` pairs it made."""
    message: Message = {"role": "assistant", "content": content}
    tool_calls = [
        {"type": "function", "function": {"name": name, "arguments": dict(arguments)}} for name, arguments in calls
    ]
    if tool_calls:
        message["tool_calls"] = tool_calls
    return message


def tool_message(name: str | None, content: str) -> Message:
    """The environment's answer to one call (a result or an error)."""
    return {"role": "tool", "name": name or "", "content": content}


def message_calls(message: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(name, arguments)`` pairs of an assistant message's ``tool_calls``."""
    calls = []
    for call in message.get("tool_calls") or ():
        function = call.get("function", call)
        arguments = function.get("arguments", {})
        if isinstance(arguments, str):
            arguments = json.loads(arguments) if arguments else {}
        calls.append((function["name"], arguments))
    return calls


def render_assistant_text(message: Mapping[str, Any]) -> str:
    """The raw text a Hermes-format model writes for this assistant message."""
    parts = [message.get("content") or ""]
    parts.extend(format_tool_call(name, arguments) for name, arguments in message_calls(message))
    return "\n".join(part for part in parts if part)


def render_tool_responses(contents: Sequence[str]) -> str:
    """Tool results as the text appended to the conversation after a tool turn."""
    return "\n".join(f"{TOOL_RESPONSE_OPEN}\n{content}\n</tool_response>" for content in contents)


def render_tools_block(tools: Sequence[Mapping[str, Any]]) -> str:
    """The system prompt's ``# Tools`` section: one JSON line per spec, then how to call them.

    A runtime's :class:`~mentor_env.core.tools.ToolSpecs` keeps the text it
    rendered while its specs are unchanged, so each reset does not redo the
    ``json.dumps``.
    """
    if isinstance(tools, ToolSpecs):
        return tools.cached("tools_block", _render_tools_block)
    return _render_tools_block(tools)


def _render_tools_block(tools: Sequence[Mapping[str, Any]]) -> str:
    lines = "\n".join(json.dumps(tool, ensure_ascii=False) for tool in tools)
    return (
        "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
        "You are provided with function signatures within <tools></tools> XML tags:\n"
        f"<tools>\n{lines}\n</tools>\n\n"
        "For each function call, return a json object with function name and arguments within "
        '<tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
    )


# How a model is told to call a tool, in the compact rendering (the tiny student's template says the same).
COMPACT_CALL_LINE = 'Call a tool as <tool_call>{"name": ..., "arguments": {...}}</tool_call>.'
# The longest description the compact rendering keeps; longer first sentences are cut at a word.
COMPACT_DESCRIPTION_CHARS = 160
# Enums of at most this many values are written out in the compact rendering; longer ones by their type.
COMPACT_ENUM_VALUES = 6
# A sentence ends at . ! or ? before whitespace and a capital letter ("e.g. doc-00042" is no end).
_SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z])")


def render_tools_compact(tools: Sequence[Mapping[str, Any]]) -> str:
    """The system prompt's ``# Tools`` section for a chat template without tool support: one line a tool.

    Each line is ``- name(arg: type, optional?: type): first sentence of the
    description``, then one line says how to call a tool in the Hermes format
    (:data:`COMPACT_CALL_LINE`). A small pretrained model's prompt shrinks
    from the full JSON specs of :func:`render_tools_block` (about 1,900
    SmolLM2 tokens for Calc's 12 tools) to a few hundred tokens.
    """
    if isinstance(tools, ToolSpecs):
        return tools.cached("tools_compact", _render_tools_compact)
    return _render_tools_compact(tools)


def _render_tools_compact(tools: Sequence[Mapping[str, Any]]) -> str:
    lines = "".join(f"\n- {tool_signature(tool)}" for tool in tools)
    return f"# Tools{lines}\n{COMPACT_CALL_LINE}"


def tool_signature(tool: Mapping[str, Any]) -> str:
    """One tool spec as ``name(arg: type, optional?: type): short description``."""
    function = tool.get("function", tool)
    parameters = function.get("parameters") or {}
    required = set(parameters.get("required") or ())
    arguments = ", ".join(
        f"{name}{'' if name in required else '?'}: {schema_type(schema)}"
        for name, schema in (parameters.get("properties") or {}).items()
    )
    description = short_description(function.get("description") or "")
    return f"{function['name']}({arguments})" + (f": {description}" if description else "")


def schema_type(schema: Any) -> str:
    """A JSON schema's type in a few characters: ``number``, ``array[string]``, ``"C"|"F"|"K"`` (a short enum)."""
    if not isinstance(schema, Mapping):
        return "any"
    enum = schema.get("enum")
    if isinstance(enum, list) and 0 < len(enum) <= COMPACT_ENUM_VALUES:
        return "|".join(json.dumps(value, ensure_ascii=False) for value in enum)
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        return "|".join(str(part) for part in kind)
    items = schema.get("items")
    if kind == "array" and isinstance(items, Mapping) and "type" in items:
        return f"array[{schema_type(items)}]"
    return str(kind)


def short_description(text: str) -> str:
    """The first sentence of ``text``, on one line, cut at a word past :data:`COMPACT_DESCRIPTION_CHARS`."""
    flat = " ".join(str(text).split())
    end = _SENTENCE_END.search(flat)
    sentence = flat[: end.end()] if end else flat
    if len(sentence) <= COMPACT_DESCRIPTION_CHARS:
        return sentence
    cut = sentence[:COMPACT_DESCRIPTION_CHARS].rsplit(" ", 1)[0]
    return f"{cut}..."


def render_conversation(
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]] = (),
    add_generation_prompt: bool = True,
) -> str:
    """ChatML text of a conversation, tools rendered into the system turn."""
    chunks: list[str] = []
    index = 0
    while index < len(messages):
        message = messages[index]
        role = message["role"]
        if role == "system":
            content = message["content"]
            if tools:
                content = f"{content}\n\n{render_tools_block(tools)}"
            chunks.append(f"<|im_start|>system\n{content}<|im_end|>")
        elif role == "assistant":
            chunks.append(f"<|im_start|>assistant\n{render_assistant_text(message)}<|im_end|>")
        elif role == "tool":
            # Consecutive tool messages form one turn, as in Qwen's template.
            contents = []
            while index < len(messages) and messages[index]["role"] == "tool":
                contents.append(messages[index]["content"])
                index += 1
            chunks.append(f"<|im_start|>user\n{render_tool_responses(contents)}<|im_end|>")
            continue
        else:
            chunks.append(f"<|im_start|>{role}\n{message['content']}<|im_end|>")
        index += 1
    text = "\n".join(chunks)
    if add_generation_prompt:
        text += "\n<|im_start|>assistant\n"
    return text
