"""The claims table: every claim of the paper the kit tests, C1–C8, each decided from data by a rule.

    table = claims.claims_table("data/reproduction_cpu", "data/matrix_qtran", "data/continuous_two_peak")

Used by ``nqmix plot`` (which writes it to ``claims.md`` and into the README) and by notebook 05.
The rules (``claims_rules``) were written down before the data they read were looked at (issue 14; the
equivalence test, C6's reference, C7's split, C8's statement and the R row in issue 23); a claim whose
folder is missing is "not measured", never guessed. C1, C6, C7 and C8 are computed in ``claims_games``.

| claim | statement (paper)                                   | data                                   | rule |
|-------|-----------------------------------------------------|----------------------------------------|------|
| C1    | monotonic mixers cannot represent a non-monotonic payoff; NQMIX's can (Sec. 1, 4.2) | ``nqmix demo`` folder: ``matrix_runs.csv`` | holds when VDN's and QMIX's learned Q_tot misses the payoff (RMSE ≥ ``FITS``) and NQMIX's critic trained on uniform data fits it (RMSE < ``FITS``) on every seed; "finds the optimum" (the paper's own policy reaching (A, A)) is reported beside it |
| C2    | NQMIX's state-value target overestimates less than QMIX's max target (Sec. 4.3) | sweep folder: ``train_diag_q_tot_minus_return`` | per run, the mean of Q_tot − G_t over the log rows of the run's second half; NQMIX − QMIX per map: holds when NQMIX is lower on every map (``claims_rules.lower``) |
| C3    | on heterogeneous maps NQMIX ≥ QMIX > COMA (Fig. 2) | sweep folder | final greedy win rates, ``claims_rules.at_least`` and ``greater`` (≥ with a TOST equivalence margin of 0.10) |
| C4    | on 3m NQMIX lies between QMIX and COMA (Fig. 2)   | sweep folder | the same: ≥ the lower one and ≤ the higher one |
| C5    | NQMIX-M ≤ NQMIX (Fig. 3)                            | sweep folder | the same |
| C6    | the two mixers have similar parameter counts (Sec. 5, App. B.1) | the sweep's manifests (each map's n_agents, state_dim) | judged against QMIX's one-layer hypernetworks (the QMIX paper's, which 32·(A+4)−A matches); ratio in [1/``SIMILAR``, ``SIMILAR``] on every map: holds; outside [1/2, 2] on one: does not hold; pymarl's two-layer count beside |
| C7    | NQMIX extends to continuous actions (Alg. 2)        | sweep folder of ``continuous:two-peak`` | NQMIX-cont learns: its final greedy return is above its return before training (paired 95% t-interval above 0) |
| C7+   | the kit's own bar, not the paper's: NQMIX-cont ≥ independent DDPG | the same | ``claims_rules.at_least`` on the high-peak win rate; QMIX-cont beside |
| C8    | Eq. 7 with states drawn from the behaviour policy b is the policy gradient (App. A) | computed exactly (``theory.tabular``, float64) | holds when Eq. 3 matches ∇J off-policy to ``EXACT`` relative error on every random MDP; does not hold when it misses by more than ``BIASED`` on every one (it is exact only on-policy) |
| R     | the kit's calibration: which learned methods end above the strongest scripted policy | ``nqmix reference`` folder | a method is above when its 95% t-interval over seeds lies above the script's Wilson interval |

Every row carries the budget it was decided at (the SMAX claims: steps per map).
A verdict is "holds", "does not hold", "inconclusive" or "not measured". Columns of the table:
claim, statement, verdict, leans (which way the point estimates go and by how much), evidence, data.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from nqmix_core import results
from nqmix_core.claims_games import continuous_claims, matrix_claim, parameter_claim
from nqmix_core.reference import strongest_scripts
from nqmix_core.claims_rules import SMAC_MAPS, at_least, greater, lower, not_measured, row
from nqmix_core.results import compare

# --------------------------------------------------------------------------- C3–C5: win rates on SMAX


HETEROGENEOUS = ("2s3z", "3s5z")


def heterogeneous_claim(final: pd.DataFrame, data: str = "", maps: tuple[str, ...] = HETEROGENEOUS) -> dict:
    """C3 (Sec. 5.1): on each heterogeneous map NQMIX ≥ QMIX and QMIX > COMA."""
    parts = [(rule(c), c) for m in maps for rule, c in
             ((at_least, compare(final, m, "NQMIX", "QMIX")), (greater, compare(final, m, "QMIX", "COMA")))]
    return row("C3", "on heterogeneous maps NQMIX ≥ QMIX > COMA", parts, data)


def smac_claims(final: pd.DataFrame, data: str = "", simple: str = "3m",
                heterogeneous: tuple[str, ...] = HETEROGENEOUS, ablation: tuple[str, ...] = HETEROGENEOUS
                ) -> list[dict]:
    """C3–C5 (Sec. 5.1–5.2) from one row per run (``results.final_win_rates``)."""
    nq_q, nq_c = compare(final, simple, "NQMIX", "QMIX"), compare(final, simple, "NQMIX", "COMA")
    # "between": NQMIX ≥ the lower of QMIX and COMA and ≤ the higher one, whichever that is
    low_side, high_side = (nq_c, nq_q) if nq_q.mean_y >= nq_c.mean_y else (nq_q, nq_c)
    flipped = high_side.flipped()
    c4 = [(at_least(low_side), low_side), (at_least(flipped), flipped)]
    c5 = [(at_least(c), c) for c in (compare(final, m, "NQMIX", "NQMIX-M") for m in ablation)]
    return [heterogeneous_claim(final, data, heterogeneous),
            row("C4", f"on the simple map ({simple}) NQMIX lies between QMIX and COMA", c4, data),
            row("C5", "the ablation NQMIX-M does no better than NQMIX", c5, data)]


def smac_table(final: pd.DataFrame, **where) -> pd.DataFrame:
    """C3–C5 as a table (claim, statement, verdict, leans, evidence, data)."""
    return pd.DataFrame(smac_claims(final, **where))


def smac_by_policy(runs: pd.DataFrame) -> pd.DataFrame:
    """C3–C5 under each evaluation policy, side by side; the greedy verdict decides."""
    tables = {policy: smac_table(results.final_win_rates(runs, metric)) for policy, metric in results.POLICIES.items()}
    table = tables["greedy"][["claim", "statement"]].copy()
    for policy, claims in tables.items():
        table[f"verdict ({policy})"] = claims["verdict"].to_numpy()
    table["leans (greedy)"] = tables["greedy"]["leans"].to_numpy()
    for policy, claims in tables.items():
        table[f"evidence ({policy})"] = claims["evidence"].to_numpy()
    return table


# --------------------------------------------------------------------------- C2: overestimation


def overestimation(runs: pd.DataFrame, column: str = "train_diag_q_tot_minus_return") -> pd.DataFrame:
    """One row per complete run: map, method, seed and ``final`` = mean of ``column`` over its second half."""
    rows = []
    for (map_name, method, seed), run in results.complete(runs).groupby(["map", "method", "seed"]):
        if column not in run:
            continue
        late = run[run["t_env"] >= run["t_max"].iloc[0] / 2][column].dropna()
        if len(late):
            rows.append({"map": map_name, "method": method, "seed": seed, "final": float(late.mean())})
    return pd.DataFrame(rows, columns=["map", "method", "seed", "final"])


def overestimation_claim(runs: pd.DataFrame, data: str, maps: tuple[str, ...] = SMAC_MAPS) -> dict:
    """C2: NQMIX's Q_tot − G_t against QMIX's, per map."""
    statement = "NQMIX's state-value target overestimates less than QMIX's max target (Q_tot − return)"
    gaps = overestimation(runs)
    try:
        parts = [compare(gaps, m, "NQMIX", "QMIX") for m in maps]
    except ValueError as error:
        return not_measured("C2", statement, str(error))
    claim = row("C2", statement, [(lower(c), c) for c in parts], data)
    claim["leans"] = "; ".join(f"{c.map}: {'NQMIX' if c.difference < 0 else 'QMIX'} lower by {abs(c.difference):.2f}"
                               for c in parts)
    return claim


# --------------------------------------------------------------------------- the whole table


def budgets(runs: pd.DataFrame) -> str:
    """The step budget of the complete runs per map, e.g. "3m 150k, 2s3z 300k" (what every verdict is 'at')."""
    steps = results.complete(runs).groupby("map")["t_max"].min()
    order = [m for m in SMAC_MAPS if m in steps.index] + sorted(set(steps.index) - set(SMAC_MAPS))
    return ", ".join(f"{m} {int(steps[m]) // 1000}k" for m in order)


def reference_claim(final: pd.DataFrame, reference_root: Path | None, budget: str) -> dict:
    """R: which learned methods end above the strongest scripted policy of each map (the kit's calibration,
    not a claim of the paper). A method ends above it when its 95% t-interval over seeds lies above the
    script's Wilson interval; below, when it lies below; otherwise level with it."""
    statement = "learned methods end above the strongest scripted policy (the kit's calibration)"
    scripts = strongest_scripts(reference_root) if reference_root else {}
    if not scripts:
        return not_measured("R", statement, "no reference folder given (`nqmix reference`)")
    parts, above = [], []
    for map_name, script in scripts.items():
        for method, seeds in final[final["map"] == map_name].groupby("method"):
            low, high = results.mean_interval(seeds["final"].dropna().to_numpy())
            side = "above" if low > script["win_rate_high"] else "below" if high < script["win_rate_low"] else "level"
            parts.append(f"{map_name}: {method} {seeds['final'].mean():.2f} [{low:.2f}, {high:.2f}] {side} "
                         f"{script['policy']} {script['win_rate']:.2f} [{script['win_rate_low']:.2f}, "
                         f"{script['win_rate_high']:.2f}]")
            above += [f"{method} on {map_name}"] if side == "above" else []
    return {"claim": "R", "statement": statement, "verdict": f"above: {', '.join(above) or 'none'}",
            "leans": "; ".join(f"{m}: {s['policy']} {s['win_rate']:.2f}" for m, s in scripts.items()),
            "evidence": "; ".join(parts), "data": str(reference_root), "budget": budget}


