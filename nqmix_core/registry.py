"""Names -> constructors for algorithms and environments: the tables behind ``make_learner`` and ``make_env``.

Environment names are ``backend:task`` (``catalog.ENV_BACKENDS`` lists the backends and their tasks):
``matrix:qtran``, ``matrix:two-step``, ``smax:3m``, ``smac:3m``, and with continuous actions
``continuous:two-peak`` and ``smax-cont:3m``.

``LEARNERS`` is the one place a learner is registered. Each learner class brings its config class (whose
``kind`` says its facts) and its presets; the tables below are read from them. Algorithm names are the
keys of ``PRESETS``; each preset is an instance of its learner's config class and names a mixer (a key of
``networks.mixers.MIXERS``).
"""
from __future__ import annotations

from dataclasses import fields, replace
from typing import Callable

import torch

from nqmix_core.catalog import ENV_BACKENDS, env_names_text
from nqmix_core.config import RENAMED_FIELDS, AlgoConfig
from nqmix_core.config_checks import documented_in
from nqmix_core.envs.base import BatchedEnv, EnvInfo
from nqmix_core.envs.two_peak import TwoPeakGame
from nqmix_core.envs.matrix import QTRAN_PAYOFF, MatrixGame, TwoStepGame
from nqmix_core.errors import UserError, did_you_mean
from nqmix_core.learners import coma, continuous_actor_critic, ippo, nqmix, q_learning
from nqmix_core.learners.protocol import Learner

LEARNERS: tuple[type, ...] = (
    nqmix.NQMIXLearner,
    q_learning.QLearner,
    coma.COMALearner,
    continuous_actor_critic.ContinuousActorCritic,
    ippo.IPPOLearner,
)
"""Every learner the kit trains, each with ``config_class`` (and its ``kind``) and ``presets``."""

LEARNER_CLASSES: dict[str, type] = {cls.config_class.kind.name: cls for cls in LEARNERS}
"""``AlgoConfig.learner`` -> learner class."""
PRESETS: dict[str, AlgoConfig] = {name: config for cls in LEARNERS for name, config in cls.presets.items()}
"""Algorithm name -> configuration (an instance of its learner's config class)."""


def algo_config(name: str, **overrides) -> AlgoConfig:
    """The preset for ``name`` with some fields replaced, e.g. ``algo_config("qmix", gamma=0.9)``."""
    if name not in PRESETS:
        raise UserError(f"Unknown algorithm {name!r}{did_you_mean(name, PRESETS)}; choose one of "
                        f"{', '.join(PRESETS)}.")
    preset = PRESETS[name]
    unknown = sorted(set(overrides) - {f.name for f in fields(preset)})
    if unknown:
        notes = "".join(f"; {note}" for k in unknown if (note := setting_note(type(preset), k)))
        raise UserError(f"Unknown setting(s) {', '.join(unknown)} for {name}{notes}; its fields are those of "
                        f"{documented_in(type(preset))}.")
    return replace(preset, **overrides)


def renamed_to(cls: type, name: str) -> str | None:
    """Today's name of a field that ``cls``'s learner called ``name`` when older manifests were written."""
    return RENAMED_FIELDS.get(cls.kind.name, {}).get(name) if cls.kind else None


def setting_note(cls: type, name: str) -> str:
    """Why ``name`` is not a field of the config class ``cls``, as a clause ("" when nothing more is known):
    renamed since, or a field of other learners' config classes (``td_lambda`` is COMA's own)."""
    if new_name := renamed_to(cls, name):
        return f"{name} is called {new_name} now"
    owners = [c.config_class for c in LEARNERS if name in {f.name for f in fields(c.config_class)}]
    if not owners:
        return ""
    examples = [next(algo for algo, preset in PRESETS.items() if type(preset) is c) for c in owners]
    return (f"{name} is a setting of {' and '.join(c.__name__ for c in owners)} (e.g. "
            f"{', '.join(examples)}), not of {cls.__name__}")


TASKS: dict[str, dict[str, Callable[[int, torch.device | str], BatchedEnv]]] = {
    "matrix": {"qtran": lambda n_envs, device: MatrixGame(QTRAN_PAYOFF, n_envs, device),
               "two-step": lambda n_envs, device: TwoStepGame(n_envs, device)},
    "continuous": {"two-peak": lambda n_envs, device: TwoPeakGame(n_envs, device)},
}
"""Backends with a fixed list of tasks: task name -> constructor (n_envs, device)."""


