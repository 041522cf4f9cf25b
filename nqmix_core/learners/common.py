"""Helpers every learner shares: target-network updates and optimisers."""
from __future__ import annotations

import copy

import torch
from torch import nn

from nqmix_core.config import AlgoConfig


@torch.no_grad()
def soft_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """θ' ← τ·θ + (1 − τ)·θ' for every parameter (Alg. 1 line 16). A module without parameters
    (VDN's sum, independent critics) has nothing to update."""
    targets, onlines = list(target.parameters()), list(online.parameters())
    if targets:
        torch._foreach_lerp_(targets, onlines, tau)


@torch.no_grad()
def hard_update(target: nn.Module, online: nn.Module) -> None:
    """θ' ← θ (pymarl's periodic target copy)."""
    target.load_state_dict(online.state_dict())


def frozen_copy(module: nn.Module) -> nn.Module:
    """A target network: a copy that no optimiser holds and autograd never reaches."""
    target = copy.deepcopy(module)
    for p in target.parameters():
        p.requires_grad_(False)
    return target


def rmsprop(params, lr: float, config: AlgoConfig) -> torch.optim.RMSprop:
    """RMSprop with the configured smoothing constant and epsilon (App. B; pymarl's values)."""
    return torch.optim.RMSprop(params, lr=lr, alpha=config.rms_alpha, eps=config.rms_eps, foreach=True)
