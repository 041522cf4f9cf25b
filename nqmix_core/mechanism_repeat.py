"""The 3s5z repeat of the mechanism study: NQMIX+mono, NQMIX and QMIX on fresh seeds, and the rule that reads them.

    runs = repeat_runs("data/mechanism_2s3z", "data/long_1m")   # None until a run is in
    reading(runs)                                                 # the verdicts below, with their numbers

**Why, and the rule, written before its runs** (2026-12-07). ``mechanism.long_reading`` left NQMIX+mono on 3s5z
at 1M steps inconclusive on seeds 0–4 against both baselines: against NQMIX +0.10 [−0.16, +0.36], against QMIX
−0.15 [−0.43, +0.13] (means 0.62, 0.52, 0.77; the variant's five finals spread with a standard deviation of
0.21, QMIX's 0.16, NQMIX's 0.04). On 2s3z the same variant beat NQMIX at 1M. So the three methods run again on
3s5z to 1M steps on fresh seeds ``SEEDS`` (5–9), at the settings of ``data/long_1m`` and the 1M grid (batch 8,
reward × 10, the paper's protocol), in the study folder's ``REPEAT`` subfolder (its own ``grid.yaml``).

* *The record*: seeds 5–9 alone, read at each budget of ``claims_budgets.BUDGETS`` (300k and 1M, the same runs
  cut by ``results.at_budget``) by ``mechanism.long_reading``'s rule — NQMIX+mono against NQMIX ("beats NQMIX"
  when the 95% Welch interval of mean final (variant − NQMIX) lies above 0, "not better" when its upper end is
  under ``mechanism.MARGIN``, otherwise "inconclusive") and against QMIX ("above QMIX" / "below QMIX" when the
  interval lies above / below 0, otherwise "inconclusive") — and, beside them, NQMIX against QMIX by the second
  form: claim C3's comparison on 3s5z, which ``data/long_1m`` read at 1M as NQMIX below QMIX, −0.24 [−0.44,
  −0.04]; "below QMIX" on the fresh seeds repeats it.
* *A second look, reported as such*: the same three comparisons on seeds 0–9 pooled (seeds 0–4 from the 1M grid
  and ``data/long_1m``). It was chosen after seeds 0–4 were seen, so it describes; the record decides.
* A cell is *pending* until each of the three methods has all of its seeds complete at the budget.

*What to expect (not a rule):* with the spreads above, five seeds a side give an interval about ±0.28 wide for
the variant against QMIX, so a difference like seeds 0–4's −0.15 would most likely read "inconclusive" again;
the pooled look narrows it to about ±0.18. Against NQMIX, whose finals spread little, the interval is set by the
variant's own spread (about ±0.26 on five seeds).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from nqmix_core import mechanism, results
from nqmix_core.claims_budgets import BUDGETS, budget_label

REPEAT, MAP, SEEDS = "repeat_3s5z", "3s5z", (5, 6, 7, 8, 9)
POOLED = (*mechanism.LONG_SEEDS, *SEEDS)
LOOKS = ((SEEDS, "5–9 (record)"), (POOLED, "0–9 pooled (second look)"))


def repeat_runs(folder: str | Path, long_root: str | Path) -> pd.DataFrame | None:
    """3s5z rows of the repeat's runs (``folder``'s ``REPEAT`` subfolder, seeds ``SEEDS``) and of the seeds 0–4
    runs the pooled look adds (``mechanism.long_runs``); None before a repeat run is in."""
    here = Path(folder) / REPEAT
    if not any(here.glob("*/*/seed*/progress.csv")):
        return None
    fresh = results.load_runs(here)
    parts = [fresh[fresh["seed"].isin(SEEDS)]]
    earlier = mechanism.long_runs(folder, long_root)
    if earlier is not None:  # a seed run twice would merge into one run: each look takes its seeds from one place
        parts.append(earlier[earlier["seed"].isin(mechanism.LONG_SEEDS)])
    runs = pd.concat(parts, ignore_index=True)
    return runs[runs["map"] == MAP].reset_index(drop=True)


def reading(runs: pd.DataFrame) -> pd.DataFrame:
    """The rule (module docstring): per look and budget, NQMIX+mono against NQMIX and QMIX, and NQMIX against QMIX."""
    steps_of = {budget_label(b): b for b in BUDGETS}
    rows = []
    for seeds, look in LOOKS:
        for row in mechanism.long_reading(runs, seeds, (MAP,)).to_dict("records"):
            versus = row["against QMIX"]  # pending alike
            if not versus.startswith("pending"):
                cut = results.at_budget(runs[runs["seed"].isin(seeds)], steps_of[row["at"]])
                c = results.compare(results.final_win_rates(cut), MAP, "NQMIX", "QMIX")
                versus = mechanism.sided(c, "above QMIX", "below QMIX")
                row["evidence"] += f"; {c.text()}"
            rows.append({"seeds": look, **row, "NQMIX against QMIX": versus})
    return pd.DataFrame(rows, columns=["seeds", "map", "at", "variant", "against NQMIX", "against QMIX",
                                       "NQMIX against QMIX", "evidence"])
