"""Reward modes on hand-built episodes, expected numbers written out (the README's reward table)."""

from __future__ import annotations

import random

import pytest

from mentor_env.core import rewards as R
from tests.conftest import call, play

MODES = ("sparse", "mentor", "mentor_partial", "mentor_nomatch", "mentor_f1")

# name -> (actions, expected episode score per mode in MODES order)
EPISODES = {
    "correct, teacher's tools": (
        [call("add", a=2, b=3), call("multiply", a=5, b=4), "So \\boxed{20}."],
        (1.0, 1.1, 1.0, 0.8, 1.1),
    ),
    "correct, parallel calls in one turn": (
        [call("add", a=2, b=3) + call("multiply", a=5, b=4), "\\boxed{20}"],
        (1.0, 1.1, 1.0, 0.8, 1.1),
    ),
    "correct, no tools": (["\\boxed{20}"], (1.0, 0.8, 0.7, 0.8, 0.8)),
    "correct, only one of the teacher's tools": (
        [call("multiply", a=5, b=4), "\\boxed{20}"],
        # f1: precision 1, recall 1/2 -> 2/3 -> 0.7 + 0.2 + 0.1
        (1.0, 0.8, 1.0, 0.8, 1.0),
    ),
    "correct, a repeated call": (
        [call("add", a=2, b=3), call("add", a=2, b=3), call("multiply", a=5, b=4), "\\boxed{20}"],
        # multiset f1: precision 2/3, recall 1 -> 0.8 -> 0.7 + 0.24 + 0.1
        (1.0, 1.1, 1.0, 0.8, 1.04),
    ),
    "correct, with an invented tool": (
        [call("calculator", expression="(2+3)*4"), call("add", a=2, b=3), call("multiply", a=5, b=4), "\\boxed{20}"],
        (1.0, 1.0, 1.0, 0.7, 1.0),
    ),
    "correct, a broken call whose name is readable counts": (
        [
            '<tool_call>{"name": "add", "arguments": {"a": 2, "b": }</tool_call>',
            call("multiply", a=5, b=4),
            "\\boxed{20}",
        ],
        (1.0, 1.1, 1.0, 0.8, 1.1),
    ),
    "wrong, teacher's tools": (
        [call("add", a=2, b=3), call("multiply", a=5, b=4), "\\boxed{21}"],
        (0.1, 0.16, 0.06, 0.1, 0.16),
    ),
    "wrong, no tools": (["\\boxed{7}"], (0.1, 0.1, 0.0, 0.1, 0.1)),
    "wrong, invented tool only": ([call("solve", q="x"), "\\boxed{7}"], (0.1, 0.0, 0.0, 0.0, 0.0)),
    "no boxed answer": ([call("add", a=2, b=3), "The answer is 20."], (0.1, 0.1, 0.1, 0.1, 0.1)),
    "empty boxed answer": (["\\boxed{ }"], (0.1, 0.1, 0.1, 0.1, 0.1)),
    "malformed final turn (fakes a tool response)": (
        ["<tool_response>20</tool_response> \\boxed{20}"],
        (0.0, 0.0, 0.0, 0.0, 0.0),
    ),
    "answer inside reasoning only": (["<think>\\boxed{20}</think> done"], (0.1, 0.1, 0.1, 0.1, 0.1)),
}


@pytest.mark.parametrize("name", list(EPISODES))
def test_episode_scores(small_env, name):
    actions, expected = EPISODES[name]
    env = small_env(max_turns=8)
    rewards, infos, terminated, truncated = play(env, actions)
    assert terminated and not truncated
    final = infos[-1]["rewards"]
    assert tuple(final[mode] for mode in MODES) == pytest.approx(expected, abs=1e-9)
    # Terminal modes pay on the last step only.
    for info in infos[:-1]:
        assert all(info["rewards"][mode] == 0.0 for mode in MODES)
    # dense returns mentor's score over the episode (the shaping sums to zero).
    assert sum(info["rewards"]["dense"] for info in infos) == pytest.approx(expected[1], abs=1e-9)


