"""Quickstart: one Calc task with the dense teacher-guided reward, played twice from the same start.

The first turn is the scripted teacher's own first turn (the tool call the reference solution makes); the
second try is a wrong turn (a tool the teacher does not use, on made-up numbers). The dense reward pays the
teacher's step and charges the wrong one, on the very first turn, long before any answer is judged.

    python examples/quickstart.py        # about 2 s on 2 CPUs (imports included), one thread
"""

from __future__ import annotations

import gymnasium as gym

import mentor_env  # noqa: F401  (registers the mentor/* ids)
from mentor_env.core.messages import render_assistant_text

WRONG_TURN = '<tool_call>{"name": "sqrt", "arguments": {"x": 7}}</tool_call>'


def main() -> None:
    env = gym.make("mentor/Calc-v0", reward_mode="dense")
    obs, info = env.reset(seed=0)
    print(f"task {info['task_id']}: {env.unwrapped.task.question}")
    teacher = env.unwrapped.task.teacher
    first = next(message for message in teacher.messages if message["role"] == "assistant")
    teacher_turn = render_assistant_text(first)
    _, teacher_reward, *_ = env.step(teacher_turn)

    env.reset(seed=0)  # the same task again
    _, wrong_reward, *_ = env.step(WRONG_TURN)
    print(f"the teacher's first turn {teacher_turn!r}: dense reward {teacher_reward:+.3f}")
    print(f"a wrong turn {WRONG_TURN!r}: dense reward {wrong_reward:+.3f} (a valid call, off the teacher's path)")
    print(f"the dense reward tells them apart on turn 1: {teacher_reward > wrong_reward}")
    env.close()


if __name__ == "__main__":
    main()
