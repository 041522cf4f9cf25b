"""NQMIX for discrete actions (Alg. 1); with ``mixer="qmix-no-abs"`` it is NQMIX-M (Sec. 5.2).

Where this code departs from the paper's pseudocode, and why:

* Alg. 1 updates the critic, the actors and the targets once per time step of each sampled
  episode. Like pymarl, we update once per mini-batch with the losses summed over time (and the
  γ^t weight I_t kept), which is the same direction averaged over the batch.
* The actors read the GRU state h_t^a detached, and Q_a is detached in the actor objective, so the
  actor step never moves the critic (Sec. 4.2 keeps the two apart).
* The target policy π' reads the target agent network's history state, so V'_a in Alg. 1 line 9
  is computed entirely with target networks.
* The critic's gradient norm is clipped at 10 (pymarl's value; the paper says nothing).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from nqmix_core import action_selection, diagnostics, losses
from nqmix_core.catalog import MIXING, LearnerKind
from nqmix_core.config_checks import AT_LEAST_ONE, NON_NEGATIVE, one_of
from nqmix_core.specs import EnvInfo, EpisodeBatch
from nqmix_core.config import AlgoConfig, EpsilonConfig
from nqmix_core.learners.base import CriticLearner
from nqmix_core.learners.common import frozen_copy, optimiser_step, rmsprop
from nqmix_core.networks import Actors


@dataclass(frozen=True)
class NQMIXConfig(EpsilonConfig):
    """NQMIX (Alg. 1): ``AlgoConfig``'s defaults are its Appendix B values; the fields below are NQMIX's own."""

    kind: ClassVar[LearnerKind] = LearnerKind(
        "actor-critic", "NQMIX (Alg. 1): mixed critic, per-agent actors, sign trick (Eq. 13)",
        on_policy=False, continuous=False, mixers=MIXING)
    rules: ClassVar[dict] = {"entropy_coef": NON_NEGATIVE, "actor_objective": one_of("sign", "mixer"),
                             "actor_delay_steps": NON_NEGATIVE, "updates_per_batch": AT_LEAST_ONE}

    entropy_coef: float = 0.0
    """Weight β of an entropy bonus added to the actor objective, which becomes Eq. 13's objective
    + β·H(π_a(·|τ_t^a)) averaged over the agents' real decisions (unweighted by the sign and by γ^t).
    0 in the paper's NQMIX; the "nqmix-ent" ablation uses 0.01."""

    # --- the mechanism study (issue 22, ``mechanism.py``; not in the paper: each changes one thing) ---
    actor_objective: str = "sign"
    """"sign": Eq. 13, sign(∂Q_tot/∂Q_a)·Σ_u π_a(u)·Q_a(u). "mixer": the mixer-aware actor,
    Σ_u π_a(u)·Q_tot(Q_a(u), Q_−a, s) with the other agents at their taken actions
    (``losses.mixer_aware_actor_loss``): exact in Q_a where the sign rule is first-order."""
    actor_delay_steps: int = 0
    """Environment steps before the first actor step (the critic learns alone until then, and the
    behaviour policy stays the initial π)."""
    updates_per_batch: int = 1
    """Successive critic + actor steps on each sampled mini-batch, losses recomputed each time; toward
    Alg. 1's one step per time step (the paper's T steps per episode)."""
    mixer_q_weights_positive: bool = False
    """With the NQMIX mixer only: start the first layer's weights on the Q_1..Q_n inputs at |w| (one sign
    for every agent); they may change sign as they learn."""

    def own_problems(self) -> list[str]:
        if self.mixer_q_weights_positive and self.mixer != "nqmix":
            return [f"mixer_q_weights_positive=True needs mixer='nqmix', not {self.mixer!r}"]
        return []


