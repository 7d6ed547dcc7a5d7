"""mentor_env.integrations.verl_agent run by verl's own tool agent loop code (verl 0.9.1's ToolAgentLoop._call_tool)."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import gymnasium as gym
import pytest

from mentor_env.core.messages import render_assistant_text
from mentor_env.core.splits import load_split
from mentor_env.domains import get_domain
from mentor_env.integrations.verl import compute_score, to_verl_rows
from mentor_env.integrations.verl_agent import (
    VERL_IMPORT_ERROR,
    MentorInteraction,
    MentorTool,
    episode_sessions,
    verl_tool_config,
    write_verl_interaction_config,
    write_verl_tool_config,
)

verl = pytest.importorskip("verl.experimental.agent_loop.tool_agent_loop", reason=f"verl is not installed ({VERL_IMPORT_ERROR})")
from verl.experimental.agent_loop.tool_agent_loop import AgentData, ToolAgentLoop  # noqa: E402
from verl.experimental.agent_loop.tool_parser import FunctionCall  # noqa: E402
from verl.tools.base_tool import BaseTool  # noqa: E402
from verl.tools.tool_registry import initialize_tools_from_config  # noqa: E402

ROW = to_verl_rows("calc", "test", limit=3, tools_in_prompt=False, agent=True)
TASKS = load_split(get_domain("calc"), "test")[:3]


def loop_with(tools):
    """What ToolAgentLoop._call_tool reads from its loop object."""
    return SimpleNamespace(tools={tool.name: tool for tool in tools}, max_tool_response_length=4096, tool_response_truncate_side="middle")


def agent_data(row, request_id):
    data = AgentData(messages=list(row["prompt"]), image_data=None, video_data=None, audio_data=None,
                     mm_processor_kwargs=None, metrics={}, request_id=request_id, tools_kwargs=row["extra_info"]["tools_kwargs"])
    return data


async def run_turn(loop, data, message):
    """The loop's tool state: append the assistant turn, run its calls concurrently, append the results."""
    data.messages.append(message)
    calls = [FunctionCall(name=c["function"]["name"], arguments=json.dumps(c["function"]["arguments"])) for c in message.get("tool_calls", [])]
    responses = await asyncio.gather(*(ToolAgentLoop._call_tool(loop, call, data.tools_kwargs, data) for call in calls))
    data.messages.extend({"role": "tool", "content": response.text} for response, _, _ in responses)
    return responses


def gym_play(task_id, turns, reward_mode):
    env = gym.make("mentor/Calc-v0", reward_mode=reward_mode)
    env.reset(options={"task_id": task_id})
    return [env.step(render_assistant_text(turn))[1] for turn in turns]


@pytest.mark.parametrize("index", range(3))
def test_verls_tool_loop_runs_the_episode_with_per_turn_shaping(tmp_path, index):
    config = write_verl_tool_config(tmp_path / "tools.yaml", "mentor/Calc-v0", reward_mode="dense")
    tools = initialize_tools_from_config(str(config))  # verl's own loader and pydantic schemas
    assert all(isinstance(tool, BaseTool) and isinstance(tool, MentorTool) for tool in tools)
    assert sorted(tool.name for tool in tools) == sorted(tool.name for tool in get_domain("calc").tools)
    row, task = ROW[index], TASKS[index]
    data = agent_data(row, request_id=f"req-{index}")
    loop = loop_with(tools)
    turns = [dict(m) for m in task.teacher.messages if m["role"] == "assistant"]
    rewards = []
    for turn in turns[:-1]:
        responses = asyncio.run(run_turn(loop, data, turn))
        rewards.append(sum(reward for _, reward, _ in responses))
    expected = gym_play(task.id, turns, "dense")
    # Tool results are the env's; the tool rewards are the env's per-turn dense rewards.
    assert [m["content"] for m in data.messages if m["role"] == "tool"] == [m["content"] for m in task.teacher.messages if m["role"] == "tool"]
    assert rewards == pytest.approx(expected[:-1]) and rewards[0] > 0
    record = data.extra_fields["mentor_env"]
    assert record["task_id"] == task.id and record["step_rewards"] == pytest.approx(expected[:-1]) and not record["done"]
    # The final reward: compute_score on the loop's decoded response, with the record merged into extra_info as verl does.
    response = "".join(
        render_assistant_text(m) if m["role"] == "assistant" else f"\nuser\n<tool_response>\n{m['content']}\n</tool_response>\nassistant\n"
        for m in data.messages[2:] + [turns[-1]]
    )
    extra_info = {**row["extra_info"], **data.extra_fields, "num_turns": len(data.messages) + 1}
    score = compute_score(row["data_source"], response, row["reward_model"]["ground_truth"], extra_info, reward_mode="dense")
    assert score["score"] == pytest.approx(sum(expected)) == pytest.approx(1.1)
    episode_sessions.drop(f"req-{index}")


