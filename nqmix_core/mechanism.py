"""Why the paper's NQMIX fails on SMAX 2s3z: explanations, the variant that tests each, and the rules that decide.

    table = run_table(load_family(["data/mechanism_2s3z", BASELINE]))   # one row per run, early sign agreement
    decisions(table)                                                     # the verdicts below, with their numbers

Used by notebook 06 and ``nqmix plot``'s report; nothing here trains. The variants are presets of
``registry.PRESETS`` (each changes one thing of the paper's NQMIX); their runs are in
``data/mechanism_2s3z`` (``grid.yaml`` there), at the reward scale ``reward_check`` chose, batch 8 and the
paper's protocol, seeds 0–2; the paper's NQMIX at the same settings is the baseline.

**Explanations and predictions, written before the runs** (the variant that tests each in brackets):

* E1 *Too few optimiser steps.* Alg. 1 steps once per time step; the kit once per mini-batch, about T×
  fewer. Prediction: more steps per batch beat NQMIX (``nqmix-steps4``: 4× the cost).
* E2 *Opposite credit through the shared network.* At initialisation the agents' slopes ∂Q_tot/∂Q_a
  differ in sign, so agents push the shared DRQN's Q_a in opposite directions; runs that learn are those
  whose agents came to share one sign early. Prediction: forcing one sign beats NQMIX (``nqmix-mono``:
  QMIX's monotone mixer, every slope ≥ 0; ``nqmix-sign-init``: the NQMIX mixer started with one sign on
  its Q inputs), and across runs early agreement goes with the final win rate.
* E3 *Actors commit before the critic knows anything.* Prediction: slower actors beat NQMIX
  (``nqmix-slow-actor``: actor lr 5e-5; ``nqmix-actor-delay``: no actor step for the first 20k steps).
* E4 *A first-order rule at the sampled partner actions.* The sign rule scores agent a's actions by
  sign·Q_a, a linearisation of the mixer at the taken actions. Prediction: scoring them through the mixer
  itself beats NQMIX (``nqmix-mixer-actor``).
* E5 *Noisy small batches.* Prediction: batch 32 beats batch 8 (the paper's ``nqmix`` preset, whose batch is
  32, in a grid that does not ``--set batch_size=8``; 3–4× the cost). Its runs are ``nqmix-b32`` (the same
  configuration under a name of its own) in ``data/mechanism_2s3z/batch32`` (``BATCH32``), read with the
  rest by ``study_roots``.

**Rules** (greedy policy, as every claim; final = the mean of the last ``results.LAST_EVALUATIONS``
evaluations):

* *Known answer first*: a variant still learns 3m when its 3m run (seed 0, 150k steps) ends with a final
  greedy win rate ≥ ``LEARNS_3M`` (0.5). A variant that does not is reported and not read on 2s3z.
* *Beats NQMIX* on 2s3z: the 95% Welch interval of mean final (variant − NQMIX) over seeds 0–2 lies above 0.
  *Not better*: its upper end lies below ``MARGIN`` (+0.10). Otherwise *inconclusive*.
* An explanation is *supported* when one of its variants learns 3m and beats NQMIX; *not supported* when
  every one of its variants that ran is not better; otherwise *inconclusive*; *not run* when none ran.
  Until a variant has all three 2s3z seeds it is *pending* (its interval so far is shown, not decided),
  and so is its explanation.
* *Early sign agreement* of a run: ``train_diag_sign_agreement`` at its 50k row. Runs made before that
  column existed have per-agent negative-slope fractions p_a; for them the Bonferroni bound
  max(0, 1 − Σ p_a, 1 − Σ (1 − p_a)) ≤ agreement is used, and marked as a bound.
* A variant that beats NQMIX on 2s3z goes on to 3s5z and to the 1M-step grid.

**Follow-up, written after the 3-seed verdicts were read (so it is a second look, reported as such):**
every 3-seed verdict was inconclusive, because the baseline's own seeds spread from 0 to 0.44. A variant
whose 3-seed verdict is inconclusive and whose mean exceeds NQMIX's by at least ``FOLLOW_UP_LEAD`` (0.2)
gets seeds 3 and 4, and so does NQMIX at the same settings; the same rule is then read on seeds 0–4
(``follow_up``). The 3-seed verdict stays the record; a follow-up that beats NQMIX is "supported on a
second look", not a pre-registered result, until a fresh set of seeds repeats it.

**Confirmation, written before its runs (after the follow-up read NQMIX+mono "beats NQMIX (second look)",
+0.31 [+0.01, +0.61]):** each variant whose follow-up beats NQMIX is run on fresh seeds
``CONFIRM_SEEDS`` (5–9), and so is NQMIX at the same settings (``data/mechanism_2s3z/confirm``, its own
grid, so that it runs beside E1 and E5); only those seeds are read, so the earlier
looks cannot leak in. *Confirmed* when the 95% Welch interval of mean final (variant − NQMIX) over seeds 5–9
lies above 0; *not confirmed* when its upper end lies below ``MARGIN``; otherwise *inconclusive*; *pending*
until both have all five (``confirmation``). Only a confirmed variant goes on to 3s5z and the 1M-step grid.

**The 1M-step grid, written before its runs (after the confirmation read NQMIX+mono "confirmed",
+0.22 [+0.01, +0.44]):** each confirmed variant runs on 2s3z and 3s5z to 1M steps, seeds ``LONG_SEEDS``
(0–4), at the settings of ``data/long_1m`` (batch 8, reward × 10, the paper's protocol), in
``data/mechanism_2s3z/long`` (``LONG``, its own grid); the NQMIX and QMIX runs of ``data/long_1m`` (seeds
0–4) are the baselines. Each map is read at each budget of ``claims_budgets.BUDGETS`` (300k and 1M: the same
runs cut by ``results.at_budget``), twice, by the 95% Welch interval of mean final (variant − baseline):

* *against NQMIX*, by the study's rule: "beats NQMIX" above 0, "not better" when its upper end is under
  ``MARGIN``, otherwise "inconclusive";
* *against QMIX* (does the monotone mixer close NQMIX's gap to QMIX? NQMIX+mono is QMIX's mixer trained by
  NQMIX's actors and critic): "above QMIX" when the interval lies above 0, "below QMIX" when it lies below 0,
  otherwise "inconclusive".

A cell is *pending* until the variant, NQMIX and QMIX each have all five seeds complete at its budget
(``long_reading``). The 1M cells are the record; 3s5z has not been read by the study before at any budget.
*Seen after its first runs (a fact, not a rule):* on the same CPU model a 1M-step run's first 300k steps
are, bit for bit, the 300k-step run of the same seed and settings (``tests/test_claims_budgets.py`` checks
it on the committed runs), so the 2s3z cell at 300k mostly repeats the follow-up's reading: shown, not new
evidence. Seed 4 on 2s3z was trained on another CPU model than its 300k run and parted from it at the first
update, so that one seed is a fresh sample.
"""
from __future__ import annotations

