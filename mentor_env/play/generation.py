"""The generation stack: one sampler, one set of defaults, backends with shared-prefix KV caching.

Needs the ``lm`` extra (torch, transformers).

* :class:`GenerationSettings` holds the defaults every LM policy uses (the
  trainer's config and :class:`mentor_env.play.lm.ChatPolicy` start from them).
* :func:`sample_next` is the sampler: inverse-CDF sampling from the softmax of
  ``logits / temperature`` (one uniform draw per row from torch's global RNG,
  then a ``searchsorted`` over the cumulative probabilities), ``argmax`` at
  temperature 0, optional nucleus (top-p) truncation. It is exact sampling
  from the same distribution as ``torch.multinomial`` at a fraction of the
  cost; its random stream differs.
* A :class:`GenerationBackend` generates turns for *slots*: a slot is opened
  with a prompt, gets turns generated for it and tokens appended to it (the
  environment's answer), and is closed at the end of its episode. Between
  calls the backend keeps each slot's state, so a turn never re-reads the
  conversation before it.

  - :class:`PrefixCacheBackend` (the default for the decoders it serves,
    listed below) keeps a KV cache per slot, computes
    the prompt prefix that the opened slots share once (the system prompt and
    tool specs; for identical prompts, as in a GRPO group, the whole prompt)
    and copies its keys and values into each slot, appends the environment's
    tokens to the cache instead of re-prefilling the conversation, and drops
    the rows that have finished from the decode batch. Rows of similar length
    prefill and attend together (:func:`contiguous_cuts`), so one long
    episode or tool response costs only its own length.
  - :class:`HFGenerateBackend` calls ``model.generate`` on the whole
    conversation each turn: any architecture ``generate`` supports.

  A vLLM or SGLang backend implements the same four methods (both have
  prefix caching of their own).

:class:`DecoderStack` runs a Llama-family decoder layer by layer through the
model's own modules (so LoRA adapters and every weight stay as they are), with
keys and values from a cache or a shared context. The generation backend and
the trainer's log-probability pass (:func:`action_logprobs`) both use it, so
the probabilities a rollout was sampled from and those the loss sees come
from the same code.

Which models the prefix cache serves
    Causal LMs of ``transformers`` (wrapped by ``peft`` or not) whose
    ``config.model_type`` is one of :data:`SUPPORTED_MODEL_TYPES`: ``qwen2``
    (Qwen2, Qwen2.5), ``qwen3`` (Qwen3, with its query and key norms),
    ``llama`` (Llama, SmolLM2) and ``mistral``, without a sliding attention
    window, and laid out as ``transformers``' Llama implementation
    (``model.embed_tokens``, ``model.layers`` with ``self_attn.q_proj`` /
    ``k_proj`` / ``v_proj`` / ``o_proj``, ``input_layernorm``, ``mlp`` and
    ``post_attention_layernorm``, ``model.norm``, ``model.rotary_emb``,
    ``lm_head``). :meth:`DecoderStack.unsupported_reason` checks the type,
    the window and the body's modules (the layers' modules are taken on trust).
    Any other model (GPT-2, Gemma, Phi, a Mistral with a sliding window...)
    is served by :class:`HFGenerateBackend` and :func:`plain_action_logprobs`:
    the same samples' distribution, at the cost of re-reading the whole
    conversation every turn. :func:`make_backend` (``kind="auto"``) and
    :func:`action_logprobs` say so with a :class:`GenerationFallbackWarning`,
    once per model type and reason in a process.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from typing import Any, Hashable, Mapping, Protocol, Sequence, TypeVar

import torch
import torch.nn.functional as F

__all__ = [
    "ActionOutputs",
    "DecoderStack",
    "GenerationBackend",
    "GenerationFallbackWarning",
    "GenerationSettings",
    "HFGenerateBackend",
    "PrefixCacheBackend",
    "action_logprobs",
    "chunk_overhead",
    "common_prefix_length",
    "contiguous_cuts",
    "length_chunks",
    "make_backend",
    "plain_action_logprobs",
    "sample_next",
]


@dataclass(frozen=True)
class GenerationSettings:
    """How a turn is generated; every LM policy of the suite starts from these defaults."""

    max_new_tokens: int = 256  # token budget of one assistant turn
    temperature: float = 1.0  # 0: greedy decoding
    top_p: float = 1.0  # nucleus mass; 1.0 keeps the exact policy distribution (PPO needs it)
    stop_at_tool_call: bool = False  # also end a turn at </tool_call> (one call per turn)

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")


def sample_next(logits: torch.Tensor, temperature: float, top_p: float = 1.0) -> torch.Tensor:
    """One token per row of ``logits`` ``[B, V]``: inverse-CDF sampling (see module doc), argmax at temperature 0."""
    if temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    order = None
    if top_p < 1.0:
        probs, order = probs.sort(dim=-1, descending=True)
        before = probs.cumsum(-1) - probs
        probs = probs.masked_fill(before >= top_p, 0.0)
    cdf = probs.cumsum(-1)
    draw = torch.rand(cdf.shape[0], 1, dtype=cdf.dtype, device=cdf.device) * cdf[:, -1:]
    index = torch.searchsorted(cdf, draw, right=True).clamp_(max=cdf.shape[1] - 1).squeeze(1)
    return index if order is None else order.gather(1, index.unsqueeze(1)).squeeze(1)


def common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """The length of the longest common prefix of ``sequences`` (0 for none)."""
    if not sequences:
        return 0
    first = sequences[0]
    length = min(len(s) for s in sequences)
    for other in sequences[1:]:
        index = 0
        limit = min(length, len(other))
        while index < limit and other[index] == first[index]:
            index += 1
        length = index
        if not length:
            break
    return length


# --- the decoder ----------------------------------------------------------------------------

SUPPORTED_MODEL_TYPES = ("qwen2", "qwen3", "llama", "mistral")
# The modules of transformers' Llama layout that DecoderStack calls, on the model's body.
LLAMA_BODY_MODULES = ("layers", "norm", "embed_tokens", "rotary_emb")


def _slides(config: Any) -> bool:
    """Whether some layer of a model with ``config`` attends through a sliding window.

    ``layer_types`` decides where the config has it (Qwen2 and Qwen3 in transformers 5); elsewhere a set
    ``sliding_window`` does, unless ``use_sliding_window`` turns it off: Mistral's attention slides whenever
    ``sliding_window`` is set (4096 in Mistral-7B-v0.1's config).
    """
    layer_types = getattr(config, "layer_types", None)
    if layer_types is not None:
        return any(kind != "full_attention" for kind in layer_types)
    return bool(getattr(config, "sliding_window", None)) and bool(getattr(config, "use_sliding_window", True))


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class DecoderStack:
    """A Llama-family causal LM run layer by layer with external keys and values.

    Args:
        model: a ``transformers`` causal LM of a type in ``SUPPORTED_MODEL_TYPES``
            (possibly wrapped by ``peft``); :meth:`supports` tells.
    """

    def __init__(self, model: Any) -> None:
        reason = self.unsupported_reason(model)
        if reason is not None:
            raise ValueError(
                f"DecoderStack runs {SUPPORTED_MODEL_TYPES} decoders without sliding windows; "
                f"this model is not one: {reason} (use HFGenerateBackend / plain_action_logprobs)"
            )
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        self.model = model
        self.body = base.model
        self.lm_head = base.lm_head
        config = base.config
        self.layers = list(self.body.layers)
        self.heads = config.num_attention_heads
        self.kv_heads = getattr(config, "num_key_value_heads", None) or self.heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.hidden_size = config.hidden_size
        # Multiply-adds of one token through a layer's projections and MLP, against those of its
        # attention per key (scores and weighted values, every head): where the two cost the same.
        projections = self.hidden_size * (2 * self.heads + 2 * self.kv_heads) * self.head_dim
        mlp = 3 * self.hidden_size * config.intermediate_size
        self.attention_keys_per_token = (projections + mlp) / (2 * self.heads * self.head_dim)

    @staticmethod
    def unsupported_reason(model: Any) -> str | None:
        """Why this class does not run ``model`` exactly (same outputs as its own forward); None when it does."""
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        config = getattr(base, "config", None)
        model_type = getattr(config, "model_type", None)
        if model_type not in SUPPORTED_MODEL_TYPES:
            return f"its model type is {model_type!r}, not one of {SUPPORTED_MODEL_TYPES}"
        if _slides(config):
            return f"this {model_type} model attends through a sliding window"
        body = getattr(base, "model", None)
        missing = [f"model.{name}" for name in LLAMA_BODY_MODULES if not hasattr(body, name)]
        missing += [] if hasattr(base, "lm_head") else ["lm_head"]
        if missing:
            return f"this {model_type} model lacks {', '.join(missing)} of transformers' Llama layout"
        return None

    @staticmethod
    def supports(model: Any) -> bool:
        """Whether ``model`` is a decoder this class runs exactly (:meth:`unsupported_reason` finds nothing)."""
        return DecoderStack.unsupported_reason(model) is None

    @property
    def dtype(self) -> torch.dtype:
        return self.body.embed_tokens.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.body.embed_tokens.weight.device

    def forward(self, ids: torch.Tensor, positions: torch.Tensor, attend: Any) -> torch.Tensor:
        """Final-norm hidden states ``[B, T, H]`` of ``ids`` at absolute ``positions``.

        ``attend(layer_index, q, k, v)`` gets the queries ``[B, heads, T, d]``
        and this chunk's keys and values ``[B, kv_heads, T, d]`` (rotary
        applied) and returns the attention output ``[B, heads, T, d]``; it
        decides what else the chunk sees (a cache, a shared context).
        """
        batch, steps = ids.shape
        hidden = self.body.embed_tokens(ids)
        cos, sin = self.body.rotary_emb(hidden, positions)
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        for index, layer in enumerate(self.layers):
            attention = layer.self_attn
            normed = layer.input_layernorm(hidden)
            q = attention.q_proj(normed).view(batch, steps, -1, self.head_dim)
            k = attention.k_proj(normed).view(batch, steps, -1, self.head_dim)
            v = attention.v_proj(normed).view(batch, steps, -1, self.head_dim)
            if hasattr(attention, "q_norm"):  # Qwen3
                q, k = attention.q_norm(q), attention.k_norm(k)
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            q = q * cos + _rotate_half(q) * sin
            k = k * cos + _rotate_half(k) * sin
            out = attend(index, q, k, v)
            hidden = hidden + attention.o_proj(out.transpose(1, 2).reshape(batch, steps, -1))
            hidden = hidden + layer.mlp(layer.post_attention_layernorm(hidden))
        return self.body.norm(hidden)

    def attention_mask(self, visible: torch.Tensor) -> torch.Tensor:
        """The additive mask :meth:`attention` takes, from ``visible`` ``[B, T, S]`` (bool: which keys each query sees).

        Built once per forward pass and used by every layer (attention would otherwise convert a
        boolean mask in each call). The query heads that share a key head are folded into the query
        axis, so the mask is ``[B, 1, groups * T, S]``: 0 where visible, -inf elsewhere.
        """
        batch, steps, keys = visible.shape
        groups = self.heads // self.kv_heads
        folded = visible.unsqueeze(1).expand(batch, groups, steps, keys).reshape(batch, 1, groups * steps, keys)
        return torch.zeros(folded.shape, dtype=self.dtype, device=visible.device).masked_fill_(~folded, float("-inf"))

    def attention(self, q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Grouped-query attention of ``q`` ``[B, h, T, d]`` over ``keys``/``values`` ``[B, kv, S, d]``.

        ``mask`` comes from :meth:`attention_mask`. The query heads that share a
        key head are folded into the query axis, so the keys are never repeated.
        """
        batch, heads, steps, dim = q.shape
        folded = q.reshape(batch, self.kv_heads, heads // self.kv_heads * steps, dim)
        if mask.dtype != q.dtype:  # under autocast the queries may be of lower precision than the weights
            mask = mask.to(q.dtype)
        out = F.scaled_dot_product_attention(folded, keys, values, attn_mask=mask, scale=self.head_dim**-0.5)
        return out.reshape(batch, heads, steps, dim)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.lm_head(hidden).float()


class GenerationFallbackWarning(RuntimeWarning):
    """A model that the prefix cache does not serve takes the plain path (``model.generate``, full forward passes)."""


# (model type, reason) of the fallbacks announced in this process: each is announced once.
_ANNOUNCED_FALLBACKS: set[tuple[str, str]] = set()
# What the plain paths do instead, as the warning says it.
PLAIN_GENERATION = "HFGenerateBackend generates each turn with model.generate over the whole conversation"
PLAIN_LOGPROBS = "plain_action_logprobs runs one full forward pass of each sequence"


def warn_fallback(model: Any, plain_path: str) -> None:
    """Warn, once per model type and reason in a process, that ``model`` takes ``plain_path``.

    Nothing is said for a model the prefix cache serves (a DDP-wrapped one takes the plain path by design).
    """
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    if isinstance(base, torch.nn.parallel.DistributedDataParallel):
        return
    reason = DecoderStack.unsupported_reason(base)
    if reason is None:
        return
    key = (str(getattr(getattr(base, "config", None), "model_type", type(base).__name__)), reason)
    if key in _ANNOUNCED_FALLBACKS:
        return
    _ANNOUNCED_FALLBACKS.add(key)
    warnings.warn(
        f"the prefix cache does not serve this model ({reason}), so {plain_path}: slower, same distribution. "
        "The models it serves are listed in mentor_env.play.generation's docstring (said once per model type).",
        GenerationFallbackWarning,
        stacklevel=3,
    )


# --- training-side log-probabilities ------------------------------------------------------------


@dataclass
class ActionOutputs:
    """Per-episode quantities at its sampled tokens, compact: ``[B, A]`` with ``valid`` marking real entries.

    Entry ``a`` of a row is its ``a``-th sampled token (in order); ``logp`` is
    log π(token | everything before) at the sampling temperature, ``values``
    the value head's estimate of the state before the token, ``entropy`` the
    policy's entropy there (only when asked for; without gradient when
    ``entropy_grad`` is False).
    """

    logp: torch.Tensor
    valid: torch.Tensor
    values: torch.Tensor | None = None
    entropy: torch.Tensor | None = None


def _action_positions(masks: Sequence[Sequence[bool]]) -> list[list[int]]:
    return [[index for index, flag in enumerate(mask) if flag] for mask in masks]


_Item = TypeVar("_Item")


def _swap(values: list[_Item], a: int, b: int) -> None:
    """Exchange items ``a`` and ``b`` of ``values`` in place."""
    values[a], values[b] = values[b], values[a]


def _compact(flat: torch.Tensor, counts: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """``flat`` values (rows one after another) as ``[B, max count]`` plus the validity mask."""
    width = max(counts) if counts else 0
    device = flat.device
    lengths = torch.tensor(list(counts), device=device)
    valid = torch.arange(width, device=device).unsqueeze(0) < lengths.unsqueeze(1)
    out = flat.new_zeros(valid.shape)
    return out.masked_scatter(valid, flat), valid


def _read_out(
    stack_logits: Any,
    hidden: torch.Tensor,
    targets: torch.Tensor,
    temperature: float,
    value_head: Any,
    entropy: bool,
    entropy_grad: bool,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """log π, V and entropy at the selected hidden states ``[N, H]`` (LM head only there)."""
    logits, log_norm, logp = _token_logprobs(stack_logits(hidden), targets, temperature)
    values = value_head(hidden) if value_head is not None else None
    return logp, values, _entropy(logits, log_norm, entropy_grad) if entropy else None


def _token_logprobs(
    logits: torch.Tensor, targets: torch.Tensor, temperature: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``logits / temperature``, their logsumexp and log π of ``targets`` per row (the distribution sampled from)."""
    logits = logits.float() / max(temperature, 1e-6)
    log_norm = torch.logsumexp(logits, dim=-1)
    return logits, log_norm, logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - log_norm


def _entropy(logits: torch.Tensor, log_norm: torch.Tensor, with_grad: bool) -> torch.Tensor:
    """The entropy of ``softmax(logits)`` per row (``log_norm``: their logsumexp); no gradient unless ``with_grad``."""
    with torch.set_grad_enabled(with_grad and torch.is_grad_enabled()):
        log_probs = logits - log_norm.unsqueeze(-1)
        return -(log_probs.exp() * log_probs).sum(-1)


def plain_action_logprobs(
    model: Any,
    sequences: Sequence[Sequence[int]],
    action_masks: Sequence[Sequence[bool]],
    temperature: float,
    pad_token_id: int,
    value_head: Any = None,
    entropy: bool = False,
    entropy_grad: bool = True,
) -> ActionOutputs:
    """The reference computation: one right-padded full-sequence forward pass of ``model``.

    Works for any causal LM (the fallback of :func:`action_logprobs`, and the
    baseline its test compares with).
    """
    device = next(model.parameters()).device
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_token_id, dtype=torch.long)
    attention = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = torch.tensor(list(sequence))
        attention[row, : len(sequence)] = 1
    ids, attention = ids.to(device), attention.to(device)
    output = model(input_ids=ids, attention_mask=attention, output_hidden_states=value_head is not None)
    positions = _action_positions(action_masks)
    rows = torch.tensor([row for row, p in enumerate(positions) for _ in p], dtype=torch.long, device=device)
    cols = torch.tensor([i for p in positions for i in p], dtype=torch.long, device=device)
    logits, log_norm, logp = _token_logprobs(output.logits[rows, cols - 1], ids[rows, cols], temperature)
    counts = [len(p) for p in positions]
    compact, valid = _compact(logp, counts)
    result = ActionOutputs(compact, valid)
    if value_head is not None:
        result.values = _compact(value_head(output.hidden_states[-1][rows, cols - 1]), counts)[0]
    if entropy:
        result.entropy = _compact(_entropy(logits, log_norm, entropy_grad), counts)[0]
    return result


def action_logprobs(
    model: Any,
    sequences: Sequence[Sequence[int]],
    action_masks: Sequence[Sequence[bool]],
    temperature: float,
    pad_token_id: int,
    value_head: Any = None,
    groups: Sequence[Hashable] | None = None,
    entropy: bool = False,
    entropy_grad: bool = True,
    chunk_size: int | None = None,
) -> ActionOutputs:
    """log π (and V, entropy) at every sampled token, computing shared prefixes once.

    The sequences' longest common prefix (up to the first sampled token) is
    run once; with ``groups`` (GRPO: rollouts of one task), each group's
    common prefix beyond it (its task prompt) is run once per group; each
    sequence then runs only its own tokens, attending to both. The rows run in
    chunks of similar length (:func:`length_chunks`, at most ``chunk_size``
    rows each; all in one chunk when padding costs less than another pass), so
    one long episode does not pad the others to its length. The LM head and
    the log-softmax run only at the positions that predict a sampled token.
    The result, in the order of ``sequences``, equals
    :func:`plain_action_logprobs` up to float rounding (a test checks it);
    models :class:`DecoderStack` does not run, and models wrapped for
    distributed training, take that plain path.
    """
    if not sequences:
        raise ValueError("no sequences")
    positions = _action_positions(action_masks)
    if any(not p or p[0] == 0 for p in positions):
        raise ValueError("every sequence needs at least one sampled token after a non-empty prompt")
    if isinstance(model, torch.nn.parallel.DistributedDataParallel) or not DecoderStack.supports(model):
        warn_fallback(model, PLAIN_LOGPROBS)
        return plain_action_logprobs(
            model, sequences, action_masks, temperature, pad_token_id, value_head, entropy, entropy_grad
        )
    stack = DecoderStack(model)
    shared, shared_kv = _shared_prefix_context(stack, sequences, positions)
    starts, group_kv, group_valid, row_group = _group_prefix_context(
        stack, sequences, positions, groups, shared, shared_kv
    )
    # Every row attends to the shared prefix and to all the groups' contexts (padded to the longest).
    context_keys = shared + (group_kv[0][0].shape[2] if group_kv else 0)
    widths = [len(sequences[row]) - starts[row] for row in range(len(sequences))]
    per_row: list[list[torch.Tensor | None]] = [[] for _ in sequences]  # logp, values, entropy of each row
    overhead = chunk_overhead(CHUNK_OVERHEAD_POSITIONS, stack.device)
    for rows in length_chunks(
        widths, context_keys, chunk_size or len(sequences), stack.attention_keys_per_token, overhead
    ):
        outputs = _run_rows(
            stack, sequences, positions, rows, starts, shared_kv, group_kv, group_valid, row_group,
            temperature, value_head, entropy, entropy_grad,
        )  # fmt: skip
        counts = [len(positions[row]) for row in rows]
        pieces = [output.split(counts) if output is not None else [None] * len(rows) for output in outputs]
        for index, row in enumerate(rows):
            per_row[row] = [piece[index] for piece in pieces]
    counts = [len(p) for p in positions]
    compact, valid = _compact(_every_row(per_row, 0), counts)
    result = ActionOutputs(compact, valid)
    if value_head is not None:
        result.values = _compact(_every_row(per_row, 1), counts)[0]
    if entropy:
        result.entropy = _compact(_every_row(per_row, 2), counts)[0]
    return result


def _every_row(per_row: list[list[torch.Tensor | None]], column: int) -> torch.Tensor:
    """Output ``column`` (0 logp, 1 values, 2 entropy) of every row, concatenated; each row computed it."""
    pieces = [parts[column] for parts in per_row]
    present = [piece for piece in pieces if piece is not None]
    if len(present) != len(pieces):
        raise ValueError(f"output {column} is missing from {len(pieces) - len(present)} of {len(pieces)} rows")
    return torch.cat(present)


# What one more chunk of a pass costs (kernel launches, Python), in padded positions, by device type.
# CPU: measured on the tiny student on one thread, where a chunk is cheapest relative to this overhead.
# GPU: not measured (no GPU was at hand); launches cost far more than padded positions there, so chunks
# stay large and only a much longer row is split off.
CHUNK_OVERHEAD_POSITIONS = {"cpu": 96, "gpu": 4096}
# One more attention call in a decode step, in the same units (a key read per row costs 1 / keys_per_token).
ATTENTION_CALL_OVERHEAD_POSITIONS = {"cpu": 4, "gpu": 256}


def chunk_overhead(table: Mapping[str, float], device: torch.device) -> float:
    """The entry of ``table`` (:data:`CHUNK_OVERHEAD_POSITIONS` or :data:`ATTENTION_CALL_OVERHEAD_POSITIONS`) for ``device``."""
    return table["cpu" if device.type == "cpu" else "gpu"]


def contiguous_cuts(
    widths: Sequence[int], keys: Sequence[int], max_rows: int, keys_per_token: float, overhead: float
) -> list[tuple[int, int]]:
    """Rows ``0..n-1``, in this order, cut into ranges ``(begin, end)`` that minimise the padded work of a pass.

    Row ``i`` runs ``widths[i]`` tokens that attend to ``keys[i]`` keys. A range
    pads its rows to its widest and to its most keys, so it costs ``rows *
    width * (1 + keys / keys_per_token)`` positions plus ``overhead`` (see
    :data:`CHUNK_OVERHEAD_POSITIONS`; ``keys_per_token``: the attention width at which attention costs as much
    as the rest of a layer, :attr:`DecoderStack.attention_keys_per_token`).
    Ranges hold at most ``max_rows`` rows; dynamic programming, O(n * max_rows).
    """
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}")
    count = len(widths)
    best = [0.0] + [math.inf] * count  # best[j]: the cheapest cut of the first j rows
    cut = [0] * (count + 1)
    for end in range(1, count + 1):
        width, most_keys = 0, 0
        for begin in range(end - 1, max(0, end - max_rows) - 1, -1):
            width, most_keys = max(width, widths[begin]), max(most_keys, keys[begin])
            cost = best[begin] + (end - begin) * width * (1 + most_keys / keys_per_token) + overhead
            if cost < best[end]:
                best[end], cut[end] = cost, begin
    ranges, end = [], count
    while end:
        ranges.append((cut[end], end))
        end = cut[end]
    return ranges[::-1]


def length_chunks(
    widths: Sequence[int], context_keys: int, max_rows: int, keys_per_token: float, overhead: float
) -> list[list[int]]:
    """Rows grouped into chunks of similar length (at most ``max_rows`` each) that minimise the padded work.

    Row ``i`` has ``widths[i]`` tokens of its own and attends to
    ``context_keys`` more; the rows are sorted by width and cut by
    :func:`contiguous_cuts`. Chunks come out in order of width; every row
    appears once.
    """
    order = sorted(range(len(widths)), key=lambda row: (widths[row], row))
    sorted_widths = [widths[row] for row in order]
    cuts = contiguous_cuts(sorted_widths, [context_keys + w for w in sorted_widths], max_rows, keys_per_token, overhead)
    return [order[begin:end] for begin, end in cuts]


def _shared_prefix_context(
    stack: DecoderStack, sequences: Sequence[Sequence[int]], positions: list[list[int]]
) -> tuple[int, list[tuple[torch.Tensor, torch.Tensor]]]:
    """The length of the context every sequence shares, and its keys and values (run once; empty when 0)."""
    device = stack.device
    first_action = min(p[0] for p in positions)
    # Tokens [0, shared) are context only: the first prediction needed is made at first_action - 1.
    shared = min(common_prefix_length(sequences), first_action) - 1
    shared = max(shared, 0)
    shared_kv: list[tuple[torch.Tensor, torch.Tensor]] = []
    if shared:
        ids = torch.tensor([list(sequences[0][:shared])], device=device)
        shared_kv = _run_context(stack, ids, torch.arange(shared, device=device).unsqueeze(0), None, None)
    return shared, shared_kv


def _group_members(groups: Sequence[Hashable]) -> dict[Hashable, list[int]]:
    """The rows of each group, groups in order of first appearance."""
    members: dict[Hashable, list[int]] = {}
    for row, group in enumerate(groups):
        members.setdefault(group, []).append(row)
    return members


def _group_prefix_ends(
    sequences: Sequence[Sequence[int]],
    positions: list[list[int]],
    members: dict[Hashable, list[int]],
    shared: int,
) -> dict[Hashable, int]:
    """Where each group's own context ends, for the groups of 2+ rows whose context goes beyond ``shared``."""
    spans = {}
    for group, rows in members.items():
        if len(rows) > 1:
            end = min(common_prefix_length([sequences[r] for r in rows]), min(positions[r][0] for r in rows)) - 1
            if end > shared:
                spans[group] = end
    return spans


def _run_group_contexts(
    stack: DecoderStack,
    sequences: Sequence[Sequence[int]],
    members: dict[Hashable, list[int]],
    spans: dict[Hashable, int],
    shared: int,
    shared_kv: list[tuple[torch.Tensor, torch.Tensor]],
) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], torch.Tensor]:
    """Keys and values of each group's tokens ``[shared, spans[group])`` (one row per group, in ``spans`` order),
    right-padded, and the mask of their real tokens."""
    device = stack.device
    order = list(spans)
    width = max(spans[g] - shared for g in order)
    ids = torch.zeros((len(order), width), dtype=torch.long)
    valid = torch.zeros((len(order), width), dtype=torch.bool)
    for index, group in enumerate(order):
        length = spans[group] - shared
        ids[index, :length] = torch.tensor(list(sequences[members[group][0]][shared : spans[group]]))
        valid[index, :length] = True
    ids, valid = ids.to(device), valid.to(device)
    group_positions = shared + torch.arange(width, device=device).unsqueeze(0).expand(len(order), width)
    return _run_context(stack, ids, group_positions, shared_kv, valid), valid


def _group_prefix_context(
    stack: DecoderStack,
    sequences: Sequence[Sequence[int]],
    positions: list[list[int]],
    groups: Sequence[Hashable] | None,
    shared: int,
    shared_kv: list[tuple[torch.Tensor, torch.Tensor]],
) -> tuple[list[int], list[tuple[torch.Tensor, torch.Tensor]], torch.Tensor | None, list[int] | None]:
    """The group level: each group's common prefix beyond the shared one, run once per group.

    Returns where each row's own tokens start, the groups' keys and values and valid mask (see
    :func:`_run_group_contexts`), and each row's group slot (-1: none); ``[]``, ``None``, ``None``
    without groups that share more than the shared prefix.
    """
    starts = [shared] * len(sequences)
    if groups is None:
        return starts, [], None, None
    members = _group_members(groups)
    spans = _group_prefix_ends(sequences, positions, members, shared)
    if not spans:
        return starts, [], None, None
    group_kv, group_valid = _run_group_contexts(stack, sequences, members, spans, shared, shared_kv)
    slot = {group: index for index, group in enumerate(spans)}
    row_group = [slot.get(group, -1) for group in groups]
    for row, group in enumerate(groups):
        if group in spans:
            starts[row] = spans[group]
    return starts, group_kv, group_valid, row_group


def _run_context(
    stack: DecoderStack,
    ids: torch.Tensor,
    positions: torch.Tensor,
    context: list[tuple[torch.Tensor, torch.Tensor]] | None,
    valid: torch.Tensor | None,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Keys and values of ``ids`` (after ``context``, batch 1 and shared), per layer; hidden states unused."""
    batch, steps = ids.shape
    causal = torch.ones(steps, steps, dtype=torch.bool, device=ids.device).tril()
    visible = causal.unsqueeze(0).expand(batch, steps, steps)
    if valid is not None:
        visible = visible & valid.unsqueeze(1)
    if context:
        visible = torch.cat([visible.new_ones(batch, steps, context[0][0].shape[2]), visible], dim=2)
    mask = stack.attention_mask(visible)
    kept: list[tuple[torch.Tensor, torch.Tensor]] = []

    def attend(index: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        kept.append((k, v))
        if context:
            past_k, past_v = context[index]
            k = torch.cat([past_k.expand(batch, -1, -1, -1), k], dim=2)
            v = torch.cat([past_v.expand(batch, -1, -1, -1), v], dim=2)
        return stack.attention(q, k, v, mask)

    # Only the keys and values are needed: the last layer's MLP and the norm are wasted work,
    # a small price for running the context through the same code as everything else.
    stack.forward(ids, positions, attend)
    return kept


def _run_rows(
    stack: DecoderStack,
    sequences: Sequence[Sequence[int]],
    positions: list[list[int]],
    rows: list[int],
    starts: list[int],
    shared_kv: list[tuple[torch.Tensor, torch.Tensor]],
    group_kv: list[tuple[torch.Tensor, torch.Tensor]],
    group_valid: torch.Tensor | None,
    row_group: list[int] | None,
    temperature: float,
    value_head: Any,
    entropy: bool,
    entropy_grad: bool,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    device = stack.device
    lengths = [len(sequences[r]) - starts[r] for r in rows]
    width = max(lengths)
    batch = len(rows)
    ids = torch.zeros((batch, width), dtype=torch.long)
    for index, row in enumerate(rows):
        ids[index, : lengths[index]] = torch.tensor(list(sequences[row][starts[row] :]))
    ids = ids.to(device)
    start = torch.tensor([starts[r] for r in rows], device=device)
    pos = start.unsqueeze(1) + torch.arange(width, device=device).unsqueeze(0)
    visible = torch.ones(width, width, dtype=torch.bool, device=device).tril().unsqueeze(0).expand(batch, width, width)
    parts = []
    shared = shared_kv[0][0].shape[2] if shared_kv else 0
    if shared:
        parts.append(visible.new_ones(batch, width, shared))
    use_groups = bool(group_kv)
    if use_groups:
        assert group_valid is not None and row_group is not None
        which = torch.tensor([max(row_group[r], 0) for r in rows], device=device)
        has = torch.tensor([row_group[r] >= 0 for r in rows], device=device)
        row_valid = group_valid[which] & has.unsqueeze(1)
        parts.append(row_valid.unsqueeze(1).expand(batch, width, row_valid.shape[1]))
    visible = torch.cat(parts + [visible], dim=2) if parts else visible
    mask = stack.attention_mask(visible)

    def attend(index: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        keys, values = [], []
        if shared:
            keys.append(shared_kv[index][0].expand(batch, -1, -1, -1))
            values.append(shared_kv[index][1].expand(batch, -1, -1, -1))
        if use_groups:
            keys.append(group_kv[index][0][which])
            values.append(group_kv[index][1][which])
        keys.append(k)
        values.append(v)
        return stack.attention(
            q, torch.cat(keys, dim=2) if len(keys) > 1 else k, torch.cat(values, dim=2) if len(values) > 1 else v, mask
        )

    hidden = stack.forward(ids, pos, attend)
    local_rows, local_cols, targets = [], [], []
    for index, row in enumerate(rows):
        for position in positions[row]:
            local_rows.append(index)
            local_cols.append(position - 1 - starts[row])
            targets.append(sequences[row][position])
    selected = hidden[torch.tensor(local_rows, device=device), torch.tensor(local_cols, device=device)]
    return _read_out(
        stack.logits, selected, torch.tensor(targets, device=device), temperature, value_head, entropy, entropy_grad
    )


# --- generation backends ----------------------------------------------------------------------


class GenerationBackend(Protocol):
    """Generates assistant turns for slots whose state it keeps between calls (see module doc)."""

    def open(self, slot: Hashable, prompt_ids: Sequence[int]) -> None:
        """Start a new sequence in ``slot`` (replacing whatever it held)."""

    def extend(self, slot: Hashable, token_ids: Sequence[int]) -> None:
        """Append tokens the model did not sample (the environment's answer) to ``slot``."""

    def generate(self, slots: Sequence[Hashable]) -> list[list[int]]:
        """One turn per slot: the sampled ids, each ending at its first stop id (or at the budget).

        The sampled ids become part of the slot's sequence.
        """

    def close(self, slot: Hashable) -> None:
        """Forget ``slot``."""


class HFGenerateBackend:
    """``model.generate`` on each slot's whole sequence, left-padded, once per turn (any causal LM)."""

    def __init__(self, model: Any, settings: GenerationSettings, stop_ids: Sequence[int], pad_token_id: int) -> None:
        self.model = model
        self.settings = settings
        self.stop_ids = list(stop_ids)
        self.pad_token_id = pad_token_id
        self.sequences: dict[Hashable, list[int]] = {}

    def open(self, slot: Hashable, prompt_ids: Sequence[int]) -> None:
        self.sequences[slot] = list(prompt_ids)

    def extend(self, slot: Hashable, token_ids: Sequence[int]) -> None:
        self.sequences[slot] += list(token_ids)

    def close(self, slot: Hashable) -> None:
        self.sequences.pop(slot, None)

    @torch.no_grad()
    def generate(self, slots: Sequence[Hashable]) -> list[list[int]]:
        sequences = [self.sequences[slot] for slot in slots]
        device = next(self.model.parameters()).device
        width = max(len(s) for s in sequences)
        input_ids = torch.full((len(sequences), width), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for row, sequence in enumerate(sequences):
            input_ids[row, width - len(sequence) :] = torch.tensor(sequence)
            attention_mask[row, width - len(sequence) :] = 1
        s = self.settings
        sampled = s.temperature > 0
        output = self.model.generate(
            input_ids=input_ids.to(device),
            attention_mask=attention_mask.to(device),
            do_sample=sampled,
            temperature=s.temperature if sampled else None,
            top_p=s.top_p if sampled else None,
            top_k=0 if sampled else None,
            max_new_tokens=s.max_new_tokens,
            eos_token_id=self.stop_ids,
            pad_token_id=self.pad_token_id,
        )
        completions = []
        for slot, row in zip(slots, output[:, width:].tolist()):
            ends = [row.index(stop) + 1 for stop in self.stop_ids if stop in row]
            completion = row[: min(ends)] if ends else row
            self.sequences[slot] += completion
            completions.append(completion)
        return completions


class PrefixCacheBackend:
    """KV-cached generation with a shared prompt prefix and per-slot caches (see module doc).

    The cache is one tensor ``[layers, 2, rows, kv_heads, capacity, head_dim]``;
    a slot owns a row, its keys and values sit at positions ``0..length-1``
    (the shared prefix copied in first). The rows being decoded are kept at the
    front of the tensor (rows are swapped, two at a time, when a slot finishes
    or a call starts), so every step works on a view of the first rows, never a
    copy; finished rows leave the decode batch at once. A call orders its rows
    by length, prefills them in ranges of similar pending width and, in each
    decode step, runs attention in ranges of similar cache length (each range
    reads its own keys only), so padding stays local.
    """

    def __init__(self, model: Any, settings: GenerationSettings, stop_ids: Sequence[int], pad_token_id: int) -> None:
        self.stack = DecoderStack(model)
        self.settings = settings
        self.stop_ids = torch.tensor(sorted(set(stop_ids)), dtype=torch.long)
        self.pad_token_id = pad_token_id
        self.cache: torch.Tensor | None = None
        self.row_of: dict[Hashable, int] = {}
        self.slot_at: list[Hashable | None] = []
        self.length: list[int] = []  # tokens in the cache, per row
        self.pending: list[list[int]] = []  # tokens not yet in the cache, per row
        self.prompt: list[list[int] | None] = []  # a fresh row's prompt (None once it has run)
        self.prefix_ids: list[int] = []
        self.prefix_kv: torch.Tensor | None = None  # [layers, 2, kv_heads, P, d]
        self.stats = {"prefill_tokens": 0, "prefix_tokens_reused": 0, "decode_row_steps": 0}

    # --- slots ---

    def _row(self, slot: Hashable) -> int:
        if slot not in self.row_of:
            self.row_of[slot] = len(self.slot_at)
            self.slot_at.append(slot)
            self.length.append(0)
            self.pending.append([])
            self.prompt.append(None)
        return self.row_of[slot]

    def open(self, slot: Hashable, prompt_ids: Sequence[int]) -> None:
        if not prompt_ids:
            raise ValueError("an empty prompt")
        row = self._row(slot)
        self.length[row] = 0
        self.pending[row] = list(prompt_ids)
        self.prompt[row] = list(prompt_ids)

    def extend(self, slot: Hashable, token_ids: Sequence[int]) -> None:
        self.pending[self.row_of[slot]] += list(token_ids)

    def close(self, slot: Hashable) -> None:
        row = self.row_of.get(slot)
        if row is not None:
            self.length[row] = 0
            self.pending[row] = []
            self.prompt[row] = None

    def _swap(self, a: int, b: int) -> None:
        if a == b:
            return
        used = max(self.length[a], self.length[b])  # positions past a row's length hold nothing
        if self.cache is not None and used:
            first = self.cache[:, :, a, :, :used].clone()
            self.cache[:, :, a, :, :used] = self.cache[:, :, b, :, :used]
            self.cache[:, :, b, :, :used] = first
        _swap(self.slot_at, a, b)
        _swap(self.length, a, b)
        _swap(self.pending, a, b)
        _swap(self.prompt, a, b)
        for row in (a, b):
            if self.slot_at[row] is not None:
                self.row_of[self.slot_at[row]] = row

    def _ensure_capacity(self, rows: int, tokens: int) -> None:
        s = self.stack
        shape = self.cache.shape if self.cache is not None else (len(s.layers), 2, 0, s.kv_heads, 0, s.head_dim)
        if self.cache is not None and shape[2] >= rows and shape[4] >= tokens:
            return
        new_rows, new_tokens = max(rows, shape[2]), max(tokens, shape[4])
        if self.cache is None or new_tokens > shape[4]:
            new_tokens = max(new_tokens, int(shape[4] * 1.5), 256)
        grown = torch.zeros((shape[0], 2, new_rows, s.kv_heads, new_tokens, s.head_dim), dtype=s.dtype, device=s.device)
        if self.cache is not None:
            grown[:, :, : shape[2], :, : shape[4]] = self.cache
        self.cache = grown

    # --- the shared prefix ---

    def _share_prefix(self, rows: list[int]) -> None:
        """Give fresh ``rows`` the shared prefix's keys and values (computing what is not cached)."""
        prompts = [self._fresh_prompt(row) for row in rows]
        distinct = {tuple(p) for p in prompts}
        target_length = common_prefix_length(prompts) if len(distinct) > 1 else len(prompts[0])
        target_length = min(target_length, min(len(p) for p in prompts) - 1)
        target = prompts[0][:target_length]
        known = common_prefix_length([self.prefix_ids, target]) if self.prefix_ids else 0
        if target_length > known:
            ids = torch.tensor([target[known:]], device=self.stack.device)
            positions = torch.arange(known, target_length, device=self.stack.device).unsqueeze(0)
            context = None
            if known and self.prefix_kv is not None:
                context = [
                    (self.prefix_kv[i, 0, :, :known].unsqueeze(0), self.prefix_kv[i, 1, :, :known].unsqueeze(0))
                    for i in range(self.prefix_kv.shape[0])
                ]
            with torch.no_grad():
                fresh = _run_context(self.stack, ids, positions, context, None)
            new = torch.stack([torch.stack([k[0], v[0]]) for k, v in fresh])  # [layers, 2, kv, T, d]
            self.stats["prefill_tokens"] += target_length - known
            if known and self.prefix_kv is not None:
                new = torch.cat([self.prefix_kv[:, :, :, :known], new], dim=3)
            self.prefix_ids, self.prefix_kv = list(target), new
        assert self.cache is not None
        for row in rows:
            prompt = self._fresh_prompt(row)
            base = min(common_prefix_length([self.prefix_ids, prompt]), len(prompt) - 1)
            if base:
                assert self.prefix_kv is not None
                self.cache[:, :, row, :, :base] = self.prefix_kv[:, :, :, :base]
                self.stats["prefix_tokens_reused"] += base
            self.length[row] = base
            self.pending[row] = prompt[base:]
            self.prompt[row] = None

    # --- one turn ---

    def _fresh_prompt(self, row: int) -> list[int]:
        """The prompt of fresh ``row``, which has not run yet."""
        prompt = self.prompt[row]
        if prompt is None:
            raise ValueError(f"row {row} has run: it has no fresh prompt")
        return prompt

    def _length_after_prefill(self, slot: Hashable) -> int:
        row = self.row_of[slot]
        prompt = self.prompt[row]
        return len(prompt) if prompt is not None else self.length[row] + len(self.pending[row])

    @torch.no_grad()
    def generate(self, slots: Sequence[Hashable]) -> list[list[int]]:
        if not slots:
            return []
        if len(set(slots)) != len(slots):
            raise ValueError("a slot appears twice in one generate call")
        # Slots with the same fresh prompt (a GRPO group) run it once: the others copy the leader's cache.
        leader_of: dict[Hashable, Hashable] = {}
        by_prompt: dict[tuple[int, ...], Hashable] = {}
        for slot in slots:
            prompt = self.prompt[self.row_of[slot]]
            if prompt is not None:
                leader_of[slot] = by_prompt.setdefault(tuple(prompt), slot)
        followers = [slot for slot in slots if leader_of.get(slot, slot) != slot]
        # Rows of similar length sit together, so the prefill and the decode steps' attention run in ranges
        # of similar width (a long tool response, or a long episode, pads only its neighbours).
        running = sorted((slot for slot in slots if leader_of.get(slot, slot) == slot), key=self._length_after_prefill)
        # A prefill pads a range's rows to its longest pending run, so a row may write that far past its length.
        rows = [self.row_of[slot] for slot in slots]
        needed = max(self.length[row] for row in rows) + max(len(self.pending[row]) for row in rows)
        self._ensure_capacity(len(self.slot_at), needed + self.settings.max_new_tokens + 1)
        # The rows of this call go to the front: the prefill rows first, then the followers.
        for target, slot in enumerate(running + followers):
            self._swap(target, self.row_of[slot])
        fresh = [row for row in range(len(running)) if self.prompt[row] is not None]
        if fresh:
            self._share_prefix(fresh)
        logits = self._prefill(len(running))
        if followers:
            assert self.cache is not None
            sources = []
            for slot in followers:
                target, source = self.row_of[slot], self.row_of[leader_of[slot]]
                self.cache[:, :, target, :, : self.length[source]] = self.cache[:, :, source, :, : self.length[source]]
                self.length[target] = self.length[source]
                self.pending[target], self.prompt[target] = [], None
                sources.append(source)
            self.stats["prefix_tokens_reused"] += sum(self.length[self.row_of[slot]] for slot in followers)
            logits = torch.cat([logits, logits[torch.tensor(sources, device=logits.device)]])
        completions = self._decode(len(slots), logits)
        return [completions[slot] for slot in slots]

    def _prefill(self, rows: int) -> torch.Tensor:
        """Run every pending token of rows ``0..rows-1`` into the cache; the logits after each row's last one.

        The rows run in ranges of similar pending width (:func:`contiguous_cuts`), each padded to its own
        longest run, so one long tool response does not pad every row of the batch.
        """
        widths = [len(self.pending[row]) for row in range(rows)]
        keys = [self.length[row] + widths[row] for row in range(rows)]
        overhead = chunk_overhead(CHUNK_OVERHEAD_POSITIONS, self.stack.device)
        cuts = contiguous_cuts(widths, keys, rows, self.stack.attention_keys_per_token, overhead)
        logits = torch.cat([self._prefill_range(begin, end) for begin, end in cuts])
        for row in range(rows):
            self.length[row] += widths[row]
            self.pending[row] = []
        self.stats["prefill_tokens"] += sum(widths)
        return logits

    def _prefill_range(self, begin: int, end: int) -> torch.Tensor:
        assert self.cache is not None
        s = self.stack
        device = s.device
        rows = end - begin
        lengths = [len(self.pending[row]) for row in range(begin, end)]
        width = max(lengths)
        ids = torch.full((rows, width), self.pad_token_id, dtype=torch.long)
        for offset, row in enumerate(range(begin, end)):
            ids[offset, : lengths[offset]] = torch.tensor(self.pending[row])
        ids = ids.to(device)
        start = torch.tensor(self.length[begin:end], device=device)
        positions = start.unsqueeze(1) + torch.arange(width, device=device).unsqueeze(0)
        span = int(positions.max().item()) + 1
        mask = s.attention_mask(torch.arange(span, device=device).view(1, 1, span) <= positions.unsqueeze(2))
        index = positions.view(rows, 1, width, 1).expand(rows, s.kv_heads, width, s.head_dim)
        attend = functools.partial(_attend_through_cache, s, self.cache, begin, index, [(0, rows, span)], mask)
        hidden = s.forward(ids, positions, attend)
        last = hidden[torch.arange(rows, device=device), torch.tensor(lengths, device=device) - 1]
        return s.logits(last)

    def _decode(self, count: int, logits: torch.Tensor) -> dict[Hashable, list[int]]:
        """Sample up to the budget for rows ``0..count-1``; finished rows leave the batch at once."""
        assert self.cache is not None
        s = self.stack
        device = s.device
        settings = self.settings
        stop_ids = self.stop_ids.to(device)
        produced: list[list[int]] = [[] for _ in range(count)]
        out = {self.slot_at[row]: produced[row] for row in range(count)}
        active = count
        token = sample_next(logits, settings.temperature, settings.top_p)
        cuts: list[tuple[int, int]] = []  # attention ranges of the active rows, recut when rows leave
        step = 0
        while True:
            step += 1
            tokens = token.tolist()
            for row in range(active):
                produced[row].append(tokens[row])
            if step >= settings.max_new_tokens:
                done = list(range(active))
            else:
                done = torch.isin(token, stop_ids).nonzero().flatten().tolist()
            if done:
                # Swap each finished row behind the active ones (the cache rows move the same way).
                order = list(range(active))
                for row in sorted(done, reverse=True):
                    self.pending[row] = [tokens[row]]  # the last sampled token is not in the cache yet
                    last = active - 1
                    self._swap(row, last)
                    produced[row], produced[last] = produced[last], produced[row]
                    order[row], order[last] = order[last], order[row]
                    active -= 1
                if not active:
                    break
                token = token[torch.tensor(order[:active], device=device)]
                cuts = []
            # Feed every active row its sampled token.
            self.stats["decode_row_steps"] += active
            ids = token.unsqueeze(1)
            pos = torch.tensor(self.length[:active], device=device).unsqueeze(1)
            if not cuts:
                # Every active row grows by one token a step, so the ranges stay good until a row leaves.
                overhead = chunk_overhead(ATTENTION_CALL_OVERHEAD_POSITIONS, device)
                cuts = contiguous_cuts([1] * active, self.length[:active], active, s.attention_keys_per_token, overhead)
            ranges = [(begin, end, max(self.length[begin:end]) + 1) for begin, end in cuts]
            span = max(r[2] for r in ranges)
            mask = s.attention_mask(torch.arange(span, device=device).view(1, 1, span) <= pos.unsqueeze(2))
            index = pos.view(active, 1, 1, 1).expand(active, s.kv_heads, 1, s.head_dim)
            attend = functools.partial(_attend_through_cache, s, self.cache, 0, index, ranges, mask)
            hidden = s.forward(ids, pos, attend)
            for row in range(active):
                self.length[row] += 1
            token = sample_next(s.logits(hidden[:, 0]), settings.temperature, settings.top_p)
        return out


def _attend_through_cache(
    stack: DecoderStack,
    cache: torch.Tensor,
    first: int,
    index: torch.Tensor,
    ranges: Sequence[tuple[int, int, int]],
    mask: torch.Tensor,
    layer: int,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
) -> torch.Tensor:
    """Attention of ``layer`` for the cache rows from ``first``: write ``k``, ``v`` at ``index``, then attend.

    ``ranges`` are ``(begin, end, span)`` (rows relative to ``first``): the queries of rows
    ``begin..end-1`` attend to their keys ``[0, span)``, one attention call per range.
    Bound with :func:`functools.partial` to the ``attend(layer, q, k, v)`` callback of :meth:`DecoderStack.forward`.
    """
    rows = q.shape[0]
    keys, values = cache[layer, 0, first : first + rows], cache[layer, 1, first : first + rows]
    keys.scatter_(2, index, k)
    values.scatter_(2, index, v)
    outputs = [
        stack.attention(
            q[begin:end], keys[begin:end, :, :span], values[begin:end, :, :span], mask[begin:end, :, :, :span]
        )
        for begin, end, span in ranges
    ]
    return outputs[0] if len(outputs) == 1 else torch.cat(outputs)


def make_backend(
    model: Any, settings: GenerationSettings, stop_ids: Sequence[int], pad_token_id: int, kind: str = "auto"
) -> GenerationBackend:
    """``kind``: ``"prefix-cache"``, ``"hf"`` or ``"auto"`` (the prefix cache when the model supports it)."""
    if kind not in ("auto", "prefix-cache", "hf"):
        raise ValueError(f"backend must be 'auto', 'prefix-cache' or 'hf', got {kind!r}")
    if kind == "auto":
        warn_fallback(model, PLAIN_GENERATION)
    if kind == "hf" or (kind == "auto" and not DecoderStack.supports(model)):
        return HFGenerateBackend(model, settings, stop_ids, pad_token_id)
    return PrefixCacheBackend(model, settings, stop_ids, pad_token_id)
