"""compat="official" gives the published MENTOR reward files' numbers; the default ("ours") differs where listed.

The expected numbers are worked out by hand from the published code's logic
(``mentor_sparse.py``, ``mentor.py``, ``mentor_ablation2/3/4.py``: checks in
their order, unrounded float sums), not by calling ours. Its judge is replaced
by the domain's (here calc's numeric comparison) in both settings.

Published sums, as the files add them up:

* correct, exact match, no invented name: ``0.7 + (0.3 + 0.1)`` = 1.1
* correct, no match, no invented name: ``0.7 + (0.0 + 0.1)`` = 0.7999999999999999 (``NO_MATCH``)
* ``mentor_nomatch``, correct, no invented name: ``0.7 + 0.1`` = 0.7999999999999999
* correct, match, an invented name: ``0.7 + (0.3 + 0.0)`` = 1.0
* ``mentor_partial``, correct, overlap: ``0.7 + 0.3`` = 1.0; no overlap: 0.7
* wrong, match, no invented name: ``0.0 + (0.3 * 0.2 + 0.1)`` = 0.16; partial ``0.3 * 0.2`` = 0.06
"""

from __future__ import annotations

import gymnasium as gym
import pytest

import mentor_env  # noqa: F401  (registers the ids)
from mentor_env.core.parsing import HermesParser, ParsedTurn, literal_reading
from mentor_env.core.rewards import TERMINAL_MODES, check_compat
from mentor_env.integrations.scoring import completion_outcome, score_completion, score_details
from mentor_env.integrations.trl import MentorReward
from mentor_env.integrations.verl import compute_score
from mentor_env.registration import DOMAIN_ENV_IDS
from tests.conftest import SMALL_TASK, call, play

NO_MATCH = 0.7999999999999999  # 0.7 + (0.0 + 0.1), and 0.7 + 0.1 in mentor_nomatch: the published sums, unrounded
ADD = call("add", a=2, b=3)


def table(sparse: float, mentor: float, partial: float, nomatch: float, f1: float) -> dict[str, float]:
    return {"sparse": sparse, "mentor": mentor, "mentor_partial": partial, "mentor_nomatch": nomatch, "mentor_f1": f1}


def scores(text, teacher, answer="5", compat="ours", **kwargs) -> dict[str, float]:
    result = score_completion(text, domain="calc", answer=answer, teacher_tools=teacher, compat=compat, **kwargs)
    assert result["dense"] == result["mentor"]
    return {mode: result[mode] for mode in TERMINAL_MODES}


