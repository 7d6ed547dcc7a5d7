"""Playing the environments: what runs a policy through episodes.

- :mod:`~mentor_env.play.rollouts`: the one episode loop (``run_episodes``) and its ``Episode`` record;
- :mod:`~mentor_env.play.generation`: the generation stack of language-model policies (sampler,
  prefix-cache and Hugging Face backends, log-probabilities of sampled tokens);
- :mod:`~mentor_env.play.lm`: a chat policy over any local Hugging Face causal LM;
- :mod:`~mentor_env.play.evaluation`: success and tool-use metrics across domains (``mentor_env.evaluate``);
- :mod:`~mentor_env.play.teachers`: where reference trajectories come from (scripted, dataset, LM teachers).

Nothing here is imported by :mod:`mentor_env.core` or the domains.
"""