def test_truncated_episode_scores_zero_in_every_mode(small_env):
    env = small_env(max_turns=2)
    rewards, infos, terminated, truncated = play(env, [call("add", a=2, b=3), call("multiply", a=5, b=4)])
    assert truncated and not terminated
    assert {mode: infos[-1]["rewards"][mode] for mode in MODES} == dict.fromkeys(MODES, 0.0)
    # The shaping paid for progress is taken back when the episode ends unfinished.
    assert [info["rewards"]["dense"] for info in infos] == pytest.approx([0.25, -0.25])


@pytest.mark.parametrize(
    "mode, expected",
    [("sparse", [0.0, 0.0, 1.0]), ("mentor", [0.0, 0.0, 1.1]), ("dense", [0.25, 0.25, 0.6])],
)
def test_step_returns_the_chosen_mode(small_env, mode, expected):
    env = small_env(reward_mode=mode)
    rewards, infos, _, _ = play(env, [call("add", a=2, b=3), call("multiply", a=5, b=4), "\\boxed{20}"])
    assert rewards == pytest.approx(expected)
    assert [info["teacher_reward"] for info in infos] == pytest.approx([0.25, 0.25, 0.6])
    assert [info["sparse_reward"] for info in infos] == pytest.approx([0.0, 0.0, 1.0])


def test_dense_shaping_gives_partial_credit_for_arguments(small_env):
    env = small_env(reward_mode="dense")
    # add with one of two arguments right: credit 0.5 + 0.5 * 1/2 = 0.75 of one of two teacher calls.
    rewards, infos, _, _ = play(env, [call("add", a=2, b=4)])
    assert infos[0]["reward_components"]["teacher_progress"] == pytest.approx(0.375)
    assert rewards == pytest.approx([0.1875])


def test_failed_calls_earn_no_progress(small_env):
    env = small_env(reward_mode="dense")
    rewards, infos, _, _ = play(env, [call("add", a=2)])  # missing argument
    assert infos[0]["errors"][0].startswith("invalid_args:")
    assert rewards == [0.0]


def test_shaping_gamma_discounts_the_next_potential(small_env):
    env = small_env(reward_mode="dense", shaping_gamma=0.5)
    rewards, _, _, _ = play(env, [call("add", a=2, b=3), call("multiply", a=5, b=4), "\\boxed{20}"])
    # phi: 0 -> 0.25 -> 0.5 -> 0 (final); r = 0.5 * phi' - phi
    assert rewards == pytest.approx([0.125, 0.0, 1.1 - 0.5])


def outcome(**overrides) -> R.Outcome:
    fields = dict(
        finished=True,
        well_formed=True,
        answer="20",
        correct=True,
        student_tools=("add", "multiply"),
        teacher_tools=("add", "multiply"),
        available_tools=frozenset({"add", "multiply", "divide"}),
    )
    fields.update(overrides)
    return R.Outcome(**fields)


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({}, {"sparse": 1.0, "mentor": 1.1, "mentor_partial": 1.0, "mentor_nomatch": 0.8, "mentor_f1": 1.1}),
        ({"finished": False}, dict.fromkeys(MODES, 0.0)),
        ({"well_formed": False}, dict.fromkeys(MODES, 0.0)),
        ({"answer": None, "correct": False}, dict.fromkeys(MODES, 0.1)),
        (
            {"student_tools": ("divide",)},
            {"sparse": 1.0, "mentor": 0.8, "mentor_partial": 0.7, "mentor_nomatch": 0.8, "mentor_f1": 0.8},
        ),
        (
            {"correct": False, "student_tools": ("add", "multiply", "sin")},
            {"sparse": 0.1, "mentor": 0.06, "mentor_partial": 0.06, "mentor_nomatch": 0.0, "mentor_f1": 0.06},
        ),
        # The teacher used no tool and neither did the student: a match in every mode.
        (
            {"student_tools": (), "teacher_tools": ()},
            {"sparse": 1.0, "mentor": 1.1, "mentor_partial": 1.0, "mentor_nomatch": 0.8, "mentor_f1": 1.1},
        ),
        (
            {"student_tools": ("add",), "teacher_tools": ()},
            {"sparse": 1.0, "mentor": 0.8, "mentor_partial": 0.7, "mentor_nomatch": 0.8, "mentor_f1": 0.8},
        ),
    ],
)
def test_outcome_table(overrides, expected):
    scores = R.episode_rewards(outcome(**overrides))
    assert {mode: scores[mode] for mode in MODES} == pytest.approx(expected)
    assert scores["dense"] == scores["mentor"]


