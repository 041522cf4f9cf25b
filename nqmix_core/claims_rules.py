"""The claims table's decision rules and constants, fixed before the data they read (issues 14 and 23).

* *X ≥ Y* holds when X is better (the 95% Welch interval of X − Y lies above 0) or X and Y are
  *equivalent* by two one-sided tests (the 90% interval lies inside ±``results.EQUIVALENCE_MARGIN``,
  0.10); it does not hold when Y is better; otherwise it is inconclusive.
* *X > Y* holds only when X is better; equivalence or Y better does not hold it.
* *X < Y* holds when Y is better; X better does not hold it.
* A claim holds when every part holds and does not hold when one part does not; each verdict is
  printed with the budget of the runs it was decided on ("at 300k steps").
"""
from __future__ import annotations

from nqmix_core.results import Comparison

FITS = 1.0
"""C1: a Q_tot table "represents" the payoff when its RMSE over the joint actions is below this (payoff range 20)."""
SIMILAR = 1.25
"""C6: parameter counts within this factor of each other are "similar"."""
EXACT, BIASED = 1e-9, 0.01
"""C8: relative error of Eq. 3 against ∇J below EXACT is "exact"; above BIASED is "biased"."""
SMAC_MAPS = ("3m", "2s3z", "3s5z")


# --------------------------------------------------------------------------- verdict rules


def at_least(c: Comparison) -> str:
    """X ≥ Y: X better or equivalent (TOST) holds; Y better does not hold; otherwise inconclusive."""
    if c.low > 0 or c.equivalent():
        return "holds"
    return "does not hold" if c.high < 0 else "inconclusive"


def greater(c: Comparison) -> str:
    """X > Y: only X better holds; equivalence (TOST) or Y better does not hold."""
    if c.low > 0:
        return "holds"
    return "does not hold" if c.high < 0 or c.equivalent() else "inconclusive"


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


def row(claim: str, statement: str, parts: list[tuple[str, Comparison]], data: str) -> dict:
    return {"claim": claim, "statement": statement, "verdict": combine([v for v, _ in parts]),
            "leans": "; ".join(f"{c.map}: {leans(c)}" for _, c in parts),
            "evidence": "; ".join(f"{c.text()} → {v}" for v, c in parts), "data": data}


def not_measured(claim: str, statement: str, why: str) -> dict:
    return {"claim": claim, "statement": statement, "verdict": "not measured", "leans": "", "evidence": why,
            "data": ""}
