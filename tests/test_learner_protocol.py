"""Every learner satisfies the written interface, and the tables of learners, mixers and backends agree."""
from __future__ import annotations

import inspect

import pytest

from nqmix_core import catalog, registry
from nqmix_core.config import PRESETS, algo_config
from nqmix_core.learners.protocol import Learner
from nqmix_core.networks.mixers import MIXERS

ENV_FOR = {False: "matrix:two-step", True: "continuous:two-peak"}


@pytest.mark.parametrize("algo", sorted(PRESETS))
def test_every_preset_builds_a_learner_that_satisfies_the_protocol(algo):
    config = algo_config(algo)
    env = registry.make_env(ENV_FOR[catalog.LEARNER_KINDS[config.learner].continuous], 2)
    learner = registry.make_learner(config, env.info)
    assert isinstance(learner, Learner)
    for name, member in vars(Learner).items():
        if callable(member) and not name.startswith("_"):
            want = list(inspect.signature(member).parameters)[1:]  # without self
            got = list(inspect.signature(getattr(learner, name)).parameters)
            assert got == want, f"{type(learner).__name__}.{name}{got} differs from Learner.{name}{want}"


def test_the_tables_name_the_same_learners_and_mixers():
    assert set(registry.LEARNER_CLASSES) == set(catalog.LEARNER_KINDS)
    assert set(MIXERS) == set(catalog.MIXER_NAMES)  # what networks can build is what the settings may name
    for name, kind in catalog.LEARNER_KINDS.items():
        assert set(kind.mixers) <= set(catalog.MIXER_NAMES), name
    for name, config in PRESETS.items():
        assert config.mixer in catalog.LEARNER_KINDS[config.learner].mixers, name


def test_every_backend_of_the_catalog_can_be_built_or_names_its_task():
    for name, backend in catalog.ENV_BACKENDS.items():
        assert name in registry.TASKS or name in registry.MAP_BACKENDS, name
        assert set(backend.tasks) == set(registry.TASKS.get(name, {})), name
