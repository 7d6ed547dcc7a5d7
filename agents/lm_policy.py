"""A language-model policy over token ids, for training through the environment.

Re-tokenising a whole conversation after every turn drifts from the tokens the
model sampled (templates rewrite earlier turns, BPE merges across boundaries),
so an episode here is one growing list of token ids: the prompt rendered by
the chat template at ``reset``, then, turn after turn, the tokens the model
sampled and the tokens of what the environment answered. A parallel mask marks
the sampled tokens, the only ones the policy loss sees.

:class:`ChatLayout` knows how a chat template frames turns (what closes an
assistant turn, what a tool response turn looks like); :class:`LMPolicy`
samples one turn for a batch of episodes with ``model.generate`` (KV cache, one
call per turn for the whole batch, no per-token Python loop of ours).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from mentor_env.core.messages import Message, render_assistant_text
from mentor_env.core.parsing import TOOL_CALL_CLOSE
from mentor_env.lm import hermes_messages, template_renders_tools

_PROBE = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
_PROBE_REPLY = "REPLY_7f3a"


class ChatLayout:
    """How the tokenizer's chat template frames turns, learnt once from probe messages."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.renders_tools = template_renders_tools(tokenizer)
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError("the tokenizer has no chat template; set tokenizer.chat_template first")
        with_reply = self._render(_PROBE + [{"role": "assistant", "content": _PROBE_REPLY}], [], generation_prompt=False)
        # The text after the assistant's words up to the end of its turn, e.g. "<|im_end|>\n".
        self.end_of_turn = with_reply[with_reply.index(_PROBE_REPLY) + len(_PROBE_REPLY) :]
        self.eos_token_id: int = tokenizer.eos_token_id
        self.eos_text: str = tokenizer.eos_token or ""

    def _render(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]], generation_prompt: bool) -> str:
        if self.renders_tools:
            return self.tokenizer.apply_chat_template(
                list(messages), tools=list(tools) or None, add_generation_prompt=generation_prompt, tokenize=False
            )
        return self.tokenizer.apply_chat_template(
            hermes_messages(messages, tools), add_generation_prompt=generation_prompt, tokenize=False
        )

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def prompt_ids(self, messages: Sequence[Message], tools: Sequence[dict[str, Any]]) -> list[int]:
        """The prompt at ``reset``: system and user turns, then the assistant's turn opening."""
        return self.encode(self._render(messages, tools, generation_prompt=True))

    def closing_text(self, completion_ids: Sequence[int]) -> str:
        """What must follow a sampled turn to close it (nothing if it ended with EOS and the rest)."""
        if completion_ids and completion_ids[-1] == self.eos_token_id and self.end_of_turn.startswith(self.eos_text):
            return self.end_of_turn[len(self.eos_text) :]
        return self.end_of_turn

    def environment_ids(self, completion_ids: Sequence[int], tool_messages: Sequence[Message]) -> list[int]:
        """Tokens the environment adds after a tool turn: close it, tool responses, next opening."""
        probe = _PROBE + [{"role": "assistant", "content": _PROBE_REPLY}]
        before = self._render(probe, [], generation_prompt=False)
        after = self._render(probe + list(tool_messages), [], generation_prompt=True)
        if not after.startswith(before):
            raise ValueError("the chat template rewrites earlier turns when tool messages follow; cannot append tokens")
        return self.encode(self.closing_text(completion_ids) + after[len(before) :])

    def assistant_turn_ids(self, message: Message) -> list[int]:
        """Token ids of a teacher's assistant turn as the model should write it (for SFT)."""
        return self.encode(render_assistant_text(message)) + [self.eos_token_id]


@dataclass
class TokenEpisode:
    """One episode as tokens. ``action_mask[i]`` is true for tokens the model sampled."""

    token_ids: list[int]
    action_mask: list[bool]
    turn_ends: list[int] = field(default_factory=list)  # index of each assistant turn's last token
    turn_rewards: list[float] = field(default_factory=list)  # the env's reward for each turn
    returns: dict[str, float] = field(default_factory=dict)  # every reward mode's episode return
    success: bool = False
    tool_calls: int = 0
    task_id: str = ""
    group: int = 0  # episodes of the same task share a group (GRPO)

    @property
    def generated_tokens(self) -> int:
        return sum(self.action_mask)


class LMPolicy:
    """Samples assistant turns for a batch of token sequences.

    Args:
        model: a causal LM (``transformers``), possibly wrapped (LoRA).
        layout: the tokenizer's :class:`ChatLayout`.
        max_new_tokens: token budget of one turn.
        temperature: sampling temperature (also used for the PPO log-probabilities).
        top_p: nucleus sampling mass (1.0 keeps the exact policy distribution for PPO).
        stop_at_tool_call: also end a turn at ``</tool_call>`` (one call per turn);
            by default a turn ends at end-of-turn / EOS, so it may hold several calls.
    """

    def __init__(
        self,
        model: Any,
        layout: ChatLayout,
        max_new_tokens: int = 96,
        temperature: float = 1.0,
        top_p: float = 1.0,
        stop_at_tool_call: bool = False,
    ) -> None:
        self.model = model
        self.layout = layout
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        tokenizer = layout.tokenizer
        self.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else layout.eos_token_id
        self.stop_ids = [layout.eos_token_id]
        if stop_at_tool_call:
            closing = layout.encode(TOOL_CALL_CLOSE)
            if len(closing) != 1:
                raise ValueError(f"stop_at_tool_call needs {TOOL_CALL_CLOSE} to be one token; this tokenizer splits it into {len(closing)}")
            self.stop_ids.append(closing[0])

    @torch.no_grad()
    def sample(self, sequences: Sequence[list[int]]) -> list[list[int]]:
        """One completion per sequence, each cut after its first EOS."""
        device = next(self.model.parameters()).device
        width = max(len(sequence) for sequence in sequences)
        # Left padding, so that every row's next token is generated at the same position.
        input_ids = torch.full((len(sequences), width), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for row, sequence in enumerate(sequences):
            input_ids[row, width - len(sequence) :] = torch.tensor(sequence)
            attention_mask[row, width - len(sequence) :] = 1
        output = self.model.generate(
            input_ids=input_ids.to(device),
            attention_mask=attention_mask.to(device),
            do_sample=self.temperature > 0,
            temperature=self.temperature if self.temperature > 0 else None,
            top_p=self.top_p if self.temperature > 0 else None,
            top_k=0 if self.temperature > 0 else None,
            max_new_tokens=self.max_new_tokens,
            eos_token_id=self.stop_ids,
            pad_token_id=self.pad_token_id,
        )
        completions = []
        for row in output[:, width:].tolist():
            ends = [row.index(stop) + 1 for stop in self.stop_ids if stop in row]
            completions.append(row[: min(ends)] if ends else row)
        return completions

    def decode(self, completion: Sequence[int]) -> str:
        return self.layout.tokenizer.decode(completion, skip_special_tokens=True)