import itertools
import math
from pathlib import Path

import pandas as pd

from nqmix_core import results
from nqmix_core.claims_budgets import BUDGETS, budget_label

EXPLANATIONS = {
    "E1": ("too few optimiser steps per episode", ("nqmix-steps4",)),
    "E2": ("opposite credit through the shared network", ("nqmix-mono", "nqmix-sign-init")),
    "E3": ("actors commit before the critic learns", ("nqmix-slow-actor", "nqmix-actor-delay")),
    "E4": ("a first-order rule at the sampled partner actions", ("nqmix-mixer-actor",)),
    "E5": ("noisy small batches", ("nqmix-b32",)),
}
"""Explanation -> (what it says, the presets that test it)."""
PAPER = "nqmix"
FAMILY = ("nqmix", "nqmix-m", "nqmix-eps", "nqmix-ent", "nqmix-tau-batch",
          *(v for _, variants in EXPLANATIONS.values() for v in variants))
LEARNS_3M = 0.5
MARGIN = 0.10
FOLLOW_UP_LEAD, FOLLOW_UP_SEEDS = 0.2, (0, 1, 2, 3, 4)
CONFIRM_SEEDS = (5, 6, 7, 8, 9)
EARLY_STEP = 50_000
AGREEMENT = "train_diag_sign_agreement"


