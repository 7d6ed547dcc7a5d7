"""The reference agents' language-model policy: the library's generation stack.

An episode is one growing list of token ids (:class:`TokenTrace`): the prompt
the chat template renders at ``reset``, then the tokens the model sampled and
the tokens of the tool responses, never re-tokenised, with a mask marking the
sampled tokens. :class:`ChatLayout` knows how the template frames turns;
:class:`ChatPolicy` plays the episodes through
:func:`mentor_env.play.rollouts.run_episodes`, keeping each slot's tokens and (in
its generation backend, :mod:`mentor_env.play.generation`) each slot's KV cache.
The trainer, the evaluation and the LM teacher all use these same classes.
"""

from mentor_env.play.generation import GenerationSettings
from mentor_env.play.lm import ChatLayout, ChatPolicy, TokenTrace

__all__ = ["ChatLayout", "ChatPolicy", "GenerationSettings", "TokenTrace"]