def claims_table(smac_root: str | Path, matrix_root: str | Path | list | None = None,
                 continuous_root: str | Path | None = None, reference_root: str | Path | None = None,
                 off_policy: dict | None = None) -> pd.DataFrame:
    """C1–C8 and the reference row R in one table (``matrix_root``: one folder, or several whose first decides C1
    and the others are shown as "C1 (record)"); C3–C5 also give the stochastic policy's verdict, and every
    row its budget (SMAX claims: the steps per map; the others: what they were computed on). ``off_policy`` is
    C8's row, computed by ``nqmix_core.teaching.theory.off_policy.off_policy_claim`` (teaching code the library does not
    import); without it C8 reads "not measured"."""
    smac_root = Path(smac_root)
    runs = results.load_runs(smac_root)
    by_policy = smac_by_policy(runs).set_index("claim")
    final, budget = results.final_win_rates(runs), budgets(runs)
    smac = [{**claim, "budget": budget} for claim in smac_claims(final, data=str(smac_root))]
    folders = [matrix_root] if isinstance(matrix_root, (str, Path)) else list(matrix_root or [])
    matrix = [matrix_claim(Path(folders[0]))] if folders else [not_measured("C1", "matrix games", "no folder given")]
    matrix += [{**matrix_claim(Path(f)), "claim": "C1 (record)"} for f in folders[1:]]  # shown, not deciding
    continuous = (continuous_claims(Path(continuous_root)) if continuous_root
                  else [not_measured("C7", "continuous actions", "no folder given")])
    rows = [*matrix, {**overestimation_claim(runs, str(smac_root)), "budget": budget}, *smac,
            parameter_claim(smac_root), *continuous,
            off_policy or not_measured("C8", "Eq. 3/7 with states from the behaviour policy b is the policy gradient "
                                             "(App. A)", "pass nqmix_core.teaching.theory.off_policy.off_policy_claim()"),
            reference_claim(final, Path(reference_root) if reference_root else None, budget)]
    table = pd.DataFrame(rows)
    table["verdict (stochastic)"] = [by_policy["verdict (stochastic)"].get(c, "") for c in table["claim"]]
    table["budget"] = table["budget"].fillna("")
    return table[["claim", "statement", "verdict", "verdict (stochastic)", "budget", "leans", "evidence", "data"]]
