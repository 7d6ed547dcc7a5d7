"""Language-model glue (needs the ``lm`` extra: torch and transformers).

:func:`render_prompt` turns ``info["messages"]`` and ``info["tools"]`` into
the prompt text of a Hugging Face tokenizer: with the model's own chat
template when it renders tools, otherwise (SmolLM2 and other templates without
tool support) with one compact line per tool written into the system message and tool
calls and responses written as Hermes text, and with our ChatML rendering when
the tokenizer has no template at all. It is the one prompt renderer:
:class:`ChatLayout` builds the token layout of an episode with it.

Re-tokenising a whole conversation after every turn drifts from the tokens the
model sampled (templates rewrite earlier turns, BPE merges across boundaries),
so an LM episode is one growing list of token ids (:class:`TokenTrace`): the
prompt rendered at ``reset``, then, turn after turn, the tokens the model
sampled and the tokens of what the environment answered, with a mask marking
the sampled tokens.

:class:`ChatPolicy` is the LM policy of the suite, a slot policy of
:func:`mentor_env.play.rollouts.run_episodes`: it keeps each slot's tokens, and a
generation backend (:mod:`mentor_env.play.generation`) keeps each slot's KV cache,
so a turn only runs the tokens the environment added. :class:`HFChatPolicy`
is the same policy built from a model and its tokenizer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Sequence

from mentor_env.core.messages import (
    Message,
    message_calls,
    render_assistant_text,
    render_conversation,
    render_tool_responses,
    render_tools_compact,
)
from mentor_env.core.parsing import (
    AUTO,
    DEEPSEEK_CALLS_END,
    HARMONY_CALL,
    PYTHON_END,
    TOOL_CALL_CLOSE,
    ToolCallParser,
    match_tool_parser,
    render_turn,
    resolve_tool_parser,
    writes_own_format,
)

LOG = logging.getLogger("mentor_env.parsing")

# The text that ends a tool-calling turn of each format, where ``stop_at_tool_call`` stops it. The formats
# whose calls run to the end of the turn (llama3_json, mistral) have none: EOS ends those turns.
CALL_END_MARKERS = {
    "hermes": TOOL_CALL_CLOSE,
    "qwen3_coder": TOOL_CALL_CLOSE,
    "pythonic": PYTHON_END,
    "deepseek_v3": DEEPSEEK_CALLS_END,
    "openai": HARMONY_CALL,
}


def template_renders_tools(tokenizer: Any) -> bool:
    """Whether the tokenizer's chat template uses the ``tools`` it is given."""
    template = getattr(tokenizer, "chat_template", None)
    return isinstance(template, str) and "tools" in template


def hermes_messages(messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> list[Message]:
    """Messages for a template without tool support: tools in the system turn, calls as text.

    The tools are the compact lines of :func:`~mentor_env.core.messages.render_tools_compact`, not the
    full JSON specs: those cost a small model about 2,000 prompt tokens on Calc.
    """
    plain: list[Message] = []
    index = 0
    while index < len(messages):
        message = messages[index]
        if message["role"] == "system":
            plain.append({"role": "system", "content": _with_tools(message["content"], tools)})
        elif message["role"] == "assistant":
            plain.append({"role": "assistant", "content": render_assistant_text(message)})
        elif message["role"] == "tool":
            contents = []
            while index < len(messages) and messages[index]["role"] == "tool":
                contents.append(messages[index]["content"])
                index += 1
            plain.append({"role": "user", "content": render_tool_responses(contents)})
            continue
        else:
            plain.append({"role": message["role"], "content": message["content"]})
        index += 1
    return plain


def _with_tools(system: str, tools: Sequence[dict[str, Any]]) -> str:
    """The system turn's text with the compact tool lines after it (none without tools)."""
    return f"{system}\n\n{render_tools_compact(tools)}" if tools else system


def render_prompt(
    tokenizer: Any, messages: Sequence[Message], tools: Sequence[dict[str, Any]], add_generation_prompt: bool = True
) -> str:
    """The prompt text of ``messages`` (see module doc), opening the next assistant turn by default."""
    if template_renders_tools(tokenizer):
        return tokenizer.apply_chat_template(
            list(messages), tools=list(tools) or None, add_generation_prompt=add_generation_prompt, tokenize=False
        )
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            hermes_messages(messages, tools), add_generation_prompt=add_generation_prompt, tokenize=False
        )
    return render_conversation(messages, tools, add_generation_prompt=add_generation_prompt)


