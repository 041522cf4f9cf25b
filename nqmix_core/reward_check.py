"""Reading the reward-scale check (``data/reward_scale``): should the learners see SMAX's reward × 10?

    verdict = decide("data/reward_scale", "data/reproduction_cpu")
    verdict.table        # one row per (map, method): both scales, paired by seed
    verdict.text()       # the decision, with the numbers that made it

SMAX pays at most 2 per episode (health fractions + 1 for a win), SMAC 20; pymarl's settings (lr 5e-4,
gradient-norm clip 10, RMSprop ε 1e-5) were tuned at SMAC's scale. The check trains QMIX, NQMIX and
COMA on smax:3m (150k steps) and smax:2s3z (300k), seeds 0–2, with ``reward_scale=10``, and compares
each run with the committed scale-1 run of the same seed, map, method and settings in
``data/reproduction_cpu`` (batch 8, the paper's protocol). Used by notebook 05 and ``nqmix plot``.

**The rule, committed before any scale-10 run was made** (greedy policy, as every claim):

* A run's *curve mean* is the mean greedy test win rate over all its evaluations up to its budget
  (step 0 included): the area under its learning curve, which counts both how early and how high it
  learns. Its *final* is ``results.final_win_rates``' (the mean of the last two evaluations).
* For each (map, method) cell the three seeds give paired differences, scale 10 minus scale 1.
* Scale 10 *helps* a cell when the mean paired difference of curve means is above 0.
* Scale 10 *harms* a cell when the 95% paired t-interval of the final differences lies below 0.
* **Scale 10 becomes the default for ``smax:`` maps when it helps at least 4 of the 6 cells, the
  mean of all 18 paired curve-mean differences is above 0, and it harms no cell.** Otherwise SMAX's own
  scale (1) stays the default. Either way the default applies to every method alike; other backends
  keep 1 (the matrix and two-peak games were designed at their own scale; real SMAC already pays 20).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from scipy import stats

from nqmix_core import results

METHODS = ("NQMIX", "QMIX", "COMA")
SEEDS = (0, 1, 2)
MIN_CELLS_HELPED = 4
CANDIDATE = 10.0


def per_run(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per complete run of ``METHODS`` with seed in ``SEEDS``: map, method, seed, curve mean, final."""
    runs = results.complete(runs)
    runs = runs[runs["method"].isin(METHODS) & runs["seed"].isin(SEEDS) & (runs["t_eval"] <= runs["t_max"])]
    rows = []
    for (map_name, method, seed), run in runs.groupby(["map", "method", "seed"]):
        run = run.sort_values("t_env")
        metric = run[results.POLICIES["greedy"]]
        rows.append({"map": map_name, "method": method, "seed": int(seed), "curve_mean": float(metric.mean()),
                     "final": float(metric.tail(results.LAST_EVALUATIONS).mean())})
    return pd.DataFrame(rows)


def _paired_interval(diffs: pd.Series) -> tuple[float, float]:
    """95% paired t-interval of the mean of ``diffs`` (a zero-width one when they do not vary)."""
    mean, n = float(diffs.mean()), len(diffs)
    if n < 2 or float(diffs.std(ddof=1)) == 0:
        return mean, mean
    half = stats.t.ppf(0.975, n - 1) * float(diffs.std(ddof=1)) / math.sqrt(n)
    return mean - half, mean + half


@dataclass(frozen=True)
class Verdict:
    table: pd.DataFrame
    """One row per (map, method): seeds paired, curve means and finals at both scales, their differences."""
    mean_difference: float
    helped: int
    harmed: list[str]

    @property
    def adopt(self) -> bool:
        return self.helped >= MIN_CELLS_HELPED and self.mean_difference > 0 and not self.harmed

    @property
    def default(self) -> float:
        return CANDIDATE if self.adopt else 1.0

    def text(self) -> str:
        cells = len(self.table)
        harmed = f"harms {', '.join(self.harmed)}" if self.harmed else "harms no cell"
        return (f"Reward scale {CANDIDATE:g} helps {self.helped} of {cells} cells (rule: at least {MIN_CELLS_HELPED}), "
                f"mean paired curve-mean difference {self.mean_difference:+.3f} (rule: above 0), {harmed}: "
                f"the default for smax maps is {self.default:g}.")


def decide(scaled_root: str | Path, baseline_root: str | Path) -> Verdict:
    """The module docstring's rule applied to the scale-10 runs and their scale-1 twins."""
    scaled = per_run(results.load_runs(scaled_root))
    baseline = per_run(results.load_runs(baseline_root))
    paired = scaled.merge(baseline, on=["map", "method", "seed"], suffixes=("_10", "_1"))
    paired["d_curve"] = paired["curve_mean_10"] - paired["curve_mean_1"]
    paired["d_final"] = paired["final_10"] - paired["final_1"]
    rows, harmed = [], []
    for (map_name, method), cell in paired.groupby(["map", "method"]):
        low, high = _paired_interval(cell["d_final"])
        if high < 0:
            harmed.append(f"{method} on {map_name}")
        rows.append({"map": map_name, "method": method, "seeds": len(cell),
                     "curve_mean_1": cell["curve_mean_1"].mean(), "curve_mean_10": cell["curve_mean_10"].mean(),
                     "d_curve": cell["d_curve"].mean(), "final_1": cell["final_1"].mean(),
                     "final_10": cell["final_10"].mean(), "d_final": cell["d_final"].mean(),
                     "d_final_low": low, "d_final_high": high})
    table = pd.DataFrame(rows)
    helped = int((table["d_curve"] > 0).sum()) if len(table) else 0
    mean = float(paired["d_curve"].mean()) if len(paired) else math.nan
    return Verdict(table=table, mean_difference=mean, helped=helped, harmed=harmed)
