"""mentor_env.integrations.verl_agent run by verl's own tool agent loop code (verl 0.9.1's ToolAgentLoop._call_tool)."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from types import SimpleNamespace

import gymnasium as gym
import pytest

from mentor_env.core.messages import render_assistant_text
from mentor_env.core.splits import load_split
from mentor_env.domains import get_domain
from mentor_env.integrations import verl_agent
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

verl = pytest.importorskip(
    "verl.experimental.agent_loop.tool_agent_loop", reason=f"verl is not installed ({VERL_IMPORT_ERROR})"
)
from verl.experimental.agent_loop.tool_agent_loop import AgentData, ToolAgentLoop  # noqa: E402
from verl.experimental.agent_loop.tool_parser import FunctionCall  # noqa: E402
from verl.tools.base_tool import BaseTool  # noqa: E402
from verl.tools.tool_registry import initialize_tools_from_config  # noqa: E402

ROW = to_verl_rows("calc", "test", limit=3, tools_in_prompt=False, agent=True)
TASKS = load_split(get_domain("calc"), "test")[:3]


def loop_with(tools):
    """What ToolAgentLoop._call_tool reads from its loop object."""
    return SimpleNamespace(
        tools={tool.name: tool for tool in tools}, max_tool_response_length=4096, tool_response_truncate_side="middle"
    )


def agent_data(row, request_id):
    data = AgentData(
        messages=list(row["prompt"]),
        image_data=None,
        video_data=None,
        audio_data=None,
        mm_processor_kwargs=None,
        metrics={},
        request_id=request_id,
        tools_kwargs=row["extra_info"]["tools_kwargs"],
    )
    return data


async def run_turn(loop, data, message):
    """The loop's tool state: append the assistant turn, run its calls concurrently, append the results."""
    data.messages.append(message)
    calls = [
        FunctionCall(name=c["function"]["name"], arguments=json.dumps(c["function"]["arguments"]))
        for c in message.get("tool_calls", [])
    ]
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
    assert [m["content"] for m in data.messages if m["role"] == "tool"] == [
        m["content"] for m in task.teacher.messages if m["role"] == "tool"
    ]
    assert rewards == pytest.approx(expected[:-1]) and rewards[0] > 0
    record = data.extra_fields["mentor_env"]
    assert (
        record["task_id"] == task.id and record["step_rewards"] == pytest.approx(expected[:-1]) and not record["done"]
    )
    # The final reward: compute_score on the loop's decoded response, with the record merged into extra_info as verl does.
    response = "".join(
        render_assistant_text(m)
        if m["role"] == "assistant"
        else f"\nuser\n<tool_response>\n{m['content']}\n</tool_response>\nassistant\n"
        for m in data.messages[2:] + [turns[-1]]
    )
    extra_info = {**row["extra_info"], **data.extra_fields, "num_turns": len(data.messages) + 1}
    score = compute_score(
        row["data_source"], response, row["reward_model"]["ground_truth"], extra_info, reward_mode="dense"
    )
    assert score["score"] == pytest.approx(sum(expected)) == pytest.approx(1.1)
    episode_sessions.drop(f"req-{index}")


def test_errors_and_turns_without_agent_data(tmp_path):
    tools = initialize_tools_from_config(str(write_verl_tool_config(tmp_path / "tools.yaml", "mentor/Calc-v0")))
    loop = loop_with(tools)
    data = agent_data(ROW[0], request_id="req-errors")
    bad = {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"type": "function", "function": {"name": "add", "arguments": {"a": 1, "c": 2}}}],
    }
    ((response, reward, metrics),) = asyncio.run(run_turn(loop, data, bad))
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
    config = json.loads(
        write_verl_interaction_config(tmp_path / "interaction.yaml", "mentor/Calc-v0", reward_mode="mentor").read_text()
    )
    spec = config["interaction"][0]
    interaction = MentorInteraction({"name": spec["name"], **spec["config"]})
    tools = initialize_tools_from_config(
        str(write_verl_tool_config(tmp_path / "tools.yaml", "mentor/Calc-v0", reward_mode="mentor"))
    )
    row, task = ROW[1], TASKS[1]
    request_id = asyncio.run(interaction.start_interaction("req-final", **row["extra_info"]["interaction_kwargs"]))
    data = agent_data(row, request_id)
    turns = [dict(m) for m in task.teacher.messages if m["role"] == "assistant"]
    for turn in turns[:-1]:
        asyncio.run(run_turn(loop_with(tools), data, turn))
    data.messages.append(turns[-1])
    terminate, text, turn_score, info = asyncio.run(interaction.generate_response(request_id, data.messages))
    assert terminate and text == "" and turn_score == pytest.approx(1.1) and info["done"] and info["correct"] == 1.0
    assert asyncio.run(interaction.calculate_score(request_id)) == pytest.approx(
        sum(gym_play(task.id, turns, "mentor"))
    )
    asyncio.run(interaction.finalize_interaction(request_id))
    assert episode_sessions.get(request_id) is None