LONG_SEEDS, LONG_MAPS, QMIX = (0, 1, 2, 3, 4), ("2s3z", "3s5z"), "qmix"


BATCH32, CONFIRM, LONG = "batch32", "confirm", "long"
"""Subfolders of the study's folder, each with a grid of its own: the paper's batch of 32 (E5), the
confirmation's fresh seeds (``confirmation``) and the confirmed variant's 1M-step runs (``long_reading``)."""


def study_roots(folder: str | Path) -> list[Path]:
    """The study's run folders: ``folder`` and each of its ``BATCH32`` and ``CONFIRM`` subfolders that holds runs."""
    folder = Path(folder)
    extra = [folder / name for name in (BATCH32, CONFIRM)]
    return [folder, *(f for f in extra if any(f.glob("*/*/seed*/progress.csv")))]


def load_family(roots: list[str | Path]) -> pd.DataFrame:
    """Every evaluation row of every NQMIX-family run under ``roots`` (``results.load_runs``), with its root."""
    frames = []
    for root in roots:
        runs = results.load_runs(root)
        frames.append(runs[runs["algo"].isin(FAMILY)].assign(root=str(root)))
    return pd.concat(frames, ignore_index=True)


def early_agreement(run: pd.DataFrame, step: int = EARLY_STEP) -> tuple[float, bool]:
    """(sign agreement at ``step``, whether it is the Bonferroni lower bound): NaN when the run has no such row."""
    row = run[run["t_eval"] == step]
    if not len(row):
        return math.nan, False
    if AGREEMENT in row and not pd.isna(row[AGREEMENT].iloc[0]):
        return float(row[AGREEMENT].iloc[0]), False
    agents = [c for c in row.columns if c.startswith("train_diag_sign_negative_agent")]
    p = row[agents].iloc[0].astype(float).dropna()  # other maps' runs add columns for agents this map lacks
    if len(p) < 2:
        return math.nan, False
    return max(0.0, 1.0 - p.sum(), 1.0 - (1.0 - p).sum()), True


def run_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per complete run: root, map, algo, method, seed, reward scale, final greedy, early agreement."""
    rows = []
    for (root, map_name, algo, seed), run in results.complete(runs).groupby(["root", "map", "algo", "seed"]):
        run = run.sort_values("t_env")
        agreement, bound = early_agreement(run)
        rows.append({"root": root, "map": map_name, "algo": algo, "method": run["method"].iloc[0], "seed": int(seed),
                     "reward_scale": float(run["reward_scale"].iloc[0]), "t_env": int(run["t_env"].iloc[-1]),
                     "final": float(run[results.POLICIES["greedy"]].tail(results.LAST_EVALUATIONS).mean()),
                     "early_agreement": agreement, "agreement_is_bound": bound})
    return pd.DataFrame(rows)


def _final_frame(table: pd.DataFrame, map_name: str, algos: tuple[str, ...], scale: float,
                 seeds: tuple[int, ...] = (0, 1, 2)) -> pd.DataFrame:
    chosen = table[(table["map"] == map_name) & table["algo"].isin(algos) & (table["reward_scale"] == scale)
                   & table["seed"].isin(seeds)]
    return chosen.drop_duplicates(["algo", "seed"])[["map", "method", "seed", "final"]]


def _reading(c, above: str, below: str) -> str:
    """The study's one rule on a comparison's interval: ``above`` when it lies above 0, ``below`` when its
    upper end is under ``MARGIN``, otherwise "inconclusive"."""
    return above if c.low > 0 else below if c.high < MARGIN else "inconclusive"


def sided(c, above: str, below: str) -> str:
    """The two-sided form: ``above`` / ``below`` when the interval lies above / below 0, otherwise "inconclusive"."""
    return above if c.low > 0 else below if c.high < 0 else "inconclusive"


def variant_verdict(table: pd.DataFrame, variant: str, scale: float) -> dict:
    """The rules for one variant: does it learn 3m, does it beat the paper's NQMIX on 2s3z."""
    label = results.LABELS.get(variant, variant)
    known = table[(table["map"] == "3m") & (table["algo"] == variant) & (table["reward_scale"] == scale)]
    learns = None if not len(known) else bool(known["final"].mean() >= LEARNS_3M)
    row = {"variant": label, "learns 3m": {None: "not run", True: "yes", False: "no"}[learns],
           "3m final": f"{known['final'].mean():.2f}" if len(known) else "—"}
    final = _final_frame(table, "2s3z", (PAPER, variant), scale)
    seeds, paper_seeds = int((final["method"] == label).sum()), int((final["method"] == "NQMIX").sum())
    waiting = "not run" if seeds == 0 else f"pending ({seeds} of 3 seeds" + (
        ")" if paper_seeds >= 3 else f"; NQMIX {paper_seeds} of 3)")  # the baseline can be the one waited for
    if seeds < 2 or paper_seeds < 2:
        return {**row, "2s3z": waiting, "evidence": "—"}
    c = results.compare(final, "2s3z", label, "NQMIX")
    if seeds < 3 or paper_seeds < 3:  # the rule reads seeds 0-2 of both: until all are in, shown, not decided
        return {**row, "2s3z": waiting, "evidence": c.text() + " (so far)"}
    verdict = _reading(c, "beats NQMIX", "not better") + (" (but fails 3m)" if learns is False else "")
    return {**row, "2s3z": verdict, "evidence": c.text()}


