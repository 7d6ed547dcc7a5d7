"""The one place where conversations become text.

Messages are OpenAI chat dicts (``role``, ``content``; assistant turns that call
tools also carry ``tool_calls``), which ``tokenizer.apply_chat_template(messages,
tools=...)`` accepts as they are. For agents without a tokenizer, and for
``render_mode="ansi"``, :func:`render_conversation` writes them in ChatML with
Hermes tool tags, the layout Qwen-style tool models are trained on.
"""

from __future__ import annotations

import json
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
