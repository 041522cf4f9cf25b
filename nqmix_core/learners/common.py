"""Helpers every learner shares: target-network updates and optimisers."""
from __future__ import annotations

import copy

import torch
from torch import nn

from nqmix_core.action_selection import linear_schedule
from nqmix_core.config import AlgoConfig


@torch.no_grad()
def soft_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """θ' ← τ·θ + (1 − τ)·θ' for every parameter (Alg. 1 line 16). A module without parameters
    (VDN's sum, independent critics) has nothing to update."""
    targets, onlines = list(target.parameters()), list(online.parameters())
    if targets:
        torch._foreach_lerp_(targets, onlines, tau)


def soft_update_rate(tau: float, n_steps: int) -> float:
    """The rate of one soft update equal to ``n_steps`` successive ones at rate τ: 1 − (1 − τ)^T.

    With the online weights θ fixed, each update keeps (1 − τ) of the gap θ' − θ, so T of them keep
    (1 − τ)^T of it. Alg. 1 updates the targets once per time step (line 16 inside the loop of lines
    6–17); one update per mini-batch of T steps at this rate moves them as far.
    """
    return 1.0 - (1.0 - tau) ** n_steps


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


def optimiser_step(optimiser: torch.optim.Optimizer, loss: torch.Tensor, clip_params=None,
                   clip: float | None = None) -> torch.Tensor | None:
    """zero_grad, backward, clip the gradient norm of ``clip_params`` at ``clip`` (if given), step.

    Returns the gradient norm before clipping (a tensor), or None when nothing is clipped.
    """
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(list(clip_params), clip) if clip_params is not None else None
    optimiser.step()
    return grad_norm


class LearnerBase(nn.Module):
    """What every learner shares: its ε schedule, and saving/restoring itself for resumable runs.

    A subclass sets ``self.config`` (an ``AlgoConfig``), ``self.agent``, ``self.info`` and
    ``self.device``, lists its target pairs in ``target_pairs()``, its optimisers in ``optimisers()``
    and names its integer counters in ``COUNTERS``; a checkpoint is the networks (targets
    included), the optimiser states and those counters.
    """

    COUNTERS: tuple[str, ...] = ("last_target_update_episode",)

    def initial_hidden(self, n_envs: int) -> torch.Tensor:
        """Zero GRU state of the agent network for E environments: [E, N, H]."""
        return self.agent.initial_hidden((n_envs, self.info.n_agents), self.device)

    def target_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """(target, online) network pairs kept in step by ``update_targets``."""
        raise NotImplementedError

    def update_targets(self, episodes_seen: int, n_steps: int = 1) -> None:
        """Soft update after every mini-batch (Alg. 1 line 16 / Alg. 2 line 15) or a hard copy every
        ``target_update_interval`` episodes (pymarl), for every pair of ``target_pairs()``.

        ``n_steps`` is T, the time steps unrolled in the mini-batch: the soft rate is
        ``soft_update_rate(τ, T)`` when ``config.tau_per_time_step`` (the paper's per-step τ), else τ.
        """
        if self.config.target_update == "soft":
            steps = n_steps if self.config.tau_per_time_step else 1
            for target, online in self.target_pairs():
                soft_update(target, online, soft_update_rate(self.config.tau, steps))
        elif episodes_seen - self.last_target_update_episode >= self.config.target_update_interval:
            for target, online in self.target_pairs():
                hard_update(target, online)
            self.last_target_update_episode = episodes_seen

    def epsilon(self, t_env: int) -> float:
        """ε after ``t_env`` steps (what it weighs depends on the learner: see ``EpsilonConfig.epsilon_start``)."""
        c = self.config
        return linear_schedule(t_env, c.epsilon_start, c.epsilon_finish, c.epsilon_anneal_steps)

    def exploration(self, t_env: int) -> dict[str, float]:
        """The behaviour policy's exploration after ``t_env`` steps, under its log column's name."""
        return {"epsilon": self.epsilon(t_env)}

    def optimisers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def rollout_diagnostics(self, batch) -> dict:
        """What the learner's networks say about episodes just collected (``nqmix_core.diagnostics``);
        a learner without diagnostics of its own (the continuous one) reports none."""
        return {}

    def checkpoint_state(self) -> dict:
        """Networks, targets, optimisers and counters: everything a resumed run needs."""
        return {"networks": self.state_dict(),
                "optimisers": {k: opt.state_dict() for k, opt in self.optimisers().items()},
                **{name: getattr(self, name) for name in self.COUNTERS}}

    def load_checkpoint_state(self, state: dict) -> None:
        """Put back what ``checkpoint_state`` saved."""
        self.load_state_dict(state["networks"])
        for name, opt in self.optimisers().items():
            opt.load_state_dict(state["optimisers"][name])
        for name in self.COUNTERS:
            setattr(self, name, int(state[name]))


LearnerState = LearnerBase
"""The base class's former name, kept so older notebooks and scripts still import."""
