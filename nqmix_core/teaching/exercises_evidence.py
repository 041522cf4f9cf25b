"""The write-code exercises of notebooks 05 and 06 (the claims table, the exploration and mechanism studies).

Each check takes the student's function and returns None (pass) or a hint; ``nqmix_core.teaching.exercises`` gathers
``CHECKS`` and ``REFERENCES`` of every such module, so a notebook calls ``ex.check(name, fn)`` for all of them.
The comparison helpers (``as_result``, ``close``, ``diagnose``) are in ``nqmix_core.teaching.exercise_inputs``.

| exercise          | what the student writes                                     | the kit's reference                     |
|-------------------|-------------------------------------------------------------|-----------------------------------------|
| ``equivalence``   | two one-sided tests: the 90% Welch interval and "equivalent" | ``results.compare``, ``Comparison.equivalent`` |
| ``policy_entropy``| H(π) in nats of one probability vector, 0·log 0 = 0         | ``losses.policy_entropy``               |
| ``sign_agreement``| the fraction of steps whose deciding agents share a slope sign | ``diagnostics.mixer_diagnostics``     |
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from nqmix_core import diagnostics, losses, results
from nqmix_core.teaching.exercise_inputs import BLANK, as_result, close, diagnose

# --------------------------------------------------------------------------- references


def reference_equivalence(x, y, margin: float = results.EQUIVALENCE_MARGIN) -> tuple[float, float, bool]:
    """(low90, high90, equivalent) for the per-seed finals ``x`` and ``y`` of two methods on one map."""
    final = pd.DataFrame({"map": "m", "method": ["X"] * len(x) + ["Y"] * len(y), "final": [*x, *y]})
    c = results.compare(final, "m", "X", "Y")
    return float(c.low90), float(c.high90), bool(c.equivalent(margin))


def reference_policy_entropy(p) -> float:
    """H(p) = −Σ p log p in nats (p a probability vector)."""
    return float(losses.policy_entropy(torch.as_tensor(p, dtype=torch.float64)))


def reference_sign_agreement(slopes: torch.Tensor, deciding: torch.Tensor) -> torch.Tensor:
    """slopes [B, T, N] = ∂Q_tot/∂Q_a, deciding [B, T, N] bool -> the 0-dim fraction of agreeing steps."""
    # a step where agent a decides has two available actions, else one: decision_mask reads exactly that
    avail = torch.stack([torch.ones_like(deciding), deciding], dim=-1)  # [B, T, N, 2]
    filled = torch.ones(deciding.shape[:2], dtype=slopes.dtype)  # [B, T]
    total, weight = diagnostics.mixer_diagnostics(slopes, torch.zeros(avail.shape, dtype=slopes.dtype), avail,
                                                  filled)["sign_agreement"]
    return total / weight


# --------------------------------------------------------------------------- checks

EQUIVALENCE_CASES = [([0.50, 0.52, 0.51, 0.49], [0.50, 0.51, 0.49, 0.50]),  # equivalent
                     ([0.50, 0.55, 0.45], [0.48, 0.52, 0.50]),  # close, but 3 seeds are too few
                     ([0.01, 0.00, 0.02], [0.00, 0.01, 0.00]),  # close, but nothing learned
                     ([0.90, 0.80, 0.85], [0.30, 0.40, 0.35]),  # clearly different
                     ([0.60, 0.60, 0.60], [0.60, 0.60, 0.60])]  # no spread at all


def _check_equivalence(fn) -> str | None:
    rng = np.random.default_rng(11)
    cases = [*EQUIVALENCE_CASES, *[(rng.uniform(0.3, 0.7, rng.integers(3, 9)), rng.uniform(0.3, 0.7, rng.integers(3, 9)))
                                   for _ in range(20)]]
    for x, y in cases:
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        low, high, same = reference_equivalence(x, y)
        result = fn(x.copy(), y.copy(), results.EQUIVALENCE_MARGIN)
        if result is None:
            return BLANK
        if not (isinstance(result, tuple) and len(result) == 3):
            return "return a tuple (low90, high90, equivalent), e.g. (-0.04, 0.06, True)"
        shown = f"X = {np.round(x, 2).tolist()}, Y = {np.round(y, 2).tolist()}"
        got = [float(result[0]), float(result[1])]
        if not np.allclose(got, [low, high], rtol=1e-6, atol=1e-9):
            final = pd.DataFrame({"map": "m", "method": ["X"] * len(x) + ["Y"] * len(y), "final": [*x, *y]})
            c95 = results.compare(final, "m", "X", "Y")  # the 95% interval a student may have used instead
            if np.allclose(got, [c95.low, c95.high], rtol=1e-6, atol=1e-9) and c95.low != low:
                return ("that is the 95% interval: two one-sided tests at 5% each together use the 90% one "
                        "(the t quantile at 0.95, not 0.975)")
            return (f"for {shown} the 90% interval should be [{low:+.4f}, {high:+.4f}], yours is "
                    f"[{got[0]:+.4f}, {got[1]:+.4f}]: Welch's interval of mean(X) − mean(Y) with sample variances "
                    f"(ddof=1) and Welch's degrees of freedom; with no spread at all it is the single point")
        if bool(result[2]) != same:
            if not same and max(x.mean(), y.mean()) < results.LEARNED:
                return (f"for {shown} two methods that both learned nothing (means below LEARNED = "
                        f"{results.LEARNED}) say nothing about each other: they are not 'equivalent'")
            return (f"for {shown} (90% interval [{low:+.3f}, {high:+.3f}]) 'equivalent' should be {same}: the whole "
                    f"interval must lie strictly inside (−margin, +margin)")
    return None


def _check_policy_entropy(fn) -> str | None:
    g = torch.Generator().manual_seed(12)
    cases = [[0.99] + [0.01 / 7] * 7, [0.25] * 4, [1.0, 0.0, 0.0], [0.5, 0.5, 0.0]]
    cases += [torch.softmax(3 * torch.randn(int(torch.randint(2, 9, (1,), generator=g)), generator=g), 0).tolist()
              for _ in range(10)]
    for p in cases:
        result = fn(list(p))
        if result is None:
            return BLANK
        try:
            got = float(result)
        except (TypeError, ValueError):
            return f"return one number (a float), not a {type(result).__name__}"
        want = reference_policy_entropy(p)
        if math.isnan(got):
            return "a probability of 0 gives 0·log 0, which is 0 by convention: skip zero entries"
        if not math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9):
            if math.isclose(got, -want, rel_tol=1e-6, abs_tol=1e-9):
                return "the sign is flipped: entropy is minus Σ p·log p, and it is never negative"
            if math.isclose(got, want / math.log(2), rel_tol=1e-6, abs_tol=1e-9):
                return "that is in bits: use the natural logarithm (nats), as the kit's logs do"
            return f"for p = {[round(v, 3) for v in p]} the entropy is {want:.4f} nats, yours is {got:.4f}"
    return None


def _check_sign_agreement(fn) -> str | None:
    g = torch.Generator().manual_seed(13)
    slopes = torch.randn(5, 7, 3, generator=g, dtype=torch.float64)  # [B, T, N]
    slopes[:2] = slopes[:2].abs() * torch.where(torch.rand(2, 7, 1, generator=g) < 0.5, -1.0, 1.0)  # agreeing steps
    deciding = torch.rand(5, 7, 3, generator=g) > 0.3  # [B, T, N]
    want = reference_sign_agreement(slopes, deciding)
    got, hint = as_result(fn(slopes.clone(), deciding.clone()), ())
    if hint or close(got, want):
        return hint
    everyone = torch.ones_like(deciding)
    positive_only = ((slopes > 0) | ~deciding).all(-1)  # [B, T]
    voting = (deciding.sum(-1) >= 2).double()  # [B, T]
    return diagnose(got, [
        ("only deciding agents vote: a dead unit's slope carries no credit, leave it out of the comparison",
         reference_sign_agreement(slopes, everyone)),
        ("agreement on a negative sign counts as well: every deciding slope < 0 agrees too",
         (positive_only.double() * voting).sum() / voting.sum()),
        ("a step with fewer than two deciding agents has nothing to agree on: leave it out of the count",
         (((slopes > 0) | ~deciding).all(-1) | ((slopes < 0) | ~deciding).all(-1)).double()[voting > 0].sum()
         / voting.numel()),
    ], "count the steps with at least two deciding agents, and among them the share where every deciding "
       "agent's slope has one sign (all > 0 or all < 0)")


CHECKS = {"equivalence": _check_equivalence, "policy_entropy": _check_policy_entropy,
          "sign_agreement": _check_sign_agreement}
"""exercise name -> check(fn) returning None or a hint."""
REFERENCES = {"equivalence": reference_equivalence, "policy_entropy": reference_policy_entropy,
              "sign_agreement": reference_sign_agreement}
"""exercise name -> the kit's own implementation, with the exercise's signature."""
FORBIDDEN = {"equivalence": ["nqmix_core.results.compare", "nqmix_core.results.Comparison"],
             "policy_entropy": ["nqmix_core.losses.policy_entropy"],
             "sign_agreement": ["nqmix_core.diagnostics.mixer_diagnostics"]}
"""exercise name -> the kit's functions a student's answer must not call."""