# --- what verl forgets to call, the event loop, bad input -------------------------

TABLE_ROWS = to_verl_rows("table", "test", limit=40, tools_in_prompt=False, agent=True)
ENDLESS_CTE_COUNT = "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT COUNT(*) FROM r"
STOCK_COUNT = "SELECT COUNT(*) AS n FROM stock"


def sandbox_children() -> set[int]:
    """Pids of this process's live sandbox children, read from /proc (parent pid and command line)."""
    children = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat, open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
                command = cmdline.read()
        except (OSError, IndexError, ValueError):
            continue  # it ended while we looked
        if parent == os.getpid() and b"mentor_env.core.sandbox" in command:
            children.add(int(entry))
    return children


def settles(condition, timeout_s: float = 5.0) -> bool:
    """Whether ``condition()`` holds within ``timeout_s`` (the reaper thread closes envs a moment after verl drops a trajectory)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def loop_for(tmp_path, env_id: str, **env_kwargs):
    """What ToolAgentLoop._call_tool and _build_assistant_message read from their loop object, with verl-loaded tools."""
    path = tmp_path / f"tools-{uuid.uuid4().hex}.yaml"
    tools = initialize_tools_from_config(str(write_verl_tool_config(path, env_id, **env_kwargs)))
    return SimpleNamespace(
        tools={tool.name: tool for tool in tools},
        max_tool_response_length=100_000,
        tool_response_truncate_side="middle",
        max_parallel_calls=16,
    )


async def verl_turn(loop, data, content: str, calls: list[tuple[str, str]]) -> list[str]:
    """One tool turn as verl 0.9.1 runs it: its assistant message (arguments as the model wrote them), the calls concurrently."""
    data.tool_calls = [FunctionCall(name=name, arguments=arguments) for name, arguments in calls]
    data.messages.append(ToolAgentLoop._build_assistant_message(loop, content, data))
    responses = await asyncio.gather(
        *(ToolAgentLoop._call_tool(loop, call, data.tools_kwargs, data) for call in data.tool_calls)
    )
    data.messages.extend({"role": "tool", "content": response.text} for response, _, _ in responses)
    return [response.text for response, _, _ in responses]


def test_finished_table_trajectories_keep_no_sandbox_child(tmp_path):
    """verl 0.9.1 never calls calc_reward nor releases a trajectory: dropping its agent_data is the only signal."""
    loop = loop_for(tmp_path, "mentor/Table-v0")
    before = sandbox_children()
    # Eight trajectories one after another: a child kept by any of them fails the next one's count of exactly one.
    for index, row in enumerate(TABLE_ROWS[:8]):
        data = agent_data(row, request_id=f"table-{index}")
        (text,) = asyncio.run(verl_turn(loop, data, "", [("query", json.dumps({"sql": STOCK_COUNT}))]))
        # The env's answer (on this loaded 2-CPU machine a fresh child's first query can also hit its 0.5 s limit).
        assert text == "n\n207\n(1 row)" or text.startswith("Error (timeout): query timed out"), text
        assert len(sandbox_children() - before) == 1 and episode_sessions.get(f"table-{index}") is not None
        data.messages.append(
            {"role": "assistant", "content": "\\boxed{207}"}
        )  # no call: verl's loop ends, and drops data
        del data
        assert settles(lambda: not sandbox_children() - before), f"trajectory {index} left its child"
        assert settles(lambda key=f"table-{index}": episode_sessions.get(key) is None)
    # Before the fix every trajectory kept its child: over 40 of them, 1.85 GB of resident memory measured.
    assert sandbox_children() - before == set()


def test_ended_idle_and_unowned_episodes_give_back_what_they_hold(tmp_path, monkeypatch):
    """Callers without agent_data (verl <= 0.4, direct use): the episode's end, idleness and the count bound it."""
    registry = verl_agent._Registry(capacity=3, idle_release_s=0.0)
    monkeypatch.setattr(verl_agent, "episode_sessions", registry)
    monkeypatch.setattr(verl_agent, "SWEEP_EVERY_S", 0.0)
    before = sandbox_children()
    query = loop_for(tmp_path, "mentor/Table-v0", max_turns=1).tools["query"]
    instance, _ = asyncio.run(query.create(create_kwargs={"task_id": TABLE_ROWS[0]["extra_info"]["task_id"]}))
    response, _, _ = asyncio.run(query.execute(instance, {"sql": STOCK_COUNT}))
    # max_turns=1: that call's turn ended the episode, which closed its child at once (no release, no calc_reward).
    assert registry.get(instance).session.done and sandbox_children() - before == set()
    assert asyncio.run(query.execute(instance, {"sql": STOCK_COUNT}))[0].text == (
        "Error (invalid_action): the episode is over (its turn budget is spent); no more tool calls are run"
    )
    query = loop_for(tmp_path, "mentor/Table-v0").tools["query"]
    running, _ = asyncio.run(query.create(create_kwargs={"task_id": TABLE_ROWS[1]["extra_info"]["task_id"]}))
    asyncio.run(query.execute(running, {"sql": STOCK_COUNT}))
    assert len(sandbox_children() - before) == 1 and not registry.get(running).session.done
    registry.sweep()  # unused for idle_release_s (0 s here; 60 s by default): the child goes, the episode stays
    assert sandbox_children() - before == set() and registry.get(running) is not None
    add = loop_for(tmp_path, "mentor/Calc-v0").tools["add"]
    for _ in range(5):
        asyncio.run(add.execute(uuid.uuid4().hex, {"a": 1, "b": 2}))
    assert len(registry) == 3  # no agent_data owns them: the least recently used beyond the capacity are dropped