def decisions(table: pd.DataFrame, scale: float) -> pd.DataFrame:
    """One row per explanation: its variants' verdicts and the explanation's, by the module's rules."""
    rows = []
    for key, (claim, variants) in EXPLANATIONS.items():
        verdicts = [variant_verdict(table, v, scale) for v in variants]
        ran = [v for v in verdicts if v["2s3z"] != "not run"]
        if not ran:
            answer = "not run"
        elif any(v["2s3z"].startswith("pending") for v in ran):
            answer = "pending"
        elif any(v["2s3z"] == "beats NQMIX" and v["learns 3m"] == "yes" for v in ran):
            answer = "supported"
        elif all(v["2s3z"].startswith("not better") for v in ran):
            answer = "not supported"
        else:
            answer = "inconclusive"
        for v in verdicts:
            rows.append({"explanation": f"{key}: {claim}", "verdict": answer, **v})
    return pd.DataFrame(rows)


def follow_up(table: pd.DataFrame, scale: float) -> pd.DataFrame:
    """The second look (module docstring): each variant that qualifies, read on seeds 0–4 by the same rule."""
    rows = []
    for variant in (v for _, variants in EXPLANATIONS.values() for v in variants):
        first = variant_verdict(table, variant, scale)
        three = _final_frame(table, "2s3z", (PAPER, variant), scale)
        if first["2s3z"] != "inconclusive" or three.empty:
            continue
        label = results.LABELS.get(variant, variant)
        lead = three[three["method"] == label]["final"].mean() - three[three["method"] == "NQMIX"]["final"].mean()
        if lead < FOLLOW_UP_LEAD:
            continue
        five = _final_frame(table, "2s3z", (PAPER, variant), scale, FOLLOW_UP_SEEDS)
        counts = five.groupby("method").size()
        if (counts < len(FOLLOW_UP_SEEDS)).any() or len(counts) < 2:
            rows.append({"variant": label, "3 seeds": first["2s3z"], "lead at 3 seeds": round(lead, 2),
                         "5 seeds": f"pending ({', '.join(f'{m} {n}' for m, n in counts.items())} of "
                                    f"{len(FOLLOW_UP_SEEDS)} seeds)", "evidence": "—"})
            continue
        c = results.compare(five, "2s3z", label, "NQMIX")
        verdict = _reading(c, "beats NQMIX (second look)", "not better")
        rows.append({"variant": label, "3 seeds": first["2s3z"], "lead at 3 seeds": round(lead, 2),
                     "5 seeds": verdict, "evidence": c.text()})
    return pd.DataFrame(rows, columns=["variant", "3 seeds", "lead at 3 seeds", "5 seeds", "evidence"])