# (completion, teacher tools, gold answer, published files' scores, ours)
CASES = {
    "ordinary right answer": (
        ADD + call("multiply", a=5, b=4) + " \\boxed{20}",
        ["add", "multiply"],
        "20",
        table(1.0, 1.1, 1.0, NO_MATCH, 1.1),
        table(1.0, 1.1, 1.0, 0.8, 1.1),
    ),
    "ordinary wrong answer": (
        ADD + call("multiply", a=5, b=4) + " \\boxed{19}",
        ["add", "multiply"],
        "20",
        table(0.1, 0.16, 0.06, 0.1, 0.16),
        table(0.1, 0.16, 0.06, 0.1, 0.16),
    ),
    # Published: the broken block's name is not read (its fallback pattern never matches), so S = {add} ≠ T.
    # F1 = 2·1·0.5/1.5 = 2/3: 0.7 + (0.3·2/3 + 0.1) = 1.0.
    "broken JSON names the teacher's second tool": (
        ADD + ' <tool_call>{"name": "multiply", "arguments": {"a": 5,, "b": 4}}</tool_call> \\boxed{20}',
        ["add", "multiply"],
        "20",
        table(1.0, NO_MATCH, 1.0, NO_MATCH, 1.0),
        table(1.0, 1.1, 1.0, 0.8, 1.1),
    ),
    # Published: the invented name in broken JSON is not read, so nothing is invented.
    "broken JSON names an invented tool": (
        ADD + ' <tool_call>{"name": "calculator", "arguments": {"x": }</tool_call> \\boxed{5}',
        ["add"],
        "5",
        table(1.0, 1.1, 1.0, NO_MATCH, 1.1),
        table(1.0, 1.0, 1.0, 0.7, 1.0),
    ),
    # Published: calls inside <think> count. Ours: reasoning, never executed, so S = ∅.
    "the only call is inside <think>": (
        "<think>" + ADD + "</think> \\boxed{5}",
        ["add"],
        "5",
        table(1.0, 1.1, 1.0, NO_MATCH, 1.1),
        table(1.0, 0.8, 0.7, 0.8, 0.8),
    ),
    # Published: the invented call inside <think> costs the hallucination bonus: 0.7 + (0.3 + 0.0), 0.7 + 0.0.
    "an invented call inside <think>": (
        "<think>" + call("calc", x=1) + "</think>" + ADD + " \\boxed{5}",
        ["add"],
        "5",
        table(1.0, 1.0, 1.0, 0.7, 1.0),
        table(1.0, 1.1, 1.0, 0.8, 1.1),
    ),
    # Published: no malformed-turn rule. Ours: a final turn that fakes a tool result scores 0.0.
    "a faked <tool_response>": (
        ADD + "<tool_response>5</tool_response> \\boxed{5}",
        ["add"],
        "5",
        table(1.0, 1.1, 1.0, NO_MATCH, 1.1),
        table(0.0, 0.0, 0.0, 0.0, 0.0),
    ),
    # Published: the last \boxed is unclosed, so there is no answer: 0.1 before anything else.
    "an unclosed last \\boxed{": (
        ADD + " \\boxed{5} so \\boxed{5",
        ["add"],
        "5",
        table(0.1, 0.1, 0.1, 0.1, 0.1),
        table(1.0, 1.1, 1.0, 0.8, 1.1),
    ),
    # Published: the last \boxed anywhere is the answer, inside <think> too. Ours: none outside <think>.
    "the only answer is inside <think>": (
        ADD + "<think>so \\boxed{5}</think> it is five",
        ["add"],
        "5",
        table(1.0, 1.1, 1.0, NO_MATCH, 1.1),
        table(0.1, 0.1, 0.1, 0.1, 0.1),
    ),
    # Published: 7 is a truthy name outside the tool list: invented. Ours: no name string, no tool named.
    "a numeric tool name": (
        ADD + '<tool_call>{"name": 7, "arguments": {}}</tool_call> \\boxed{5}',
        ["add"],
        "5",
        table(1.0, 1.0, 1.0, 0.7, 1.0),
        table(1.0, 1.1, 1.0, 0.8, 1.1),
    ),
    # Published: no closing tag, no span, S = ∅: 0.7 + (0.0 + 0.1); partial 0.7 + 0.0.
    "an unclosed call": (
        '<tool_call>{"name": "add", "arguments": {"a": 2, "b": 3}} \\boxed{5}',
        ["add"],
        "5",
        table(1.0, NO_MATCH, 0.7, NO_MATCH, NO_MATCH),
        table(1.0, 1.1, 1.0, 0.8, 1.1),
    ),
    # Published: "Teacher tools not provided" is 0.1 in the matching modes (ablation3 has no such check).
    # Ours: the teacher used no tool and neither did the student, a match in every mode.
    "the teacher used no tool": (
        "\\boxed{5}",
        [],
        "5",
        table(1.0, 0.1, 0.1, NO_MATCH, 0.1),
        table(1.0, 1.1, 1.0, 0.8, 1.1),
    ),
    "the teacher used no tool, the student did": (
        ADD + " \\boxed{5}",
        [],
        "5",
        table(1.0, 0.1, 0.1, NO_MATCH, 0.1),
        table(1.0, 0.8, 0.7, 0.8, 0.8),
    ),
    # Published: `name not in valid_tool_names` raises TypeError for a dict; sparse reads no tools.
    "a tool name given as a dict": (
        ADD + '<tool_call>{"name": {"x": 1}, "arguments": {}}</tool_call> \\boxed{5}',
        ["add"],
        "5",
        table(1.0, 0.0, 0.0, 0.0, 0.0),
        table(1.0, 1.1, 1.0, 0.8, 1.1),
    ),
    "a tool name given as a list": (
        ADD + '<tool_call>{"name": ["add"], "arguments": {}}</tool_call> \\boxed{5}',
        ["add"],
        "5",
        table(1.0, 0.0, 0.0, 0.0, 0.0),
        table(1.0, 1.1, 1.0, 0.8, 1.1),
    ),
    # Published: falsy names ("", 0, null, {}) are skipped, a blank one ("  ") is an invented name.
    "falsy and blank names": (
        ADD + "".join(f'<tool_call>{{"name": {n}}}</tool_call>' for n in ('""', "0", "null", "{}")) + " \\boxed{5}",
        ["add"],
        "5",
        table(1.0, 1.1, 1.0, NO_MATCH, 1.1),
        table(1.0, 1.1, 1.0, 0.8, 1.1),
    ),
    "a blank name": (
        ADD + '<tool_call>{"name": "  "}</tool_call> \\boxed{5}',
        ["add"],
        "5",
        table(1.0, 1.0, 1.0, 0.7, 1.0),
        table(1.0, 1.1, 1.0, 0.8, 1.1),
    ),
    # Published: the span runs to the first closing tag, so `<tool_call>A <tool_call>{add}</tool_call>` is one
    # broken span: S = ∅. Ours: an unclosed block, then a valid add call.
    "an opening tag inside a span": (
        "<tool_call>oops " + ADD + " \\boxed{5}",
        ["add"],
        "5",
        table(1.0, NO_MATCH, 0.7, NO_MATCH, NO_MATCH),
        table(1.0, 1.1, 1.0, 0.8, 1.1),
    ),
    # Published: F1 over sets, {subtract, multiply, add} = T's set: 1.1. Ours: multisets, p = 1, r = 3/4.
    "F1 over sets vs multisets": (
        "".join(call(name, a=1, b=1) for name in ("subtract", "multiply", "add")) + " \\boxed{5}",
        ["subtract", "subtract", "multiply", "add"],
        "5",
        table(1.0, 1.1, 1.0, NO_MATCH, 1.1),
        table(1.0, 1.1, 1.0, 0.8, round(0.7 + 0.3 * (2 * 0.75 / 1.75) + 0.1, 10)),
    ),
    # Sets {add, subtract} and {add, multiply}: p = r = 1/2, F1 = 1/2: 0.7 + (0.3·0.5 + 0.1) = 0.95.
    "half the tools": (
        ADD + call("subtract", a=5, b=0) + " \\boxed{5}",
        ["add", "multiply"],
        "5",
        table(1.0, NO_MATCH, 1.0, NO_MATCH, 0.95),
        table(1.0, 0.8, 1.0, 0.8, 0.95),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_published_and_our_scores(name):
    text, teacher, answer, published, ours = CASES[name]
    assert scores(text, teacher, answer, compat="official") == published
    assert scores(text, teacher, answer) == ours
    assert scores(text, teacher, answer, compat="ours") == ours


@pytest.mark.parametrize("name", list(CASES))
def test_a_cut_off_completion_scores_zero_in_both_settings(name):
    text, teacher, answer, _, _ = CASES[name]
    for compat in ("ours", "official"):
        assert scores(text, teacher, answer, compat=compat, finished=False) == table(0.0, 0.0, 0.0, 0.0, 0.0)


def test_the_published_error_is_named_in_the_details():
    text = CASES["a tool name given as a dict"][0]
    details = score_details(text, domain="calc", answer="5", teacher_tools=["add"], compat="official")
    assert details["scoring_error"] == 1.0 and details["mentor"] == 0.0 and details["sparse"] == 1.0
    ours = score_details(text, domain="calc", answer="5", teacher_tools=["add"])
    assert ours["scoring_error"] == 0.0
    outcome = completion_outcome(text, domain="calc", answer="5", teacher_tools=["add"], compat="official")
    assert outcome.scoring_error is not None and "TypeError" in outcome.scoring_error


def test_a_spaced_boxed_wins_over_a_later_braced_one_in_the_published_reading():
    # Published: "\boxed " anywhere is taken first, up to the next "$": here "6", though \boxed{5} follows.
    text = ADD + " \\boxed 6$ then \\boxed{5}"
    assert scores(text, ["add"], compat="official") == table(0.1, 0.16, 0.06, 0.1, 0.16)
    assert scores(text, ["add"]) == table(1.0, 1.1, 1.0, 0.8, 1.1)


def test_a_multi_turn_rollout_still_asking_for_a_tool():
    messages = [
        {"role": "assistant", "content": ADD},
        {"role": "tool", "content": "5"},
        {"role": "assistant", "content": call("multiply", a=5, b=4)},
    ]
    # Ours: the trainer stopped it mid-episode, it never ended. Published: it ends with EOS, no \boxed: 0.1.
    assert scores(messages, ["add", "multiply"], "20") == table(0.0, 0.0, 0.0, 0.0, 0.0)
    assert scores(messages, ["add", "multiply"], "20", compat="official") == table(0.1, 0.1, 0.1, 0.1, 0.1)
    done = messages + [{"role": "tool", "content": "20"}, {"role": "assistant", "content": "\\boxed{20}"}]
    assert scores(done, ["add", "multiply"], "20", compat="official") == table(1.0, 1.1, 1.0, NO_MATCH, 1.1)


def test_the_literal_reading():
    reading = literal_reading("<think>" + ADD + '</think><tool_call>{"name": 7}</tool_call><tool_call>x \\boxed{a{b}c}')
    assert reading.call_names == ("add", 7)
    assert reading.last_boxed == "a{b}c" and not reading.spaced_boxed
    assert literal_reading("\\boxed{5} \\boxed{5").last_boxed == ""
    assert literal_reading("\\boxedx{5}").last_boxed == ""
    assert literal_reading("no box").last_boxed is None
    assert literal_reading("\\boxed 5$ x").last_boxed == "5" and literal_reading("\\boxed 5$").spaced_boxed
    assert HermesParser().parse("<think>\\boxed{1}</think>").literal.last_boxed == "1"


def test_compat_is_checked():
    with pytest.raises(ValueError, match="compat must be one of"):
        score_completion("\\boxed{5}", domain="calc", answer="5", teacher_tools=["add"], compat="published")

    class Bare:
        def parse(self, text: str) -> ParsedTurn:
            return ParsedTurn(content=text)

    with pytest.raises(ValueError, match="ParsedTurn.literal"):
        check_compat("official", Bare())
    with pytest.raises(ValueError, match="ParsedTurn.literal"):
        score_completion("\\boxed{5}", domain="calc", answer="5", teacher_tools=[], parser=Bare(), compat="official")
    with pytest.raises(ValueError, match="reward_compat|compat must be one of"):
        gym.make("mentor/Calc-v0", reward_compat="paper")
    with pytest.raises(ValueError, match="compat must be one of"):
        MentorReward("mentor", compat="paper")


# --- the environment: reward_compat on every text env ---------------------------------


def test_every_text_env_takes_reward_compat():
    for env_id in DOMAIN_ENV_IDS.values():
        env = gym.make(env_id, reward_compat="official")
        assert env.unwrapped.reward_compat == "official"
        assert gym.make(env_id).unwrapped.reward_compat == "ours"


@pytest.mark.parametrize(
    "final, published, ours",
    [
        # The answer inside <think> (published: read; ours: none outside it).
        (
            "<think>so \\boxed{20}</think> it is twenty",
            table(1.0, 1.1, 1.0, NO_MATCH, 1.1),
            table(0.1, 0.1, 0.1, 0.1, 0.1),
        ),
        # A faked tool response in the final turn.
        (
            "<tool_response>20</tool_response> \\boxed{20}",
            table(1.0, 1.1, 1.0, NO_MATCH, 1.1),
            table(0.0, 0.0, 0.0, 0.0, 0.0),
        ),
        # An unclosed last box.
        ("\\boxed{20} so \\boxed{20", table(0.1, 0.1, 0.1, 0.1, 0.1), table(1.0, 1.1, 1.0, 0.8, 1.1)),
        # An invented call written in the final turn's reasoning.
        (
            "<think>" + call("calc", x=1) + "</think> \\boxed{20}",
            table(1.0, 1.0, 1.0, 0.7, 1.0),
            table(1.0, 1.1, 1.0, 0.8, 1.1),
        ),
    ],
)
def test_env_episode_scores_in_both_settings(small_env, final, published, ours):
    turns = [call("add", a=2, b=3), call("multiply", a=5, b=4), final]
    for compat, expected in (("official", published), ("ours", ours)):
        for mode in TERMINAL_MODES:
            env = small_env(reward_mode=mode, reward_compat=compat)
            rewards, infos, terminated, _ = play(env, turns)
            assert terminated
            assert rewards[-1] == expected[mode], (compat, mode)
            assert {m: infos[-1]["rewards"][m] for m in TERMINAL_MODES} == expected
        env = small_env(reward_mode="dense", reward_compat=compat)
        rewards, infos, _, _ = play(env, turns)
        # dense = that setting's mentor at the end plus shaping that sums to zero: 0.25, 0.25, mentor - 0.5.
        assert rewards[:2] == [0.25, 0.25]
        assert rewards[-1] == pytest.approx(expected["mentor"] - 0.5)
        assert sum(rewards) == pytest.approx(expected["mentor"])


def test_env_published_error_scores_zero(small_env):
    env = small_env(reward_mode="mentor", reward_compat="official")
    turns = [
        call("add", a=2, b=3) + '<tool_call>{"name": {"x": 1}}</tool_call>',
        call("multiply", a=5, b=4),
        "\\boxed{20}",
    ]
    rewards, infos, terminated, _ = play(env, turns)
    assert terminated and rewards[-1] == 0.0
    assert infos[-1]["rewards"]["sparse"] == 1.0
    assert infos[-1]["reward_components"]["scoring_error"] == 1.0


def test_env_matches_score_completion_in_the_official_setting(small_env):
    turns = [
        call("add", a=2, b=3) + '<tool_call>{"name": "multiply", "arguments": {"a": 5,, "b": 4}}</tool_call>',
        "<think>" + call("divide", a=1, b=1) + "</think>" + call("multiply", a=5, b=4),
        "done: \\boxed{20}",
    ]
    env = small_env(reward_compat="official")
    _, infos, _, _ = play(env, turns)
    messages = []
    for turn in turns:
        messages += [{"role": "assistant", "content": turn}, {"role": "tool", "content": "…"}]
    expected = score_completion(
        messages[:-1], domain="calc", answer=SMALL_TASK["answer"], teacher_tools=["add", "multiply"], compat="official"
    )
    assert {m: infos[-1]["rewards"][m] for m in TERMINAL_MODES} == {m: expected[m] for m in TERMINAL_MODES}
    # By hand: S = {add, divide, multiply} ≠ T, nothing invented, F1 = 2·(2/3)·1/(5/3) = 0.8.
    assert expected["mentor"] == NO_MATCH and expected["mentor_f1"] == 0.7 + (0.3 * 0.8 + 0.1)


# --- the trainer adapters -----------------------------------------------------------


def test_trl_reward_functions_take_compat():
    text, teacher, answer, published, ours = CASES["the only call is inside <think>"]
    columns = {"answer": [answer], "domain": ["calc"], "teacher_tools": [teacher]}
    for mode in TERMINAL_MODES:
        assert MentorReward(mode, compat="official")([text], **columns) == [published[mode]]
        assert MentorReward(mode)([text], **columns) == [ours[mode]]


def test_verl_compute_score_takes_compat():
    text, teacher, answer, published, ours = CASES["a faked <tool_response>"]
    extra = {"teacher_tools": teacher}
    for mode in TERMINAL_MODES:
        official = compute_score("mentor/calc", text, answer, extra, reward_mode=mode, compat="official")
        assert official["score"] == published[mode]
        from_extra = compute_score(
            "mentor/calc", text, answer, {**extra, "reward_compat": "official"}, reward_mode=mode
        )
        assert from_extra["score"] == published[mode]
        assert compute_score("mentor/calc", text, answer, extra, reward_mode=mode)["score"] == ours[mode]


@pytest.mark.parametrize("action", [5, None, b"\\boxed{3}", "x" * 100_000], ids=["int", "none", "bytes", "too-long"])
def test_a_refused_turn_is_scored_under_the_official_reading_too(action) -> None:
    # A turn the env refuses unread is an empty turn to the published reward: no call, no answer.
    env = gym.make("mentor/Calc-v0", reward_compat="official", max_turns=2)
    env.reset(seed=0)
    _, reward, terminated, truncated, info = env.step(action)
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert info["errors"][0].startswith("invalid_action: ")
    _, reward, terminated, truncated, info = env.step(action)  # the episode ends on the refused turns alone
    assert (reward, terminated, truncated) == (0.0, False, True)
    assert info["rewards"]["sparse"] == 0.0
