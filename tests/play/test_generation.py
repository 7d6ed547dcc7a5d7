"""The generation engine says when a model takes the plain path instead of the prefix cache (once per model type)."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from mentor_env.play import generation  # noqa: E402
from mentor_env.play.generation import (  # noqa: E402
    DecoderStack,
    GenerationFallbackWarning,
    GenerationSettings,
    HFGenerateBackend,
    PrefixCacheBackend,
    action_logprobs,
    make_backend,
    plain_action_logprobs,
)

SEQUENCES = [[1, 2, 3, 4, 5], [1, 2, 6, 7]]
MASKS = [[False, False, True, True, True], [False, False, False, True]]


def tiny_gpt2():
    """A GPT-2 of one small layer, built here from a config (nothing is downloaded)."""
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=16, n_positions=32, n_embd=8, n_layer=1, n_head=2)
    return transformers.GPT2LMHeadModel(config).eval()


def tiny_llama(**overrides):
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=16, hidden_size=8, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=32, **overrides,
    )  # fmt: skip
    return transformers.LlamaForCausalLM(config).eval()


@pytest.fixture(autouse=True)
def no_fallback_announced_yet(monkeypatch):
    # Each test starts as a fresh process would: no fallback announced.
    monkeypatch.setattr(generation, "_ANNOUNCED_FALLBACKS", set())


def fallback_warnings(run):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run()
    return result, [str(w.message) for w in caught if w.category is GenerationFallbackWarning]


def test_an_unsupported_model_gets_the_generate_backend_with_one_warning():
    model = tiny_gpt2()
    backend, said = fallback_warnings(lambda: [make_backend(model, GenerationSettings(), [0], 0) for _ in range(3)])
    assert all(isinstance(b, HFGenerateBackend) for b in backend)
    assert said == [
        "the prefix cache does not serve this model (its model type is 'gpt2', not one of "
        "('qwen2', 'qwen3', 'llama', 'mistral')), so HFGenerateBackend generates each turn with model.generate "
        "over the whole conversation: slower, same distribution. The models it serves are listed in "
        "mentor_env.play.generation's docstring (said once per model type)."
    ]


def test_log_probabilities_of_an_unsupported_model_fall_back_with_one_warning():
    model = tiny_gpt2()
    with torch.no_grad():
        outputs, said = fallback_warnings(lambda: [action_logprobs(model, SEQUENCES, MASKS, 1.0, 0) for _ in range(2)])
        plain = plain_action_logprobs(model, SEQUENCES, MASKS, 1.0, 0)
    assert len(said) == 1 and "so plain_action_logprobs runs one full forward pass of each sequence" in said[0]
    assert torch.equal(outputs[0].logp, plain.logp) and torch.equal(outputs[1].valid, plain.valid)


def test_a_supported_model_and_an_explicit_choice_are_not_warned_about():
    llama, gpt2 = tiny_llama(), tiny_gpt2()
    backends, said = fallback_warnings(
        lambda: [
            make_backend(llama, GenerationSettings(), [0], 0),
            make_backend(gpt2, GenerationSettings(), [0], 0, "hf"),
        ]
    )
    assert [type(b) for b in backends] == [PrefixCacheBackend, HFGenerateBackend]
    assert said == []


def test_the_reasons_name_the_model_type_the_window_and_the_missing_modules():
    assert DecoderStack.unsupported_reason(tiny_llama()) is None
    assert DecoderStack.unsupported_reason(tiny_gpt2()).startswith("its model type is 'gpt2'")
    mistral = transformers.MistralForCausalLM(
        transformers.MistralConfig(
            vocab_size=16, hidden_size=8, intermediate_size=16, num_hidden_layers=1, num_attention_heads=2,
            num_key_value_heads=1, sliding_window=4,
        )
    )  # fmt: skip
    assert DecoderStack.unsupported_reason(mistral) == "this mistral model attends through a sliding window"
    mistral.config.sliding_window = None  # Mistral-7B-v0.2 and later: full attention
    assert DecoderStack.unsupported_reason(mistral) is None
    qwen2 = transformers.Qwen2Config(
        num_hidden_layers=2, use_sliding_window=True, sliding_window=16, max_window_layers=1
    )
    assert qwen2.layer_types == ["full_attention", "sliding_attention"]
    assert generation._slides(qwen2) and not generation._slides(transformers.Qwen2Config(sliding_window=16))
    headless = tiny_llama()
    del headless.model.rotary_emb
    assert (
        DecoderStack.unsupported_reason(headless)
        == "this llama model lacks model.rotary_emb of transformers' Llama layout"
    )
    with pytest.raises(ValueError, match="this model is not one: this llama model lacks model.rotary_emb"):
        DecoderStack(headless)


def test_each_model_type_is_announced_once():
    gpt2, headless = tiny_gpt2(), tiny_llama()
    del headless.model.rotary_emb
    _, said = fallback_warnings(
        lambda: [make_backend(model, GenerationSettings(), [0], 0) for model in (gpt2, headless, gpt2, headless)]
    )
    assert [message.split(")")[0] for message in said] == [
        "the prefix cache does not serve this model (its model type is 'gpt2', not one of ('qwen2', 'qwen3', 'llama', 'mistral'",
        "the prefix cache does not serve this model (this llama model lacks model.rotary_emb of transformers' Llama layout",
    ]
