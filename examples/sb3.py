"""Stable-Baselines3 on ``mentor/Calc-Structured-v0``: Calc behind fixed-size numeric spaces, for agents without a
language model. Every action becomes the text a model would write and is scored by the text env.

A few hundred PPO steps (far too few to learn; a real run needs about 10^5), then one action of the policy
shown as the text it stands for, with the reward the text env gave it.

    python examples/sb3.py     # about 10 s on 2 CPUs, one thread
"""

from __future__ import annotations

import gymnasium as gym
import torch
from stable_baselines3 import PPO

import mentor_env  # noqa: F401  (registers mentor/Calc-Structured-v0)


def main() -> None:
    torch.set_num_threads(1)  # torch's default, one per core, is many times slower on a busy machine
    env = gym.make("mentor/Calc-Structured-v0", reward_mode="dense", difficulty=1, lean_info=True)
    model = PPO("MultiInputPolicy", env, n_steps=128, batch_size=64, seed=0, device="cpu")
    model.learn(total_timesteps=256)
    print(f"trained {model.num_timesteps} env steps")
    obs, info = env.reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    obs, reward, terminated, truncated, info = env.step(action)
    print(f"the policy's action as text: {info['text_action']!r}; dense reward {reward:+.3f}")
    env.close()


if __name__ == "__main__":
    main()
