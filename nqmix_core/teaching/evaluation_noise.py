"""Is a change between two evaluations more than evaluation noise? Win counts out of n test battles.

An evaluation plays n battles with one fixed policy, so the number won is Binomial(n, p). Two
evaluations of the *same* policy still differ by chance: under that hypothesis (one p for both, estimated
by the pooled rate p̄) the difference of their win rates has standard error

    SE = sqrt(2 · p̄ (1 − p̄) / n),

√2 times a single point's SE (at most 0.5/√n). Fisher's exact test gives the probability, if both
evaluations had the same p, of splitting the wins at least as unevenly as seen; it is exact for the
small n of quick runs, where the normal approximation behind z = change / SE is rough.

A learning curve has many consecutive pairs; the largest fall among k of them is judged with the
Bonferroni-adjusted p = min(1, k · p): noise alone would produce *some* pair below 0.05 far more often
than 5% of the time.

    changes = consecutive_changes(curve["test_greedy_win_rate"], curve["t_env"], n_episodes=16)
    verdict = largest_fall(changes, n_episodes=16)  # None if the curve never falls
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy.stats import fisher_exact


def win_counts(win_rates: Sequence[float], n_episodes: int) -> np.ndarray:
    """Battles won per evaluation, from win rates that are counts / n_episodes (checked)."""
    counts = np.asarray(win_rates, dtype=float) * n_episodes
    if not np.allclose(counts, counts.round(), atol=1e-6):
        raise ValueError(f"win rates {list(win_rates)} are not whole numbers of wins out of {n_episodes}.")
    return counts.round().astype(int)


def change_test(wins_before: int, wins_after: int, n_episodes: int) -> dict[str, float]:
    """How unusual the change wins_before/n → wins_after/n is if only evaluation noise were at work.

    | key        | meaning                                                               |
    |------------|-----------------------------------------------------------------------|
    | change     | wins_after/n − wins_before/n                                          |
    | se_change  | SE of that difference with one pooled win rate for both               |
    | z          | change / se_change (0 when both evaluations agree and SE is 0)        |
    | p_value    | Fisher's exact test, two-sided                                        |
    """
    change = (wins_after - wins_before) / n_episodes
    pooled = (wins_before + wins_after) / (2 * n_episodes)
    se_change = float(np.sqrt(2 * pooled * (1 - pooled) / n_episodes))
    table = [[wins_before, n_episodes - wins_before], [wins_after, n_episodes - wins_after]]
    return {"change": change, "se_change": se_change, "z": change / se_change if se_change > 0 else 0.0,
            "p_value": float(fisher_exact(table).pvalue)}


def consecutive_changes(win_rates: Sequence[float], steps: Sequence[int], n_episodes: int) -> pd.DataFrame:
    """One row per pair of consecutive evaluations: steps, wins before/after, and ``change_test``."""
    wins, steps = win_counts(win_rates, n_episodes), list(steps)
    rows = [{"from_step": steps[i], "to_step": steps[i + 1], "wins_before": int(wins[i]),
             "wins_after": int(wins[i + 1]), **change_test(int(wins[i]), int(wins[i + 1]), n_episodes)}
            for i in range(len(wins) - 1)]
    return pd.DataFrame(rows, columns=["from_step", "to_step", "wins_before", "wins_after", "change",
                                       "se_change", "z", "p_value"])


def largest_fall(changes: pd.DataFrame, n_episodes: int, alpha: float = 0.05) -> dict | None:
    """The fall least explained by noise (smallest p) among ``changes``, judged after Bonferroni.

    Returns that row as a dict plus ``p_adjusted`` = min(1, k · p) for the k pairs looked at,
    ``beyond_noise`` = p_adjusted < alpha, and ``telling_wins``: the most wins the second evaluation
    could have had for a fall from ``wins_before`` to count as beyond noise (−1 if not even 0 wins
    would). None if no evaluation is below the one before it.
    """
    falls = changes[changes["change"] < 0]
    if falls.empty:
        return None
    row = falls.sort_values(["p_value", "change"]).head(1).to_dict("records")[0]  # ints stay ints
    n_pairs = len(changes)
    p_adjusted = min(1.0, row["p_value"] * n_pairs)
    telling = [wins for wins in range(row["wins_before"])
               if change_test(row["wins_before"], wins, n_episodes)["p_value"] * n_pairs < alpha]
    return {**row, "p_adjusted": p_adjusted, "beyond_noise": bool(p_adjusted < alpha),
            "telling_wins": max(telling, default=-1)}