def cut_at_stop(text: str, stop_strings: Sequence[str]) -> str:
    """``text`` up to and including the first stop string."""
    ends = [text.find(stop) + len(stop) for stop in stop_strings if stop in text]
    return text[: min(ends)] if ends else text


_PROBE = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
_PROBE_REPLY = "REPLY_7f3a"


def layout_tool_parser(tokenizer: Any, tool_parser: str | ToolCallParser | None = AUTO) -> tuple[Any, str]:
    """The tool-call format a :class:`ChatLayout` writes and the env should read, and why that one.

    ``"auto"`` reads it from the tokenizer's chat template (:func:`~mentor_env.core.parsing.match_tool_parser`);
    a template without tool-call markers (SmolLM2's, which has no tool support) falls back to ``"hermes"``, the
    format the compact tool lines ask for. A name or a parser object is taken as it is (``None``: Hermes).

    Raises:
        ValueError, TypeError: what :func:`~mentor_env.core.parsing.resolve_tool_parser` raises for ``tool_parser``.
    """
    if not (isinstance(tool_parser, str) and tool_parser == AUTO):
        resolve_tool_parser(tool_parser)
        return ("hermes" if tool_parser is None else tool_parser), "given"
    name = match_tool_parser(tokenizer)
    if name is None:
        reason = "the chat template has no tool-call markers, so the prompt asks for Hermes calls"
        LOG.warning("tool_parser='auto': hermes, as %s", reason)
        return "hermes", reason
    reason = "read from the chat template's tool-call markers"
    # Hermes is every default of the suite: said only at INFO. Another format changes what the env reads: a warning.
    LOG.log(logging.INFO if name == "hermes" else logging.WARNING, "tool_parser='auto': %r, %s", name, reason)
    return name, reason


