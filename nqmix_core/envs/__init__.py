"""Environments behind one batched protocol (see ``base.py``)."""
from nqmix_core.envs.base import BatchedEnv, EnvInfo, Observation, StepResult

__all__ = ["BatchedEnv", "EnvInfo", "Observation", "StepResult"]
