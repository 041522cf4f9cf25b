"""The claims table: every claim of the paper the kit tests, C1–C8, each decided from data by a rule.

    table = claims.claims_table("data/reproduction_cpu", "data/matrix_qtran", "data/continuous_two_peak")

Used by ``nqmix plot`` (which writes it to ``claims.md`` and into the README) and by notebook 05.
Every rule below was written down before the data it reads were looked at (issue 14); a claim whose
folder is missing is "not measured", never guessed.

| claim | statement (paper)                                   | data                                   | rule |
|-------|-----------------------------------------------------|----------------------------------------|------|
| C1    | monotonic mixers cannot represent a non-monotonic payoff; NQMIX's can (Sec. 1, 4.2) | ``nqmix demo`` folder: ``matrix_runs.csv`` | holds when VDN's and QMIX's learned Q_tot misses the payoff (RMSE ≥ ``FITS``) and NQMIX's critic trained on uniform data fits it (RMSE < ``FITS``) on every seed; "finds the optimum" (the paper's own policy reaching (A, A)) is reported beside it |
| C2    | NQMIX's state-value target overestimates less than QMIX's max target (Sec. 4.3) | sweep folder: ``train_diag_q_tot_minus_return`` | per run, the mean of Q_tot − G_t over the log rows of the run's second half; NQMIX − QMIX per map by ``results.compare``: holds when NQMIX is lower on every map, does not hold when it is higher on one |
| C3    | on heterogeneous maps NQMIX ≥ QMIX > COMA (Fig. 2) | sweep folder | ``results.compare`` on final greedy win rates (see ``results``) |
| C4    | on 3m NQMIX lies between QMIX and COMA (Fig. 2)   | sweep folder | the same |
| C5    | NQMIX-M ≤ NQMIX (Fig. 3)                            | sweep folder | the same |
| C6    | the two mixers have similar parameter counts (Sec. 5, App. B.1) | the sweep's manifests (each map's n_agents, state_dim) | ratio NQMIX/QMIX mixer parameters in [1/``SIMILAR``, ``SIMILAR``] on every map: holds; outside [1/2, 2] on one: does not hold |
| C7    | NQMIX extends to continuous actions (Alg. 2)        | sweep folder of ``continuous:two-peak`` | holds when NQMIX-cont's final greedy return is above its return before training (paired 95% t-interval above 0) and its final win rate is at least independent DDPG's (``results.compare``); QMIX-cont is shown beside |
| C8    | Eq. 7, the off-policy gradient, is the policy gradient (App. A) | computed exactly (``theory.tabular``, float64) | "exact only on-policy": holds when Eq. 3 matches ∇J to ``EXACT`` relative error with b = π and misses it by more than ``BIASED`` with b ≠ π, on every random MDP |

A verdict is "holds", "does not hold", "inconclusive" or "not measured". Columns of the table:
claim, statement, verdict, leans (which way the point estimates go and by how much), evidence, data.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import torch
from scipy import stats

from nqmix_core import results
from nqmix_core.results import Comparison, compare

FITS = 1.0
"""C1: a Q_tot table "represents" the payoff when its RMSE over the joint actions is below this (payoff range 20)."""
SIMILAR = 1.25
"""C6: parameter counts within this factor of each other are "similar"."""
EXACT, BIASED = 1e-9, 0.01
"""C8: relative error of Eq. 3 against ∇J below EXACT is "exact"; above BIASED is "biased"."""
SMAC_MAPS = ("3m", "2s3z", "3s5z")


# --------------------------------------------------------------------------- verdict rules


def at_least(c: Comparison) -> str:
    """X ≥ Y: X better or decisively tied holds; Y better does not hold; otherwise inconclusive."""
    return {"X better": "holds", "tied": "holds", "Y better": "does not hold"}.get(c.outcome, "inconclusive")


def greater(c: Comparison) -> str:
    """X > Y: only X better holds; a decisive tie or Y better does not hold."""
    return {"X better": "holds", "tied": "does not hold", "Y better": "does not hold"}.get(c.outcome, "inconclusive")


def lower(c: Comparison) -> str:
    """X < Y (X's interval of X − Y lies below 0)."""
    return {"Y better": "holds", "X better": "does not hold"}.get(c.outcome, "inconclusive")


def combine(verdicts: list[str]) -> str:
    """A claim holds when every part holds and does not hold when one part does not."""
    if "does not hold" in verdicts:
        return "does not hold"
    return "holds" if verdicts and all(v == "holds" for v in verdicts) else "inconclusive"


def leans(c: Comparison) -> str:
    """Which way the point estimate goes, e.g. "QMIX by 0.12"."""
    if c.difference == 0:
        return "even"
    return f"{c.x if c.difference > 0 else c.y} by {abs(c.difference):.2f}"


def _row(claim: str, statement: str, parts: list[tuple[str, Comparison]], data: str) -> dict:
    return {"claim": claim, "statement": statement, "verdict": combine([v for v, _ in parts]),
            "leans": "; ".join(f"{c.map}: {leans(c)}" for _, c in parts),
            "evidence": "; ".join(f"{c.text()} → {v}" for v, c in parts), "data": data}


def _not_measured(claim: str, statement: str, why: str) -> dict:
    return {"claim": claim, "statement": statement, "verdict": "not measured", "leans": "", "evidence": why,
            "data": ""}


# --------------------------------------------------------------------------- C3–C5: win rates on SMAX


def smac_claims(final: pd.DataFrame, data: str = "", simple: str = "3m",
                heterogeneous: tuple[str, ...] = ("2s3z", "3s5z"), ablation: tuple[str, ...] = ("2s3z", "3s5z")
                ) -> list[dict]:
    """C3–C5 (Sec. 5.1–5.2) from one row per run (``results.final_win_rates``)."""
    c3 = [(rule(c), c) for m in heterogeneous for rule, c in
          ((at_least, compare(final, m, "NQMIX", "QMIX")), (greater, compare(final, m, "QMIX", "COMA")))]
    nq_q, nq_c = compare(final, simple, "NQMIX", "QMIX"), compare(final, simple, "NQMIX", "COMA")
    # "between": NQMIX ≥ the lower of QMIX and COMA and ≤ the higher one, whichever that is
    low_side, high_side = (nq_c, nq_q) if nq_q.mean_y >= nq_c.mean_y else (nq_q, nq_c)
    flipped = Comparison(high_side.map, high_side.y, high_side.x, high_side.mean_y, high_side.mean_x,
                         -high_side.high, -high_side.low)
    c4 = [(at_least(low_side), low_side), (at_least(flipped), flipped)]
    c5 = [(at_least(c), c) for c in (compare(final, m, "NQMIX", "NQMIX-M") for m in ablation)]
    return [_row("C3", "on heterogeneous maps NQMIX ≥ QMIX > COMA", c3, data),
            _row("C4", f"on the simple map ({simple}) NQMIX lies between QMIX and COMA", c4, data),
            _row("C5", "the ablation NQMIX-M does no better than NQMIX", c5, data)]


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


# --------------------------------------------------------------------------- C1: matrix games


def matrix_claim(folder: Path) -> dict:
    """C1 from ``nqmix demo``'s matrix_runs.csv (one row per method and seed)."""
    statement = "monotonic mixers cannot represent a non-monotonic payoff; NQMIX's critic can"
    path = folder / "matrix_runs.csv"
    if not path.exists():
        return _not_measured("C1", statement, f"{path} is missing; run `nqmix demo --out {folder}`")
    runs = pd.read_csv(path)
    rmse = runs.groupby("method")["q_tot_rmse"]
    monotonic = [m for m in ("VDN", "QMIX") if m in rmse.groups]
    free = "NQMIX, uniform data"
    if not monotonic or free not in rmse.groups:
        return _not_measured("C1", statement, f"{path} lacks VDN/QMIX or '{free}' rows")
    verdicts = [("holds" if rmse.get_group(m).min() >= FITS else "does not hold") for m in monotonic]
    verdicts.append("holds" if rmse.get_group(free).max() < FITS else "does not hold")
    found = runs[runs["method"] == "NQMIX"]["success"]
    evidence = [f"{m} Q_tot RMSE {rmse.get_group(m).min():.2f}–{rmse.get_group(m).max():.2f}" for m in monotonic]
    fits = rmse.get_group(free) < FITS
    evidence.append(f"NQMIX critic on uniform data {rmse.get_group(free).min():.2f}–{rmse.get_group(free).max():.2f}"
                    f", below {FITS} on {int(fits.sum())}/{len(fits)} seeds")
    evidence.append(f"finds the optimum on its own policy: NQMIX {int(found.sum())}/{len(found)} seeds")
    return {"claim": "C1", "statement": statement, "verdict": combine(verdicts),
            "leans": f"NQMIX finds (A, A) on {int(found.sum())} of {len(found)} seeds",
            "evidence": "; ".join(evidence), "data": str(folder)}


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
        return _not_measured("C2", statement, str(error))
    row = _row("C2", statement, [(lower(c), c) for c in parts], data)
    row["leans"] = "; ".join(f"{c.map}: {'NQMIX' if c.difference < 0 else 'QMIX'} lower by {abs(c.difference):.2f}"
                             for c in parts)
    return row


# --------------------------------------------------------------------------- C6: parameter counts


def parameter_claim(runs_root: Path) -> dict:
    """C6 from each map's sizes, read from the sweep's manifests (``env_info``)."""
    import json

    from nqmix_core.analysis import mixer_parameter_counts

    statement = "the NQMIX and QMIX mixers have similar parameter counts"
    sizes = {}
    for path in sorted(runs_root.glob("*/*/seed*/manifest.json")):
        manifest = json.loads(path.read_text())
        info, env = manifest.get("env_info") or {}, manifest["run_config"]["env"]
        if "n_agents" in info and "state_dim" in info:
            sizes.setdefault(env.partition(":")[2], (info["n_agents"], info["state_dim"]))
    if not sizes:
        return _not_measured("C6", statement, f"no manifest under {runs_root} records env_info")
    order = [m for m in SMAC_MAPS if m in sizes] + sorted(set(sizes) - set(SMAC_MAPS))
    counts = {m: mixer_parameter_counts(*sizes[m]) for m in order}
    verdicts = ["holds" if 1 / SIMILAR <= c["ratio"] <= SIMILAR else
                "does not hold" if not 0.5 <= c["ratio"] <= 2 else "inconclusive" for c in counts.values()]
    evidence = "; ".join(f"{m} (N={sizes[m][0]}, state {sizes[m][1]}): NQMIX {c['nqmix']:,.0f} vs QMIX "
                         f"{c['qmix']:,.0f}, ratio {c['ratio']:.2f}" for m, c in counts.items())
    spread = [c["ratio"] for c in counts.values()]
    return {"claim": "C6", "statement": statement, "verdict": combine(verdicts),
            "leans": f"ratio NQMIX/QMIX {min(spread):.2f}–{max(spread):.2f}", "evidence": evidence,
            "data": f"{runs_root} (manifests), nqmix_core.analysis.mixer_parameter_counts"}


# --------------------------------------------------------------------------- C7: continuous actions


def continuous_claim(folder: Path) -> dict:
    """C7 from a sweep of nqmix-cont, qmix-cont and iddpg on continuous:two-peak."""
    statement = "NQMIX extends to continuous actions (Alg. 2): it learns, and at least as well as independent DDPG"
    if not folder.exists():
        return _not_measured("C7", statement, f"{folder} is missing; sweep its grid.yaml")
    runs = results.load_runs(folder)
    final = results.final_win_rates(runs)
    returns = results.final_win_rates(runs, "test_greedy_return").set_index(["method", "seed"])["final"]
    start = results.complete(runs).sort_values("t_env").groupby(["method", "seed"])["test_greedy_return"].first()
    gain = (returns - start).loc["NQMIX-cont"].to_numpy()
    if len(gain) < 2:
        return _not_measured("C7", statement, f"{folder} holds fewer than 2 complete NQMIX-cont runs")
    half = stats.t.ppf(0.975, len(gain) - 1) * gain.std(ddof=1) / math.sqrt(len(gain))
    learned = Comparison("two-peak", "after", "before", float(returns.loc["NQMIX-cont"].mean()),
                         float(start.loc["NQMIX-cont"].mean()), gain.mean() - half, gain.mean() + half)
    versus = [compare(final, "two-peak", "NQMIX-cont", other) for other in ("IDDPG", "QMIX-cont")]
    verdicts = [greater(learned), at_least(versus[0])]
    evidence = [f"NQMIX-cont greedy return {learned.mean_y:.2f} before → {learned.mean_x:.2f} after, gain "
                f"{learned.difference:+.2f} [{learned.low:+.2f}, {learned.high:+.2f}] → {verdicts[0]}",
                f"win rate (high peak) {versus[0].text()} → {verdicts[1]}", f"beside it: {versus[1].text()}"]
    return {"claim": "C7", "statement": statement, "verdict": combine(verdicts),
            "leans": f"win rate: {leans(versus[0])} (vs IDDPG), {leans(versus[1])} (vs QMIX-cont)",
            "evidence": "; ".join(evidence), "data": str(folder)}


# --------------------------------------------------------------------------- C8: the off-policy gradient


def off_policy_bias(seeds: range = range(10), lam: float = 1.0) -> pd.DataFrame:
    """Eq. 3 against the exact ∇J on random tabular MDPs, on-policy and with b = softmax((1−λ)θ + λθ_b)."""
    from nqmix_core.theory import tabular as th

    rows = []
    for seed in seeds:
        mdp = th.random_mdp(seed=seed)
        generator = torch.Generator().manual_seed(1000 + seed)
        theta, theta_b = (torch.randn(mdp.n_states, mdp.n_actions, generator=generator, dtype=th.DTYPE)
                          for _ in range(2))
        policy = th.softmax_policy(theta)
        truth = th.exact_gradient(mdp, theta)
        _, q_values = th.value_functions(mdp, policy)
        row = {"seed": seed}
        for name, behaviour in (("on-policy", policy), ("off-policy", th.softmax_policy((1 - lam) * theta + lam * theta_b))):
            eq3 = th.policy_gradient_sum(theta, q_values, th.discounted_visitation(mdp, behaviour))
            row[f"{name} error"] = th.relative_error(eq3, truth).item()
            row[f"{name} cosine"] = th.cosine_similarity(eq3, truth).item()
        rows.append(row)
    return pd.DataFrame(rows)


def off_policy_claim() -> dict:
    """C8: exact on-policy, biased off-policy, on every random MDP."""
    bias = off_policy_bias()
    on, off = bias["on-policy error"], bias["off-policy error"]
    verdicts = ["holds" if on.max() < EXACT else "does not hold", "holds" if off.min() > BIASED else "does not hold"]
    return {"claim": "C8", "statement": "the off-policy gradient (Eq. 3/7) is exact only on-policy",
            "verdict": combine(verdicts), "leans": f"off-policy relative error {off.median():.2f} (median)",
            # the on-policy error is float64 round-off, different on every CPU: print only which side of EXACT it is
            "evidence": f"{len(bias)} random MDPs: relative error on-policy {'below' if on.max() < EXACT else 'above'} "
                        f"{EXACT:g}; off-policy "
                        f"{off.min():.2f}–{off.max():.2f}, cosine to ∇J {bias['off-policy cosine'].min():.2f}–"
                        f"{bias['off-policy cosine'].max():.2f}",
            "data": "computed exactly: nqmix_core.theory.tabular (float64)"}


# --------------------------------------------------------------------------- the whole table


def claims_table(smac_root: str | Path, matrix_root: str | Path | None = None,
                 continuous_root: str | Path | None = None) -> pd.DataFrame:
    """C1–C8 in one table; C3–C5 also give the stochastic policy's verdict ("verdict (stochastic)")."""
    smac_root = Path(smac_root)
    runs = results.load_runs(smac_root)
    by_policy = smac_by_policy(runs).set_index("claim")
    smac = smac_claims(results.final_win_rates(runs), data=str(smac_root))
    matrix = matrix_claim(Path(matrix_root)) if matrix_root else _not_measured("C1", "matrix games", "no folder given")
    continuous = (continuous_claim(Path(continuous_root)) if continuous_root
                  else _not_measured("C7", "continuous actions", "no folder given"))
    rows = [matrix, overestimation_claim(runs, str(smac_root)), *smac, parameter_claim(smac_root), continuous,
            off_policy_claim()]
    table = pd.DataFrame(rows)
    table["verdict (stochastic)"] = [by_policy["verdict (stochastic)"].get(c, "") for c in table["claim"]]
    return table[["claim", "statement", "verdict", "verdict (stochastic)", "leans", "evidence", "data"]]
