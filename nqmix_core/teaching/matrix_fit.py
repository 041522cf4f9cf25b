"""Training a matrix game until the learned Q_tot stops improving: what the payoff editor of notebook 01 runs.

A fixed number of updates can stop before a payoff of large magnitude is fitted, and then "cannot
represent" would really mean "not trained long enough"; ``train_until_fitted`` trains in chunks until
the fit has converged (or says that it has not).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from nqmix_core.envs.matrix import QTRAN_PAYOFF
from nqmix_core.teaching.matrix_games import MatrixRun, MatrixTrainer

FIT_SCALE = 10.0
"""``train_until_fitted`` trains on the payoff scaled so that its largest |entry| is this, and reads the
values back in the payoff's units. RMSprop moves each weight by about its learning rate per step, so
the time to fit depends on the payoff's size. Measured (uniform data, 3 seeds, QTRAN-like payoffs): at
±100 NQMIX's critic sat at the payoff's mean for 600 updates and fitted after 1,300; at ±10 it fitted
within 300-600, faster than at ±1, ±20 or ±50. QMIX reached its best monotonic fit fastest at ±50 and
sometimes settled in a worse one at ±10: its Q_tot RMSE can then read a little high, never low."""

FIT_PLATEAU = 0.95
"""A fit whose RMSE is at least this fraction of the payoff's standard deviation has learned no more
than the payoff's mean: the plateau every fit starts on. ``train_until_fitted`` waits longer there."""


@dataclass(frozen=True)
class MatrixFit:
    """A run trained until its Q_tot fit stopped improving, or until the cap on updates."""

    run: MatrixRun
    n_updates: int
    converged: bool
    rmse_history: tuple[float, ...]  # Q_tot RMSE against the payoff after each chunk, payoff units

    def status(self) -> str:
        """One line: whether the fit converged, after how many updates, and how to read its RMSE."""
        rmse = self.rmse_history[-1]
        if not self.converged:
            return (f"NOT converged after {self.n_updates} updates (the cap): Q_tot RMSE {rmse:.2f} may still "
                    f"improve; train longer before reading it as what the method can represent")
        if rmse <= 0.05 * float(self.run.payoff.abs().max()):
            return f"fits the payoff: converged after {self.n_updates} updates, Q_tot RMSE {rmse:.2f}"
        return (f"converged after {self.n_updates} updates at Q_tot RMSE {rmse:.2f}: the mixer cannot "
                f"represent this payoff, or training is stuck (that depends on the seed: try another)")


def fit_has_converged(rmse_history, patience: int = 3, rel_tol: float = 0.05, abs_tol: float = 0.0) -> bool:
    """Has the fit stopped improving? True when the best RMSE of the last ``patience`` chunks beats
    the best before them by no more than max(rel_tol · that best, abs_tol)."""
    if len(rmse_history) <= patience:
        return False
    before, recent = min(rmse_history[:-patience]), min(rmse_history[-patience:])
    return before - recent <= max(rel_tol * before, abs_tol)


def train_until_fitted(algo: str, payoff=QTRAN_PAYOFF, seed: int = 0, uniform_data: bool | None = None,
                       device: torch.device | str = "cpu", chunk_updates: int = 100, min_updates: int = 500,
                       max_updates: int = 3000, patience: int = 3, rel_tol: float = 0.05,
                       scale_to: float | None = FIT_SCALE) -> MatrixFit:
    """Train in chunks of ``chunk_updates`` until the Q_tot fit has converged, or ``max_updates``.

    Converged: ``fit_has_converged`` after at least ``min_updates``, with improvements below 1% of the
    largest |payoff| not counted; on the mean plateau (``FIT_PLATEAU``) after at least 3·``min_updates``.
    The payoff is scaled to ±``scale_to`` for training (None: as given). Only Q_tot is watched: an
    actor's policy may still move, and with on-policy data the entries it stopped visiting stay unfitted.
    """
    payoff = torch.as_tensor(payoff, dtype=torch.float32)
    largest, mean_only = float(payoff.abs().max()), float(payoff.std(unbiased=False))
    trainer = MatrixTrainer(algo, payoff, seed, device=device, uniform_data=uniform_data,
                            reward_scale=scale_to / largest if scale_to and largest > 0 else 1.0)
    history, n_updates, converged = [], 0, False
    while n_updates < max_updates and not converged:
        chunk = min(chunk_updates, max_updates - n_updates)
        trainer.train(chunk)
        n_updates += chunk
        history.append(float((trainer.values()[0] - payoff).pow(2).mean().sqrt()))
        enough = 3 * min_updates if min(history) >= FIT_PLATEAU * mean_only else min_updates
        converged = n_updates >= enough and fit_has_converged(history, patience, rel_tol, 0.01 * largest)
    return MatrixFit(trainer.run(), n_updates, converged, tuple(history))


def run_methods_until_fitted(methods: dict[str, tuple[str, bool]], payoff=QTRAN_PAYOFF, seeds=range(3),
                             max_updates: int = 3000, device: torch.device | str = "cpu",
                             progress=None) -> tuple[dict[str, list[MatrixRun]], dict[tuple[str, int], MatrixFit]]:
    """``matrix_games.run_methods`` with each run trained until its fit converged (``train_until_fitted``):
    label -> runs, and (label, seed) -> its fit (updates made, converged or not)."""
    runs, fits = {}, {}
    for label, (algo, uniform_data) in methods.items():
        runs[label] = []
        for seed in seeds:
            if progress is not None:
                progress(label, seed)
            fit = train_until_fitted(algo, payoff, seed, uniform_data=uniform_data, device=device,
                                     max_updates=max_updates)
            runs[label].append(fit.run)
            fits[(label, seed)] = fit
    return runs, fits
