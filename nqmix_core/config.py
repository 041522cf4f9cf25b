"""Configuration: frozen dataclasses, the only place where defaults live.

``AlgoConfig`` holds every hyper-parameter of every algorithm in the kit. Its defaults are the
paper's Appendix B values for NQMIX; ``PRESETS`` derives the other algorithms from it with
``dataclasses.replace``, using pymarl's SMAC defaults for QMIX and VDN (see ``shared/REFERENCE.md``).

Sizes that come from the environment (number of agents, observation size, ...) are not here: they
live in ``nqmix_core.envs.EnvInfo``.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

from nqmix_core.errors import UserError


@dataclass(frozen=True)
class AlgoConfig:
    """Hyper-parameters of one learning algorithm."""

    learner: str = "actor-critic"
    """Which learner trains it: "actor-critic" (NQMIX, Alg. 1) or "q-learning" (QMIX, VDN)."""
    mixer: str = "nqmix"
    """Mixing network: "nqmix" (MLP on [Q_1..Q_n, s], Sec. 4.2), "qmix" (monotonic hypernetwork),
    "qmix-no-abs" (QMIX's mixer without abs(): the NQMIX-M ablation of Sec. 5.2) or "vdn" (sum)."""

    # --- optimisation (App. B: RMSprop, lr 5e-4 for the critic and for each actor) ---
    gamma: float = 0.99
    """Discount factor γ (App. B)."""
    critic_lr: float = 5e-4
    """RMSprop learning rate of the critic = shared agent network + mixer (App. B)."""
    actor_lr: float = 5e-4
    """RMSprop learning rate of the per-agent actors (App. B). Unused by Q-learning."""
    rms_alpha: float = 0.99
    """RMSprop smoothing constant (pymarl's value; the paper does not give one)."""
    rms_eps: float = 1e-5
    """RMSprop epsilon (pymarl's value; the paper does not give one)."""
    grad_norm_clip: float = 10.0
    """Clip of the critic's gradient norm (pymarl's value; the paper does not mention clipping).
    Actor gradients are not clipped, so that each actor's step stays independent of the others."""
    batch_size: int = 32
    """Episodes per sampled mini-batch (pymarl's value; Alg. 1 line 4 calls it N)."""
    buffer_size: int = 5000
    """Replay capacity in episodes (pymarl's value)."""

    # --- networks (App. B.1) ---
    rnn_hidden_dim: int = 64
    """Width of the agent network: Linear 64 -> GRU 64 -> Linear |U|."""
    actor_hidden_dim: int = 64
    """Hidden width of each agent's actor: Linear 64 + ReLU -> Linear |U|."""
    mixer_embed_dim: int = 32
    """QMIX mixer embedding width (pymarl's value). The NQMIX MLP uses 32·(A+4)−A hidden units."""
    hypernet_hidden_dim: int = 64
    """Hidden width of QMIX's two-layer hypernetworks (pymarl's value)."""

    # --- target networks ---
    target_update: str = "soft"
    """"soft" (Polyak averaging every update, Alg. 1 line 16) or "hard" (copy every
    ``target_update_interval`` episodes, as pymarl's QMIX)."""
    tau: float = 0.001
    """Soft-update rate τ (App. B)."""
    target_update_interval: int = 200
    """Episodes between hard target copies (pymarl's value)."""
    double_q: bool = True
    """Q-learning only: pick the next action with the online network, value it with the target one."""

    # --- exploration ---
    epsilon_start: float = 1.0
    """ε at the start of training (pymarl's value). Q-learning: ε-greedy. Actor-critic: the behaviour
    policy is (1−ε)·π + ε·uniform over available actions; the NQMIX presets use ε = 0, i.e. they
    sample π itself as Alg. 1 line 2 says."""
    epsilon_finish: float = 0.05
    """ε after annealing (pymarl's value)."""
    epsilon_anneal_steps: int = 50_000
    """Environment steps over which ε falls linearly from start to finish (pymarl's value)."""

    def __post_init__(self) -> None:
        checks = {
            "learner": self.learner in ("actor-critic", "q-learning"),
            "mixer": self.mixer in ("nqmix", "qmix", "qmix-no-abs", "vdn"),
            "target_update": self.target_update in ("soft", "hard"),
            "gamma": 0.0 <= self.gamma <= 1.0,
            "tau": 0.0 < self.tau <= 1.0,
            "batch_size": self.batch_size >= 1,
            "buffer_size": self.buffer_size >= self.batch_size,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            values = ", ".join(f"{name}={getattr(self, name)!r}" for name in bad)
            raise UserError(f"Invalid algorithm setting {values}; see the field docs in nqmix_core/config.py.")


PRESETS: dict[str, AlgoConfig] = {
    "nqmix": AlgoConfig(epsilon_start=0.0, epsilon_finish=0.0),
    "nqmix-m": AlgoConfig(mixer="qmix-no-abs", epsilon_start=0.0, epsilon_finish=0.0),
    "qmix": AlgoConfig(learner="q-learning", mixer="qmix", target_update="hard"),
    "vdn": AlgoConfig(learner="q-learning", mixer="vdn", target_update="hard"),
}
"""Algorithm name -> configuration. NQMIX-M is NQMIX with another mixer, not another learner."""


def algo_config(name: str, **overrides) -> AlgoConfig:
    """The preset for ``name`` with some fields replaced, e.g. ``algo_config("qmix", gamma=0.9)``."""
    if name not in PRESETS:
        raise UserError(f"Unknown algorithm {name!r}; choose one of {', '.join(PRESETS)}.")
    known = {f.name for f in fields(AlgoConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise UserError(f"Unknown setting(s) {', '.join(unknown)}; the fields are listed in nqmix_core/config.py.")
    return replace(PRESETS[name], **overrides)