class ChatLayout:
    """How the tokenizer's chat template frames turns, learnt once from probe messages, and its tool-call format.

    Args:
        tokenizer: a Hugging Face tokenizer with a chat template.
        tool_parser: the format the model writes calls in (:func:`layout_tool_parser`): ``"auto"`` (the
            default: from the chat template, Hermes when it shows none), a parser name or a parser object.
            :attr:`tool_parser` is what to pass as the env's ``tool_parser``; :attr:`tool_parser_reason`
            says why this format; :attr:`parser` reads and writes it.
    """

    def __init__(self, tokenizer: Any, tool_parser: str | ToolCallParser | None = AUTO) -> None:
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError("the tokenizer has no chat template; set tokenizer.chat_template first")
        self.tokenizer = tokenizer
        self.tool_parser, self.tool_parser_reason = layout_tool_parser(tokenizer, tool_parser)
        self.parser: ToolCallParser = resolve_tool_parser(self.tool_parser)
        # A format other than Hermes writes teacher turns with its own format_turn and keeps special tokens.
        self.own_format = writes_own_format(self.parser)
        with_reply = render_prompt(
            tokenizer, _PROBE + [{"role": "assistant", "content": _PROBE_REPLY}], [], add_generation_prompt=False
        )
        # The text after the assistant's words up to the end of its turn, e.g. "<|im_end|>\n".
        self.end_of_turn = with_reply[with_reply.index(_PROBE_REPLY) + len(_PROBE_REPLY) :]
        self.eos_token_id: int = tokenizer.eos_token_id
        self.eos_text: str = tokenizer.eos_token or ""
        self.pad_token_id: int = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_token_id
        self._probe_before = with_reply

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def prompt_ids(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> list[int]:
        """The prompt at ``reset``: system and user turns, then the assistant's turn opening."""
        return self.encode(render_prompt(self.tokenizer, messages, tools))

    def closing_text(self, completion_ids: Sequence[int]) -> str:
        """What must follow a sampled turn to close it (nothing if it ended with EOS and the rest)."""
        if completion_ids and completion_ids[-1] == self.eos_token_id and self.end_of_turn.startswith(self.eos_text):
            return self.end_of_turn[len(self.eos_text) :]
        return self.end_of_turn

    def environment_ids(self, completion_ids: Sequence[int], tool_messages: Sequence[Message]) -> list[int]:
        """Tokens the environment adds after a tool turn: close it, tool responses, next opening."""
        probe = _PROBE + [{"role": "assistant", "content": _PROBE_REPLY}]
        after = render_prompt(self.tokenizer, probe + list(tool_messages), [])
        if not after.startswith(self._probe_before):
            raise ValueError("the chat template rewrites earlier turns when tool messages follow; cannot append tokens")
        return self.encode(self.closing_text(completion_ids) + after[len(self._probe_before) :])

    def assistant_turn_ids(self, message: Message) -> list[int]:
        """Token ids of a teacher's assistant turn as the model should write it, in its format (for SFT)."""
        if self.own_format:
            text = render_turn(self.parser, message.get("content") or "", message_calls(message))
        else:
            text = render_assistant_text(message)
        return self.encode(text) + [self.eos_token_id]

    def decode(self, completion: Sequence[int]) -> str:
        """A sampled turn's text for the env: special tokens dropped, except a format's own markers and the EOS."""
        if not self.own_format:
            return str(self.tokenizer.decode(completion, skip_special_tokens=True))
        ids = list(completion)
        while ids and ids[-1] in (self.eos_token_id, self.pad_token_id):
            ids.pop()
        return str(self.tokenizer.decode(ids, skip_special_tokens=False))

    def stop_ids(self, stop_at_tool_call: bool) -> list[int]:
        """The ids that end a turn: EOS and, with ``stop_at_tool_call``, the format's end of calls.

        The end of calls is :data:`CALL_END_MARKERS`' entry of the format (``</tool_call>`` for Hermes), which
        must be one token; a format without one ends its turns at EOS only.
        """
        stops = [self.eos_token_id]
        marker = CALL_END_MARKERS.get(getattr(self.parser, "name", ""))
        if stop_at_tool_call and marker is not None:
            closing = self.encode(marker)
            if len(closing) != 1:
                raise ValueError(
                    f"stop_at_tool_call needs {marker} to be one token; this tokenizer splits it into {len(closing)}"
                )
            stops.append(closing[0])
        return stops


@dataclass
class TokenTrace:
    """An LM episode as tokens. ``action_mask[i]`` is true for tokens the model sampled."""

    token_ids: list[int]
    action_mask: list[bool]
    turn_ends: list[int] = field(default_factory=list)  # index of each assistant turn's last token

    @property
    def generated_tokens(self) -> int:
        return sum(self.action_mask)

    def add(self, ids: Sequence[int], sampled: bool) -> None:
        self.token_ids += ids
        self.action_mask += [sampled] * len(ids)
        if sampled:
            self.turn_ends.append(len(self.token_ids) - 1)


class ChatPolicy:
    """A causal LM as a slot policy of :func:`mentor_env.play.rollouts.run_episodes` (see module doc).

    Args:
        model: a ``transformers`` causal LM (possibly wrapped by ``peft``), or
            ``None`` with a ``backend`` that needs none.
        layout: the tokenizer's :class:`ChatLayout`.
        settings: :class:`~mentor_env.play.generation.GenerationSettings` (token
            budget, temperature, top-p, stopping at ``</tool_call>``).
        backend: ``"auto"`` (the prefix-cache backend when the model is a
            Llama-family decoder, else ``generate``), ``"prefix-cache"``,
            ``"hf"``, or a :class:`~mentor_env.play.generation.GenerationBackend`.
        seed: when given, torch is seeded with ``seed + n`` before the n-th
            batch of turns, so a run is repeatable on its own; ``None`` draws
            from torch's global RNG as it stands (the trainer checkpoints it).
    """

    def __init__(
        self,
        model: Any,
        layout: ChatLayout,
        settings: Any = None,
        backend: Any = "auto",
        seed: int | None = None,
    ) -> None:
        from mentor_env.play.generation import GenerationSettings, make_backend

        self.model = model
        self.layout = layout
        self.settings = settings if settings is not None else GenerationSettings()
        self.stop_ids = layout.stop_ids(self.settings.stop_at_tool_call)
        if isinstance(backend, str):
            backend = make_backend(model, self.settings, self.stop_ids, layout.pad_token_id, backend)
        self.backend = backend
        self.seed = seed
        self._batches = 0
        self.traces: dict[int, TokenTrace] = {}
        self._seen: dict[int, int] = {}  # messages in the slot's conversation before its last action
        self._last: dict[int, list[int]] = {}

    def start(self, slot: int, env: Any, observation: Any, info: dict[str, Any]) -> None:
        prompt = self.layout.prompt_ids(info["messages"], info["tools"])
        self.traces[slot] = TokenTrace(list(prompt), [False] * len(prompt))
        self.backend.open(slot, prompt)

    def act(self, slots: Sequence[int], observations: Sequence[Any], infos: Sequence[dict[str, Any]]) -> list[str]:
        import torch

        if self.seed is not None:
            torch.manual_seed(self.seed + self._batches)
        self._batches += 1
        completions = self.backend.generate(list(slots))
        texts = []
        for slot, info, completion in zip(slots, infos, completions):
            self.traces[slot].add(completion, sampled=True)
            self._seen[slot] = len(info["messages"])
            self._last[slot] = completion
            texts.append(self.decode(completion))
        return texts

    def observe(self, slot: int, action: Any, observation: Any, info: dict[str, Any], done: bool) -> None:
        if done:
            return
        tool_messages = info["messages"][self._seen[slot] + 1 :]
        environment = self.layout.environment_ids(self._last[slot], tool_messages)
        self.traces[slot].add(environment, sampled=False)
        self.backend.extend(slot, environment)

    def finish(self, slot: int) -> TokenTrace:
        self.backend.close(slot)
        self._seen.pop(slot, None)
        self._last.pop(slot, None)
        return self.traces.pop(slot)

    def decode(self, completion: Sequence[int]) -> str:
        return self.layout.decode(completion)

    def __call__(self, conversations: Sequence[list[Message]], tools: Sequence[list[dict[str, Any]]]) -> list[str]:
        """One turn for each conversation from scratch (no state kept): the batched-policy form."""
        slots = [-(index + 1) for index in range(len(conversations))]
        for slot, messages, specs in zip(slots, conversations, tools):
            self.start(slot, None, None, {"messages": messages, "tools": specs})
        texts = self.act(slots, [None] * len(slots), [{"messages": m} for m in conversations])
        for slot in slots:
            self.finish(slot)
        return texts


class HFChatPolicy(ChatPolicy):
    """:class:`ChatPolicy` from a Hugging Face model and tokenizer (the suite's defaults otherwise).

    Args:
        model: a ``transformers`` causal LM (on any device).
        tokenizer: its tokenizer (it needs a chat template).
        max_new_tokens, temperature, top_p, stop_at_tool_call: override
            :class:`~mentor_env.play.generation.GenerationSettings`' defaults.
        seed: torch is seeded with ``seed + n`` before the n-th batch of turns.
        backend: see :class:`ChatPolicy`.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        max_new_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stop_at_tool_call: bool | None = None,
        seed: int | None = 0,
        backend: Any = "auto",
    ) -> None:
        from dataclasses import replace

        from mentor_env.play.generation import GenerationSettings

        given: dict[str, Any] = {  # each a field of GenerationSettings, of its own type
            "max_new_tokens": max_new_tokens,
            "temperature": temperature,
            "top_p": top_p,
            "stop_at_tool_call": stop_at_tool_call,
        }
        settings = replace(GenerationSettings(), **{k: v for k, v in given.items() if v is not None})
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        super().__init__(model, ChatLayout(tokenizer), settings, backend=backend, seed=seed)
