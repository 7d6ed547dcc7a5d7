"""register_domain: a domain of your own joins the suite table, or is refused with a clear error."""

from __future__ import annotations

import gymnasium as gym
import pytest

import mentor_env
from mentor_env.domains import DOMAINS
from mentor_env.integrations.scoring import resolve_domain
from mentor_env.registration import DOMAIN_ENV_IDS, ENV_IDS
from tests.core.test_robustness import NapDomain


@pytest.fixture
def nap_domain():
    domain = NapDomain()
    yield domain
    # Registration is process-wide: undo it so other tests see the suite as shipped.
    entry = DOMAINS.pop(domain.name, None)
    DOMAIN_ENV_IDS.pop(domain.name, None)
    if entry is not None:
        ENV_IDS.remove(entry.env_id)
        gym.registry.pop(entry.env_id, None)


def test_a_registered_domain_gets_an_env_id_and_every_lookup_finds_it(nap_domain):
    env_id = mentor_env.register_domain(nap_domain, max_turns=3)
    assert env_id == "mentor/Nap-v0"
    assert ENV_IDS[: len(DOMAIN_ENV_IDS)] == list(DOMAIN_ENV_IDS.values()) and env_id in ENV_IDS
    env = gym.make(env_id)
    assert env.unwrapped.max_turns == 3 and gym.spec(env_id).kwargs == {"domain": "nap", "max_turns": 3}
    assert resolve_domain("nap") is nap_domain
    assert resolve_domain("mentor/Nap-v0") is nap_domain
    assert mentor_env.register_domain(nap_domain, max_turns=3) == env_id  # the same call again is a no-op


def test_a_custom_env_id_is_kept(nap_domain):
    assert mentor_env.register_domain(nap_domain, env_id="myorg/Nap-v3") == "myorg/Nap-v3"
    assert resolve_domain("myorg/Nap-v3") is nap_domain


def test_taken_names_and_ids_are_refused(nap_domain):
    with pytest.raises(ValueError, match="the domain name 'calc' is taken"):
        mentor_env.register_domain(NapDomain(name="calc"))
    with pytest.raises(ValueError, match="the env id 'mentor/Calc-v0' is already registered with Gymnasium"):
        mentor_env.register_domain(nap_domain, env_id="mentor/Calc-v0")
    assert "nap" not in DOMAINS


@pytest.mark.parametrize(
    "domain, error, message",
    [
        (
            object(),
            TypeError,
            r"object lacks \['name', 'tools', 'system_prompt', 'difficulties', 'generate', 'judge'\]",
        ),
        (NapDomain(name="Loud"), ValueError, r"a domain name must be a lowercase identifier .* got 'Loud'"),
        (NapDomain(name="my-domain"), ValueError, "got 'my-domain'"),
    ],
)
def test_what_is_not_a_domain_is_refused(domain, error, message):
    with pytest.raises(error, match=message):
        mentor_env.register_domain(domain)


def test_a_malformed_env_id_leaves_the_tables_as_they_were(nap_domain):
    with pytest.raises(gym.error.Error, match="Malformed environment ID"):
        mentor_env.register_domain(nap_domain, env_id="not a valid id!!")
    assert "nap" not in DOMAINS and "nap" not in DOMAIN_ENV_IDS and "not a valid id!!" not in ENV_IDS
    assert mentor_env.register_domain(nap_domain) == "mentor/Nap-v0"  # the name is still free


def test_a_registered_name_with_digits_resolves_in_every_form():
    domain = NapDomain(name="nap2")
    try:
        env_id = mentor_env.register_domain(domain)
        assert [resolve_domain(form) is domain for form in ("nap2", "Nap2-v0", env_id, "mentor/nap2")] == [True] * 4
    finally:
        DOMAINS.pop("nap2", None)
        DOMAIN_ENV_IDS.pop("nap2", None)
        if "mentor/Nap2-v0" in ENV_IDS:
            ENV_IDS.remove("mentor/Nap2-v0")
        gym.registry.pop("mentor/Nap2-v0", None)


def test_served_tasks_lists_a_splits_tasks_in_order():
    tasks = mentor_env.served_tasks("mentor/Calc-v0", split="test")
    assert len(tasks) == 500
    # Seed 1000002 draws a question of the train split, so the test split skips it.
    assert [task.id for task in tasks[:3]] == ["calc-1000000", "calc-1000001", "calc-1000003"]
    assert tasks[0].answer == "397"
    structured = mentor_env.served_tasks("mentor/Calc-Structured-v0", split="test")
    assert [task.id for task in structured] == [task.id for task in tasks]


def test_served_tasks_is_none_for_generated_tasks_and_a_fresh_list_each_call():
    from tests.conftest import SMALL_TASK

    assert mentor_env.served_tasks("mentor/Calc-v0") is None
    given = mentor_env.served_tasks("mentor/Calc-v0", tasks=[SMALL_TASK])
    assert [task.id for task in given] == ["test-small"]
    first = mentor_env.served_tasks("mentor/Units-v0", split="ood")
    first.clear()
    assert len(mentor_env.served_tasks("mentor/Units-v0", split="ood")) == 500


def test_served_tasks_are_the_ones_a_reset_draws_at_the_difficulty_filter():
    # Calc's test split holds levels 1-5; a difficulty filter narrows what a reset draws, and so what this returns.
    level_one = mentor_env.served_tasks("mentor/Calc-v0", split="test", difficulty=1)
    assert len(level_one) == 109 and {t.meta["difficulty"] for t in level_one} == {1}
    assert [t.id for t in level_one[:2]] == ["calc-1000000", "calc-1000029"]  # the split's order
    assert len(mentor_env.served_tasks("mentor/Calc-v0", split="test", difficulty=(1, 2))) == 188


def test_served_tasks_refuses_an_unknown_split_and_a_foreign_env():
    with pytest.raises(ValueError, match="split must be one of"):
        mentor_env.served_tasks("mentor/Calc-v0", split="validation")
    with pytest.raises(TypeError, match="CartPole-v1 is not a mentor-env tool-use env: it has no served_tasks method"):
        mentor_env.served_tasks("CartPole-v1")
