"""Language-model glue (needs the ``lm`` extra: torch and transformers).

:func:`render_prompt` turns ``info["messages"]`` and ``info["tools"]`` into
the prompt text of a Hugging Face tokenizer: with the model's own chat
template when it renders tools, otherwise (SmolLM2 and other templates without
tool support) with the tool specs written into the system message and tool
calls and responses written as Hermes text, and with our ChatML rendering when
the tokenizer has no template at all.

:class:`HFChatPolicy` is a batched policy (see :mod:`mentor_env.rollouts`)
around any causal LM: one ``generate`` call per turn for every waiting
conversation.
"""

from __future__ import annotations

from typing import Any, Sequence

from mentor_env.core.messages import (
    Message,
    render_assistant_text,
    render_conversation,
    render_tool_responses,
    render_tools_block,
)
from mentor_env.core.parsing import TOOL_CALL_CLOSE


def template_renders_tools(tokenizer: Any) -> bool:
    """Whether the tokenizer's chat template uses the ``tools`` it is given."""
    template = getattr(tokenizer, "chat_template", None)
    return isinstance(template, str) and "tools" in template


def hermes_messages(messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> list[Message]:
    """Messages for a template without tool support: tools in the system turn, calls as text."""
    plain: list[Message] = []
    index = 0
    while index < len(messages):
        message = messages[index]
        if message["role"] == "system":
            plain.append({"role": "system", "content": f"{message['content']}\n\n{render_tools_block(tools)}"})
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


def render_prompt(tokenizer: Any, messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> str:
    """The prompt text for the next assistant turn (see module doc)."""
    if template_renders_tools(tokenizer):
        return tokenizer.apply_chat_template(list(messages), tools=list(tools), add_generation_prompt=True, tokenize=False)
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(hermes_messages(messages, tools), add_generation_prompt=True, tokenize=False)
    return render_conversation(messages, tools)


def cut_at_stop(text: str, stop_strings: Sequence[str]) -> str:
    """``text`` up to and including the first stop string (generation overshoots in a batch)."""
    ends = [text.find(stop) + len(stop) for stop in stop_strings if stop in text]
    return text[: min(ends)] if ends else text


class HFChatPolicy:
    """Sample one assistant turn per conversation with a Hugging Face causal LM.

    Args:
        model: a ``transformers`` causal LM (on any device).
        tokenizer: its tokenizer.
        max_new_tokens: the token budget of one turn.
        temperature: sampling temperature; 0 means greedy decoding.
        top_p: nucleus sampling mass.
        stop_at_tool_call: end the turn at ``</tool_call>`` (one call per
            turn, as in Search-R1-style rollouts); otherwise only at the end
            of turn or EOS, so a turn may hold several calls.
        seed: seeds torch before each batch, so a run is repeatable.
    """

    batched = True

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        max_new_tokens: int = 256,
        temperature: float = 1.0,
        top_p: float = 1.0,
        stop_at_tool_call: bool = True,
        seed: int = 0,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.stop_strings = [TOOL_CALL_CLOSE] if stop_at_tool_call else []
        self.seed = seed
        self._batches = 0
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token

    def __call__(self, conversations: Sequence[list[Message]], tools: Sequence[list[dict[str, Any]]]) -> list[str]:
        import torch

        prompts = [render_prompt(self.tokenizer, messages, specs) for messages, specs in zip(conversations, tools)]
        self.tokenizer.padding_side = "left"  # generated tokens then line up at the right
        encoded = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(
            self.model.device
        )
        torch.manual_seed(self.seed + self._batches)
        self._batches += 1
        sampling: dict[str, Any] = (
            {"do_sample": True, "temperature": self.temperature, "top_p": self.top_p}
            if self.temperature > 0
            else {"do_sample": False}
        )
        with torch.no_grad():
            output = self.model.generate(
                **encoded,
                max_new_tokens=self.max_new_tokens,
                pad_token_id=self.tokenizer.pad_token_id,
                stop_strings=self.stop_strings or None,
                tokenizer=self.tokenizer if self.stop_strings else None,
                **sampling,
            )
        completions = output[:, encoded["input_ids"].shape[1] :]
        texts = self.tokenizer.batch_decode(completions, skip_special_tokens=True)
        return [cut_at_stop(text, self.stop_strings) for text in texts]