SAMPLE_PI = {"epsilon_start": 0.0, "epsilon_finish": 0.0}  # Alg. 1 line 2: the behaviour policy is π itself
PRESETS: dict[str, NQMIXConfig] = {
    "nqmix": NQMIXConfig(**SAMPLE_PI),
    "nqmix-m": NQMIXConfig(mixer="qmix-no-abs", **SAMPLE_PI),  # NQMIX-M (Sec. 5.2): another mixer, same learner
    # Exploration ablations (not in the paper): an ε floor on the behaviour policy with COMA's schedule
    # (0.5 -> 0.01 over 100k steps), and an entropy bonus β = 0.01 on the actor objective.
    "nqmix-eps": NQMIXConfig(epsilon_start=0.5, epsilon_finish=0.01, epsilon_anneal_steps=100_000),
    "nqmix-ent": NQMIXConfig(entropy_coef=0.01, **SAMPLE_PI),
    # τ applied once per mini-batch (the kit's reading before it followed Alg. 1's per-step τ), kept to
    # measure what the target rate changes.
    "nqmix-tau-batch": NQMIXConfig(tau_per_time_step=False, **SAMPLE_PI),
    # The mechanism study (issue 22, nqmix_core/mechanism.py): one thing changed each.
    "nqmix-mono": NQMIXConfig(mixer="qmix", **SAMPLE_PI),  # one sign: QMIX's mixer
    "nqmix-sign-init": NQMIXConfig(mixer_q_weights_positive=True, **SAMPLE_PI),
    "nqmix-slow-actor": NQMIXConfig(actor_lr=5e-5, **SAMPLE_PI),
    "nqmix-actor-delay": NQMIXConfig(actor_delay_steps=20_000, **SAMPLE_PI),
    "nqmix-mixer-actor": NQMIXConfig(actor_objective="mixer", **SAMPLE_PI),
    "nqmix-steps4": NQMIXConfig(updates_per_batch=4, **SAMPLE_PI),
    # The paper's NQMIX under a name of its own, so that its batch-32 runs (a grid without --set batch_size=8,
    # data/mechanism_2s3z/batch32) stand beside the batch-8 runs of the same study.
    "nqmix-b32": NQMIXConfig(batch_size=32, **SAMPLE_PI),
}
"""Algorithm name -> configuration, for the algorithms NQMIX's learner trains."""


