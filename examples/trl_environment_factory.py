"""TRL's ``environment_factory`` without a training run: the dataset, one environment, one completion scored.

``GRPOTrainer(environment_factory=factory, reward_funcs=[factory.reward], train_dataset=dataset, ...)`` makes
one environment per rollout, calls ``reset(**row)``, exposes the domain's tools as methods the model calls, and
hands the environments to ``factory.reward``. This script does what the trainer would, for one row: the
teacher's tool calls go through the environment's methods, and its whole conversation is scored as a
completion. It also scores a plain-text completion with ``reward_func`` (TRL's reward-function convention).
No model is loaded and nothing is trained; our helpers emit no warning (the script counts them).

    python examples/trl_environment_factory.py     # about 2 s on 2 CPUs, one thread
"""

from __future__ import annotations

import json
import warnings

from mentor_env.integrations.trl import environment_factory, reward_func, to_hf_dataset


def main() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        factory = environment_factory("mentor/Calc-v0", reward_mode="mentor")
        dataset = to_hf_dataset("calc", "train", limit=4, tools_in_prompt=False)  # the chat template lists the tools
        row = dataset[0]
        print(f"dataset: {len(dataset)} rows, columns {sorted(dataset.column_names)}")
        env = factory()  # what GRPOTrainer does for each rollout
        env.reset(**row)
        teacher = json.loads(row["teacher_messages"])
        for message in teacher:
            for call in message.get("tool_calls") or []:  # the model's tool calls, as TRL makes them
                name, arguments = call["function"]["name"], call["function"]["arguments"]
                print(f"env.{name}(**{arguments}) -> {getattr(env, name)(**arguments)!r}")
        completion = [message for message in teacher if message["role"] in ("assistant", "tool")]
        [reward] = factory.reward([completion], environments=[env])
        print(f"factory.reward of the teacher's completion: {reward:.3f} (step rewards {env.step_rewards})")
        text = f"The answer is \\boxed{{{row['answer']}}}."
        [score] = reward_func("mentor")(
            [text], answer=[row["answer"]], domain=[row["domain"]], teacher_tools=[row["teacher_tools"]]
        )
        print(f"reward_func('mentor') of a right answer without the teacher's tools: {score:.3f}")
    print(f"warnings from our helpers: {len(caught)}")


if __name__ == "__main__":
    main()