def _smax(task: str, n_envs: int, device, seed: int, continuous: bool = False) -> BatchedEnv:
    from nqmix_core.envs.smax import SMAXEnv  # imports jax: only when asked for
    return SMAXEnv(task, n_envs=n_envs, device=device, seed=seed, continuous=continuous)


def _smac(task: str, n_envs: int, device, seed: int) -> BatchedEnv:
    from nqmix_core.envs.smac import SMACEnv  # needs StarCraft II: only when asked for
    return SMACEnv(task, n_envs=n_envs, device=device, seed=seed)


MAP_BACKENDS: dict[str, Callable[[str, int, torch.device | str, int], BatchedEnv]] = {
    "smax": _smax, "smax-cont": lambda task, n, device, seed: _smax(task, n, device, seed, continuous=True),
    "smac": _smac,
}
"""Backends whose task is a map name: backend -> constructor (map, n_envs, device, seed)."""


def algorithm_names(continuous: bool) -> list[str]:
    """The presets whose learner acts in continuous (or discrete) action spaces."""
    return [name for name, c in PRESETS.items() if c.kind.continuous == continuous]


def make_learner(algo: str | AlgoConfig, info: EnvInfo, device: torch.device | str = "cpu") -> Learner:
    """The learner for an algorithm name (or a ready configuration) on an environment."""
    config = algo_config(algo) if isinstance(algo, str) else algo
    wants_continuous = config.kind.continuous
    if wants_continuous != info.continuous:
        kinds = ("continuous", "discrete") if wants_continuous else ("discrete", "continuous")
        envs = {c: ", ".join(f"{n}:{t}" for n, b in ENV_BACKENDS.items() if b.continuous == c
                             for t in b.tasks or ["<map>"])
                for c in (True, False)}
        raise UserError(f"This algorithm needs {kinds[0]} actions but the environment's are {kinds[1]}; "
                        f"pair {', '.join(algorithm_names(True))} with {envs[True]}, "
                        f"and the other algorithms with the discrete environments.")
    return LEARNER_CLASSES[config.learner](info, config, device)


def check_env_name(name: str) -> None:
    """A one-sentence UserError unless ``name`` names an environment ``make_env`` can build: a known task,
    or a map SMAX knows (read from jaxmarl's map table; nothing is compiled). SMAC maps are checked
    when StarCraft II starts."""
    backend, _, task = str(name).partition(":")
    if backend in TASKS and task in TASKS[backend]:
        return
    if backend in ("smax", "smax-cont") and task:
        from nqmix_core.envs.smax_loader import smax_map_names
        if task not in smax_map_names():
            raise UserError(f"Unknown SMAX map {task!r} in {name!r}{did_you_mean(task, smax_map_names())}; the "
                            f"maps that exist are: {', '.join(smax_map_names())}.")
        return
    if backend in MAP_BACKENDS and task:
        return
    raise unknown_environment(name)


def make_env(name: str, n_envs: int, device: torch.device | str = "cpu", seed: int = 0) -> BatchedEnv:
    """Build ``n_envs`` copies of the environment called ``name`` (e.g. "matrix:qtran", "smax:3m")."""
    backend, _, task = name.partition(":")
    if task in TASKS.get(backend, {}):
        return TASKS[backend][task](n_envs, device)
    if backend in MAP_BACKENDS and task:
        return MAP_BACKENDS[backend](task, n_envs, device, seed)
    raise unknown_environment(name)


def unknown_environment(name: str) -> UserError:
    """The sentence for an environment name no backend knows, with the closest known name when one is close:
    a known backend's own tasks (matrix:qtrn -> matrix:qtran); for an unknown backend, every fixed task and
    each map backend with the task given (smx:3m -> smax:3m)."""
    backend, _, task = str(name).partition(":")
    if backend in TASKS:
        like = [f"{backend}:{t}" for t in TASKS[backend]]
    else:
        like = [f"{b}:{t}" for b in TASKS for t in TASKS[b]] + [f"{b}:{task}" for b in MAP_BACKENDS if task]
    return UserError(f"Unknown environment {name!r}{did_you_mean(name, like)}; use one of {env_names_text()} "
                     f"(smac needs StarCraft II).")