def test_teacher_progress_matches_each_teacher_call_once():
    teacher = [("add", {"a": 1, "b": 2}), ("add", {"a": 3, "b": 4})]
    assert R.teacher_progress([], teacher) == 0.0
    assert R.teacher_progress([("add", {"a": 3, "b": 4})], teacher) == 0.5
    assert R.teacher_progress([("add", {"a": 3, "b": 4}), ("add", {"a": 3, "b": 4})], teacher) == 0.75
    assert R.teacher_progress([("add", {"a": 1, "b": 2}), ("add", {"a": 3, "b": 4})], teacher) == 1.0
    assert R.teacher_progress([("multiply", {"a": 1, "b": 2})], teacher) == 0.0
    # Unknown teacher arguments (published layout): the name is full credit.
    assert R.teacher_progress([("add", {"a": 9})], [("add", None)]) == 1.0
    assert R.teacher_progress([("add", {"a": 9})], []) == 0.0


def _random_call(rng: random.Random, unknown_arguments: bool = False) -> tuple[str, dict | None]:
    """A call of one of three names with a few small arguments (the values often collide)."""
    name = rng.choice(("add", "multiply", "sqrt"))
    if unknown_arguments and rng.random() < 0.2:
        return name, None
    values = [1, 2, 2.0, 3, 1 + 1e-12, True, [1, 2], "x"]
    keys = rng.sample(["a", "b", "x"], rng.randint(0, 3))
    return name, {key: rng.choice(values) for key in keys}


def test_incremental_progress_equals_the_reference_on_random_calls():
    rng = random.Random(11)
    for _ in range(3_000):
        teacher = [_random_call(rng, unknown_arguments=True) for _ in range(rng.randint(0, 6))]
        student = [_random_call(rng) for _ in range(rng.randint(0, 10))]
        tracker = R.TeacherProgress(teacher)
        assert tracker.value == R.teacher_progress([], teacher)
        for played in range(1, len(student) + 1):
            tracker.add(student[played - 1])
            assert tracker.value == R.teacher_progress(student[:played], teacher), (student[:played], teacher)
        batch = R.TeacherProgress(teacher)
        batch.extend(student)
        assert batch.value == tracker.value


def test_env_progress_equals_the_reference_every_step(small_env):
    # Partial arguments, a failed call, a repeated call and an invented tool, then the answer.
    actions = [
        call("add", a=2, b=9) + call("divide", a=1, b=0),
        call("add", a=2, b=3) + call("guess", a=1),
        call("multiply", a=5, b=4) + call("multiply", a=5, b=4),
        "\\boxed{20}",
    ]
    env = small_env(reward_mode="dense")
    base = env.unwrapped
    for action in actions:
        _, _, _, _, info = env.step(action)
        expected = R.teacher_progress(base.trajectory.successful_calls(), base._teacher_calls)
        assert info["reward_components"]["teacher_progress"] == expected


def test_argument_match_compares_numbers_with_tolerance():
    assert R.argument_match({"a": 1, "b": 2.0}, {"a": 1.0, "b": 2}) == 1.0
    assert R.argument_match({"a": 1}, {"a": 1, "b": 2}) == 0.5
    assert R.argument_match({"numbers": [1, 2, 3]}, {"numbers": [1, 2, 3.0000000000001]}) == 1.0
    assert R.argument_match({"numbers": [1, 2]}, {"numbers": [2, 1]}) == 0.0
    assert R.argument_match({"flag": True}, {"flag": 1}) == 0.0


def test_episode_scores_equal_episode_rewards_and_components():
    rng = random.Random(5)
    names = ("add", "multiply", "sqrt", "guess")
    for _ in range(3_000):
        outcome = R.Outcome(
            finished=rng.random() < 0.8,
            well_formed=rng.random() < 0.9,
            answer=rng.choice([None, "20", ""]),
            correct=rng.random() < 0.5,
            student_tools=tuple(rng.choice(names) for _ in range(rng.randint(0, 5))),
            teacher_tools=tuple(rng.choice(names[:3]) for _ in range(rng.randint(0, 3))),
            available_tools=frozenset(names[: rng.randint(1, 3)]),
        )
        scores, components = R.episode_scores(outcome)
        assert list(scores.items()) == list(R.episode_rewards(outcome).items())
        assert list(components.items()) == list(R.outcome_components(outcome).items())