class NQMIXLearner(CriticLearner):
    """Critic (agent network + mixer) trained on the state-value target; per-agent actors by Eq. 13."""

    config_class, presets = NQMIXConfig, PRESETS

    def __init__(self, info: EnvInfo, config: AlgoConfig, device: torch.device | str) -> None:
        super().__init__(info, config, device)
        self.actors = Actors(info.n_agents, config.rnn_hidden_dim, info.n_actions,
                             config.actor_hidden_dim).to(self.device)
        self.target_actors = frozen_copy(self.actors)
        self.actor_optimiser = rmsprop(self.actors.parameters(), config.actor_lr, config)
        if config.mixer_q_weights_positive:  # the "nqmix-sign-init" ablation: one sign at the start
            with torch.no_grad():
                for mixer in (self.mixer, self.target_mixer):
                    mixer.hidden.weight[:, :info.n_agents].abs_()

    def action_probs(self, hidden: torch.Tensor, avail_actions: torch.Tensor) -> torch.Tensor:
        return self.actors(hidden, avail_actions)

    def choose_actions(self, agent_qs, hidden, avail_actions, mode, t_env, generator) -> torch.Tensor:
        policy = self.action_probs(hidden, avail_actions)  # [E, N, U]
        if mode == "greedy":
            return action_selection.greedy(policy, avail_actions)
        if mode == "explore":
            policy = action_selection.with_epsilon_floor(policy, avail_actions, self.epsilon(t_env))
        return action_selection.sample(policy, generator)  # Alg. 1 line 2: u ~ π(·|τ) when ε = 0

    def target_pairs(self):
        return [*super().target_pairs(), (self.target_actors, self.actors)]

    def optimisers(self):
        return {**super().optimisers(), "actors": self.actor_optimiser}

    def next_state_value_targets(self, batch: EpisodeBatch, target_qs: torch.Tensor,
                                 target_hidden: torch.Tensor) -> torch.Tensor:
        """y = r + γ·Mixer'(V'_1..V'_n, s_{t+1}) with V'_a = Σ_u π'_a(u)·Q'_a(u) (Alg. 1 lines 8–12): [B, T]."""
        avail_next = batch.avail_actions[:, 1:]  # [B, T, N, U]
        with torch.no_grad():
            target_policy = self.target_actors(target_hidden[:, 1:], avail_next)  # [B, T, N, U]
            next_v = losses.state_values(target_policy, target_qs[:, 1:], avail_next)  # [B, T, N]
            next_v_tot = self.target_mixer(next_v, batch.state[:, 1:])  # [B, T]
            return losses.td_targets(batch.reward, batch.terminated, next_v_tot, self.config.gamma)

    def td_targets(self, batch, agent_qs, target_qs, target_hidden) -> torch.Tensor:
        return self.next_state_value_targets(batch, target_qs, target_hidden)

    def compute_losses(self, batch: EpisodeBatch) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """Critic loss (Alg. 1 lines 7–13) and actor loss (line 14) on a batch, without stepping."""
        agent_qs, hidden, target_qs, target_hidden = self.unroll(batch)  # [B, T+1, N, ·]
        targets = self.td_targets(batch, agent_qs, target_qs, target_hidden)  # [B, T]
        state_now, avail_now = batch.state[:, :-1], batch.avail_actions[:, :-1]
        chosen_qs = losses.chosen_action_values(agent_qs[:, :-1], batch.actions)  # [B, T, N]
        q_tot = self.mixer(chosen_qs, state_now)  # [B, T], line 10
        critic_loss, critic_info = losses.masked_td_loss(q_tot, targets, batch.filled)

        policy = self.actors(hidden[:, :-1].detach(), avail_now)  # [B, T, N, U]
        discount = losses.discount_weights(batch.max_steps, self.config.gamma, self.device)  # [T]
        if self.config.actor_objective == "mixer":  # the mixer-aware ablation, not the paper's Eq. 13
            scores = losses.counterfactual_q_tot(self.mixer, chosen_qs, agent_qs[:, :-1], state_now)  # [B, T, N, U]
            actor_loss, actor_info = losses.mixer_aware_actor_loss(policy, scores, avail_now, discount, batch.filled)
        else:
            sign = losses.mixer_gradient_sign(self.mixer, chosen_qs, state_now)  # [B, T, N]
            actor_loss, actor_info = losses.actor_loss(policy, agent_qs[:, :-1], sign, discount, batch.filled)
        if self.config.entropy_coef > 0:  # the "nqmix-ent" ablation, not the paper's objective
            entropy = losses.entropy_bonus(policy, losses.decision_mask(avail_now, batch.filled))
            actor_loss = actor_loss - self.config.entropy_coef * entropy
            actor_info["policy_entropy"] = entropy.detach()
        return critic_loss, actor_loss, {**critic_info, **actor_info}

    def policy_diagnostics(self, batch: EpisodeBatch, hidden: torch.Tensor, chosen_qs: torch.Tensor) -> diagnostics.Sums:
        """Entropy of π, collected actions that are not argmax π, and negative mixer slopes."""
        avail_now = batch.avail_actions[:, :-1]  # [B, T, N, U]
        policy = self.actors(hidden[:, :-1], avail_now)  # [B, T, N, U]
        sign = losses.mixer_gradient_sign(self.mixer, chosen_qs, batch.state[:, :-1])  # [B, T, N]
        return {**diagnostics.policy_diagnostics(policy, batch.actions, avail_now, batch.filled),
                **diagnostics.sign_diagnostics(sign, avail_now, batch.filled)}

    def train_step(self, batch: EpisodeBatch, t_env: int, episodes_seen: int) -> dict[str, torch.Tensor]:
        """One update of Alg. 1 lines 7–16 on a mini-batch of episodes.

        Both losses are built before either step, so the actor uses the same Q_a and sign as the
        critic's step saw; the actor loss's graph holds no critic parameter.
        """
        for _ in range(self.config.updates_per_batch):  # 1: the kit's one step per mini-batch
            critic_loss, actor_loss, info = self.compute_losses(batch)
            grad_norm = self.critic_step(critic_loss)  # line 13
            if t_env >= self.config.actor_delay_steps:
                optimiser_step(self.actor_optimiser, actor_loss)  # line 14
        self.update_targets(episodes_seen, batch.max_steps)  # line 16, once per time step
        return {"critic_loss": critic_loss.detach(), "actor_loss": actor_loss.detach(),
                "grad_norm": grad_norm.detach(), **info}
