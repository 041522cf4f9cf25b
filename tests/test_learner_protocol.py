"""Every learner satisfies the written interface, and the tables of learners, mixers and backends agree."""
from __future__ import annotations

import inspect

import pytest
import torch

from nqmix_core import catalog, registry
from nqmix_core.registry import PRESETS, algo_config
from nqmix_core.learners.protocol import Learner
from nqmix_core.networks.mixers import MIXERS

ENV_FOR = {False: "matrix:two-step", True: "continuous:two-peak"}


@pytest.mark.parametrize("algo", sorted(PRESETS))
def test_every_preset_builds_a_learner_that_satisfies_the_protocol(algo):
    config = algo_config(algo)
    env = registry.make_env(ENV_FOR[config.kind.continuous], 2)
    learner = registry.make_learner(config, env.info)
    assert isinstance(learner, Learner)
    for name, member in vars(Learner).items():
        if callable(member) and not name.startswith("_"):
            want = list(inspect.signature(member).parameters)[1:]  # without self
            got = list(inspect.signature(getattr(learner, name)).parameters)
            assert got == want, f"{type(learner).__name__}.{name}{got} differs from Learner.{name}{want}"


def test_each_learner_carries_its_facts_and_its_presets_are_its_own():
    assert set(MIXERS) == set(catalog.MIXER_NAMES)  # what networks can build is what the settings may name
    assert len(registry.LEARNER_CLASSES) == len(registry.LEARNERS)  # no two learners share a name
    for cls in registry.LEARNERS:
        kind = cls.config_class.kind
        assert set(kind.mixers) <= set(catalog.MIXER_NAMES), kind.name
        for name, config in cls.presets.items():
            assert type(config) is cls.config_class and config.learner == kind.name, name
            assert config.mixer in kind.mixers, name
            assert registry.LEARNER_CLASSES[config.learner] is cls, name
    assert len(PRESETS) == sum(len(cls.presets) for cls in registry.LEARNERS)  # no preset name used twice


def test_every_backend_of_the_catalog_can_be_built_or_names_its_task():
    for name, backend in catalog.ENV_BACKENDS.items():
        assert name in registry.TASKS or name in registry.MAP_BACKENDS, name
        assert set(backend.tasks) == set(registry.TASKS.get(name, {})), name


def test_a_learners_own_settings_are_read_by_it_and_by_no_other_learner():
    """A field a learner's config class adds is read in that learner's module (no dead setting), and the shared
    base holds no field that only one learner reads (it would sit in that learner's class instead)."""
    from dataclasses import fields

    from nqmix_core.config import AlgoConfig, EpsilonConfig

    shared = {f.name for f in fields(EpsilonConfig)}
    sources = {cls: inspect.getsource(inspect.getmodule(cls)) for cls in registry.LEARNERS}
    for cls in registry.LEARNERS:
        own = {f.name for f in fields(cls.config_class)} - shared - {"learner", "mixer"}
        for name in own:
            assert f".{name}" in sources[cls], f"{cls.config_class.__name__}.{name} is read nowhere in its module"
        assert set(cls.config_class.rules) <= {f.name for f in fields(cls.config_class)}, cls.config_class.__name__
    from nqmix_core.learners import base, common  # what these read, several learners read
    shared_source = inspect.getsource(base) + inspect.getsource(common)
    for field in fields(AlgoConfig):
        if f"config.{field.name}" in shared_source or field.name in ("learner", "mixer"):
            continue
        readers = [cls for cls, source in sources.items() if f"config.{field.name}" in source
                   or f"c.{field.name}" in source]
        assert len(readers) != 1, f"AlgoConfig.{field.name} is read by {readers[0].__name__} alone: move it to its class"


@pytest.mark.parametrize("algo", ["nqmix", "qmix"])
def test_action_probs_is_the_actors_policy_for_nqmix_and_none_for_a_q_learner(algo):
    env = registry.make_env("matrix:two-step", 2)
    learner = registry.make_learner(algo_config(algo), env.info)
    n, u = env.info.n_agents, env.info.n_actions
    hidden = torch.randn(3, n, algo_config(algo).rnn_hidden_dim, generator=torch.Generator().manual_seed(0))
    avail = torch.ones(3, n, u, dtype=torch.bool)
    avail[..., 0] = False  # action 0 unavailable to everyone
    probs = learner.action_probs(hidden, avail)
    if algo == "qmix":
        assert probs is None
        return
    assert probs.shape == (3, n, u)
    assert torch.equal(probs, learner.actors(hidden, avail))
    assert torch.all(probs[..., 0] == 0)
    assert torch.allclose(probs.sum(-1), torch.ones(3, n))
