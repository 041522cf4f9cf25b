"""Learners: they coordinate sampling, losses, optimiser steps and target updates."""
from nqmix_core.learners.base import ACT_MODES, CriticLearner
from nqmix_core.learners.nqmix import NQMIXLearner
from nqmix_core.learners.q_learning import QLearner

__all__ = ["ACT_MODES", "CriticLearner", "NQMIXLearner", "QLearner"]
