"""Names -> constructors for algorithms and environments.

Environment names are ``backend:task``: ``matrix:qtran``, ``matrix:two-step``, ``smax:3m``,
``smac:3m``, and with continuous actions ``continuous:two-peak`` and ``smax-cont:3m``.
Algorithm names are the keys of ``nqmix_core.config.PRESETS``.
"""
from __future__ import annotations

import torch

from nqmix_core.config import AlgoConfig, algo_config
from nqmix_core.envs.base import BatchedEnv, EnvInfo
from nqmix_core.envs.continuous import TwoPeakGame
from nqmix_core.envs.matrix import QTRAN_PAYOFF, MatrixGame, TwoStepGame
from nqmix_core.errors import UserError
from nqmix_core.learners import CriticLearner, NQMIXLearner, QLearner
from nqmix_core.learners.coma import COMALearner
from nqmix_core.learners.continuous import ContinuousActorCritic

LEARNERS = {"actor-critic": NQMIXLearner, "q-learning": QLearner, "coma": COMALearner,
            "continuous-actor-critic": ContinuousActorCritic}
"""``AlgoConfig.learner`` -> learner class."""

MATRIX_TASKS = {"qtran": lambda n_envs, device: MatrixGame(QTRAN_PAYOFF, n_envs, device),
                "two-step": lambda n_envs, device: TwoStepGame(n_envs, device)}
CONTINUOUS_TASKS = {"two-peak": lambda n_envs, device: TwoPeakGame(n_envs, device)}


def make_learner(algo: str | AlgoConfig, info: EnvInfo,
                 device: torch.device | str = "cpu") -> CriticLearner | COMALearner:
    """The learner for an algorithm name (or a ready configuration) on an environment."""
    config = algo_config(algo) if isinstance(algo, str) else algo
    wants_continuous = config.learner == "continuous-actor-critic"
    if wants_continuous != info.continuous:
        kinds = ("continuous", "discrete") if wants_continuous else ("discrete", "continuous")
        raise UserError(f"This algorithm needs {kinds[0]} actions but the environment's are {kinds[1]}; "
                        f"pair nqmix-cont, qmix-cont or iddpg with continuous:two-peak or smax-cont:<map>, "
                        f"and the other algorithms with the discrete environments.")
    return LEARNERS[config.learner](info, config, device)


def make_env(name: str, n_envs: int, device: torch.device | str = "cpu", seed: int = 0) -> BatchedEnv:
    """Build ``n_envs`` copies of the environment called ``name`` (e.g. "matrix:qtran", "smax:3m")."""
    backend, _, task = name.partition(":")
    if backend == "matrix" and task in MATRIX_TASKS:
        return MATRIX_TASKS[task](n_envs, device)
    if backend == "continuous" and task in CONTINUOUS_TASKS:
        return CONTINUOUS_TASKS[task](n_envs, device)
    if backend in ("smax", "smax-cont") and task:
        from nqmix_core.envs.smax import SMAXEnv
        return SMAXEnv(task, n_envs=n_envs, device=device, seed=seed, continuous=backend == "smax-cont")
    if backend == "smac" and task:
        from nqmix_core.envs.smac import SMACEnv
        return SMACEnv(task, n_envs=n_envs, device=device, seed=seed)
    known = ", ".join([*(f"matrix:{t}" for t in MATRIX_TASKS), *(f"continuous:{t}" for t in CONTINUOUS_TASKS)])
    raise UserError(f"Unknown environment {name!r}; use one of {known}, smax:<map> (e.g. smax:3m), "
                    f"smax-cont:<map> (continuous actions) or smac:<map> (needs StarCraft II).")