def confirmation(table: pd.DataFrame, scale: float) -> pd.DataFrame:
    """The pre-registered repeat (module docstring): each variant whose follow-up beats NQMIX, on seeds 5–9 alone."""
    rows = []
    for row in follow_up(table, scale).to_dict("records"):
        if not row["5 seeds"].startswith("beats NQMIX"):
            continue
        variant = next(v for v in FAMILY if results.LABELS.get(v, v) == row["variant"])
        fresh = _final_frame(table, "2s3z", (PAPER, variant), scale, CONFIRM_SEEDS)
        counts = fresh.groupby("method").size()
        if len(counts) < 2 or (counts < len(CONFIRM_SEEDS)).any():
            have = ", ".join(f"{m} {n}" for m, n in counts.items()) or "none"
            rows.append({"variant": row["variant"], "seeds 5-9": f"pending ({have} of {len(CONFIRM_SEEDS)} seeds)",
                         "evidence": "—"})
            continue
        c = results.compare(fresh, "2s3z", row["variant"], "NQMIX")
        verdict = _reading(c, "confirmed", "not confirmed")
        rows.append({"variant": row["variant"], "seeds 5-9": verdict, "evidence": c.text()})
    return pd.DataFrame(rows, columns=["variant", "seeds 5-9", "evidence"])


def long_runs(folder: str | Path, long_root: str | Path) -> pd.DataFrame | None:
    """The runs ``long_reading`` reads: the variants' runs in ``folder``'s ``LONG`` subfolder and the NQMIX and
    QMIX runs of ``long_root`` at the same reward scale (``results.load_runs`` rows); None before a run is in."""
    here = Path(folder) / LONG
    if not any(here.glob("*/*/seed*/progress.csv")):
        return None
    mine, base = results.load_runs(here), results.load_runs(long_root)
    base = base[base["algo"].isin((PAPER, QMIX)) & base["reward_scale"].isin(set(mine["reward_scale"]))]
    return pd.concat([mine[mine["algo"] != PAPER], base], ignore_index=True)


def long_reading(runs: pd.DataFrame, seeds: tuple[int, ...] = LONG_SEEDS,
                 maps: tuple[str, ...] = LONG_MAPS) -> pd.DataFrame:
    """The 1M-step grid's rule (module docstring): per variant in ``runs``, map and budget, against NQMIX and QMIX
    (``mechanism_repeat`` reads its fresh seeds with it)."""
    rows = []
    for variant, steps in itertools.product(sorted(set(runs["algo"]) - {PAPER, QMIX}), BUDGETS):
        label = results.LABELS.get(variant, variant)
        final = results.final_win_rates(results.at_budget(runs[runs["seed"].isin(seeds)], steps))
        for map_name in maps:
            counts = final[final["map"] == map_name].groupby("method").size()
            short = [f"{m} {counts.get(m, 0)}" for m in (label, "NQMIX", "QMIX") if counts.get(m, 0) < len(seeds)]
            row = {"map": map_name, "at": budget_label(steps), "variant": label}
            if short:
                waiting = f"pending ({', '.join(short)} of {len(seeds)} seeds)"
                rows.append({**row, "against NQMIX": waiting, "against QMIX": waiting, "evidence": "—"})
                continue
            nqmix, qmix = (results.compare(final, map_name, label, y) for y in ("NQMIX", "QMIX"))
            rows.append({**row, "against NQMIX": _reading(nqmix, "beats NQMIX", "not better"),
                         "against QMIX": sided(qmix, "above QMIX", "below QMIX"),
                         "evidence": f"{nqmix.text()}; {qmix.text()}"})
    return pd.DataFrame(rows, columns=["map", "at", "variant", "against NQMIX", "against QMIX", "evidence"])