def test_tool_calls_run_off_the_event_loop(tmp_path):
    """8 trajectories' runaway queries at once: the event loop keeps running other coroutines."""
    loop = loop_for(tmp_path, "mentor/Table-v0")
    before = sandbox_children()
    datas = [agent_data(row, request_id=f"runaway-{index}") for index, row in enumerate(TABLE_ROWS[:8])]

    async def all_turns(sql: str) -> tuple[list[list[str]], list[float]]:
        gaps: list[float] = []
        running = True

        async def tick() -> None:
            last = time.perf_counter()
            while running:
                await asyncio.sleep(0.01)
                gaps.append(time.perf_counter() - last)
                last = time.perf_counter()

        ticker = asyncio.create_task(tick())
        texts = await asyncio.gather(
            *(verl_turn(loop, data, "", [("query", json.dumps({"sql": sql}))]) for data in datas)
        )
        running = False
        await ticker
        return texts, gaps

    asyncio.run(all_turns(STOCK_COUNT))  # each trajectory's child is up
    assert len(sandbox_children() - before) == 8
    texts, gaps = asyncio.run(all_turns(ENDLESS_CTE_COUNT))
    # Each is stopped at its limit, or as the machine's doing when 8 runaways on a loaded machine make it too slow.
    assert all(text.startswith("Error (timeout): ") for (text,) in texts), texts
    # Each query runs 0.5 s before its limit stops it; run on the loop, the 8 stalled it for 4 s or more.
    assert max(gaps) < 1.0 and len(gaps) > 20  # measured: 0.04 s at most, ~285 ticks in 3.5 s
    datas.clear()  # the rollouts end: verl drops their agent_data
    assert settles(lambda: not sandbox_children() - before)


