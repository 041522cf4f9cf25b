"""Claims C1, C6 and C7: decided on small games and on sizes, not on SMAX win rates.

The rules are in ``nqmix_core/claims.py``'s table; this module computes these rows for it. C8 is computed
exactly on tabular MDPs by ``nqmix_core.teaching.theory.off_policy`` (teaching code, which the library does not
import): ``nqmix plot`` and notebook 05 pass its row to ``claims.claims_table``.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from scipy import stats

from nqmix_core import results
from nqmix_core.claims_rules import FITS, SIMILAR, SMAC_MAPS, at_least, combine, greater, leans, not_measured
from nqmix_core.results import Comparison, compare


# --------------------------------------------------------------------------- C1: matrix games


def matrix_claim(folder: Path) -> dict:
    """C1 from ``nqmix demo``'s matrix_runs.csv (one row per method and seed)."""
    statement = "monotonic mixers cannot represent a non-monotonic payoff; NQMIX's critic can"
    path = folder / "matrix_runs.csv"
    if not path.exists():
        return not_measured("C1", statement, f"{path} is missing; run `nqmix demo --out {folder}`")
    runs = pd.read_csv(path)
    rmse = runs.groupby("method")["q_tot_rmse"]
    monotonic = [m for m in ("VDN", "QMIX") if m in rmse.groups]
    free = "NQMIX, uniform data"
    if not monotonic or free not in rmse.groups:
        return not_measured("C1", statement, f"{path} lacks VDN/QMIX or '{free}' rows")
    verdicts = [("holds" if rmse.get_group(m).min() >= FITS else "does not hold") for m in monotonic]
    verdicts.append("holds" if rmse.get_group(free).max() < FITS else "does not hold")
    found = runs[runs["method"] == "NQMIX"]["success"]
    evidence = [f"{m} Q_tot RMSE {rmse.get_group(m).min():.2f}–{rmse.get_group(m).max():.2f}" for m in monotonic]
    fits = rmse.get_group(free) < FITS
    evidence.append(f"NQMIX critic on uniform data {rmse.get_group(free).min():.2f}–{rmse.get_group(free).max():.2f}"
                    f", below {FITS} on {int(fits.sum())}/{len(fits)} seeds")
    evidence.append(f"finds the optimum on its own policy: NQMIX {int(found.sum())}/{len(found)} seeds")
    if "updates" in runs:
        updates = runs["updates"].max()
    else:  # older folders: the demo's fixed budget, in its manifest
        import json
        manifest = folder / "matrix_manifest.json"
        updates = json.loads(manifest.read_text()).get("updates") if manifest.exists() else None
    return {"claim": "C1", "statement": statement, "verdict": combine(verdicts),
            "leans": f"NQMIX finds (A, A) on {int(found.sum())} of {len(found)} seeds",
            "evidence": "; ".join(evidence), "data": str(folder),
            "budget": f"up to {int(updates)} updates per run" if updates is not None and updates == updates else ""}


# --------------------------------------------------------------------------- C6: parameter counts


