"""The SMAX claims at two budgets, read from one set of runs (issue 23).

    table = budget_claims("data/long_1m", "data/reference")       # C2, C3, R at 300k and at 1M
    claims = with_budget_columns(claims_table, table)             # the same verdicts beside C1–C8

The 1M-step grid (``data/long_1m``: NQMIX, QMIX and COMA on 2s3z and 3s5z) is read twice: cut at 300k
steps (``results.at_budget``: the evaluations up to the one that crosses 300k, so a run reads as if its
budget had been 300k) and whole. Both budgets therefore come from the same seeds, and a difference between
the two columns is the budget's doing, not the seeds'.

**Rules, written before the long runs were read** (the verdict rules themselves are ``claims_rules``'):

* a map is read at a budget only when every method the claim compares has at least ``MIN_SEEDS``
  complete runs on it at that budget; no interval is drawn from fewer;
* when every map is read, the claims are decided as in the main table; when no map is, every cell says
  "pending" and how many runs are in;
* when only some maps are read (added before the second and third seeds of any map were read): C2 and C3
  are conjunctions over the maps, so a part that does not hold on a read map decides "does not hold" for
  the whole claim; any other reading stays "pending", with what the read maps say in its leans. R is
  read per map, so it is given for the read maps and says which are still pending.
* C2 is read on the second half of each budget (as for the 300k grid), on the maps the long grid holds;
* R compares each method's final with the strongest script of its map, as in the main table.

C1 and C4–C8 are not in the long grid (3m, NQMIX-M, matrix games, exact problems); their cells say so.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from nqmix_core import claims, results
from nqmix_core.claims_rules import not_measured

BUDGETS = (300_000, 1_000_000)
MIN_SEEDS = 3
METHODS = ("NQMIX", "QMIX", "COMA")


def budget_label(steps: int) -> str:
    """300000 → "300k", 1000000 → "1M", 500 → "500"."""
    if steps and steps % 1_000_000 == 0:
        return f"{steps // 1_000_000}M"
    return f"{steps // 1000}k" if steps and steps % 1000 == 0 else str(steps)


STATEMENTS = (("C2", "NQMIX's target overestimates less than QMIX's"),
              ("C3", "on heterogeneous maps NQMIX ≥ QMIX > COMA"),
              ("R", "learned methods end above the strongest scripted policy"))


def _short(final: pd.DataFrame, maps: tuple[str, ...]) -> list[str]:
    """What is still missing, e.g. ["NQMIX on 3s5z 1"]: methods with fewer than ``MIN_SEEDS`` complete runs."""
    counts = final.dropna(subset=["final"]).groupby(["map", "method"]).size()
    return [f"{method} on {m} {counts.get((m, method), 0)}" for m in maps for method in METHODS
            if counts.get((m, method), 0) < MIN_SEEDS]


def rows_at(runs: pd.DataFrame, steps: int, data: str, reference_root: str | Path | None) -> list[dict]:
    """C2, C3 and R decided on ``runs`` cut at ``steps`` (the rules in the module's docstring)."""
    cut = results.at_budget(runs, steps)
    final = results.final_win_rates(cut)
    label = budget_label(steps)
    read = tuple(m for m in claims.HETEROGENEOUS if not _short(final, (m,)))
    missing = _short(final, claims.HETEROGENEOUS)
    pending = f"pending: runs complete so far ({MIN_SEEDS} needed each): " + ", ".join(missing)
    if not read:
        return [{**not_measured(c, s, pending), "verdict": "pending"} for c, s in STATEMENTS]
    waiting = [m for m in claims.HETEROGENEOUS if m not in read]
    budget = ", ".join(f"{m} {label}" for m in read) + "".join(f" ({m} pending)" for m in waiting)
    reference = Path(reference_root) if reference_root else None
    rows = [claims.overestimation_claim(cut, data, read), claims.heterogeneous_claim(final, data, read),
            claims.reference_claim(final[final["map"].isin(read)], reference, budget)]
    rows = [{**r, "budget": budget} for r in rows]
    if waiting:
        for r in rows:
            if r["claim"] == "R":
                r["verdict"] += " (" + ", ".join(f"{m} pending" for m in waiting) + ")"
            elif r["verdict"] != "does not hold":  # a conjunction is decided only against, on part of its maps
                r["leans"] = f"on {', '.join(read)} alone: {r['verdict']}; " + r["leans"]
                r["verdict"] = "pending"
            r["evidence"] = f"{pending}; read on {', '.join(read)}: " + r["evidence"]
    return rows


def budget_claims(long_root: str | Path, reference_root: str | Path | None = None,
                  budgets: tuple[int, ...] = BUDGETS) -> pd.DataFrame:
    """One row per (claim, budget): claim, budget, verdict, leans, evidence, reward scale, data."""
    long_root = Path(long_root)
    if (long_root / "grid.yaml").is_file() and not any(long_root.glob("*/*/seed*/progress.csv")):
        runs = None  # a grid that has not finished a run yet: every budget is pending, not an error
    else:
        runs = results.load_runs(long_root)
    scales = sorted(set(runs["reward_scale"])) if runs is not None else []
    rows = []
    for steps in budgets:
        waiting = [{**not_measured(c, "", "pending: no run of the grid is in yet"), "verdict": "pending"}
                   for c in ("C2", "C3", "R")]
        for r in (rows_at(runs, steps, str(long_root), reference_root) if runs is not None else waiting):
            rows.append({"claim": r["claim"], "at": budget_label(steps), "verdict": r["verdict"],
                         "leans": r["leans"], "evidence": r["evidence"],
                         "reward scale": ", ".join(f"{s:g}" for s in scales), "data": str(long_root)})
    return pd.DataFrame(rows, columns=["claim", "at", "verdict", "leans", "evidence", "reward scale", "data"])


def budget_gains(runs: pd.DataFrame, budgets: tuple[int, int] = BUDGETS) -> pd.DataFrame:
    """What the longer budget bought, per map and method: the seeds complete at both budgets, their mean final
    greedy win rate at each, and the mean gain seed by seed (the same run read at both budgets) with its 95%
    t-interval. A description beside the verdicts, not a verdict."""
    low, high = budgets
    finals = {b: results.final_win_rates(results.at_budget(runs, b)).set_index(["map", "method", "seed"])["final"]
              for b in (low, high)}
    both = pd.concat(finals, axis=1).dropna()
    rows = []
    for (map_name, method), seeds in both.groupby(level=["map", "method"]):
        gain = seeds[high] - seeds[low]
        rows.append({"map": map_name, "method": method, "seeds": len(seeds),
                     f"final at {budget_label(low)}": seeds[low].mean(),
                     f"final at {budget_label(high)}": seeds[high].mean(),
                     "gain": gain.mean(), "gain 95% interval": results.mean_interval(gain)})
    return pd.DataFrame(rows)


def with_budget_columns(table: pd.DataFrame, by_budget: pd.DataFrame) -> pd.DataFrame:
    """The claims table with one column per budget of the long grid ("verdict at 1M (long grid)"), placed after
    the main verdict; claims the long grid does not hold read "not in the long grid"."""
    table = table.copy()
    position = list(table.columns).index("verdict (stochastic)")
    for at, part in by_budget.groupby("at", sort=False):
        verdicts = part.set_index("claim")["verdict"]
        column = f"verdict at {at} (long grid)"
        table.insert(position, column, [verdicts.get(c, "not in the long grid") for c in table["claim"]])
        position += 1
    return table
