"""Mixing networks: Q_tot = Mixer(Q_1, ..., Q_n, s).

Every mixer maps agent values [..., N] and a state [..., S] to a joint value [...], so the same
code mixes chosen Q-values (Q_tot), state values (V_tot) and whole tables of joint actions.

| name          | what                                                            | ∂Q_tot/∂Q_a |
|---------------|-----------------------------------------------------------------|-------------|
| "vdn"         | Σ_a Q_a (VDN)                                                   | = 1         |
| "qmix"        | hypernetwork weights passed through abs() (QMIX, Eq. 1)         | ≥ 0         |
| "qmix-no-abs" | the same without abs() (NQMIX-M, Sec. 5.2)                      | any sign    |
| "nqmix"       | MLP on [Q_1..Q_n, s], 32·(A+4)−A hidden units (Sec. 4.2, App. B) | any sign    |
| "none"        | no Q_tot: each Q_a comes back unchanged [..., N] (IDDPG, IQL)  | = 1 (own)   |

``MIXERS`` is the table: each name with its constructor.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from nqmix_core.errors import UserError


def nqmix_hidden_units(n_agents: int) -> int:
    """Width of the NQMIX mixer's hidden layer, 32·(A+4)−A (App. B.1)."""
    return 32 * (n_agents + 4) - n_agents


