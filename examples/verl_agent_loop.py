"""verl's adapter objects on one episode, without verl's trainer: ``MentorTool`` (verl's ``BaseTool`` when verl is
installed), ``MentorInteraction`` (verl 0.4-0.7's interaction) and the reward file's ``compute_score``.

One tool object per domain tool, as verl's tool config makes them; all the calls of a trajectory share one
env episode (keyed by verl's request id). Each call's turn is played through ``env.step`` and its step reward
is the tool reward; the interaction plays the final answer; ``compute_score`` scores the whole response text
as verl's reward manager would.

    python examples/verl_agent_loop.py     # about 3 s on 2 CPUs, one thread (verl itself is not needed)

(Not named verl.py: a script of that name would shadow the verl package for itself.)
"""

from __future__ import annotations

import asyncio
import contextlib
import io

from mentor_env.core.messages import render_assistant_text
from mentor_env.core.splits import load_split
from mentor_env.domains import get_domain
from mentor_env.integrations.verl import compute_score, to_verl_rows
from mentor_env.integrations.verl_agent import MentorInteraction, MentorTool

ENV = {"env_id": "mentor/Calc-v0", "reward_mode": "dense"}


async def episode(row: dict, teacher: list[dict]) -> None:
    """The teacher's calls through the tools, its answer through the interaction, all in one episode."""
    names = sorted(row["extra_info"]["tools_kwargs"])
    with contextlib.redirect_stdout(io.StringIO()):  # verl's BaseTool prints each tool's JSON schema when built
        tools = {name: MentorTool({"type": "native", "name": name, **ENV}) for name in names}
    interaction = MentorInteraction({"name": "mentor", **ENV})
    request = await interaction.start_interaction("request-0", **row["extra_info"]["interaction_kwargs"])
    for message in teacher[:-1]:
        for call in message.get("tool_calls") or []:
            tool = tools[call["function"]["name"]]
            await tool.create(request, create_kwargs=row["extra_info"]["tools_kwargs"][tool.name]["create_kwargs"])
            response, reward, _ = await tool.execute(request, call["function"]["arguments"])
            print(f"{tool.name}{call['function']['arguments']} -> {response.text!r}, tool reward {reward:+.3f}")
    done, _, turn_score, info = await interaction.generate_response(request, [*teacher])
    print(
        f"final answer {teacher[-1]['content']!r}: turn score {turn_score:+.3f}, done {done}, correct {info['correct']:.0f}"
    )
    print(f"episode return (calculate_score): {await interaction.calculate_score(request):.3f}")
    await interaction.finalize_interaction(request)


def main() -> None:
    [row] = to_verl_rows("calc", "test", limit=1, tools_in_prompt=False, agent=True)
    task = load_split(get_domain("calc"), "test")[0]
    teacher = [dict(message) for message in task.teacher.messages if message["role"] == "assistant"]
    asyncio.run(episode(row, teacher))
    response = "\n".join(render_assistant_text(message) for message in teacher)
    answer = row["reward_model"]["ground_truth"]
    result = compute_score(row["data_source"], response, answer, row["extra_info"])
    print(f"compute_score of the response text: score {result['score']:.3f}, acc {result['acc']:.0f}")


if __name__ == "__main__":
    main()
