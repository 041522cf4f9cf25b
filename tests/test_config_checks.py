"""The sentence a broken configuration gives (``nqmix_core.config_checks``): which fields, which rule, where
each field is documented, in the singular or the plural as the count asks."""
from __future__ import annotations

import pytest

from nqmix_core.config import RunConfig
from nqmix_core.config_checks import documented_in, raise_if_any
from nqmix_core.errors import UserError
from nqmix_core.learners.q_learning import QLearningConfig
from nqmix_core.registry import algo_config


def refusal(make) -> str:
    with pytest.raises(UserError) as error:
        make()
    return str(error.value)


def test_one_broken_run_field_is_one_sentence_in_the_singular():
    assert refusal(lambda: RunConfig(seed=-1)) == (
        "Invalid run setting: seed=-1 must be >= 0; change it (RunConfig in nqmix_core/config.py documents each "
        "field).")


def test_two_broken_algorithm_fields_are_one_sentence_in_the_plural_naming_every_file_that_documents_them():
    assert refusal(lambda: algo_config("qmix", gamma=2, tau=-1)) == (
        "Invalid algorithm settings: gamma=2 must be in [0, 1], tau=-1 must be in (0, 1]; change them "
        "(QLearningConfig and the classes it builds on, in nqmix_core/learners/q_learning.py and "
        "nqmix_core/config.py, document each field).")


def test_where_a_config_class_is_documented():
    assert documented_in(RunConfig) == "RunConfig in nqmix_core/config.py"
    assert documented_in(QLearningConfig) == ("QLearningConfig and the classes it builds on, in "
                                              "nqmix_core/learners/q_learning.py and nqmix_core/config.py")


def test_no_problem_raises_nothing():
    raise_if_any([], "run", RunConfig)


@pytest.mark.parametrize("env", [":3m", "smax:", ":", ""])
def test_an_environment_needs_both_a_backend_and_a_task(env):
    assert f"env={env!r} must be backend:task" in refusal(lambda: RunConfig(env=env))


def test_the_edges_of_each_interval_rule_are_accepted():
    algo_config("qmix", gamma=0.0), algo_config("qmix", gamma=1.0), algo_config("qmix", rms_alpha=0.0)
    algo_config("qmix", tau=1.0), algo_config("qmix", epsilon_anneal_steps=0), algo_config("qmix", batch_size=1)
    RunConfig(seed=0, t_max=1, n_envs=1, test_interval=1, test_episodes=1, checkpoint_interval=1)