def test_bad_arguments_and_turns_get_the_envs_errors(tmp_path):
    """What the model wrote reaches the env as written; each call gets the env's answer for it, never an exception."""
    loop = loop_for(tmp_path, "mentor/Calc-v0")
    data = agent_data(ROW[0], request_id="bad-input")
    write = 'Write {"name": ..., "arguments": {...}} inside <tool_call></tool_call>'
    calls = [
        ("add", '{"a": NaN, "b": 1}'),
        ("add", "[1, 2]"),
        ("add", "5"),
        ("add", "null"),
        ("add", '{"a": 1, "b": 2}'),
    ]
    assert (
        asyncio.run(verl_turn(loop, data, "", calls))
        == [
            f"Error (parse_error): the tool call is not valid JSON (NaN is not a valid JSON number). {write}",
            f'Error (parse_error): "arguments" must be a JSON object, got list. {write}',
            f'Error (parse_error): "arguments" must be a JSON object, got int. {write}',
            "Error (invalid_args): 'a' is a required property. add expects {a: number, b: number}",  # the env reads null as {}
            "3",
        ]
    )
    long_turn = asyncio.run(
        verl_turn(loop, data, "x" * 70_000, [("add", '{"a": 1, "b": 2}'), ("multiply", '{"a": 1, "b": 2}')])
    )
    # 70,000 characters of content, then the two calls' blocks (71 and 76 characters), one newline before each.
    assert long_turn == ["Error (invalid_action): the turn is 70149 characters long; the limit is 65536"] * 2
    # A message that is not text (verl would not build it; another loop might): the env refuses the turn.
    data.messages.append(
        {
            "role": "assistant",
            "content": 5,
            "tool_calls": [{"function": {"name": "add", "arguments": {"a": 1, "b": 2}}}],
        }
    )
    add = loop.tools["add"]
    assert asyncio.run(add.execute("bad-input", {"a": 1, "b": 2}, agent_data=data))[0].text == (
        "Error (invalid_action): the action must be the text the model generated (str), got dict"
    )
    del data
    assert settles(lambda: episode_sessions.get("bad-input") is None)


@pytest.mark.parametrize(
    "parameters, shown",
    [
        (
            [1, 2],
            'Error (parse_error): "arguments" must be a JSON object, got list. Write {"name": ..., "arguments": {...}} inside <tool_call></tool_call>',
        ),
        (None, "Error (invalid_args): 'a' is a required property. add expects {a: number, b: number}"),
        (
            {"a": float("nan"), "b": 1},
            'Error (parse_error): the tool call is not valid JSON (NaN is not a valid JSON number). Write {"name": ..., "arguments": {...}} inside <tool_call></tool_call>',
        ),
        (
            {"a": complex(1, 2), "b": 1},
            "Error (invalid_args): the arguments have no JSON form, the only form a model's call takes (TypeError: Object of type complex is not JSON serializable)",
        ),
        (
            {"a": 10**5000, "b": 1},
            "Error (invalid_args): the arguments have no JSON form, the only form a model's call takes (ValueError: Exceeds the limit (4300 digits) for integer string conversion; use sys.set_int_max_str_digits() to increase the limit)",
        ),
        (
            {"a": list(range(1_000_000)), "b": 1},
            "Error (invalid_action): the call is longer than 65,536 characters written as JSON; the environment refuses a turn longer than 65,536 characters unread, so the call was not run",
        ),
    ],
    ids=["list", "None", "NaN", "complex", "10**5000", "a million items"],
)
def test_execute_without_agent_data_answers_any_parameters(tmp_path, parameters, shown):
    add = loop_for(tmp_path, "mentor/Calc-v0").tools["add"]
    instance, _ = asyncio.run(add.create(create_kwargs={"task_id": TASKS[0].id}))
    started = time.perf_counter()
    response, reward, metrics = asyncio.run(add.execute(instance, parameters))
    assert response.text == shown and reward == 0.0 and metrics["error"] == shown.split("(")[1].split(")")[0]
    assert time.perf_counter() - started < 1.0  # measured: under 30 ms each, the million items included
    asyncio.run(add.release(instance))
