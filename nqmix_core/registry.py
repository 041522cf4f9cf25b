"""Names -> constructors for algorithms and environments.

Environment names are ``backend:task``: ``matrix:qtran``, ``matrix:two-step``, ``smax:3m``,
``smac:3m``. Algorithm names are the keys of ``nqmix_core.config.PRESETS``.
"""
from __future__ import annotations

import torch

from nqmix_core.config import AlgoConfig, algo_config
from nqmix_core.envs.base import BatchedEnv, EnvInfo
from nqmix_core.envs.matrix import QTRAN_PAYOFF, MatrixGame, TwoStepGame
from nqmix_core.errors import UserError
from nqmix_core.learners import CriticLearner, NQMIXLearner, QLearner
from nqmix_core.learners.coma import COMALearner

LEARNERS = {"actor-critic": NQMIXLearner, "q-learning": QLearner, "coma": COMALearner}
"""``AlgoConfig.learner`` -> learner class."""

MATRIX_TASKS = {"qtran": lambda n_envs, device: MatrixGame(QTRAN_PAYOFF, n_envs, device),
                "two-step": lambda n_envs, device: TwoStepGame(n_envs, device)}


def make_learner(algo: str | AlgoConfig, info: EnvInfo,
                 device: torch.device | str = "cpu") -> CriticLearner | COMALearner:
    """The learner for an algorithm name (or a ready configuration) on an environment."""
    config = algo_config(algo) if isinstance(algo, str) else algo
    return LEARNERS[config.learner](info, config, device)


def make_env(name: str, n_envs: int, device: torch.device | str = "cpu", seed: int = 0) -> BatchedEnv:
    """Build ``n_envs`` copies of the environment called ``name`` (e.g. "matrix:qtran", "smax:3m")."""
    backend, _, task = name.partition(":")
    if backend == "matrix" and task in MATRIX_TASKS:
        return MATRIX_TASKS[task](n_envs, device)
    if backend == "smax" and task:
        from nqmix_core.envs.smax import SMAXEnv
        return SMAXEnv(task, n_envs=n_envs, device=device, seed=seed)
    if backend == "smac" and task:
        from nqmix_core.envs.smac import SMACEnv
        return SMACEnv(task, n_envs=n_envs, device=device, seed=seed)
    known = ", ".join(f"matrix:{t}" for t in MATRIX_TASKS)
    raise UserError(f"Unknown environment {name!r}; use one of {known}, smax:<map> (e.g. smax:3m) "
                    f"or smac:<map> (needs StarCraft II).")
