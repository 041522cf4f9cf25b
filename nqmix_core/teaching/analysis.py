"""Measurements on episode batches and networks: returns, target bias, parameter counts, shapes.

These are what notebooks and reports use to check a claim against data, e.g. the paper's
"NQMIX takes the state-value as the learning target, which overcomes the problem in QMIX that the
learning target is overestimated" (abstract; Alg. 1 line 9): compare each learner's TD target with
the discounted return that the episodes really obtained. Nothing here is used while training.

Axis order as everywhere: [B, T, N, ...]; ``filled`` [B, T] is 1 on real steps.
"""
from __future__ import annotations

import torch

from nqmix_core.buffer import EpisodeBuffer
from nqmix_core.specs import EpisodeBatch
from nqmix_core.learners import CriticLearner


def terminated_episodes(terminated: torch.Tensor) -> torch.Tensor:
    """Which episodes really ended (battle decided) rather than hit the time limit: [B, T] -> [B] bool."""
    return terminated.bool().any(dim=1)


def target_return_gap(targets: torch.Tensor, returns: torch.Tensor, filled: torch.Tensor,
                      episodes: torch.Tensor | None = None) -> dict[str, float]:
    """Mean TD target minus mean discounted return over the real steps of the chosen episodes.

    targets, returns, filled: [B, T]; ``episodes`` [B] bool picks episodes (e.g. only those that
    terminated, whose returns are not truncated); None keeps all. A positive ``gap`` means the
    targets are above what the episodes delivered on average. Returns plain floats (this syncs).

    | key          | meaning                                  |
    |--------------|------------------------------------------|
    | steps        | number of real steps compared            |
    | target_mean  | mean y_t over those steps                |
    | return_mean  | mean G_t over those steps                |
    | gap          | target_mean − return_mean                |
    """
    mask = filled if episodes is None else filled * episodes.to(filled.dtype).unsqueeze(1)  # [B, T]
    n_steps = mask.sum()
    if n_steps == 0:
        nan = float("nan")
        return {"steps": 0, "target_mean": nan, "return_mean": nan, "gap": nan}
    target_mean = ((targets * mask).sum() / n_steps).item()
    return_mean = ((returns * mask).sum() / n_steps).item()
    return {"steps": int(n_steps.item()), "target_mean": target_mean, "return_mean": return_mean,
            "gap": target_mean - return_mean}


@torch.no_grad()
def learner_targets(learner: CriticLearner, batch: EpisodeBatch) -> torch.Tensor:
    """The TD targets y_t [B, T] that ``learner`` regresses Q_tot on for ``batch``, without any update.

    NQMIX: the state-value target (Alg. 1 lines 8–12); QMIX/VDN: the max-based target.
    """
    agent_qs, _, target_qs, target_hidden = learner.unroll(batch)  # [B, T+1, N, ·]
    return learner.td_targets(batch, agent_qs, target_qs, target_hidden)


@torch.no_grad()
def greedy_targets(learner: CriticLearner, batch: EpisodeBatch) -> torch.Tensor:
    """QMIX's kind of target, r + γ·Mixer'(max_u Q'_a(τ_{t+1}, u), s_{t+1}), from ``learner``'s own networks.

    For an NQMIX learner this isolates the effect of the target's form (max vs Σ_u π'·Q') from
    everything else that differs between two trained learners. No double-Q: [B, T].
    """
    _, _, target_qs, _ = learner.unroll(batch)  # [B, T+1, N, U]
    return learner.max_targets(batch, target_qs)


def recent_episodes(buffer: EpisodeBuffer, n_episodes: int) -> EpisodeBatch:
    """The ``n_episodes`` most recently inserted episodes of ``buffer``, oldest first, cut to the longest."""
    if not 0 < n_episodes <= len(buffer):
        raise ValueError(f"Asked for {n_episodes} recent episodes but the buffer holds {len(buffer)}.")
    slots = (buffer.next_index - n_episodes + torch.arange(n_episodes)) % buffer.capacity  # [n] CPU
    n_steps = int(buffer.lengths[slots].max())
    return buffer.storage.map(lambda x: x[slots.to(x.device)]).trim(n_steps)


def shape_rows(stages: dict[str, tuple[str, torch.Tensor]]) -> list[dict[str, str]]:
    """Rows of a shape table: ``{name: (axes, tensor)}`` -> [{stage, axes, shape, dtype}].

    ``axes`` is the symbolic layout, e.g. "[B, T+1, N, U]"; the row shows it next to the real shape,
    so a reader can match symbols to numbers.
    """
    return [{"stage": name, "axes": axes, "shape": str(tuple(tensor.shape)),
             "dtype": str(tensor.dtype).removeprefix("torch.")}
            for name, (axes, tensor) in stages.items()]
