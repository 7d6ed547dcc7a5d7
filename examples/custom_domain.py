"""A domain of your own: two string tools, registered with ``mentor_env.register_domain``, one episode played.

``GeneratedDomain`` needs the tools, a ``draw`` that returns a question with the scripted teacher's plan, and a
judge; the teacher's boxed result becomes the task's gold answer. Registering it gives an env id
(``mentor/Strings-v0``) that ``gym.make``, the reward modes and the scoring functions know like the built-in ones.

    python examples/custom_domain.py     # about 2 s on 2 CPUs, one thread
"""

from __future__ import annotations

import gymnasium as gym

import mentor_env
from mentor_env.core import Tool
from mentor_env.core.messages import render_assistant_text
from mentor_env.core.tools import object_schema
from mentor_env.domains.base import Draw, GeneratedDomain
from mentor_env.domains.scripted import TeacherTurn
from mentor_env.integrations.scoring import score_completion

WORD = {"type": "string", "minLength": 1, "maxLength": 100, "description": "A word."}
LETTER = {"type": "string", "minLength": 1, "maxLength": 1, "description": "One character."}


class StringsDomain(GeneratedDomain):
    """Two tools, two levels: count a letter, or spell a word backwards."""

    name, difficulties = "strings", (1, 2)
    system_prompt = "Answer with the tools, then put the answer in \\boxed{}."
    tools = (
        Tool("reverse", "Reverse a word.", object_schema({"word": WORD}), lambda word: word[::-1]),
        Tool(
            "count",
            "Count a character in a word.",
            object_schema({"word": WORD, "letter": LETTER}),
            lambda word, letter: word.count(letter),
        ),
    )

    def draw(self, rng, level, ood):  # a question and the scripted teacher's plan for it
        word, letter = rng.choice(["banana", "stressed", "mississippi"]), rng.choice("aeis")
        if level == 1:
            question, call = f"How many '{letter}' are in '{word}'?", ("count", {"word": word, "letter": letter})
        else:
            question, call = f"What is '{word}' spelled backwards?", ("reverse", {"word": word})

        def plan():  # one call, then the boxed result: generate() plays it through the tools
            results = yield TeacherTurn("", [call])
            yield TeacherTurn(f"\\boxed{{{results[0].content}}}")

        return Draw(question, plan(), {"difficulty": level})

    def judge(self, prediction: str, answer: str) -> bool:
        return prediction.strip() == answer


def main() -> None:
    env_id = mentor_env.register_domain(StringsDomain())
    env = gym.make(env_id, difficulty=2, reward_mode="dense")
    obs, info = env.reset(seed=0)
    task = env.unwrapped.task
    print(f"{env_id}: {task.question}")
    turns = [render_assistant_text(message) for message in task.teacher.messages if message["role"] == "assistant"]
    total, terminated = 0.0, False
    for turn in turns:  # the teacher's episode, turn by turn
        obs, reward, terminated, truncated, info = env.step(turn)
        total += reward
        print(f"turn {info['turn']}: {turn!r} -> reward {reward:+.3f}")
    print(f"episode over: {terminated}, correct {info['reward_components']['correct']:.0f}, return {total:.3f}")
    completion = "\n".join(turns)
    print(
        f"score_completion of the same turns: {score_completion(completion, domain='strings', answer=task.answer, teacher_tools=task.teacher.tool_names)['mentor']:.3f}"
    )
    env.close()


if __name__ == "__main__":
    main()