def parameter_claim(runs_root: Path) -> dict:
    """C6 from each map's sizes, read from the sweep's manifests (``env_info``)."""
    import json

    from nqmix_core.networks.mixers import mixer_parameter_counts

    statement = "the NQMIX and QMIX mixers have similar parameter counts"
    sizes = {}
    for path in sorted(runs_root.glob("*/*/seed*/manifest.json")):
        manifest = json.loads(path.read_text())
        info, env = manifest.get("env_info") or {}, manifest["run_config"]["env"]
        if "n_agents" in info and "state_dim" in info:
            sizes.setdefault(env.partition(":")[2], (info["n_agents"], info["state_dim"]))
    if not sizes:
        return not_measured("C6", statement, f"no manifest under {runs_root} records env_info")
    order = [m for m in SMAC_MAPS if m in sizes] + sorted(set(sizes) - set(SMAC_MAPS))
    counts = {m: mixer_parameter_counts(*sizes[m]) for m in order}
    # judged on the QMIX paper's one-layer hypernetworks, whose count 32·(A+4)−A hidden units match;
    # pymarl's two-layer ones (what the kit trains) are shown beside
    verdicts = ["holds" if 1 / SIMILAR <= c["ratio_one_layer"] <= SIMILAR else
                "does not hold" if not 0.5 <= c["ratio_one_layer"] <= 2 else "inconclusive" for c in counts.values()]
    evidence = "; ".join(f"{m} (N={sizes[m][0]}, state {sizes[m][1]}): NQMIX {c['nqmix']:,.0f} vs QMIX with "
                         f"one-layer hypernetworks {c['qmix_one_layer']:,.0f} (ratio {c['ratio_one_layer']:.2f}), "
                         f"with pymarl's two-layer ones {c['qmix']:,.0f} (ratio {c['ratio']:.2f})"
                         for m, c in counts.items())
    one, two = [c["ratio_one_layer"] for c in counts.values()], [c["ratio"] for c in counts.values()]
    return {"claim": "C6", "statement": statement + " (judged against QMIX's one-layer hypernetworks)",
            "verdict": combine(verdicts),
            "leans": f"ratio NQMIX/QMIX {min(one):.2f}–{max(one):.2f} (one-layer), {min(two):.2f}–{max(two):.2f} (two-layer)",
            "evidence": evidence, "data": f"{runs_root} (manifests), nqmix_core.networks.mixers.mixer_parameter_counts",
            "budget": "exact counts"}


# --------------------------------------------------------------------------- C7: continuous actions


def continuous_claims(folder: Path) -> list[dict]:
    """C7 (the paper's: NQMIX-cont learns, Alg. 2) and C7+ (the kit's own bar: at least as well as IDDPG),
    from a sweep of nqmix-cont, qmix-cont and iddpg on continuous:two-peak."""
    statement = "NQMIX extends to continuous actions (Alg. 2): NQMIX-cont learns"
    extra = "the kit's comparison, not the paper's: NQMIX-cont does at least as well as independent DDPG"
    if not folder.exists():
        return [not_measured("C7", statement, f"{folder} is missing; sweep its grid.yaml")]
    runs = results.load_runs(folder)
    final = results.final_win_rates(runs)
    returns = results.final_win_rates(runs, "test_greedy_return").set_index(["method", "seed"])["final"]
    start = results.complete(runs).sort_values("t_env").groupby(["method", "seed"])["test_greedy_return"].first()
    gain = (returns - start).loc["NQMIX-cont"].to_numpy()
    if len(gain) < 2:
        return [not_measured("C7", statement, f"{folder} holds fewer than 2 complete NQMIX-cont runs")]
    half = stats.t.ppf(0.975, len(gain) - 1) * gain.std(ddof=1) / math.sqrt(len(gain))
    learned = Comparison("two-peak", "after", "before", float(returns.loc["NQMIX-cont"].mean()),
                         float(start.loc["NQMIX-cont"].mean()), gain.mean() - half, gain.mean() + half)
    versus = [compare(final, "two-peak", "NQMIX-cont", other) for other in ("IDDPG", "QMIX-cont")]
    budget = f"{int(results.complete(runs)['t_max'].min()):,} steps per run"
    paper = {"claim": "C7", "statement": statement, "verdict": greater(learned),
             "leans": f"greedy return {learned.mean_y:.2f} before, {learned.mean_x:.2f} after",
             "evidence": f"NQMIX-cont greedy return {learned.mean_y:.2f} before → {learned.mean_x:.2f} after, gain "
                         f"{learned.difference:+.2f} [{learned.low:+.2f}, {learned.high:+.2f}]",
             "data": str(folder), "budget": budget}
    kit = {"claim": "C7+", "statement": extra, "verdict": at_least(versus[0]),
           "leans": f"high-peak win rate: {leans(versus[0])}; beside it, against QMIX-cont: {leans(versus[1])}",
           "evidence": f"{versus[0].text()}; beside it: {versus[1].text()}", "data": str(folder), "budget": budget}
    return [paper, kit]