class VDNMixer(nn.Module):
    """Q_tot = Σ_a Q_a; has no parameters and ignores the state."""

    def forward(self, agent_qs: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        return agent_qs.sum(dim=-1)  # [...]


class NQMIXMixer(nn.Module):
    """Unconstrained MLP on [Q_1..Q_n, s] with one hidden layer and one output unit (App. B.1).

    The paper does not name the hidden activation; we use ELU, as QMIX's mixer does. Its slope is
    never zero, so sign(∂Q_tot/∂Q_a) is defined almost everywhere (a ReLU layer could switch off
    and make the sign 0).
    """

    def __init__(self, n_agents: int, state_dim: int) -> None:
        super().__init__()
        self.hidden = nn.Linear(n_agents + state_dim, nqmix_hidden_units(n_agents))
        self.out = nn.Linear(nqmix_hidden_units(n_agents), 1)

    def forward(self, agent_qs: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        x = torch.cat([agent_qs, state], dim=-1)  # [..., N+S]
        return self.out(F.elu(self.hidden(x))).squeeze(-1)  # [...]


class QMIXMixer(nn.Module):
    """QMIX's mixer as pymarl builds it for SMAC; ``absolute=False`` gives NQMIX-M's.

    Hypernetworks read the state: W1 [N, E] and W_final [E] from two-layer MLPs (hidden 64),
    b1 [E] from one linear layer, the final bias V(s) from Linear -> ReLU -> Linear.
    Q_tot = elu(Q·|W1| + b1)·|W_final| + V(s).
    """

    def __init__(self, n_agents: int, state_dim: int, embed_dim: int = 32, hypernet_hidden_dim: int = 64,
                 absolute: bool = True) -> None:
        super().__init__()
        self.n_agents, self.embed_dim, self.absolute = n_agents, embed_dim, absolute
        self.hyper_w1 = nn.Sequential(nn.Linear(state_dim, hypernet_hidden_dim), nn.ReLU(),
                                      nn.Linear(hypernet_hidden_dim, n_agents * embed_dim))
        self.hyper_w_final = nn.Sequential(nn.Linear(state_dim, hypernet_hidden_dim), nn.ReLU(),
                                           nn.Linear(hypernet_hidden_dim, embed_dim))
        self.hyper_b1 = nn.Linear(state_dim, embed_dim)
        self.hyper_v = nn.Sequential(nn.Linear(state_dim, embed_dim), nn.ReLU(), nn.Linear(embed_dim, 1))

    def _weight(self, w: torch.Tensor) -> torch.Tensor:
        return w.abs() if self.absolute else w

    def forward(self, agent_qs: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        lead = agent_qs.shape[:-1]
        w1 = self._weight(self.hyper_w1(state)).view(*lead, self.n_agents, self.embed_dim)  # [..., N, E]
        b1 = self.hyper_b1(state)  # [..., E]
        hidden = F.elu(torch.einsum("...n,...ne->...e", agent_qs, w1) + b1)  # [..., E]
        w_final = self._weight(self.hyper_w_final(state))  # [..., E]
        return (hidden * w_final).sum(-1) + self.hyper_v(state).squeeze(-1)  # [...]


class IndependentCritics(nn.Module):
    """The "mixer" of mixer="none": no Q_tot is formed.

    agent_qs [..., N] come back unchanged, so every agent's Q_a is regressed on the shared team
    reward by itself, and ∂"Q_tot"/∂Q_a = 1 (each actor ascends its own Q_a).
    """

    def forward(self, agent_qs: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        return agent_qs  # [..., N]


MIXERS: dict[str, Callable[[int, int, int, int], nn.Module]] = {
    "vdn": lambda n, s, e, h: VDNMixer(),
    "qmix": lambda n, s, e, h: QMIXMixer(n, s, e, h, absolute=True),
    "qmix-no-abs": lambda n, s, e, h: QMIXMixer(n, s, e, h, absolute=False),
    "nqmix": lambda n, s, e, h: NQMIXMixer(n, s),
    "none": lambda n, s, e, h: IndependentCritics(),
}
"""Mixer name -> its constructor from (n_agents, state_dim, embed_dim, hypernet_hidden_dim). Which learners train
with which mixer is a fact of the learners (``LearnerKind.mixers`` on each learner's config class); COMA's critic is not a mixer, so it takes
"none" and builds no mixer at all."""


def make_mixer(name: str, n_agents: int, state_dim: int, embed_dim: int = 32,
               hypernet_hidden_dim: int = 64) -> nn.Module:
    """Build the mixer called ``name`` (a key of ``MIXERS``)."""
    if name not in MIXERS:
        raise UserError(f"Unknown mixer {name!r}; choose one of {', '.join(MIXERS)}.")
    return MIXERS[name](n_agents, state_dim, embed_dim, hypernet_hidden_dim)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable scalars in ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def mixer_parameter_counts(n_agents: int, state_dim: int, embed_dim: int = 32,
                           hypernet_hidden_dim: int = 64) -> dict[str, float]:
    """Parameters of the NQMIX mixer (App. B.1) and of QMIX's mixer (pymarl's) for one map size.

    | key               | meaning                                                   |
    |-------------------|-----------------------------------------------------------|
    | nqmix_hidden      | hidden width 32·(A+4)−A                                   |
    | nqmix             | parameters of the MLP mixer                               |
    | qmix              | parameters of QMIX's hypernetwork mixer (2-layer hypernets)|
    | ratio             | nqmix / qmix                                              |
    | qmix_one_layer    | the same with the QMIX paper's one-layer hypernetworks    |
    | ratio_one_layer   | nqmix / qmix_one_layer                                    |
    """
    nqmix = count_parameters(make_mixer("nqmix", n_agents, state_dim))
    qmix = count_parameters(make_mixer("qmix", n_agents, state_dim, embed_dim, hypernet_hidden_dim))
    one_layer = qmix_one_layer_parameters(n_agents, state_dim, embed_dim)
    return {"nqmix_hidden": nqmix_hidden_units(n_agents), "nqmix": nqmix, "qmix": qmix, "ratio": nqmix / qmix,
            "qmix_one_layer": one_layer, "ratio_one_layer": nqmix / one_layer}


def qmix_one_layer_parameters(n_agents: int, state_dim: int, embed_dim: int = 32) -> int:
    """Parameters of QMIX's mixer as the QMIX paper builds it: one-layer hypernetworks for W_1 (S -> N·E),
    b_1 (S -> E) and W_final (S -> E), and V(s) = Linear(S, E) -> ReLU -> Linear(E, 1)."""
    linear = lambda n_in, n_out: n_in * n_out + n_out  # noqa: E731  (weights and biases)
    return (linear(state_dim, n_agents * embed_dim) + 2 * linear(state_dim, embed_dim)
            + linear(state_dim, embed_dim) + linear(embed_dim, 1))