# --- the reward table: each mode declared once -------------------------------------------------


def test_the_published_weights_are_named_once():
    assert (R.SPARSE_CORRECT, R.SPARSE_WRONG, R.NO_ANSWER, R.UNFINISHED) == (1.0, 0.1, 0.1, 0.0)
    assert (R.CORRECT_WEIGHT, R.TOOL_WEIGHT, R.WRONG_ANSWER_TOOL_SHARE, R.NO_INVENTED_TOOL_WEIGHT) == (
        0.7,
        0.3,
        0.2,
        0.1,
    )
    assert R.REWARD_MODES == ("sparse", "mentor", "mentor_partial", "mentor_nomatch", "mentor_f1", "dense")
    assert R.TERMINAL_MODES == ("sparse", "mentor", "mentor_partial", "mentor_nomatch", "mentor_f1")
    assert R.get_reward_mode("dense").shaped and not R.get_reward_mode("mentor").shaped
    with pytest.raises(ValueError, match=r"reward_mode must be one of \('sparse', 'mentor'.*got 'mentr'"):
        R.get_reward_mode("mentr")
    with pytest.raises(ValueError, match="'mentor' ships with mentor_env"):
        R.unregister_reward_mode("mentor")
    with pytest.raises(ValueError, match="already registered"):
        R.register_reward_mode(R.get_reward_mode("sparse"))
    with pytest.raises(ValueError, match="a Python identifier"):
        R.register_reward_mode(R.RewardMode("correct-only", lambda outcome, tools: 0.0, "bad name"))


def _correct_only(outcome: R.Outcome, tools: R.ToolScores) -> float:
    return 1.0 if outcome.correct else 0.0


def test_a_mode_registered_in_one_place_plays_through_step_trl_and_verl():
    """The guide "add a reward mode" is this test: one register_reward_mode call, nothing else."""
    import gymnasium as gym

    from mentor_env.core.messages import render_assistant_text
    from mentor_env.integrations.trl import REWARD_FUNCS, reward_func
    from mentor_env.integrations.verl import compute_score

    R.register_reward_mode(R.RewardMode("correct_only", _correct_only, "1 for a correct answer, else 0"))
    try:
        assert "correct_only" in R.REWARD_MODES and "correct_only" in R.TERMINAL_MODES
        env = gym.make("mentor/Calc-v0", reward_mode="correct_only")
        env.reset(seed=0)
        task = env.unwrapped.task
        turns = [render_assistant_text(m) for m in task.teacher.messages if m["role"] == "assistant"]
        rewards, infos, terminated, _ = play(env, turns)
        assert terminated and rewards == [0.0] * (len(turns) - 1) + [1.0]
        assert infos[-1]["rewards"]["correct_only"] == 1.0 and infos[-1]["rewards"]["mentor"] == 1.1
        env.reset(seed=0)
        rewards, _, _, _ = play(env, ["\\boxed{-12345}"])
        assert rewards == [0.0]  # a wrong answer: 0 here, where sparse pays 0.1
        # TRL: a reward function by name, in the live table of reward functions.
        text = "\n".join(turns)
        columns = {"answer": [task.answer], "domain": ["calc"], "teacher_tools": [list(task.teacher.tool_names)]}
        assert reward_func("correct_only")(
            completions=[text, "\\boxed{-12345}"], **{k: v * 2 for k, v in columns.items()}
        ) == [1.0, 0.0]
        assert "correct_only" in REWARD_FUNCS and REWARD_FUNCS["correct_only"](completions=[text], **columns) == [1.0]
        # verl: the same score from a whole response.
        extra = {"teacher_tools": list(task.teacher.tool_names)}
        assert compute_score("calc", text, task.answer, extra, reward_mode="correct_only")["score"] == 1.0
        env.close()
    finally:
        R.unregister_reward_mode("correct_only")
    assert "correct_only" not in R.REWARD_MODES and "correct_only" not in REWARD_FUNCS
    with pytest.raises(ValueError, match="reward_mode must be one of"):
        gym.make("mentor/Calc-v0", reward_mode="correct_only")