def test_errors_and_turns_without_agent_data(tmp_path):
    tools = initialize_tools_from_config(str(write_verl_tool_config(tmp_path / "tools.yaml", "mentor/Calc-v0")))
    loop = loop_with(tools)
    data = agent_data(ROW[0], request_id="req-errors")
    bad = {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "add", "arguments": {"a": 1, "c": 2}}}]}
    (response, reward, metrics), = asyncio.run(run_turn(loop, data, bad))
    assert response.text.startswith("Error (invalid_args)") and metrics["error"] == "invalid_args"
    unknown = FunctionCall(name="python", arguments="{}")
    text = asyncio.run(ToolAgentLoop._call_tool(loop, unknown, {}, data))[0].text
    assert "Unknown function 'python'" in text  # verl answers unknown names itself
    # Without agent_data (another caller): each call is its own turn of the episode of its instance id.
    add = next(tool for tool in tools if tool.name == "add")
    instance, _ = asyncio.run(add.create(create_kwargs={"task_id": TASKS[0].id}))
    response, _, _ = asyncio.run(add.execute(instance, {"a": 2, "b": 3}))
    assert response.text == "5" and asyncio.run(add.calc_reward(instance)) == 0.0
    asyncio.run(add.release(instance))
    with pytest.raises(ValueError, match="needs env_id"):
        MentorTool({"type": "native", "name": "add"}, None)
    with pytest.raises(ValueError, match="must name one of the env's tools"):
        MentorTool({"type": "native", "env_id": "mentor/Calc-v0", "name": "python"}, None)
    assert len(verl_tool_config("mentor/Table-v0")["tools"]) == len(get_domain("table").tools)
    episode_sessions.drop("req-errors")


def test_interaction_scores_the_final_turn(tmp_path):
    """verl <= 0.7's interaction interface (0.9.1 has none): start, generate_response, calculate_score, finalize."""
    config = json.loads(write_verl_interaction_config(tmp_path / "interaction.yaml", "mentor/Calc-v0", reward_mode="mentor").read_text())
    spec = config["interaction"][0]
    interaction = MentorInteraction({"name": spec["name"], **spec["config"]})
    tools = initialize_tools_from_config(str(write_verl_tool_config(tmp_path / "tools.yaml", "mentor/Calc-v0", reward_mode="mentor")))
    row, task = ROW[1], TASKS[1]
    request_id = asyncio.run(interaction.start_interaction("req-final", **row["extra_info"]["interaction_kwargs"]))
    data = agent_data(row, request_id)
    turns = [dict(m) for m in task.teacher.messages if m["role"] == "assistant"]
    for turn in turns[:-1]:
        asyncio.run(run_turn(loop_with(tools), data, turn))
    data.messages.append(turns[-1])
    terminate, text, turn_score, info = asyncio.run(interaction.generate_response(request_id, data.messages))
    assert terminate and text == "" and turn_score == pytest.approx(1.1) and info["done"] and info["correct"] == 1.0
    assert asyncio.run(interaction.calculate_score(request_id)) == pytest.approx(sum(gym_play(task.id, turns, "mentor")))
    asyncio.run(interaction.finalize_interaction(request_id))
    assert episode_sessions.get(request_id) is None
