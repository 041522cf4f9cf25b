"""QMIX, VDN and IQL: Q-learning through a mixer, as pymarl's ``QLearner`` trains them.

The mixer ("qmix", "vdn", or "none" for independent Q-learning) is chosen by configuration. With
mixer="none" there is no Q_tot: every agent's Q_a regresses on r + γ·max_u Q'_a(τ_{t+1}, u) by itself
(pymarl's IQL), so targets, TD errors and the mask carry an agent axis [B, T, N]. Behaviour is ε-greedy on the agents'
Q-values; the target is r + γ·Mixer'(max_u Q'_a(τ_{t+1}, u), s_{t+1}) with double Q-learning;
targets are copied every 200 episodes; the gradient norm is clipped at 10.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from nqmix_core import action_selection, diagnostics, losses
from nqmix_core.catalog import MIXING, LearnerKind
from nqmix_core.config import EpsilonConfig
from nqmix_core.specs import EpisodeBatch
from nqmix_core.learners.base import CriticLearner
from nqmix_core.networks import sequence_inputs


@dataclass(frozen=True)
class QLearningConfig(EpsilonConfig):
    """Q-learning through a mixer: ``AlgoConfig``'s fields (its presets copy targets hard, as pymarl does) and
    ``double_q``."""

    kind: ClassVar[LearnerKind] = LearnerKind(
        "q-learning", "Q-learning through a mixer (QMIX, VDN) or per agent (IQL), ε-greedy",
        on_policy=False, continuous=False, mixers=(*MIXING, "none"))
    learner: str = "q-learning"
    double_q: bool = True
    """Pick the next action with the online network, value it with the target one (pymarl's)."""


PRESETS: dict[str, QLearningConfig] = {
    "qmix": QLearningConfig(mixer="qmix", target_update="hard"),
    "vdn": QLearningConfig(mixer="vdn", target_update="hard"),
    "iql": QLearningConfig(mixer="none", target_update="hard"),  # independent Q-learning
}
"""pymarl's SMAC settings for QMIX, VDN and IQL (its ``src/config/algs/*.yaml``)."""


class QLearner(CriticLearner):
    """Greedy decentralised policies on top of a factorised joint Q-function."""

    config_class, presets = QLearningConfig, PRESETS

    def choose_actions(self, agent_qs, hidden, avail_actions, mode, t_env, generator) -> torch.Tensor:
        if mode == "explore":
            return action_selection.epsilon_greedy(agent_qs, avail_actions, self.epsilon(t_env), generator)
        return action_selection.greedy(agent_qs, avail_actions)

    def td_targets(self, batch, agent_qs, target_qs, target_hidden) -> torch.Tensor:
        """``max_targets``, the next action picked by the online network when ``double_q``: [B, T] (IQL: [B, T, N])."""
        return self.max_targets(batch, target_qs, agent_qs if self.config.double_q else None)

    def compute_losses(self, batch: EpisodeBatch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """TD loss of Q_tot against ``max_targets``, without stepping."""
        agent_qs, _, target_qs, target_hidden = self.unroll(batch)  # [B, T+1, N, ·]
        targets = self.td_targets(batch, agent_qs, target_qs, target_hidden)  # [B, T]
        chosen_qs = losses.chosen_action_values(agent_qs[:, :-1], batch.actions)  # [B, T, N]
        q_tot = self.mixer(chosen_qs, batch.state[:, :-1])  # [B, T] (IQL: [B, T, N])
        return losses.masked_td_loss(q_tot, targets, batch.filled)

    @torch.no_grad()
    def rollout_diagnostics(self, batch: EpisodeBatch) -> diagnostics.Sums:
        """As ``CriticLearner``'s; IQL has no Q_tot, so its agents' mean Q_a stands against the return."""
        if self.config.mixer != "none":
            return super().rollout_diagnostics(batch)
        agent_qs, _ = self.agent(sequence_inputs(batch.obs, batch.actions, self.info.n_actions))  # [B, T+1, N, U]
        mean_q = losses.chosen_action_values(agent_qs[:, :-1], batch.actions).mean(-1)  # [B, T]
        return diagnostics.value_diagnostics(mean_q, batch.reward, batch.terminated, batch.filled, self.config.gamma)

    def train_step(self, batch: EpisodeBatch, t_env: int, episodes_seen: int) -> dict[str, torch.Tensor]:
        loss, info = self.compute_losses(batch)
        grad_norm = self.critic_step(loss)
        self.update_targets(episodes_seen, batch.max_steps)
        return {"critic_loss": loss.detach(), "grad_norm": grad_norm.detach(), **info}
