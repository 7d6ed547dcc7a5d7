"""What crosses the process boundary of an async vector env: text in shared memory, tool specs by pickle."""

from __future__ import annotations

import copy
import pickle

import gymnasium as gym
import pytest
from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory, write_to_shared_memory

import mentor_env  # noqa: F401
from mentor_env.core.messages import _render_tools_block, render_tools_block
from mentor_env.core.spaces import UnicodeText
from mentor_env.core.tools import ToolSpecs
from mentor_env.domains import get_domain
from tests.conftest import call


def test_shared_memory_rows_hold_any_string_up_to_the_limit():
    space = UnicodeText(8)
    memory = create_shared_memory(space, n=3)
    batch = read_from_shared_memory(space, memory, n=3)
    for index, text in enumerate(["", "ü✓😀\ud800", "12345678"]):
        write_to_shared_memory(space, index, text, memory)
    assert copy.deepcopy(batch) == ("", "ü✓😀\ud800", "12345678")
    write_to_shared_memory(space, 2, "ab", memory)  # shorter than what the row held
    assert batch[2] == "ab" and batch[1:] == ("ü✓😀\ud800", "ab") and len(batch) == 3
    with pytest.raises(ValueError, match="does not fit"):
        write_to_shared_memory(space, 0, "x" * 9, memory)


def _specs() -> ToolSpecs:
    return ToolSpecs(tool.spec for tool in get_domain("calc").tools)


def test_tool_specs_are_a_list_of_the_specs():
    specs = _specs()
    plain = [tool.spec for tool in get_domain("calc").tools]
    assert isinstance(specs, list) and specs == plain
    assert copy.copy(specs) == plain and copy.deepcopy(specs) == plain
    deep = copy.deepcopy(specs)
    deep[0]["function"]["name"] = "renamed"
    assert specs == plain  # a deep copy shares nothing


def test_unpickling_the_same_specs_again_gives_the_list_made_the_first_time():
    specs = _specs()
    data = pickle.dumps(specs)
    first, second = pickle.loads(data), pickle.loads(pickle.dumps(specs))
    assert first == specs and first is second and type(first) is ToolSpecs
    assert len(data) < len(pickle.dumps(list(specs))) + 100


def test_edited_specs_travel_as_they_are_and_are_not_handed_out_again():
    specs = _specs()
    received = pickle.loads(pickle.dumps(specs))
    received[0]["function"]["description"] = "edited on the receiving side"
    again = pickle.loads(pickle.dumps(specs))
    assert again is not received and again == specs  # the edited copy is not reused
    specs[1]["function"]["description"] = "edited on the sending side"
    assert pickle.loads(pickle.dumps(specs)) == specs


def test_the_tools_block_is_rendered_once_and_again_after_an_edit():
    specs = _specs()
    assert render_tools_block(specs) == _render_tools_block(list(specs))
    assert render_tools_block(specs) is render_tools_block(specs)
    specs[0]["function"]["description"] = "An edited description."
    assert "An edited description." in render_tools_block(specs)
    assert render_tools_block(specs) == _render_tools_block(list(specs))


def test_async_vector_env_info_carries_the_tool_specs_every_step():
    single = gym.make("mentor/Calc-v0")
    _, single_info = single.reset(seed=0)
    envs = gym.make_vec("mentor/Calc-v0", num_envs=2, vectorization_mode="async")
    try:
        _, infos = envs.reset(seed=0)
        for _ in range(3):
            assert all(tools == single_info["tools"] for tools in infos["tools"])
            _, _, _, _, infos = envs.step([call("add", a=2, b=3)] * 2)
    finally:
        envs.close()
